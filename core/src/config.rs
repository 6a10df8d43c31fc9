//! The versioned model config stored as JSON in a model file's `__metadata__["beeline"]`, and
//! the list of tensors (names and shapes) each architecture needs.
//!
//! The parameter list here is the single source of truth for the loader's checks, the CPU
//! reference networks, the GPU runtime and the burn export. Weight layouts follow PyTorch:
//! linear `[out, in]`, convolution `[out, in, kh, kw]`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Name of the format, stored in `format`.
pub const FORMAT_NAME: &str = "beeline";
/// The config version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The `__metadata__` key that holds the config JSON.
pub const METADATA_KEY: &str = "beeline";

/// Everything a runtime needs to know about a model besides its weights.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] for files this build writes.
    pub version: u32,
    /// The networks, by role. Tensors of a network are named `<role>.<param>`.
    pub networks: BTreeMap<NetRole, ArchConfig>,
    /// What the networks predict and how samplers combine them.
    pub parameterization: Parameterization,
    /// Shape and value range of one sample.
    pub data: DataSpec,
    /// Class names when the model is class-conditional (index = label), else empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// The sampler the model was made for.
    pub sampler: SamplerDefaults,
    /// How the model was made.
    #[serde(default)]
    pub provenance: Provenance,
}

/// The role of one network inside a model file; also the tensor-name prefix.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum NetRole {
    /// A velocity field `v(x_t, t)` (rectified flows, reflow, distillation, PeRFlow).
    Velocity,
    /// CAF's initial-velocity network `v0(x_t, t)`.
    InitialVelocity,
    /// CAF's acceleration network `a(concat[x_t, v̂0], t)`.
    Acceleration,
}

impl NetRole {
    /// The tensor-name prefix, e.g. `"velocity"`.
    pub fn prefix(self) -> &'static str {
        match self {
            NetRole::Velocity => "velocity",
            NetRole::InitialVelocity => "initial_velocity",
            NetRole::Acceleration => "acceleration",
        }
    }
}

/// What the networks predict.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Parameterization {
    /// One network predicting the velocity `x1 − x0` (1-RF, 2-RF, distilled, RF++, SlimFlow).
    Velocity,
    /// Constant Acceleration Flow: `initial_velocity` predicts `h·(x1 − x0)`, `acceleration`
    /// predicts `2(x1 − x0) − 2v̂0`; `x_t = x0 + v0·t + ½a·t²`.
    Caf {
        /// The initial-velocity scale h (1 = rectified flow, > 1 decelerating).
        h: f32,
    },
    /// PeRFlow: a velocity network straightened piecewise over `windows` equal time windows.
    Perflow {
        /// Number of time windows K.
        windows: usize,
    },
}

impl Parameterization {
    /// The network roles this parameterization needs, in a fixed order.
    pub fn roles(&self) -> &'static [NetRole] {
        match self {
            Parameterization::Velocity | Parameterization::Perflow { .. } => &[NetRole::Velocity],
            Parameterization::Caf { .. } => &[NetRole::InitialVelocity, NetRole::Acceleration],
        }
    }
}

/// Shape and value range of one data sample.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Data set name, e.g. `"mnist"`, `"fashion-mnist"`, `"gmm3"`.
    pub name: String,
    /// Shape of one sample: `[dim]` for points, `[channels, height, width]` for images.
    pub shape: Vec<usize>,
    /// The value range the model generates, e.g. `[-1, 1]` for images.
    pub range: [f32; 2],
}

impl DataSpec {
    /// Number of scalars in one sample.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Solvers Beeline implements. See `sampling` for their definitions and costs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// Euler: 1 evaluation per step, order 1.
    Euler,
    /// Explicit midpoint: 2 evaluations per step, order 2.
    Midpoint,
    /// Heun (trapezoidal predictor–corrector): 2 evaluations per step, order 2.
    Heun,
    /// Classical Runge–Kutta: 4 evaluations per step, order 4.
    Rk4,
    /// FireFlow: midpoint that reuses the previous midpoint velocity; N steps cost N + 1.
    Fireflow,
    /// RF++'s "new" sampler: re-noise the data prediction with the initial noise each step.
    RfppNew,
    /// PeRFlow: Euler with steps spread over the model's time windows.
    Perflow,
    /// CAF: initial velocity once, then one acceleration evaluation per step (N + 1).
    Caf,
}

impl Solver {
    /// Every solver with its name (kebab case), in the order pickers offer them.
    pub const ALL: [(Solver, &'static str); 8] = [
        (Solver::Euler, "euler"),
        (Solver::Midpoint, "midpoint"),
        (Solver::Heun, "heun"),
        (Solver::Rk4, "rk4"),
        (Solver::Fireflow, "fireflow"),
        (Solver::RfppNew, "rfpp-new"),
        (Solver::Perflow, "perflow"),
        (Solver::Caf, "caf"),
    ];

    /// The solver's name, as [`Solver::parse`] takes it.
    pub fn name(self) -> &'static str {
        Solver::ALL.iter().find(|(s, _)| *s == self).map_or("?", |(_, n)| n)
    }

    /// A solver from its name, kebab or snake case (`rfpp-new`, `rfpp_new`), as every front end
    /// takes it: the CLI's `--solver`, the viewer and the wasm/JS request.
    pub fn parse(name: &str) -> Result<Solver> {
        let want = name.trim().to_ascii_lowercase().replace('_', "-");
        Solver::ALL.iter().find(|(_, n)| *n == want).map(|(s, _)| *s).ok_or_else(|| {
            let names: Vec<&str> = Solver::ALL.iter().map(|(_, n)| *n).collect();
            Error::InvalidInput(format!("unknown solver {name:?}; use {}", names.join(", ")))
        })
    }
}

/// How the time interval is cut into steps.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TimeGrid {
    /// `t_i = i/N`.
    Uniform,
    /// diffusers/FLUX shift of the uniform grid (see `time::shift_time`).
    Shifted {
        /// The shift s (> 0; 1 = uniform).
        shift: f64,
    },
    /// Explicit increasing times from 0 to 1 (N + 1 values), e.g. tuned Simple ReFlow grids.
    Custom {
        /// The grid points.
        times: Vec<f64>,
    },
}

impl TimeGrid {
    /// A grid from text: `uniform`, `shift=S` (diffusers/FLUX shift) or comma-separated times
    /// `0,…,1` (checked against the step count when the plan is built).
    pub fn parse(text: &str) -> Result<TimeGrid> {
        let text = text.trim();
        if text == "uniform" {
            return Ok(TimeGrid::Uniform);
        }
        if let Some(v) = text.strip_prefix("shift=") {
            let shift: f64 = v.trim().parse().map_err(|_| Error::InvalidInput(format!("shift {v:?} is not a number")))?;
            return Ok(TimeGrid::Shifted { shift });
        }
        let times = text
            .split(',')
            .map(|p| p.trim().parse::<f64>().map_err(|_| Error::InvalidInput(format!("time grid entry {p:?} is not a number"))))
            .collect::<Result<Vec<f64>>>()?;
        Ok(TimeGrid::Custom { times })
    }
}

/// The sampler a model was made for.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SamplerDefaults {
    /// Solver.
    pub solver: Solver,
    /// Number of steps N.
    pub steps: u32,
    /// Classifier-free guidance scale (1 = no guidance).
    #[serde(default = "one")]
    pub guidance: f32,
    /// Time grid.
    #[serde(default = "uniform")]
    pub time_grid: TimeGrid,
}

fn one() -> f32 {
    1.0
}
fn uniform() -> TimeGrid {
    TimeGrid::Uniform
}

/// How a model was made: enough to rerun it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Provenance {
    /// The command line that produced the file.
    pub command: String,
    /// The training data (name and, where known, a hash).
    pub data: String,
    /// Optimiser steps trained.
    pub steps: u64,
    /// Free-form notes (teacher file, method, seed, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, String>,
}

/// Architecture of one network.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ArchConfig {
    /// An MLP for low-dimensional data.
    Mlp(MlpConfig),
    /// A convolutional UNet for 28×28 / 32×32 images.
    Unet(UnetConfig),
}

/// MLP for points in `R^dim`.
///
/// ```text
/// e = lin2(SiLU(lin1(sinusoidal(net_time(t), time_embed_dim)))) [+ class_embed[label]]   (hidden)
/// h = input(concat[x, cond]) + e                                                         (hidden)
/// h = hidden.i(SiLU(h))              for i in 0..depth
/// out = output(SiLU(h))                                                                  (dim)
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Data dimension: input and output width.
    pub dim: usize,
    /// Hidden width W.
    pub hidden: usize,
    /// Number of hidden W→W layers after the input layer.
    pub depth: usize,
    /// Width of the sinusoidal time embedding (even).
    pub time_embed_dim: usize,
    /// Width of the extra conditioning input concatenated to `x` (CAF's v̂0), 0 for none.
    #[serde(default)]
    pub cond_dim: usize,
    /// Number of classes, 0 for unconditional. The embedding has `num_classes + 1` rows; the last
    /// is the null class used for classifier-free guidance.
    #[serde(default)]
    pub num_classes: usize,
}

/// UNet for images `[channels, height, width]`, DDPM-style.
///
/// ```text
/// temb = lin2(SiLU(lin1(sinusoidal(net_time(t), C)))) [+ class_embed[label]]          (4C)
/// h = conv_in(concat[x, cond]);  skips = [h]
/// for level l (channels C·channel_mult[l]):
///     num_res_blocks × ResBlock → push skip;  if not last: Downsample (3×3 stride 2) → push skip
/// mid: ResBlock, [Attention], ResBlock
/// for level l reversed:
///     (num_res_blocks + 1) × ResBlock(concat[h, skips.pop()]);  if l > 0: Upsample (nearest ×2, 3×3)
/// out = out.conv(SiLU(out.norm(h)))
/// ResBlock(x): h = conv1(SiLU(norm1(x))) + temb_proj(SiLU(temb))[:, :, None, None]
///              h = conv2(SiLU(norm2(h)));  return skip(x) + h     (skip = 1×1 conv if channels change)
/// Attention(x): multi-head self-attention over the H·W positions of norm(x); qkv and proj are
///              linears over channels (`[3ch, ch]`, `[ch, ch]`; q, k, v are consecutive channel
///              blocks, head h takes channels h·d..(h+1)·d of each), softmax(q·kᵀ/√d); x + proj(attn)
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UnetConfig {
    /// Channels of the data (1 grey, 3 RGB); also the output channels.
    pub channels: usize,
    /// Height in pixels; must be divisible by `2^(levels − 1)`.
    pub height: usize,
    /// Width in pixels; must be divisible by `2^(levels − 1)`.
    pub width: usize,
    /// Base channel count C.
    pub base_channels: usize,
    /// Channel multiplier per resolution level.
    pub channel_mult: Vec<usize>,
    /// Residual blocks per level on the way down (the way up has one more).
    pub num_res_blocks: usize,
    /// Self-attention in the middle block (lowest resolution).
    #[serde(default)]
    pub attention: bool,
    /// Attention heads (must divide the lowest-resolution channel count).
    #[serde(default = "one_usize")]
    pub attention_heads: usize,
    /// GroupNorm groups (must divide every channel count).
    pub groups: usize,
    /// Extra input channels concatenated to `x` (CAF's v̂0), 0 for none.
    #[serde(default)]
    pub cond_channels: usize,
    /// Number of classes, 0 for unconditional (plus one null class when > 0).
    #[serde(default)]
    pub num_classes: usize,
}

fn one_usize() -> usize {
    1
}

/// Most positions self-attention may attend over (its score matrix is positions² per head).
pub const MAX_ATTENTION_PIXELS: usize = 4096;

/// GroupNorm epsilon used by every network.
pub const GROUPNORM_EPS: f32 = 1e-5;

/// One parameter tensor: name (without role prefix) and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// Name without the role prefix, e.g. `"down.0.res.0.conv1.weight"`.
    pub name: String,
    /// Shape, PyTorch layout.
    pub shape: Vec<usize>,
}

fn p(out: &mut Vec<ParamSpec>, name: impl Into<String>, shape: &[usize]) {
    out.push(ParamSpec { name: name.into(), shape: shape.to_vec() });
}
fn linear(out: &mut Vec<ParamSpec>, name: &str, i: usize, o: usize) {
    p(out, format!("{name}.weight"), &[o, i]);
    p(out, format!("{name}.bias"), &[o]);
}
fn conv(out: &mut Vec<ParamSpec>, name: &str, i: usize, o: usize, k: usize) {
    p(out, format!("{name}.weight"), &[o, i, k, k]);
    p(out, format!("{name}.bias"), &[o]);
}
fn norm(out: &mut Vec<ParamSpec>, name: &str, c: usize) {
    p(out, format!("{name}.weight"), &[c]);
    p(out, format!("{name}.bias"), &[c]);
}

impl MlpConfig {
    /// Checks the sizes; returns a `BadConfig` error naming the first problem.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::BadConfig(format!("mlp: {m}")));
        if self.dim == 0 || self.dim > 4096 {
            return bad("dim must be in 1..=4096");
        }
        if self.hidden == 0 || self.hidden > 8192 {
            return bad("hidden must be in 1..=8192");
        }
        if self.depth > 64 {
            return bad("depth must be at most 64");
        }
        if self.time_embed_dim == 0 || self.time_embed_dim % 2 != 0 || self.time_embed_dim > 8192 {
            return bad("time_embed_dim must be even and in 2..=8192");
        }
        if self.cond_dim > 4096 || self.num_classes > 100_000 {
            return bad("cond_dim or num_classes too large");
        }
        Ok(())
    }

    /// Parameters in file order.
    pub fn params(&self) -> Vec<ParamSpec> {
        let (w, mut v) = (self.hidden, Vec::new());
        linear(&mut v, "time.lin1", self.time_embed_dim, w);
        linear(&mut v, "time.lin2", w, w);
        if self.num_classes > 0 {
            p(&mut v, "class_embed.weight", &[self.num_classes + 1, w]);
        }
        linear(&mut v, "input", self.dim + self.cond_dim, w);
        for i in 0..self.depth {
            linear(&mut v, &format!("hidden.{i}"), w, w);
        }
        linear(&mut v, "output", w, self.dim);
        v
    }
}

/// Channel plan of one UNet residual block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResBlockSpec {
    /// Parameter name prefix, e.g. `"up.1.res.2"`.
    pub name: String,
    /// Input channels (after any skip concatenation).
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
}

/// The layer sequence of a UNet, derived from its config: the plan every backend executes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnetLayer {
    /// 3×3 conv from `concat[x, cond]` to C channels (`conv_in`).
    ConvIn { cin: usize, cout: usize },
    /// Residual block at resolution `h×w`; `concat_skip` pops a skip and concatenates it first.
    Res { spec: ResBlockSpec, h: usize, w: usize, concat_skip: bool, push_skip: bool },
    /// 3×3 stride-2 conv (`<name>`), `ch` channels, from `h×w` to `h/2 × w/2`; pushes a skip.
    Down { name: String, ch: usize, h: usize, w: usize },
    /// Self-attention (`mid.attn`), `ch` channels at `h×w`.
    Attn { ch: usize, h: usize, w: usize },
    /// Nearest ×2 upsampling then a 3×3 conv (`<name>`), `ch` channels, from `h×w`.
    Up { name: String, ch: usize, h: usize, w: usize },
    /// GroupNorm, SiLU, 3×3 conv to the output channels (`out.norm`, `out.conv`).
    Out { cin: usize, cout: usize, h: usize, w: usize },
}

impl UnetConfig {
    /// Width of the time (and class) embedding: 4·C.
    pub fn temb_dim(&self) -> usize {
        4 * self.base_channels
    }

    /// Checks the sizes; returns a `BadConfig` error naming the first problem.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::BadConfig(format!("unet: {m}")));
        if self.channels == 0 || self.channels > 16 {
            return bad("channels must be in 1..=16".into());
        }
        if self.channel_mult.is_empty() || self.channel_mult.len() > 6 {
            return bad("channel_mult must have 1 to 6 levels".into());
        }
        if self.base_channels < 2 || self.base_channels > 1024 || self.base_channels % 2 != 0 {
            return bad("base_channels must be even and in 2..=1024 (it is the time-embedding width)".into());
        }
        if self.channel_mult.iter().any(|&m| m == 0 || m > 16) {
            return bad("channel_mult entries must be in 1..=16".into());
        }
        if self.num_res_blocks == 0 || self.num_res_blocks > 8 {
            return bad("num_res_blocks must be in 1..=8".into());
        }
        let f = 1usize << (self.channel_mult.len() - 1);
        if self.height == 0 || self.width == 0 || self.height > 1024 || self.width > 1024 {
            return bad("height and width must be in 1..=1024".into());
        }
        if self.height % f != 0 || self.width % f != 0 {
            return bad(format!(
                "{}x{} is not divisible by 2^(levels-1) = {f}; use fewer channel_mult levels",
                self.height, self.width
            ));
        }
        if self.groups == 0 {
            return bad("groups must be positive".into());
        }
        for &m in &self.channel_mult {
            if (self.base_channels * m) % self.groups != 0 {
                return bad(format!("groups {} does not divide {} channels", self.groups, self.base_channels * m));
            }
        }
        let low = self.base_channels * self.channel_mult[self.channel_mult.len() - 1];
        let low_pixels = (self.height / f) * (self.width / f);
        if self.attention && low_pixels > MAX_ATTENTION_PIXELS {
            return bad(format!(
                "attention at {}x{} ({low_pixels} positions) exceeds {MAX_ATTENTION_PIXELS}; add channel_mult levels",
                self.height / f,
                self.width / f
            ));
        }
        if self.attention && (self.attention_heads == 0 || low % self.attention_heads != 0) {
            return bad(format!("attention_heads {} does not divide {low}", self.attention_heads));
        }
        if self.cond_channels > 16 || self.num_classes > 100_000 {
            return bad("cond_channels or num_classes too large".into());
        }
        Ok(())
    }

    /// The layer plan, in execution order.
    pub fn layers(&self) -> Vec<UnetLayer> {
        let c = self.base_channels;
        let (mut h, mut w) = (self.height, self.width);
        let mut v = vec![UnetLayer::ConvIn { cin: self.channels + self.cond_channels, cout: c }];
        let mut skips = vec![c];
        let mut ch = c;
        let last = self.channel_mult.len() - 1;
        for (l, &m) in self.channel_mult.iter().enumerate() {
            for j in 0..self.num_res_blocks {
                let spec = ResBlockSpec { name: format!("down.{l}.res.{j}"), cin: ch, cout: c * m };
                ch = c * m;
                v.push(UnetLayer::Res { spec, h, w, concat_skip: false, push_skip: true });
                skips.push(ch);
            }
            if l != last {
                v.push(UnetLayer::Down { name: format!("down.{l}.downsample"), ch, h, w });
                h /= 2;
                w /= 2;
                skips.push(ch);
            }
        }
        let mid = |name: &str| ResBlockSpec { name: name.into(), cin: ch, cout: ch };
        v.push(UnetLayer::Res { spec: mid("mid.res.0"), h, w, concat_skip: false, push_skip: false });
        if self.attention {
            v.push(UnetLayer::Attn { ch, h, w });
        }
        v.push(UnetLayer::Res { spec: mid("mid.res.1"), h, w, concat_skip: false, push_skip: false });
        for (l, &m) in self.channel_mult.iter().enumerate().rev() {
            for j in 0..=self.num_res_blocks {
                let skip = skips.pop().unwrap_or(0);
                let spec = ResBlockSpec { name: format!("up.{l}.res.{j}"), cin: ch + skip, cout: c * m };
                ch = c * m;
                v.push(UnetLayer::Res { spec, h, w, concat_skip: true, push_skip: false });
            }
            if l != 0 {
                v.push(UnetLayer::Up { name: format!("up.{l}.upsample"), ch, h, w });
                h *= 2;
                w *= 2;
            }
        }
        v.push(UnetLayer::Out { cin: ch, cout: self.channels, h, w });
        v
    }

    /// Parameters in file order.
    pub fn params(&self) -> Vec<ParamSpec> {
        let (c, t) = (self.base_channels, self.temb_dim());
        let mut v = Vec::new();
        linear(&mut v, "time.lin1", c, t);
        linear(&mut v, "time.lin2", t, t);
        if self.num_classes > 0 {
            p(&mut v, "class_embed.weight", &[self.num_classes + 1, t]);
        }
        for layer in self.layers() {
            match layer {
                UnetLayer::ConvIn { cin, cout } => conv(&mut v, "conv_in", cin, cout, 3),
                UnetLayer::Res { spec, .. } => {
                    let n = &spec.name;
                    norm(&mut v, &format!("{n}.norm1"), spec.cin);
                    conv(&mut v, &format!("{n}.conv1"), spec.cin, spec.cout, 3);
                    linear(&mut v, &format!("{n}.temb"), t, spec.cout);
                    norm(&mut v, &format!("{n}.norm2"), spec.cout);
                    conv(&mut v, &format!("{n}.conv2"), spec.cout, spec.cout, 3);
                    if spec.cin != spec.cout {
                        conv(&mut v, &format!("{n}.skip"), spec.cin, spec.cout, 1);
                    }
                }
                UnetLayer::Down { name, ch, .. } | UnetLayer::Up { name, ch, .. } => {
                    conv(&mut v, &name, ch, ch, 3)
                }
                UnetLayer::Attn { ch, .. } => {
                    norm(&mut v, "mid.attn.norm", ch);
                    linear(&mut v, "mid.attn.qkv", ch, 3 * ch);
                    linear(&mut v, "mid.attn.proj", ch, ch);
                }
                UnetLayer::Out { cin, cout, .. } => {
                    norm(&mut v, "out.norm", cin);
                    conv(&mut v, "out.conv", cin, cout, 3);
                }
            }
        }
        v
    }
}

impl ArchConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        match self {
            ArchConfig::Mlp(m) => m.validate(),
            ArchConfig::Unet(u) => u.validate(),
        }
    }
    /// Parameters in file order, without role prefix.
    pub fn params(&self) -> Vec<ParamSpec> {
        match self {
            ArchConfig::Mlp(m) => m.params(),
            ArchConfig::Unet(u) => u.params(),
        }
    }
    /// Total parameter count.
    pub fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.shape.iter().product::<usize>()).sum()
    }
    /// Shape of one data sample this network maps (input = output).
    pub fn sample_shape(&self) -> Vec<usize> {
        match self {
            ArchConfig::Mlp(m) => vec![m.dim],
            ArchConfig::Unet(u) => vec![u.channels, u.height, u.width],
        }
    }
    /// Scalars of extra conditioning input per sample (CAF's v̂0), 0 for none.
    pub fn cond_numel(&self) -> usize {
        match self {
            ArchConfig::Mlp(m) => m.cond_dim,
            ArchConfig::Unet(u) => u.cond_channels * u.height * u.width,
        }
    }
    /// Number of classes (0 = unconditional).
    pub fn num_classes(&self) -> usize {
        match self {
            ArchConfig::Mlp(m) => m.num_classes,
            ArchConfig::Unet(u) => u.num_classes,
        }
    }
    /// The same network with (`true`) or without CAF's conditioning input: one extra sample's
    /// worth of input (`cond_dim = dim`, `cond_channels = channels`), or none.
    pub fn with_cond(&self, cond: bool) -> ArchConfig {
        match self {
            ArchConfig::Mlp(m) => ArchConfig::Mlp(MlpConfig { cond_dim: if cond { m.dim } else { 0 }, ..m.clone() }),
            ArchConfig::Unet(u) => ArchConfig::Unet(UnetConfig { cond_channels: if cond { u.channels } else { 0 }, ..u.clone() }),
        }
    }
}

impl ModelConfig {
    /// Checks the config on its own (not against tensors): format, version, that the networks
    /// match the parameterization's roles, the data shape and each other.
    pub fn validate(&self) -> Result<()> {
        if self.format != FORMAT_NAME {
            return Err(Error::BadConfig(format!("format is {:?}, expected {FORMAT_NAME:?}", self.format)));
        }
        if self.version != FORMAT_VERSION {
            return Err(Error::UnknownVersion { found: self.version as u64, supported: FORMAT_VERSION });
        }
        let roles = self.parameterization.roles();
        for r in roles {
            if !self.networks.contains_key(r) {
                return Err(Error::BadConfig(format!(
                    "parameterization {:?} needs a `{}` network",
                    self.parameterization,
                    r.prefix()
                )));
            }
        }
        for r in self.networks.keys() {
            if !roles.contains(r) {
                return Err(Error::BadConfig(format!(
                    "network `{}` is not used by parameterization {:?}",
                    r.prefix(),
                    self.parameterization
                )));
            }
        }
        match &self.parameterization {
            Parameterization::Caf { h } if !(h.is_finite() && *h >= 0.0) => {
                return Err(Error::BadConfig(format!("caf h must be finite and >= 0, got {h}")));
            }
            Parameterization::Perflow { windows } if *windows == 0 || *windows > 1000 => {
                return Err(Error::BadConfig(format!("perflow windows must be in 1..=1000, got {windows}")));
            }
            _ => {}
        }
        if self.data.shape.is_empty() || self.data.shape.iter().any(|&d| d == 0) {
            return Err(Error::BadConfig(format!("data shape {:?} is empty", self.data.shape)));
        }
        if !(self.data.range[0].is_finite() && self.data.range[1].is_finite() && self.data.range[0] < self.data.range[1]) {
            return Err(Error::BadConfig(format!("data range {:?} is not an increasing finite pair", self.data.range)));
        }
        for (role, arch) in &self.networks {
            arch.validate()?;
            if arch.sample_shape() != self.data.shape {
                return Err(Error::BadConfig(format!(
                    "network `{}` maps samples of shape {:?} but data shape is {:?}",
                    role.prefix(),
                    arch.sample_shape(),
                    self.data.shape
                )));
            }
            if arch.num_classes() != self.classes.len() {
                return Err(Error::BadConfig(format!(
                    "network `{}` has {} classes but the config names {}",
                    role.prefix(),
                    arch.num_classes(),
                    self.classes.len()
                )));
            }
            let want_cond = if *role == NetRole::Acceleration { self.data.numel() } else { 0 };
            if arch.cond_numel() != want_cond {
                return Err(Error::BadConfig(format!(
                    "network `{}` takes {} conditioning scalars per sample, expected {want_cond}",
                    role.prefix(),
                    arch.cond_numel()
                )));
            }
        }
        if self.sampler.steps == 0 || self.sampler.steps > 10_000 {
            return Err(Error::BadConfig(format!("sampler steps {} not in 1..=10000", self.sampler.steps)));
        }
        if !self.sampler.guidance.is_finite() || self.sampler.guidance < 0.0 || self.sampler.guidance > 100.0 {
            return Err(Error::BadConfig(format!("sampler guidance {} not in 0..=100", self.sampler.guidance)));
        }
        crate::pipeline::check_guidance(self.sampler.guidance, self.classes.len()).map_err(|e| Error::BadConfig(format!("sampler: {e}")))?;
        // The recommended sampler must compile (steps, grid, windows) and evaluate only the
        // networks the file has: a model that loads can be sampled with its own defaults.
        let spec = crate::sampling::SamplerSpec::from_defaults(&self.sampler, &self.parameterization);
        let plan = spec.plan().map_err(|e| Error::BadConfig(format!("sampler: {e}")))?;
        for role in plan.roles() {
            if !self.networks.contains_key(&role) {
                return Err(Error::BadConfig(format!(
                    "sampler: the {:?} solver evaluates a `{}` network, which this model does not have",
                    self.sampler.solver,
                    role.prefix()
                )));
            }
        }
        Ok(())
    }

    /// All tensors the file must hold, with role prefixes, in file order.
    pub fn tensor_specs(&self) -> Vec<ParamSpec> {
        let mut v = Vec::new();
        for (role, arch) in &self.networks {
            for p in arch.params() {
                v.push(ParamSpec { name: format!("{}.{}", role.prefix(), p.name), shape: p.shape });
            }
        }
        v
    }

    /// Whether the model takes class labels.
    pub fn is_conditional(&self) -> bool {
        !self.classes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn unet(c: usize, mult: &[usize], nrb: usize, attn: bool) -> UnetConfig {
        UnetConfig {
            channels: 1,
            height: 28,
            width: 28,
            base_channels: c,
            channel_mult: mult.to_vec(),
            num_res_blocks: nrb,
            attention: attn,
            attention_heads: 1,
            groups: 8,
            cond_channels: 0,
            num_classes: 10,
        }
    }

    #[test]
    fn unet_sizes_span_the_range() {
        let small = ArchConfig::Unet(unet(16, &[1, 2, 2], 1, false)).num_params();
        let big = ArchConfig::Unet(unet(64, &[1, 2, 3], 2, true)).num_params();
        eprintln!("small {small} big {big}");
        assert!(small < 400_000, "small = {small}");
        assert!(big > 8_000_000 && big < 12_000_000, "big = {big}");
    }

    #[test]
    fn unet_skips_balance() {
        let u = unet(32, &[1, 2, 2], 2, true);
        let layers = u.layers();
        let pushes = 1 + layers.iter().filter(|l| matches!(l, UnetLayer::Res { push_skip: true, .. } | UnetLayer::Down { .. })).count();
        let pops = layers.iter().filter(|l| matches!(l, UnetLayer::Res { concat_skip: true, .. })).count();
        assert_eq!(pushes, pops);
        assert!(matches!(layers.last(), Some(UnetLayer::Out { h: 28, w: 28, .. })));
    }

    #[test]
    fn indivisible_sizes_are_rejected() {
        let mut u = unet(32, &[1, 2, 2, 2], 1, false);
        assert!(matches!(u.validate(), Err(Error::BadConfig(_))));
        u.channel_mult = vec![1, 2];
        u.groups = 7;
        assert!(matches!(u.validate(), Err(Error::BadConfig(_))));
    }
}
