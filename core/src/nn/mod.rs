//! The CPU reference forward pass of both network families, [`Mlp`] and [`Unet`], exactly as
//! documented on [`MlpConfig`](crate::config::MlpConfig) and [`UnetConfig`]: the oracle the GPU
//! runtime and the burn trainer are checked against, and the CPU fallback.
//!
//! * Weights follow [`ArchConfig::params`] (PyTorch layouts), named `"<prefix>.<param>"`.
//! * Deterministic: every output element is computed with a fixed summation order (the GEMM
//!   sums `c = init; c += a·b` sequentially in k order, never with FMA; GroupNorm statistics
//!   are per sample in f64), so results are bit-identical for any thread count, for a sample
//!   alone or inside a batch, and across the AVX-512, AVX and portable (SSE2, wasm32) code
//!   paths. Elementwise functions avoid the platform libm (see [`activation`]).
//! * Fast: all convolutions and linears run on one cache-blocked, register-tiled GEMM (module
//!   `gemm`: explicit AVX-512/AVX micro-kernels chosen at run time on x86-64, a portable
//!   auto-vectorised one elsewhere); 3×3 convolutions read their im2col rows straight from the
//!   NHWC input where they are contiguous and gather only at the borders. Multi-threaded with
//!   rayon under the `parallel` feature (not on wasm32), split by output rows.
//! * Allocation-free after warm-up: scratch memory comes from a [`Workspace`].
//!
//! Layouts: callers pass and receive row-major `[batch, sample_numel]` (NCHW for images);
//! internally the UNet runs NHWC.

pub mod activation;
pub(crate) mod attention;
pub(crate) mod conv;
pub mod embed;
mod gemm;
pub mod init;
pub(crate) mod linear;
mod mlp;
#[cfg(test)]
pub(crate) mod naive;
pub(crate) mod norm;
mod par;
#[cfg(test)]
mod tests;
mod unet;
mod workspace;

pub use mlp::Mlp;
pub use unet::Unet;
pub use workspace::Workspace;

/// Threads the CPU reference's kernels split their work over: the current rayon pool's (which
/// honours `RAYON_NUM_THREADS`), 1 without the `parallel` feature and on wasm32.
pub fn cpu_threads() -> usize {
    par::threads()
}

use crate::config::{ArchConfig, UnetConfig, UnetLayer};
use crate::error::{Error, Result};
use crate::field::NULL_LABEL;
use crate::weights::Weights;
use conv::Conv3x3;
use linear::Linear;
use norm::GroupNorm;

/// A CPU reference network of either family.
#[derive(Clone, Debug)]
pub enum Network {
    /// An MLP for points.
    Mlp(Mlp),
    /// A UNet for images.
    Unet(Unet),
}

impl Network {
    /// Builds the network `arch` from the tensors `"<prefix>.<param>"` of `weights` (a bare
    /// `"<param>"` when `prefix` is empty); `prefix` is normally [`NetRole::prefix`](crate::config::NetRole::prefix).
    ///
    /// Errors: [`Error::BadConfig`] if `arch` does not validate, [`Error::MissingTensor`] /
    /// [`Error::WrongShape`] for the first parameter (in file order) that is absent or misshapen.
    /// Tensors not belonging to this network are ignored.
    pub fn new(arch: &ArchConfig, weights: &Weights, prefix: &str) -> Result<Network> {
        arch.validate()?;
        let p = Loader { weights, prefix };
        for spec in arch.params() {
            p.get(&spec.name, &spec.shape)?;
        }
        Ok(match arch {
            ArchConfig::Mlp(m) => Network::Mlp(Mlp::new(m, &p)?),
            ArchConfig::Unet(u) => Network::Unet(Unet::new(u, &p)?),
        })
    }

    /// The architecture this network was built for.
    pub fn arch(&self) -> &ArchConfig {
        match self {
            Network::Mlp(m) => m.arch(),
            Network::Unet(u) => u.arch(),
        }
    }

    /// Scalars per sample (input and output).
    pub fn sample_numel(&self) -> usize {
        self.arch().sample_shape().iter().product()
    }

    /// Evaluates the network on a batch.
    ///
    /// * `x`: `[batch, sample_numel]` (NCHW per sample for images).
    /// * `cond`: `Some([batch, cond_numel])` iff `arch.cond_numel() > 0` (CAF's v̂0), concatenated
    ///   to `x` (MLP: along features; UNet: along channels).
    /// * `t`: Beeline time per sample (`batch = t.len()`; 0 = noise, 1 = data), turned into the
    ///   network's input only by [`net_time`](crate::time::net_time). Must be finite.
    /// * `labels`: per sample `0..num_classes` or [`NULL_LABEL`] (the null-class row
    ///   `num_classes`); `None` means all null. Unconditional networks accept `None` or
    ///   all-[`NULL_LABEL`] and reject any other label.
    /// * `out`: `[batch, sample_numel]`.
    ///
    /// Every size mismatch or bad label is an [`Error::InvalidInput`]; nothing panics.
    pub fn forward(&self, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: Option<&[u32]>, out: &mut [f32], ws: &mut Workspace) -> Result<()> {
        check_inputs(self.arch(), x, cond, t, labels, out)?;
        if t.is_empty() {
            return Ok(());
        }
        let per_sample = match self {
            Network::Mlp(m) => m.max_per_sample(),
            Network::Unet(u) => u.max_per_sample,
        };
        if t.len().checked_mul(per_sample).is_none_or(|n| n > isize::MAX as usize / 8) {
            return Err(invalid(format!("batch {} is too large for this network's activations", t.len())));
        }
        match self {
            Network::Mlp(m) => {
                m.forward(x, cond, t, labels, out, ws);
                Ok(())
            }
            Network::Unet(u) => u.forward(x, cond, t, labels, out, ws),
        }
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidInput(msg)
}

/// The argument checks of [`Network::forward`].
pub(crate) fn check_inputs(arch: &ArchConfig, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: Option<&[u32]>, out: &[f32]) -> Result<()> {
    let numel: usize = arch.sample_shape().iter().product();
    let batch = t.len();
    let want = batch.checked_mul(numel).ok_or_else(|| invalid(format!("batch {batch} is too large")))?;
    if x.len() != want {
        return Err(invalid(format!("x has {} values; {batch} times (from t.len()) {numel} per sample is {want}", x.len())));
    }
    if out.len() != want {
        return Err(invalid(format!("out has {} values; {batch} samples of {numel} need {want}", out.len())));
    }
    let cn = arch.cond_numel();
    match (cn, cond) {
        (0, None) => {}
        (0, Some(_)) => return Err(invalid("this network takes no conditioning input, but cond was given".into())),
        (_, None) => return Err(invalid(format!("this network needs a conditioning input of {cn} values per sample"))),
        (_, Some(c)) => {
            if c.len() != batch * cn {
                return Err(invalid(format!("cond has {} values; {batch} samples of {cn} need {}", c.len(), batch * cn)));
            }
        }
    }
    if let Some(i) = t.iter().position(|v| !v.is_finite()) {
        return Err(invalid(format!("time t[{i}] = {} is not finite", t[i])));
    }
    if let Some(l) = labels {
        if l.len() != batch {
            return Err(invalid(format!("{} labels for {batch} samples", l.len())));
        }
        let nc = arch.num_classes();
        if let Some(i) = l.iter().position(|&v| v != NULL_LABEL && v as usize >= nc) {
            return Err(invalid(if nc == 0 {
                format!("label {} given to an unconditional network (only NULL_LABEL is accepted)", l[i])
            } else {
                format!("label {} at sample {i} is not in 0..{nc}", l[i])
            }));
        }
    }
    Ok(())
}

/// Looks up and converts the tensors of one network.
pub(crate) struct Loader<'a> {
    weights: &'a Weights,
    prefix: &'a str,
}

impl<'a> Loader<'a> {
    fn name(&self, param: &str) -> String {
        if self.prefix.is_empty() { param.to_string() } else { format!("{}.{param}", self.prefix) }
    }
    pub(crate) fn get(&self, param: &str, shape: &[usize]) -> Result<&'a [f32]> {
        self.weights.get(&self.name(param), shape)
    }
    pub(crate) fn linear(&self, name: &str, fin: usize, fout: usize) -> Result<Linear> {
        let w = self.get(&format!("{name}.weight"), &[fout, fin])?;
        Ok(Linear::new(w, self.get(&format!("{name}.bias"), &[fout])?, fin, fout))
    }
    pub(crate) fn conv1(&self, name: &str, cin: usize, cout: usize) -> Result<Linear> {
        let w = self.get(&format!("{name}.weight"), &[cout, cin, 1, 1])?;
        Ok(Linear::new(w, self.get(&format!("{name}.bias"), &[cout])?, cin, cout))
    }
    pub(crate) fn conv3(&self, name: &str, cin: usize, cout: usize) -> Result<Conv3x3> {
        let w = self.get(&format!("{name}.weight"), &[cout, cin, 3, 3])?;
        Ok(Conv3x3::new(w, self.get(&format!("{name}.bias"), &[cout])?, cin, cout))
    }
    pub(crate) fn norm(&self, name: &str, c: usize, groups: usize) -> Result<GroupNorm> {
        let g = self.get(&format!("{name}.weight"), &[c])?;
        Ok(GroupNorm::new(g, self.get(&format!("{name}.bias"), &[c])?, groups))
    }
}

/// An upper bound on the host memory, in bytes, that the CPU reference's workspace holds for one
/// forward pass of `batch` samples of `arch` (f32 activations; weights not included). It adds,
/// for every layer of the plan ([`UnetConfig::layers`]), the buffers that layer takes at once
/// (inputs, normalised copies, outputs, a skip concatenation, attention's `qkv` and its `L × L`
/// score matrix per parallel task), plus every skip activation kept for the decoder, and ⅛ for
/// the workspace's size classes. The pool keeps freed buffers for reuse, so summing over layers
/// rather than taking the largest is what the pool can come to hold. For refusing or shrinking a
/// batch before it is allocated ([`pipeline`](crate::pipeline)'s memory budget).
pub fn activation_bytes(arch: &ArchConfig, batch: usize) -> u64 {
    let b = batch as u64;
    let floats: u64 = match arch {
        ArchConfig::Mlp(m) => b * (2 * (m.dim + m.cond_dim) as u64 + 4 * m.hidden as u64 + 3 * m.time_embed_dim as u64),
        ArchConfig::Unet(u) => {
            let (hw0, td) = ((u.height * u.width) as u64, u.temb_dim() as u64);
            let mut total = b * 3 * td;
            let mut skips = 0u64;
            for layer in u.layers() {
                total = total.saturating_add(match layer {
                    UnetLayer::ConvIn { cin, cout } => {
                        skips += b * hw0 * cout as u64;
                        b * hw0 * (cin + cout) as u64
                    }
                    UnetLayer::Res { spec, h, w, push_skip, .. } => {
                        let n = b * (h * w) as u64;
                        if push_skip {
                            skips += n * spec.cout as u64;
                        }
                        n * (3 * spec.cin + 3 * spec.cout) as u64
                    }
                    UnetLayer::Down { ch, h, w, .. } => {
                        let out = b * (h.div_ceil(2) * w.div_ceil(2) * ch) as u64;
                        skips += out;
                        b * (h * w * ch) as u64 + out
                    }
                    UnetLayer::Up { ch, h, w, .. } => b * (5 * h * w * ch) as u64,
                    UnetLayer::Attn { ch, h, w } => {
                        let (l, tasks) = ((h * w) as u64, b.min(par::threads() as u64));
                        b * l * 7 * ch as u64 + tasks * (l.saturating_mul(l) + 2 * l * ch as u64)
                    }
                    UnetLayer::Out { cin, cout, h, w } => b * (h * w * (2 * cin + cout)) as u64,
                });
            }
            total.saturating_add(skips)
        }
    };
    floats.saturating_mul(4).saturating_add(floats / 2)
}

/// Floating-point operations of one forward pass per sample: 2 × the multiply-adds of every
/// convolution, linear layer and attention matrix product (`q·kᵀ` and `P·v`). Normalisation,
/// activations, softmax and embeddings are not counted. For benchmarks (GFLOP/s).
pub fn flops(arch: &ArchConfig) -> u64 {
    let macs: usize = match arch {
        ArchConfig::Mlp(m) => {
            let w = m.hidden;
            m.time_embed_dim * w + w * w + (m.dim + m.cond_dim) * w + m.depth * w * w + w * m.dim
        }
        ArchConfig::Unet(u) => unet_macs(u),
    };
    2 * macs as u64
}

fn unet_macs(u: &UnetConfig) -> usize {
    let (c, td) = (u.base_channels, u.temb_dim());
    let mut macs = c * td + td * td;
    for layer in u.layers() {
        macs += match layer {
            UnetLayer::ConvIn { cin, cout } => u.height * u.width * cin * cout * 9,
            UnetLayer::Res { spec, h, w, .. } => {
                let (ci, co) = (spec.cin, spec.cout);
                h * w * 9 * (ci * co + co * co) + td * co + if ci != co { h * w * ci * co } else { 0 }
            }
            UnetLayer::Down { ch, h, w, .. } => h.div_ceil(2) * w.div_ceil(2) * ch * ch * 9,
            UnetLayer::Up { ch, h, w, .. } => 4 * h * w * ch * ch * 9,
            UnetLayer::Attn { ch, h, w } => {
                let l = h * w;
                l * ch * 3 * ch + 2 * l * l * ch + l * ch * ch
            }
            UnetLayer::Out { cin, cout, h, w } => h * w * cin * cout * 9,
        };
    }
    macs
}
