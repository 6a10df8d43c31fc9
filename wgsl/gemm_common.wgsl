// What the four GEMM-shaped kernels share (a prelude: no entry point): the epilogue flags and
// the epilogue, the 4-term vec4 multiply-accumulate of the direct kernels, and the parameter
// block of the two linear kernels.
//
// Tiled (gemm_tile.wgsl): linear.wgsl, conv3x3.wgsl. Direct: linear_direct.wgsl,
// conv3x3_direct.wgsl. Each declares `bias`, `rowbias` (read) and `dst` (read_write) storage
// arrays of f32, which `epilogue` reads.

// The parameter block of linear.wgsl and linear_direct.wgsl (see linear.wgsl for the
// addressing); cq is the direct kernel's column quads per workgroup (0 for the tiled one).
struct Gemm {
    m: u32, n: u32, k: u32, flags: u32,
    a_off: u32, a_rs: u32, a_zo: u32, a_zi: u32,
    b_off: u32, b_rs: u32, b_cs: u32, b_zo: u32,
    b_zi: u32, c_off: u32, c_rs: u32, c_zo: u32,
    c_zi: u32, z_inner: u32, rows_per_group: u32, alpha: f32,
    cq: u32, pad0: u32, pad1: u32, pad2: u32,
}

const HAS_BIAS: u32 = 1u;    // add bias[col]
const HAS_ROWBIAS: u32 = 2u; // add rowbias[rb] (a per-sample bias)
const ACCUMULATE: u32 = 4u;  // add what dst[oi] holds (a residual connection)
const SILU: u32 = 8u;        // apply SiLU last
const RESIDUAL: u32 = 16u;   // add rowbias[oi] (a residual read from another buffer, laid out as dst)

// The value stored at dst[oi] for the sum v, under `flags`, in the CPU reference's order:
// v + bias + rowbias + old (or the residual rowbias[oi]), then SiLU. HAS_ROWBIAS and RESIDUAL
// share the rowbias binding and never come together.
fn epilogue(v: f32, flags: u32, col: u32, rb: u32, oi: u32) -> f32 {
    var r = v;
    if ((flags & HAS_BIAS) != 0u) {
        r += bias[col];
    }
    if ((flags & HAS_ROWBIAS) != 0u) {
        r += rowbias[rb];
    }
    if ((flags & ACCUMULATE) != 0u) {
        r += dst[oi];
    }
    if ((flags & RESIDUAL) != 0u) {
        r += rowbias[oi];
    }
    if ((flags & SILU) != 0u) {
        r = silu(r);
    }
    return r;
}

// acc + a.x·w0 + a.y·w1 + a.z·w2 + a.w·w3, in that order: four consecutive reduction indices
// of a 4-wide output row, w_i holding row k + i of the right operand.
fn mac4(acc: vec4<f32>, a: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>) -> vec4<f32> {
    var r = acc + a.x * w0;
    r += a.y * w1;
    r += a.z * w2;
    r += a.w * w3;
    return r;
}
