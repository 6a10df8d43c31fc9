//! Test-only plain reference of every op and of both networks: f64, NCHW, simple loops, no
//! workspace and no code shared with the fast path (only the config, the weights and
//! `time::net_time`, the one documented time conversion). Written from the doc comments of
//! `MlpConfig` and `UnetConfig`; the UNet walks the levels itself rather than `UnetConfig::layers`.

use crate::config::{MlpConfig, UnetConfig, GROUPNORM_EPS};
use crate::field::NULL_LABEL;
use crate::weights::Weights;

pub fn nchw_to_nhwc(x: &[f32], batch: usize, c: usize, hw: usize) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    for b in 0..batch {
        for ch in 0..c {
            for p in 0..hw {
                y[(b * hw + p) * c + ch] = x[(b * c + ch) * hw + p];
            }
        }
    }
    y
}

pub fn nhwc_to_nchw(x: &[f32], batch: usize, c: usize, hw: usize) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    for b in 0..batch {
        for ch in 0..c {
            for p in 0..hw {
                y[(b * c + ch) * hw + p] = x[(b * hw + p) * c + ch];
            }
        }
    }
    y
}

/// `y[r][o] = b[o] + Σ_i w[o][i]·x[r][i]`.
pub fn linear(x: &[f64], rows: usize, fin: usize, w: &[f64], b: &[f64], fout: usize) -> Vec<f64> {
    let mut y = vec![0.0; rows * fout];
    for r in 0..rows {
        for o in 0..fout {
            let mut s = b[o];
            for i in 0..fin {
                s += w[o * fin + i] * x[r * fin + i];
            }
            y[r * fout + o] = s;
        }
    }
    y
}

/// Convolution with a `k × k` kernel, padding `k / 2`, stride `stride`; NCHW in and out.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(x: &[f64], batch: usize, cin: usize, h: usize, w: usize, wt: &[f64], bias: &[f64], cout: usize, k: usize, stride: usize) -> (Vec<f64>, usize, usize) {
    let pad = (k / 2) as isize;
    let oh = (h + 2 * pad as usize - k) / stride + 1;
    let ow = (w + 2 * pad as usize - k) / stride + 1;
    let mut y = vec![0.0; batch * cout * oh * ow];
    for b in 0..batch {
        for o in 0..cout {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = bias[o];
                    for i in 0..cin {
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * stride + ky) as isize - pad;
                                let ix = (ox * stride + kx) as isize - pad;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    s += wt[((o * cin + i) * k + ky) * k + kx] * x[((b * cin + i) * h + iy as usize) * w + ix as usize];
                                }
                            }
                        }
                    }
                    y[((b * cout + o) * oh + oy) * ow + ox] = s;
                }
            }
        }
    }
    (y, oh, ow)
}

/// Nearest-neighbour ×2 upsampling of `planes` planes of `h × w`.
pub fn upsample2(x: &[f64], planes: usize, h: usize, w: usize) -> Vec<f64> {
    let mut y = vec![0.0; planes * 4 * h * w];
    for p in 0..planes {
        for yy in 0..2 * h {
            for xx in 0..2 * w {
                y[(p * 2 * h + yy) * 2 * w + xx] = x[(p * h + yy / 2) * w + xx / 2];
            }
        }
    }
    y
}

/// PyTorch GroupNorm (biased variance, eps `GROUPNORM_EPS`), NCHW.
pub fn group_norm(x: &[f64], batch: usize, c: usize, hw: usize, groups: usize, gamma: &[f64], beta: &[f64]) -> Vec<f64> {
    let cpg = c / groups;
    let mut y = vec![0.0; x.len()];
    for b in 0..batch {
        for g in 0..groups {
            let vals = &x[(b * c + g * cpg) * hw..(b * c + (g + 1) * cpg) * hw];
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / vals.len() as f64;
            let rstd = 1.0 / (var + GROUPNORM_EPS as f64).sqrt();
            for ch in g * cpg..(g + 1) * cpg {
                for p in 0..hw {
                    let i = (b * c + ch) * hw + p;
                    y[i] = (x[i] - mean) * rstd * gamma[ch] + beta[ch];
                }
            }
        }
    }
    y
}

pub fn silu(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| v / (1.0 + (-v).exp())).collect()
}

/// `[cos(τ·f_0..), sin(τ·f_0..)]`, `f_i = exp(−ln(10000)·i/half)`.
pub fn sinusoidal(tau: f64, dim: usize) -> Vec<f64> {
    let half = dim / 2;
    let mut e = vec![0.0; dim];
    for i in 0..half {
        let f = (-(10000f64).ln() * i as f64 / half as f64).exp();
        e[i] = (tau * f).cos();
        e[half + i] = (tau * f).sin();
    }
    e
}

/// `x + proj(MHSA(GN(x)))`, NCHW `[batch][ch][l]`.
#[allow(clippy::too_many_arguments)]
pub fn attention(x: &[f64], batch: usize, ch: usize, l: usize, heads: usize, groups: usize, gamma: &[f64], beta: &[f64], wqkv: &[f64], bqkv: &[f64], wp: &[f64], bp: &[f64]) -> Vec<f64> {
    let xn = group_norm(x, batch, ch, l, groups, gamma, beta);
    let d = ch / heads;
    let mut y = x.to_vec();
    for b in 0..batch {
        // qkv[p][o] for this sample
        let mut qkv = vec![0.0; l * 3 * ch];
        for p in 0..l {
            for o in 0..3 * ch {
                let mut s = bqkv[o];
                for c in 0..ch {
                    s += wqkv[o * ch + c] * xn[(b * ch + c) * l + p];
                }
                qkv[p * 3 * ch + o] = s;
            }
        }
        let mut att = vec![0.0; l * ch];
        for h in 0..heads {
            for i in 0..l {
                let mut sc = vec![0.0; l];
                for j in 0..l {
                    let mut s = 0.0;
                    for kk in 0..d {
                        s += qkv[i * 3 * ch + h * d + kk] * qkv[j * 3 * ch + ch + h * d + kk];
                    }
                    sc[j] = s / (d as f64).sqrt();
                }
                let m = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = sc.iter().map(|v| (v - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for kk in 0..d {
                    let mut s = 0.0;
                    for j in 0..l {
                        s += e[j] / z * qkv[j * 3 * ch + 2 * ch + h * d + kk];
                    }
                    att[i * ch + h * d + kk] = s;
                }
            }
        }
        for c in 0..ch {
            for p in 0..l {
                let mut s = bp[c];
                for c2 in 0..ch {
                    s += wp[c * ch + c2] * att[p * ch + c2];
                }
                y[(b * ch + c) * l + p] += s;
            }
        }
    }
    y
}

/// Tensor lookup by parameter name.
struct P<'a> {
    w: &'a Weights,
    prefix: &'a str,
}

impl P<'_> {
    fn has(&self, name: &str) -> bool {
        self.w.tensors.contains_key(&format!("{}.{name}", self.prefix))
    }
    fn t(&self, name: &str) -> (Vec<f64>, Vec<usize>) {
        let t = &self.w.tensors[&format!("{}.{name}", self.prefix)];
        (t.data.iter().map(|&v| v as f64).collect(), t.shape.clone())
    }
    fn v(&self, name: &str) -> Vec<f64> {
        self.t(name).0
    }
    /// `y = x·Wᵀ + b` for the linear `name`.
    fn lin(&self, name: &str, x: &[f64], rows: usize) -> Vec<f64> {
        let (w, s) = self.t(&format!("{name}.weight"));
        linear(x, rows, s[1], &w, &self.v(&format!("{name}.bias")), s[0])
    }
    /// The conv `name` (k from its weight), NCHW, returns (y, cout).
    fn conv(&self, name: &str, x: &[f64], batch: usize, h: usize, w: usize, stride: usize) -> (Vec<f64>, usize) {
        let (wt, s) = self.t(&format!("{name}.weight"));
        let (y, _, _) = conv2d(x, batch, s[1], h, w, &wt, &self.v(&format!("{name}.bias")), s[0], s[2], stride);
        (y, s[0])
    }
    fn gn(&self, name: &str, x: &[f64], batch: usize, c: usize, hw: usize, groups: usize) -> Vec<f64> {
        group_norm(x, batch, c, hw, groups, &self.v(&format!("{name}.weight")), &self.v(&format!("{name}.bias")))
    }
}

fn label_row(labels: Option<&[u32]>, b: usize, num_classes: usize) -> usize {
    match labels.map(|l| l[b]) {
        None | Some(NULL_LABEL) => num_classes,
        Some(l) => l as usize,
    }
}

/// Time (and class) embedding: `lin2(SiLU(lin1(sin(net_time(t), dim)))) [+ class]`, `[batch][width]`.
fn time_embed(p: &P<'_>, t: &[f32], dim: usize, num_classes: usize, labels: Option<&[u32]>) -> Vec<f64> {
    let batch = t.len();
    let mut emb = Vec::new();
    for &tb in t {
        emb.extend(sinusoidal(crate::time::net_time(tb as f64) as f64, dim));
    }
    let mut e = p.lin("time.lin2", &silu(&p.lin("time.lin1", &emb, batch)), batch);
    if num_classes > 0 {
        let table = p.v("class_embed.weight");
        let width = e.len() / batch;
        for b in 0..batch {
            let r = label_row(labels, b, num_classes);
            for j in 0..width {
                e[b * width + j] += table[r * width + j];
            }
        }
    }
    e
}

/// The MLP of `MlpConfig`'s doc comment.
pub fn mlp(cfg: &MlpConfig, w: &Weights, prefix: &str, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: Option<&[u32]>) -> Vec<f64> {
    let p = P { w, prefix };
    let batch = t.len();
    let e = time_embed(&p, t, cfg.time_embed_dim, cfg.num_classes, labels);
    let fin = cfg.dim + cfg.cond_dim;
    let mut xin = Vec::new();
    for b in 0..batch {
        xin.extend(x[b * cfg.dim..(b + 1) * cfg.dim].iter().map(|&v| v as f64));
        if let Some(c) = cond {
            xin.extend(c[b * cfg.cond_dim..(b + 1) * cfg.cond_dim].iter().map(|&v| v as f64));
        }
    }
    assert_eq!(xin.len(), batch * fin);
    let mut h: Vec<f64> = p.lin("input", &xin, batch).iter().zip(&e).map(|(a, b)| a + b).collect();
    for i in 0..cfg.depth {
        h = p.lin(&format!("hidden.{i}"), &silu(&h), batch);
    }
    p.lin("output", &silu(&h), batch)
}

/// The UNet of `UnetConfig`'s doc comment; NCHW output `[batch][channels][h][w]`.
pub fn unet(cfg: &UnetConfig, w: &Weights, prefix: &str, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: Option<&[u32]>) -> Vec<f64> {
    let p = P { w, prefix };
    let batch = t.len();
    let g = cfg.groups;
    let c0 = cfg.base_channels;
    let st = silu(&time_embed(&p, t, c0, cfg.num_classes, labels));

    let res = |x: &[f64], cin: usize, h: usize, wd: usize, name: &str| -> (Vec<f64>, usize) {
        let hw = h * wd;
        let a = silu(&p.gn(&format!("{name}.norm1"), x, batch, cin, hw, g));
        let (mut h1, cout) = p.conv(&format!("{name}.conv1"), &a, batch, h, wd, 1);
        let tp = p.lin(&format!("{name}.temb"), &st, batch);
        for b in 0..batch {
            for c in 0..cout {
                for q in 0..hw {
                    h1[(b * cout + c) * hw + q] += tp[b * cout + c];
                }
            }
        }
        let a2 = silu(&p.gn(&format!("{name}.norm2"), &h1, batch, cout, hw, g));
        let (h2, _) = p.conv(&format!("{name}.conv2"), &a2, batch, h, wd, 1);
        let skip = if p.has(&format!("{name}.skip.weight")) { p.conv(&format!("{name}.skip"), x, batch, h, wd, 1).0 } else { x.to_vec() };
        (skip.iter().zip(&h2).map(|(a, b)| a + b).collect(), cout)
    };

    let (hh0, ww0) = (cfg.height, cfg.width);
    let hw0 = hh0 * ww0;
    let (cx, cc) = (cfg.channels, cfg.cond_channels);
    let mut xin = Vec::new();
    for b in 0..batch {
        xin.extend(x[b * cx * hw0..(b + 1) * cx * hw0].iter().map(|&v| v as f64));
        if let Some(c) = cond {
            xin.extend(c[b * cc * hw0..(b + 1) * cc * hw0].iter().map(|&v| v as f64));
        }
    }
    let (mut h, mut ch) = p.conv("conv_in", &xin, batch, hh0, ww0, 1);
    let (mut hh, mut ww) = (hh0, ww0);
    let mut skips = vec![(h.clone(), ch)];
    let last = cfg.channel_mult.len() - 1;
    for l in 0..=last {
        for j in 0..cfg.num_res_blocks {
            (h, ch) = res(&h, ch, hh, ww, &format!("down.{l}.res.{j}"));
            skips.push((h.clone(), ch));
        }
        if l != last {
            let (wt, s) = p.t(&format!("down.{l}.downsample.weight"));
            let (y, oh, ow) = conv2d(&h, batch, ch, hh, ww, &wt, &p.v(&format!("down.{l}.downsample.bias")), s[0], 3, 2);
            (h, hh, ww) = (y, oh, ow);
            skips.push((h.clone(), ch));
        }
    }
    (h, ch) = res(&h, ch, hh, ww, "mid.res.0");
    if cfg.attention {
        let v = |n: &str| p.v(&format!("mid.attn.{n}"));
        h = attention(&h, batch, ch, hh * ww, cfg.attention_heads, g, &v("norm.weight"), &v("norm.bias"), &v("qkv.weight"), &v("qkv.bias"), &v("proj.weight"), &v("proj.bias"));
    }
    (h, ch) = res(&h, ch, hh, ww, "mid.res.1");
    for l in (0..=last).rev() {
        for j in 0..=cfg.num_res_blocks {
            let (s, cs) = skips.pop().expect("skip");
            let hw = hh * ww;
            let mut cat = Vec::new();
            for b in 0..batch {
                cat.extend_from_slice(&h[b * ch * hw..(b + 1) * ch * hw]);
                cat.extend_from_slice(&s[b * cs * hw..(b + 1) * cs * hw]);
            }
            (h, ch) = res(&cat, ch + cs, hh, ww, &format!("up.{l}.res.{j}"));
        }
        if l != 0 {
            let up = upsample2(&h, batch * ch, hh, ww);
            (hh, ww) = (2 * hh, 2 * ww);
            (h, _) = p.conv(&format!("up.{l}.upsample"), &up, batch, hh, ww, 1);
        }
    }
    assert!(skips.is_empty());
    let a = silu(&p.gn("out.norm", &h, batch, ch, hh * ww, g));
    p.conv("out.conv", &a, batch, hh, ww, 1).0
}
