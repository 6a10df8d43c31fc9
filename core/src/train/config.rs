//! The training config of `beeline train` (1-rectified flow from data): a TOML file with
//! defaults that depend on the data set, and overrides on top.
//!
//! How a run's config is made, layer by layer (later layers win, key by key):
//!
//! 1. [`TrainConfig::defaults_for`] the data set (`rf-toy`, …, `mnist`): the architecture, the
//!    batch size, the learning rate, the number of steps, dropout and label dropout;
//! 2. the `--config FILE.toml` table;
//! 3. the command-line flags (as a table of the same keys).
//!
//! `resolve` merges the layers as TOML tables (tables merge key by key; an `[arch]` table with
//! a different `kind` replaces the default architecture whole) and then deserialises with
//! unknown keys refused, so a misspelt key is an error that names it. On `--resume` the base is
//! the checkpoint's config instead of the defaults, and only [`RESUMABLE_KEYS`] may change.
//!
//! ```toml
//! data = "mnist"
//! steps = 20000
//! batch = 128
//! lr = 2e-4
//! warmup = 1000
//! time_dist = "u-shaped:4"     # uniform | logit-normal[:m,s] | u-shaped[:a] | a fixed time
//! loss = "pseudo-huber"        # l2 | pseudo-huber (c = 0.00054·d, see `recipe::time_dist::pseudo_huber_c`)
//! label_dropout = 0.1
//! [arch]
//! kind = "unet"
//! base_channels = 64
//! ```

use crate::config::{ArchConfig, Solver};
use crate::data::images::{default_data_dir, ImageDataset};
use crate::data::toys::Toy;
use crate::error::{Error, Result};
use crate::presets;
use crate::recipe::time_dist::TimeDist;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The loss between the predicted and the target velocity.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Mean squared error over every scalar of the batch (the rectified-flow paper's loss).
    L2,
    /// RF++'s pseudo-Huber, per sample `(√(‖Δ‖² + c²) − c) / d` with `c = 0.00054·d`
    /// (`d` = scalars per sample; RF++'s code, see
    /// [`pseudo_huber_c`](crate::recipe::time_dist::pseudo_huber_c)), then the batch mean. For
    /// MNIST `d = 784` and `c = 0.423`.
    PseudoHuber,
}

impl Method {
    /// Parses a method name ([`Method::name`]).
    pub fn parse(s: &str) -> Result<Method> {
        Method::ALL.iter().copied().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            Error::InvalidInput(format!("unknown method {s:?}; use {}", names.join(", ")))
        })
    }
}

impl Loss {
    /// Parses `l2` or `pseudo-huber` (also `huber`).
    pub fn parse(s: &str) -> Result<Loss> {
        match s {
            "l2" | "mse" => Ok(Loss::L2),
            "pseudo-huber" | "huber" => Ok(Loss::PseudoHuber),
            _ => Err(Error::InvalidInput(format!("unknown loss {s:?}; use l2 or pseudo-huber"))),
        }
    }
}

/// Which method a run trains: its name in configs, provenance and commands. The parameters
/// that only one method has live in [`MethodConfig`].
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// 1-rectified flow: independent (noise, data) couplings (`beeline train`).
    #[default]
    RectifiedFlow,
    /// Reflow (2-rectified flow): the teacher's couplings from a pairs folder, t from
    /// `time_dist` (`beeline reflow`).
    Reflow,
    /// One-step distillation: the same couplings at t = 0 only, so `x0 + v(x0, 0)` regresses
    /// onto `x1` (`beeline distill`).
    Distill,
    /// Constant Acceleration Flow, stage 1: the initial-velocity network on a teacher's
    /// couplings, target `h·(x1 − x0)` at every t, on `x_t = (1 − t²)·x0 + t²·x1 + v0·(t − t²)`
    /// built with the true `v0 = h·(x1 − x0)` (`beeline caf`).
    CafVelocity,
    /// Constant Acceleration Flow, stage 2: the acceleration network `a(concat[x_t, v̂0], t)`
    /// with `v̂0` from the frozen stage-1 network at t = 0, target `2(x1 − x0) − 2v̂0`, on
    /// `x_t = x0 + v̂0·t + ½a·t²` (`beeline caf`).
    CafAcceleration,
    /// PeRFlow: K time windows; each sample's window start is its real data point noised to
    /// the window's start time, its window end the `teacher`'s solve inside the window, and the
    /// student regresses the straight velocity between them (`beeline perflow`).
    Perflow,
}

/// The teacher a method solves with during training (PeRFlow's window ends).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TeacherConfig {
    /// The teacher's model file (a velocity model of the same data).
    pub model: PathBuf,
    /// The solver inside each window.
    #[serde(default = "default_teacher_solver")]
    pub solver: Solver,
    /// Steps inside each window.
    #[serde(default = "default_teacher_steps")]
    pub steps: u32,
    /// Classifier-free guidance of the teacher (1 = none; > 1 "CFG-fixed": the student learns
    /// the guided field for its labels).
    #[serde(default = "default_teacher_guidance")]
    pub guidance: f32,
}

fn default_teacher_solver() -> Solver {
    Solver::Midpoint
}
fn default_teacher_steps() -> u32 {
    2
}
fn default_teacher_guidance() -> f32 {
    1.0
}

impl Method {
    /// Every method, in the order of the docs.
    pub const ALL: [Method; 6] = [Method::RectifiedFlow, Method::Reflow, Method::Distill, Method::CafVelocity, Method::CafAcceleration, Method::Perflow];

    /// The name in configs and provenance.
    pub fn name(self) -> &'static str {
        match self {
            Method::RectifiedFlow => "rectified-flow",
            Method::Reflow => "reflow",
            Method::Distill => "distill",
            Method::CafVelocity => "caf-velocity",
            Method::CafAcceleration => "caf-acceleration",
            Method::Perflow => "perflow",
        }
    }

    /// Whether the method trains on a teacher's couplings (`pairs`).
    pub fn needs_pairs(self) -> bool {
        !matches!(self, Method::RectifiedFlow | Method::Perflow)
    }

    /// Whether the method learns a teacher's deterministic map (no label or network dropout
    /// by default).
    pub fn distils(self) -> bool {
        self != Method::RectifiedFlow
    }
}

/// What a run trains, with the parameters that method (and only that method) has. In TOML the
/// method's keys sit at the top level beside `method = "<name>"`:
///
/// ```toml
/// method = "caf-acceleration"
/// pairs = "runs/mnist/pairs"
/// caf_h = 1.5
/// initial_velocity = "runs/mnist/caf/initial-velocity/model.safetensors"
/// ```
///
/// A key of another method is an error that names it; configs written before the methods had
/// their own parameters carried every method's keys, so [`LEGACY_DEFAULTS`] at their old
/// default values are dropped where they do not apply.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum MethodConfig {
    /// See [`Method::RectifiedFlow`].
    RectifiedFlow,
    /// See [`Method::Reflow`].
    Reflow {
        /// The pairs folder made by `beeline pairs` (required; optional here so that layers
        /// can supply it after the method).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pairs: Option<PathBuf>,
        /// SlimFlow's annealing reflow: the fraction of `steps` over which β falls linearly
        /// from 1 to 0, the pair's noise being `√(1 − β²)·z0 + β·ε` with fresh ε (0 = plain
        /// reflow).
        #[serde(default)]
        anneal: f64,
    },
    /// See [`Method::Distill`].
    Distill {
        /// The pairs folder (required).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pairs: Option<PathBuf>,
        /// With a teacher, SlimFlow's 2-step regulariser (flow-guided distillation) is added.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        teacher: Option<TeacherConfig>,
    },
    /// See [`Method::CafVelocity`].
    CafVelocity {
        /// The pairs folder (required).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pairs: Option<PathBuf>,
        /// CAF's initial-velocity scale h (1 = rectified flow, a = 0; > 1 decelerating paths;
        /// the CAF paper uses 1.5 for images and finds 2 best in 2D).
        #[serde(default = "default_caf_h")]
        caf_h: f64,
    },
    /// See [`Method::CafAcceleration`].
    CafAcceleration {
        /// The pairs folder (required).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pairs: Option<PathBuf>,
        /// CAF's initial-velocity scale h, as in stage 1.
        #[serde(default = "default_caf_h")]
        caf_h: f64,
        /// The model file written by stage 1 (`caf-velocity`, required), whose network gives
        /// `v̂0 = v(x0, 0)` and is stored beside the trained acceleration network in the export.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        initial_velocity: Option<PathBuf>,
    },
    /// See [`Method::Perflow`].
    Perflow {
        /// The teacher solved inside each window (required).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        teacher: Option<TeacherConfig>,
        /// The number of time windows K (the sampler spreads its steps over them).
        #[serde(default = "default_windows")]
        windows: usize,
    },
}

/// Keys every method carried before [`MethodConfig`], with their old defaults: in a config that
/// has them at these values where they do not apply, they are dropped rather than refused.
pub const LEGACY_DEFAULTS: [(&str, f64); 3] = [("caf_h", 1.5), ("windows", 4.0), ("anneal", 0.0)];

impl MethodConfig {
    /// `kind` with its parameters at their defaults (and no pairs, teacher or stage-1 file).
    pub fn new(kind: Method) -> MethodConfig {
        match kind {
            Method::RectifiedFlow => MethodConfig::RectifiedFlow,
            Method::Reflow => MethodConfig::Reflow { pairs: None, anneal: 0.0 },
            Method::Distill => MethodConfig::Distill { pairs: None, teacher: None },
            Method::CafVelocity => MethodConfig::CafVelocity { pairs: None, caf_h: default_caf_h() },
            Method::CafAcceleration => MethodConfig::CafAcceleration { pairs: None, caf_h: default_caf_h(), initial_velocity: None },
            Method::Perflow => MethodConfig::Perflow { teacher: None, windows: default_windows() },
        }
    }

    /// Which method this is.
    pub fn kind(&self) -> Method {
        match self {
            MethodConfig::RectifiedFlow => Method::RectifiedFlow,
            MethodConfig::Reflow { .. } => Method::Reflow,
            MethodConfig::Distill { .. } => Method::Distill,
            MethodConfig::CafVelocity { .. } => Method::CafVelocity,
            MethodConfig::CafAcceleration { .. } => Method::CafAcceleration,
            MethodConfig::Perflow { .. } => Method::Perflow,
        }
    }

    /// The pairs folder of a method that trains on couplings.
    pub fn pairs(&self) -> Option<&PathBuf> {
        match self {
            MethodConfig::Reflow { pairs, .. } | MethodConfig::Distill { pairs, .. } | MethodConfig::CafVelocity { pairs, .. } | MethodConfig::CafAcceleration { pairs, .. } => pairs.as_ref(),
            MethodConfig::RectifiedFlow | MethodConfig::Perflow { .. } => None,
        }
    }

    /// The teacher evaluated during training (PeRFlow; distill with flow-guided distillation).
    pub fn teacher(&self) -> Option<&TeacherConfig> {
        match self {
            MethodConfig::Distill { teacher, .. } | MethodConfig::Perflow { teacher, .. } => teacher.as_ref(),
            _ => None,
        }
    }

    /// CAF's h (CAF methods only).
    pub fn caf_h(&self) -> Option<f64> {
        match self {
            MethodConfig::CafVelocity { caf_h, .. } | MethodConfig::CafAcceleration { caf_h, .. } => Some(*caf_h),
            _ => None,
        }
    }

    /// CAF stage 2's stage-1 model file.
    pub fn initial_velocity(&self) -> Option<&PathBuf> {
        match self {
            MethodConfig::CafAcceleration { initial_velocity, .. } => initial_velocity.as_ref(),
            _ => None,
        }
    }

    /// PeRFlow's window count.
    pub fn windows(&self) -> Option<usize> {
        match self {
            MethodConfig::Perflow { windows, .. } => Some(*windows),
            _ => None,
        }
    }

    /// SlimFlow's annealing fraction (0 for every method but reflow).
    pub fn anneal(&self) -> f64 {
        match self {
            MethodConfig::Reflow { anneal, .. } => *anneal,
            _ => 0.0,
        }
    }
}

/// Everything that decides a training run. A run is a pure function of this config (the seed
/// included) and the step: see [`trainer`](super::trainer). Unknown keys are refused by
/// [`resolve`](Self::resolve), which names them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// The method and its own parameters (flattened: `method = "…"` and its keys at the top).
    #[serde(flatten)]
    pub method: MethodConfig,
    /// Simple ReFlow's per-sample loss normalisation: each sample's loss is divided by its own
    /// value with the gradient stopped, `ℓ_i / (sg[ℓ_i] + 1e-3)`, so every sample pulls with the
    /// same weight whatever its scale.
    #[serde(default)]
    pub loss_normalization: bool,
    /// Initial weights: the velocity network of this model file (RF++ initialises reflow from
    /// the 1-rectified flow); its architecture must be `arch`. Default: random initialisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
    /// The data: `rf-toy`, `8gaussians`, `moons`, `checkerboard` (2D, drawn fresh every step) or
    /// `mnist`, `fashion-mnist` (the 60 000 training images, in [-1, 1]).
    pub data: String,
    /// Where the image data sets are (default `$BEELINE_DATA_DIR`, else `data/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// The network (default: an MLP 2→128×3 for points, `presets::unet_mnist()` for images).
    pub arch: ArchConfig,
    /// Optimiser steps in total.
    pub steps: u64,
    /// Samples per step.
    pub batch: usize,
    /// Peak learning rate (AdamW).
    pub lr: f64,
    /// Linear warmup of the learning rate over this many steps ([`warmup_lr`](crate::recipe::schedule::warmup_lr)).
    pub warmup: u64,
    /// Start of a cosine decay of the learning rate, in steps: from `lr` at this step to
    /// `lr_min` at `steps` ([`lr_at`](crate::recipe::schedule::lr_at)); unset = constant after
    /// warmup. A resumed run may set or move it while the decay has not begun at its checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_decay_from: Option<u64>,
    /// The learning rate the cosine decay ends at (default 0).
    #[serde(default)]
    pub lr_min: f64,
    /// AdamW's decoupled weight decay (the rectified-flow paper trains with 0).
    pub weight_decay: f64,
    /// AdamW β1.
    pub beta1: f64,
    /// AdamW β2.
    pub beta2: f64,
    /// AdamW ε.
    pub eps: f64,
    /// Clip the global gradient norm (over all parameters together) to this; 0 = no clipping.
    pub grad_clip: f64,
    /// EMA decay, with the warmup `min(decay, (1 + n)/(10 + n))` ([`ema_decay`](crate::recipe::schedule::ema_decay)).
    pub ema_decay: f64,
    /// Distribution of t: `uniform`, `logit-normal[:m,s]`, `u-shaped[:a]` (RF++, a = 4) or a
    /// fixed time ([`TimeDist::parse`]).
    pub time_dist: String,
    /// `l2` or `pseudo-huber`.
    pub loss: Loss,
    /// Probability that a sample's label is replaced by the null label (classifier-free
    /// guidance); class-conditional networks only.
    pub label_dropout: f64,
    /// Dropout probability inside the network (training only).
    pub dropout: f64,
    /// Random horizontal flips of images (only for data sets whose distribution is
    /// flip-invariant, e.g. Fashion-MNIST; refused for MNIST digits): each image with
    /// probability ½ when training from data; on pairs (SlimFlow), the whole batch's `x0` and
    /// `x1` together with probability ½.
    pub hflip: bool,
    /// The seed: initialisation, data order, noise, times, label dropout and dropout masks.
    pub seed: u64,
    /// Write a checkpoint every this many steps (and at the end); 0 = only at the end.
    pub checkpoint_every: u64,
    /// Write a metrics line (and update the progress bar) every this many steps.
    pub log_every: u64,
    /// Also write `model.safetensors` (the EMA weights) at every checkpoint, not only at the end.
    pub export_at_checkpoints: bool,
    /// Also export the raw (non-EMA) weights, as `model-raw.safetensors`.
    pub export_raw: bool,
    /// Keep a copy of the EMA model at every checkpoint whose step is a multiple of this, as
    /// `snapshots/model-STEP.safetensors` (a learning curve's points); 0 = none.
    #[serde(default)]
    pub snapshot_every: u64,
    /// Euler steps recommended in the exported model file.
    pub sample_steps: u32,
}

fn default_caf_h() -> f64 {
    1.5
}
fn default_windows() -> usize {
    4
}

/// Keys that may differ from the checkpoint's config when a run is resumed: they do not change
/// the weights of the steps already taken (the learning-rate decay only while it has not begun
/// at the checkpoint: [`TrainConfig::check_resumable_schedule`]).
pub const RESUMABLE_KEYS: &[&str] = &["lr_decay_from", "lr_min", "steps", "checkpoint_every", "log_every", "export_at_checkpoints", "export_raw", "snapshot_every", "sample_steps", "data_dir"];

/// The data a config names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// A generated 2D distribution.
    Toy(Toy),
    /// An image data set.
    Images(ImageDataset),
}

impl DataKind {
    /// Parses a `--data` name.
    pub fn parse(s: &str) -> Result<DataKind> {
        if let Ok(t) = Toy::parse(s) {
            return Ok(DataKind::Toy(t));
        }
        ImageDataset::parse(s).map(DataKind::Images).map_err(|_| {
            Error::InvalidInput(format!("unknown data {s:?}; use rf-toy, 8gaussians, moons, checkerboard, mnist or fashion-mnist"))
        })
    }
}

impl TrainConfig {
    /// The defaults for data set `data`.
    pub fn defaults_for(data: &str) -> Result<TrainConfig> {
        let kind = DataKind::parse(data)?;
        let common = |arch, steps, batch, lr, warmup, dropout, label_dropout, checkpoint_every, sample_steps| TrainConfig {
            method: MethodConfig::RectifiedFlow,
            loss_normalization: false,
            init: None,
            data: data.to_string(),
            data_dir: None,
            arch,
            steps,
            batch,
            lr,
            warmup,
            lr_decay_from: None,
            lr_min: 0.0,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            grad_clip: 1.0,
            ema_decay: 0.999,
            time_dist: "uniform".into(),
            loss: Loss::L2,
            label_dropout,
            dropout,
            hflip: false,
            seed: 0,
            checkpoint_every,
            log_every: 10,
            export_at_checkpoints: true,
            export_raw: false,
            snapshot_every: 0,
            sample_steps,
        };
        Ok(match kind {
            DataKind::Toy(_) => common(ArchConfig::Mlp(presets::mlp(2, 128, 3, 0)), 2000, 256, 1e-3, 100, 0.0, 0.0, 500, 50),
            DataKind::Images(_) => common(ArchConfig::Unet(presets::unet_mnist()), 20_000, 128, 2e-4, 1000, 0.1, 0.1, 1000, 50),
        })
    }

    /// Changes the data set's defaults for `method`: methods on fixed couplings use no label
    /// dropout or network dropout; distill trains at t = 0 only and recommends one Euler step;
    /// CAF's acceleration network takes `concat[x_t, v̂0]` and recommends one CAF step.
    pub fn apply_method_defaults(&mut self, method: Method) {
        self.method = MethodConfig::new(method);
        if method.distils() {
            self.label_dropout = 0.0;
            self.dropout = 0.0;
        }
        if method == Method::Perflow {
            self.sample_steps = default_windows() as u32;
        }
        if method == Method::Distill {
            self.time_dist = "0".into();
            self.sample_steps = 1;
        }
        if method == Method::CafAcceleration {
            self.arch = self.arch.with_cond(true);
            self.sample_steps = 1;
        }
    }

    /// The config from layers of TOML tables over a base: the defaults of the data set named by
    /// the last layer that names one (else `rf-toy`), or `base` (a resumed run's config, in which
    /// case only [`RESUMABLE_KEYS`] may change). Errors name the offending key or value.
    pub fn resolve(base: Option<&TrainConfig>, layers: &[toml::Table]) -> Result<TrainConfig> {
        let base_config = match base {
            Some(b) => b.clone(),
            None => {
                let data = layers.iter().rev().find_map(|l| l.get("data")).map(|v| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => Err(Error::InvalidInput(format!("`data` must be a string, not {}", other.type_str()))),
                });
                let mut d = TrainConfig::defaults_for(&data.transpose()?.unwrap_or_else(|| "rf-toy".into()))?;
                let method = layers.iter().rev().find_map(|l| l.get("method")).map(|v| match v {
                    toml::Value::String(s) => Method::parse(s),
                    other => Err(Error::InvalidInput(format!("`method` must be a string, not {}", other.type_str()))),
                });
                if let Some(m) = method.transpose()? {
                    d.apply_method_defaults(m);
                }
                d
            }
        };
        let mut table = to_table(&base_config)?;
        for layer in layers {
            merge(&mut table, layer);
        }
        drop_legacy_keys(&mut table);
        // Through text, so that a type error quotes the offending line (`try_into` on a
        // `Value` reports the message without the key).
        let text = toml::to_string(&table).map_err(|e| Error::InvalidInput(format!("training config: {e}")))?;
        let config: TrainConfig = toml::from_str(&text).map_err(|e: toml::de::Error| {
            // Quote the offending line of the merged config (its line number would mean nothing
            // to the user, whose file is only one of the layers).
            let line = e.span().map(|s| {
                let start = text[..s.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
                let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
                text[start..end].trim().to_string()
            });
            let msg = e.message().trim().to_string();
            Error::InvalidInput(match line {
                Some(l) if !l.is_empty() => format!("training config, at `{l}`: {msg}"),
                _ => format!("training config: {msg}"),
            })
        })?;
        // Keys nothing consumed: the flattened method takes what the struct does not, so serde
        // cannot refuse them itself; every field is written back, so what is missing is unknown.
        let known = to_table(&config)?;
        if let Some(k) = table.keys().find(|k| !known.contains_key(*k)) {
            return Err(Error::InvalidInput(if LEGACY_DEFAULTS.iter().any(|(l, _)| l == k) || ["pairs", "teacher", "initial_velocity"].contains(&k.as_str()) {
                format!("training config: `{k}` does not apply to method {}", config.method.kind().name())
            } else {
                format!("training config: unknown key `{k}`")
            }));
        }
        if let Some(b) = base {
            let (mut was, mut now) = (to_table(b)?, to_table(&config)?);
            for k in RESUMABLE_KEYS {
                was.remove(*k);
                now.remove(*k);
            }
            if let Some(k) = was.keys().chain(now.keys()).find(|k| was.get(*k) != now.get(*k)) {
                return Err(Error::InvalidInput(format!(
                    "`{k}` differs from the checkpoint's config; a resumed run may change only {}",
                    RESUMABLE_KEYS.join(", ")
                )));
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// The learning rate of optimiser step `step` (0-based): warmup, then the cosine decay if
    /// one is set ([`lr_at`](crate::recipe::schedule::lr_at)).
    pub fn lr_at(&self, step: u64) -> f64 {
        crate::recipe::schedule::lr_at(self.lr, self.warmup, self.lr_decay_from.map(|f| (f, self.lr_min)), self.steps, step)
    }

    /// Refuses a resumed config whose learning-rate schedule differs from `was`'s at a step
    /// before `step` (the steps the checkpoint has taken): the decay may be set, moved or
    /// changed only while it has not begun.
    pub fn check_resumable_schedule(&self, was: &TrainConfig, step: u64) -> Result<()> {
        let same = self.lr_decay_from == was.lr_decay_from && self.lr_min == was.lr_min && self.steps == was.steps;
        let not_begun = |c: &TrainConfig| c.lr_decay_from.is_none_or(|f| f >= step);
        if same || (not_begun(self) && not_begun(was)) {
            return Ok(());
        }
        Err(Error::InvalidInput(format!(
            "the learning-rate decay differs from the checkpoint's at steps it has already taken (it is at step {step}); `lr_decay_from` may be set or moved only to step {step} or later, and a begun decay keeps its `lr_min` and `steps`"
        )))
    }

    /// Parses a TOML document into a table (for [`resolve`](Self::resolve)).
    pub fn parse_toml(text: &str, what: &str) -> Result<toml::Table> {
        text.parse::<toml::Table>().map_err(|e| Error::InvalidInput(format!("{what}: {}", e.to_string().trim())))
    }

    /// The config as TOML text (written next to the checkpoints as `config.toml`).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::InvalidInput(format!("config to TOML: {e}")))
    }

    /// The data set this config names.
    pub fn data_kind(&self) -> Result<DataKind> {
        DataKind::parse(&self.data)
    }

    /// The parsed time distribution.
    pub fn time_distribution(&self) -> Result<TimeDist> {
        TimeDist::parse(&self.time_dist)
    }

    /// The image data folder.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }

    /// Checks every value and that the architecture fits the data.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(m));
        let kind = self.data_kind()?;
        self.time_distribution()?;
        self.arch.validate().map_err(|e| Error::InvalidInput(format!("arch: {e}")))?;
        let unit = |name: &str, v: f64, hi_open: bool| {
            let ok = v.is_finite() && v >= 0.0 && if hi_open { v < 1.0 } else { v <= 1.0 };
            if ok { Ok(()) } else { Err(Error::InvalidInput(format!("`{name}` must be in [0, 1{}, got {v}", if hi_open { ")" } else { "]" }))) }
        };
        unit("dropout", self.dropout, true)?;
        unit("label_dropout", self.label_dropout, false)?;
        unit("ema_decay", self.ema_decay, true)?;
        unit("beta1", self.beta1, true)?;
        unit("beta2", self.beta2, true)?;
        if self.steps == 0 {
            return bad("`steps` must be at least 1".into());
        }
        if self.batch == 0 {
            return bad("`batch` must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("`lr` must be positive, got {}", self.lr));
        }
        if !(self.lr_min.is_finite() && self.lr_min >= 0.0 && self.lr_min <= self.lr) {
            return bad(format!("`lr_min` must be between 0 and `lr` ({}), got {}", self.lr, self.lr_min));
        }
        if let Some(from) = self.lr_decay_from
            && from >= self.steps
        {
            return bad(format!("`lr_decay_from` ({from}) must be before the last step (`steps` = {})", self.steps));
        }
        for (name, v) in [("weight_decay", self.weight_decay), ("grad_clip", self.grad_clip)] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("`{name}` must be ≥ 0, got {v}"));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad(format!("`eps` must be positive, got {}", self.eps));
        }
        if self.log_every == 0 {
            return bad("`log_every` must be at least 1".into());
        }
        if self.snapshot_every > 0 && (self.checkpoint_every == 0 || self.snapshot_every % self.checkpoint_every != 0) {
            return bad(format!("`snapshot_every` ({}) must be a multiple of `checkpoint_every` ({}): snapshots are taken at checkpoints", self.snapshot_every, self.checkpoint_every));
        }
        if self.sample_steps == 0 {
            return bad("`sample_steps` must be at least 1".into());
        }
        let method = self.method.kind();
        if method.needs_pairs() && self.method.pairs().is_none() {
            return bad(format!("method {} needs `pairs` (a folder made by `beeline pairs`)", method.name()));
        }
        if method == Method::Distill && self.time_distribution()? != (TimeDist::Fixed { t: 0.0 }) {
            return bad(format!("distill trains at t = 0 (time_dist = \"0\"), not {:?}", self.time_dist));
        }
        let is_caf = matches!(method, Method::CafVelocity | Method::CafAcceleration);
        match &self.method {
            MethodConfig::CafVelocity { caf_h, .. } | MethodConfig::CafAcceleration { caf_h, .. } if !(caf_h.is_finite() && (0.0..=100.0).contains(caf_h)) => {
                return bad(format!("`caf_h` must be in [0, 100], got {caf_h}"));
            }
            MethodConfig::CafAcceleration { initial_velocity: None, .. } => return bad("method caf-acceleration needs `initial_velocity` (the model file of stage caf-velocity)".into()),
            MethodConfig::Reflow { anneal, .. } if !(anneal.is_finite() && (0.0..=1.0).contains(anneal)) => {
                return bad(format!("`anneal` is the fraction of training that SlimFlow's annealing reflow takes, in [0, 1], got {anneal}"));
            }
            MethodConfig::Perflow { teacher: None, .. } => return bad("method perflow needs a `teacher` table (model, solver, steps, guidance)".into()),
            MethodConfig::Perflow { windows, .. } if !(1..=100).contains(windows) => return bad(format!("`windows` is PeRFlow's window count, in 1..=100, got {windows}")),
            MethodConfig::Perflow { windows, .. } if (self.sample_steps as usize) < *windows => {
                return bad(format!("PeRFlow samples with at least one step per window: sample_steps {} < windows {windows}", self.sample_steps));
            }
            _ => {}
        }
        if let Some(t) = self.method.teacher() {
            if t.steps == 0 || t.steps > 1000 {
                return bad(format!("teacher.steps must be in 1..=1000, got {}", t.steps));
            }
            if !(t.guidance.is_finite() && t.guidance >= 0.0) {
                return bad(format!("teacher.guidance must be finite and ≥ 0, got {}", t.guidance));
            }
            if matches!(t.solver, Solver::Caf | Solver::Perflow | Solver::RfppNew) {
                return bad(format!("teacher.solver {:?} cannot solve inside a window; use euler, midpoint, heun, rk4 or fireflow", t.solver));
            }
        }
        if is_caf && self.hflip {
            return bad("`hflip` with CAF: v̂0 is computed once per pair, not per flip".into());
        }
        let want_cond = if method == Method::CafAcceleration { self.arch.sample_shape().iter().product() } else { 0 };
        if self.arch.cond_numel() != want_cond {
            return bad(if want_cond > 0 {
                format!("arch: CAF's acceleration network takes concat[x_t, v̂0]; cond_dim / cond_channels must match the sample ({want_cond} scalars)")
            } else {
                "arch: this method trains a plain velocity field; cond_dim / cond_channels must be 0".into()
            });
        }
        let shape = self.arch.sample_shape();
        match kind {
            DataKind::Toy(t) => {
                if shape != [2] {
                    return bad(format!("arch: data {} is 2-dimensional, the network's samples have shape {shape:?}", t.name()));
                }
                if self.arch.num_classes() > 0 {
                    return bad(format!("arch: data {} has no labels; num_classes must be 0", t.name()));
                }
                if self.hflip {
                    return bad("`hflip` is for images".into());
                }
            }
            DataKind::Images(d) => {
                if shape != [1, 28, 28] {
                    return bad(format!("arch: {} images are 1×28×28, the network's samples have shape {shape:?}", d.name()));
                }
                let n = self.arch.num_classes();
                if n != 0 && n != d.classes().len() {
                    return bad(format!("arch: {} has {} classes, the network {n}", d.name(), d.classes().len()));
                }
                if self.hflip && !d.flip_invariant() {
                    return bad(format!("`hflip` would change the distribution of {} (use it for fashion-mnist)", d.name()));
                }
            }
        }
        Ok(())
    }
}

fn to_table(c: &TrainConfig) -> Result<toml::Table> {
    match toml::Value::try_from(c) {
        Ok(toml::Value::Table(t)) => Ok(t),
        Ok(_) => Err(Error::InvalidInput("config is not a table".into())),
        Err(e) => Err(Error::InvalidInput(format!("config to TOML: {e}"))),
    }
}

/// Removes the [`LEGACY_DEFAULTS`] keys at their old default values from a merged config whose
/// method does not take them (configs written when every method carried every key).
fn drop_legacy_keys(table: &mut toml::Table) {
    let method = table.get("method").and_then(|m| m.as_str()).and_then(|m| Method::parse(m).ok()).unwrap_or_default();
    let takes = |key: &str| match key {
        "caf_h" => matches!(method, Method::CafVelocity | Method::CafAcceleration),
        "windows" => method == Method::Perflow,
        _ => method == Method::Reflow,
    };
    for (key, old) in LEGACY_DEFAULTS {
        let at_default = table.get(key).and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64))) == Some(old);
        if at_default && !takes(key) {
            table.remove(key);
        }
    }
}

/// `over` onto `base`, key by key; tables merge recursively, except an `arch` table whose
/// `kind` differs, which replaces the base's.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if o.get("kind").is_none_or(|kind| b.get("kind") == Some(kind)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> toml::Table {
        TrainConfig::parse_toml(s, "test").unwrap()
    }

    #[test]
    fn defaults_depend_on_the_data() {
        let toy = TrainConfig::resolve(None, &[]).unwrap();
        assert_eq!(toy.data, "rf-toy");
        assert!(matches!(toy.arch, ArchConfig::Mlp(_)));
        let mnist = TrainConfig::resolve(None, &[t("data = 'mnist'")]).unwrap();
        assert_eq!(mnist.arch, ArchConfig::Unet(presets::unet_mnist()));
        assert_eq!(mnist.label_dropout, 0.1);
        // The config round-trips through TOML.
        let again = TrainConfig::resolve(None, &[t(&mnist.to_toml().unwrap())]).unwrap();
        assert_eq!(again, mnist);
    }

    #[test]
    fn later_layers_win_and_arch_merges() {
        let file = t("data = 'moons'\nsteps = 50\nlr = 0.01\ntime_dist = 'u-shaped:4'\nloss = 'pseudo-huber'\n[arch]\nhidden = 64");
        let flags = t("steps = 7\nseed = 3");
        let c = TrainConfig::resolve(None, &[file, flags]).unwrap();
        assert_eq!((c.data.as_str(), c.steps, c.lr, c.seed, c.loss), ("moons", 7, 0.01, 3, Loss::PseudoHuber));
        assert_eq!(c.time_distribution().unwrap(), TimeDist::UShaped { a: 4.0 });
        let ArchConfig::Mlp(m) = &c.arch else { panic!() };
        assert_eq!((m.hidden, m.depth, m.dim), (64, 3, 2));
        // An arch of the same kind edits the default (num_classes stays 10) …
        let c = TrainConfig::resolve(None, &[t("data = 'mnist'\n[arch]\nkind = 'unet'\nbase_channels = 8\nchannel_mult = [1, 2]\ngroups = 4")]).unwrap();
        let ArchConfig::Unet(u) = &c.arch else { panic!() };
        assert_eq!((u.base_channels, u.num_classes, u.channel_mult.as_slice()), (8, 10, &[1, 2][..]));
        // … one of another kind replaces it whole (and then must fit the data).
        let e = TrainConfig::resolve(None, &[t("data = 'mnist'\n[arch]\nkind = 'mlp'\ndim = 784\nhidden = 8\ndepth = 1\ntime_embed_dim = 8")]).unwrap_err();
        assert!(e.to_string().contains("[784]"), "{e}");
    }

    #[test]
    fn bad_configs_are_clear_errors() {
        let err = |s: &str| TrainConfig::resolve(None, &[t(s)]).unwrap_err().to_string();
        assert!(err("stepz = 3").contains("stepz"), "{}", err("stepz = 3"));
        assert!(err("steps = 'many'").contains("steps"));
        assert!(err("data = 'cifar'").contains("cifar"));
        assert!(err("time_dist = 'cosine'").contains("cosine"));
        assert!(err("loss = 'l1'").contains("l1"));
        assert!(err("dropout = 1.5").contains("dropout"));
        assert!(err("label_dropout = -0.1").contains("label_dropout"));
        assert!(err("lr = 0").contains("lr"));
        assert!(err("[arch]\nhidden = 0").contains("arch"));
        assert!(err("[arch]\nnum_classes = 3").contains("no labels"));
        assert!(err("data = 'mnist'\nhflip = true").contains("hflip"));
        assert!(err("data = 'mnist'\n[arch]\nnum_classes = 3").contains("10 classes"));
        assert!(TrainConfig::parse_toml("steps = = 3", "x.toml").unwrap_err().to_string().contains("x.toml"));
    }

    /// The cosine decay reads from TOML and flags' keys, is validated, and may be set on a
    /// resumed run only while it has not begun at the checkpoint's step.
    #[test]
    fn the_learning_rate_decay_may_change_only_before_it_begins() {
        let layer = |t: &str| TrainConfig::parse_toml(t, "test").unwrap();
        let base = TrainConfig::resolve(None, &[layer("data = 'moons'\nsteps = 1000\nlr = 1e-3\nwarmup = 10")]).unwrap();
        assert_eq!(base.lr_at(500), 1e-3);
        let decayed = TrainConfig::resolve(Some(&base), &[layer("steps = 2000\nlr_decay_from = 1500\nlr_min = 1e-5")]).unwrap();
        assert_eq!((decayed.lr_at(1499), decayed.lr_at(1500)), (1e-3, 1e-3));
        assert!((decayed.lr_at(2000) - 1e-5).abs() < 1e-18);
        // Set after 1000 steps, beginning at 1500: nothing taken changes.
        decayed.check_resumable_schedule(&base, 1000).unwrap();
        // Begun at the checkpoint: neither its start, its end rate nor `steps` may change.
        let moved = TrainConfig::resolve(Some(&decayed), &[layer("lr_decay_from = 1800")]).unwrap();
        assert!(moved.check_resumable_schedule(&decayed, 1600).unwrap_err().to_string().contains("lr_decay_from"));
        let longer = TrainConfig::resolve(Some(&decayed), &[layer("steps = 3000")]).unwrap();
        assert!(longer.check_resumable_schedule(&decayed, 1600).is_err());
        longer.check_resumable_schedule(&decayed, 1500).unwrap();
        decayed.check_resumable_schedule(&decayed, 1999).unwrap();
        // Validation.
        let err = |t: &str| TrainConfig::resolve(None, &[layer(t)]).unwrap_err().to_string();
        assert!(err("data = 'moons'\nsteps = 100\nlr_decay_from = 100").contains("lr_decay_from"));
        assert!(err("data = 'moons'\nlr = 1e-3\nlr_min = 1e-2").contains("lr_min"));
        assert!(err("data = 'moons'\nlr_min = -1.0").contains("lr_min"));
        assert!(TrainConfig::resolve(None, &[layer("data = 'moons'\nlr_min = 0.0")]).is_ok(), "an explicit 0 is a known key");
    }

    /// Each method carries its own keys, round-trips through TOML with only them, and refuses
    /// another method's; a config from before (every key at its old default) still reads.
    #[test]
    fn methods_carry_their_own_parameters() {
        let teacher = "[teacher]\nmodel = 't.safetensors'\n";
        let cases = [
            ("method = 'reflow'\npairs = 'p'\nanneal = 0.5\n", MethodConfig::Reflow { pairs: Some("p".into()), anneal: 0.5 }),
            ("method = 'caf-velocity'\npairs = 'p'\ncaf_h = 2.0\n", MethodConfig::CafVelocity { pairs: Some("p".into()), caf_h: 2.0 }),
            ("method = 'caf-acceleration'\npairs = 'p'\ninitial_velocity = 'v'\n[arch]\ncond_dim = 2\n", MethodConfig::CafAcceleration { pairs: Some("p".into()), caf_h: 1.5, initial_velocity: Some("v".into()) }),
            (&format!("method = 'perflow'\nwindows = 3\n{teacher}"), MethodConfig::Perflow { teacher: Some(TeacherConfig { model: "t.safetensors".into(), solver: Solver::Midpoint, steps: 2, guidance: 1.0 }), windows: 3 }),
        ];
        for (text, want) in cases {
            let c = TrainConfig::resolve(None, &[t(text)]).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c.method, want, "{text}");
            let again = TrainConfig::resolve(None, &[t(&c.to_toml().unwrap())]).unwrap();
            assert_eq!(again, c, "{text} round trip");
        }
        let rf = TrainConfig::resolve(None, &[]).unwrap().to_toml().unwrap();
        for key in ["caf_h", "windows", "anneal", "pairs", "teacher"] {
            assert!(!rf.contains(key), "rectified flow writes no `{key}`:\n{rf}");
        }
        let err = |s: &str| TrainConfig::resolve(None, &[t(s)]).unwrap_err().to_string();
        assert!(err("windows = 3").contains("`windows` does not apply to method rectified-flow"), "{}", err("windows = 3"));
        assert!(err("method = 'reflow'\npairs = 'p'\ncaf_h = 2.0").contains("`caf_h` does not apply to method reflow"));
        assert!(err("pairs = 'p'").contains("`pairs` does not apply"));
        assert!(err(&format!("method = 'reflow'\npairs = 'p'\n{teacher}")).contains("`teacher` does not apply to method reflow"));
        assert!(err("method = 'caf-acceleration'\npairs = 'p'\n[arch]\ncond_dim = 2").contains("initial_velocity"));
        assert!(err("method = 'perflow'").contains("teacher"));
        assert!(err("method = 'reflow'").contains("needs `pairs`"));
        assert!(err("method = 'reflow'\npairs = 'p'\nanneal = 2.0").contains("anneal"));
        assert!(err("method = 'caf-velocity'\npairs = 'p'\ncaf_h = -1.0").contains("caf_h"));
        // The flat layout every method shared before: old defaults where they do not apply.
        let old = "method = 'rectified-flow'\ncaf_h = 1.5\nwindows = 4\nanneal = 0.0\ndata = 'moons'\n";
        assert_eq!(TrainConfig::resolve(None, &[t(old)]).unwrap().method, MethodConfig::RectifiedFlow);
        let old_reflow = "method = 'reflow'\npairs = 'p'\ncaf_h = 1.5\nwindows = 4\nanneal = 0.25\n";
        assert_eq!(TrainConfig::resolve(None, &[t(old_reflow)]).unwrap().method, MethodConfig::Reflow { pairs: Some("p".into()), anneal: 0.25 });
    }

    /// The committed MNIST teacher (written before methods carried their own keys) still reads:
    /// its config.toml and its checkpoint's config, which a `--resume` starts from.
    #[test]
    fn the_committed_teacher_checkpoint_reads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../checkpoints/mnist-teacher-c16");
        let text = std::fs::read_to_string(dir.join("config.toml")).unwrap();
        let c = TrainConfig::resolve(None, &[t(&text)]).unwrap();
        assert_eq!((c.method.clone(), c.data.as_str()), (MethodConfig::RectifiedFlow, "mnist"));
        let meta = super::super::checkpoint::read_meta(&dir).unwrap().expect("a checkpoint");
        assert_eq!(meta.config, c);
        let resumed = TrainConfig::resolve(Some(&meta.config), &[t("steps = 30000")]).unwrap();
        assert_eq!(resumed.steps, 30000);
    }

    #[test]
    fn resume_may_change_only_some_keys() {
        let base = TrainConfig::resolve(None, &[t("steps = 100")]).unwrap();
        let more = TrainConfig::resolve(Some(&base), &[t("steps = 300\ncheckpoint_every = 7")]).unwrap();
        assert_eq!((more.steps, more.checkpoint_every, more.lr), (300, 7, base.lr));
        let e = TrainConfig::resolve(Some(&base), &[t("lr = 0.5")]).unwrap_err().to_string();
        assert!(e.contains("`lr` differs"), "{e}");
        // Data defaults do not apply on resume: the base is the checkpoint's config.
        let e = TrainConfig::resolve(Some(&base), &[t("data = 'moons'")]).unwrap_err().to_string();
        assert!(e.contains("`data` differs"), "{e}");
    }
}
