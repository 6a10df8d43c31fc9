//! The UNet of [`UnetConfig`], executing the plan of [`UnetConfig::layers`]. Activations are
//! NHWC (`[batch][height][width][channels]`): every 3×3 conv is one GEMM over all pixels of the
//! batch, every 1×1 conv and attention projection a GEMM over pixel rows, and channel
//! concatenation interleaves per pixel.

use super::activation::silu_inplace;
use super::attention::Attention;
use super::conv::{Conv3x3, ConvMode};
use super::embed::{add_class_rows, time_embedding};
use super::gemm::Init;
use super::linear::Linear;
use super::norm::GroupNorm;
use super::workspace::{Buf, Workspace};
use super::Loader;
use crate::config::{ArchConfig, UnetConfig, UnetLayer};
use crate::error::{Error, Result};

/// `ResBlock(x) = skip(x) + conv2(SiLU(norm2(conv1(SiLU(norm1(x))) + temb(SiLU(temb)))))`.
#[derive(Clone, Debug)]
struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv3x3,
    temb: Linear,
    norm2: GroupNorm,
    conv2: Conv3x3,
    /// 1×1 conv when the channel count changes.
    skip: Option<Linear>,
}

impl ResBlock {
    /// `x` is `[batch][h·w][cin]`; `temb_act` is `SiLU(temb)`, `[batch][4C]`.
    fn forward(&self, x: &[f32], batch: usize, h: usize, w: usize, temb_act: &[f32], ws: &mut Workspace) -> Buf<f32> {
        let (cin, cout) = (self.conv1.cin, self.conv1.cout);
        let n = batch * h * w;
        let mut a = ws.take(n * cin);
        self.norm1.forward(x, batch, h * w, true, &mut a, ws);
        // Per-sample bias of conv1: its own bias plus the projected time embedding.
        let mut tb = ws.take(batch * cout);
        self.temb.forward(temb_act, batch, &mut tb, ws);
        for row in tb.chunks_exact_mut(cout) {
            row.iter_mut().zip(&self.conv1.bias).for_each(|(t, b)| *t += *b);
        }
        let mut h1 = ws.take(n * cout);
        self.conv1.forward_init(&a, batch, h, w, ConvMode::Same, &mut h1, Init::RowBias { bias: &tb, rows_per_group: h * w }, ws);
        ws.give(a);
        ws.give(tb);
        let mut a2 = ws.take(n * cout);
        self.norm2.forward(&h1, batch, h * w, true, &mut a2, ws);
        ws.give(h1);
        let mut y = ws.take(n * cout);
        match &self.skip {
            Some(skip) => skip.forward(x, n, &mut y, ws),
            None => y.copy_from_slice(x),
        }
        self.conv2.forward_init(&a2, batch, h, w, ConvMode::Same, &mut y, Init::AddBias(&self.conv2.bias), ws);
        ws.give(a2);
        y
    }
}

/// One step of the plan, with its weights.
#[derive(Clone, Debug)]
enum Layer {
    ConvIn(Conv3x3),
    Res { block: Box<ResBlock>, h: usize, w: usize, concat_skip: bool, push_skip: bool },
    Down { conv: Conv3x3, h: usize, w: usize },
    Attn { attn: Attention, h: usize, w: usize },
    Up { conv: Conv3x3, h: usize, w: usize },
    Out { norm: GroupNorm, conv: Conv3x3, h: usize, w: usize },
}

/// The CPU reference UNet (see [`UnetConfig`] for the architecture).
#[derive(Clone, Debug)]
pub struct Unet {
    arch: ArchConfig,
    cfg: UnetConfig,
    lin1: Linear,
    lin2: Linear,
    class_embed: Option<Vec<f32>>,
    layers: Vec<Layer>,
    max_skips: usize,
    /// The largest buffer a forward takes, in values per sample.
    pub(crate) max_per_sample: usize,
}

impl Unet {
    pub(crate) fn new(cfg: &UnetConfig, p: &Loader<'_>) -> Result<Self> {
        let (c, td, g) = (cfg.base_channels, cfg.temb_dim(), cfg.groups);
        let mut layers = Vec::new();
        let mut skips = 0usize;
        let mut max_skips = 0usize;
        let mut max_per_sample = (cfg.channels + cfg.cond_channels) * cfg.height * cfg.width;
        for layer in cfg.layers() {
            max_per_sample = max_per_sample.max(match &layer {
                UnetLayer::Res { spec, h, w, .. } => h * w * spec.cin.max(spec.cout),
                UnetLayer::Attn { ch, h, w } => (h * w * 3 * ch).max(h * w * h * w),
                UnetLayer::Up { ch, h, w, .. } => 4 * h * w * ch,
                UnetLayer::ConvIn { cout, .. } => cfg.height * cfg.width * cout,
                UnetLayer::Down { ch, h, w, .. } | UnetLayer::Out { cin: ch, h, w, .. } => h * w * ch,
            });
            layers.push(match layer {
                UnetLayer::ConvIn { cin, cout } => {
                    skips += 1;
                    Layer::ConvIn(p.conv3("conv_in", cin, cout)?)
                }
                UnetLayer::Res { spec, h, w, concat_skip, push_skip } => {
                    let n = &spec.name;
                    let (ci, co) = (spec.cin, spec.cout);
                    let block = Box::new(ResBlock {
                        norm1: p.norm(&format!("{n}.norm1"), ci, g)?,
                        conv1: p.conv3(&format!("{n}.conv1"), ci, co)?,
                        temb: p.linear(&format!("{n}.temb"), td, co)?,
                        norm2: p.norm(&format!("{n}.norm2"), co, g)?,
                        conv2: p.conv3(&format!("{n}.conv2"), co, co)?,
                        skip: if ci != co { Some(p.conv1(&format!("{n}.skip"), ci, co)?) } else { None },
                    });
                    skips = (skips + usize::from(push_skip)).saturating_sub(usize::from(concat_skip));
                    Layer::Res { block, h, w, concat_skip, push_skip }
                }
                UnetLayer::Down { name, ch, h, w } => {
                    skips += 1;
                    Layer::Down { conv: p.conv3(&name, ch, ch)?, h, w }
                }
                UnetLayer::Attn { ch, h, w } => Layer::Attn {
                    attn: Attention {
                        ch,
                        heads: cfg.attention_heads,
                        norm: p.norm("mid.attn.norm", ch, g)?,
                        qkv: p.linear("mid.attn.qkv", ch, 3 * ch)?,
                        proj: p.linear("mid.attn.proj", ch, ch)?,
                    },
                    h,
                    w,
                },
                UnetLayer::Up { name, ch, h, w } => Layer::Up { conv: p.conv3(&name, ch, ch)?, h, w },
                UnetLayer::Out { cin, cout, h, w } => Layer::Out { norm: p.norm("out.norm", cin, g)?, conv: p.conv3("out.conv", cin, cout)?, h, w },
            });
            max_skips = max_skips.max(skips);
        }
        Ok(Unet {
            arch: ArchConfig::Unet(cfg.clone()),
            cfg: cfg.clone(),
            lin1: p.linear("time.lin1", c, td)?,
            lin2: p.linear("time.lin2", td, td)?,
            class_embed: if cfg.num_classes > 0 { Some(p.get("class_embed.weight", &[cfg.num_classes + 1, td])?.to_vec()) } else { None },
            layers,
            max_skips,
            max_per_sample,
        })
    }

    /// The architecture.
    pub fn arch(&self) -> &ArchConfig {
        &self.arch
    }

    /// Inputs already validated by `Network::forward`. `x`, `cond` and `out` are NCHW.
    pub(crate) fn forward(&self, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: Option<&[u32]>, out: &mut [f32], ws: &mut Workspace) -> Result<()> {
        let cfg = &self.cfg;
        let batch = t.len();
        let (c, td) = (cfg.base_channels, cfg.temb_dim());

        // SiLU(temb): the only form in which the residual blocks use the time embedding.
        let mut emb = ws.take(batch * c);
        time_embedding(t, c, &mut emb);
        let mut e1 = ws.take(batch * td);
        self.lin1.forward(&emb, batch, &mut e1, ws);
        silu_inplace(&mut e1);
        let mut temb = ws.take(batch * td);
        self.lin2.forward(&e1, batch, &mut temb, ws);
        if let Some(table) = &self.class_embed {
            add_class_rows(table, cfg.num_classes, labels, &mut temb);
        }
        silu_inplace(&mut temb);
        ws.give(emb);
        ws.give(e1);

        // concat[x, cond] along channels, NCHW → NHWC.
        let (h0, w0) = (cfg.height, cfg.width);
        let hw0 = h0 * w0;
        let (cx, cc) = (cfg.channels, cfg.cond_channels);
        let cin0 = cx + cc;
        let mut x0 = ws.take(batch * hw0 * cin0);
        for b in 0..batch {
            for ch in 0..cin0 {
                let plane = if ch < cx { &x[(b * cx + ch) * hw0..][..hw0] } else { &cond.unwrap_or(&[])[(b * cc + ch - cx) * hw0..][..hw0] };
                for (q, &v) in plane.iter().enumerate() {
                    x0[(b * hw0 + q) * cin0 + ch] = v;
                }
            }
        }

        // On the way down the current activation is always the top skip; from the middle block
        // on it is `cur`.
        let mut skips = std::mem::take(&mut ws.skips);
        skips.reserve(self.max_skips);
        let mut cur: Option<Buf<f32>> = None;
        let broken = || Error::BadConfig("unet plan pops a skip it never pushed".into());
        for layer in &self.layers {
            match layer {
                Layer::ConvIn(conv) => {
                    let mut y = ws.take(batch * hw0 * conv.cout);
                    conv.forward(&x0, batch, h0, w0, ConvMode::Same, &mut y, ws);
                    skips.push(y);
                }
                Layer::Res { block, h, w, concat_skip, push_skip } => {
                    let n = batch * h * w;
                    let y = if *concat_skip {
                        let a = cur.take().ok_or_else(broken)?;
                        let s = skips.pop().ok_or_else(broken)?;
                        let (ca, cs) = (a.len() / n, s.len() / n);
                        let mut cat = ws.take(n * (ca + cs));
                        for ((dst, pa), ps) in cat.chunks_exact_mut(ca + cs).zip(a.chunks_exact(ca)).zip(s.chunks_exact(cs)) {
                            dst[..ca].copy_from_slice(pa);
                            dst[ca..].copy_from_slice(ps);
                        }
                        ws.give(a);
                        ws.give(s);
                        let y = block.forward(&cat, batch, *h, *w, &temb, ws);
                        ws.give(cat);
                        y
                    } else {
                        let input: &[f32] = match &cur { Some(b) => b, None => skips.last().ok_or_else(broken)? };
                        let y = block.forward(input, batch, *h, *w, &temb, ws);
                        if let Some(b) = cur.take() {
                            ws.give(b);
                        }
                        y
                    };
                    if *push_skip {
                        skips.push(y);
                    } else {
                        cur = Some(y);
                    }
                }
                Layer::Down { conv, h, w } => {
                    let (oh, ow) = ConvMode::Down.out_hw(*h, *w);
                    let mut y = ws.take(batch * oh * ow * conv.cout);
                    conv.forward(skips.last().ok_or_else(broken)?, batch, *h, *w, ConvMode::Down, &mut y, ws);
                    skips.push(y);
                }
                Layer::Attn { attn, h, w } => {
                    let a = cur.take().ok_or_else(broken)?;
                    cur = Some(attn.forward(&a, batch, h * w, ws));
                    ws.give(a);
                }
                Layer::Up { conv, h, w } => {
                    let a = cur.take().ok_or_else(broken)?;
                    let mut y = ws.take(batch * 4 * h * w * conv.cout);
                    conv.forward(&a, batch, *h, *w, ConvMode::Up, &mut y, ws);
                    ws.give(a);
                    cur = Some(y);
                }
                Layer::Out { norm, conv, h, w } => {
                    let a = cur.take().ok_or_else(broken)?;
                    let hw = h * w;
                    let mut na = ws.take(a.len());
                    norm.forward(&a, batch, hw, true, &mut na, ws);
                    ws.give(a);
                    let mut y = ws.take(batch * hw * conv.cout);
                    conv.forward(&na, batch, *h, *w, ConvMode::Same, &mut y, ws);
                    ws.give(na);
                    // NHWC → NCHW
                    let co = conv.cout;
                    for b in 0..batch {
                        for q in 0..hw {
                            for ch in 0..co {
                                out[(b * co + ch) * hw + q] = y[(b * hw + q) * co + ch];
                            }
                        }
                    }
                    ws.give(y);
                }
            }
        }
        ws.give(x0);
        for s in skips.drain(..) {
            ws.give(s);
        }
        if let Some(b) = cur.take() {
            ws.give(b);
        }
        ws.give(temb);
        ws.skips = skips;
        Ok(())
    }
}
