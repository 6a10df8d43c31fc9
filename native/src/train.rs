//! `beeline train` (1-rectified flow from data), `beeline reflow` (2-rectified flow from a
//! teacher's pairs) and `beeline distill` (one-step distillation from pairs); cargo feature
//! `train`, which brings in burn. The training itself is `beeline::train::trainer`; this is
//! the command line around it.

use crate::exit::Usage;
use anyhow::{Context, Result};
use beeline::train::checkpoint;
use beeline::train::device::DeviceChoice;
use beeline::train::toml;
use beeline::config::NetRole;
use beeline::modelfile::ModelFile;
use beeline::pairs::read_manifest;
use beeline::train::{run, Event, Loss, Method, TrainConfig, TrainOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// Train a rectified flow (1-RF) from data and export it as a model file.
///
/// The config is built in layers: the defaults of the data set, then `--config FILE.toml`, then
/// the flags given here. Every file goes to `--out`: `config.toml` (the resolved config),
/// `metrics.jsonl`, `checkpoint.safetensors` (every `--checkpoint-every` steps, written
/// atomically) and `model.safetensors` (the EMA weights, ready for `beeline generate --model`).
/// A killed run continues exactly where its last checkpoint left off with `--resume`.
///
/// Examples:
///   beeline train --data rf-toy --steps 2000 --out runs/toy
///   beeline generate --model runs/toy/model.safetensors --out toy.png
///   beeline train --data mnist --config mnist.toml --device auto --out runs/mnist
///   beeline train --out runs/mnist --resume                  # after an interruption
///   beeline train --out runs/mnist --resume --steps 40000    # train longer
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline train --data rf-toy --steps 2000 --out runs/toy
  beeline generate --model runs/toy/model.safetensors --out toy.png
  beeline train --data mnist --config mnist.toml --out runs/mnist
  beeline train --out runs/mnist --resume                  # after an interruption
  beeline train --out runs/mnist --resume --steps 40000    # train longer

Config keys, defaults and the files written: docs/training.md")]
pub struct Args {
    /// A TOML file with any of the config keys (see docs/training.md); flags override it.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Data: rf-toy, 8gaussians, moons, checkerboard (2D), mnist or fashion-mnist.
    #[arg(long)]
    pub data: Option<String>,
    /// Folder of the image data sets (default $BEELINE_DATA_DIR, else data/).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Optimiser steps in total (default 2000 for 2D data, 20000 for images).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Samples per step (default 256 for 2D data, 128 for images).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Peak learning rate of AdamW (default 1e-3 for 2D data, 2e-4 for images).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Linear learning-rate warmup, in steps.
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Clip the global gradient norm to this (0 = off; default 1).
    #[arg(long)]
    pub grad_clip: Option<f64>,
    /// EMA decay (default 0.999), with warmup min(decay, (1+n)/(10+n)).
    #[arg(long)]
    pub ema_decay: Option<f64>,
    /// Time distribution: uniform, logit-normal[:m,s], u-shaped[:a] (RF++, a = 4) or a fixed t.
    #[arg(long)]
    pub time_dist: Option<String>,
    /// Loss: l2 or pseudo-huber (RF++: c = 0.00054·d, d = scalars per sample).
    #[arg(long)]
    pub loss: Option<String>,
    /// Probability of replacing a label by the null label (for classifier-free guidance).
    #[arg(long)]
    pub label_dropout: Option<f64>,
    /// Dropout inside the network, training only (default 0 for 2D data, 0.1 for images).
    #[arg(long)]
    pub dropout: Option<f64>,
    /// The seed of everything random: weights, data order, noise, times, dropout.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write a checkpoint (and model.safetensors) every N steps (0 = only at the end).
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Write a metrics line every N steps.
    #[arg(long)]
    pub log_every: Option<u64>,
    /// Where to train: auto (a real GPU through wgpu if there is one, else flex), wgpu or flex
    /// (burn's CPU backend).
    #[arg(long, default_value = "auto", value_parser = ["auto", "wgpu", "flex"])]
    pub device: String,
    /// Reflow and distill: the pairs folder made by `beeline pairs` (its data set becomes
    /// `--data`).
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// Start from this model file's velocity network (RF++: reflow from the 1-RF teacher)
    /// instead of random weights; its architecture becomes the run's.
    #[arg(long, value_name = "MODEL.safetensors")]
    pub init: Option<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "beeline-train")]
    pub out: PathBuf,
    /// Continue the run in --out from its checkpoint (or start it if there is none). Only
    /// --steps, --checkpoint-every, --log-every and --data-dir may differ from the run's config.
    #[arg(long)]
    pub resume: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The flags given, as a TOML table of config keys.
fn flag_table(a: &Args) -> Result<toml::Table> {
    let mut t = toml::Table::new();
    let mut put = |k: &str, v: Option<toml::Value>| {
        if let Some(v) = v {
            t.insert(k.to_string(), v);
        }
    };
    let int = |v: Option<u64>| -> Result<Option<toml::Value>> {
        v.map(|v| i64::try_from(v).map(toml::Value::Integer).map_err(|_| Usage(format!("{v} is too large")).into())).transpose()
    };
    put("data", a.data.clone().map(toml::Value::String));
    put("data_dir", a.data_dir.as_ref().map(|p| toml::Value::String(p.display().to_string())));
    put("steps", int(a.steps)?);
    put("batch", int(a.batch.map(|b| b as u64))?);
    put("lr", a.lr.map(toml::Value::Float));
    put("warmup", int(a.warmup)?);
    put("grad_clip", a.grad_clip.map(toml::Value::Float));
    put("ema_decay", a.ema_decay.map(toml::Value::Float));
    put("time_dist", a.time_dist.clone().map(toml::Value::String));
    let loss = match &a.loss {
        Some(l) => Some(toml::Value::String(
            match Loss::parse(l).map_err(|e| Usage(e.to_string()))? {
                Loss::L2 => "l2",
                Loss::PseudoHuber => "pseudo-huber",
            }
            .into(),
        )),
        None => None,
    };
    put("loss", loss);
    put("label_dropout", a.label_dropout.map(toml::Value::Float));
    put("dropout", a.dropout.map(toml::Value::Float));
    put("seed", int(a.seed)?);
    put("checkpoint_every", int(a.checkpoint_every)?);
    put("log_every", int(a.log_every)?);
    put("pairs", a.pairs.as_ref().map(|p| toml::Value::String(p.display().to_string())));
    put("init", a.init.as_ref().map(|p| toml::Value::String(p.display().to_string())));
    Ok(t)
}

/// The layer under the config file for reflow and distill: the method, the pairs' data set,
/// and the architecture of `--init` (else of the pairs' teacher, when its file is there).
fn method_layer(a: &Args, method: Method) -> Result<toml::Table> {
    let mut t = toml::Table::new();
    t.insert("method".into(), toml::Value::String(method.name().into()));
    let manifest = match &a.pairs {
        Some(dir) => read_manifest(dir)?,
        None => None,
    };
    if let Some(spec) = &manifest {
        t.insert("data".into(), toml::Value::String(spec.data.clone()));
    }
    let arch_from = a.init.clone().or_else(|| manifest.as_ref().map(|s| PathBuf::from(&s.teacher)).filter(|p| p.exists()));
    if let Some(path) = arch_from {
        let file = ModelFile::read(&path).with_context(|| format!("loading {}", path.display()))?;
        if let Some(arch) = file.config.networks.get(&NetRole::Velocity) {
            let v = toml::Value::try_from(arch).map_err(|e| anyhow::anyhow!("{}: its architecture as TOML: {e}", path.display()))?;
            t.insert("arch".into(), v);
        }
    }
    Ok(t)
}

/// Runs `beeline train` (`Method::RectifiedFlow`), `reflow` or `distill`.
pub fn run_cmd(a: Args, method: Method) -> Result<()> {
    let device: DeviceChoice = a.device.parse().map_err(|e: beeline::train::DeviceError| Usage(e.to_string()))?;
    let base = if a.resume { checkpoint::read_meta(&a.out)?.map(|m| m.config) } else { None };
    let mut layers = Vec::new();
    if method != Method::RectifiedFlow && base.is_none() {
        layers.push(method_layer(&a, method)?);
    }
    if let Some(path) = &a.config {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        layers.push(TrainConfig::parse_toml(&text, &path.display().to_string()).map_err(|e| Usage(e.to_string()))?);
    }
    layers.push(flag_table(&a)?);
    let config = TrainConfig::resolve(base.as_ref(), &layers).map_err(|e| Usage(e.to_string()))?;
    let opts = TrainOptions {
        out_dir: a.out.clone(),
        resume: a.resume,
        device,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        stop_after: None,
    };

    let bar = if a.quiet { ProgressBar::hidden() } else { ProgressBar::new(config.steps) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} steps ({elapsed}, eta {eta}) {msg}")
            .map_err(|e| anyhow::anyhow!(e))?
            .progress_chars("=> "),
    );
    let quiet = a.quiet;
    let mut on_event = |e: Event<'_>| match e {
        Event::Started { step, steps, device, params, data } => {
            if !quiet {
                let from = if step > 0 { format!("resuming at step {step} of {steps}") } else { format!("{steps} steps") };
                bar.println(format!("training {params} parameters on {device}; data {data}; {from}; output {}", opts.out_dir.display()));
            }
            bar.set_position(step);
        }
        Event::Log(r) => {
            bar.set_position(r.step);
            bar.set_message(format!("loss {:.4} · {:.1} steps/s · lr {:.2e}", r.loss, r.steps_per_s, r.lr));
        }
        Event::Checkpoint { .. } => {}
    };
    let summary = run(config, &opts, &mut on_event)?;
    bar.finish_and_clear();
    let model = summary.model.as_ref().map_or("(no model: stopped early)".to_string(), |p| p.display().to_string());
    println!(
        "wrote {model} (EMA weights after {} steps; last loss {}; {:.1} steps/s on {})",
        summary.steps,
        summary.last_loss.map_or("n/a".into(), |l| format!("{l:.4}")),
        summary.steps_per_s,
        summary.device
    );
    Ok(())
}

/// Train the digit classifier that `beeline eval --classifier` uses to judge generated images
/// (an MLP with ReLU on the training split; accuracy on the test split is measured on the
/// written file and stored in it).
///
/// Example:
///   beeline train-classifier --data mnist --out models/mnist-classifier.safetensors
#[derive(clap::Args, Debug)]
pub struct ClassifierArgs {
    /// Data set: mnist or fashion-mnist.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// Folder of the image data sets (default $BEELINE_DATA_DIR, else data/).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Hidden layer widths, comma-separated.
    #[arg(long, default_value = "512,256", value_delimiter = ',')]
    pub hidden: Vec<usize>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    /// Images per step.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Peak learning rate (AdamW, cosine decay).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Seed of the weights and the shuffles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to train: auto, wgpu or flex.
    #[arg(long, default_value = "auto", value_parser = ["auto", "wgpu", "flex"])]
    pub device: String,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run_classifier(a: ClassifierArgs) -> Result<()> {
    use beeline::data::images::{default_data_dir, ImageDataset};
    use beeline::train::classifier::{train_classifier, ClassifierTraining};
    let choice: DeviceChoice = a.device.parse().map_err(|e: beeline::train::DeviceError| Usage(e.to_string()))?;
    let sel = beeline::train::select_device(choice).map_err(|e| beeline::Error::GpuUnavailable(e.to_string()))?;
    let cfg = ClassifierTraining { dataset: ImageDataset::parse(&a.data)?, hidden: a.hidden.clone(), epochs: a.epochs, batch: a.batch, lr: a.lr, seed: a.seed };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let start = std::time::Instant::now();
    let device = sel.device.autodiff();
    let (bytes, acc) = train_classifier(&cfg, &a.data_dir.clone().unwrap_or_else(default_data_dir), &device, &command, &mut |epoch, loss| {
        eprintln!("epoch {epoch}/{}: mean loss {loss:.4} ({:.0} s)", a.epochs, start.elapsed().as_secs_f64());
    })?;
    beeline::modelfile::write_atomic(&a.out, &bytes)?;
    println!("wrote {} (test accuracy {:.2} % on {}; {:.0} s on {})", a.out.display(), acc * 100.0, a.data, start.elapsed().as_secs_f64(), sel.description);
    Ok(())
}
