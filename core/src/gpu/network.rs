//! A network on the GPU: its weights uploaded once, compiled into a batch-independent graph of
//! kernel steps that follows the CPU reference (`nn::mlp`, `nn::unet`, which execute
//! [`UnetConfig::layers`]) layer for layer, and executors ([`NetExec`]) that own the
//! activation buffers for one maximum batch and the bound dispatch lists per batch size.
//!
//! Activations are NHWC like the CPU's. Intermediate buffers come from a pool assigned at
//! compile time (a buffer is reused by a later layer once its last reader has run), so a
//! (network, batch) needs only a handful of buffers; each is sized per sample and allocated once
//! for the executor's maximum batch. One network evaluation is one compute pass.

use super::context::{GpuContext, STORAGE_USAGE};
use super::kernels::attention::{scores_gemm, softmax, values_gemm};
use super::kernels::concat::{concat_channels, nchw_to_nhwc, nhwc_to_nchw};
use super::kernels::KernelVariant;
use super::kernels::conv3x3::{Conv, Mode, RowBiasAt, pack_conv3x3};
use super::kernels::groupnorm::Norm;
use super::kernels::linear::{ACCUMULATE, Gemm, HAS_BIAS, HAS_ROWBIAS, RESIDUAL, SILU, pack_linear};
use super::kernels::time_embed::{class_rows, freq_table, sinusoidal};
use super::kernels::{DispatchList, MAX_GROUPS, Spec, encode_pass};
use super::profile::{DispatchCount, DispatchKind, KernelTime, Timestamps};
use crate::config::{ArchConfig, MlpConfig, UnetConfig, UnetLayer};
use crate::error::{Error, Result};
use crate::nn::check_inputs;
use crate::weights::Weights;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A buffer a step reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Buf {
    /// Pooled activation `i`.
    Act(usize),
    /// Uploaded weight `i`.
    Weight(usize),
    /// The network input `x`, `[batch][numel]` (NCHW for images).
    X,
    /// The conditioning input, `[batch][cond_numel]`.
    Cond,
    /// Beeline time per sample, `[batch]` f32.
    T,
    /// Labels per sample, `[batch]` u32 (`NULL_LABEL` = the null class).
    Labels,
    /// The network output, `[batch][numel]`.
    Out,
}

/// One kernel launch of the graph, with per-sample sizes; [`Step::spec`] makes it concrete
/// for a batch.
#[derive(Clone, Debug)]
enum Step {
    /// `C = A·B (+ epilogue)`, either over `rows_per_sample·batch` dense rows (`heads == 0`) or
    /// batched over (sample, head) with the strides of `g` (`heads > 0`).
    Gemm { a: Buf, b: Buf, bias: Option<Buf>, rowbias: Option<Buf>, c: Buf, g: Gemm, rows_per_sample: u32, heads: u32 },
    /// `rowbias`: a per-sample bias and where it lies (`HAS_ROWBIAS`), or a residual laid out
    /// as `dst` (`RESIDUAL`).
    Conv { src: Buf, w: Buf, bias: Buf, rowbias: Option<(Buf, RowBiasAt)>, dst: Buf, p: Conv },
    Norm { x: Buf, gamma: Buf, beta: Buf, y: Buf, p: Norm },
    Sinusoidal { freq: Buf, out: Buf, dim: u32 },
    ClassRows { table: Buf, out: Buf, dim: u32, num_classes: u32, silu: bool },
    /// `out = [a, b]` per row.
    Concat { a: Buf, b: Buf, out: Buf, rows_per_sample: u32, ca: u32, cb: u32 },
    /// `X` (and `Cond`), NCHW → NHWC into `out`.
    ToNhwc { out: Buf, cx: u32, cc: u32, hw: u32 },
    /// `src` NHWC → `Out` NCHW.
    ToNchw { src: Buf, c: u32, hw: u32 },
    Softmax { s: Buf, rows_per_sample: u32, l: u32, scale: f32 },
}

/// The pool of activation buffers while compiling: per-sample sizes (f32 values) and which
/// are free.
#[derive(Default)]
struct Pool {
    sizes: Vec<usize>,
    free: Vec<bool>,
}

impl Pool {
    /// A buffer of at least `per_sample` values: the smallest free one that fits, else the
    /// largest free one grown, else a new one.
    fn take(&mut self, per_sample: usize) -> Buf {
        let free: Vec<usize> = (0..self.sizes.len()).filter(|&i| self.free[i]).collect();
        let fit = free.iter().copied().filter(|&i| self.sizes[i] >= per_sample).min_by_key(|&i| self.sizes[i]);
        let pick = fit.or_else(|| free.iter().copied().max_by_key(|&i| self.sizes[i]));
        let i = match pick {
            Some(i) => {
                self.sizes[i] = self.sizes[i].max(per_sample);
                i
            }
            None => {
                self.sizes.push(per_sample);
                self.free.push(false);
                self.sizes.len() - 1
            }
        };
        self.free[i] = false;
        Buf::Act(i)
    }

    fn give(&mut self, b: Buf) {
        if let Buf::Act(i) = b {
            self.free[i] = true;
        }
    }
}

/// The compiled, batch-independent form of a network.
struct Graph {
    steps: Vec<Step>,
    /// Host copies of the weights in kernel layout, uploaded once.
    weights: Vec<Vec<f32>>,
    /// Per-sample sizes (f32 values) of the pooled activation buffers.
    acts: Vec<usize>,
    numel: usize,
    cond_numel: usize,
}

/// Builds a [`Graph`], reading weights by name with the CPU reference's shape checks.
struct Builder<'w> {
    /// The kernel variant of every convolution, GEMM and GroupNorm (the context's).
    kernel_variant: KernelVariant,
    weights: &'w Weights,
    prefix: &'w str,
    host: Vec<Vec<f32>>,
    steps: Vec<Step>,
    pool: Pool,
}

impl<'w> Builder<'w> {
    fn get(&self, param: &str, shape: &[usize]) -> Result<&'w [f32]> {
        let name = if self.prefix.is_empty() { param.to_string() } else { format!("{}.{param}", self.prefix) };
        self.weights.get(&name, shape)
    }

    fn upload(&mut self, data: Vec<f32>) -> Buf {
        self.host.push(data);
        Buf::Weight(self.host.len() - 1)
    }

    /// A linear layer `[fout, fin]` (or 1×1 conv `[fout, fin, 1, 1]`): (packed weight, bias).
    fn linear(&mut self, name: &str, fin: usize, fout: usize, conv1x1: bool) -> Result<(Buf, Buf)> {
        let shape: Vec<usize> = if conv1x1 { vec![fout, fin, 1, 1] } else { vec![fout, fin] };
        let w = pack_linear(self.get(&format!("{name}.weight"), &shape)?, fin, fout);
        let b = self.get(&format!("{name}.bias"), &[fout])?.to_vec();
        Ok((self.upload(w), self.upload(b)))
    }

    /// Linear layers `[fout_i, fin]` that read the same input, side by side as one
    /// `[fin] → [Σ fout_i]` layer: (packed weight, bias, each layer's first output column).
    fn linears_side_by_side(&mut self, layers: &[(String, usize)], fin: usize) -> Result<(Buf, Buf, Vec<usize>)> {
        let (mut w, mut bias, mut starts) = (Vec::new(), Vec::new(), Vec::new());
        for (name, fout) in layers {
            starts.push(bias.len());
            w.extend_from_slice(self.get(&format!("{name}.weight"), &[*fout, fin])?);
            bias.extend_from_slice(self.get(&format!("{name}.bias"), &[*fout])?);
        }
        let total = bias.len();
        let w = pack_linear(&w, fin, total);
        Ok((self.upload(w), self.upload(bias), starts))
    }

    fn conv3(&mut self, name: &str, cin: usize, cout: usize) -> Result<(Buf, Buf)> {
        let w = pack_conv3x3(self.get(&format!("{name}.weight"), &[cout, cin, 3, 3])?, cin, cout, self.kernel_variant);
        let b = self.get(&format!("{name}.bias"), &[cout])?.to_vec();
        Ok((self.upload(w), self.upload(b)))
    }

    fn norm(&mut self, name: &str, c: usize) -> Result<(Buf, Buf)> {
        let g = self.get(&format!("{name}.weight"), &[c])?.to_vec();
        let b = self.get(&format!("{name}.bias"), &[c])?.to_vec();
        Ok((self.upload(g), self.upload(b)))
    }

    /// `c = a·Wᵀ + b` over `rows` rows per sample, with flags and the `rowbias` binding's buffer:
    /// a per-sample bias over `per` rows each (`HAS_ROWBIAS`, set here), or with `RESIDUAL` in
    /// `flags` a residual laid out as `c` (`per` unused).
    #[allow(clippy::too_many_arguments)]
    fn dense(&mut self, a: Buf, (w, bias): (Buf, Buf), c: Buf, rows: usize, fin: usize, fout: usize, flags: u32, rowbias: Option<(Buf, usize)>) {
        let mut g = Gemm { variant: self.kernel_variant, ..Gemm::dense(0, fin as u32, fout as u32, flags | HAS_BIAS) };
        if let Some((_, per)) = rowbias
            && flags & RESIDUAL == 0
        {
            g.flags |= HAS_ROWBIAS;
            g.rows_per_group = per as u32;
        }
        self.steps.push(Step::Gemm { a, b: w, bias: Some(bias), rowbias: rowbias.map(|r| r.0), c, g, rows_per_sample: rows as u32, heads: 0 });
    }

    /// The time (and class) embedding: `lin2(SiLU(lin1(sinusoidal(net_time(t), dim)))) [+ class]`,
    /// then SiLU if `silu_out` (the UNet keeps only SiLU(temb)). Returns the `width`-wide buffer.
    fn time_embedding(&mut self, dim: usize, width: usize, num_classes: usize, silu_out: bool) -> Result<Buf> {
        let freq = self.upload(freq_table(dim));
        let emb = self.pool.take(dim);
        self.steps.push(Step::Sinusoidal { freq, out: emb, dim: dim as u32 });
        let lin1 = self.linear("time.lin1", dim, width, false)?;
        let e1 = self.pool.take(width);
        self.dense(emb, lin1, e1, 1, dim, width, SILU, None);
        self.pool.give(emb);
        let lin2 = self.linear("time.lin2", width, width, false)?;
        let e = self.pool.take(width);
        let fuse_silu = silu_out && num_classes == 0;
        self.dense(e1, lin2, e, 1, width, width, if fuse_silu { SILU } else { 0 }, None);
        self.pool.give(e1);
        if num_classes > 0 {
            let table = self.get("class_embed.weight", &[num_classes + 1, width])?.to_vec();
            let table = self.upload(table);
            self.steps.push(Step::ClassRows { table, out: e, dim: width as u32, num_classes: num_classes as u32, silu: silu_out });
        }
        Ok(e)
    }

    fn finish(self, numel: usize, cond_numel: usize) -> Graph {
        Graph { steps: self.steps, weights: self.host, acts: self.pool.sizes, numel, cond_numel }
    }
}

/// The MLP of [`MlpConfig`]: every linear layer but the last carries the SiLU its consumer
/// applies (`h = hidden.i(SiLU(h))`), fused into its epilogue.
fn compile_mlp(cfg: &MlpConfig, mut b: Builder<'_>) -> Result<Graph> {
    let w = cfg.hidden;
    let e = b.time_embedding(cfg.time_embed_dim, w, cfg.num_classes, false)?;
    let fin = cfg.dim + cfg.cond_dim;
    let xin = if cfg.cond_dim > 0 {
        let cat = b.pool.take(fin);
        b.steps.push(Step::Concat { a: Buf::X, b: Buf::Cond, out: cat, rows_per_sample: 1, ca: cfg.dim as u32, cb: cfg.cond_dim as u32 });
        cat
    } else {
        Buf::X
    };
    // h = SiLU(input(concat[x, cond]) + e)
    let input = b.linear("input", fin, w, false)?;
    let mut h = b.pool.take(w);
    b.dense(xin, input, h, 1, fin, w, SILU, Some((e, 1)));
    b.pool.give(e);
    b.pool.give(xin);
    for i in 0..cfg.depth {
        let layer = b.linear(&format!("hidden.{i}"), w, w, false)?;
        let h2 = b.pool.take(w);
        b.dense(h, layer, h2, 1, w, w, SILU, None);
        b.pool.give(h);
        h = h2;
    }
    let output = b.linear("output", w, cfg.dim, false)?;
    b.dense(h, output, Buf::Out, 1, w, cfg.dim, 0, None);
    b.pool.give(h);
    Ok(b.finish(cfg.dim, cfg.cond_dim))
}

/// The UNet of [`UnetConfig`], following [`UnetConfig::layers`] as `nn::unet` does.
fn compile_unet(cfg: &UnetConfig, mut b: Builder<'_>) -> Result<Graph> {
    let (c, td, groups) = (cfg.base_channels, cfg.temb_dim(), cfg.groups);
    let temb = b.time_embedding(c, td, cfg.num_classes, true)?;
    // Every ResBlock's time projection `temb(SiLU(temb))` in one GEMM: its output holds each
    // block's `cout` values per sample side by side, and conv1 reads its slice.
    let projections: Vec<(String, usize)> = cfg
        .layers()
        .into_iter()
        .filter_map(|l| match l {
            UnetLayer::Res { spec, .. } => Some((format!("{}.temb", spec.name), spec.cout)),
            _ => None,
        })
        .collect();
    let width: usize = projections.iter().map(|p| p.1).sum();
    let (pw, pb, starts) = b.linears_side_by_side(&projections, td)?;
    let tball = b.pool.take(width);
    b.dense(temb, (pw, pb), tball, 1, td, width, 0, None);
    b.pool.give(temb);
    let mut projection = starts.into_iter();
    let (h0, w0) = (cfg.height, cfg.width);
    let hw0 = h0 * w0;
    let cin0 = cfg.channels + cfg.cond_channels;
    let x0 = b.pool.take(hw0 * cin0);
    b.steps.push(Step::ToNhwc { out: x0, cx: cfg.channels as u32, cc: cfg.cond_channels as u32, hw: hw0 as u32 });

    let broken = || Error::BadConfig("unet plan pops a skip it never pushed".into());
    let mut skips: Vec<(Buf, usize)> = Vec::new();
    let mut cur: Option<(Buf, usize)> = None;
    let u = |v: usize| v as u32;
    for layer in cfg.layers() {
        match layer {
            UnetLayer::ConvIn { cin, cout } => {
                let (w, bias) = b.conv3("conv_in", cin, cout)?;
                let y = b.pool.take(hw0 * cout);
                let p = Conv { batch: 0, h: u(h0), w: u(w0), cin: u(cin), cout: u(cout), mode: Mode::Same, flags: HAS_BIAS, kernel: b.kernel_variant };
                b.steps.push(Step::Conv { src: x0, w, bias, rowbias: None, dst: y, p });
                b.pool.give(x0);
                skips.push((y, cout));
            }
            UnetLayer::Res { spec, h, w, concat_skip, push_skip } => {
                let hw = h * w;
                let (ci, co) = (spec.cin, spec.cout);
                // The block's input: concat[h, skip] on the way up, else the current activation
                // (or, on the way down, the top skip, which stays on the stack).
                let (input, owned) = if concat_skip {
                    let (a, ca) = cur.take().ok_or_else(broken)?;
                    let (s, cs) = skips.pop().ok_or_else(broken)?;
                    let cat = b.pool.take(hw * (ca + cs));
                    b.steps.push(Step::Concat { a, b: s, out: cat, rows_per_sample: u(hw), ca: u(ca), cb: u(cs) });
                    b.pool.give(a);
                    b.pool.give(s);
                    (cat, true)
                } else {
                    match cur.take() {
                        Some((a, _)) => (a, true),
                        None => (skips.last().ok_or_else(broken)?.0, false),
                    }
                };
                let n = &spec.name;
                // h1 = conv1(SiLU(norm1(x))) + conv1.bias + temb(SiLU(temb))[sample]
                let (g1, be1) = b.norm(&format!("{n}.norm1"), ci)?;
                let a = b.pool.take(hw * ci);
                b.steps.push(Step::Norm { x: input, gamma: g1, beta: be1, y: a, p: Norm { batch: 0, hw: u(hw), c: u(ci), groups: u(groups), silu: true, variant: b.kernel_variant } });
                let at = RowBiasAt { stride: u(width), offset: u(projection.next().ok_or_else(broken)?) };
                let (w1, bias1) = b.conv3(&format!("{n}.conv1"), ci, co)?;
                let h1 = b.pool.take(hw * co);
                let p1 = Conv { batch: 0, h: u(h), w: u(w), cin: u(ci), cout: u(co), mode: Mode::Same, flags: HAS_BIAS | HAS_ROWBIAS, kernel: b.kernel_variant };
                b.steps.push(Step::Conv { src: a, w: w1, bias: bias1, rowbias: Some((tball, at)), dst: h1, p: p1 });
                b.pool.give(a);
                // y = skip(x) + conv2(SiLU(norm2(h1))) + conv2.bias
                let (g2, be2) = b.norm(&format!("{n}.norm2"), co)?;
                let a2 = b.pool.take(hw * co);
                b.steps.push(Step::Norm { x: h1, gamma: g2, beta: be2, y: a2, p: Norm { batch: 0, hw: u(hw), c: u(co), groups: u(groups), silu: true, variant: b.kernel_variant } });
                b.pool.give(h1);
                // The residual: the 1×1 projection of x where the channels change (written to y,
                // then accumulated onto), else x itself, read by conv2's epilogue in place.
                let y = b.pool.take(hw * co);
                let (flags, residual) = if ci != co {
                    let sk = b.linear(&format!("{n}.skip"), ci, co, true)?;
                    b.dense(input, sk, y, hw, ci, co, 0, None);
                    (HAS_BIAS | ACCUMULATE, None)
                } else {
                    (HAS_BIAS | RESIDUAL, Some((input, RowBiasAt::dense(u(co)))))
                };
                let (w2, bias2) = b.conv3(&format!("{n}.conv2"), co, co)?;
                let p2 = Conv { batch: 0, h: u(h), w: u(w), cin: u(co), cout: u(co), mode: Mode::Same, flags, kernel: b.kernel_variant };
                b.steps.push(Step::Conv { src: a2, w: w2, bias: bias2, rowbias: residual, dst: y, p: p2 });
                b.pool.give(a2);
                if owned {
                    b.pool.give(input);
                }
                if push_skip {
                    skips.push((y, co));
                } else {
                    cur = Some((y, co));
                }
            }
            UnetLayer::Down { name, ch, h, w } => {
                let (wt, bias) = b.conv3(&name, ch, ch)?;
                let (oh, ow) = Mode::Down.out_hw(h, w);
                let y = b.pool.take(oh * ow * ch);
                let src = skips.last().ok_or_else(broken)?.0;
                let p = Conv { batch: 0, h: u(h), w: u(w), cin: u(ch), cout: u(ch), mode: Mode::Down, flags: HAS_BIAS, kernel: b.kernel_variant };
                b.steps.push(Step::Conv { src, w: wt, bias, rowbias: None, dst: y, p });
                skips.push((y, ch));
            }
            UnetLayer::Attn { ch, h, w } => {
                let (a, _) = cur.take().ok_or_else(broken)?;
                let (l, heads) = (h * w, cfg.attention_heads);
                let (g, be) = b.norm("mid.attn.norm", ch)?;
                let xn = b.pool.take(l * ch);
                b.steps.push(Step::Norm { x: a, gamma: g, beta: be, y: xn, p: Norm { batch: 0, hw: u(l), c: u(ch), groups: u(groups), silu: false, variant: b.kernel_variant } });
                let qkv_w = b.linear("mid.attn.qkv", ch, 3 * ch, false)?;
                let qkv = b.pool.take(l * 3 * ch);
                b.dense(xn, qkv_w, qkv, l, ch, 3 * ch, 0, None);
                b.pool.give(xn);
                let s = b.pool.take(heads * l * l);
                let sg = Gemm { variant: b.kernel_variant, ..scores_gemm(0, u(ch), u(heads), u(l)) };
                b.steps.push(Step::Gemm { a: qkv, b: qkv, bias: None, rowbias: None, c: s, g: sg, rows_per_sample: 0, heads: u(heads) });
                let scale = 1.0 / ((ch / heads) as f32).sqrt();
                b.steps.push(Step::Softmax { s, rows_per_sample: u(heads * l), l: u(l), scale });
                let o = b.pool.take(l * ch);
                let vg = Gemm { variant: b.kernel_variant, ..values_gemm(0, u(ch), u(heads), u(l)) };
                b.steps.push(Step::Gemm { a: s, b: qkv, bias: None, rowbias: None, c: o, g: vg, rows_per_sample: 0, heads: u(heads) });
                b.pool.give(s);
                b.pool.give(qkv);
                // y = a + proj(o), the residual a read by the projection's epilogue.
                let y = b.pool.take(l * ch);
                let proj = b.linear("mid.attn.proj", ch, ch, false)?;
                b.dense(o, proj, y, l, ch, ch, RESIDUAL, Some((a, 0)));
                b.pool.give(o);
                b.pool.give(a);
                cur = Some((y, ch));
            }
            UnetLayer::Up { name, ch, h, w } => {
                let (a, _) = cur.take().ok_or_else(broken)?;
                let (wt, bias) = b.conv3(&name, ch, ch)?;
                let y = b.pool.take(4 * h * w * ch);
                let p = Conv { batch: 0, h: u(h), w: u(w), cin: u(ch), cout: u(ch), mode: Mode::Up, flags: HAS_BIAS, kernel: b.kernel_variant };
                b.steps.push(Step::Conv { src: a, w: wt, bias, rowbias: None, dst: y, p });
                b.pool.give(a);
                cur = Some((y, ch));
            }
            UnetLayer::Out { cin, cout, h, w } => {
                let (a, _) = cur.take().ok_or_else(broken)?;
                let hw = h * w;
                let (g, be) = b.norm("out.norm", cin)?;
                let na = b.pool.take(hw * cin);
                b.steps.push(Step::Norm { x: a, gamma: g, beta: be, y: na, p: Norm { batch: 0, hw: u(hw), c: u(cin), groups: u(groups), silu: true, variant: b.kernel_variant } });
                b.pool.give(a);
                let (wt, bias) = b.conv3("out.conv", cin, cout)?;
                let y = b.pool.take(hw * cout);
                let p = Conv { batch: 0, h: u(h), w: u(w), cin: u(cin), cout: u(cout), mode: Mode::Same, flags: HAS_BIAS, kernel: b.kernel_variant };
                b.steps.push(Step::Conv { src: na, w: wt, bias, rowbias: None, dst: y, p });
                b.pool.give(na);
                b.steps.push(Step::ToNchw { src: y, c: u(cout), hw: u(hw) });
                b.pool.give(y);
            }
        }
    }
    let numel = cfg.channels * hw0;
    Ok(b.finish(numel, cfg.cond_channels * hw0))
}

impl Step {
    /// The concrete dispatch for `batch` samples, or `None` if its grid would exceed the
    /// device's 65535 workgroups per dimension.
    fn spec<'a>(&self, batch: u32, buf: &dyn Fn(Buf) -> &'a wgpu::Buffer, dummy: &'a wgpu::Buffer) -> Option<Spec<'a>> {
        let opt = |b: Option<Buf>| b.map(buf);
        let s = match self {
            Step::Gemm { a, b, bias, rowbias, c, g, rows_per_sample, heads } => {
                let mut g = *g;
                if *heads == 0 {
                    g.m = rows_per_sample.checked_mul(batch)?;
                } else {
                    g.z = batch.checked_mul(*heads)?;
                }
                if !g.fits() {
                    return None;
                }
                g.spec(buf(*a), buf(*b), opt(*bias), opt(*rowbias), buf(*c), dummy)
            }
            Step::Conv { src, w, bias, rowbias, dst, p } => {
                let p = Conv { batch, ..*p };
                if !p.fits() {
                    return None;
                }
                p.spec(buf(*src), buf(*w), Some(buf(*bias)), rowbias.map(|(r, at)| (buf(r), at)), buf(*dst), dummy)
            }
            Step::Norm { x, gamma, beta, y, p } => {
                let p = Norm { batch, ..*p };
                if !p.fits() {
                    return None;
                }
                p.spec(buf(*x), buf(*gamma), buf(*beta), buf(*y))
            }
            Step::Sinusoidal { freq, out, dim } => sinusoidal(batch, *dim, buf(Buf::T), buf(*freq), buf(*out)),
            Step::ClassRows { table, out, dim, num_classes, silu } => class_rows(batch, *dim, *num_classes, *silu, buf(Buf::Labels), buf(*table), buf(*out)),
            Step::Concat { a, b, out, rows_per_sample, ca, cb } => {
                concat_channels(rows_per_sample.checked_mul(batch)?, *ca, *cb, buf(*a), buf(*b), buf(*out))
            }
            Step::ToNhwc { out, cx, cc, hw } => {
                let cond = if *cc > 0 { buf(Buf::Cond) } else { dummy };
                nchw_to_nhwc(batch, *cx, *cc, *hw, buf(Buf::X), cond, buf(*out))
            }
            Step::ToNchw { src, c, hw } => nhwc_to_nchw(batch, *c, *hw, buf(*src), dummy, buf(Buf::Out)),
            Step::Softmax { s, rows_per_sample, l, scale } => softmax(rows_per_sample.checked_mul(batch)?, *l, *scale, buf(*s)),
        };
        (s.groups.iter().all(|&g| g <= MAX_GROUPS)).then_some(s)
    }

    /// The kind of work of this step's dispatch (for dispatch counts).
    fn kind(&self) -> DispatchKind {
        match self {
            Step::Gemm { .. } => DispatchKind::Gemm,
            Step::Conv { .. } => DispatchKind::Conv3x3,
            Step::Norm { .. } => DispatchKind::GroupNorm,
            Step::Softmax { .. } => DispatchKind::Softmax,
            Step::Sinusoidal { .. } | Step::ClassRows { .. } => DispatchKind::TimeEmbedding,
            Step::Concat { .. } => DispatchKind::Concat,
            Step::ToNhwc { .. } | Step::ToNchw { .. } => DispatchKind::Layout,
        }
    }

    /// What this step computes for `batch` samples (for profiles), and its FLOP count as
    /// [`nn::flops`](crate::nn::flops) counts it (2 × multiply-adds of GEMMs and convolutions).
    fn describe(&self, batch: u32) -> (String, u64) {
        let b = u64::from(batch);
        match self {
            Step::Gemm { g, rows_per_sample, heads, .. } => {
                let (m, z) = if *heads == 0 { (u64::from(*rows_per_sample) * b, 1) } else { (u64::from(g.m), u64::from(*heads) * b) };
                let zs = if z > 1 { format!("{z} × ") } else { String::new() };
                (format!("{zs}[{m}×{k}]·[{k}×{n}]", k = g.k, n = g.n), 2 * z * m * u64::from(g.k) * u64::from(g.n))
            }
            Step::Conv { p, .. } => {
                let (oh, ow) = p.mode.out_hw(p.h as usize, p.w as usize);
                let mode = match p.mode {
                    Mode::Same => "",
                    Mode::Down => " (down)",
                    Mode::Up => " (up)",
                };
                let flop = 2 * b * (oh * ow) as u64 * 9 * u64::from(p.cin) * u64::from(p.cout);
                (format!("{batch}×{}×{}×{} → {batch}×{oh}×{ow}×{}{mode}", p.h, p.w, p.cin, p.cout), flop)
            }
            Step::Norm { p, .. } => {
                (format!("{batch}×{}×{}, {} groups{}", p.hw, p.c, p.groups, if p.silu { " + SiLU" } else { "" }), 0)
            }
            Step::Sinusoidal { dim, .. } => (format!("{batch}×{dim}"), 0),
            Step::ClassRows { dim, silu, .. } => (format!("{batch}×{dim}{}", if *silu { " + SiLU" } else { "" }), 0),
            Step::Concat { rows_per_sample, ca, cb, .. } => (format!("{}×({ca} + {cb})", u64::from(*rows_per_sample) * b), 0),
            Step::ToNhwc { cx, cc, hw, .. } => (format!("{batch}×({cx} + {cc})×{hw}"), 0),
            Step::ToNchw { c, hw, .. } => (format!("{batch}×{hw}×{c}"), 0),
            Step::Softmax { rows_per_sample, l, .. } => (format!("{}×{l}", u64::from(*rows_per_sample) * b), 0),
        }
    }
}

struct NetInner {
    ctx: GpuContext,
    arch: ArchConfig,
    graph: Graph,
    weights: Vec<wgpu::Buffer>,
    dummy: wgpu::Buffer,
}

/// One network's weights on the GPU, compiled for any batch. Cheap to clone (a clone shares
/// the weights, not the buffers [`forward`](Self::forward) keeps between calls).
///
/// Weights are uploaded once as f32 (a file's f16 tensors are expanded when the file is read),
/// in the kernels' layouts: linear weights transposed to `[in][out]`, 3×3 convolutions packed
/// as `[9·cin][cout]`.
pub struct GpuNetwork {
    inner: Arc<NetInner>,
    /// The executor of the last `forward`, reused while its batch is large enough.
    cache: Mutex<Option<NetExec>>,
}

impl Clone for GpuNetwork {
    fn clone(&self) -> Self {
        GpuNetwork { inner: self.inner.clone(), cache: Mutex::new(None) }
    }
}

impl Graph {
    /// Compiles `arch` with the tensors `"<prefix>.<param>"` of `weights` (checked as
    /// [`Network::new`](crate::nn::Network::new) checks them), its weights packed for the
    /// `kernel_variant`. Needs no device.
    fn compile(arch: &ArchConfig, weights: &Weights, prefix: &str, kernel_variant: KernelVariant) -> Result<Graph> {
        arch.validate()?;
        let b = Builder { kernel_variant, weights, prefix, host: Vec::new(), steps: Vec::new(), pool: Pool::default() };
        for spec in arch.params() {
            b.get(&spec.name, &spec.shape)?;
        }
        match arch {
            ArchConfig::Mlp(m) => compile_mlp(m, b),
            ArchConfig::Unet(u) => compile_unet(u, b),
        }
    }
}

/// The dense GEMMs and the 3×3 convolutions one evaluation of `arch` over `batch` samples
/// launches, in execution order, as the runtime compiles them (from [`UnetConfig::layers`] or
/// the MLP's layers; seeded weights, no device). Attention's two batched products (strided
/// per head) are left out.
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn kernel_problems(arch: &ArchConfig, batch: usize) -> Result<Vec<super::ladder::Problem>> {
    use super::ladder::Problem;
    let weights = crate::nn::init::random_weights(arch, "velocity", 0);
    let graph = Graph::compile(arch, &weights, "velocity", KernelVariant::Tiled)?;
    Ok(graph
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Gemm { g, rows_per_sample, heads: 0, .. } => Some(Problem::Gemm { m: *rows_per_sample as usize * batch, k: g.k as usize, n: g.n as usize }),
            Step::Conv { p, .. } => Some(Problem::Conv3x3 { batch, h: p.h as usize, w: p.w as usize, cin: p.cin as usize, cout: p.cout as usize, mode: p.mode }),
            _ => None,
        })
        .collect())
}

impl GpuNetwork {
    /// Compiles `arch` with the tensors `"<prefix>.<param>"` of `weights` (as
    /// [`Network::new`](crate::nn::Network::new)) and uploads them.
    ///
    /// Errors: those of `Network::new` for the config and tensors, [`Error::DeviceLost`] if a
    /// weight exceeds the device's buffer limits or the upload fails.
    pub fn new(ctx: &GpuContext, arch: &ArchConfig, weights: &Weights, prefix: &str) -> Result<GpuNetwork> {
        let graph = Graph::compile(arch, weights, prefix, ctx.kernel_variant())?;
        let weights = graph.weights.iter().enumerate().map(|(i, w)| ctx.upload(&format!("weight {i}"), w)).collect::<Result<Vec<_>>>()?;
        let dummy = ctx.upload("dummy", &[0.0; 4])?;
        ctx.check()?;
        Ok(GpuNetwork { inner: Arc::new(NetInner { ctx: ctx.clone(), arch: arch.clone(), graph, weights, dummy }), cache: Mutex::new(None) })
    }

    /// The architecture.
    pub fn arch(&self) -> &ArchConfig {
        &self.inner.arch
    }

    /// Scalars per sample (input and output).
    pub fn sample_numel(&self) -> usize {
        self.inner.graph.numel
    }

    /// The largest batch one evaluation can take on this device: every buffer within the
    /// storage-binding and buffer-size limits, every grid within 65535 workgroups per
    /// dimension, and all activations within `budget_bytes`. Larger batches are split by the
    /// callers ([`GpuNetwork::forward`], [`GpuModel`](super::GpuModel)), never failed.
    pub fn max_batch(&self, budget_bytes: u64) -> usize {
        let g = &self.inner.graph;
        let l = self.inner.ctx.limits();
        let per_buffer = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
        let largest = g.acts.iter().copied().chain([g.numel, g.cond_numel]).max().unwrap_or(1).max(1) as u64 * 4;
        let total: u64 = (g.acts.iter().sum::<usize>() + 2 * g.numel + g.cond_numel + 2) as u64 * 4;
        let mut batch = (per_buffer / largest).min(budget_bytes / total.max(1)).min(MAX_GROUPS as u64) as usize;
        // The grids: find the largest batch whose every step fits (they grow with the batch).
        let fits = |b: usize| {
            let d = &self.inner.dummy;
            g.steps.iter().all(|s| s.spec(b as u32, &|_| d, d).is_some())
        };
        while batch > 1 && !fits(batch) {
            batch = batch * 3 / 4;
        }
        batch.max(1)
    }

    /// Evaluates the network on a batch, exactly like
    /// [`Network::forward`](crate::nn::Network::forward) (same argument checks and errors),
    /// returning `[batch, sample_numel]`. One submission and one asynchronous readback per
    /// chunk of at most [`max_batch`](Self::max_batch) samples. The buffers are kept for the
    /// next call (reallocated only for a larger batch).
    pub async fn forward(&self, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: Option<&[u32]>) -> Result<Vec<f32>> {
        let mut out = vec![0.0f32; x.len()];
        check_inputs(self.arch(), x, cond, t, labels, &out)?;
        let n = t.len();
        if n == 0 {
            return Ok(out);
        }
        let chunk = self.chunk(n);
        let mut exec = self.take_exec(chunk)?;
        let (numel, cn) = (self.inner.graph.numel, self.inner.graph.cond_numel);
        let ctx = &self.inner.ctx;
        let nulls = vec![crate::field::NULL_LABEL; n];
        let labels = labels.unwrap_or(&nulls);
        let mut done = 0;
        while done < n {
            let b = chunk.min(n - done);
            exec.write_inputs(&x[done * numel..(done + b) * numel], cond.map(|c| &c[done * cn..(done + b) * cn]), &t[done..done + b], &labels[done..done + b]);
            let mut enc = ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("forward") });
            exec.encode(&mut enc, b)?;
            enc.copy_buffer_to_buffer(&exec.out, 0, &exec.staging, 0, (b * numel * 4) as u64);
            ctx.queue().submit([enc.finish()]);
            let y = ctx.read_back(&exec.staging, b * numel).await?;
            out[done * numel..(done + b) * numel].copy_from_slice(&y);
            done += b;
        }
        self.keep_exec(exec);
        Ok(out)
    }
}

impl GpuNetwork {
    /// The samples of one submission when [`forward`](Self::forward) evaluates `n`: all of them,
    /// or [`max_batch`](Self::max_batch) at a time.
    fn chunk(&self, n: usize) -> usize {
        self.max_batch(DEFAULT_BUDGET).min(n).max(1)
    }

    /// The compute dispatches one [`forward`](Self::forward) of `batch` samples records: the
    /// dispatch list of each submission (one per chunk of at most
    /// [`max_batch`](Self::max_batch) samples), made by the same code that builds it, counted
    /// per kernel. No GPU work.
    ///
    /// Errors: [`Error::InvalidInput`] for a batch of 0.
    pub fn dispatch_count(&self, batch: usize) -> Result<DispatchCount> {
        if batch == 0 {
            return Err(Error::InvalidInput("a dispatch count needs a batch of at least 1 sample".into()));
        }
        let chunk = self.chunk(batch);
        let (full, rest) = (batch / chunk, batch % chunk);
        let d = &self.inner.dummy;
        let mut count = DispatchCount { batch, submissions: full + usize::from(rest > 0), kernels: Vec::new() };
        for (b, times) in [(chunk, full), (rest, usize::from(rest > 0))] {
            if times == 0 {
                continue;
            }
            for step in &self.inner.graph.steps {
                let spec = step.spec(b as u32, &|_| d, d).ok_or_else(|| Error::InvalidInput(format!("batch {b} exceeds the device's dispatch limits")))?;
                count.add(step.kind(), spec.entry.name(), times);
            }
        }
        Ok(count)
    }

    /// The executor kept by the last `forward` or `profile` if it holds `batch` samples, else a
    /// new one for `batch`.
    fn take_exec(&self, batch: usize) -> Result<NetExec> {
        match self.cache.lock().ok().and_then(|mut c| c.take()) {
            Some(e) if e.max_batch >= batch => Ok(e),
            _ => NetExec::new(self, batch),
        }
    }

    /// Keeps `exec` (its buffers and dispatch lists) for the next call.
    fn keep_exec(&self, exec: NetExec) {
        if let Ok(mut c) = self.cache.lock() {
            *c = Some(exec);
        }
    }

    /// Times every kernel of one evaluation of a batch of at most
    /// [`max_batch`](Self::max_batch) samples (inputs and errors as
    /// [`forward`](Self::forward)), each dispatch in its own compute pass between two GPU
    /// timestamps, and returns them in execution order. The first call for a batch size also
    /// builds its dispatch list; call it twice and keep the second for steady-state times.
    ///
    /// Errors: [`Error::InvalidInput`] when the adapter has no `timestamp-query` (see
    /// [`AdapterSummary::timestamps`](super::AdapterSummary::timestamps)) or the batch is
    /// larger than one evaluation can take; those of `forward` otherwise.
    pub async fn profile(&self, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: Option<&[u32]>) -> Result<Vec<KernelTime>> {
        let out = vec![0.0f32; x.len()];
        check_inputs(self.arch(), x, cond, t, labels, &out)?;
        let n = t.len();
        let limit = self.max_batch(DEFAULT_BUDGET);
        if n == 0 || n > limit {
            return Err(Error::InvalidInput(format!("a profile times one evaluation of 1..={limit} samples, not {n}")));
        }
        let ts = Timestamps::new(&self.inner.ctx, self.inner.graph.steps.len())?;
        let mut exec = self.take_exec(n)?;
        let nulls = vec![crate::field::NULL_LABEL; n];
        exec.write_inputs(x, cond, t, labels.unwrap_or(&nulls));
        let ctx = &self.inner.ctx;
        let mut enc = ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("profile") });
        exec.list(n)?.encode_timed(ctx, &mut enc, &ts);
        ts.resolve(&mut enc);
        ctx.queue().submit([enc.finish()]);
        let ms = ts.read_ms(ctx).await?;
        let list = exec.list(n)?;
        let times = self
            .inner
            .graph
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, step)| {
                let (entry, groups) = list.item(i)?;
                let (shape, flop) = step.describe(n as u32);
                Some(KernelTime { kernel: entry.name(), shape, groups, flop, ms: ms.get(i).copied().unwrap_or(f64::NAN) })
            })
            .collect();
        self.keep_exec(exec);
        Ok(times)
    }
}

/// Activation memory one executor may use by default (1 GiB): a batch needing more is split.
pub(crate) const DEFAULT_BUDGET: u64 = 1 << 30;

/// The buffers of one network for batches up to `max_batch`, and its dispatch lists per batch
/// size (built on first use, then reused).
pub(crate) struct NetExec {
    inner: Arc<NetInner>,
    pub(crate) max_batch: usize,
    pub(crate) x: wgpu::Buffer,
    pub(crate) cond: Option<wgpu::Buffer>,
    pub(crate) t: wgpu::Buffer,
    pub(crate) labels: wgpu::Buffer,
    pub(crate) out: wgpu::Buffer,
    staging: wgpu::Buffer,
    acts: Vec<wgpu::Buffer>,
    lists: HashMap<usize, DispatchList>,
}

impl NetExec {
    /// Allocates the buffers for batches up to `max_batch` (at most
    /// [`GpuNetwork::max_batch`]).
    pub(crate) fn new(net: &GpuNetwork, max_batch: usize) -> Result<NetExec> {
        let ctx = &net.inner.ctx;
        let g = &net.inner.graph;
        let mb = max_batch.max(1);
        let bytes = |per: usize| (per * mb * 4) as u64;
        let storage = |label: &str, per: usize| ctx.buffer(label, bytes(per), STORAGE_USAGE);
        let acts = g.acts.iter().enumerate().map(|(i, &per)| storage(&format!("act {i}"), per)).collect::<Result<Vec<_>>>()?;
        Ok(NetExec {
            inner: net.inner.clone(),
            max_batch: mb,
            x: storage("x", g.numel)?,
            cond: if g.cond_numel > 0 { Some(storage("cond", g.cond_numel)?) } else { None },
            t: storage("t", 1)?,
            labels: storage("labels", 1)?,
            out: storage("out", g.numel)?,
            staging: ctx.buffer("readback", bytes(g.numel), wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST)?,
            acts,
            lists: HashMap::new(),
        })
    }

    /// Writes the inputs of a batch (`t.len()` samples, at most `max_batch`) with
    /// `queue.write_buffer`; they take effect at the next submission.
    pub(crate) fn write_inputs(&self, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: &[u32]) {
        let q = self.inner.ctx.queue();
        q.write_buffer(&self.x, 0, bytemuck::cast_slice(x));
        if let (Some(buf), Some(c)) = (&self.cond, cond) {
            q.write_buffer(buf, 0, bytemuck::cast_slice(c));
        }
        self.write_t(t);
        self.write_labels(labels);
    }

    /// Writes the per-sample times.
    pub(crate) fn write_t(&self, t: &[f32]) {
        self.inner.ctx.queue().write_buffer(&self.t, 0, bytemuck::cast_slice(t));
    }

    /// Writes the per-sample labels.
    pub(crate) fn write_labels(&self, labels: &[u32]) {
        self.inner.ctx.queue().write_buffer(&self.labels, 0, bytemuck::cast_slice(labels));
    }

    /// Records one forward pass over `batch` samples (≤ `max_batch`) as one compute pass:
    /// reads `x`, `cond`, `t`, `labels`, writes `out`. Returns the number of dispatches
    /// recorded.
    pub(crate) fn encode(&mut self, encoder: &mut wgpu::CommandEncoder, batch: usize) -> Result<usize> {
        let ctx = self.inner.ctx.clone();
        Ok(encode_pass(&ctx, encoder, self.list(batch)?))
    }

    /// The dispatch list of `batch` samples (≤ `max_batch`), built on first use.
    fn list(&mut self, batch: usize) -> Result<&DispatchList> {
        if batch == 0 || batch > self.max_batch {
            return Err(Error::InvalidInput(format!("batch {batch} outside 1..={}", self.max_batch)));
        }
        if !self.lists.contains_key(&batch) {
            let list = self.build(batch)?;
            self.lists.insert(batch, list);
        }
        Ok(&self.lists[&batch])
    }

    fn build(&self, batch: usize) -> Result<DispatchList> {
        let inner = &self.inner;
        let dummy = &inner.dummy;
        let buf = |b: Buf| -> &wgpu::Buffer {
            match b {
                Buf::Act(i) => &self.acts[i],
                Buf::Weight(i) => &inner.weights[i],
                Buf::X => &self.x,
                Buf::Cond => self.cond.as_ref().unwrap_or(dummy),
                Buf::T => &self.t,
                Buf::Labels => &self.labels,
                Buf::Out => &self.out,
            }
        };
        let mut specs = Vec::with_capacity(inner.graph.steps.len());
        for s in &inner.graph.steps {
            specs.push(s.spec(batch as u32, &buf, dummy).ok_or_else(|| {
                Error::InvalidInput(format!("batch {batch} exceeds the device's dispatch limits; use at most {}", self.max_batch))
            })?);
        }
        DispatchList::new(&inner.ctx, &specs)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::config::MlpConfig;
    use crate::field::NULL_LABEL;
    use crate::gpu::testutil::{assert_close, gpu, max_abs};
    use crate::nn::init::random_weights;
    use crate::nn::{Network, Workspace};
    use crate::noise::{Stream, gaussian_batch};

    #[allow(clippy::too_many_arguments)]
    fn unet(channels: usize, size: usize, base: usize, mult: &[usize], attention: bool, heads: usize, groups: usize, cond_channels: usize, num_classes: usize) -> UnetConfig {
        UnetConfig { attention_heads: heads, groups, cond_channels, ..crate::presets::unet(channels, size, base, mult, 1, attention, num_classes) }
    }

    /// Runs `arch` with random weights on the CPU reference and on the GPU for the same inputs
    /// (times across [0, 1], labels cycling with null labels mixed in, random cond), and
    /// compares with `rel_tol × max(1, max|cpu|)`.
    fn check(what: &str, arch: ArchConfig, batch: usize, rel_tol: f64) {
        let Some(ctx) = gpu() else { return };
        let w = random_weights(&arch, "velocity", 3);
        let cpu = Network::new(&arch, &w, "velocity").unwrap();
        let numel: usize = arch.sample_shape().iter().product();
        let s = Stream::new(5, 1);
        let t: Vec<f32> = (0..batch).map(|b| if b == 0 { 0.0 } else { s.uniform(b as u64) as f32 }).collect();
        let nc = arch.num_classes();
        let labels: Option<Vec<u32>> = (nc > 0).then(|| (0..batch).map(|b| if b % 3 == 2 { NULL_LABEL } else { (b % nc) as u32 }).collect());
        let cond = (arch.cond_numel() > 0).then(|| gaussian_batch(6, 0, batch, arch.cond_numel()));
        let x = gaussian_batch(7, 0, batch, numel);
        let mut want = vec![0.0; x.len()];
        cpu.forward(&x, cond.as_deref(), &t, labels.as_deref(), &mut want, &mut Workspace::new()).unwrap();
        // Both convolution algorithms, whichever the adapter would pick.
        for kernel in [KernelVariant::Tiled, KernelVariant::Direct] {
            let net = GpuNetwork::new(&ctx.with_kernel_variant(kernel), &arch, &w, "velocity").unwrap();
            let got = pollster::block_on(net.forward(&x, cond.as_deref(), &t, labels.as_deref())).unwrap();
            assert_close(&format!("{what} ({})", kernel.name()), &got, &want, rel_tol * max_abs(&want, 1.0));
        }
    }

    /// MLPs: K ≤ 64 sums in every layer, five layers deep (lin1, lin2, input, 2 hidden, output)
    /// after the time embedding (≤ 2e-7 absolute). Each layer's two summation orders differ by
    /// ≲ √K·2⁻²⁴ ≈ 5e-7 relative in the typical case (2·(K+2)·2⁻²⁴ ≈ 8e-6 at worst) and SiLU
    /// is 1-Lipschitz: tolerance 5e-6 × max(1, max|out|) (observed on lavapipe: ≤ 3e-8).
    #[test]
    fn mlp_matches_cpu() {
        let cfg = |cond_dim, num_classes| MlpConfig { dim: 2, hidden: 64, depth: 3, time_embed_dim: 32, cond_dim, num_classes };
        check("mlp plain", ArchConfig::Mlp(cfg(0, 0)), 9, 5e-6);
        check("mlp classes", ArchConfig::Mlp(cfg(0, 4)), 9, 5e-6);
        check("mlp cond (CAF a-net)", ArchConfig::Mlp(cfg(2, 3)), 9, 5e-6);
    }

    /// Tiny UNets: 1×8×8 with attention (2 heads) and classes; 3×16×16 with 3 cond channels
    /// (CAF's acceleration net), three levels, no classes. ~20 layers of K ≤ 9·32 = 288 sums
    /// (≈ √K·2⁻²⁴ ≈ 1e-6 relative each, typically) and GroupNorms (≈ 2e-7), compounded through
    /// the residual stream: tolerance 2e-5 × max(1, max|out|) (observed on lavapipe: ≤ 1e-6).
    #[test]
    fn unet_matches_cpu() {
        check("unet 1x8x8 attention+classes", ArchConfig::Unet(unet(1, 8, 8, &[1, 2], true, 2, 4, 0, 3)), 4, 2e-5);
        check("unet 3x16x16 cond", ArchConfig::Unet(unet(3, 16, 8, &[1, 2, 2], true, 1, 4, 3, 0)), 2, 2e-5);
    }

    /// `dispatch_count` equals what an evaluation records: the dispatches `NetExec::encode`
    /// counts as it records them and the timestamp entries of a profile, kernel by kernel
    /// (the MNIST UNet preset and a conditional MLP, both kernel variants). Prints the counts.
    #[test]
    fn dispatch_count_matches_the_recorded_dispatches() {
        let Some(ctx) = gpu() else { return };
        let mlp = MlpConfig { dim: 2, hidden: 32, depth: 2, time_embed_dim: 16, cond_dim: 2, num_classes: 3 };
        for arch in [ArchConfig::Unet(crate::presets::unet_mnist()), ArchConfig::Mlp(mlp.clone())] {
            let w = random_weights(&arch, "velocity", 1);
            for kernel in [KernelVariant::Tiled, KernelVariant::Direct] {
                let net = GpuNetwork::new(&ctx.with_kernel_variant(kernel), &arch, &w, "velocity").unwrap();
                let batch = 2;
                let count = net.dispatch_count(batch).unwrap();
                eprintln!("{} ({}), batch {batch}: {}", if matches!(arch, ArchConfig::Unet(_)) { "MNIST UNet" } else { "MLP" }, kernel.name(), count.describe());
                assert_eq!(count.submissions, 1);
                assert_eq!(count.total(), net.inner.graph.steps.len());
                let mut exec = NetExec::new(&net, batch).unwrap();
                let mut enc = ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("count") });
                assert_eq!(exec.encode(&mut enc, batch).unwrap(), count.total());
                drop(enc);
                if ctx.adapter().timestamps {
                    let numel: usize = arch.sample_shape().iter().product();
                    let x = gaussian_batch(7, 0, batch, numel);
                    let cond = (arch.cond_numel() > 0).then(|| gaussian_batch(6, 0, batch, arch.cond_numel()));
                    let labels: Option<Vec<u32>> = (arch.num_classes() > 0).then(|| vec![1; batch]);
                    let times = pollster::block_on(net.profile(&x, cond.as_deref(), &[0.5; 2], labels.as_deref())).unwrap();
                    assert_eq!(times.len(), count.total());
                    for &(_, kernel, _) in &count.kernels {
                        let n: usize = count.kernels.iter().filter(|k| k.1 == kernel).map(|k| k.2).sum();
                        assert_eq!(times.iter().filter(|t| t.kernel == kernel).count(), n, "{kernel}");
                    }
                }
            }
        }
        let arch = ArchConfig::Mlp(mlp);
        let net = GpuNetwork::new(&ctx, &arch, &random_weights(&arch, "velocity", 1), "velocity").unwrap();
        assert!(net.dispatch_count(0).is_err());
        // A batch larger than one submission takes is counted over its submissions.
        let max = net.max_batch(DEFAULT_BUDGET);
        let big = net.dispatch_count(max + 1).unwrap();
        assert_eq!((big.submissions, big.total()), (2, 2 * net.dispatch_count(1).unwrap().total()));
    }

    /// The compile-time pool reuses buffers: a UNet needs far fewer buffers than layers.
    #[test]
    fn activation_buffers_are_reused() {
        let arch = ArchConfig::Unet(crate::presets::unet_mnist());
        let w = random_weights(&arch, "velocity", 1);
        let b = Builder { kernel_variant: KernelVariant::Tiled, weights: &w, prefix: "velocity", host: Vec::new(), steps: Vec::new(), pool: Pool::default() };
        let ArchConfig::Unet(u) = &arch else { unreachable!() };
        let g = compile_unet(u, b).unwrap();
        eprintln!("{} activation buffers for {} steps", g.acts.len(), g.steps.len());
        assert!(g.acts.len() <= 12, "{} activation buffers for {} steps", g.acts.len(), g.steps.len());
        assert!(g.steps.len() > 40);
    }
}

/// Timing of one UNet forward (Beeline's MNIST size: base 32, mult [1, 2, 2], one res block,
/// attention, 28×28, 10 classes) on the GPU against the CPU reference, in the same process.
/// Not a test of speed (the numbers depend on the machine); run it with
/// `cargo test --release -p beeline --features gpu --lib unet_forward_timing -- --ignored --nocapture`.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod timing {
    use super::*;
    use crate::gpu::testutil::gpu;
    use crate::nn::init::random_weights;
    use crate::nn::{Network, Workspace};
    use crate::noise::gaussian_batch;
    use std::time::Instant;

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    #[test]
    #[ignore = "timing, not a test; run with --ignored --nocapture"]
    fn unet_forward_timing() {
        let Some(ctx) = gpu() else { return };
        let arch = ArchConfig::Unet(crate::presets::unet_mnist());
        let w = random_weights(&arch, "velocity", 1);
        let cpu = Network::new(&arch, &w, "velocity").unwrap();
        let net = GpuNetwork::new(&ctx, &arch, &w, "velocity").unwrap();
        let gflop = crate::nn::flops(&arch) as f64 * 1e-9;
        eprintln!("adapter: {} [{}]; {:.3} GFLOP per sample", ctx.adapter().describe(), ctx.adapter().driver, gflop);
        for batch in [1usize, 16] {
            let x = gaussian_batch(1, 0, batch, 784);
            let t = vec![0.5f32; batch];
            let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
            let mut out = vec![0.0; x.len()];
            let mut ws = Workspace::new();
            let mut cpu_ms = Vec::new();
            let mut gpu_ms = Vec::new();
            for rep in 0..4 {
                let t0 = Instant::now();
                cpu.forward(&x, None, &t, Some(&labels), &mut out, &mut ws).unwrap();
                let c = t0.elapsed().as_secs_f64() * 1e3;
                let t0 = Instant::now();
                let got = pollster::block_on(net.forward(&x, None, &t, Some(&labels))).unwrap();
                let g = t0.elapsed().as_secs_f64() * 1e3;
                assert!(got.iter().zip(&out).all(|(a, b)| (a - b).abs() < 1e-3));
                if rep > 0 {
                    cpu_ms.push(c);
                    gpu_ms.push(g);
                } else {
                    eprintln!("batch {batch:2}: first GPU forward (buffers, pipelines' first use) {g:.1} ms");
                }
            }
            let (c, g) = (median(cpu_ms), median(gpu_ms));
            eprintln!(
                "batch {batch:2}: CPU reference {c:8.1} ms ({:.2} GFLOP/s)   GPU {g:8.1} ms ({:.2} GFLOP/s)",
                gflop * batch as f64 / c * 1e3,
                gflop * batch as f64 / g * 1e3
            );
        }
    }
}
