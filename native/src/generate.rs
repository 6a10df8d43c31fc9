//! `beeline generate`: samples from a model file (or the exact Gaussian-mixture field) to PNG.

use crate::plot::{picture, write_png};
use anyhow::{Context, Result, bail};
use crate::sampler_args::SamplerArgs;
use crate::source::load_model;
use beeline::generator::Generator;
use beeline::backend::Backend;
use beeline::config::Solver;
use beeline::gmm::GaussianMixture;
use beeline::pipeline::{GenerateRequest, Labels};
use beeline::sampling::SamplerSpec;
use std::path::PathBuf;
use std::time::Instant;

/// Generate samples and write them as a PNG.
///
/// With no `--model`, samples the bundled default model (see `--model`); `--analytic` samples
/// an exact Gaussian-mixture velocity field instead (no training involved).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline generate --steps 4 --solver fireflow --out toy.png
  beeline generate --model mnist.safetensors --steps 2 --label 3 --num-samples 16 --out threes.png
  beeline generate --model mnist.safetensors --backend gpu")]
pub struct Args {
    /// Model file (.safetensors), or the name of a bundled model (compiled into the binary;
    /// `beeline info --list` lists them). Default: the bundled one-step MNIST model.
    #[arg(long, conflicts_with = "analytic")]
    pub model: Option<PathBuf>,
    /// Sample an exact analytic field instead of a model: `rf-toy` (the independent coupling of
    /// N(0, I) and the 3-Gaussian toy) or `8gaussians`.
    #[arg(long)]
    pub analytic: Option<String>,
    /// The sampler (analytic fields: Euler, 8 steps, unless given).
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// What to sample and where.
    #[command(flatten)]
    pub sampling: Sampling,
    /// Output PNG (`-`: standard output; the summary then goes to stderr).
    #[arg(long, default_value = "beeline-out.png")]
    pub out: PathBuf,
    /// Print a JSON summary on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The flags of what to sample and where, shared by `generate` and `view`.
#[derive(clap::Args, Debug, Clone)]
pub struct Sampling {
    /// Noise seed: the same seed gives the same samples on every backend and batch size.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of samples (default: 4 per class for class-conditional models, 16 other images,
    /// 2000 points for 2D data).
    #[arg(long)]
    pub num_samples: Option<usize>,
    /// Largest batch evaluated at once.
    #[arg(long, default_value_t = 64, value_parser = crate::batch_size)]
    pub batch: usize,
    /// Class label (index or class name), or `cycle` for one class per grid column (default for
    /// conditional models), or `none` for the null class.
    #[arg(long)]
    pub label: Option<String>,
    /// Trajectories drawn on 2D plots.
    #[arg(long, default_value_t = 64)]
    pub trajectories: usize,
    /// Where the networks run: `gpu` (wgpu: Vulkan, Metal, DX12; exit status 4 without an
    /// adapter), `cpu` (the CPU reference), or `auto`: the GPU if a hardware adapter exists,
    /// else the CPU (software adapters such as lavapipe are slower than the CPU reference and
    /// only used when asked for). `WGPU_BACKEND` and `WGPU_ADAPTER_NAME` pick the adapter.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    pub backend: String,
}

impl Sampling {
    /// `--num-samples`, or its default for the data: 2000 points (`is_points`), 4 per class of
    /// `classes`, or 16 images.
    pub fn num_samples_for(&self, is_points: bool, classes: usize) -> usize {
        self.num_samples.unwrap_or(if is_points { 2000 } else if classes > 0 { 4 * classes } else { 16 })
    }
}

pub fn run(a: Args) -> Result<()> {
    let s = &a.sampling;
    let want: Backend = s.backend.parse()?;
    let (mut source, name, choice_reason, adapter, kind) = match &a.analytic {
        None => {
            let p = a.model.clone().unwrap_or_else(|| PathBuf::from(crate::bundled::DEFAULT_MODEL));
            let (source, choice) = load_model(&p, want)?;
            (source, p.display().to_string(), choice.reason.clone(), choice.adapter(), choice.kind())
        }
        Some(analytic) => {
            if want == Backend::Gpu {
                bail!(beeline::Error::InvalidInput(
                    "the analytic fields are evaluated on the CPU only; --backend gpu needs --model".into()
                ));
            }
            let g = match analytic.as_str() {
                "rf-toy" => GaussianMixture::rf_toy(),
                "8gaussians" => GaussianMixture::eight_gaussians(),
                other => bail!(beeline::Error::InvalidInput(format!("unknown analytic field {other:?}; use rf-toy or 8gaussians"))),
            };
            let reason = "cpu: the analytic field is evaluated on the CPU".to_string();
            (Generator::Analytic(g), format!("analytic:{analytic}"), reason, None, "cpu")
        }
    };

    // Defaults come from the model file; flags override them.
    let (mut spec, guidance, classes, shape, range) = match &source {
        Generator::Cpu(_) | Generator::Gpu(_) => {
            let c = source.config().expect("a model file");
            let spec = SamplerSpec::from_defaults(&c.sampler, &c.parameterization);
            (spec, c.sampler.guidance, c.classes.clone(), c.data.shape.clone(), c.data.range)
        }
        Generator::Analytic(g) => {
            let half = g.means().iter().flatten().fold(0.0f64, |m, v| m.max(v.abs())) + 3.0 * g.stds().iter().cloned().fold(0.0, f64::max);
            (SamplerSpec::new(Solver::Euler, 8), 1.0, Vec::new(), vec![g.dim()], [-half as f32, half as f32])
        }
    };
    a.sampler.apply(&mut spec)?;
    let is_points = shape.len() == 1;
    let num_samples = s.num_samples_for(is_points, classes.len());
    let req = GenerateRequest {
        seed: s.seed,
        num_samples,
        batch: s.batch,
        labels: Labels::parse(s.label.as_deref(), &classes)?,
        guidance: a.sampler.guidance.unwrap_or(guidance),
        sampler: spec.clone(),
        record_trajectories: is_points && s.trajectories > 0,
    };

    let bar = crate::progress::bar(a.json, num_samples as u64, "samples");
    let mut on_progress = crate::progress::sampling(&bar, "");
    let start = Instant::now();
    let out = pollster::block_on(source.generate(&req, &mut on_progress))?;
    let elapsed = start.elapsed();
    bar.finish_and_clear();

    if !is_points && let Some(why) = beeline::image::degenerate(&out.samples, shape.iter().product(), range) {
        eprintln!(
            "warning: every sample is {why}: the image is flat (saturated weights, a data range that does not fit the model, or a guidance far too large?)"
        );
    }
    let cycle = matches!(req.labels, Labels::Cycle) && !classes.is_empty();
    let picture = picture(&out, &shape, range, cycle.then_some(classes.len()), s.trajectories)?;
    write_png(&a.out, &picture).with_context(|| format!("writing {}", a.out.display()))?;

    let ms = elapsed.as_secs_f64() * 1e3;
    if a.json {
        let summary = serde_json::json!({
            "out": a.out, "source": name, "backend": kind, "adapter": adapter, "backend_reason": choice_reason,
            "solver": spec.solver, "steps": spec.steps,
            "nfe": out.nfe, "num_samples": num_samples, "seed": s.seed, "ms": ms,
            "ms_per_sample": ms / num_samples as f64,
        });
        crate::outln!("{summary}");
    } else {
        crate::outln!(
            "wrote {} ({} samples from {name}; {:?}, {} steps = {} NFE; backend {choice_reason}; {:.1} ms, {:.2} ms/sample)",
            a.out.display(),
            num_samples,
            spec.solver,
            spec.steps,
            out.nfe,
            ms,
            ms / num_samples as f64
        );
    }
    Ok(())
}
