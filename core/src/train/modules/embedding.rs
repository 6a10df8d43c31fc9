//! The time embedding MLP, the class embedding lookup and the host-side inputs both need
//! (sinusoidal time features, label → embedding row).

use crate::error::{Error, Result};
use crate::field::NULL_LABEL;
use burn::module::Module;
use burn::nn::{Embedding, Linear, LinearConfig};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// `lin2(SiLU(lin1(features)))`: Beeline's `time.lin1`, `time.lin2`.
#[derive(Module, Debug)]
pub struct TimeEmbedding {
    /// `time.lin1`: features → width.
    pub lin1: Linear,
    /// `time.lin2`: width → width.
    pub lin2: Linear,
}

impl TimeEmbedding {
    /// Fresh layers (burn's default init: PyTorch's uniform(±1/√fan_in)).
    pub fn new(features: usize, width: usize, device: &Device) -> Self {
        TimeEmbedding { lin1: LinearConfig::new(features, width).init(device), lin2: LinearConfig::new(width, width).init(device) }
    }

    /// `features` `[B, features]` → `[B, width]`.
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        self.lin2.forward(silu(self.lin1.forward(features)))
    }
}

/// The sinusoidal time features `[t.len(), dim]` of Beeline times `t` (0 = noise, 1 = data):
/// row `b` is `nn::embed::sinusoidal(net_time(t[b]))`, computed on the host by the very function
/// the CPU reference uses (f64 with the pure-Rust libm, rounded to f32), so the features are
/// bit-identical to the reference's. Computing them on the device in f32 would not be: the
/// argument `τ·freq` with τ up to 1000 loses ~3e-5 to rounding, which reaches the output at the
/// 1e-5 level. The features carry no gradient, so nothing is lost by making them on the host.
pub fn time_features(t: &[f32], dim: usize, device: &Device) -> Tensor<2> {
    let mut out = vec![0.0f32; t.len() * dim];
    crate::nn::embed::time_embedding(t, dim, &mut out);
    Tensor::from_data(TensorData::new(out, [t.len(), dim]), device)
}

/// Reads a `[B]` time tensor back to the host (a `B`-float transfer; a device sync on GPUs).
pub(crate) fn host_times(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().expect("an f32 tensor converts to Vec<f32>")
}

/// Beeline labels → class-embedding rows for a network with `num_classes` classes: a label
/// `0..num_classes` is its own row, [`NULL_LABEL`] is the null row `num_classes` (classifier-free
/// guidance's unconditional branch). Any other label is an [`Error::InvalidInput`], as in the
/// CPU reference. The result is the `labels` argument of the modules' `forward`.
pub fn class_rows(labels: &[u32], num_classes: usize, device: &Device) -> Result<Tensor<1, Int>> {
    if num_classes == 0 {
        return Err(Error::InvalidInput("class rows requested for an unconditional network".into()));
    }
    let mut rows = Vec::with_capacity(labels.len());
    for (i, &l) in labels.iter().enumerate() {
        rows.push(if l == NULL_LABEL {
            num_classes as i64
        } else if (l as usize) < num_classes {
            l as i64
        } else {
            return Err(Error::InvalidInput(format!("label {l} at sample {i} is not in 0..{num_classes}")));
        });
    }
    Ok(Tensor::from_data(TensorData::new(rows, [labels.len()]), device))
}

/// `e + class_embed[rows]` (all null rows when `rows` is `None`); `e` unchanged for an
/// unconditional network (`table` is `None`).
pub(crate) fn add_class(e: Tensor<2>, table: Option<&Embedding>, num_classes: usize, rows: Option<Tensor<1, Int>>) -> Tensor<2> {
    let Some(table) = table else { return e };
    let [batch, width] = e.dims();
    let rows = rows.unwrap_or_else(|| Tensor::from_data(TensorData::new(vec![num_classes as i64; batch], [batch]), &e.device()));
    let rows: Tensor<2, Int> = rows.reshape([batch, 1]);
    e + table.forward(rows).reshape([batch, width])
}
