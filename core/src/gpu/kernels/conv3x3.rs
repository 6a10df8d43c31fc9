//! `conv3x3.wgsl` (+ `resample.wgsl`): 3×3 padded convolution over NHWC images as an implicit
//! GEMM, in the same, stride-2 (downsampling) and nearest-×2-upsampling modes.

use super::linear::TILE;
use super::{Entry, KernelVariant, MAX_GROUPS, Spec, direct_layout};

/// Which 3×3 convolution (the values of `resample.wgsl`'s `MODE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Stride 1: `h×w → h×w`.
    Same = 0,
    /// Stride 2: `h×w → ⌈h/2⌉×⌈w/2⌉`.
    Down = 1,
    /// Nearest ×2 upsampling, then stride 1: `h×w → 2h×2w`.
    Up = 2,
}

impl Mode {
    /// Output height and width for an `h×w` input.
    pub(crate) fn out_hw(self, h: usize, w: usize) -> (usize, usize) {
        match self {
            Mode::Same => (h, w),
            Mode::Down => (h.div_ceil(2), w.div_ceil(2)),
            Mode::Up => (2 * h, 2 * w),
        }
    }
}

/// Pixels per invocation of the direct kernel (`PX` in the WGSL), each with 4 channels.
const DIRECT_PIXELS: usize = 8;

/// The parameter block of `conv3x3.wgsl`; epilogue flags as in [`super::linear`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Conv {
    pub(crate) batch: u32,
    pub(crate) h: u32,
    pub(crate) w: u32,
    pub(crate) cin: u32,
    pub(crate) cout: u32,
    pub(crate) mode: Mode,
    pub(crate) flags: u32,
    pub(crate) kernel: KernelVariant,
}

impl Conv {
    /// Output pixels of the whole batch (GEMM rows).
    pub(crate) fn rows(&self) -> usize {
        let (oh, ow) = self.mode.out_hw(self.h as usize, self.w as usize);
        self.batch as usize * oh * ow
    }

    /// The algorithm that runs this convolution.
    pub(crate) fn algorithm(&self) -> KernelVariant {
        self.kernel.resolve(self.cin % 4 == 0)
    }

    /// Direct kernel: `(cq, workgroups along the channels, pixel blocks)` for runs of
    /// [`DIRECT_PIXELS`] pixels (see [`direct_layout`]).
    fn direct_layout(&self) -> (u32, u32, usize) {
        direct_layout(self.cout, self.rows().div_ceil(DIRECT_PIXELS))
    }

    /// Workgroups. Tiled: `⌈cout/64⌉ × ⌈pixels/64⌉`. Direct: the channel groups × the pixel
    /// blocks laid out as `y + 65535·z`.
    pub(crate) fn groups(&self) -> [u32; 3] {
        match self.algorithm() {
            KernelVariant::Tiled => [self.cout.div_ceil(TILE), self.rows().div_ceil(TILE as usize) as u32, 1],
            KernelVariant::Direct => {
                let (_, cols, blocks) = self.direct_layout();
                let y = blocks.min(MAX_GROUPS as usize);
                [cols, y as u32, blocks.div_ceil(y) as u32]
            }
        }
    }

    /// Whether the grid fits the default limit of 65535 workgroups per dimension.
    pub(crate) fn fits(&self) -> bool {
        match self.algorithm() {
            KernelVariant::Tiled => self.rows().div_ceil(TILE as usize) <= MAX_GROUPS as usize,
            KernelVariant::Direct => self.direct_layout().2.div_ceil(MAX_GROUPS as usize) <= MAX_GROUPS as usize,
        }
    }

    /// The dispatch: image, packed weight, bias, the `rowbias` binding's buffer and where each
    /// sample's `cout` values lie in it (with `HAS_ROWBIAS`; with `RESIDUAL` the buffer is a
    /// tensor laid out as the output and the place is unused), output.
    pub(crate) fn spec<'a>(
        &self,
        src: &'a wgpu::Buffer,
        weight: &'a wgpu::Buffer,
        bias: Option<&'a wgpu::Buffer>,
        rowbias: Option<(&'a wgpu::Buffer, RowBiasAt)>,
        dst: &'a wgpu::Buffer,
        dummy: &'a wgpu::Buffer,
    ) -> Spec<'a> {
        let (entry, cq) = match self.algorithm() {
            KernelVariant::Tiled => (Entry::Conv3x3, 0),
            KernelVariant::Direct => (Entry::Conv3x3Direct, self.direct_layout().0),
        };
        let at = rowbias.map_or(RowBiasAt::dense(self.cout), |r| r.1);
        Spec {
            entry,
            buffers: vec![src, weight, bias.unwrap_or(dummy), rowbias.map_or(dummy, |r| r.0), dst],
            params: vec![self.batch, self.h, self.w, self.cin, self.cout, self.mode as u32, self.flags, cq, at.stride, at.offset, 0, 0],
            groups: self.groups(),
        }
    }
}

/// Where a convolution's per-sample bias lies in its buffer: sample `b`'s `cout` values start
/// at `b·stride + offset` (a ResBlock's slice of the time projections of every block, made by
/// one GEMM).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowBiasAt {
    pub(crate) stride: u32,
    pub(crate) offset: u32,
}

impl RowBiasAt {
    /// A buffer of `[batch][cout]` values.
    pub(crate) fn dense(cout: u32) -> RowBiasAt {
        RowBiasAt { stride: cout, offset: 0 }
    }
}

/// A PyTorch 3×3 weight `[cout][cin][3][3]` packed as the `[9·cin][cols]` GEMM operand for the
/// algorithm that runs it (`kernel.resolve(cin % 4 == 0)`), row `tap·cin + ci` with `tap = 3·ky + kx`
/// (the CPU reference's order); `cols` is `cout`, or for the direct kernel `cout` rounded up
/// to a multiple of 4 with zero columns.
pub(crate) fn pack_conv3x3(w: &[f32], cin: usize, cout: usize, kernel: KernelVariant) -> Vec<f32> {
    let cols = match kernel.resolve(cin % 4 == 0) {
        KernelVariant::Tiled => cout,
        KernelVariant::Direct => cout.next_multiple_of(4),
    };
    let mut out = vec![0.0; 9 * cin * cols];
    for o in 0..cout {
        for ci in 0..cin {
            for tap in 0..9 {
                out[(tap * cin + ci) * cols + o] = w[(o * cin + ci) * 9 + tap];
            }
        }
    }
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::kernels::linear::{ACCUMULATE, HAS_BIAS, HAS_ROWBIAS, RESIDUAL};
    use crate::gpu::kernels::run_and_read;
    use crate::gpu::testutil::{assert_within, gemm_bound, gpu, uniform};
    use crate::nn::conv::{Conv3x3, ConvMode};
    use crate::nn::Workspace;

    /// Against the CPU reference `nn::conv::Conv3x3` (NHWC, same packing) in all three modes,
    /// odd sizes, K = 9·cin not a multiple of 16. The second case adds a per-sample bias read
    /// from a slice of a wider buffer (stride cout + 3, offset 2: a ResBlock's share of every
    /// block's time projection) and accumulates onto the output; the third adds a residual
    /// from another buffer (`RESIDUAL`; a ResBlock's conv2 without a copy). Bound per
    /// element: `gemm_bound(9·cin + 2, |b| + |rowbias| + |c| + Σ|w·x|)`, the rigorous bound
    /// of two summation orders (see `testutil::gemm_bound`).
    #[test]
    fn conv3x3_matches_cpu() {
        let Some(ctx) = gpu() else { return };
        let cases = [(Mode::Same, 2usize, 3usize, 5usize, 6usize, 7usize), (Mode::Same, 1, 40, 70, 5, 5), (Mode::Down, 2, 4, 6, 8, 6), (Mode::Down, 1, 3, 8, 7, 5), (Mode::Up, 2, 4, 6, 3, 4), (Mode::Up, 1, 33, 8, 2, 2), (Mode::Same, 3, 4, 20, 5, 6), (Mode::Down, 1, 8, 1, 9, 9), (Mode::Up, 2, 12, 66, 3, 5), (Mode::Same, 2, 64, 32, 7, 7)];
        for (mode, batch, cin, cout, h, w) in cases {
            let x = uniform(11, batch * h * w * cin, 1.0);
            let wt = uniform(12, cout * cin * 9, 1.0 / ((9 * cin) as f32).sqrt());
            let bias = uniform(13, cout, 0.3);
            // Sample b's per-sample bias at rb[b·(cout + 3) + 2 ..][..cout].
            let rb_at = RowBiasAt { stride: cout as u32 + 3, offset: 2 };
            let rb_wide = uniform(14, batch * (cout + 3), 0.3);
            let rb = |e: usize, opix: usize| rb_wide[(e / cout / opix) * (cout + 3) + 2 + e % cout];
            let (oh, ow) = mode.out_hw(h, w);
            let n = batch * oh * ow * cout;
            let c0 = uniform(15, n, 1.0);
            let cpu_mode = match mode {
                Mode::Same => ConvMode::Same,
                Mode::Down => ConvMode::Down,
                Mode::Up => ConvMode::Up,
            };
            let conv = Conv3x3::new(&wt, &bias, cin, cout);
            let zero = vec![0.0; cout];
            let conv_nobias = Conv3x3::new(&wt, &zero, cin, cout);
            let mut ws = Workspace::new();
            let mut want = vec![0.0; n];
            conv.forward(&x, batch, h, w, cpu_mode, &mut want, &mut ws);
            let mut prod = vec![0.0; n];
            conv_nobias.forward(&x, batch, h, w, cpu_mode, &mut prod, &mut ws);
            let absw: Vec<f32> = wt.iter().map(|v| v.abs()).collect();
            let absx: Vec<f32> = x.iter().map(|v| v.abs()).collect();
            let mut mag = vec![0.0; n];
            Conv3x3::new(&absw, &zero, cin, cout).forward(&absx, batch, h, w, cpu_mode, &mut mag, &mut ws);

            let xb = ctx.upload("x", &x).unwrap();
            let packed = [KernelVariant::Tiled, KernelVariant::Direct].map(|k| ctx.upload("w", &pack_conv3x3(&wt, cin, cout, k)).unwrap());
            let bb = ctx.upload("b", &bias).unwrap();
            let rbb = ctx.upload("rb", &rb_wide).unwrap();
            let c0b = ctx.upload("residual", &c0).unwrap();
            let dummy = ctx.upload("dummy", &[0.0; 4]).unwrap();
            let what = format!("conv3x3 {mode:?} b{batch} {cin}->{cout} {h}x{w}");

            for (kernel, wb) in [KernelVariant::Tiled, KernelVariant::Direct].iter().zip(&packed) {
            let kernel = *kernel;
            let what = format!("{what} {}", kernel.resolve(cin % 4 == 0).name());
            let out = ctx.upload("out", &vec![f32::NAN; n]).unwrap();
            let p = Conv { batch: batch as u32, h: h as u32, w: w as u32, cin: cin as u32, cout: cout as u32, mode, flags: HAS_BIAS, kernel };
            let got = pollster::block_on(run_and_read(&ctx, &[p.spec(&xb, wb, Some(&bb), None, &out, &dummy)], &out, n)).unwrap();
            let bound: Vec<f64> = (0..n).map(|e| gemm_bound(9 * cin, bias[e % cout].abs() as f64 + mag[e] as f64)).collect();
            assert_within(&what, &got, &want, &bound);

            let out = ctx.upload("out", &c0).unwrap();
            let p = Conv { flags: HAS_BIAS | HAS_ROWBIAS | ACCUMULATE, ..p };
            let got = pollster::block_on(run_and_read(&ctx, &[p.spec(&xb, wb, Some(&bb), Some((&rbb, rb_at)), &out, &dummy)], &out, n)).unwrap();
            let opix = oh * ow;
            let want2: Vec<f32> = (0..n).map(|e| c0[e] + bias[e % cout] + rb(e, opix) + prod[e]).collect();
            let bound: Vec<f64> = (0..n).map(|e| gemm_bound(9 * cin + 3, (c0[e].abs() + bias[e % cout].abs() + rb(e, opix).abs() + mag[e]) as f64)).collect();
            assert_within(&format!("{what} +rowbias+acc"), &got, &want2, &bound);

            let out = ctx.upload("out", &vec![f32::NAN; n]).unwrap();
            let p = Conv { flags: HAS_BIAS | RESIDUAL, ..p };
            let got = pollster::block_on(run_and_read(&ctx, &[p.spec(&xb, wb, Some(&bb), Some((&c0b, RowBiasAt::dense(cout as u32))), &out, &dummy)], &out, n)).unwrap();
            let want3: Vec<f32> = (0..n).map(|e| c0[e] + bias[e % cout] + prod[e]).collect();
            let bound: Vec<f64> = (0..n).map(|e| gemm_bound(9 * cin + 2, (c0[e].abs() + bias[e % cout].abs() + mag[e]) as f64)).collect();
            assert_within(&format!("{what} +residual"), &got, &want3, &bound);
            }
        }
    }
}
