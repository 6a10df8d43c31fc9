// Tiled matrix multiply with a fused epilogue: every linear layer, 1×1 convolution and the two
// attention products (q·kᵀ and P·v) run here.
//
//   C[z][i][j] = act(alpha·Σ_k A[z][i][k]·B[z][k][j] + bias[j] + rowbias[(i / rows_per_group)·n + j]
//                    + (C[z][i][j] if accumulating))
//
// Strided operands (all in f32 elements):
//   A[z][i][k] = a[a_off + zo·a_zo + zi·a_zi + i·a_rs + k]                (rows of A contiguous)
//   B[z][k][j] = b[b_off + zo·b_zo + zi·b_zi + k·b_rs + j·b_cs]
//   C[z][i][j] = dst[c_off + zo·c_zo + zi·c_zi + i·c_rs + j]
// with the batch index z = zo·z_inner + zi (workgroup_id.z); attention batches over
// (sample, head). A linear layer's weight is uploaded transposed, [k][n] (b_rs = n, b_cs = 1).
//
// Tiling: gemm_tile.wgsl (64×64 per 16×16 workgroup, 4×4 per invocation, K in slices of 16
// through workgroup memory); epilogue: gemm_common.wgsl. For software adapters,
// linear_direct.wgsl computes the same sums without workgroup memory where the operands allow.

// The parameter block `Gemm`: gemm_common.wgsl.

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> rowbias: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<uniform> p: Gemm;

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let zo = wg.z / p.z_inner;
    let zi = wg.z % p.z_inner;
    let a_base = p.a_off + zo * p.a_zo + zi * p.a_zi;
    let b_base = p.b_off + zo * p.b_zo + zi * p.b_zi;
    let c_base = p.c_off + zo * p.c_zo + zi * p.c_zi;
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    // This invocation loads A rows li/16 + 16e at column li%16, and B rows li/64 + 4e at
    // column li%64 (e = 0..3): consecutive invocations read consecutive addresses.
    let a_kk = li % BK;
    let a_r = li / BK;
    let b_j = li % BN;
    let b_kk = li / BN;

    // This invocation's 4×4 block: rows lid.y + 16i, columns lid.x + 16j (see gemm_tile.wgsl).
    var acc = Acc4(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    let tr = lid.y;
    let tc = lid.x;

    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        for (var e = 0u; e < 4u; e++) {
            let r = a_r + 16u * e;
            let gi = row0 + r;
            let gk = k0 + a_kk;
            var v = 0.0;
            if (gi < p.m && gk < p.k) {
                v = a[a_base + gi * p.a_rs + gk];
            }
            a_tile[a_kk * BM + r] = v;

            let kk = b_kk + 4u * e;
            let gk2 = k0 + kk;
            let gj = col0 + b_j;
            var w = 0.0;
            if (gk2 < p.k && gj < p.n) {
                w = b[b_base + gk2 * p.b_rs + gj * p.b_cs];
            }
            b_tile[kk * BN + b_j] = w;
        }
        workgroupBarrier();
        acc = tile_mac(acc, tr, tc);
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let gi = row0 + tr + 16u * i;
        if (gi >= p.m) {
            break;
        }
        let accv = acc_row(acc, i);
        for (var j = 0u; j < 4u; j++) {
            let gj = col0 + tc + 16u * j;
            if (gj >= p.n) {
                break;
            }
            let ci = c_base + gi * p.c_rs + gj;
            dst[ci] = epilogue(p.alpha * accv[j], p.flags, gj, (gi / p.rows_per_group) * p.n + gj, ci);
        }
    }
}
