//! `beeline bench --profile`: the GPU time of every kernel of one WGSL-runtime evaluation, from
//! timestamp queries (`GpuNetwork::profile`), as medians over the timed evaluations, summed per
//! kernel and listed per dispatch; and the dispatches of one evaluation
//! (`GpuNetwork::dispatch_count`), by kind and kernel.

use beeline::gpu::{DispatchCount, GpuNetwork, KernelTime};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// The per-kernel profile of one batch size.
#[derive(Clone, Debug)]
pub struct Profile {
    pub batch: usize,
    /// Evaluations the medians are taken over.
    pub iters: usize,
    /// In execution order; each `ms` is the median over the evaluations.
    pub dispatches: Vec<KernelTime>,
}

/// One kernel's share of an evaluation.
pub struct Share {
    pub kernel: &'static str,
    pub count: usize,
    pub ms: f64,
    pub flop: u64,
}

impl Profile {
    /// Profiles one evaluation untimed (its dispatch list is built then), then `iters` timed.
    pub fn measure(net: &GpuNetwork, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: Option<&[u32]>, iters: usize) -> beeline::Result<Profile> {
        let run = || pollster::block_on(net.profile(x, cond, t, labels));
        run()?;
        let runs: Vec<Vec<KernelTime>> = (0..iters.max(1)).map(|_| run()).collect::<beeline::Result<_>>()?;
        let dispatches = runs[0]
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let ms: Vec<f64> = runs.iter().filter_map(|r| r.get(i).map(|k| k.ms)).collect();
                KernelTime { ms: super::median(&ms), ..k.clone() }
            })
            .collect();
        Ok(Profile { batch: t.len(), iters: iters.max(1), dispatches })
    }

    /// Sum of the dispatches' medians, ms.
    pub fn total_ms(&self) -> f64 {
        self.dispatches.iter().map(|d| d.ms).sum()
    }

    /// Per kernel, largest total first.
    pub fn shares(&self) -> Vec<Share> {
        let mut out: Vec<Share> = Vec::new();
        for d in &self.dispatches {
            match out.iter_mut().find(|s| s.kernel == d.kernel) {
                Some(s) => {
                    s.count += 1;
                    s.ms += d.ms;
                    s.flop += d.flop;
                }
                None => out.push(Share { kernel: d.kernel, count: 1, ms: d.ms, flop: d.flop }),
            }
        }
        out.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        out
    }

    /// The per-kernel summary and the `top` slowest dispatches.
    pub fn table(&self, top: usize) -> String {
        let mut s = String::new();
        let total = self.total_ms();
        let gflops = |flop: u64, ms: f64| if flop > 0 && ms > 0.0 { format!("{:.2}", flop as f64 / ms * 1e-6) } else { "–".into() };
        let _ = writeln!(s, "profile  wgsl, batch {}: {} dispatches, {:.2} ms of kernel time (medians of {} evaluations, timestamp queries)", self.batch, self.dispatches.len(), total, self.iters);
        let _ = writeln!(s, "  {:<14} {:>5} {:>10} {:>6} {:>9}", "kernel", "count", "ms", "%", "GFLOP/s");
        for sh in self.shares() {
            let _ = writeln!(s, "  {:<14} {:>5} {:>10.3} {:>5.1}% {:>9}", sh.kernel, sh.count, sh.ms, 100.0 * sh.ms / total, gflops(sh.flop, sh.ms));
        }
        let mut order: Vec<usize> = (0..self.dispatches.len()).collect();
        order.sort_by(|&a, &b| self.dispatches[b].ms.total_cmp(&self.dispatches[a].ms));
        let _ = writeln!(s, "  slowest dispatches (# = position in the evaluation):");
        for &i in order.iter().take(top) {
            let d = &self.dispatches[i];
            let _ = writeln!(
                s,
                "  #{i:<3} {:<12} {:>9.3} ms {:>5.1}% {:>9} GFLOP/s  {}  grid {}×{}×{}",
                d.kernel,
                d.ms,
                100.0 * d.ms / total,
                gflops(d.flop, d.ms),
                d.shape,
                d.groups[0],
                d.groups[1],
                d.groups[2]
            );
        }
        s
    }

    pub fn to_json(&self) -> Value {
        json!({
            "batch": self.batch,
            "iters": self.iters,
            "total_ms": self.total_ms(),
            "kernels": self.shares().iter().map(|s| json!({"kernel": s.kernel, "count": s.count, "ms": s.ms, "flop": s.flop})).collect::<Vec<_>>(),
            "dispatches": self.dispatches.iter().map(|d| json!({
                "kernel": d.kernel, "shape": d.shape, "groups": d.groups, "flop": d.flop, "median_ms": d.ms,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The JSON of a dispatch count: `{"batch", "total", "submissions", "kinds": [{"kind",
/// "count"}], "kernels": [{"kind", "kernel", "count"}]}`.
pub fn dispatches_json(d: &DispatchCount) -> Value {
    json!({
        "batch": d.batch,
        "total": d.total(),
        "submissions": d.submissions,
        "kinds": d.by_kind().iter().map(|(k, n)| json!({"kind": k.name(), "count": n})).collect::<Vec<_>>(),
        "kernels": d.kernels.iter().map(|(k, name, n)| json!({"kind": k.name(), "kernel": name, "count": n})).collect::<Vec<_>>(),
    })
}
