//! `beeline train` (1-rectified flow from data), `beeline reflow` (2-rectified flow from a
//! teacher's pairs) and `beeline distill` (one-step distillation from pairs); cargo feature
//! `train`, which brings in burn. The training itself is `beeline::train::trainer`; this is
//! the command line around it.

use crate::exit::Usage;
use anyhow::{Context, Result};
use beeline::train::checkpoint;
use beeline::train::device::DeviceChoice;
use beeline::train::toml;
use beeline::config::{ArchConfig, NetRole};
use beeline::modelfile::ModelFile;
use beeline::pairs::read_manifest;
use beeline::train::{run, Event, Loss, Method, TrainConfig, TrainOptions, TrainSummary};
use std::path::{Path, PathBuf};

/// Train a rectified flow (1-RF) from data and export it as a model file.
///
/// The config is built in layers: the defaults of the data set, then `--config FILE.toml`, then
/// the flags given here. Every file goes to `--out`: `config.toml` (the resolved config),
/// `metrics.jsonl`, `checkpoint.safetensors` (every `--checkpoint-every` steps, written
/// atomically) and `model.safetensors` (the EMA weights, ready for `beeline generate --model`).
/// A killed run continues exactly where its last checkpoint left off with `--resume`.
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
    /// Decay the learning rate along a half cosine from this step to the last (to --lr-min);
    /// a resumed run may set it while the decay has not begun.
    #[arg(long, value_name = "STEP")]
    pub lr_decay_from: Option<u64>,
    /// The learning rate at the end of the decay (default 0).
    #[arg(long, value_name = "LR")]
    pub lr_min: Option<f64>,
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
    /// (burn's CPU backend); `gpu` and `cpu` name the same two, as for the sampling commands.
    /// ndarray and libtorch (burn's other CPU backends) need a build with the cargo feature
    /// train-ndarray or train-tch (docs/training.md).
    #[arg(long = "backend", visible_alias = "device", default_value = "auto", value_parser = TRAIN_BACKENDS)]
    pub device: String,
    /// Reflow and distill: the pairs folder made by `beeline pairs` (its data set becomes
    /// `--data`).
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// Start from this model file's velocity network (RF++: reflow from the 1-RF teacher)
    /// instead of random weights; its architecture becomes the run's.
    #[arg(long, value_name = "MODEL.safetensors")]
    pub init: Option<PathBuf>,
    /// Simple ReFlow's per-sample loss normalisation: divide each sample's loss by its own
    /// value with the gradient stopped.
    #[arg(long)]
    pub loss_normalization: bool,
    /// Horizontal flips (flip-invariant data only, e.g. fashion-mnist): per image from data,
    /// per batch of pairs (x0 and x1 together, SlimFlow) for reflow.
    #[arg(long)]
    pub hflip: bool,
    /// Reflow: SlimFlow's annealing, the fraction of --steps over which the pairs' noise goes
    /// from fresh (β = 1) to the teacher's (β = 0).
    #[arg(long)]
    pub anneal: Option<f64>,
    /// The teacher evaluated while training: PeRFlow's window solves; for distill, SlimFlow's
    /// 2-step regulariser (flow-guided distillation).
    #[arg(long, value_name = "MODEL.safetensors")]
    pub teacher: Option<PathBuf>,
    /// The teacher's classifier-free guidance (1 = none).
    #[arg(long)]
    pub teacher_guidance: Option<f32>,
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

/// The values `--backend` (alias `--device`) takes for training: burn's devices, and the
/// sampling commands' `gpu` / `cpu` for the same two.
const TRAIN_BACKENDS: [&str; 7] = ["auto", "wgpu", "flex", "ndarray", "libtorch", "gpu", "cpu"];

/// burn's device for a `--backend` value.
fn device_choice(v: &str) -> Result<DeviceChoice> {
    let v = match v {
        "gpu" => "wgpu",
        "cpu" => "flex",
        v => v,
    };
    Ok(v.parse().map_err(|e: beeline::train::DeviceError| Usage(e.to_string()))?)
}

/// `n` as a TOML integer (a usage error past `i64::MAX`).
fn int_value(n: u64) -> Result<toml::Value> {
    i64::try_from(n).map(toml::Value::Integer).map_err(|_| Usage(format!("{n} is too large")).into())
}

/// A path as a TOML string.
fn path_value(p: &Path) -> toml::Value {
    toml::Value::String(p.display().to_string())
}

/// An architecture as a TOML table (a config layer's `arch`).
fn arch_value(arch: &ArchConfig) -> Result<toml::Value> {
    toml::Value::try_from(arch).map_err(|e| anyhow::anyhow!("architecture as TOML: {e}"))
}

/// The model file at `path`, with the path in the error.
fn read_model(path: &Path) -> Result<ModelFile> {
    ModelFile::read(path).with_context(|| format!("loading {}", path.display()))
}

/// The flags given, as a TOML table of config keys.
fn flag_table(a: &Args) -> Result<toml::Table> {
    let mut t = toml::Table::new();
    let mut put = |k: &str, v: Option<toml::Value>| {
        if let Some(v) = v {
            t.insert(k.to_string(), v);
        }
    };
    let int = |v: Option<u64>| v.map(int_value).transpose();
    put("data", a.data.clone().map(toml::Value::String));
    put("data_dir", a.data_dir.as_ref().map(|p| toml::Value::String(p.display().to_string())));
    put("steps", int(a.steps)?);
    put("batch", int(a.batch.map(|b| b as u64))?);
    put("lr", a.lr.map(toml::Value::Float));
    put("warmup", int(a.warmup)?);
    put("lr_decay_from", int(a.lr_decay_from)?);
    put("lr_min", a.lr_min.map(toml::Value::Float));
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
    put("pairs", a.pairs.as_deref().map(path_value));
    put("init", a.init.as_deref().map(path_value));
    put("loss_normalization", a.loss_normalization.then_some(toml::Value::Boolean(true)));
    put("hflip", a.hflip.then_some(toml::Value::Boolean(true)));
    put("anneal", a.anneal.map(toml::Value::Float));
    if let Some(model) = &a.teacher {
        let mut teacher = toml::Table::new();
        teacher.insert("model".into(), path_value(model));
        if let Some(g) = a.teacher_guidance {
            teacher.insert("guidance".into(), toml::Value::Float(g.into()));
        }
        t.insert("teacher".into(), toml::Value::Table(teacher));
    } else if a.teacher_guidance.is_some() {
        return Err(Usage("--teacher-guidance needs --teacher".into()).into());
    }
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
        if let Some(arch) = read_model(&path)?.config.networks.get(&NetRole::Velocity) {
            t.insert("arch".into(), arch_value(arch)?);
        }
    }
    Ok(t)
}

/// Runs `beeline train` (`Method::RectifiedFlow`), `reflow` or `distill`.
pub fn run_cmd(a: Args, method: Method) -> Result<()> {
    train_stage(&a, method, toml::Table::new(), &a.out).map(|_| ())
}

/// Trains one run of `method` into `out`: the config from the method's layer, `--config`, the
/// flags, then `stage` (keys a multi-stage command fixes); prints progress and the result.
fn train_stage(a: &Args, method: Method, stage: toml::Table, out: &Path) -> Result<TrainSummary> {
    let device = device_choice(&a.device)?;
    let base = if a.resume { checkpoint::read_meta(out)?.map(|m| m.config) } else { None };
    let mut layers = Vec::new();
    if method != Method::RectifiedFlow && base.is_none() {
        layers.push(method_layer(a, method)?);
    }
    if let Some(path) = &a.config {
        let text = beeline::files::read_text(path, 1 << 20)?;
        layers.push(TrainConfig::parse_toml(&text, &path.display().to_string()).map_err(|e| Usage(e.to_string()))?);
    }
    let mut flags = flag_table(a)?;
    for k in stage.keys() {
        flags.remove(k);
    }
    layers.push(flags);
    layers.push(stage);
    let config = TrainConfig::resolve(base.as_ref(), &layers).map_err(|e| Usage(e.to_string()))?;
    let opts = TrainOptions {
        out_dir: out.to_path_buf(),
        resume: a.resume,
        device,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        stop_after: None,
    };

    let bar = crate::progress::bar(a.quiet, config.steps, "steps");
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
    crate::outln!(
        "wrote {model} (EMA weights after {} steps; last loss {}; {:.1} steps/s on {})",
        summary.steps,
        summary.last_loss.map_or("n/a".into(), |l| format!("{l:.4}")),
        summary.steps_per_s,
        summary.device
    );
    Ok(summary)
}

/// The model file a finished stage of a multi-stage command wrote.
fn stage_model(summary: TrainSummary, stage: &str) -> Result<PathBuf> {
    summary.model.ok_or_else(|| anyhow::anyhow!("{stage} stopped before its end"))
}

/// Copies the last stage's model file to `<out>/model.safetensors` (atomically) and returns
/// that path.
fn publish(model: &Path, out: &Path) -> Result<PathBuf> {
    let bytes = beeline::modelfile::read_bounded(model)?;
    let dst = out.join(beeline::train::trainer::MODEL_FILE);
    beeline::files::write_atomic(&dst, &bytes)?;
    Ok(dst)
}

/// Constant Acceleration Flow from a teacher's pairs, in two stages written under `--out`:
///
/// 1. `initial-velocity/`: the network v(x_t, t) → h·(x1 − x0), trained at every t on
///    x_t = (1 − t²)·x0 + t²·x1 + v0·(t − t²) (the CAF paper's "reflow for the initial
///    velocity"); `--init` starts it from a model file (e.g. the 1-RF teacher).
/// 2. `acceleration/`: the network a(concat[x_t, v̂0], t) → 2(x1 − x0) − 2v̂0 with
///    v̂0 = v(x0, 0) from stage 1 (frozen), initialised from stage 1 with zero weights on the
///    v̂0 input (the paper's choice; its code starts from random weights).
///
/// `model.safetensors` holds both networks (parameterization `caf`, one CAF step recommended:
/// 2 evaluations). Every training flag applies to both stages; `--resume` continues whichever
/// stage was interrupted.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline pairs --model runs/2d/1rf/model.safetensors --num-pairs 20000 --out runs/2d/pairs
  beeline caf --pairs runs/2d/pairs --h 2 --steps 2000 --out runs/2d/caf
  beeline generate --model runs/2d/caf/model.safetensors --steps 1 --out caf.png

Method and constants: docs/caf.md")]
pub struct CafArgs {
    #[command(flatten)]
    pub train: Args,
    /// The initial-velocity scale h: 1 = straight paths (zero acceleration), > 1 decelerating,
    /// < 1 accelerating (the paper: 1.5 for images, 2 best in 2D).
    #[arg(long, default_value_t = 1.5)]
    pub h: f64,
    /// Optimiser steps of stage 2 (default: --steps).
    #[arg(long)]
    pub acceleration_steps: Option<u64>,
}

/// Runs `beeline caf` (see [`CafArgs`]).
pub fn run_caf(a: CafArgs) -> Result<()> {
    let out = &a.train.out;
    let (v_dir, a_dir) = (out.join("initial-velocity"), out.join("acceleration"));
    let mut stage1 = toml::Table::new();
    stage1.insert("caf_h".into(), toml::Value::Float(a.h));
    if !a.train.quiet {
        crate::outln!("CAF stage 1 of 2: the initial-velocity network (h = {})", a.h);
    }
    let s1 = train_stage(&a.train, Method::CafVelocity, stage1.clone(), &v_dir)?;
    let v_model = stage_model(s1, "stage 1")?;
    let v_file = read_model(&v_model)?;
    let v_arch = v_file.config.networks.get(&NetRole::Velocity).ok_or_else(|| anyhow::anyhow!("{}: no velocity network", v_model.display()))?;
    let mut stage2 = stage1;
    stage2.insert("initial_velocity".into(), path_value(&v_model));
    stage2.insert("init".into(), path_value(&v_model));
    stage2.insert("arch".into(), arch_value(&v_arch.with_cond(true))?);
    if let Some(n) = a.acceleration_steps {
        stage2.insert("steps".into(), int_value(n)?);
    }
    if !a.train.quiet {
        crate::outln!("CAF stage 2 of 2: the acceleration network, conditioned on stage 1's v̂0");
    }
    let s2 = train_stage(&a.train, Method::CafAcceleration, stage2, &a_dir)?;
    let dst = publish(&stage_model(s2, "stage 2")?, out)?;
    crate::outln!("wrote {} (CAF, h = {}: both networks; sample with --solver caf, 1 step = 2 evaluations)", dst.display(), a.h);
    Ok(())
}

/// Train the digit classifier that `beeline eval --classifier` uses to judge generated images
/// (an MLP with ReLU on the training split; accuracy on the test split is measured on the
/// written file and stored in it).
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:
  beeline train-classifier --data mnist --out models/mnist-classifier.safetensors")]
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
    /// Where to train: auto, wgpu (or gpu) or flex (or cpu).
    #[arg(long = "backend", visible_alias = "device", default_value = "auto", value_parser = TRAIN_BACKENDS)]
    pub device: String,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run_classifier(a: ClassifierArgs) -> Result<()> {
    use beeline::data::images::{default_data_dir, ImageDataset};
    use beeline::train::classifier::{train_classifier, ClassifierTraining};
    let choice = device_choice(&a.device)?;
    let sel = beeline::train::select_device(choice).map_err(|e| beeline::Error::GpuUnavailable(e.to_string()))?;
    let cfg = ClassifierTraining { dataset: ImageDataset::parse(&a.data)?, hidden: a.hidden.clone(), epochs: a.epochs, batch: a.batch, lr: a.lr, seed: a.seed };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let start = std::time::Instant::now();
    let device = sel.device.autodiff();
    let (bytes, acc) = train_classifier(&cfg, &a.data_dir.clone().unwrap_or_else(default_data_dir), &device, &command, &mut |epoch, loss| {
        eprintln!("epoch {epoch}/{}: mean loss {loss:.4} ({:.0} s)", a.epochs, start.elapsed().as_secs_f64());
    })?;
    beeline::files::write_atomic(&a.out, &bytes)?;
    crate::outln!("wrote {} (test accuracy {:.2} % on {}; {:.0} s on {})", a.out.display(), acc * 100.0, a.data, start.elapsed().as_secs_f64(), sel.description);
    Ok(())
}

/// PeRFlow: straighten the teacher piecewise over K time windows, from real data.
///
/// Each training sample takes a real image (or 2D point) and a time t; in t's window
/// [t_s, t_e) the window start is the data noised to t_s, the window end the teacher's solve
/// from there to t_e (`--teacher-solver`, `--teacher-steps`, `--teacher-guidance`; labels
/// dropped to null are solved unconditionally), and the student, initialised from the teacher,
/// learns the straight velocity between them. The model file recommends the PeRFlow sampler
/// with one step per window.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline perflow --teacher runs/mnist/teacher/model.safetensors --windows 4 \\
      --teacher-solver midpoint --teacher-steps 2 --teacher-guidance 3 --steps 1200 --out runs/mnist/perflow
  beeline generate --model runs/mnist/perflow/model.safetensors --solver perflow --steps 4

Method and constants: docs/perflow.md")]
pub struct PerflowArgs {
    /// Every training flag; --teacher (required) is the model solved inside the windows, and
    /// its data set and network become the student's.
    #[command(flatten)]
    pub train: Args,
    /// Number of time windows K.
    #[arg(long, default_value_t = 4)]
    pub windows: usize,
    /// The teacher's solver inside a window: euler, midpoint, heun, rk4 or fireflow.
    #[arg(long, default_value = "midpoint")]
    pub teacher_solver: String,
    /// The teacher's steps inside a window.
    #[arg(long, default_value_t = 2)]
    pub teacher_steps: u32,
}

/// Runs `beeline perflow` (see [`PerflowArgs`]).
pub fn run_perflow(a: PerflowArgs) -> Result<()> {
    let teacher_path = a.train.teacher.clone().ok_or_else(|| Usage("perflow needs --teacher MODEL.safetensors".into()))?;
    let file = read_model(&teacher_path)?;
    let arch = file.config.networks.get(&NetRole::Velocity).ok_or_else(|| Usage(format!("{}: the teacher must be a velocity model", teacher_path.display())))?;
    let mut teacher = toml::Table::new();
    teacher.insert("model".into(), path_value(&teacher_path));
    teacher.insert("solver".into(), toml::Value::String(a.teacher_solver.clone()));
    teacher.insert("steps".into(), toml::Value::Integer(a.teacher_steps.into()));
    teacher.insert("guidance".into(), toml::Value::Float(a.train.teacher_guidance.unwrap_or(1.0).into()));
    let mut stage = toml::Table::new();
    stage.insert("teacher".into(), toml::Value::Table(teacher));
    let windows = int_value(a.windows as u64)?;
    stage.insert("windows".into(), windows.clone());
    stage.insert("sample_steps".into(), windows);
    stage.insert("data".into(), toml::Value::String(file.config.data.name.clone()));
    stage.insert("init".into(), path_value(a.train.init.as_ref().unwrap_or(&teacher_path)));
    stage.insert("arch".into(), arch_value(arch)?);
    train_stage(&a.train, Method::Perflow, stage, &a.train.out).map(|_| ())
}

/// SlimFlow: a smaller one-step student from a teacher's pairs, in two stages under `--out`:
///
/// 1. `reflow/`: annealing reflow from scratch into the network of `--config`/the flags (give
///    a smaller `[arch]` than the teacher's): the pairs' noise is `√(1 − β²)·z0 + β·ε` with β
///    falling from 1 to 0 over `--anneal` of the steps, and with `--hflip` (flip-invariant
///    data only) each batch's pairs are mirrored together with probability ½.
/// 2. `distill/`: flow-guided distillation from stage 1 (initialised from it): one-step
///    regression on the pairs plus the 2-step regulariser with stage 1 as the teacher
///    (`--no-regularizer` drops it, for the ablation).
///
/// `model.safetensors` is the one-step student.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline slimflow --pairs runs/fashion/pairs --config docs/configs/slimflow-student.toml \\
      --anneal 0.5 --hflip --steps 1200 --distill-steps 600 --out runs/fashion/slimflow
  beeline generate --model runs/fashion/slimflow/model.safetensors --steps 1

Method and constants: docs/slimflow.md")]
pub struct SlimflowArgs {
    #[command(flatten)]
    pub train: Args,
    /// Optimiser steps of the distillation stage (default: --steps).
    #[arg(long)]
    pub distill_steps: Option<u64>,
    /// Distil without the 2-step regulariser (plain one-step regression).
    #[arg(long)]
    pub no_regularizer: bool,
}

/// Runs `beeline slimflow` (see [`SlimflowArgs`]).
pub fn run_slimflow(a: SlimflowArgs) -> Result<()> {
    if a.train.teacher.is_some() || a.train.init.is_some() {
        return Err(Usage("slimflow trains its student from scratch and distils with its own reflow stage as the teacher; drop --teacher and --init".into()).into());
    }
    let out = &a.train.out;
    if !a.train.quiet {
        crate::outln!("SlimFlow stage 1 of 2: annealing reflow into the student");
    }
    let s1 = train_stage(&a.train, Method::Reflow, toml::Table::new(), &out.join("reflow"))?;
    let path = path_value(&stage_model(s1, "stage 1")?);
    let mut stage2 = toml::Table::new();
    stage2.insert("init".into(), path.clone());
    stage2.insert("anneal".into(), toml::Value::Float(0.0));
    if !a.no_regularizer {
        stage2.insert("teacher".into(), toml::Value::Table(toml::Table::from_iter([("model".to_string(), path)])));
    }
    if let Some(n) = a.distill_steps {
        stage2.insert("steps".into(), int_value(n)?);
    }
    if !a.train.quiet {
        let how = if a.no_regularizer { "one-step regression only" } else { "with the 2-step regulariser" };
        crate::outln!("SlimFlow stage 2 of 2: flow-guided distillation ({how})");
    }
    let s2 = train_stage(&a.train, Method::Distill, stage2, &out.join("distill"))?;
    let dst = publish(&stage_model(s2, "stage 2")?, out)?;
    crate::outln!("wrote {} (SlimFlow one-step student)", dst.display());
    Ok(())
}
