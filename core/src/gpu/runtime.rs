//! A model file on the GPU, with the generation API of [`pipeline`](crate::pipeline).

use super::context::GpuContext;
use super::network::{DEFAULT_BUDGET, GpuNetwork, NetExec};
use super::sampler::{GpuPlan, Guidance};
use crate::config::{ModelConfig, NetRole};
use crate::error::{Error, Result};
use crate::modelfile::ModelFile;
use crate::pipeline::{Batch, BatchJob, GenerateRequest, Generated, Progress, Reconstruction, StepStates, Transport, generation_inputs, reconstruct_on, transport_given, transport_on};
use crate::sampling::Plan;
use std::collections::BTreeMap;

/// A model ready to sample on the GPU: its networks compiled and their weights uploaded once.
///
/// [`generate`](Self::generate) and [`transport_from`](Self::transport_from) mirror
/// [`pipeline::generate`](crate::pipeline::generate) and
/// [`pipeline::transport_from`](crate::pipeline::transport_from) on the CPU [`Model`](crate::model::Model):
/// the same seeded noise (drawn on the host), the same labels and guidance, the same sampler
/// plan, so the same samples up to f32 rounding (see the parity tests). Buffers are allocated
/// once per (model, batch) and kept for the next call with the same or a smaller batch.
pub struct GpuModel {
    ctx: GpuContext,
    config: ModelConfig,
    nets: BTreeMap<NetRole, GpuNetwork>,
    execs: BTreeMap<NetRole, NetExec>,
    budget: u64,
    /// The plan of the transport in progress, compiled for its batch size (reset by `prepare`).
    compiled: Option<(usize, GpuPlan)>,
}

impl GpuModel {
    /// Compiles the networks of a validated model file and uploads their weights.
    ///
    /// Errors: [`Error::DeviceLost`] if the device cannot hold the weights (buffer limits, out
    /// of memory) or fails.
    pub async fn new(ctx: &GpuContext, file: &ModelFile) -> Result<GpuModel> {
        let scope = ctx.device().push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let mut nets = BTreeMap::new();
        let built: Result<()> = (|| {
            for (role, arch) in &file.config.networks {
                nets.insert(*role, GpuNetwork::new(ctx, arch, &file.weights, role.prefix())?);
            }
            Ok(())
        })();
        let oom = scope.pop().await;
        built?;
        if let Some(e) = oom {
            return Err(Error::DeviceLost(format!("uploading the model's weights: {e}")));
        }
        ctx.check()?;
        Ok(GpuModel { ctx: ctx.clone(), config: file.config.clone(), nets, execs: BTreeMap::new(), budget: DEFAULT_BUDGET, compiled: None })
    }

    /// The model's config.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The device it runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The network of `role`, if the model has one.
    pub fn network(&self, role: NetRole) -> Option<&GpuNetwork> {
        self.nets.get(&role)
    }

    /// Sets the activation memory one network evaluation may use (default 1 GiB); a larger
    /// batch is split into several runs.
    pub fn set_memory_budget(&mut self, bytes: u64) {
        self.budget = bytes.max(1);
    }

    /// The most samples one run takes with guidance scale `guidance` (guidance other than 0 and
    /// 1 doubles the batch the networks see); `req.batch` is capped to it.
    pub fn max_batch(&self, guidance: f32) -> usize {
        let per_net = self.nets.values().map(|n| n.max_batch(self.budget)).min().unwrap_or(1);
        (per_net / Guidance::of(guidance).net_batch(1)).max(1)
    }

    /// Generates `req.num_samples` samples from seeded Gaussian noise, as
    /// [`pipeline::generate`](crate::pipeline::generate) does on the CPU. `progress` is called
    /// after each batch completes.
    pub async fn generate(&mut self, req: &GenerateRequest, progress: &mut dyn FnMut(Progress)) -> Result<Generated> {
        let (noise, labels) = generation_inputs(req, self.config.data.numel(), self.config.classes.len())?;
        Ok(transport_on(self, req, &req.sampler.plan()?, noise, labels, None, false, progress, None).await?.0)
    }

    /// Integrates `req.sampler` (usually an inversion) from the start states `x`, as
    /// [`pipeline::transport_from`](crate::pipeline::transport_from) does.
    pub async fn transport_from(&mut self, req: &GenerateRequest, x: Vec<f32>, progress: &mut dyn FnMut(Progress)) -> Result<Generated> {
        transport_given(self, req, x, progress, None).await
    }

    /// [`transport_from`](Self::transport_from) with each step's states handed to `watch`, as
    /// [`pipeline::transport_watched`](crate::pipeline::transport_watched): one readback per step.
    pub async fn transport_watched(&mut self, req: &GenerateRequest, x: Vec<f32>, progress: &mut dyn FnMut(Progress), watch: &mut dyn FnMut(StepStates<'_>)) -> Result<Generated> {
        transport_given(self, req, x, progress, Some(watch)).await
    }

    /// Inverts `images` and regenerates them, as [`pipeline::reconstruct`](crate::pipeline::reconstruct)
    /// does on the CPU (the same steps), CAF's reused v̂0 included: the inversion's v̂0 stays on
    /// the device's readback and goes to the regeneration as its given slot.
    pub async fn reconstruct(&mut self, req: &GenerateRequest, images: Vec<f32>, reuse_initial_velocity: bool, progress: &mut dyn FnMut(Progress)) -> Result<Reconstruction> {
        reconstruct_on(self, req, images, reuse_initial_velocity, progress).await
    }
}

impl Transport for GpuModel {
    fn shape(&self) -> (usize, usize) {
        (self.config.data.numel(), self.config.classes.len())
    }

    fn prepare(&mut self, req: &GenerateRequest, plan: &Plan, batch: usize) -> Result<usize> {
        if !req.guidance.is_finite() {
            return Err(Error::InvalidInput(format!("guidance scale must be finite, got {}", req.guidance)));
        }
        for role in plan.roles() {
            if !self.nets.contains_key(&role) {
                return Err(Error::InvalidInput(format!("this model has no `{}` network", role.prefix())));
            }
        }
        let chunk = batch.min(self.max_batch(req.guidance));
        let nb = Guidance::of(req.guidance).net_batch(chunk);
        for role in plan.roles() {
            if self.execs.get(&role).is_none_or(|e| e.max_batch < nb) {
                self.execs.insert(role, NetExec::new(&self.nets[&role], nb)?);
            }
        }
        self.compiled = None;
        Ok(chunk)
    }

    async fn run_batch(&mut self, req: &GenerateRequest, plan: &Plan, job: BatchJob<'_>, on_step: &mut dyn FnMut(usize, Option<&[f32]>)) -> Result<Batch> {
        let BatchJob { x0, labels, given, keep, record, watch } = job;
        let b = labels.len();
        if self.compiled.as_ref().is_none_or(|(cb, _)| *cb != b) {
            let numel = self.config.data.numel();
            self.compiled = Some((b, GpuPlan::new(&self.ctx, plan, b, numel, Guidance::of(req.guidance), record, keep, &self.execs)?));
        }
        let Some((_, gp)) = &self.compiled else { unreachable!("compiled just above") };
        let mut observe = |step: usize, x: &[f32]| on_step(step, Some(x));
        let (x, trajectory, kept) = gp.run(&mut self.execs, x0, labels, given, watch.then_some(&mut observe as &mut dyn FnMut(usize, &[f32]))).await?;
        Ok(Batch { x, trajectory, kept })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::config::{MlpConfig, Parameterization, Solver, UnetConfig};
    use crate::gpu::testutil::{assert_close, gpu, max_abs};
    use crate::model::Model;
    use crate::nn::init::random_weights;
    use crate::pipeline::{self, Labels};
    use crate::presets;
    use crate::sampling::SamplerSpec;
    use crate::weights::Weights;

    fn mlp(cond_dim: usize, num_classes: usize) -> ArchConfig {
        ArchConfig::Mlp(MlpConfig { dim: 2, hidden: 32, depth: 2, time_embed_dim: 16, cond_dim, num_classes })
    }
    use crate::config::ArchConfig;

    fn tiny_unet(cond_channels: usize, num_classes: usize) -> ArchConfig {
        ArchConfig::Unet(UnetConfig { attention_heads: 2, groups: 4, cond_channels, ..presets::unet(1, 8, 8, &[1, 2], 1, true, num_classes) })
    }

    /// A model file with random weights: a velocity model, or a CAF pair (the acceleration net
    /// takes v̂0 as `cond`).
    fn model(velocity: ArchConfig, caf: Option<ArchConfig>, param: Parameterization, classes: usize) -> ModelFile {
        let data = match &velocity {
            ArchConfig::Mlp(_) => presets::points2d("toy", 4.0),
            ArchConfig::Unet(_) => presets::images("tiny", 1, 8),
        };
        let mut config = presets::velocity_model(velocity.clone(), data, presets::digit_classes(classes), presets::euler(2));
        config.parameterization = param;
        let mut w = Weights::default();
        if let Some(acc) = caf {
            config.networks.clear();
            config.networks.insert(NetRole::InitialVelocity, velocity.clone());
            config.networks.insert(NetRole::Acceleration, acc.clone());
            config.sampler.solver = Solver::Caf;
            w.tensors.extend(random_weights(&velocity, "initial_velocity", 11).tensors);
            w.tensors.extend(random_weights(&acc, "acceleration", 12).tensors);
        } else {
            w = random_weights(&velocity, "velocity", 10);
        }
        ModelFile::new(config, w).unwrap()
    }

    /// `GpuModel::generate` against `pipeline::generate` on the CPU `Model`, same request.
    /// Each network evaluation agrees to ~1e-6 relative (see `network::tests`); a sampler
    /// integrates N + 1 of them with coefficients ≤ 1 and the fields here are contractive-ish
    /// random networks, so differences grow at most linearly in the NFE: tolerance
    /// 1e-5 × max(1, max|x|) for these ≤ 5-evaluation runs (observed on lavapipe: ≤ 2.5e-7 ×
    /// max|x|). Trajectories (every step's state) are compared with the same tolerance.
    fn check(what: &str, file: &ModelFile, spec: SamplerSpec, labels: Labels, guidance: f32, n: usize, batch: usize) {
        let Some(ctx) = gpu() else { return };
        let req = pipeline::GenerateRequest { seed: 9, num_samples: n, batch, labels, guidance, sampler: spec, record_trajectories: true };
        let mut cpu = Model::new(file).unwrap();
        let want = pipeline::generate(&mut cpu, file.config.classes.len(), &req, &mut |_| {}).unwrap();
        let mut gm = pollster::block_on(GpuModel::new(&ctx, file)).unwrap();
        let got = pollster::block_on(gm.generate(&req, &mut |_| {})).unwrap();
        assert_eq!(got.start, want.start, "{what}: the same noise");
        assert_eq!(got.labels, want.labels);
        assert_eq!(got.nfe, want.nfe);
        assert_eq!(got.trajectories.len(), want.trajectories.len());
        let tol = 1e-5 * max_abs(&want.samples, 1.0);
        assert_close(what, &got.samples, &want.samples, tol);
        for (s, (g, w)) in got.trajectories.iter().zip(&want.trajectories).enumerate() {
            assert_close(&format!("{what} trajectory step {s}"), g, w, tol);
        }
        // A live preview (no trajectory buffer): each batch's states, read back after every
        // step as the run goes, are the CPU's trajectory, and they cover every sample each step.
        let numel = file.config.data.numel();
        let mut seen = Vec::new();
        let quiet = pipeline::GenerateRequest { record_trajectories: false, ..req.clone() };
        let watched = pollster::block_on(gm.transport_watched(&quiet, want.start.clone(), &mut |_| {}, &mut |s| seen.push((s.first, s.step, s.steps, s.x.to_vec())))).unwrap();
        assert_close(&format!("{what} watched"), &watched.samples, &want.samples, tol);
        let steps = want.trajectories.len() - 1;
        for step in 1..=steps {
            let rows: usize = seen.iter().filter(|w| w.1 == step).map(|w| w.3.len()).sum();
            assert_eq!(rows, n * numel, "{what}: step {step} covers every sample once");
        }
        for (first, step, of, x) in &seen {
            assert_eq!(*of, steps);
            let at = first * numel;
            assert_close(&format!("{what} watched step {step} from {first}"), x, &want.trajectories[*step][at..at + x.len()], tol);
        }
    }

    /// A device destroyed under a model (a driver reset) makes its next run fail with
    /// `DeviceLost`, a clear error, not a panic or a hang.
    #[test]
    fn a_destroyed_device_is_a_device_lost_error() {
        // Its own device: the tests' shared one must live on.
        if gpu().is_none() {
            return;
        }
        let ctx = pollster::block_on(GpuContext::new()).unwrap();
        let file = model(mlp(0, 3), None, Parameterization::Velocity, 3);
        let sampler = SamplerSpec::new(Solver::Euler, 2);
        let req = pipeline::GenerateRequest { seed: 1, num_samples: 4, batch: 4, labels: Labels::Cycle, guidance: 1.0, sampler, record_trajectories: false };
        let mut gm = pollster::block_on(GpuModel::new(&ctx, &file)).unwrap();
        assert!(pollster::block_on(gm.generate(&req, &mut |_| {})).is_ok());
        ctx.destroy();
        let e = pollster::block_on(gm.generate(&req, &mut |_| {})).unwrap_err();
        assert_eq!(e.code(), "device_lost", "{e}");
    }

    /// Pipelines compile on first use: a new context has none, and an MLP model compiles no
    /// convolution, GroupNorm, attention or layout kernel.
    #[test]
    fn pipelines_compile_only_what_a_model_uses() {
        use super::super::kernels::Entry;
        if gpu().is_none() {
            return;
        }
        let ctx = pollster::block_on(GpuContext::new()).unwrap();
        assert!(ctx.inner.kernels.compiled_entries().is_empty());
        let file = model(mlp(0, 3), None, Parameterization::Velocity, 3);
        let sampler = SamplerSpec::new(Solver::Euler, 2);
        let req = pipeline::GenerateRequest { seed: 1, num_samples: 4, batch: 4, labels: Labels::Cycle, guidance: 2.0, sampler, record_trajectories: false };
        let mut gm = pollster::block_on(GpuModel::new(&ctx, &file)).unwrap();
        pollster::block_on(gm.generate(&req, &mut |_| {})).unwrap();
        let used = ctx.inner.kernels.compiled_entries();
        assert!(used.contains(&Entry::Lincomb) && used.contains(&Entry::CfgCombine), "{used:?}");
        for e in [Entry::Conv3x3, Entry::Conv3x3Direct, Entry::GroupNorm, Entry::GroupNormDirect, Entry::Softmax, Entry::ConcatChannels, Entry::NchwToNhwc, Entry::NhwcToNchw] {
            assert!(!used.contains(&e), "an MLP compiled {e:?}: {used:?}");
        }
    }

    #[test]
    fn euler_and_fireflow_with_guidance_on_an_mlp() {
        let file = model(mlp(0, 3), None, Parameterization::Velocity, 3);
        check("mlp euler 3 steps guidance 2.5", &file, SamplerSpec::new(Solver::Euler, 3), Labels::Cycle, 2.5, 10, 4);
        check("mlp fireflow 3 steps guidance 0", &file, SamplerSpec::new(Solver::Fireflow, 3), Labels::Cycle, 0.0, 7, 7);
        check("mlp rk4 1 step labels", &file, SamplerSpec::new(Solver::Rk4, 1), Labels::All(1), 1.0, 5, 2);
    }

    #[test]
    fn caf_pair_with_guidance_on_mlps() {
        let file = model(mlp(0, 2), Some(mlp(2, 2)), Parameterization::Caf { h: 1.5 }, 2);
        check("mlp caf 3 steps guidance 2", &file, SamplerSpec::new(Solver::Caf, 3), Labels::Cycle, 2.0, 6, 6);
    }

    #[test]
    fn perflow_and_fireflow_on_a_unet() {
        let file = model(tiny_unet(0, 3), None, Parameterization::Perflow { windows: 2 }, 3);
        check("unet perflow 4 steps guidance 1.5", &file, SamplerSpec::new(Solver::Perflow, 4).with_windows(2), Labels::Cycle, 1.5, 3, 2);
        check("unet fireflow 2 steps", &file, SamplerSpec::new(Solver::Fireflow, 2), Labels::All(2), 1.0, 2, 2);
    }

    #[test]
    fn caf_pair_on_unets() {
        let file = model(tiny_unet(0, 0), Some(tiny_unet(1, 0)), Parameterization::Caf { h: 1.2 }, 0);
        check("unet caf 2 steps", &file, SamplerSpec::new(Solver::Caf, 2), Labels::Unconditional, 1.0, 2, 2);
    }

    /// The round trip on the GPU against the CPU's, CAF's reused v̂0 included (its NFE: the
    /// inversion's N + 1, then N), with and without guidance, in several batches; reuse with a
    /// velocity solver is refused on both. Tolerance as in `check`: two transports of ≤ 4
    /// evaluations each.
    #[test]
    fn reconstruction_matches_the_cpu_with_caf_reuse() {
        let Some(ctx) = gpu() else { return };
        let file = model(mlp(0, 2), Some(mlp(2, 2)), Parameterization::Caf { h: 1.5 }, 2);
        let images = crate::noise::gaussian_batch(3, 0, 5, 2);
        let mut cpu = Model::new(&file).unwrap();
        let mut gm = pollster::block_on(GpuModel::new(&ctx, &file)).unwrap();
        for (reuse, guidance) in [(true, 1.0), (true, 2.0), (false, 2.0)] {
            let req = pipeline::GenerateRequest { seed: 0, num_samples: 5, batch: 2, labels: Labels::Cycle, guidance, sampler: SamplerSpec::new(Solver::Caf, 3), record_trajectories: false };
            let want = pipeline::reconstruct(&mut cpu, 2, &req, images.clone(), reuse, &mut |_| {}).unwrap();
            let got = pollster::block_on(gm.reconstruct(&req, images.clone(), reuse, &mut |_| {})).unwrap();
            let what = format!("caf reuse {reuse} guidance {guidance}");
            assert_eq!((got.inverted.nfe, got.regenerated.nfe), (4, if reuse { 3 } else { 4 }), "{what}");
            assert_eq!((got.inverted.nfe, got.regenerated.nfe), (want.inverted.nfe, want.regenerated.nfe), "{what}");
            assert_close(&format!("{what}: noise"), &got.inverted.samples, &want.inverted.samples, 1e-5 * max_abs(&want.inverted.samples, 1.0));
            assert_close(&format!("{what}: reconstruction"), &got.regenerated.samples, &want.regenerated.samples, 1e-5 * max_abs(&want.regenerated.samples, 1.0));
        }
        let velocity = model(mlp(0, 0), None, Parameterization::Velocity, 0);
        let mut gv = pollster::block_on(GpuModel::new(&ctx, &velocity)).unwrap();
        let req = pipeline::GenerateRequest { seed: 0, num_samples: 5, batch: 2, labels: Labels::Unconditional, guidance: 1.0, sampler: SamplerSpec::new(Solver::Euler, 2), record_trajectories: false };
        let e = pollster::block_on(gv.reconstruct(&req, images.clone(), true, &mut |_| {})).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{e}");
    }

    /// A batch larger than the device (here: a memory budget) allows is split into several
    /// runs, with the same results as one CPU batch.
    #[test]
    fn oversized_batches_are_split() {
        let Some(ctx) = gpu() else { return };
        let file = model(mlp(0, 3), None, Parameterization::Velocity, 3);
        let req = pipeline::GenerateRequest {
            seed: 4,
            num_samples: 7,
            batch: 64,
            labels: Labels::Cycle,
            guidance: 2.0,
            sampler: SamplerSpec::new(Solver::Heun, 2),
            record_trajectories: false,
        };
        let mut gm = pollster::block_on(GpuModel::new(&ctx, &file)).unwrap();
        gm.set_memory_budget(3_000); // a few samples' worth of activations
        let cap = gm.max_batch(2.0);
        assert!((1..7).contains(&cap), "max batch {cap}");
        let mut calls = 0;
        let got = pollster::block_on(gm.generate(&req, &mut |_| calls += 1)).unwrap();
        assert!(calls >= 7usize.div_ceil(cap), "{calls} progress calls for batches of {cap}");
        let want = pipeline::generate(&mut Model::new(&file).unwrap(), 3, &req, &mut |_| {}).unwrap();
        assert_close(&format!("split into batches of {cap}"), &got.samples, &want.samples, 1e-5 * max_abs(&want.samples, 1.0));
    }

    /// The same errors as the CPU pipeline for bad requests, and no network that is missing.
    #[test]
    fn bad_requests_are_errors() {
        let Some(ctx) = gpu() else { return };
        let file = model(mlp(0, 0), None, Parameterization::Velocity, 0);
        let mut gm = pollster::block_on(GpuModel::new(&ctx, &file)).unwrap();
        let req = |solver, guidance, labels| pipeline::GenerateRequest {
            seed: 1,
            num_samples: 3,
            batch: 8,
            labels,
            guidance,
            sampler: SamplerSpec::new(solver, 2),
            record_trajectories: false,
        };
        let bad = [req(Solver::Caf, 1.0, Labels::Unconditional), req(Solver::Euler, 2.0, Labels::Unconditional), req(Solver::Euler, 1.0, Labels::All(0))];
        for r in bad {
            let e = pollster::block_on(gm.generate(&r, &mut |_| {})).unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{e}");
        }
    }
}
