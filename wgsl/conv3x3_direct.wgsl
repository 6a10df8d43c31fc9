// 3×3 convolution, padding 1, over NHWC images, computed directly: no workgroup memory and no
// barriers. For adapters that run a workgroup's invocations as SIMD lanes of a CPU core
// (lavapipe, SwiftShader): there workgroup memory is ordinary memory, every barrier a switch
// between invocations, and every storage or workgroup load a loop over the lanes, so what
// counts is the number of loads per multiply-add. conv3x3.wgsl's tiled implicit GEMM is the
// kernel for GPUs; both compute the same sums in the same order.
//
//   out[pix][co] = act(Σ_k A[pix][k]·W[k][co] + bias[co] + rowbias[b·rb_stride + rb_off + co] + (out if accumulating))
//
// with k = tap·cin + ci, tap = 3·ky + kx, A gathered from the image through `conv_tap_source`
// (resample.wgsl: same, stride-2 and upsampling modes), each sum in increasing k from 0 as in
// the CPU reference; padding taps add an exact 0.
//
// Layouts: the image as vec4s of 4 consecutive channels (cin a multiple of 4, which the runtime
// checks); the weight [cout, cin, 3, 3] packed as [9·cin][cout4] with cout4 = cout rounded up to
// a multiple of 4 (zero columns), read as vec4s of 4 output channels.
//
// Work: each invocation holds an 8 pixels × 4 channels block in registers (8 named vec4s: an
// array indexed in a loop stayed in memory on lavapipe and ran 1.35× slower) and, per 4 input
// channels of a tap, loads 8 image vec4s and 4 weight vec4s for 128 multiply-adds. A workgroup
// of 64 invocations covers cq channel quads (a parameter, ≤ 16) × ⌊64/cq⌋ runs of 8 pixels
// (pixels row-major over sample, y, x). Epilogue and mac4: gemm_common.wgsl. Grid: ⌈cout4/(4·cq)⌉ × the pixel-quad blocks as y + 65535·z.

struct Conv {
    batch: u32, h: u32, w: u32, cin: u32,
    cout: u32, mode: u32, flags: u32, cq: u32,
    rb_stride: u32, rb_off: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> rowbias: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<uniform> p: Conv;

// Pixels per invocation.
const PX: u32 = 8u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let ohw = conv_out_hw(p.mode, p.h, p.w);
    let opix = ohw.x * ohw.y;
    let m = p.batch * opix;
    let cq = p.cq;
    let per_wg = 64u / cq;
    let r = li / cq;
    let quads = (p.cout + 3u) / 4u;
    let q = wg.x * cq + li % cq;
    let row0 = PX * ((wg.y + 65535u * wg.z) * per_wg + r);
    if (r >= per_wg || q >= quads || row0 >= m) {
        return;
    }
    let cin4 = p.cin / 4u;

    // The block's pixels (past the end: the last pixel again, not written).
    var img: array<u32, PX>;
    var oy: array<u32, PX>;
    var ox: array<u32, PX>;
    for (var e = 0u; e < PX; e++) {
        let gi = min(row0 + e, m - 1u);
        let b = gi / opix;
        let pq = gi % opix;
        img[e] = b * p.h * p.w;
        oy[e] = pq / ohw.y;
        ox[e] = pq % ohw.y;
    }

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var acc4 = vec4<f32>(0.0);
    var acc5 = vec4<f32>(0.0);
    var acc6 = vec4<f32>(0.0);
    var acc7 = vec4<f32>(0.0);
    let zero = vec4<f32>(0.0);
    for (var tap = 0u; tap < 9u; tap++) {
        let ky = tap / 3u;
        let kx = tap % 3u;
        // Each pixel's source (in vec4s) for this tap, and whether it lies inside the image.
        var off: array<u32, PX>;
        var ok: array<bool, PX>;
        for (var e = 0u; e < PX; e++) {
            let s = conv_tap_source(p.mode, oy[e], ox[e], ky, kx, p.h, p.w);
            ok[e] = s.x >= 0;
            off[e] = select(0u, (img[e] + u32(s.x) * p.w + u32(s.y)) * cin4, ok[e]);
        }
        let o0 = off[0]; let o1 = off[1]; let o2 = off[2]; let o3 = off[3];
        let o4 = off[4]; let o5 = off[5]; let o6 = off[6]; let o7 = off[7];
        let k0 = ok[0]; let k1 = ok[1]; let k2 = ok[2]; let k3 = ok[3];
        let k4 = ok[4]; let k5 = ok[5]; let k6 = ok[6]; let k7 = ok[7];
        var wi = tap * p.cin * quads + q;
        for (var c = 0u; c < cin4; c++) {
            let w0 = wt[wi];
            let w1 = wt[wi + quads];
            let w2 = wt[wi + 2u * quads];
            let w3 = wt[wi + 3u * quads];
            wi += 4u * quads;
            acc0 = mac4(acc0, select(zero, src[o0 + c], k0), w0, w1, w2, w3);
            acc1 = mac4(acc1, select(zero, src[o1 + c], k1), w0, w1, w2, w3);
            acc2 = mac4(acc2, select(zero, src[o2 + c], k2), w0, w1, w2, w3);
            acc3 = mac4(acc3, select(zero, src[o3 + c], k3), w0, w1, w2, w3);
            acc4 = mac4(acc4, select(zero, src[o4 + c], k4), w0, w1, w2, w3);
            acc5 = mac4(acc5, select(zero, src[o5 + c], k5), w0, w1, w2, w3);
            acc6 = mac4(acc6, select(zero, src[o6 + c], k6), w0, w1, w2, w3);
            acc7 = mac4(acc7, select(zero, src[o7 + c], k7), w0, w1, w2, w3);
        }
    }
    var acc = array<vec4<f32>, PX>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7);

    let n = p.cout;
    for (var e = 0u; e < PX; e++) {
        let gi = row0 + e;
        if (gi >= m) {
            break;
        }
        let a = acc[e];
        for (var j = 0u; j < 4u; j++) {
            let co = 4u * q + j;
            if (co >= n) {
                break;
            }
            let oi = gi * n + co;
            dst[oi] = epilogue(a[j], p.flags, co, (gi / opix) * p.rb_stride + p.rb_off + co, oi);
        }
    }
}
