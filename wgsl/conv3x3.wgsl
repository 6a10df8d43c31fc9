// 3×3 convolution, padding 1, over NHWC images ([batch][h][w][cin]), as an implicit GEMM: row =
// output pixel (b, oy, ox), column = output channel, reduction index k = tap·cin + ci with
// tap = 3·ky + kx. The im2col matrix is never stored: each A slice is gathered from the image,
// through `conv_tap_source` (resample.wgsl) for the same, stride-2 and upsampling modes. The
// weight [cout, cin, 3, 3] (PyTorch) is uploaded packed as [9·cin][cout].
//
//   out[row][co] = act(Σ_k A[row][k]·W[k][co] + bias[co] + rowbias[b·rb_stride + rb_off + co] + (out if accumulating))
//
// rowbias is per sample (a ResBlock's slice of the projected time embeddings of every block), or
// with the RESIDUAL flag a tensor laid out as the output, added element by element. Output NHWC [batch][oh][ow][cout].
// Tiling: gemm_tile.wgsl (64 pixels × 64 channels per 16×16 workgroup, 4×4 per invocation, K in
// slices of 16 through workgroup memory); epilogue: gemm_common.wgsl. For software adapters,
// conv3x3_direct.wgsl computes the same sums without workgroup memory.

struct Conv {
    batch: u32, h: u32, w: u32, cin: u32,
    cout: u32, mode: u32, flags: u32, pad0: u32,
    rb_stride: u32, rb_off: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> rowbias: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<uniform> p: Conv;

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let ohw = conv_out_hw(p.mode, p.h, p.w);
    let opix = ohw.x * ohw.y;
    let m = p.batch * opix;
    let n = p.cout;
    let kdim = 9u * p.cin;
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    let a_kk = li % BK;
    let a_r = li / BK;
    let b_j = li % BN;
    let b_kk = li / BN;

    // The 4 image rows this invocation gathers, decoded once: sample, output y and x.
    var rb: array<u32, 4>;
    var ry: array<u32, 4>;
    var rx: array<u32, 4>;
    for (var e = 0u; e < 4u; e++) {
        let gi = row0 + a_r + 16u * e;
        let bq = gi / opix;
        let q = gi % opix;
        rb[e] = bq;
        ry[e] = q / ohw.y;
        rx[e] = q % ohw.y;
    }

    // This invocation's 4×4 block: rows lid.y + 16i, columns lid.x + 16j (see gemm_tile.wgsl).
    var acc = Acc4(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    let tr = lid.y;
    let tc = lid.x;

    for (var k0 = 0u; k0 < kdim; k0 += BK) {
        let gk = k0 + a_kk;
        let tap = gk / p.cin;
        let ci = gk % p.cin;
        let ky = tap / 3u;
        let kx = tap % 3u;
        for (var e = 0u; e < 4u; e++) {
            let r = a_r + 16u * e;
            var v = 0.0;
            if (row0 + r < m && gk < kdim) {
                let s = conv_tap_source(p.mode, ry[e], rx[e], ky, kx, p.h, p.w);
                if (s.x >= 0) {
                    v = src[((rb[e] * p.h + u32(s.x)) * p.w + u32(s.y)) * p.cin + ci];
                }
            }
            a_tile[a_kk * BM + r] = v;

            let kk = b_kk + 4u * e;
            let gk2 = k0 + kk;
            let gj = col0 + b_j;
            var w = 0.0;
            if (gk2 < kdim && gj < n) {
                w = wt[gk2 * n + gj];
            }
            b_tile[kk * BN + b_j] = w;
        }
        workgroupBarrier();
        acc = tile_mac(acc, tr, tc);
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let gi = row0 + tr + 16u * i;
        if (gi >= m) {
            break;
        }
        let accv = acc_row(acc, i);
        for (var j = 0u; j < 4u; j++) {
            let gj = col0 + tc + 16u * j;
            if (gj >= n) {
                break;
            }
            let oi = gi * n + gj;
            dst[oi] = epilogue(accv[j], p.flags, gj, (gi / opix) * p.rb_stride + p.rb_off + gj, oi);
        }
    }
}
