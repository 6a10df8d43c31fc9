//! The velocity-field abstraction every sampler runs on: the exact Gaussian-mixture field (the
//! oracle), the CPU reference networks, and (later) the GPU runtime.

use crate::config::NetRole;
use crate::error::Result;

/// Scalar type a sampler can run in: `f32` for networks, `f64` for the analytic oracle.
pub trait Real: num_traits::Float + Send + Sync + std::fmt::Debug + 'static {
    /// Conversion from a host-side `f64` coefficient.
    fn from_f64(v: f64) -> Self;
    /// Conversion to `f64` for error measurement.
    fn to_f64(self) -> f64;
}
impl Real for f32 {
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
}
impl Real for f64 {
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}

/// A batch of velocity evaluations.
///
/// Buffers are row-major `[batch, sample_numel]`; `batch = x.len() / sample_numel()`. Class labels
/// and guidance are state of the implementor (set before sampling), not arguments, so that every
/// sampler stays label-agnostic.
pub trait VelocityField<T: Real> {
    /// Scalars per sample (2 for a 2D toy, `C·H·W` for images).
    fn sample_numel(&self) -> usize;

    /// Evaluates network `net` at Beeline time `t` (0 = noise, 1 = data) on the batch `x`,
    /// writing `out` (same length as `x`). `cond` is the extra per-sample input that CAF's
    /// acceleration network takes (its v̂0), same length as `x`; `None` for every other network.
    fn eval(&mut self, net: NetRole, x: &[T], cond: Option<&[T]>, t: f64, out: &mut [T]) -> Result<()>;
}

/// Label value meaning "no class": the null class of classifier-free guidance. Networks map it to
/// their last embedding row (`num_classes`).
pub const NULL_LABEL: u32 = u32::MAX;

/// A field whose evaluations take per-sample class labels: a class-conditional network, or the
/// Gaussian-mixture oracle with one component per class. `sampling::Guided` turns one into a
/// [`VelocityField`] with fixed labels and a guidance scale.
pub trait ConditionalField<T: Real> {
    /// Scalars per sample.
    fn sample_numel(&self) -> usize;

    /// The host memory, in bytes, one evaluation of `batch` samples holds beyond its inputs and
    /// outputs (a network's activations: [`nn::activation_bytes`](crate::nn::activation_bytes));
    /// 0 for fields that hold nothing to speak of.
    fn activation_bytes(&self, batch: usize) -> u64 {
        let _ = batch;
        0
    }

    /// Like [`VelocityField::eval`], with one label per sample (`labels.len()` = batch);
    /// [`NULL_LABEL`] selects the unconditional field.
    fn eval_labels(
        &mut self,
        net: NetRole,
        x: &[T],
        cond: Option<&[T]>,
        t: f64,
        labels: &[u32],
        out: &mut [T],
    ) -> Result<()>;
}

impl<T: Real, F: ConditionalField<T> + ?Sized> ConditionalField<T> for &mut F {
    fn sample_numel(&self) -> usize {
        (**self).sample_numel()
    }
    fn activation_bytes(&self, batch: usize) -> u64 {
        (**self).activation_bytes(batch)
    }
    fn eval_labels(
        &mut self,
        net: NetRole,
        x: &[T],
        cond: Option<&[T]>,
        t: f64,
        labels: &[u32],
        out: &mut [T],
    ) -> Result<()> {
        (**self).eval_labels(net, x, cond, t, labels, out)
    }
}
