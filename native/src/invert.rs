//! `beeline invert`: invert held-out test images to noise and regenerate them (FireFlow's
//! inversion), reporting the reconstruction error; `--compare` puts FireFlow, Euler and midpoint
//! side by side at equal NFE. Also the helpers `beeline edit` shares: held-out images for a
//! model, error metrics, the rows-of-images grid and the round trip on any backend.

use crate::plot::write_png;
use crate::sampler_args::SamplerArgs;
use crate::source::load_model;
use beeline::generator::Generator;
use anyhow::{Context, Result, bail};
use beeline::backend::{Backend, Choice};
use beeline::config::{ModelConfig, Parameterization, Solver};
use beeline::data::images::{ImageDataset, ImageSet, Split, default_data_dir};
use beeline::eval::mse_psnr;
use beeline::image;
use beeline::pipeline::{GenerateRequest, Labels};
use beeline::sampling::SamplerSpec;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How PSNR is defined everywhere in `invert` and `edit` (also printed and put in the JSON).
pub const PSNR_NOTE: &str = "PSNR = 10·log10(1/MSE) on pixels mapped from the data range [-1, 1] to [0, 1], reconstructions not clamped";

/// Invert held-out test images to noise, regenerate them from it, and report the error.
///
/// Takes the first `--num-samples` images of the data set's test split (never seen in
/// training), inverts them to noise with the sampler run backwards (t: 1 → 0) under their own
/// class labels at guidance 1 (FireFlow inverts at guidance 1), regenerates from that noise with
/// the same sampler, labels and guidance, and reports the mean squared error per pixel (data
/// range [-1, 1]), the PSNR (pixels mapped to [0, 1]), the network evaluations (NFE) each way,
/// and the mean and standard deviation of the noise found (N(0, 1) noise has 0 and 1). Writes
/// a PNG grid: rows of originals, each followed by its reconstructions.
///
/// `--compare` measures, instead of one sampler, FireFlow with N = `--steps` steps (N + 1 NFE
/// each way) against Euler with N + 1 steps (N + 1 NFE) and midpoint with ⌈(N + 1)/2⌉ steps
/// (N + 1 or N + 2 NFE); for CAF models, CAF with the initial velocity reused from the images
/// (the CAF paper's reconstruction, 1 + N + N NFE) against v̂0 recomputed from the noise
/// (2(N + 1) NFE).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline invert --model mnist-2rf --num-samples 64 --solver fireflow --steps 8 --out recon.png
  beeline invert --model mnist-2rf --steps 4 --compare --json")]
pub struct Args {
    /// Model file, or the name of a bundled model (mnist-2rf, mnist-onestep).
    #[arg(long)]
    pub model: PathBuf,
    /// Image data set whose test images are inverted: mnist or fashion-mnist (default: the
    /// model's).
    #[arg(long)]
    pub data: Option<String>,
    /// Where the data sets are (default `$BEELINE_DATA_DIR`, else `data/`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Number of test images (the first ones of the test split).
    #[arg(long, default_value_t = 64)]
    pub num_samples: usize,
    /// The sampler of both directions (default: FireFlow, 8 steps, uniform grid, guidance 1;
    /// CAF for CAF models). `--guidance` applies to both directions.
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Class labels of both directions: `data` (each image's own class; the default for
    /// class-conditional models), `none` (the null class), or one class (index or name).
    #[arg(long)]
    pub label: Option<String>,
    /// CAF models: compute the initial velocity again from the noise when regenerating, instead
    /// of reusing the one computed from the images (the CAF paper's reconstruction reuses it).
    #[arg(long)]
    pub fresh_initial_velocity: bool,
    /// Compare FireFlow, Euler and midpoint at equal NFE (CAF models: v̂0 reused vs recomputed)
    /// instead of running one sampler.
    #[arg(long, conflicts_with_all = ["solver", "fresh_initial_velocity"])]
    pub compare: bool,
    /// Largest batch evaluated at once.
    #[arg(long, default_value_t = 64, value_parser = crate::batch_size)]
    pub batch: usize,
    /// Output PNG: rows of originals, each followed by rows of reconstructions (`-`: standard output).
    #[arg(long, default_value = "beeline-invert.png")]
    pub out: PathBuf,
    /// Print a JSON summary on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where the networks run: auto, gpu or cpu (see `beeline generate --help`).
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    pub backend: String,
}

/// A model loaded for inversion, with the test split of its image data set.
pub struct Loaded {
    /// The model on its backend.
    pub source: Generator,
    /// The backend choice.
    pub choice: Choice,
    /// The model's config.
    pub config: ModelConfig,
    /// The data set's test split.
    pub test: ImageSet,
}

/// Loads the model and the test split of its image data set (`data` overrides the model's),
/// checking that the images have the model's sample shape and, for class-conditional models,
/// that the model's classes are the data set's.
pub fn load(model: &Path, backend: &str, data: Option<&str>, data_dir: Option<&Path>) -> Result<Loaded> {
    let want: Backend = backend.parse()?;
    let (source, choice) = load_model(model, want)?;
    let config = source.config().expect("a model file").clone();
    let invalid = |m: String| -> anyhow::Error { beeline::Error::InvalidInput(m).into() };
    let name = data.unwrap_or(&config.data.name);
    let dataset = ImageDataset::parse(name).map_err(|e| match data {
        Some(_) => anyhow::Error::from(e),
        None => invalid(format!("the model was trained on {name:?}, not an image data set; pass --data mnist or fashion-mnist")),
    })?;
    let dir = data_dir.map(Path::to_path_buf).unwrap_or_else(default_data_dir);
    let test = ImageSet::load(dataset, Split::Test, &dir)?;
    if config.data.shape != test.shape {
        bail!(invalid(format!(
            "{} makes samples of shape {:?}; {} images have shape {:?}",
            model.display(),
            config.data.shape,
            dataset.name(),
            test.shape
        )));
    }
    if !config.classes.is_empty() && config.classes != dataset.classes() {
        bail!(invalid(format!("the model's classes {:?} are not {}'s {:?}", config.classes, dataset.name(), dataset.classes())));
    }
    Ok(Loaded { source, choice, config, test })
}

/// Test images `indices` in the model's data range, `[indices.len(), numel]`.
pub fn images(test: &ImageSet, indices: &[usize], range: [f32; 2]) -> Vec<f32> {
    let numel = test.numel();
    let mut out = vec![0.0f32; indices.len() * numel];
    for (&i, row) in indices.iter().zip(out.chunks_mut(numel)) {
        test.image_f32(i, row);
        for v in row.iter_mut() {
            *v = range[0] + (*v + 1.0) * 0.5 * (range[1] - range[0]);
        }
    }
    out
}

/// Mean and standard deviation of all values.
fn mean_std(x: &[f32]) -> (f64, f64) {
    let n = x.len().max(1) as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Writes `rows` (each `[n, numel]`, the same `n`) as a grid of `cols` columns: for every
/// `cols` samples, one line of each of `rows` in order; a last partial line is padded with
/// black tiles.
pub fn write_rows(path: &Path, rows: &[&[f32]], shape: &[usize], range: [f32; 2], cols: usize) -> Result<()> {
    let numel: usize = shape.iter().product();
    let n = rows[0].len() / numel;
    let cols = cols.clamp(1, n.max(1));
    let mut tiles = Vec::with_capacity(n.div_ceil(cols) * cols * numel * rows.len());
    for first in (0..n).step_by(cols) {
        let take = cols.min(n - first);
        for r in rows {
            tiles.extend_from_slice(&r[first * numel..(first + take) * numel]);
            tiles.resize(tiles.len() + (cols - take) * numel, range[0]);
        }
    }
    let picture = image::grid(&tiles, shape, range, cols, 2, 64)?;
    write_png(path, &picture).with_context(|| format!("writing {}", path.display()))
}

/// One measured sampler of `invert`.
struct Run {
    spec: SamplerSpec,
    reuse: bool,
}

impl Run {
    fn name(&self) -> String {
        let solver = serde_json::to_value(self.spec.solver).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        match (self.spec.solver, self.reuse) {
            (Solver::Caf, true) => format!("{solver} (v̂0 reused)"),
            (Solver::Caf, false) => format!("{solver} (v̂0 from noise)"),
            _ => solver,
        }
    }
}

/// The samplers `invert` measures: the one asked for, or the `--compare` set.
fn runs(a: &Args, config: &ModelConfig) -> Result<Vec<Run>> {
    let caf = matches!(config.parameterization, Parameterization::Caf { .. });
    let base = default_spec(config, &a.sampler)?;
    if !a.compare {
        let reuse = base.solver == Solver::Caf && !a.fresh_initial_velocity;
        return Ok(vec![Run { spec: base, reuse }]);
    }
    let n = base.steps;
    if n == 0 {
        bail!(beeline::Error::InvalidInput("--steps must be at least 1".into()));
    }
    let with = |solver: Solver, steps: usize| SamplerSpec { solver, steps, ..base.clone() };
    Ok(if caf {
        vec![Run { spec: with(Solver::Caf, n), reuse: true }, Run { spec: with(Solver::Caf, n), reuse: false }]
    } else {
        vec![
            Run { spec: with(Solver::Euler, n + 1), reuse: false },
            Run { spec: with(Solver::Midpoint, (n + 1).div_ceil(2)), reuse: false },
            Run { spec: with(Solver::Fireflow, n), reuse: false },
        ]
    })
}

/// The sampler of `invert` and `edit`: FireFlow (CAF for CAF models), 8 steps, the model's
/// grid and windows, overridden by the flags given.
pub fn default_spec(config: &ModelConfig, args: &SamplerArgs) -> Result<SamplerSpec> {
    let mut spec = SamplerSpec::from_defaults(&config.sampler, &config.parameterization);
    spec.solver = if matches!(config.parameterization, Parameterization::Caf { .. }) { Solver::Caf } else { Solver::Fireflow };
    spec.steps = 8;
    args.apply(&mut spec)?;
    Ok(spec)
}

/// The labels of `--label` for `n` test images with data-set labels `data_labels`.
fn labels(label: Option<&str>, classes: &[String], data_labels: &[u8]) -> Result<(Labels, String)> {
    Ok(match (label, classes.is_empty()) {
        (None, true) => (Labels::Unconditional, "none".into()),
        (None | Some("data"), false) => (Labels::PerSample(data_labels.iter().map(|&l| l as u32).collect()), "data".into()),
        (Some("data"), true) => bail!(beeline::Error::InvalidInput("--label data needs a class-conditional model".into())),
        (Some(other), _) => (Labels::parse(Some(other), classes)?, other.to_string()),
    })
}

pub fn run(a: Args) -> Result<()> {
    if a.num_samples == 0 {
        bail!(beeline::Error::InvalidInput("--num-samples must be at least 1".into()));
    }
    let Loaded { mut source, choice, config, test } = load(&a.model, &a.backend, a.data.as_deref(), a.data_dir.as_deref())?;
    if a.num_samples > test.n {
        bail!(beeline::Error::InvalidInput(format!("--num-samples {}: the test split has {} images", a.num_samples, test.n)));
    }
    let range = config.data.range;
    let indices: Vec<usize> = (0..a.num_samples).collect();
    let originals = images(&test, &indices, range);
    let (labels, label_desc) = labels(a.label.as_deref(), &config.classes, &test.labels[..a.num_samples])?;
    let guidance = a.sampler.guidance.unwrap_or(1.0);
    let runs = runs(&a, &config)?;

    let mut rows: Vec<Value> = Vec::new();
    let mut recons: Vec<Vec<f32>> = Vec::new();
    let bar = crate::progress::bar(a.json, runs.len() as u64, "samplers");
    for r in &runs {
        bar.set_message(format!("{} ({} steps)", r.name(), r.spec.steps));
        let req = GenerateRequest {
            seed: 0,
            num_samples: a.num_samples,
            batch: a.batch,
            labels: labels.clone(),
            guidance,
            sampler: r.spec.clone(),
            record_trajectories: false,
        };
        let start = Instant::now();
        let rec = pollster::block_on(source.reconstruct(&req, originals.clone(), r.reuse, &mut |_| {}))?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        let (err, err_psnr) = mse_psnr(&rec.regenerated.samples, &originals, range)?;
        let (noise_mean, noise_std) = mean_std(&rec.inverted.samples);
        rows.push(json!({
            "solver": r.spec.solver, "name": r.name(), "steps": r.spec.steps,
            "reuse_initial_velocity": r.reuse,
            "nfe_invert": rec.inverted.nfe, "nfe_regenerate": rec.regenerated.nfe, "nfe_round_trip": rec.nfe(),
            "mse": err, "psnr": err_psnr,
            "noise_mean": noise_mean, "noise_std": noise_std, "ms": ms,
        }));
        recons.push(rec.regenerated.samples);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut grid_rows: Vec<&[f32]> = vec![&originals];
    grid_rows.extend(recons.iter().map(Vec::as_slice));
    write_rows(&a.out, &grid_rows, &config.data.shape, range, 16)?;

    let out = json!({
        "command": "invert", "model": a.model, "data": test.dataset.name(), "split": "test",
        "num_samples": a.num_samples, "labels": label_desc, "guidance": guidance,
        "backend": choice.kind(), "adapter": choice.adapter(), "grid": a.sampler.time_grid.as_deref().unwrap_or("uniform"),
        "psnr_note": PSNR_NOTE, "out": a.out, "runs": rows,
    });
    if a.json {
        crate::outln!("{out}");
        return Ok(());
    }
    crate::outln!(
        "{}: {} held-out {} test images (the first ones), labels {label_desc}, guidance {guidance}, backend {}",
        a.model.display(),
        a.num_samples,
        test.dataset.name(),
        choice.reason
    );
    crate::outln!("{:<20} {:>5} {:>8} {:>8} {:>10} {:>8} {:>10} {:>9}", "solver", "steps", "NFE inv", "NFE gen", "MSE", "PSNR dB", "noise mean", "noise std");
    for r in &rows {
        crate::outln!(
            "{:<20} {:>5} {:>8} {:>8} {:>10.6} {:>8.2} {:>10.4} {:>9.4}",
            r["name"].as_str().unwrap_or(""),
            r["steps"].as_u64().unwrap_or(0),
            r["nfe_invert"].as_u64().unwrap_or(0),
            r["nfe_regenerate"].as_u64().unwrap_or(0),
            r["mse"].as_f64().unwrap_or(f64::NAN),
            r["psnr"].as_f64().unwrap_or(f64::NAN),
            r["noise_mean"].as_f64().unwrap_or(f64::NAN),
            r["noise_std"].as_f64().unwrap_or(f64::NAN),
        );
    }
    crate::outln!("{PSNR_NOTE}; MSE per pixel on [-1, 1]");
    let names: Vec<String> = runs.iter().map(Run::name).collect();
    crate::outln!("wrote {} (rows: original, then {})", a.out.display(), names.join(", "));
    Ok(())
}
