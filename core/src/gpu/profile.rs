//! Per-kernel GPU timing with timestamp queries (the adapter's `timestamp-query` feature): each
//! dispatch of a network evaluation runs in its own compute pass, whose beginning and end the
//! GPU stamps. The stamps are resolved on the GPU and read back asynchronously, like results.
//!
//! The separate passes add a pass boundary between dispatches that one evaluation's single
//! pass does not have, so the sum of the kernel times can exceed an untimed evaluation a little;
//! the times measure the kernels, not the API calls around them.

use super::context::GpuContext;
use crate::error::{Error, Result};

/// The GPU time of one dispatch of a network evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// The kernel, as named in `wgsl/`: `"conv3x3"`, `"linear"`, `"groupnorm"`, `"softmax_rows"`, …
    pub kernel: &'static str,
    /// What this dispatch computes, e.g. `"64×28×28×32 → 64×14×14×64 (down)"`.
    pub shape: String,
    /// Workgroups launched, `[x, y, z]`.
    pub groups: [u32; 3],
    /// Floating-point operations, 2 × multiply-adds (the count of [`nn::flops`](crate::nn::flops);
    /// 0 for normalisation, embeddings and data movement, which it does not count).
    pub flop: u64,
    /// Time between the pass's two stamps, milliseconds.
    pub ms: f64,
}

/// The most dispatches one profile can time (wgpu allows 4096 queries per set, two per pass).
pub(crate) const MAX_TIMED: usize = 2048;

/// A query set with two stamps per timed pass, and the buffers to read them back.
pub(crate) struct Timestamps {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    staging: wgpu::Buffer,
    count: u32,
}

impl Timestamps {
    /// Room for `passes` timed passes.
    ///
    /// Errors: [`Error::InvalidInput`] when the device has no `timestamp-query` (see
    /// [`AdapterSummary::timestamps`](super::AdapterSummary::timestamps)) or `passes` exceeds
    /// [`MAX_TIMED`].
    pub(crate) fn new(ctx: &GpuContext, passes: usize) -> Result<Timestamps> {
        if !ctx.adapter().timestamps {
            return Err(Error::InvalidInput(format!(
                "per-kernel timing needs the `timestamp-query` feature, which adapter {} does not offer",
                ctx.adapter().describe()
            )));
        }
        if passes == 0 || passes > MAX_TIMED {
            return Err(Error::InvalidInput(format!("can time 1..={MAX_TIMED} dispatches at once, not {passes}")));
        }
        let count = 2 * passes as u32;
        let set = ctx.device().create_query_set(&wgpu::QuerySetDescriptor { label: Some("kernel times"), ty: wgpu::QueryType::Timestamp, count });
        let bytes = u64::from(count) * 8;
        let resolve = ctx.buffer("timestamps", bytes, wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC)?;
        let staging = ctx.buffer("timestamps readback", bytes, wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST)?;
        Ok(Timestamps { set, resolve, staging, count })
    }

    /// The stamps of timed pass `i`: its beginning and its end.
    pub(crate) fn writes(&self, i: usize) -> wgpu::ComputePassTimestampWrites<'_> {
        wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(2 * i as u32),
            end_of_pass_write_index: Some(2 * i as u32 + 1),
        }
    }

    /// Records the resolution of every stamp and its copy to the readback buffer (after the
    /// timed passes, in the same encoder).
    pub(crate) fn resolve(&self, enc: &mut wgpu::CommandEncoder) {
        enc.resolve_query_set(&self.set, 0..self.count, &self.resolve, 0);
        enc.copy_buffer_to_buffer(&self.resolve, 0, &self.staging, 0, u64::from(self.count) * 8);
    }

    /// Each timed pass's duration in ms, once the submission that resolved them has run.
    pub(crate) async fn read_ms(&self, ctx: &GpuContext) -> Result<Vec<f64>> {
        let bytes = ctx.read_back_bytes(&self.staging, u64::from(self.count) * 8).await?;
        let ns_per_tick = f64::from(ctx.queue().get_timestamp_period());
        let stamps: Vec<u64> = bytes.chunks_exact(8).map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect();
        Ok(stamps.chunks_exact(2).map(|p| p[1].saturating_sub(p[0]) as f64 * ns_per_tick * 1e-6).collect())
    }
}

/// What a compute dispatch of a network evaluation does, for counting dispatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DispatchKind {
    /// Matrix products (`linear.wgsl`, `linear_direct.wgsl`): linear layers, 1×1 convolutions,
    /// the time MLP, attention's qkv, q·kᵀ, P·v and output projection.
    Gemm,
    /// 3×3 convolutions (`conv3x3.wgsl`, `conv3x3_direct.wgsl`), also down- and upsampling.
    Conv3x3,
    /// GroupNorm, with or without the SiLU after it.
    GroupNorm,
    /// Attention's row softmax.
    Softmax,
    /// The sinusoidal time features and the class-embedding rows.
    TimeEmbedding,
    /// Channel concatenation of two activations (a UNet's skip connections, an MLP's cond).
    Concat,
    /// The input's NCHW → NHWC and the output's NHWC → NCHW.
    Layout,
}

impl DispatchKind {
    /// `"gemm"`, `"conv3x3"`, `"groupnorm"`, `"softmax"`, `"time-embedding"`, `"concat"`,
    /// `"layout"`.
    pub fn name(self) -> &'static str {
        match self {
            DispatchKind::Gemm => "gemm",
            DispatchKind::Conv3x3 => "conv3x3",
            DispatchKind::GroupNorm => "groupnorm",
            DispatchKind::Softmax => "softmax",
            DispatchKind::TimeEmbedding => "time-embedding",
            DispatchKind::Concat => "concat",
            DispatchKind::Layout => "layout",
        }
    }
}

/// The compute dispatches one network evaluation records
/// ([`GpuNetwork::dispatch_count`](super::GpuNetwork::dispatch_count)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchCount {
    /// Samples evaluated.
    pub batch: usize,
    /// Submissions the evaluation takes: one per chunk of at most
    /// [`GpuNetwork::max_batch`](super::GpuNetwork::max_batch) samples, each one compute pass.
    pub submissions: usize,
    /// `(kind, kernel, dispatches)` per kernel (as [`KernelTime::kernel`] names it), in the
    /// order of first use, summed over the submissions.
    pub kernels: Vec<(DispatchKind, &'static str, usize)>,
}

impl DispatchCount {
    /// Adds `n` dispatches of `kernel`.
    pub(crate) fn add(&mut self, kind: DispatchKind, kernel: &'static str, n: usize) {
        match self.kernels.iter_mut().find(|(k, name, _)| *k == kind && *name == kernel) {
            Some(entry) => entry.2 += n,
            None => self.kernels.push((kind, kernel, n)),
        }
    }

    /// Dispatches of the whole evaluation.
    pub fn total(&self) -> usize {
        self.kernels.iter().map(|k| k.2).sum()
    }

    /// Dispatches per kind, in [`DispatchKind`] order.
    pub fn by_kind(&self) -> Vec<(DispatchKind, usize)> {
        let mut out: Vec<(DispatchKind, usize)> = Vec::new();
        for &(kind, _, n) in &self.kernels {
            match out.iter_mut().find(|(k, _)| *k == kind) {
                Some(e) => e.1 += n,
                None => out.push((kind, n)),
            }
        }
        out.sort();
        out
    }

    /// `"92 dispatches in 1 submission: gemm 24 (linear_direct 22, linear 2), conv3x3 28 (…), …"`.
    pub fn describe(&self) -> String {
        let kinds: Vec<String> = self
            .by_kind()
            .iter()
            .map(|&(kind, n)| {
                let per: Vec<&(DispatchKind, &'static str, usize)> = self.kernels.iter().filter(|k| k.0 == kind).collect();
                if per.len() > 1 || per.first().is_some_and(|k| k.1 != kind.name()) {
                    let names: Vec<String> = per.iter().map(|k| format!("{} {}", k.1, k.2)).collect();
                    format!("{} {n} ({})", kind.name(), names.join(", "))
                } else {
                    format!("{} {n}", kind.name())
                }
            })
            .collect();
        let subs = if self.submissions == 1 { "1 submission".to_string() } else { format!("{} submissions", self.submissions) };
        format!("{} dispatches in {subs}: {}", self.total(), kinds.join(", "))
    }
}
