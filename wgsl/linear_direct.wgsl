// Matrix multiply with a fused epilogue, computed directly: no workgroup memory and no
// barriers, for adapters that run a workgroup's invocations as SIMD lanes of a CPU core
// (lavapipe, SwiftShader), where every storage load is a loop over the lanes. The same
// operation, operands and summation order as linear.wgsl (see there):
//
//   C[z][i][j] = act(alpha·Σ_k A[z][i][k]·B[z][k][j] + bias[j] + rowbias[(i / rows_per_group)·n + j]
//                    + (C[z][i][j] if accumulating))
//
// read as vec4s: 4 consecutive k of a row of A, 4 consecutive j of a row of B. So k, n, every
// offset and row stride of A and B are multiples of 4, and B's columns are contiguous
// (b_cs = 1); the runtime checks this and runs linear.wgsl otherwise. C is written per element.
//
// Work: each invocation holds a 4×4 block of C (rows i..i+4, columns j..j+4) and, per 4 k,
// loads 4 vec4s of A and 4 of B for 64 multiply-adds (gemm_common.wgsl's mac4), summing in
// increasing k from 0. A workgroup of 64 invocations covers cq column quads (a parameter, ≤ 16)
// × ⌊64/cq⌋ row quads. Grid: ⌈n/(4·cq)⌉ × ⌈⌈m/4⌉/⌊64/cq⌋⌉ × z.

// The parameter block `Gemm`: gemm_common.wgsl.

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> rowbias: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<uniform> p: Gemm;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let cq = p.cq;
    let per_wg = 64u / cq;
    let r = li / cq;
    let q = wg.x * cq + li % cq;
    let row0 = 4u * (wg.y * per_wg + r);
    if (r >= per_wg || 4u * q >= p.n || row0 >= p.m) {
        return;
    }
    let zo = wg.z / p.z_inner;
    let zi = wg.z % p.z_inner;
    let a_base = (p.a_off + zo * p.a_zo + zi * p.a_zi) / 4u;
    let b_base = (p.b_off + zo * p.b_zo + zi * p.b_zi) / 4u;
    let c_base = p.c_off + zo * p.c_zo + zi * p.c_zi;
    let ars = p.a_rs / 4u;
    let brs = p.b_rs / 4u;
    // The block's rows (past the end: the last row again, not written).
    let a0 = a_base + min(row0, p.m - 1u) * ars;
    let a1 = a_base + min(row0 + 1u, p.m - 1u) * ars;
    let a2 = a_base + min(row0 + 2u, p.m - 1u) * ars;
    let a3 = a_base + min(row0 + 3u, p.m - 1u) * ars;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var wi = b_base + q;
    for (var c = 0u; c < p.k / 4u; c++) {
        let w0 = b[wi];
        let w1 = b[wi + brs];
        let w2 = b[wi + 2u * brs];
        let w3 = b[wi + 3u * brs];
        wi += 4u * brs;
        acc0 = mac4(acc0, a[a0 + c], w0, w1, w2, w3);
        acc1 = mac4(acc1, a[a1 + c], w0, w1, w2, w3);
        acc2 = mac4(acc2, a[a2 + c], w0, w1, w2, w3);
        acc3 = mac4(acc3, a[a3 + c], w0, w1, w2, w3);
    }

    for (var e = 0u; e < 4u; e++) {
        let gi = row0 + e;
        if (gi >= p.m) {
            break;
        }
        var v = acc0;
        if (e == 1u) {
            v = acc1;
        } else if (e == 2u) {
            v = acc2;
        } else if (e == 3u) {
            v = acc3;
        }
        for (var j = 0u; j < 4u; j++) {
            let gj = 4u * q + j;
            if (gj >= p.n) {
                break;
            }
            let ci = c_base + gi * p.c_rs + gj;
            dst[ci] = epilogue(p.alpha * v[j], p.flags, gj, (gi / p.rows_per_group) * p.n + gj, ci);
        }
    }
}
