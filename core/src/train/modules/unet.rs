//! The burn mirror of the CPU reference UNet ([`crate::nn::Unet`], [`UnetConfig`]).

use super::attention::Attention;
use super::embedding::{add_class, host_times, time_features, TimeEmbedding};
use super::resblock::{conv3, group_norm, upsample_nearest2, ResBlock};
use crate::config::{UnetConfig, UnetLayer};
use crate::error::{Error, Result};
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Embedding, EmbeddingConfig, GroupNorm};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Int, Tensor};

/// One resolution level on the way down: `down.{l}.res.{j}`, then `down.{l}.downsample`
/// (3×3, stride 2, padding 1) on every level but the last.
#[derive(Module, Debug)]
pub struct DownLevel {
    /// `num_res_blocks` blocks.
    pub res: Vec<ResBlock>,
    /// The stride-2 convolution, `None` on the last level.
    pub downsample: Option<Conv2d>,
}

/// The middle: `mid.res.0`, optional `mid.attn`, `mid.res.1`.
#[derive(Module, Debug)]
pub struct MidBlock {
    /// The two residual blocks.
    pub res: Vec<ResBlock>,
    /// Self-attention between them, when configured.
    pub attn: Option<Attention>,
}

/// One resolution level on the way up: `up.{l}.res.{j}` (each on `concat[h, skip]`), then
/// `up.{l}.upsample` (nearest ×2, then 3×3) on every level but level 0. Stored by `l`; run from
/// the last level to level 0.
#[derive(Module, Debug)]
pub struct UpLevel {
    /// `num_res_blocks + 1` blocks.
    pub res: Vec<ResBlock>,
    /// The upsampling convolution, `None` on level 0.
    pub upsample: Option<Conv2d>,
}

/// The head: `out.conv(SiLU(out.norm(h)))`.
#[derive(Module, Debug)]
pub struct OutHead {
    /// `out.norm`.
    pub norm: GroupNorm,
    /// `out.conv`: 3×3 to the data channels.
    pub conv: Conv2d,
}

/// UNet for images, built from [`UnetConfig::layers`] (the plan every backend executes), its
/// module tree named like the tensors of [`UnetConfig::params`]:
///
/// ```text
/// temb = time.lin2(SiLU(time.lin1(sinusoidal(net_time(t), C)))) [+ class_embed[row]]
/// h = conv_in(concat[x, cond]);  skips = [h]
/// down levels: ResBlocks (push each), downsample (push)
/// mid: ResBlock, [Attention], ResBlock
/// up levels, last to first: ResBlock(concat[h, skips.pop()]) × (num_res_blocks + 1), upsample
/// out = out.conv(SiLU(out.norm(h)))
/// ```
///
/// Dropout (training only) sits inside every [`ResBlock`] before `conv2`; see [`super::Mlp`].
#[derive(Module, Debug)]
pub struct Unet {
    /// `time.lin1` (C → 4C), `time.lin2` (4C → 4C).
    pub time: TimeEmbedding,
    /// `class_embed.weight` `[num_classes + 1, 4C]`; `None` when unconditional.
    pub class_embed: Option<Embedding>,
    /// `conv_in`: 3×3, `channels + cond_channels` → C.
    pub conv_in: Conv2d,
    /// `down.{l}`, by level.
    pub down: Vec<DownLevel>,
    /// `mid`.
    pub mid: MidBlock,
    /// `up.{l}`, by level (executed in reverse).
    pub up: Vec<UpLevel>,
    /// `out`.
    pub out: OutHead,
    /// The architecture (not a parameter).
    #[module(skip)]
    pub config: UnetConfig,
}

/// `"down.1.res.0"` → `(1, 0)` for the prefix `"down"`.
fn level_index(name: &str, prefix: &str) -> Option<(usize, usize)> {
    let mut it = name.strip_prefix(prefix)?.strip_prefix('.')?.split('.');
    let l = it.next()?.parse().ok()?;
    let j = match (it.next(), it.next()) {
        (Some("res"), Some(j)) => j.parse().ok()?,
        (Some(_), None) => 0,
        _ => return None,
    };
    Some((l, j))
}

impl Unet {
    /// A freshly initialised UNet (burn's default init: linears and convolutions
    /// uniform(±1/√fan_in) like PyTorch, GroupNorm 1 and 0, the class embedding N(0, 1)) on
    /// `device`, with dropout probability `dropout` in `[0, 1)` inside the residual blocks.
    pub fn new(config: &UnetConfig, dropout: f64, device: &Device) -> Result<Self> {
        config.validate()?;
        super::check_dropout(dropout)?;
        let (c, td, g) = (config.base_channels, config.temb_dim(), config.groups);
        let levels = config.channel_mult.len();
        let plan_error = |what: &str| Error::BadConfig(format!("unet plan: unexpected {what}"));
        let mut conv_in = None;
        let mut down: Vec<DownLevel> = (0..levels).map(|_| DownLevel { res: Vec::new(), downsample: None }).collect();
        let mut up: Vec<UpLevel> = (0..levels).map(|_| UpLevel { res: Vec::new(), upsample: None }).collect();
        let mut mid = MidBlock { res: Vec::new(), attn: None };
        let mut out = None;
        // Every layer lands in the field its parameter names point to; the index checks make
        // the module tree's order the plan's order.
        for layer in config.layers() {
            match layer {
                UnetLayer::ConvIn { cin, cout } => conv_in = Some(conv3(cin, cout, 1, device)),
                UnetLayer::Res { spec, .. } => {
                    let block = ResBlock::new(spec.cin, spec.cout, td, g, dropout, device);
                    let n = &spec.name;
                    if let Some((l, j)) = level_index(n, "down") {
                        let lv = down.get_mut(l).filter(|lv| lv.res.len() == j).ok_or_else(|| plan_error(n))?;
                        lv.res.push(block);
                    } else if let Some((l, j)) = level_index(n, "up") {
                        let lv = up.get_mut(l).filter(|lv| lv.res.len() == j).ok_or_else(|| plan_error(n))?;
                        lv.res.push(block);
                    } else if *n == format!("mid.res.{}", mid.res.len()) {
                        mid.res.push(block);
                    } else {
                        return Err(plan_error(n));
                    }
                }
                UnetLayer::Down { name, ch, .. } => {
                    let (l, _) = level_index(&name, "down").ok_or_else(|| plan_error(&name))?;
                    down.get_mut(l).ok_or_else(|| plan_error(&name))?.downsample = Some(conv3(ch, ch, 2, device));
                }
                UnetLayer::Attn { ch, .. } => mid.attn = Some(Attention::new(ch, config.attention_heads, g, device)),
                UnetLayer::Up { name, ch, .. } => {
                    let (l, _) = level_index(&name, "up").ok_or_else(|| plan_error(&name))?;
                    up.get_mut(l).ok_or_else(|| plan_error(&name))?.upsample = Some(conv3(ch, ch, 1, device));
                }
                UnetLayer::Out { cin, cout, .. } => out = Some(OutHead { norm: group_norm(g, cin, device), conv: conv3(cin, cout, 1, device) }),
            }
        }
        Ok(Unet {
            time: TimeEmbedding::new(c, td, device),
            class_embed: (config.num_classes > 0).then(|| EmbeddingConfig::new(config.num_classes + 1, td).init(device)),
            conv_in: conv_in.ok_or_else(|| plan_error("plan without conv_in"))?,
            down,
            mid,
            up,
            out: out.ok_or_else(|| plan_error("plan without out"))?,
            config: config.clone(),
        })
    }

    /// The sinusoidal time features this network embeds, `[t.len(), base_channels]`
    /// (see [`time_features`]).
    pub fn time_features(&self, t: &[f32], device: &Device) -> Tensor<2> {
        time_features(t, self.config.base_channels, device)
    }

    /// The velocity `[B, channels, H, W]` at `x` `[B, channels, H, W]`, Beeline times `t` `[B]`
    /// (read back to the host for the exact sinusoidal features), `cond`
    /// `[B, cond_channels, H, W]` iff `cond_channels > 0`, and class rows `labels` `[B]` from
    /// [`class_rows`](super::class_rows) (`None` = all null; ignored when unconditional).
    pub fn forward(&self, x: Tensor<4>, cond: Option<Tensor<4>>, t: Tensor<1>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        let device = x.device();
        let features = self.time_features(&host_times(t), &device);
        self.forward_features(x, cond, features, labels)
    }

    /// [`forward`](Self::forward) with the time features already made (by
    /// [`time_features`](Self::time_features)); no host round trip.
    pub fn forward_features(&self, x: Tensor<4>, cond: Option<Tensor<4>>, features: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        let temb = self.time.forward(features);
        let temb = silu(add_class(temb, self.class_embed.as_ref(), self.config.num_classes, labels));
        let xin = match (self.config.cond_channels, cond) {
            (0, None) => x,
            (n, Some(c)) if n > 0 => Tensor::cat(vec![x, c], 1),
            (n, _) => panic!("this UNet takes cond_channels = {n}; cond must be given iff n > 0"),
        };
        let mut h = self.conv_in.forward(xin);
        let mut skips = vec![h.clone()];
        for level in &self.down {
            for block in &level.res {
                h = block.forward(h, temb.clone());
                skips.push(h.clone());
            }
            if let Some(conv) = &level.downsample {
                h = conv.forward(h);
                skips.push(h.clone());
            }
        }
        let mut mid = self.mid.res.iter();
        if let Some(block) = mid.next() {
            h = block.forward(h, temb.clone());
        }
        if let Some(attn) = &self.mid.attn {
            h = attn.forward(h);
        }
        for block in mid {
            h = block.forward(h, temb.clone());
        }
        for level in self.up.iter().rev() {
            for block in &level.res {
                let skip = skips.pop().expect("the plan pops only skips it pushed");
                h = block.forward(Tensor::cat(vec![h, skip], 1), temb.clone());
            }
            if let Some(conv) = &level.upsample {
                h = conv.forward(upsample_nearest2(h));
            }
        }
        self.out.conv.forward(silu(self.out.norm.forward(h)))
    }
}
