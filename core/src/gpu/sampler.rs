//! A sampler [`Plan`] compiled into GPU work, for one batch size.
//!
//! The plan's slots live in one state buffer. Every `Lincomb` and `Copy` becomes an
//! `elementwise.wgsl` dispatch whose coefficients (rounded from the plan's f64 to f32, as the
//! CPU interpreter does) are fixed when the plan is compiled. Every `Eval` becomes: copies of
//! its input (and conditioning) slot into the network's input buffers, the network's compute
//! pass, and the result back into its output slot — or, with classifier-free guidance, a
//! doubled batch `[x; x]` with labels `[labels; null]` and the `cfg_combine` kernel, exactly
//! as [`Guided`](crate::sampling::Guided) does on the CPU. The evaluation time is written with
//! `queue.write_buffer` just before the evaluation's submission.
//!
//! One submission per network evaluation (carrying the element-wise ops before it), one at the
//! end, and one asynchronous readback of the result (and of the trajectory, if recorded). A
//! watched run (a live preview) also submits and reads back the state after every step.

use super::context::{GpuContext, STORAGE_USAGE};
use super::kernels::elementwise::{cfg_combine, lincomb};
use super::kernels::{DispatchList, Spec};
use super::network::NetExec;
use crate::config::NetRole;
use crate::error::{Error, Result};
use crate::field::NULL_LABEL;
use crate::sampling::{Op, Plan, Slot};
use std::collections::BTreeMap;

/// How the labels and guidance scale map onto network evaluations (as `sampling::Guided`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Guidance {
    /// Scale 1: one evaluation with the labels.
    Labels,
    /// Scale 0: one evaluation with the null label everywhere.
    Nulls,
    /// Any other scale: the doubled batch, combined with `uncond + scale·(cond − uncond)`.
    Doubled(f32),
}

impl Guidance {
    /// The mode of a guidance scale (exact comparisons, as `Guided` makes them).
    pub(crate) fn of(scale: f32) -> Guidance {
        if scale == 1.0 {
            Guidance::Labels
        } else if scale == 0.0 {
            Guidance::Nulls
        } else {
            Guidance::Doubled(scale)
        }
    }

    /// Samples per network evaluation for `batch` samples.
    pub(crate) fn net_batch(self, batch: usize) -> usize {
        if matches!(self, Guidance::Doubled(_)) { 2 * batch } else { batch }
    }

    /// The labels the networks see for `labels`.
    fn net_labels(self, labels: &[u32]) -> Vec<u32> {
        match self {
            Guidance::Labels => labels.to_vec(),
            Guidance::Nulls => vec![NULL_LABEL; labels.len()],
            Guidance::Doubled(_) => labels.iter().copied().chain(std::iter::repeat_n(NULL_LABEL, labels.len())).collect(),
        }
    }
}

/// One compiled op.
#[derive(Clone, Debug)]
enum GpuOp {
    /// Element-wise dispatch `i` of the plan's list.
    Elementwise(usize),
    /// A network evaluation; `combine` is the guidance dispatch (doubled batch only).
    Eval { net: NetRole, input: u64, cond: Option<u64>, out: u64, t: f32, combine: Option<usize> },
    /// Copy X into trajectory row `step`.
    Record(usize),
}

/// A plan compiled for `batch` samples of `numel` scalars.
pub(crate) struct GpuPlan {
    ctx: GpuContext,
    ops: Vec<GpuOp>,
    list: DispatchList,
    state: wgpu::Buffer,
    x_off: u64,
    /// The plan's given slots and their offsets, written by `run` after the state.
    inputs: Vec<(Slot, u64)>,
    /// The offset of the slot read back after the run, if any.
    keep: Option<u64>,
    len: usize,
    batch: usize,
    guidance: Guidance,
    steps: usize,
    traj: Option<wgpu::Buffer>,
    staging: wgpu::Buffer,
}

impl GpuPlan {
    /// Compiles `plan` for `batch` samples against the network executors `execs` (one per role
    /// the plan evaluates, each with room for `guidance.net_batch(batch)` samples).
    ///
    /// A plan with given slots ([`Plan::with_given`]) takes their values in [`GpuPlan::run`];
    /// `keep` names a slot whose final contents `run` also reads back (CAF's v̂0 after an
    /// inversion, for a regeneration that reuses it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        ctx: &GpuContext,
        plan: &Plan,
        batch: usize,
        numel: usize,
        guidance: Guidance,
        record: bool,
        keep: Option<Slot>,
        execs: &BTreeMap<NetRole, NetExec>,
    ) -> Result<GpuPlan> {
        let len = batch * numel;
        let nb = guidance.net_batch(batch);
        for role in plan.roles() {
            let exec = execs.get(&role).ok_or_else(|| Error::InvalidInput(format!("this model has no `{}` network", role.prefix())))?;
            if exec.max_batch < nb {
                return Err(Error::InvalidInput(format!("internal: executor for {} samples, need {nb}", exec.max_batch)));
            }
        }
        // Slot offsets (f32 elements), 64-aligned, for the slots the plan uses.
        let stride = len.next_multiple_of(64);
        let mut offs = [None; Slot::ALL.len()];
        for (k, s) in plan.slots().iter().enumerate() {
            offs[s.index()] = Some((k * stride) as u64);
        }
        let off = |s: Slot| offs[s.index()].unwrap_or(0);
        let state = ctx.buffer("sampler state", (plan.slots().len() * stride * 4) as u64, STORAGE_USAGE)?;
        let steps = plan.steps();
        let traj = if record { Some(ctx.buffer("trajectory", ((steps + 1) * len * 4) as u64, STORAGE_USAGE)?) } else { None };
        let keep = keep.filter(|k| *k != Slot::X && plan.slots().contains(k)).map(off);
        let inputs: Vec<(Slot, u64)> = plan.inputs().iter().map(|s| (*s, off(*s))).collect();
        let staging_len = len * (if record { steps + 2 } else { 1 } + usize::from(keep.is_some()));
        let staging = ctx.buffer("readback", (staging_len * 4) as u64, wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST)?;

        // Binding 1 of `lincomb` is unused; it must not alias the read-write state.
        let dummy = ctx.upload("dummy", &[0.0; 4])?;
        let u = |v: u64| v as u32;
        let mut specs: Vec<Spec<'_>> = Vec::new();
        let mut ops = Vec::new();
        for op in plan.ops() {
            match op {
                Op::Lincomb { out, terms } => {
                    let terms: Vec<(f32, u32)> = terms.iter().map(|(c, s)| (*c as f32, u(off(*s)))).collect();
                    ops.push(GpuOp::Elementwise(specs.len()));
                    specs.push(lincomb(len as u32, u(off(*out)), &terms, &state, &dummy));
                }
                Op::Copy { from, to } => {
                    ops.push(GpuOp::Elementwise(specs.len()));
                    specs.push(lincomb(len as u32, u(off(*to)), &[(1.0, u(off(*from)))], &state, &dummy));
                }
                Op::Eval { net, input, cond, t, out } => {
                    let combine = match guidance {
                        Guidance::Doubled(scale) => {
                            let exec = &execs[net];
                            specs.push(cfg_combine(len as u32, u(off(*out)), 0, len as u32, scale, &state, &exec.out));
                            Some(specs.len() - 1)
                        }
                        _ => None,
                    };
                    // t as f32, as the CPU model hands it to its networks.
                    ops.push(GpuOp::Eval { net: *net, input: off(*input), cond: cond.map(off), out: off(*out), t: *t as f32, combine });
                }
                // Kept in every plan: a watched run reads the state back here.
                Op::Record { step, .. } => ops.push(GpuOp::Record(*step)),
            }
        }
        let list = DispatchList::new(ctx, &specs)?;
        Ok(GpuPlan { ctx: ctx.clone(), ops, list, x_off: off(Slot::X), inputs, keep, state, len, batch, guidance, steps, traj, staging })
    }

    /// Runs the plan from `x0` (`[batch, numel]`) with per-sample `labels` and the values of
    /// its given slots (`given`, one `[batch, numel]` per slot of [`Plan::inputs`]); returns
    /// the final state, the `steps + 1` trajectory states if recording, and the kept slot's
    /// final contents if the plan was compiled with one. `watch`, if given, receives the state
    /// after each step `1..=steps` (`[batch, numel]`), read back as the run goes.
    pub(crate) async fn run(
        &self,
        execs: &mut BTreeMap<NetRole, NetExec>,
        x0: &[f32],
        labels: &[u32],
        given: &[(Slot, &[f32])],
        mut watch: Option<&mut dyn FnMut(usize, &[f32])>,
    ) -> Result<(Vec<f32>, Vec<Vec<f32>>, Option<Vec<f32>>)> {
        let ctx = &self.ctx;
        let (len, bytes) = (self.len, (self.len * 4) as u64);
        if x0.len() != len || labels.len() != self.batch {
            return Err(Error::InvalidInput(format!("a plan for {} samples got {} values and {} labels", self.batch, x0.len(), labels.len())));
        }
        let inputs: Vec<Slot> = self.inputs.iter().map(|(s, _)| *s).collect();
        crate::sampling::check_given(&inputs, given, len)?;
        let q = ctx.queue();
        q.write_buffer(&self.state, self.x_off * 4, bytemuck::cast_slice(x0));
        for (slot, values) in given {
            let off = self.inputs.iter().find(|(s, _)| s == slot).map_or(0, |(_, o)| *o);
            q.write_buffer(&self.state, off * 4, bytemuck::cast_slice(values));
        }
        let net_labels = self.guidance.net_labels(labels);
        for exec in execs.values() {
            exec.write_labels(&net_labels);
        }
        let nb = self.guidance.net_batch(self.batch);
        let doubled = matches!(self.guidance, Guidance::Doubled(_));
        let new_encoder = || ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("sampler") });
        let mut enc = new_encoder();
        let mut pending: Vec<usize> = Vec::new();
        let flush = |enc: &mut wgpu::CommandEncoder, pending: &mut Vec<usize>| {
            if !pending.is_empty() {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("elementwise"), timestamp_writes: None });
                self.list.encode_items(ctx, &mut pass, pending);
                pending.clear();
            }
        };
        for op in &self.ops {
            match op {
                GpuOp::Elementwise(i) => pending.push(*i),
                GpuOp::Record(step) => {
                    if let Some(traj) = &self.traj {
                        flush(&mut enc, &mut pending);
                        enc.copy_buffer_to_buffer(&self.state, self.x_off * 4, traj, (*step * len * 4) as u64, bytes);
                    }
                    if let (Some(w), true) = (watch.as_deref_mut(), *step > 0) {
                        flush(&mut enc, &mut pending);
                        enc.copy_buffer_to_buffer(&self.state, self.x_off * 4, &self.staging, 0, bytes);
                        q.submit([std::mem::replace(&mut enc, new_encoder()).finish()]);
                        w(*step, &ctx.read_back(&self.staging, len).await?);
                    }
                }
                GpuOp::Eval { net, input, cond, out, t, combine } => {
                    flush(&mut enc, &mut pending);
                    let exec = execs.get_mut(net).ok_or_else(|| Error::InvalidInput(format!("this model has no `{}` network", net.prefix())))?;
                    for half in 0..(1 + usize::from(doubled)) as u64 {
                        enc.copy_buffer_to_buffer(&self.state, input * 4, &exec.x, half * bytes, bytes);
                        if let (Some(c), Some(cb)) = (cond, &exec.cond) {
                            enc.copy_buffer_to_buffer(&self.state, c * 4, cb, half * bytes, bytes);
                        }
                    }
                    exec.encode(&mut enc, nb)?;
                    match combine {
                        Some(i) => {
                            pending.push(*i);
                            flush(&mut enc, &mut pending);
                        }
                        None => enc.copy_buffer_to_buffer(&exec.out, 0, &self.state, out * 4, bytes),
                    }
                    exec.write_t(&vec![*t; nb]);
                    q.submit([std::mem::replace(&mut enc, new_encoder()).finish()]);
                }
            }
        }
        flush(&mut enc, &mut pending);
        enc.copy_buffer_to_buffer(&self.state, self.x_off * 4, &self.staging, 0, bytes);
        let traj_len = if self.traj.is_some() { (self.steps + 1) * len } else { 0 };
        if let Some(traj) = &self.traj {
            enc.copy_buffer_to_buffer(traj, 0, &self.staging, bytes, (traj_len * 4) as u64);
        }
        if let Some(k) = self.keep {
            enc.copy_buffer_to_buffer(&self.state, k * 4, &self.staging, ((len + traj_len) * 4) as u64, bytes);
        }
        q.submit([enc.finish()]);
        let total = len + traj_len + if self.keep.is_some() { len } else { 0 };
        let all = ctx.read_back(&self.staging, total).await?;
        let x = all[..len].to_vec();
        let traj = all[len..len + traj_len].chunks_exact(len).map(|c| c.to_vec()).collect();
        let kept = self.keep.map(|_| all[len + traj_len..].to_vec());
        Ok((x, traj, kept))
    }
}
