//! The burn mirror of the CPU reference MLP ([`crate::nn::Mlp`], [`MlpConfig`]).

use super::embedding::{add_class, host_times, time_features, TimeEmbedding};
use crate::config::MlpConfig;
use crate::error::Result;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Int, Tensor};

/// MLP for points, field for field the tensors of [`MlpConfig::params`]:
///
/// ```text
/// e = time.lin2(SiLU(time.lin1(sinusoidal(net_time(t))))) [+ class_embed[row]]
/// h = input(concat[x, cond]) + e
/// h = hidden.i(Dropout(SiLU(h)))      for i in 0..depth
/// out = output(SiLU(h))
/// ```
///
/// Dropout (probability `dropout`, given at construction) acts only while training: burn's
/// `Dropout` is the identity on a device without autodiff and in a module switched to
/// inference with `Module::valid()`. It has no parameters, so exported weights and the CPU
/// reference (which has no dropout) are unaffected. It sits before each hidden layer, not before
/// the input or the output layer.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `time.lin1`, `time.lin2`.
    pub time: TimeEmbedding,
    /// `class_embed.weight` `[num_classes + 1, hidden]`; `None` when unconditional.
    pub class_embed: Option<Embedding>,
    /// `input`: `dim + cond_dim` → hidden.
    pub input: Linear,
    /// `hidden.{i}`: hidden → hidden.
    pub hidden: Vec<Linear>,
    /// `output`: hidden → dim.
    pub output: Linear,
    /// Training-only dropout before each hidden layer.
    pub dropout: Dropout,
    /// The architecture (not a parameter).
    #[module(skip)]
    pub config: MlpConfig,
}

impl Mlp {
    /// A freshly initialised MLP (burn's default init: linears uniform(±1/√fan_in) like PyTorch,
    /// the class embedding N(0, 1)) on `device`, with dropout probability `dropout` in `[0, 1)`.
    pub fn new(config: &MlpConfig, dropout: f64, device: &Device) -> Result<Self> {
        config.validate()?;
        super::check_dropout(dropout)?;
        let w = config.hidden;
        Ok(Mlp {
            time: TimeEmbedding::new(config.time_embed_dim, w, device),
            class_embed: (config.num_classes > 0).then(|| EmbeddingConfig::new(config.num_classes + 1, w).init(device)),
            input: LinearConfig::new(config.dim + config.cond_dim, w).init(device),
            hidden: (0..config.depth).map(|_| LinearConfig::new(w, w).init(device)).collect(),
            output: LinearConfig::new(w, config.dim).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            config: config.clone(),
        })
    }

    /// The sinusoidal time features this network embeds, `[t.len(), time_embed_dim]`
    /// (see [`time_features`]).
    pub fn time_features(&self, t: &[f32], device: &Device) -> Tensor<2> {
        time_features(t, self.config.time_embed_dim, device)
    }

    /// The velocity `[B, dim]` at `x` `[B, dim]`, Beeline times `t` `[B]` (read back to the host
    /// for the exact sinusoidal features), `cond` `[B, cond_dim]` iff `cond_dim > 0`, and class
    /// rows `labels` `[B]` from [`class_rows`](super::class_rows) (`None` = all null; ignored
    /// when unconditional).
    pub fn forward(&self, x: Tensor<2>, cond: Option<Tensor<2>>, t: Tensor<1>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        let device = x.device();
        let features = self.time_features(&host_times(t), &device);
        self.forward_features(x, cond, features, labels)
    }

    /// [`forward`](Self::forward) with the time features already made (by
    /// [`time_features`](Self::time_features)); no host round trip.
    pub fn forward_features(&self, x: Tensor<2>, cond: Option<Tensor<2>>, features: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        let e = self.time.forward(features);
        let e = add_class(e, self.class_embed.as_ref(), self.config.num_classes, labels);
        let xin = match (self.config.cond_dim, cond) {
            (0, None) => x,
            (n, Some(c)) if n > 0 => Tensor::cat(vec![x, c], 1),
            (n, _) => panic!("this MLP takes cond_dim = {n} conditioning values per sample; cond must be given iff n > 0"),
        };
        let mut h = self.input.forward(xin) + e;
        for layer in &self.hidden {
            h = layer.forward(self.dropout.forward(silu(h)));
        }
        self.output.forward(silu(h))
    }
}
