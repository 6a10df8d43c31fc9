// Tiled matrix multiply with a fused epilogue: every linear layer, 1×1 convolution and the two
// attention products (q·kᵀ and P·v) run here.
//
//   C[z][i][j] = act(alpha·Σ_k A[z][i][k]·B[z][k][j] + bias[j] + rowbias[(i / rows_per_group)·n + j]
//                    + (C[z][i][j] if accumulating))
//
// Strided operands (all in f32 elements):
//   A[z][i][k] = a[a_off + zo·a_zo + zi·a_zi + i·a_rs + k]                (rows of A contiguous)
//   B[z][k][j] = b[b_off + zo·b_zo + zi·b_zi + k·b_rs + j·b_cs]
//   C[z][i][j] = c[c_off + zo·c_zo + zi·c_zi + i·c_rs + j]
// with the batch index z = zo·z_inner + zi (workgroup_id.z); attention batches over
// (sample, head). A linear layer's weight is uploaded transposed, [k][n] (b_rs = n, b_cs = 1).
//
// Tiling: a 16×16 workgroup computes a 64×64 tile of C, each invocation a 4×4 block (rows and
// columns strided by 16) held in registers; K advances in slices of 16 staged in workgroup memory (2 × 4 KiB), within wgpu's
// default 16 KiB and 256 invocations. Each output is summed in increasing k, starting from 0.

struct Gemm {
    m: u32, n: u32, k: u32, flags: u32,
    a_off: u32, a_rs: u32, a_zo: u32, a_zi: u32,
    b_off: u32, b_rs: u32, b_cs: u32, b_zo: u32,
    b_zi: u32, c_off: u32, c_rs: u32, c_zo: u32,
    c_zi: u32, z_inner: u32, rows_per_group: u32, alpha: f32,
}

// Epilogue flags.
const HAS_BIAS: u32 = 1u;
const HAS_ROWBIAS: u32 = 2u;
const ACCUMULATE: u32 = 4u;
const SILU: u32 = 8u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> rowbias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<uniform> p: Gemm;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

// A slice stored k-major ([BK][BM]) and B slice [BK][BN], so the inner loop reads 4 consecutive
// values of each.
var<workgroup> a_tile: array<f32, 1024>;
var<workgroup> b_tile: array<f32, 1024>;

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

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    // This invocation's 4×4 block: rows lid.y + 16i, columns lid.x + 16j (interleaved, so
    // neighbouring invocations read neighbouring workgroup-memory words and write neighbouring
    // outputs).
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
        for (var kk = 0u; kk < BK; kk++) {
            let ao = kk * BM + tr;
            let bo = kk * BN + tc;
            let bv = vec4<f32>(b_tile[bo], b_tile[bo + 16u], b_tile[bo + 32u], b_tile[bo + 48u]);
            acc0 += a_tile[ao] * bv;
            acc1 += a_tile[ao + 16u] * bv;
            acc2 += a_tile[ao + 32u] * bv;
            acc3 += a_tile[ao + 48u] * bv;
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let gi = row0 + tr + 16u * i;
        if (gi >= p.m) {
            break;
        }
        var accv = acc0;
        if (i == 1u) { accv = acc1; }
        if (i == 2u) { accv = acc2; }
        if (i == 3u) { accv = acc3; }
        for (var j = 0u; j < 4u; j++) {
            let gj = col0 + tc + 16u * j;
            if (gj >= p.n) {
                break;
            }
            var v = p.alpha * accv[j];
            if ((p.flags & HAS_BIAS) != 0u) {
                v += bias[gj];
            }
            if ((p.flags & HAS_ROWBIAS) != 0u) {
                v += rowbias[(gi / p.rows_per_group) * p.n + gj];
            }
            let ci = c_base + gi * p.c_rs + gj;
            if ((p.flags & ACCUMULATE) != 0u) {
                v += c[ci];
            }
            if ((p.flags & SILU) != 0u) {
                v = silu(v);
            }
            c[ci] = v;
        }
    }
}
