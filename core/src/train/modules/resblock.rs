//! The UNet's residual block and its convolution helpers.

use crate::config::GROUPNORM_EPS;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor};

/// GroupNorm with `groups` groups over `c` channels, eps [`GROUPNORM_EPS`] (biased variance,
/// affine), as the CPU reference.
pub(crate) fn group_norm(groups: usize, c: usize, device: &Device) -> GroupNorm {
    GroupNormConfig::new(groups, c).with_epsilon(GROUPNORM_EPS as f64).init(device)
}

/// 3×3 convolution, padding 1 on every side, stride 1 or 2.
pub(crate) fn conv3(cin: usize, cout: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [3, 3]).with_stride([stride, stride]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device)
}

/// 1×1 convolution (a per-pixel linear), stored `[cout, cin, 1, 1]` like the reference's skip.
pub(crate) fn conv1(cin: usize, cout: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [1, 1]).init(device)
}

/// Nearest-neighbour ×2 upsampling of `[B, C, H, W]` to `[B, C, 2H, 2W]`: output pixel
/// `(y, x)` is input pixel `(y/2, x/2)`, made by broadcasting (exact; no index arithmetic in
/// floating point).
pub(crate) fn upsample_nearest2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let x: Tensor<6> = x.reshape([b, c, h, 1, w, 1]);
    x.expand([b, c, h, 2, w, 2]).reshape([b, c, 2 * h, 2 * w])
}

/// ```text
/// h = conv1(SiLU(norm1(x))) + temb(SiLU(temb))[:, :, None, None]
/// h = conv2(Dropout(SiLU(norm2(h))))
/// return skip(x) + h            (skip: 1×1 conv when cin ≠ cout, else identity)
/// ```
///
/// The dropout (training only, see [`Mlp`](super::Mlp)) sits before `conv2`, as in DDPM.
#[derive(Module, Debug)]
pub struct ResBlock {
    /// `<name>.norm1` over `cin`.
    pub norm1: GroupNorm,
    /// `<name>.conv1`: 3×3, `cin` → `cout`.
    pub conv1: Conv2d,
    /// `<name>.temb`: linear 4C → `cout`.
    pub temb: Linear,
    /// `<name>.norm2` over `cout`.
    pub norm2: GroupNorm,
    /// `<name>.conv2`: 3×3, `cout` → `cout`.
    pub conv2: Conv2d,
    /// `<name>.skip`: 1×1, `cin` → `cout`, only when they differ.
    pub skip: Option<Conv2d>,
    /// Training-only dropout before `conv2`.
    pub dropout: Dropout,
}

impl ResBlock {
    /// A fresh block.
    pub fn new(cin: usize, cout: usize, temb_dim: usize, groups: usize, dropout: f64, device: &Device) -> Self {
        ResBlock {
            norm1: group_norm(groups, cin, device),
            conv1: conv3(cin, cout, 1, device),
            temb: LinearConfig::new(temb_dim, cout).init(device),
            norm2: group_norm(groups, cout, device),
            conv2: conv3(cout, cout, 1, device),
            skip: (cin != cout).then(|| conv1(cin, cout, device)),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    /// `x` `[B, cin, H, W]`, `temb_act` = SiLU(time (+ class) embedding) `[B, 4C]`.
    pub fn forward(&self, x: Tensor<4>, temb_act: Tensor<2>) -> Tensor<4> {
        let [b, _, _, _] = x.dims();
        let h = self.conv1.forward(silu(self.norm1.forward(x.clone())));
        let [_, cout, _, _] = h.dims();
        let h = h + self.temb.forward(temb_act).reshape([b, cout, 1, 1]);
        let h = self.conv2.forward(self.dropout.forward(silu(self.norm2.forward(h))));
        let skip = match &self.skip {
            Some(conv) => conv.forward(x),
            None => x,
        };
        skip + h
    }
}
