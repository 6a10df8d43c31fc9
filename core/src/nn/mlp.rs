//! The MLP of [`MlpConfig`] (activations row-major `[batch][features]`).

use super::activation::silu_inplace;
use super::embed::{add_class_rows, time_embedding};
use super::linear::Linear;
use super::workspace::Workspace;
use super::Loader;
use crate::config::{ArchConfig, MlpConfig};
use crate::error::Result;

/// The CPU reference MLP:
///
/// ```text
/// e = lin2(SiLU(lin1(sinusoidal(net_time(t), time_embed_dim)))) [+ class_embed[label]]
/// h = input(concat[x, cond]) + e
/// h = hidden.i(SiLU(h))              for i in 0..depth
/// out = output(SiLU(h))
/// ```
#[derive(Clone, Debug)]
pub struct Mlp {
    arch: ArchConfig,
    cfg: MlpConfig,
    lin1: Linear,
    lin2: Linear,
    class_embed: Option<Vec<f32>>,
    input: Linear,
    hidden: Vec<Linear>,
    output: Linear,
}

impl Mlp {
    pub(crate) fn new(cfg: &MlpConfig, p: &Loader<'_>) -> Result<Self> {
        let w = cfg.hidden;
        Ok(Mlp {
            arch: ArchConfig::Mlp(cfg.clone()),
            cfg: cfg.clone(),
            lin1: p.linear("time.lin1", cfg.time_embed_dim, w)?,
            lin2: p.linear("time.lin2", w, w)?,
            class_embed: if cfg.num_classes > 0 { Some(p.get("class_embed.weight", &[cfg.num_classes + 1, w])?.to_vec()) } else { None },
            input: p.linear("input", cfg.dim + cfg.cond_dim, w)?,
            hidden: (0..cfg.depth).map(|i| p.linear(&format!("hidden.{i}"), w, w)).collect::<Result<_>>()?,
            output: p.linear("output", w, cfg.dim)?,
        })
    }

    /// The architecture.
    pub fn arch(&self) -> &ArchConfig {
        &self.arch
    }

    /// The largest buffer a forward takes, in values per sample.
    pub(crate) fn max_per_sample(&self) -> usize {
        let c = &self.cfg;
        c.hidden.max(c.time_embed_dim).max(c.dim + c.cond_dim)
    }

    /// Inputs already validated by `Network::forward`.
    pub(crate) fn forward(&self, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: Option<&[u32]>, out: &mut [f32], ws: &mut Workspace) {
        let cfg = &self.cfg;
        let (batch, w) = (t.len(), cfg.hidden);
        let mut emb = ws.take(batch * cfg.time_embed_dim);
        time_embedding(t, cfg.time_embed_dim, &mut emb);
        let mut e1 = ws.take(batch * w);
        self.lin1.forward(&emb, batch, &mut e1, ws);
        silu_inplace(&mut e1);
        // h starts as e, then the input layer is added onto it.
        let mut h = ws.take(batch * w);
        self.lin2.forward(&e1, batch, &mut h, ws);
        if let Some(table) = &self.class_embed {
            add_class_rows(table, cfg.num_classes, labels, &mut h);
        }
        ws.give(emb);
        ws.give(e1);
        match cond {
            Some(c) if cfg.cond_dim > 0 => {
                let fin = cfg.dim + cfg.cond_dim;
                let mut xin = ws.take(batch * fin);
                for (b, row) in xin.chunks_exact_mut(fin).enumerate() {
                    row[..cfg.dim].copy_from_slice(&x[b * cfg.dim..(b + 1) * cfg.dim]);
                    row[cfg.dim..].copy_from_slice(&c[b * cfg.cond_dim..(b + 1) * cfg.cond_dim]);
                }
                self.input.forward_add(&xin, batch, &mut h, ws);
                ws.give(xin);
            }
            _ => self.input.forward_add(x, batch, &mut h, ws),
        }
        let mut h2 = ws.take(batch * w);
        for layer in &self.hidden {
            silu_inplace(&mut h);
            layer.forward(&h, batch, &mut h2, ws);
            std::mem::swap(&mut h, &mut h2);
        }
        silu_inplace(&mut h);
        self.output.forward(&h, batch, out, ws);
        ws.give(h);
        ws.give(h2);
    }
}
