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
