//! `beeline edit`: FireFlow's inversion-based editing for class-conditional models: invert test
//! images with their class, regenerate them with another class under guidance.

use crate::invert::{Loaded, PSNR_NOTE, default_spec, images, load, write_rows};
use beeline::eval::mse_psnr;
use crate::sampler_args::SamplerArgs;
use anyhow::{Result, bail};
use beeline::config::ModelConfig;
use beeline::data::images::ImageDataset;
use beeline::eval::classifier::Classifier;
use beeline::pipeline::{GenerateRequest, Labels};
use beeline::sampling::Direction;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// The classifier `edit` uses for MNIST models when `--classifier` is not given (relative to
/// the working directory; skipped when missing).
const DEFAULT_MNIST_CLASSIFIER: &str = "models/mnist-classifier.safetensors";

/// Edit test images of one class into another: FireFlow's inversion-based editing.
///
/// Takes the first `--num-samples` test images of class `--from`, inverts them to noise with
/// label `--from` at guidance 1 (as FireFlow inverts with the source prompt), then regenerates
/// from that noise twice with the same sampler: with label `--from` at guidance 1 (the
/// reconstruction) and with label `--to` at `--guidance` (the edit). Writes a grid with the
/// rows original, reconstruction, edit, and reports the pixel distance (MSE on [-1, 1], PSNR)
/// of reconstructions and edits to the originals, beside that of fresh `--to` samples from
/// unrelated seeded noise (what an edit that kept nothing would score). With a classifier
/// (default for MNIST models: models/mnist-classifier.safetensors when present) it reports the
/// share of edits classified as `--to`, of reconstructions as `--from`, and of the originals.
///
/// FireFlow's editing also replaces the attention values V of the first denoising steps with
/// those stored during inversion; Beeline's MNIST models have no attention, so that is not
/// implemented (docs/inversion.md). CAF models regenerate their initial velocity from the
/// noise under the target class (no v̂0 reuse in edits).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline edit --model mnist-2rf --from 3 --to 8 --out edit.png
  beeline edit --model runs/mnist/teacher/model.safetensors --from 3 --to 8 --steps 8 --guidance 2 --json")]
pub struct Args {
    /// Class-conditional model file, or the name of a bundled model (mnist-2rf).
    #[arg(long)]
    pub model: PathBuf,
    /// Source class (index or name): the test images edited are the first ones of this class.
    #[arg(long)]
    pub from: String,
    /// Target class (index or name).
    #[arg(long)]
    pub to: String,
    /// Image data set of the test images (default: the model's).
    #[arg(long)]
    pub data: Option<String>,
    /// Where the data sets are (default `$BEELINE_DATA_DIR`, else `data/`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Number of images edited.
    #[arg(long, default_value_t = 8)]
    pub num_samples: usize,
    /// The sampler (default: FireFlow, 8 steps; CAF for CAF models); `--guidance` (default 2)
    /// is the edit's; inversion and reconstruction use guidance 1.
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Noise seed of the fresh `--to` samples the edits are compared with.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A classifier file (`beeline train-classifier`) that judges the classes.
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// Largest batch evaluated at once.
    #[arg(long, default_value_t = 64, value_parser = crate::batch_size)]
    pub batch: usize,
    /// Output PNG: rows original, reconstruction, edit (`-`: standard output).
    #[arg(long, default_value = "beeline-edit.png")]
    pub out: PathBuf,
    /// Print a JSON summary on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where the networks run: auto, gpu or cpu (see `beeline generate --help`).
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    pub backend: String,
}

/// The class index of `--from` / `--to`.
fn class(flag: &str, value: &str, config: &ModelConfig) -> Result<u32> {
    match Labels::parse(Some(value), &config.classes)? {
        Labels::All(c) => Ok(Labels::All(c).resolve(1, config.classes.len())?[0]),
        _ => bail!(beeline::Error::InvalidInput(format!("{flag} needs one class, not {value:?}"))),
    }
}

/// The classifier asked for, or the default one for MNIST models when it exists.
fn classifier(a: &Args, config: &ModelConfig) -> Result<Option<(Classifier, PathBuf)>> {
    let path = match &a.classifier {
        Some(p) => p.clone(),
        None if ImageDataset::parse(&config.data.name).ok() == Some(ImageDataset::Mnist) => {
            let p = PathBuf::from(DEFAULT_MNIST_CLASSIFIER);
            if !p.exists() {
                return Ok(None);
            }
            p
        }
        None => return Ok(None),
    };
    let c = Classifier::read(&path)?;
    if c.meta.shape != config.data.shape || c.meta.classes != config.classes {
        bail!(beeline::Error::InvalidInput(format!(
            "the classifier {} takes {:?} images of classes {:?}; the model makes {:?} of {:?}",
            path.display(),
            c.meta.shape,
            c.meta.classes,
            config.data.shape,
            config.classes
        )));
    }
    Ok(Some((c, path)))
}

pub fn run(a: Args) -> Result<()> {
    if a.num_samples == 0 {
        bail!(beeline::Error::InvalidInput("--num-samples must be at least 1".into()));
    }
    let Loaded { mut source, choice, config, test } = load(&a.model, &a.backend, a.data.as_deref(), a.data_dir.as_deref())?;
    if config.classes.is_empty() {
        bail!(beeline::Error::InvalidInput(format!("{} is unconditional; editing needs a class-conditional model", a.model.display())));
    }
    let (from, to) = (class("--from", &a.from, &config)?, class("--to", &a.to, &config)?);
    let judge = classifier(&a, &config)?;
    let indices: Vec<usize> = (0..test.n).filter(|&i| test.labels[i] as u32 == from).take(a.num_samples).collect();
    if indices.len() < a.num_samples {
        bail!(beeline::Error::InvalidInput(format!(
            "--num-samples {}: the test split has {} images of class {}",
            a.num_samples,
            indices.len(),
            config.classes[from as usize]
        )));
    }
    let range = config.data.range;
    let originals = images(&test, &indices, range);
    let spec = default_spec(&config, &a.sampler)?;
    let guidance = a.sampler.guidance.unwrap_or(2.0);
    let n = a.num_samples;
    let req = |labels: u32, guidance: f32, direction: Direction| GenerateRequest {
        seed: a.seed,
        num_samples: n,
        batch: a.batch,
        labels: Labels::All(labels),
        guidance,
        sampler: spec.clone().with_direction(direction),
        record_trajectories: false,
    };

    let bar = crate::progress::bar(a.json, n as u64, "samples");
    let start = Instant::now();
    let noise = pollster::block_on(source.transport_from(&req(from, 1.0, Direction::Invert), originals.clone(), &mut crate::progress::sampling(&bar, "inverting: ")))?;
    let recon = pollster::block_on(source.transport_from(&req(from, 1.0, Direction::Generate), noise.samples.clone(), &mut crate::progress::sampling(&bar, "reconstructing: ")))?;
    let edit = pollster::block_on(source.transport_from(&req(to, guidance, Direction::Generate), noise.samples.clone(), &mut crate::progress::sampling(&bar, "editing: ")))?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let fresh = pollster::block_on(source.generate(&req(to, guidance, Direction::Generate), &mut crate::progress::sampling(&bar, "fresh samples: ")))?;
    bar.finish_and_clear();
    write_rows(&a.out, &[&originals, &recon.samples, &edit.samples], &config.data.shape, range, n.min(16))?;

    let distance = |x: &[f32]| -> Result<serde_json::Value> {
        let (m, p) = mse_psnr(x, &originals, range)?;
        Ok(json!({ "mse": m, "psnr": p }))
    };
    let mut out = json!({
        "command": "edit", "model": a.model, "data": test.dataset.name(), "split": "test",
        "from": config.classes[from as usize], "to": config.classes[to as usize], "num_samples": n,
        "solver": spec.solver, "steps": spec.steps, "guidance": guidance, "inversion_guidance": 1.0,
        "nfe_invert": noise.nfe, "nfe_regenerate": edit.nfe, "backend": choice.kind(), "adapter": choice.adapter(),
        "ms": ms, "psnr_note": PSNR_NOTE, "out": a.out,
        "distance_to_original": {
            "reconstruction": distance(&recon.samples)?, "edit": distance(&edit.samples)?, "fresh_target_samples": distance(&fresh.samples)?,
        },
        "classifier": null,
    });
    if let Some((c, path)) = &judge {
        let share = |x: &[f32], class: u32| c.accuracy(x, &vec![class; n]);
        out["classifier"] = json!({
            "file": path,
            "edits_as_target": share(&edit.samples, to)?,
            "reconstructions_as_source": share(&recon.samples, from)?,
            "originals_as_source": share(&originals, from)?,
            "fresh_target_samples_as_target": share(&fresh.samples, to)?,
        });
    }
    if a.json {
        crate::outln!("{out}");
        return Ok(());
    }
    let d = &out["distance_to_original"];
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    crate::outln!(
        "{}: {n} test images of class {} edited to {} ({:?}, {} steps, {} NFE each way; inversion guidance 1, edit guidance {guidance}; backend {})",
        a.model.display(),
        out["from"].as_str().unwrap_or(""),
        out["to"].as_str().unwrap_or(""),
        spec.solver,
        spec.steps,
        edit.nfe,
        choice.reason
    );
    for (name, key) in [("reconstruction", "reconstruction"), ("edit", "edit"), ("fresh target samples", "fresh_target_samples")] {
        crate::outln!("  {name:<22} MSE to original {:.4}, PSNR {:.2} dB", f(&d[key]["mse"]), f(&d[key]["psnr"]));
    }
    if let Some(c) = out["classifier"].as_object() {
        let pct = |k: &str| f(&c[k]) * 100.0;
        crate::outln!(
            "  classifier: edits as {} {:.0} %, reconstructions as {} {:.0} %, originals as {} {:.0} %, fresh samples as {} {:.0} %",
            out["to"].as_str().unwrap_or(""),
            pct("edits_as_target"),
            out["from"].as_str().unwrap_or(""),
            pct("reconstructions_as_source"),
            out["from"].as_str().unwrap_or(""),
            pct("originals_as_source"),
            out["to"].as_str().unwrap_or(""),
            pct("fresh_target_samples_as_target"),
        );
    }
    crate::outln!("  {PSNR_NOTE}");
    crate::outln!("wrote {} (rows: original, reconstruction, edit)", a.out.display());
    Ok(())
}
