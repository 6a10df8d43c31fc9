//! 1-rectified flow from data: the training step, the loop around it, checkpoints and export.
//!
//! ## One step
//!
//! Step `s` (0-based) of a run with seed `seed`:
//!
//! 1. **Data** `x1`: 2D toys draw `batch` fresh points, `Toy::sample(seed_for(DATA, s), batch)`.
//!    Image sets read the images at positions `s·batch .. (s+1)·batch` of an endless sequence of
//!    epochs, each a Fisher–Yates permutation of the training set drawn from stream `epoch` of
//!    `seed_for(PERM)`. Pixels are scaled to [-1, 1]; with `hflip`, a sample is mirrored when
//!    its uniform from stream `s` of `seed_for(FLIP)` is below ½.
//! 2. **Noise** `x0`: [`gaussian_batch`] of `seed_for(NOISE)`, streams `s·batch + b` (the global
//!    sample number), so noise never repeats across steps.
//! 3. **Times** `t`: [`TimeDist::sample`] of `seed_for(TIME)`, stream `s`.
//! 4. **Labels** (class-conditional networks): the image's label, replaced by
//!    [`NULL_LABEL`] when uniform `b` of stream `s` of `seed_for(LABELS)` is below
//!    `label_dropout` (classifier-free guidance's unconditional branch).
//! 5. `x_t = t·x1 + (1 − t)·x0` and the target `x1 − x0`, on the host in f32.
//! 6. Forward with dropout masks from burn's RNG reseeded with `seed_for(DROPOUT, s)`.
//! 7. **Loss**: `l2` = mean of `(v − target)²` over every scalar; `pseudo-huber` = per sample
//!    `(√(‖v − target‖² + c²) − c)/d`, `c = 0.00054·d` ([`pseudo_huber_c`]; `d` = 784 and
//!    c ≈ 0.423 for MNIST, `d` = 2 and c = 0.00108 for points), then the batch mean.
//! 8. Backward; the global gradient norm `‖g‖` over all parameters; with `grad_clip` > 0 every
//!    gradient is multiplied by `min(1, grad_clip/(‖g‖ + 1e-6))`.
//! 9. AdamW (burn's, [`optim`](super::optim)) with `lr = config.lr_at(s)` (warmup, then an optional cosine decay).
//! 10. EMA: `ema ← d·ema + (1 − d)·θ` with `d = ema_decay(ema_decay, s)` (the RF code's
//!     `min(decay, (1 + s)/(10 + s))`); the EMA starts at the initial weights.
//!
//! `seed_for(purpose, s) = mix(mix(seed ^ mix(purpose)) ^ mix(s))` with the [`mix`] of
//! [`noise`](crate::noise). Initial weights come from
//! [`random_weights`](crate::nn::init::random_weights)`(arch, "velocity", seed_for(INIT))`
//! (PyTorch's default uniform(±1/√fan_in) for linears and convs, class embeddings 0.5·N(0, 1)),
//! with GroupNorm reset to weight 1, bias 0. Nothing is drawn from a process-wide generator
//! except the dropout masks, which are reseeded every step, so step `s` is a pure function of
//! (config, weights, AdamW state, EMA, `s`): a run resumed from a checkpoint repeats the
//! uninterrupted run bit for bit on the same backend and machine (a test kills a run and checks
//! it). On wgpu, autotuning may pick other kernels in another process; resumed runs are then
//! equal only to rounding.
//!
//! ## The loop ([`run`])
//!
//! Writes into the output folder `config.toml` (the resolved config),
//! [`metrics.jsonl`](super::metrics), [`checkpoint.safetensors`](super::checkpoint) every
//! `checkpoint_every` steps and at the end, and `model.safetensors`: the EMA weights as a Beeline
//! model file with provenance and the recommended sampler (Euler, `sample_steps` steps), at the
//! end and, with `export_at_checkpoints`, at every checkpoint (`model-raw.safetensors` holds the
//! raw weights with `export_raw`). Every file is replaced atomically.

use super::checkpoint::{Checkpoint, CheckpointMeta, ParamMeta, CHECKPOINT_VERSION};
use super::config::{DataKind, Loss, Method, MethodConfig, TrainConfig};
use super::device::{select_device, DeviceChoice, SelectedDevice};
use super::metrics::{MetricsLog, MetricsRecord};
use super::frozen::{velocity_weights, Frozen};
use super::modules::{class_rows, Net};
use super::optim::{adamw_step, ema_update, flat_params, global_grad_norm, param_infos, set_params, to_host, Moments, ParamInfo};
use crate::config::{ArchConfig, ModelConfig, NetRole, Parameterization, Provenance, SamplerDefaults, Solver, TimeGrid};
use crate::data::images::{ImageSet, Split};
use crate::data::toys::Toy;
use crate::error::{Error, Result};
use crate::pairs::{PairDirection, PairSet};
use crate::field::{ConditionalField, NULL_LABEL};
use crate::modelfile::ModelFile;
use crate::sampling::{run as run_plan, Guided, SamplerSpec};
use crate::weights::Weights;
use crate::noise::{gaussian_batch, mix, permutation, Stream};
use crate::presets;
use crate::recipe::schedule::ema_decay;
use crate::recipe::time_dist::{pseudo_huber_c, TimeDist};
use burn::optim::{AdamW, AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Purposes of the random streams (see [`seed_for`]).
pub mod purpose {
    /// Initial weights.
    pub const INIT: u64 = 1;
    /// 2D toy samples.
    pub const DATA: u64 = 2;
    /// Epoch permutations of image sets.
    pub const PERM: u64 = 3;
    /// Noise x0.
    pub const NOISE: u64 = 4;
    /// Times t.
    pub const TIME: u64 = 5;
    /// Label dropout.
    pub const LABELS: u64 = 6;
    /// Dropout masks.
    pub const DROPOUT: u64 = 7;
    /// Horizontal flips.
    pub const FLIP: u64 = 8;
    /// SlimFlow's annealing noise ε.
    pub const ANNEAL: u64 = 9;
    /// The fresh noise of flow-guided distillation's 2-step regulariser.
    pub const FGD_NOISE: u64 = 10;
    /// The time t' of flow-guided distillation's 2-step regulariser.
    pub const FGD_TIME: u64 = 11;
}

/// The seed of random stream family `purpose` at step `step` of a run seeded `seed`.
pub fn seed_for(seed: u64, purpose: u64, step: u64) -> u64 {
    mix(mix(seed ^ mix(purpose)) ^ mix(step))
}

/// The model file name of the EMA weights.
pub const MODEL_FILE: &str = "model.safetensors";
/// The folder of `snapshot_every`'s EMA models, `model-STEP.safetensors` (7 digits).
pub const SNAPSHOT_DIR: &str = "snapshots";

/// The model file name of the raw weights (`export_raw`).
pub const RAW_MODEL_FILE: &str = "model-raw.safetensors";
/// The resolved config, written at the start of a run.
pub const CONFIG_FILE: &str = "config.toml";

/// The training data in memory.
pub enum Data {
    /// A 2D toy (drawn fresh every step).
    Toy(Toy),
    /// An image set.
    Images(ImageSet),
    /// A teacher's couplings (reflow and distill).
    Pairs(PairSet),
}

impl Data {
    /// Loads what `config` names (image sets from `config.data_dir()`, pairs from
    /// `config.pairs`), checking that pairs fit the config's data and network.
    pub fn load(config: &TrainConfig) -> Result<Data> {
        if let Some(dir) = config.method.pairs() {
            let set = PairSet::load(dir)?;
            let s = &set.spec;
            let bad = |m: String| Err(Error::InvalidInput(format!("{}: {m}", dir.display())));
            if s.data != config.data {
                return bad(format!("the pairs are of {:?} data, the config trains on {:?}", s.data, config.data));
            }
            if s.shape != config.arch.sample_shape() {
                return bad(format!("the pairs' samples have shape {:?}, the network's {:?}", s.shape, config.arch.sample_shape()));
            }
            if config.arch.num_classes() > 0 && s.num_classes != config.arch.num_classes() {
                return bad(format!("the pairs have {} classes, the network {}", s.num_classes, config.arch.num_classes()));
            }
            return Ok(Data::Pairs(set));
        }
        Ok(match config.data_kind()? {
            DataKind::Toy(t) => Data::Toy(t),
            DataKind::Images(d) => Data::Images(ImageSet::load(d, Split::Train, &config.data_dir())?),
        })
    }

    /// A short description for provenance, e.g. `mnist (train, 60000 images)`.
    pub fn describe(&self) -> String {
        match self {
            Data::Toy(t) => format!("{} (2D, drawn fresh every step)", t.name()),
            Data::Images(s) => format!("{} (train, {} images)", s.dataset.name(), s.n),
            Data::Pairs(p) => {
                let s = &p.spec;
                format!(
                    "{} {} pairs of {} from teacher {} (digest {}; {:?}, {} steps, guidance {}, seed {})",
                    s.num_pairs,
                    match s.direction {
                        PairDirection::NoiseToData => "noise-to-data",
                        PairDirection::DataToNoise => "data-to-noise",
                    },
                    s.data,
                    s.teacher,
                    s.teacher_digest,
                    s.sampler.solver,
                    s.sampler.steps,
                    s.sampler.guidance,
                    s.seed
                )
            }
        }
    }
}

/// One step's batch on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// `x_t`, `[batch, numel]`.
    pub xt: Vec<f32>,
    /// The regression target, `[batch, numel]`: `x1 − x0` (rectified flow, reflow, distill),
    /// `h·(x1 − x0)` (CAF stage 1) or `2(x1 − x0) − 2v̂0` (CAF stage 2).
    pub target: Vec<f32>,
    /// The network's conditioning input, `[batch, numel]`: CAF stage 2's `v̂0`, else `None`.
    pub cond: Option<Vec<f32>>,
    /// Times.
    pub t: Vec<f32>,
    /// Labels after label dropout (`None` for unconditional networks).
    pub labels: Option<Vec<u32>>,
}

/// What one step returns, on the device (read them back only when logging).
pub struct StepOutput {
    /// The loss, `[1]`.
    pub loss: Tensor<1>,
    /// The global gradient norm before clipping, `[1]`.
    pub grad_norm: Tensor<1>,
    /// The learning rate used.
    pub lr: f64,
}

/// A training run in memory: network, EMA, AdamW state and the step counter.
pub struct Trainer {
    config: TrainConfig,
    time_dist: TimeDist,
    data: Data,
    device: Device,
    model: Net,
    ema: Vec<Tensor<1>>,
    moments: Vec<Option<Moments>>,
    infos: Vec<ParamInfo>,
    adam: AdamW,
    step: u64,
    perm: Option<(u64, Vec<u32>)>,
    /// CAF stage 2: the frozen stage-1 network and the v̂0 of every pair.
    caf: Option<InitialVelocity>,
    /// PeRFlow's and flow-guided distillation's teacher, frozen on the training device.
    teacher: Option<Frozen>,
}

/// CAF stage 2's frozen stage-1 network, read once per run: exported beside the acceleration
/// network, and the source of every pair's `v̂0`.
struct InitialVelocity {
    /// The stage-1 network, frozen on the training device.
    net: Frozen,
    /// `v̂0 = v(x0, 0)` of every pair, `[num_pairs, numel]`.
    v0hat: Vec<f32>,
}

/// `weights` of `from` (bare names) made to fit `to`, which may take CAF's conditioning input
/// where `from` does not: the input layer (`input.weight` `[hidden, dim]` of an MLP,
/// `conv_in.weight` `[C, channels, 3, 3]` of a UNet) gets zero columns for the extra inputs, so
/// the widened network computes exactly what `from` did whatever the conditioning (the CAF
/// paper initialises the acceleration network from the initial-velocity network).
fn widen_input(from: &ArchConfig, weights: &Weights, to: &ArchConfig) -> Result<Weights> {
    if from.with_cond(false) != to.with_cond(false) || from.cond_numel() > to.cond_numel() {
        return Err(Error::InvalidInput("its network is not the configured `arch` (leave `arch` unset to take the init model's)".into()));
    }
    let mut out = Weights::default();
    for spec in to.params() {
        let t = weights.tensors.get(&spec.name).ok_or_else(|| Error::MissingTensor(spec.name.clone()))?;
        let data = if t.shape == spec.shape {
            t.data.clone()
        } else {
            // Only dim 1 (inputs) may grow; the new inputs come last (concat[x, cond]).
            let (old, new) = (t.shape[1], spec.shape[1]);
            let inner: usize = spec.shape[2..].iter().product();
            let same_rest = t.shape.len() == spec.shape.len() && t.shape[0] == spec.shape[0] && t.shape[2..] == spec.shape[2..];
            if !same_rest || old > new {
                return Err(Error::WrongShape { name: spec.name.clone(), expected: spec.shape.clone(), found: t.shape.clone() });
            }
            let mut d = vec![0.0f32; spec.shape.iter().product()];
            for o in 0..spec.shape[0] {
                d[o * new * inner..(o * new + old) * inner].copy_from_slice(&t.data[o * old * inner..(o + 1) * old * inner]);
            }
            d
        };
        out.insert(spec.name.clone(), spec.shape.clone(), data)?;
    }
    Ok(out)
}

/// The initial weights: the `init` model file's velocity network (widened with zero weights
/// for CAF's conditioning input when the configured network takes one), else
/// `random_weights` with GroupNorm reset to 1/0.
fn initial_net(config: &TrainConfig, device: &Device) -> Result<Net> {
    if let Some(path) = &config.init {
        let (_, arch, weights) = velocity_weights(path, "init")?;
        let weights = widen_input(&arch, &weights, &config.arch).map_err(|e| Error::InvalidInput(format!("init {}: {e}", path.display())))?;
        return Net::from_weights(&config.arch, &weights, "", config.dropout, device);
    }
    let mut w = crate::nn::init::random_weights(&config.arch, "", seed_for(config.seed, purpose::INIT, 0));
    for (name, t) in w.tensors.iter_mut() {
        let mut parts = name.rsplit('.');
        let (kind, layer) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if layer.starts_with("norm") {
            let v = if kind == "weight" { 1.0 } else { 0.0 };
            t.data.iter_mut().for_each(|x| *x = v);
        }
    }
    Net::from_weights(&config.arch, &w, "", config.dropout, device)
}

fn upload(values: &[Vec<f32>], device: &Device) -> Vec<Tensor<1>> {
    values.iter().map(|v| Tensor::from_data(TensorData::new(v.clone(), [v.len()]), device)).collect()
}

impl Trainer {
    /// A fresh run of `config` on `device` (an autodiff device: `select_device(..).device.autodiff()`).
    pub fn new(config: TrainConfig, data: Data, device: Device) -> Result<Trainer> {
        config.validate()?;
        let model = initial_net(&config, &device)?;
        let ema = flat_params(&model);
        let infos = param_infos(&model);
        let moments = vec![None; infos.len()];
        Self::assemble(config, data, device, model, ema, moments, 0)
    }

    /// The run saved in `ckpt`, continued with `config` (which may differ from the checkpoint's
    /// only in [`RESUMABLE_KEYS`](super::config::RESUMABLE_KEYS)).
    pub fn resume(ckpt: &Checkpoint, config: TrainConfig, data: Data, device: Device) -> Result<Trainer> {
        config.validate()?;
        // Refuses a config that differs from the checkpoint's beyond the resumable keys.
        TrainConfig::resolve(Some(&ckpt.meta.config), &[toml_of(&config)?])?;
        config.check_resumable_schedule(&ckpt.meta.config, ckpt.meta.step)?;
        let inner = device.clone().inner();
        let model = Net::new(&config.arch, config.dropout, &device)?;
        let infos = param_infos(&model);
        if infos != ckpt.param_infos() {
            return Err(Error::InvalidInput("checkpoint: its parameters are not those of the configured network".into()));
        }
        let model = set_params(model, upload(&ckpt.model, &inner));
        let ema = upload(&ckpt.ema, &inner);
        let moments = ckpt
            .moments
            .iter()
            .zip(&ckpt.meta.params)
            .map(|(m, p)| {
                m.as_ref().map(|(m1, m2)| Moments {
                    time: p.adam_time,
                    m1: Tensor::from_data(TensorData::new(m1.clone(), [m1.len()]), &inner),
                    m2: Tensor::from_data(TensorData::new(m2.clone(), [m2.len()]), &inner),
                })
            })
            .collect();
        Self::assemble(config, data, device, model, ema, moments, ckpt.meta.step)
    }

    fn assemble(config: TrainConfig, data: Data, device: Device, model: Net, ema: Vec<Tensor<1>>, moments: Vec<Option<Moments>>, step: u64) -> Result<Trainer> {
        let adam = AdamWConfig::new()
            .with_beta_1(config.beta1 as f32)
            .with_beta_2(config.beta2 as f32)
            .with_epsilon(config.eps as f32)
            .with_weight_decay(config.weight_decay as f32)
            .build();
        let infos = param_infos(&model);
        let caf = match (config.method.initial_velocity(), &data) {
            (Some(path), Data::Pairs(set)) => {
                let (_, mut net) = Frozen::velocity_of(path, "initial_velocity", &device.clone().inner())?;
                if net.arch() != config.arch.with_cond(false) {
                    return Err(Error::InvalidInput(format!(
                        "initial_velocity {}: the acceleration network must be its network with a conditioning input (leave `arch` unset)",
                        path.display()
                    )));
                }
                let v0hat = initial_velocities(&mut net, set)?;
                Some(InitialVelocity { net, v0hat })
            }
            (Some(_), _) => return Err(Error::InvalidInput("caf-acceleration trains on pairs".into())),
            (None, _) => None,
        };
        let teacher = match config.method.teacher() {
            Some(tc) => Some(load_teacher(&tc.model, &config, &device.clone().inner())?),
            None => None,
        };
        Ok(Trainer { time_dist: config.time_distribution()?, config, data, device, model, ema, moments, infos, adam, step, perm: None, caf, teacher })
    }

    /// Steps done.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The config.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The trained network (on the autodiff device).
    pub fn model(&self) -> &Net {
        &self.model
    }

    /// The trained weights as a network without autodiff (dropout off).
    pub fn raw_net(&self) -> Net {
        use burn::module::Module;
        self.model.valid()
    }

    /// The EMA weights as a network without autodiff.
    pub fn ema_net(&self) -> Net {
        set_params(self.raw_net(), self.ema.clone())
    }

    /// Scalars per sample.
    fn numel(&self) -> usize {
        self.config.arch.sample_shape().iter().product()
    }

    /// The data positions of step `step`'s samples: an endless sequence of epochs over `size`
    /// items, each a permutation from stream `epoch` of `seed_for(PERM)`.
    fn indices(&mut self, step: u64, size: usize) -> Vec<usize> {
        let b = self.config.batch as u64;
        (0..b)
            .map(|k| {
                let pos = step * b + k;
                let epoch = pos / size as u64;
                if self.perm.as_ref().is_none_or(|(e, _)| *e != epoch) {
                    self.perm = Some((epoch, permutation(&Stream::new(seed_for(self.config.seed, purpose::PERM, 0), epoch), size)));
                }
                self.perm.as_ref().expect("just set").1[(pos % size as u64) as usize] as usize
            })
            .collect()
    }

    /// The batch of step `step` (a pure function of the config and `step`). Errors only from
    /// PeRFlow's teacher solve.
    pub fn batch(&mut self, step: u64) -> Result<Batch> {
        let (b, n, seed) = (self.config.batch, self.numel(), self.config.seed);
        let mut x0 = None;
        let mut cond = None;
        let (x1, labels) = match &self.data {
            Data::Toy(t) => (t.sample(seed_for(seed, purpose::DATA, step), b), None),
            Data::Pairs(set) => {
                let idx = self.indices(step, set.pairs.len());
                let Data::Pairs(set) = &self.data else { unreachable!() };
                let p = &set.pairs;
                let rows = |src: &[f32]| idx.iter().flat_map(|&i| src[i * n..(i + 1) * n].iter().copied()).collect::<Vec<f32>>();
                let (mut z, mut a) = (rows(&p.x0), rows(&p.x1));
                cond = self.caf.as_ref().map(|c| rows(&c.v0hat));
                // SlimFlow: flip the whole batch's pairs together with probability ½ …
                let shape = self.config.arch.sample_shape();
                if self.config.hflip && Stream::new(seed_for(seed, purpose::FLIP, 0), step).uniform(0) < 0.5 {
                    z.chunks_mut(shape[shape.len() - 1]).for_each(|r| r.reverse());
                    a.chunks_mut(shape[shape.len() - 1]).for_each(|r| r.reverse());
                }
                // … and anneal the noise: √(1 − β²)·z0 + β·ε, β falling from 1 to 0.
                let beta = anneal_beta(self.config.method.anneal(), self.config.steps, step);
                if beta > 0.0 {
                    let eps = gaussian_batch(seed_for(seed, purpose::ANNEAL, 0), step * b as u64, b, n);
                    let keep = (1.0 - beta * beta).sqrt() as f32;
                    z.iter_mut().zip(&eps).for_each(|(z, e)| *z = keep * *z + beta as f32 * e);
                }
                x0 = Some(z);
                (a, Some(idx.iter().map(|&i| p.labels[i]).collect()))
            }
            Data::Images(set) => {
                let idx = self.indices(step, set.n);
                let Data::Images(set) = &self.data else { unreachable!() };
                let mut x1 = vec![0.0f32; b * n];
                let flips = Stream::new(seed_for(seed, purpose::FLIP, 0), step);
                let w = set.shape[2];
                for (k, (&i, row)) in idx.iter().zip(x1.chunks_mut(n)).enumerate() {
                    set.image_f32(i, row);
                    if self.config.hflip && flips.uniform(k as u64) < 0.5 {
                        row.chunks_mut(w).for_each(|r| r.reverse());
                    }
                }
                let labels: Vec<u32> = idx.iter().map(|&i| set.labels[i] as u32).collect();
                (x1, Some(labels))
            }
        };
        let x0 = x0.unwrap_or_else(|| gaussian_batch(seed_for(seed, purpose::NOISE, 0), step * b as u64, b, n));
        let t: Vec<f32> = self.time_dist.sample(seed_for(seed, purpose::TIME, 0), step, b).into_iter().map(|v| v as f32).collect();
        let labels = if self.config.arch.num_classes() > 0 {
            let drop = Stream::new(seed_for(seed, purpose::LABELS, 0), step);
            let mut l = labels.unwrap_or_else(|| vec![NULL_LABEL; b]);
            for (k, v) in l.iter_mut().enumerate() {
                if drop.uniform(k as u64) < self.config.label_dropout {
                    *v = NULL_LABEL;
                }
            }
            Some(l)
        } else {
            None
        };
        if self.config.method.kind() == Method::Perflow {
            return self.perflow_batch(x0, x1, t, labels);
        }
        let mut xt = vec![0.0f32; b * n];
        let mut target = vec![0.0f32; b * n];
        let h = self.config.method.caf_h().unwrap_or(1.0) as f32;
        for k in 0..b {
            let t = t[k];
            for e in k * n..(k + 1) * n {
                let d = x1[e] - x0[e];
                (xt[e], target[e]) = match (self.config.method.kind(), &cond) {
                    (Method::CafVelocity, _) => {
                        let v0 = h * d;
                        ((1.0 - t * t) * x0[e] + t * t * x1[e] + v0 * (t - t * t), v0)
                    }
                    (Method::CafAcceleration, Some(v0hat)) => {
                        let a = 2.0 * (d - v0hat[e]);
                        (x0[e] + v0hat[e] * t + 0.5 * a * t * t, a)
                    }
                    _ => (t * x1[e] + (1.0 - t) * x0[e], d),
                };
            }
        }
        Ok(Batch { xt, target, cond, t, labels })
    }

    /// PeRFlow's batch from data `x1`, noise `x0`, times `t` and the student's labels (see
    /// [`Method::Perflow`]): sample `k` lies in window `w = ⌊t·K⌋` = `[t_s, t_e)`; its window
    /// start is `z_s = t_s·x1 + (1 − t_s)·x0` (real data noised to `t_s`), its window end `z_e`
    /// the teacher's solve from `z_s` over `[t_s, t_e]` with the same labels (null labels for
    /// dropped ones, so a guided teacher gives the unconditional branch there), and
    /// `x_t = z_s + (t − t_s)/(t_e − t_s)·(z_e − z_s)`, target `(z_e − z_s)/(t_e − t_s)`.
    fn perflow_batch(&mut self, x0: Vec<f32>, x1: Vec<f32>, t: Vec<f32>, labels: Option<Vec<u32>>) -> Result<Batch> {
        let (b, n, k_windows) = (self.config.batch, self.numel(), self.config.method.windows().unwrap_or(1));
        let tc = self.config.method.teacher().cloned().ok_or_else(|| Error::InvalidInput("perflow needs a teacher".into()))?;
        let teacher = self.teacher.as_mut().ok_or_else(|| Error::InvalidInput("perflow: the teacher is not loaded".into()))?;
        let window = |t: f32| ((t as f64 * k_windows as f64).floor() as usize).min(k_windows - 1);
        let bounds = |w: usize| (w as f64 / k_windows as f64, (w + 1) as f64 / k_windows as f64);
        let all_labels = labels.clone().unwrap_or_else(|| vec![NULL_LABEL; b]);
        let mut zs = vec![0.0f32; b * n];
        let mut ze = vec![0.0f32; b * n];
        for w in 0..k_windows {
            let members: Vec<usize> = (0..b).filter(|&k| window(t[k]) == w).collect();
            if members.is_empty() {
                continue;
            }
            let (ts, te) = bounds(w);
            let mut start = Vec::with_capacity(members.len() * n);
            for &k in &members {
                let r = k * n..(k + 1) * n;
                start.extend(x1[r.clone()].iter().zip(&x0[r]).map(|(a, z)| ts as f32 * a + (1.0 - ts as f32) * z));
            }
            let plan = SamplerSpec::new(tc.solver, tc.steps as usize).plan_between(ts, te)?;
            let member_labels = members.iter().map(|&k| all_labels[k]).collect();
            let mut guided = Guided::new(&mut *teacher, member_labels, tc.guidance)?;
            let end = run_plan(&plan, &mut guided, &start, None)?;
            for (j, &k) in members.iter().enumerate() {
                zs[k * n..(k + 1) * n].copy_from_slice(&start[j * n..(j + 1) * n]);
                ze[k * n..(k + 1) * n].copy_from_slice(&end[j * n..(j + 1) * n]);
            }
        }
        let mut xt = vec![0.0f32; b * n];
        let mut target = vec![0.0f32; b * n];
        for (k, &tk) in t.iter().enumerate() {
            let (ts, te) = bounds(window(tk));
            let (frac, inv) = (((tk as f64 - ts) / (te - ts)) as f32, (1.0 / (te - ts)) as f32);
            for e in k * n..(k + 1) * n {
                let d = ze[e] - zs[e];
                xt[e] = zs[e] + frac * d;
                target[e] = inv * d;
            }
        }
        Ok(Batch { xt, target, cond: None, t, labels })
    }

    /// One optimiser step (see the module docs).
    pub fn step(&mut self) -> Result<StepOutput> {
        let s = self.step;
        let c = &self.config;
        let (b, n) = (c.batch, self.numel());
        let batch = self.batch(s)?;
        let c = &self.config;
        let dev = &self.device;
        if c.dropout > 0.0 {
            dev.seed(seed_for(c.seed, purpose::DROPOUT, s));
        }
        let x = Tensor::<2>::from_data(TensorData::new(batch.xt, [b, n]), dev);
        let target = Tensor::<2>::from_data(TensorData::new(batch.target, [b, n]), dev);
        let cond = batch.cond.map(|v| Tensor::<2>::from_data(TensorData::new(v, [b, n]), dev));
        let features = self.model.time_features(&batch.t, dev);
        let labels = match &batch.labels {
            Some(l) => Some(class_rows(l, c.arch.num_classes(), dev)?),
            None => None,
        };
        let diff = self.model.forward_flat(x, cond, features, labels.clone()) - target;
        let mut loss = loss_of(diff, c.loss, c.loss_normalization);
        if c.method.kind() == Method::Distill && c.method.teacher().is_some() {
            let batch_labels = batch.labels.clone().unwrap_or_else(|| vec![NULL_LABEL; b]);
            loss = loss + self.two_step_regulariser(s, batch_labels, labels)?;
        }
        let c = &self.config;
        let loss_value = loss.clone().inner();
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let norm = global_grad_norm(&self.model, &grads).ok_or_else(|| Error::InvalidInput("no parameter received a gradient".into()))?;
        let scale = (c.grad_clip > 0.0).then(|| norm.clone().add_scalar(1e-6).recip().mul_scalar(c.grad_clip).clamp_max(1.0));
        let lr = c.lr_at(s);
        let decay = ema_decay(c.ema_decay, s);
        let model = adamw_step(&self.adam, self.model.clone(), lr, &mut grads, scale, &mut self.moments);
        self.model = model;
        ema_update(&mut self.ema, &self.model, decay);
        self.step += 1;
        Ok(StepOutput { loss: loss_value, grad_norm: norm, lr })
    }

    /// SlimFlow's 2-step regulariser of flow-guided distillation at step `s`: for fresh noise
    /// ε, the student's one-step velocity `u = v(ε, 0)` (with gradient); without gradient,
    /// `x_t' = ε + t'·u` and the teacher's estimate `x̂1 = x_t' + (1 − t')·v_T(x_t', t')`; the
    /// loss between `ε + u` and `x̂1`. SlimFlow's code draws t' ~ U(0.2, 0.8) per sample; here
    /// one t' per step (one teacher evaluation per step, frozen on the training device).
    fn two_step_regulariser(&mut self, s: u64, host_labels: Vec<u32>, labels: Option<Tensor<1, Int>>) -> Result<Tensor<1>> {
        let (b, n, seed) = (self.config.batch, self.numel(), self.config.seed);
        let tc = self.config.method.teacher().cloned().ok_or_else(|| Error::InvalidInput("flow-guided distillation needs a teacher".into()))?;
        let dev = &self.device;
        let eps = gaussian_batch(seed_for(seed, purpose::FGD_NOISE, 0), s * b as u64, b, n);
        let tp = 0.2 + 0.6 * Stream::new(seed_for(seed, purpose::FGD_TIME, 0), s).uniform(0);
        let eps_t = Tensor::<2>::from_data(TensorData::new(eps, [b, n]), dev);
        let u = self.model.forward_flat(eps_t.clone(), None, self.model.time_features(&vec![0.0; b], dev), labels);
        // Without gradient, on the device: x_t' = ε + t'·u and x̂1 = x_t' + (1 − t')·v_T(x_t', t').
        let teacher = self.teacher.as_ref().ok_or_else(|| Error::InvalidInput("the teacher is not loaded".into()))?;
        let x_tp = eps_t.clone().inner() + u.clone().inner().mul_scalar(tp);
        let v = teacher.guided(x_tp.clone(), None, tp as f32, &host_labels, tc.guidance)?;
        let x1_hat = Tensor::<2>::from_inner(x_tp + v.mul_scalar(1.0 - tp));
        Ok(loss_of(eps_t + u - x1_hat, self.config.loss, self.config.loss_normalization))
    }

    /// The run's state as a checkpoint (reads every tensor back to the host).
    pub fn checkpoint(&self, elapsed_s: f64) -> Checkpoint {
        let moments: Vec<Option<(Vec<f32>, Vec<f32>)>> =
            self.moments.iter().map(|m| m.as_ref().map(|m| (to_host(std::slice::from_ref(&m.m1)).remove(0), to_host(std::slice::from_ref(&m.m2)).remove(0)))).collect();
        let params = self
            .infos
            .iter()
            .zip(&self.moments)
            .map(|(p, m)| ParamMeta { path: p.path.clone(), shape: p.shape.clone(), adam_time: m.as_ref().map_or(0, |m| m.time) })
            .collect();
        Checkpoint {
            meta: CheckpointMeta { version: CHECKPOINT_VERSION, step: self.step, elapsed_s, config: self.config.clone(), params },
            model: to_host(&flat_params(&self.model)),
            ema: to_host(&self.ema),
            moments,
        }
    }

    /// The model file of `net` (the EMA or the raw weights) with provenance.
    pub fn model_file(&self, net: &Net, weights: &str, command: &str) -> Result<ModelFile> {
        let c = &self.config;
        let (data, classes) = match c.data_kind()? {
            DataKind::Toy(t) => (presets::points2d(t.name(), t.half_width()), Vec::new()),
            DataKind::Images(d) => {
                let classes = if c.arch.num_classes() > 0 { d.classes() } else { Vec::new() };
                let shape = c.arch.sample_shape();
                (presets::images(d.name(), shape[0], shape[2]), classes)
            }
        };
        let mut config: ModelConfig = presets::velocity_model(c.arch.clone(), data, classes, presets::euler(c.sample_steps));
        let mut notes = std::collections::BTreeMap::new();
        let method = match &c.method {
            MethodConfig::RectifiedFlow => "1-rectified flow (beeline train)".to_string(),
            MethodConfig::Reflow { .. } => "reflow: rectified flow on a teacher's couplings (beeline reflow)".to_string(),
            MethodConfig::Distill { .. } => "one-step distillation at t = 0 on a teacher's couplings (beeline distill)".to_string(),
            MethodConfig::CafVelocity { caf_h, .. } => format!(
                "Constant Acceleration Flow stage 1 (beeline caf): the initial-velocity network, predicting h·(x1 − x0) with h = {caf_h}; not a sampler on its own, see the stage-2 model"
            ),
            MethodConfig::CafAcceleration { caf_h, .. } => format!("Constant Acceleration Flow (beeline caf), h = {caf_h}: initial-velocity and acceleration networks"),
            MethodConfig::Perflow { windows, .. } => format!("PeRFlow (beeline perflow): {windows} windows straightened piecewise on real data noised to each window's start"),
        };
        if let Some(tc) = c.method.teacher() {
            notes.insert("teacher".into(), format!("{} ({:?}, {} steps per window, guidance {})", tc.model.display(), tc.solver, tc.steps, tc.guidance));
        }
        notes.insert("method".into(), method);
        if let Some(path) = c.method.initial_velocity() {
            notes.insert("initial_velocity".into(), path.display().to_string());
        }
        if let Some(p) = &c.init {
            notes.insert("init".into(), p.display().to_string());
        }
        notes.insert("weights".into(), weights.into());
        notes.insert("seed".into(), c.seed.to_string());
        notes.insert("time_dist".into(), c.time_dist.clone());
        let loss = match c.loss {
            Loss::L2 => "l2".to_string(),
            Loss::PseudoHuber => format!("pseudo-huber, c = 0.00054·d = {}", pseudo_huber_c(self.numel())),
        };
        notes.insert("loss".into(), loss);
        notes.insert(
            "optimizer".into(),
            format!("AdamW lr {} warmup {} batch {} betas ({}, {}) eps {} weight_decay {} grad_clip {}", c.lr, c.warmup, c.batch, c.beta1, c.beta2, c.eps, c.weight_decay, c.grad_clip),
        );
        notes.insert("ema_decay".into(), c.ema_decay.to_string());
        notes.insert("dropout".into(), c.dropout.to_string());
        if c.arch.num_classes() > 0 {
            notes.insert("label_dropout".into(), c.label_dropout.to_string());
        }
        if c.loss_normalization {
            notes.insert("loss_normalization".into(), "per sample, 1/sg[loss] (Simple ReFlow)".into());
        }
        config.provenance = Provenance { command: command.to_string(), data: self.data.describe(), steps: self.step, notes };
        match self.caf.as_ref().map(|c| c.net.net()) {
            Some(v) => {
                let velocity = config.networks.remove(&NetRole::Velocity).expect("velocity_model has one network");
                config.networks.insert(NetRole::InitialVelocity, v.arch());
                config.networks.insert(NetRole::Acceleration, velocity);
                config.parameterization = Parameterization::Caf { h: c.method.caf_h().unwrap_or(1.0) as f32 };
                config.sampler = SamplerDefaults { solver: Solver::Caf, steps: c.sample_steps, guidance: 1.0, time_grid: TimeGrid::Uniform };
                super::export(&[(NetRole::InitialVelocity, v), (NetRole::Acceleration, net)], config)
            }
            None => {
                if let Some(windows) = c.method.windows() {
                    config.parameterization = Parameterization::Perflow { windows };
                    config.sampler = SamplerDefaults { solver: Solver::Perflow, steps: c.sample_steps, guidance: 1.0, time_grid: TimeGrid::Uniform };
                }
                super::export(&[(NetRole::Velocity, net)], config)
            }
        }
    }
}

/// The loss of the prediction error `diff` `[B, d]` (prediction − target), `[1]`, the batch
/// mean of a per-sample loss `ℓ_i`: `l2` is the mean of `diff²` over the sample's scalars (so
/// the mean over every scalar of the batch); `pseudo-huber` is `(√(‖diff‖² + c²) − c)/d` with
/// `c = 0.00054·d` ([`pseudo_huber_c`]). With `normalize` (Simple ReFlow) each `ℓ_i` is
/// divided by `sg[ℓ_i] + 1e-3`: the value is ≈ 1 per sample and the gradient of sample `i` is
/// its plain gradient over its own loss.
pub fn loss_of(diff: Tensor<2>, loss: Loss, normalize: bool) -> Tensor<1> {
    let d = diff.dims()[1];
    let per_sample: Tensor<1> = match loss {
        Loss::L2 => diff.square().mean_dim(1),
        Loss::PseudoHuber => {
            let c = pseudo_huber_c(d);
            diff.square().sum_dim(1).add_scalar(c * c).sqrt().sub_scalar(c).div_scalar(d as f64)
        }
    }
    .squeeze_dim(1);
    let per_sample = if normalize { per_sample.clone() / per_sample.detach().add_scalar(1e-3) } else { per_sample };
    per_sample.mean()
}

/// SlimFlow's annealing coefficient at `step`: `β = 1 − min(1, step/(anneal·steps))`, and 0 when
/// `anneal` is 0 (plain reflow).
pub fn anneal_beta(anneal: f64, steps: u64, step: u64) -> f64 {
    if anneal <= 0.0 {
        return 0.0;
    }
    1.0 - (step as f64 / (anneal * steps as f64)).min(1.0)
}

/// The teacher model file at `path`, frozen on `device` (without autodiff), checked to be a
/// velocity model of the configured network's samples and classes.
fn load_teacher(path: &Path, config: &TrainConfig, device: &Device) -> Result<Frozen> {
    let (mc, teacher) = Frozen::velocity_of(path, "teacher", device)?;
    let bad = |m: String| Err(Error::InvalidInput(format!("teacher {}: {m}", path.display())));
    if !matches!(mc.parameterization, Parameterization::Velocity | Parameterization::Perflow { .. }) {
        return bad("a teacher must be a velocity model (rectified flow, reflow, …)".into());
    }
    if mc.data.shape != config.arch.sample_shape() {
        return bad(format!("its samples have shape {:?}, the network's {:?}", mc.data.shape, config.arch.sample_shape()));
    }
    let classes = config.arch.num_classes();
    if classes > 0 && mc.classes.len() != classes {
        return bad(format!("it has {} classes, the network {classes}", mc.classes.len()));
    }
    Ok(teacher)
}

/// CAF stage 2's `v̂0 = v(x0, 0)` for every pair, `[num_pairs, numel]`: the frozen stage-1
/// network on the training device, 256 pairs per evaluation, with the pairs' labels.
fn initial_velocities(net: &mut Frozen, set: &PairSet) -> Result<Vec<f32>> {
    let p = &set.pairs;
    let n = net.sample_numel();
    let mut out = vec![0.0f32; p.x0.len()];
    const CHUNK: usize = 256;
    for (k, (x0, dst)) in p.x0.chunks(CHUNK * n).zip(out.chunks_mut(CHUNK * n)).enumerate() {
        let m = x0.len() / n;
        let labels = p.labels.get(k * CHUNK..k * CHUNK + m).unwrap_or(&[]);
        net.eval_labels(NetRole::Velocity, x0, None, 0.0, labels, dst)?;
    }
    Ok(out)
}

fn toml_of(config: &TrainConfig) -> Result<toml::Table> {
    TrainConfig::parse_toml(&config.to_toml()?, "config")
}

/// How [`run`] runs.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The output folder (created if missing).
    pub out_dir: PathBuf,
    /// Continue from `<out_dir>/checkpoint.safetensors` if it exists (else start afresh). Without
    /// it, an existing checkpoint there is an error rather than being overwritten.
    pub resume: bool,
    /// Where to train.
    pub device: DeviceChoice,
    /// The command line, for the model file's provenance.
    pub command: String,
    /// Stop (without the final checkpoint or export) once this many steps are done, as if the
    /// process had been killed there. For tests and time-boxed sessions.
    pub stop_after: Option<u64>,
}

/// What [`run`] reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// Training starts (or continues) at `step` of `steps`.
    Started {
        /// Steps already done (0, or the checkpoint's).
        step: u64,
        /// Total steps of the run.
        steps: u64,
        /// The device, in words.
        device: &'a str,
        /// Parameters of the network.
        params: usize,
        /// The data, in words.
        data: &'a str,
    },
    /// A metrics record was written.
    Log(&'a MetricsRecord),
    /// A checkpoint was written after `step` steps.
    Checkpoint {
        /// Steps done.
        step: u64,
    },
}

/// What a finished [`run`] did.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Steps done in total.
    pub steps: u64,
    /// Steps done by this process.
    pub steps_this_run: u64,
    /// The last logged loss.
    pub last_loss: Option<f64>,
    /// Mean steps per second of this process.
    pub steps_per_s: f64,
    /// The device, in words.
    pub device: String,
    /// The exported EMA model (`None` when stopped early by `stop_after`).
    pub model: Option<PathBuf>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io(format!("{}: {e}", path.display()))
}

/// Trains `config` into `opts.out_dir` (see the module docs), resuming from its checkpoint
/// with `opts.resume`.
pub fn run(config: TrainConfig, opts: &TrainOptions, on_event: &mut dyn FnMut(Event<'_>)) -> Result<TrainSummary> {
    config.validate()?;
    let dir = &opts.out_dir;
    let existing = Checkpoint::read(dir)?;
    if existing.is_some() && !opts.resume {
        return Err(Error::InvalidInput(format!(
            "{} already holds a checkpoint; pass --resume to continue it, or choose another --out",
            dir.display()
        )));
    }
    let SelectedDevice { device, description, .. } = select_device(opts.device).map_err(|e| Error::GpuUnavailable(e.to_string()))?;
    let device = device.autodiff();
    let data = Data::load(&config)?;
    let data_text = data.describe();
    let (mut trainer, mut elapsed_before) = match &existing {
        Some(ckpt) => (Trainer::resume(ckpt, config, data, device)?, ckpt.meta.elapsed_s),
        None => (Trainer::new(config, data, device)?, 0.0),
    };
    // The output folder only once everything the run reads has been read: a refused run
    // leaves nothing behind.
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    crate::files::remove_stale_temps(dir)?;
    let mut log = match &existing {
        Some(ckpt) => MetricsLog::resume(dir, ckpt.meta.step)?,
        None => MetricsLog::create(dir)?,
    };
    crate::files::write_atomic(&dir.join(CONFIG_FILE), trainer.config().to_toml()?.as_bytes())?;
    let total = trainer.config().steps;
    let params = trainer.infos.iter().map(|p| p.numel()).sum();
    let first = trainer.step_count();
    on_event(Event::Started { step: first, steps: total, device: &description, params, data: &data_text });

    let start = Instant::now();
    let mut interval_start = Instant::now();
    let (mut loss_sum, mut norm_sum): (Option<Tensor<1>>, Option<Tensor<1>>) = (None, None);
    let mut interval_steps = 0u64;
    let mut last_loss = None;
    let mut lr = 0.0;
    let stop = opts.stop_after.unwrap_or(u64::MAX).min(total);
    let c = trainer.config().clone();
    let export = |t: &Trainer| -> Result<()> {
        t.model_file(&t.ema_net(), "ema", &opts.command)?.write(dir.join(MODEL_FILE), None)?;
        if c.export_raw {
            t.model_file(&t.raw_net(), "raw", &opts.command)?.write(dir.join(RAW_MODEL_FILE), None)?;
        }
        Ok(())
    };
    while trainer.step_count() < stop {
        let out = trainer.step()?;
        lr = out.lr;
        loss_sum = Some(loss_sum.map_or(out.loss.clone(), |s| s + out.loss));
        norm_sum = Some(norm_sum.map_or(out.grad_norm.clone(), |s| s + out.grad_norm));
        interval_steps += 1;
        let s = trainer.step_count();
        let log_now = s % c.log_every == 0 || s == total;
        if log_now {
            let read = |t: Option<Tensor<1>>| t.map_or(f64::NAN, |t| t.into_data().try_into_vec_as::<f32>().expect("f32")[0] as f64 / interval_steps as f64);
            let (loss, grad_norm) = (read(loss_sum.take()), read(norm_sum.take()));
            if !loss.is_finite() || !grad_norm.is_finite() {
                return Err(Error::InvalidInput(format!("training diverged: loss {loss}, gradient norm {grad_norm} at step {s}; lower --lr or clip gradients (--grad-clip)")));
            }
            let secs = interval_start.elapsed().as_secs_f64();
            let record = MetricsRecord { step: s, loss, lr, grad_norm, steps_per_s: interval_steps as f64 / secs.max(1e-9), elapsed: elapsed_before + start.elapsed().as_secs_f64() };
            log.write(&record)?;
            on_event(Event::Log(&record));
            last_loss = Some(loss);
            interval_steps = 0;
            interval_start = Instant::now();
        }
        let checkpoint_now = (c.checkpoint_every > 0 && s % c.checkpoint_every == 0) || s == total;
        if checkpoint_now {
            let elapsed = elapsed_before + start.elapsed().as_secs_f64();
            trainer.checkpoint(elapsed).write(dir)?;
            if c.export_at_checkpoints || s == total {
                export(&trainer)?;
            }
            if c.snapshot_every > 0 && s % c.snapshot_every == 0 {
                let snapshots = dir.join(SNAPSHOT_DIR);
                std::fs::create_dir_all(&snapshots).map_err(|e| io(&snapshots, e))?;
                trainer.model_file(&trainer.ema_net(), "ema", &opts.command)?.write(snapshots.join(format!("model-{s:07}.safetensors")), None)?;
            }
            on_event(Event::Checkpoint { step: s });
        }
    }
    let done = trainer.step_count();
    let secs = start.elapsed().as_secs_f64();
    elapsed_before += secs;
    let _ = elapsed_before;
    let model = if done >= total {
        if first >= total && !dir.join(MODEL_FILE).exists() {
            // Already complete: make sure the model file exists, but never rewrite one (its
            // provenance would name this command, and pairs made from it record its digest).
            export(&trainer)?;
        }
        Some(dir.join(MODEL_FILE))
    } else {
        None
    };
    let _ = lr;
    Ok(TrainSummary { steps: done, steps_this_run: done - first, last_loss, steps_per_s: (done - first) as f64 / secs.max(1e-9), device: description, model })
}
