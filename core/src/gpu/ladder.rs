//! The kernel ladder: every variant of the GEMM (`linear.wgsl`, `linear_direct.wgsl`) and 3×3
//! convolution (`conv3x3.wgsl`, `conv3x3_direct.wgsl`) kernels timed alone, one problem at a
//! time, at the shapes a network launches them with ([`layer_problems`], from the compiled
//! runtime graph, which follows [`UnetConfig::layers`](crate::config::UnetConfig::layers)) or at
//! any other shape ([`Problem`]). `beeline bench --ladder` prints it.
//!
//! Each problem's result is first checked against the CPU reference (`nn::linear::Linear`,
//! `nn::conv::Conv3x3`) with the rigorous per-element bound of two f32 summation orders
//! ([`gemm_bound`]); a kernel that fails it is reported and not timed. The timing uses GPU
//! timestamp queries around each dispatch (its own compute pass) where the adapter offers
//! `timestamp-query`, else the wall clock around one submission of one dispatch and a blocking
//! device poll (which adds the submission's and the wait's overhead). Native only.

use super::context::GpuContext;
pub use super::kernels::conv3x3::Mode as ConvMode;
use super::kernels::conv3x3::{Conv, pack_conv3x3};
use super::kernels::linear::{Gemm, HAS_BIAS, pack_linear};
use super::kernels::{DispatchList, KernelVariant, Spec, compare, encode_pass, gemm_bound, run_and_read};
use super::profile::Timestamps;
use crate::config::ArchConfig;
use crate::error::{Error, Result};
use crate::nn::Workspace;
use crate::nn::conv::{Conv3x3, ConvMode as CpuMode};
use crate::nn::linear::Linear;
use std::time::Instant;

/// One kernel launch to time, f32 throughout, with a bias epilogue (as the layers have).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// `C[m×n] = A[m×k]·B[k×n] + bias`: a linear layer over `m` rows (a 1×1 convolution over
    /// `m` pixels).
    Gemm { m: usize, k: usize, n: usize },
    /// A 3×3 convolution, padding 1, NHWC `[batch][h][w][cin] → [batch][oh][ow][cout]`
    /// (`(oh, ow)` = `mode.out_hw(h, w)`).
    Conv3x3 { batch: usize, h: usize, w: usize, cin: usize, cout: usize, mode: ConvMode },
}

impl Problem {
    /// `"gemm"` or `"conv3x3"`.
    pub fn op(&self) -> &'static str {
        match self {
            Problem::Gemm { .. } => "gemm",
            Problem::Conv3x3 { .. } => "conv3x3",
        }
    }

    /// Floating-point operations, 2 × multiply-adds: `2·m·n·k`, or `2·cout·cin·9·oh·ow·batch`
    /// (as [`nn::flops`](crate::nn::flops) counts them; the bias is not counted).
    pub fn flop(&self) -> u64 {
        match *self {
            Problem::Gemm { m, k, n } => 2 * (m * k * n) as u64,
            Problem::Conv3x3 { batch, h, w, cin, cout, mode } => {
                let (oh, ow) = mode.out_hw(h, w);
                2 * (cout * cin * 9 * oh * ow * batch) as u64
            }
        }
    }

    /// `"[256×128]·[128×32]"` or `"16×28×28×32 → 16×14×14×32 (down)"`.
    pub fn describe(&self) -> String {
        match *self {
            Problem::Gemm { m, k, n } => format!("[{m}×{k}]·[{k}×{n}]"),
            Problem::Conv3x3 { batch, h, w, cin, cout, mode } => {
                let (oh, ow) = mode.out_hw(h, w);
                let m = match mode {
                    ConvMode::Same => "",
                    ConvMode::Down => " (down)",
                    ConvMode::Up => " (up)",
                };
                format!("{batch}×{h}×{w}×{cin} → {batch}×{oh}×{ow}×{cout}{m}")
            }
        }
    }

    /// The length of each dot product (k, or 9·cin).
    fn depth(&self) -> usize {
        match *self {
            Problem::Gemm { k, .. } => k,
            Problem::Conv3x3 { cin, .. } => 9 * cin,
        }
    }

    /// Values of the input, the weight (PyTorch layout) and the output.
    fn lens(&self) -> (usize, usize, usize) {
        match *self {
            Problem::Gemm { m, k, n } => (m * k, n * k, m * n),
            Problem::Conv3x3 { batch, h, w, cin, cout, mode } => {
                let (oh, ow) = mode.out_hw(h, w);
                (batch * h * w * cin, cout * cin * 9, batch * oh * ow * cout)
            }
        }
    }

    /// The kernel launch of `variant`, or why that variant does not run it.
    fn launch(&self, variant: KernelVariant) -> std::result::Result<Launch, String> {
        match *self {
            Problem::Gemm { m, k, n } => {
                let (m32, k32, n32) = (u32::try_from(m), u32::try_from(k), u32::try_from(n));
                let (Ok(m), Ok(k), Ok(n)) = (m32, k32, n32) else { return Err("sizes beyond u32".into()) };
                let g = Gemm { variant, ..Gemm::dense(m, k, n, HAS_BIAS) };
                if g.algorithm() != variant {
                    return Err(format!("k = {k} and n = {n} are not both multiples of 4: the runtime runs the {} kernel", g.algorithm().name()));
                }
                if !g.fits() {
                    return Err("the grid exceeds 65535 workgroups: the runtime splits the batch".into());
                }
                Ok(Launch::Gemm(g))
            }
            Problem::Conv3x3 { batch, h, w, cin, cout, mode } => {
                let v = [batch, h, w, cin, cout].map(u32::try_from);
                let [Ok(batch), Ok(h), Ok(w), Ok(cin), Ok(cout)] = v else { return Err("sizes beyond u32".into()) };
                let c = Conv { batch, h, w, cin, cout, mode, flags: HAS_BIAS, kernel: variant };
                if c.algorithm() != variant {
                    return Err(format!("cin = {cin} is not a multiple of 4: the runtime runs the {} kernel", c.algorithm().name()));
                }
                if !c.fits() {
                    return Err("the grid exceeds 65535 workgroups: the runtime splits the batch".into());
                }
                Ok(Launch::Conv(c))
            }
        }
    }
}

/// A problem's parameter block for one kernel variant.
enum Launch {
    Gemm(Gemm),
    Conv(Conv),
}

/// The distinct dense GEMMs and 3×3 convolutions of one evaluation of `arch` over `batch`
/// samples, in order of first use, each with the number of its layers (launches of that
/// exact shape), as the WGSL runtime compiles the network. Attention's batched q·kᵀ and P·v
/// are left out.
///
/// Errors: [`Error::BadConfig`] for an invalid config; [`Error::InvalidInput`] for batch 0.
pub fn layer_problems(arch: &ArchConfig, batch: usize) -> Result<Vec<(Problem, usize)>> {
    if batch == 0 {
        return Err(Error::InvalidInput("the ladder needs a batch of at least 1 sample".into()));
    }
    let mut out: Vec<(Problem, usize)> = Vec::new();
    for p in super::network::kernel_problems(arch, batch)? {
        match out.iter_mut().find(|(q, _)| *q == p) {
            Some(e) => e.1 += 1,
            None => out.push((p, 1)),
        }
    }
    Ok(out)
}

/// How the ladder's times were taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// GPU timestamps at the beginning and end of each dispatch's compute pass.
    Timestamps,
    /// Host wall clock around one submission of one dispatch and a blocking device poll.
    WallClock,
}

impl Clock {
    /// The clock `ctx` offers: timestamps where the device has `timestamp-query`.
    pub fn of(ctx: &GpuContext) -> Clock {
        if ctx.adapter().timestamps { Clock::Timestamps } else { Clock::WallClock }
    }

    /// `"timestamp-query"` or `"wall-clock"`.
    pub fn name(self) -> &'static str {
        match self {
            Clock::Timestamps => "timestamp-query",
            Clock::WallClock => "wall-clock",
        }
    }

    /// A sentence for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Clock::Timestamps => "GPU timestamp queries around each dispatch (its own compute pass)",
            Clock::WallClock => {
                "wall clock around one submission of one dispatch and a blocking device poll (the adapter has no timestamp-query; includes submit and wait overhead)"
            }
        }
    }
}

/// The GPU result against the CPU reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parity {
    /// max |gpu − cpu| over the output.
    pub max_err: f64,
    /// max over the elements of |gpu − cpu| / bound (the bound of [`gemm_bound`] with
    /// `mag = |bias| + Σ|a·b|`): ≤ 1 passes.
    pub err_over_bound: f64,
}

/// What became of one (problem, variant).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Passed parity, then timed.
    Timed {
        /// The kernel, as profiles name it: `"linear"`, `"linear_direct"`, `"conv3x3"`, `"conv3x3_direct"`.
        kernel: &'static str,
        parity: Parity,
        /// One time per timed dispatch, milliseconds.
        samples_ms: Vec<f64>,
        clock: Clock,
    },
    /// The variant does not run this problem (the runtime would run the other one).
    NotApplicable(String),
    /// The kernel's result is outside the bound: not timed.
    ParityFailed { kernel: &'static str, parity: Parity },
}

/// Checks `problem` on each of `variants` against the CPU reference, then times those that
/// pass: `warmup` untimed dispatches, then `iters` timed ones (1 ≤ `iters` ≤ 2048). Inputs are
/// seeded Gaussians, weights scaled by 1/√K; the CPU reference runs once per problem.
///
/// Errors: [`Error::InvalidInput`] for `iters` out of range; [`Error::DeviceLost`] when a
/// buffer exceeds the device's limits or the device fails.
pub async fn measure(ctx: &GpuContext, problem: Problem, variants: &[KernelVariant], warmup: usize, iters: usize) -> Result<Vec<(KernelVariant, Outcome)>> {
    if iters == 0 || iters > super::profile::MAX_TIMED {
        return Err(Error::InvalidInput(format!("the ladder times 1..={} dispatches per kernel, not {iters}", super::profile::MAX_TIMED)));
    }
    let launches: Vec<(KernelVariant, std::result::Result<Launch, String>)> = variants.iter().map(|&v| (v, problem.launch(v))).collect();
    if launches.iter().all(|(_, l)| l.is_err()) {
        return Ok(launches.into_iter().map(|(v, l)| (v, Outcome::NotApplicable(l.err().unwrap_or_default()))).collect());
    }
    let (in_len, w_len, out_len) = problem.lens();
    let k = problem.depth();
    let x = crate::noise::gaussian_batch(11, 0, 1, in_len);
    let scale = 1.0 / (k as f32).sqrt();
    let wt: Vec<f32> = crate::noise::gaussian_batch(12, 0, 1, w_len).iter().map(|v| v * scale).collect();
    let cols = match problem {
        Problem::Gemm { n, .. } => n,
        Problem::Conv3x3 { cout, .. } => cout,
    };
    let bias: Vec<f32> = crate::noise::gaussian_batch(13, 0, 1, cols).iter().map(|v| 0.1 * v).collect();
    // The CPU reference, and Σ|a·b| + |bias| per element for the bound.
    let abs = |v: &[f32]| v.iter().map(|a| a.abs()).collect::<Vec<f32>>();
    let (want, mag) = {
        let mut ws = Workspace::new();
        let (mut want, mut mag) = (vec![0.0f32; out_len], vec![0.0f32; out_len]);
        match problem {
            Problem::Gemm { m, k, n } => {
                Linear::new(&wt, &bias, k, n).forward(&x, m, &mut want, &mut ws);
                Linear::new(&abs(&wt), &abs(&bias), k, n).forward(&abs(&x), m, &mut mag, &mut ws);
            }
            Problem::Conv3x3 { batch, h, w, cin, cout, mode } => {
                let mode = match mode {
                    ConvMode::Same => CpuMode::Same,
                    ConvMode::Down => CpuMode::Down,
                    ConvMode::Up => CpuMode::Up,
                };
                Conv3x3::new(&wt, &bias, cin, cout).forward(&x, batch, h, w, mode, &mut want, &mut ws);
                Conv3x3::new(&abs(&wt), &abs(&bias), cin, cout).forward(&abs(&x), batch, h, w, mode, &mut mag, &mut ws);
            }
        }
        (want, mag)
    };
    // Σ|a·b| is rounded too: 1% headroom on the bound.
    let bound: Vec<f64> = mag.iter().map(|&m| 1.01 * gemm_bound(k, m as f64)).collect();

    let xa = ctx.upload("ladder input", &x)?;
    let ba = ctx.upload("ladder bias", &bias)?;
    let dummy = ctx.upload("ladder dummy", &[0.0; 4])?;
    let mut out = Vec::new();
    for (variant, launch) in launches {
        let launch = match launch {
            Ok(l) => l,
            Err(why) => {
                out.push((variant, Outcome::NotApplicable(why)));
                continue;
            }
        };
        let packed = match (&launch, problem) {
            (Launch::Gemm(_), Problem::Gemm { k, n, .. }) => pack_linear(&wt, k, n),
            (_, Problem::Conv3x3 { cin, cout, .. }) => pack_conv3x3(&wt, cin, cout, variant),
            (Launch::Conv(_), Problem::Gemm { .. }) => unreachable!("a GEMM problem launches a GEMM"),
        };
        let wb = ctx.upload("ladder weight", &packed)?;
        let ob = ctx.upload("ladder output", &vec![f32::NAN; out_len])?;
        let spec = || match &launch {
            Launch::Gemm(g) => g.spec(&xa, &wb, Some(&ba), None, &ob, &dummy),
            Launch::Conv(c) => c.spec(&xa, &wb, Some(&ba), None, &ob, &dummy),
        };
        let kernel = spec().entry.name();
        let got = run_and_read(ctx, &[spec()], &ob, out_len).await?;
        let c = compare(&got, &want, &bound);
        let parity = Parity { max_err: c.max_err, err_over_bound: c.ratio };
        let passed = c.ratio <= 1.0;
        if !passed {
            out.push((variant, Outcome::ParityFailed { kernel, parity }));
            continue;
        }
        let clock = Clock::of(ctx);
        let samples_ms = match clock {
            Clock::Timestamps => {
                if warmup > 0 {
                    let specs: Vec<Spec<'_>> = (0..warmup).map(|_| spec()).collect();
                    let list = DispatchList::new(ctx, &specs)?;
                    let mut enc = ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("ladder warm-up") });
                    encode_pass(ctx, &mut enc, &list);
                    ctx.queue().submit([enc.finish()]);
                    ctx.wait_idle()?;
                }
                let ts = Timestamps::new(ctx, iters)?;
                let specs: Vec<Spec<'_>> = (0..iters).map(|_| spec()).collect();
                let list = DispatchList::new(ctx, &specs)?;
                let mut enc = ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("ladder") });
                list.encode_timed(ctx, &mut enc, &ts);
                ts.resolve(&mut enc);
                ctx.queue().submit([enc.finish()]);
                ts.read_ms(ctx).await?
            }
            Clock::WallClock => {
                let list = DispatchList::new(ctx, &[spec()])?;
                let mut ms = Vec::with_capacity(iters);
                for i in 0..warmup + iters {
                    let t0 = Instant::now();
                    let mut enc = ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("ladder") });
                    encode_pass(ctx, &mut enc, &list);
                    ctx.queue().submit([enc.finish()]);
                    ctx.wait_idle()?;
                    if i >= warmup {
                        ms.push(t0.elapsed().as_secs_f64() * 1e3);
                    }
                }
                ms
            }
        };
        ctx.check()?;
        out.push((variant, Outcome::Timed { kernel, parity, samples_ms, clock }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::testutil::gpu;

    /// The MNIST UNet's problems come from its compiled graph: every 3×3 convolution of
    /// `UnetConfig::layers` (conv_in, two per ResBlock, down, up, out) and the dense GEMMs, with
    /// the FLOPs adding up to `nn::flops` less attention's two batched products.
    #[test]
    fn unet_layer_problems_cover_the_network() {
        let cfg = crate::presets::unet_mnist();
        let arch = ArchConfig::Unet(cfg.clone());
        for batch in [1usize, 16] {
            let ps = layer_problems(&arch, batch).unwrap();
            let convs: usize = ps.iter().filter(|(p, _)| p.op() == "conv3x3").map(|(_, n)| n).sum();
            let layers = cfg.layers();
            let res = layers.iter().filter(|l| matches!(l, crate::config::UnetLayer::Res { .. })).count();
            let resample = layers.iter().filter(|l| matches!(l, crate::config::UnetLayer::Down { .. } | crate::config::UnetLayer::Up { .. })).count();
            assert_eq!(convs, 2 + 2 * res + resample, "{ps:?}");
            let flop: u64 = ps.iter().map(|(p, n)| p.flop() * *n as u64).sum();
            // Attention at 7×7 with ch = 64: q·kᵀ and P·v, 2·(49·49·64) each per sample.
            let attn = 2 * 2 * 49 * 49 * 64 * batch as u64;
            assert_eq!(flop + attn, crate::nn::flops(&arch) * batch as u64);
            assert!(ps.iter().any(|(p, _)| matches!(p, Problem::Conv3x3 { mode: ConvMode::Down, .. })));
            assert!(ps.iter().all(|(p, _)| match p {
                Problem::Gemm { m, .. } | Problem::Conv3x3 { batch: m, .. } => *m >= batch,
            }));
        }
        assert!(layer_problems(&arch, 0).is_err());
    }

    /// Both variants pass parity and are timed on small shapes; the one-channel convolution has
    /// no direct variant; an out-of-range iteration count is an error, not a panic.
    #[test]
    fn ladder_checks_then_times() {
        let Some(ctx) = gpu() else { return };
        let both = [KernelVariant::Tiled, KernelVariant::Direct];
        let problems = [
            Problem::Gemm { m: 37, k: 64, n: 96 },
            Problem::Conv3x3 { batch: 2, h: 7, w: 7, cin: 8, cout: 16, mode: ConvMode::Down },
            Problem::Conv3x3 { batch: 1, h: 6, w: 5, cin: 4, cout: 1, mode: ConvMode::Up },
        ];
        for p in problems {
            let r = pollster::block_on(measure(&ctx, p, &both, 1, 3)).unwrap();
            assert_eq!(r.len(), 2);
            for (v, o) in &r {
                match o {
                    Outcome::Timed { kernel, parity, samples_ms, .. } => {
                        assert!(parity.err_over_bound <= 1.0);
                        assert_eq!(samples_ms.len(), 3);
                        assert!(samples_ms.iter().all(|t| t.is_finite() && *t >= 0.0));
                        assert_eq!(kernel.ends_with("_direct"), *v == KernelVariant::Direct, "{kernel}");
                    }
                    other => panic!("{} {}: {other:?}", p.describe(), v.name()),
                }
            }
        }
        let one = Problem::Conv3x3 { batch: 1, h: 5, w: 5, cin: 1, cout: 8, mode: ConvMode::Same };
        let r = pollster::block_on(measure(&ctx, one, &both, 0, 1)).unwrap();
        assert!(matches!(r[0].1, Outcome::Timed { kernel: "conv3x3", .. }), "{r:?}");
        assert!(matches!(&r[1].1, Outcome::NotApplicable(why) if why.contains("multiple of 4")), "{r:?}");
        assert!(pollster::block_on(measure(&ctx, one, &both, 0, 0)).is_err());
    }
}
