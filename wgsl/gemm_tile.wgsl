// The register-tiled core shared by linear.wgsl and conv3x3.wgsl (a prelude: no entry point;
// the epilogue is gemm_common.wgsl's).
//
// A 16×16 workgroup computes a BM×BN = 64×64 tile of the output; each invocation holds a 4×4
// block in registers, rows tr + 16i and columns tc + 16j (interleaved, so neighbouring
// invocations read neighbouring workgroup-memory words and write neighbouring outputs). K
// advances in slices of BK = 16 that the kernel stages in `a_tile` ([BK][BM], k-major) and
// `b_tile` ([BK][BN]) — 2 × 4 KiB, within wgpu's default 16 KiB and 256 invocations. Each
// output is summed in increasing k, starting from 0.

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> a_tile: array<f32, 1024>;
var<workgroup> b_tile: array<f32, 1024>;

// One invocation's 4×4 accumulator block: row i of the block is r{i}, column j its component j.
struct Acc4 {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

// Adds the staged slice's contribution to the block of invocation (tr, tc), in increasing k.
fn tile_mac(acc: Acc4, tr: u32, tc: u32) -> Acc4 {
    var r = acc;
    for (var kk = 0u; kk < BK; kk++) {
        let ao = kk * BM + tr;
        let bo = kk * BN + tc;
        let bv = vec4<f32>(b_tile[bo], b_tile[bo + 16u], b_tile[bo + 32u], b_tile[bo + 48u]);
        r.r0 += a_tile[ao] * bv;
        r.r1 += a_tile[ao + 16u] * bv;
        r.r2 += a_tile[ao + 32u] * bv;
        r.r3 += a_tile[ao + 48u] * bv;
    }
    return r;
}

// Row i (0..4) of the block.
fn acc_row(acc: Acc4, i: u32) -> vec4<f32> {
    switch i {
        case 0u: { return acc.r0; }
        case 1u: { return acc.r1; }
        case 2u: { return acc.r2; }
        default: { return acc.r3; }
    }
}
