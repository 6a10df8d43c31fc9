//! Generation and inversion end to end on any [`ConditionalField`]: seeded noise, labels,
//! guidance, the sampler plan, batching and progress. The CLI, the browser and the experiments
//! all go through here, so a seed means the same samples everywhere.

use crate::config::Solver;
use crate::error::{Error, Result};
use crate::field::{ConditionalField, NULL_LABEL};
use crate::noise;
use crate::sampling::{Direction, Guided, Plan, SamplerSpec, Slot, StepEvent, run_keeping};

/// Which class each sample asks for.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Labels {
    /// No class: the null class of a conditional model, or an unconditional model.
    #[default]
    Unconditional,
    /// Every sample the same class.
    All(u32),
    /// Sample `k` gets class `k mod num_classes` (a grid with one class per column).
    Cycle,
    /// One class per sample.
    PerSample(Vec<u32>),
}

impl Labels {
    /// Labels from text, as every front end takes them (`--label`, the viewer, the wasm and JS
    /// `label`): `cycle` (one class per grid column), `none` (the null class), a class name of
    /// `classes`, or a class index (`"3"`). `None`: cycle for a class-conditional model (non-empty
    /// `classes`), else unconditional. The range is checked by [`Labels::resolve`].
    pub fn parse(text: Option<&str>, classes: &[String]) -> Result<Labels> {
        Ok(match text.map(str::trim) {
            None if classes.is_empty() => Labels::Unconditional,
            None | Some("cycle") => Labels::Cycle,
            Some("none") => Labels::Unconditional,
            Some(v) => match classes.iter().position(|c| c == v) {
                Some(i) => Labels::All(i as u32),
                None => Labels::All(v.parse().map_err(|_| {
                    Error::InvalidInput(format!(
                        "label {v:?} is neither \"cycle\", \"none\", a class index nor one of the model's classes {classes:?}"
                    ))
                })?),
            },
        })
    }

    /// The label of every sample in `0..n`, checked against `num_classes`.
    pub fn resolve(&self, n: usize, num_classes: usize) -> Result<Vec<u32>> {
        let check = |l: u32| {
            if (l as usize) < num_classes {
                Ok(l)
            } else if num_classes == 0 {
                Err(Error::InvalidInput(format!("label {l} given, but the model is unconditional")))
            } else {
                Err(Error::InvalidInput(format!("label {l} is out of range: the model has {num_classes} classes")))
            }
        };
        match self {
            Labels::Unconditional => Ok(vec![NULL_LABEL; n]),
            Labels::All(l) => Ok(vec![check(*l)?; n]),
            Labels::Cycle if num_classes == 0 => Ok(vec![NULL_LABEL; n]),
            Labels::Cycle => Ok((0..n).map(|k| (k % num_classes) as u32).collect()),
            Labels::PerSample(v) if v.len() != n => {
                Err(Error::InvalidInput(format!("{} labels for {n} samples", v.len())))
            }
            Labels::PerSample(v) => v.iter().map(|&l| check(l)).collect(),
        }
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateRequest {
    /// Noise seed; sample `k` uses noise stream `k`, whatever the batch size.
    pub seed: u64,
    /// Number of samples.
    pub num_samples: usize,
    /// Largest batch evaluated at once (memory bound); results do not depend on it.
    pub batch: usize,
    /// Class labels.
    pub labels: Labels,
    /// Classifier-free guidance scale (1 = none).
    pub guidance: f32,
    /// The sampler.
    pub sampler: SamplerSpec,
    /// Keep every intermediate state (for trajectory plots).
    pub record_trajectories: bool,
}

/// Progress of a long run, for progress bars and the browser's `onProgress`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Samples finished before the current batch.
    pub samples_done: usize,
    /// All samples asked for.
    pub samples_total: usize,
    /// Step within the current batch.
    pub step: usize,
    /// Steps per batch.
    pub steps: usize,
}

/// The states of one batch right after a sampler step, for live previews
/// ([`transport_watched`]): samples `[first, first + x.len() / numel)` of the request, after
/// step `step` of `steps` (1-based; the start states are the caller's own).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStates<'a> {
    /// The batch's first sample within the request.
    pub first: usize,
    /// Steps taken, `1..=steps`.
    pub step: usize,
    /// Steps per batch.
    pub steps: usize,
    /// `[batch, sample_numel]` states in the data's space.
    pub x: &'a [f32],
}

/// The result of a generation or inversion.
#[derive(Clone, Debug, PartialEq)]
pub struct Generated {
    /// Final states `[num_samples, sample_numel]`.
    pub samples: Vec<f32>,
    /// The starting states (noise for generation, the input for inversion), same shape.
    pub start: Vec<f32>,
    /// Resolved labels, one per sample ([`NULL_LABEL`] for none).
    pub labels: Vec<u32>,
    /// Network evaluations per sample (a guided evaluation counts once).
    pub nfe: usize,
    /// With `record_trajectories`: the states at every step, `trajectories[step]` of shape
    /// `[num_samples, sample_numel]`, step 0 being `start`.
    pub trajectories: Vec<Vec<f32>>,
}

/// Generates `req.num_samples` samples from seeded Gaussian noise.
pub fn generate<F: ConditionalField<f32>>(
    field: &mut F,
    num_classes: usize,
    req: &GenerateRequest,
    progress: &mut dyn FnMut(Progress),
) -> Result<Generated> {
    let (noise, labels) = generation_inputs(req, field.sample_numel(), num_classes)?;
    Ok(now(transport_on(&mut Cpu { field, num_classes }, req, &req.sampler.plan()?, noise, labels, None, false, progress, None))?.0)
}

/// Integrates `req.sampler` (usually an inversion) from given start states `x`
/// (`[n, sample_numel]`); `req.seed` and `req.num_samples` are ignored.
pub fn transport_from<F: ConditionalField<f32>>(
    field: &mut F,
    num_classes: usize,
    req: &GenerateRequest,
    x: Vec<f32>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Generated> {
    now(transport_given(&mut Cpu { field, num_classes }, req, x, progress, None))
}

/// [`transport_from`], also handing `watch` every batch's states after each sampler step
/// ([`StepStates`]): a live preview. On the GPU runtime each step then costs a readback.
pub fn transport_watched<F: ConditionalField<f32>>(
    field: &mut F,
    num_classes: usize,
    req: &GenerateRequest,
    x: Vec<f32>,
    progress: &mut dyn FnMut(Progress),
    watch: &mut dyn FnMut(StepStates<'_>),
) -> Result<Generated> {
    now(transport_given(&mut Cpu { field, num_classes }, req, x, progress, Some(watch)))
}

/// An inversion and the regeneration from the noise it found.
#[derive(Clone, Debug, PartialEq)]
pub struct Reconstruction {
    /// The inversion: `start` holds the images, `samples` the noise found for them
    /// (`[n, sample_numel]` each), `nfe` its evaluations per sample (with CAF's reused v̂0, the
    /// one evaluation both directions share is the inversion's).
    pub inverted: Generated,
    /// The regeneration from `inverted.samples` with the same labels and guidance: `samples`
    /// are the reconstructions.
    pub regenerated: Generated,
}

impl Reconstruction {
    /// Network evaluations per sample for the round trip.
    pub fn nfe(&self) -> usize {
        self.inverted.nfe + self.regenerated.nfe
    }
}

/// Inverts `images` (`[n, sample_numel]`) to noise with `req.sampler` run backwards, then
/// regenerates from that noise with `req.sampler`, both with `req`'s labels and guidance
/// (`req.seed` and `req.num_samples` are ignored; the sampler's direction is set here), on the
/// CPU field `field`. The GPU runtime's [`GpuModel::reconstruct`](crate::gpu::GpuModel::reconstruct)
/// runs the same steps ([`reconstruct_on`]).
///
/// `reuse_initial_velocity` (CAF only) is the CAF paper's reconstruction
/// (`evaluate_reconstruction.py`): the initial velocity `v̂0 = f_v0(x1, t = 1)` is evaluated
/// once on the images, by the inversion's first evaluation, and given to the regeneration
/// ([`Plan::with_given`]) instead of being computed again from the noise at `t = 0`, so the
/// round trip costs `(N + 1) + N` evaluations instead of `2(N + 1)` and both directions follow
/// the same constant-acceleration paths. Without it (and for every other solver) this is
/// [`transport_from`] twice. Errors: as [`transport_from`], and `reuse_initial_velocity` with a
/// solver other than CAF.
pub fn reconstruct<F: ConditionalField<f32>>(
    field: &mut F,
    num_classes: usize,
    req: &GenerateRequest,
    images: Vec<f32>,
    reuse_initial_velocity: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Reconstruction> {
    now(reconstruct_on(&mut Cpu { field, num_classes }, req, images, reuse_initial_velocity, progress))
}

/// A backend as the pipeline drives it: one batch of a plan at a time. The batching,
/// trajectories and progress of every transport are [`transport_on`]'s, the same for the CPU
/// ([`Cpu`]) and the GPU runtime ([`GpuModel`](crate::gpu::GpuModel)).
pub(crate) trait Transport {
    /// Scalars per sample and the model's class count.
    fn shape(&self) -> (usize, usize);
    /// Checks `req` and `plan` against the backend and readies it for batches of up to
    /// `batch` samples; returns the batch size it takes (`batch` or fewer: a device's memory).
    fn prepare(&mut self, req: &GenerateRequest, plan: &Plan, batch: usize) -> Result<usize>;
    /// Host memory, in bytes, one evaluation of `batch` samples holds (activations); 0 for a
    /// backend whose activations live elsewhere (a GPU's memory).
    fn activation_bytes(&self, batch: usize) -> u64 {
        let _ = batch;
        0
    }
    /// Runs `plan` on one batch ([`BatchJob`]); `on_step(k, x)` after step `k` where the
    /// backend can tell, always with the batch's states `x` when the job is watched.
    async fn run_batch(&mut self, req: &GenerateRequest, plan: &Plan, job: BatchJob<'_>, on_step: &mut dyn FnMut(usize, Option<&[f32]>)) -> Result<Batch>;
}

/// One batch for [`Transport::run_batch`]: the start states `x0` (`[b, numel]`), their
/// `labels` (`b`), the plan's given slots, the slot to read back after the run, whether
/// to keep the `steps + 1` states, and whether to hand each step's states to `on_step`.
pub(crate) struct BatchJob<'a> {
    pub x0: &'a [f32],
    pub labels: &'a [u32],
    pub given: &'a [(Slot, &'a [f32])],
    pub keep: Option<Slot>,
    pub record: bool,
    pub watch: bool,
}

/// One batch's results ([`Transport::run_batch`]).
pub(crate) struct Batch {
    pub x: Vec<f32>,
    pub trajectory: Vec<Vec<f32>>,
    pub kept: Option<Vec<f32>>,
}

/// A CPU field as a [`Transport`].
pub(crate) struct Cpu<'f, F> {
    pub field: &'f mut F,
    pub num_classes: usize,
}

impl<F: ConditionalField<f32>> Transport for Cpu<'_, F> {
    fn shape(&self) -> (usize, usize) {
        (self.field.sample_numel(), self.num_classes)
    }

    fn prepare(&mut self, _req: &GenerateRequest, _plan: &Plan, batch: usize) -> Result<usize> {
        Ok(batch)
    }

    fn activation_bytes(&self, batch: usize) -> u64 {
        self.field.activation_bytes(batch)
    }

    async fn run_batch(&mut self, req: &GenerateRequest, plan: &Plan, job: BatchJob<'_>, on_step: &mut dyn FnMut(usize, Option<&[f32]>)) -> Result<Batch> {
        let BatchJob { x0, labels, given, keep, record, watch } = job;
        let mut guided = Guided::new(&mut *self.field, labels.to_vec(), req.guidance)?;
        let mut trajectory = Vec::new();
        let mut observe = |e: StepEvent<'_, f32>| {
            if record {
                trajectory.push(e.x.to_vec());
            }
            // Step 0 (the start state) is reported by `transport_on` for every backend.
            if e.step > 0 {
                on_step(e.step, watch.then_some(e.x));
            }
        };
        let (x, kept) = run_keeping(plan, &mut guided, x0, given, keep, Some(&mut observe))?;
        Ok(Batch { x, trajectory, kept })
    }
}

/// Runs `plan` (built from `req.sampler`, possibly with given slots) from `start` with
/// `labels` on `backend`, in batches of `req.batch` (or fewer, as the backend takes).
/// `given_v0` (`[n, numel]`, like `start`) fills [`Slot::V0`] of a plan that takes it
/// ([`Plan::with_given`]); `keep_v0` also returns that slot's final contents. `watch`, if
/// given, receives each batch's states after every step ([`StepStates`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn transport_on<B: Transport>(
    backend: &mut B,
    req: &GenerateRequest,
    plan: &Plan,
    start: Vec<f32>,
    labels: Vec<u32>,
    given_v0: Option<&[f32]>,
    keep_v0: bool,
    progress: &mut dyn FnMut(Progress),
    mut watch: Option<&mut dyn FnMut(StepStates<'_>)>,
) -> Result<(Generated, Option<Vec<f32>>)> {
    let (numel, _) = backend.shape();
    let n = start.len() / numel.max(1);
    if given_v0.is_some_and(|v| v.len() != start.len()) {
        return Err(Error::InvalidInput(format!("a given v̂0 must match the {} start values", start.len())));
    }
    let (steps, record) = (plan.steps(), req.record_trajectories);
    let batch = backend.prepare(req, plan, req.batch.clamp(1, n.max(1)))?.max(1);
    let batch = fit_batch(backend, batch, request_bytes(n, numel, steps, record, keep_v0), req.guidance)?;
    let mut samples = Vec::with_capacity(start.len());
    let mut kept: Option<Vec<f32>> = keep_v0.then(|| Vec::with_capacity(start.len()));
    let mut trajectories: Vec<Vec<f32>> = if record { vec![Vec::with_capacity(start.len()); steps + 1] } else { Vec::new() };
    let watching = watch.is_some();
    let mut done = 0;
    while done < n {
        let b = batch.min(n - done);
        let rows = done * numel..(done + b) * numel;
        let given: Vec<(Slot, &[f32])> = given_v0.map(|v| (Slot::V0, &v[rows.clone()])).into_iter().collect();
        progress(Progress { samples_done: done, samples_total: n, step: 0, steps });
        let mut on_step = |step: usize, x: Option<&[f32]>| {
            progress(Progress { samples_done: done, samples_total: n, step, steps });
            if let (Some(w), Some(x)) = (watch.as_deref_mut(), x) {
                w(StepStates { first: done, step, steps, x });
            }
        };
        let job = BatchJob { x0: &start[rows], labels: &labels[done..done + b], given: &given, keep: keep_v0.then_some(Slot::V0), record, watch: watching };
        let out = backend.run_batch(req, plan, job, &mut on_step).await?;
        samples.extend_from_slice(&out.x);
        for (all, part) in trajectories.iter_mut().zip(&out.trajectory) {
            all.extend_from_slice(part);
        }
        if let (Some(all), Some(part)) = (kept.as_mut(), out.kept) {
            all.extend_from_slice(&part);
        }
        done += b;
    }
    progress(Progress { samples_done: n, samples_total: n, step: steps, steps });
    let kept = kept.filter(|k| k.len() == start.len());
    Ok((Generated { samples, start, labels, nfe: plan.nfe(), trajectories }, kept))
}

/// A transport from the given start states `x` on `backend`, with the labels `req` asks for:
/// the one body of every backend's `transport_from` and `transport_watched`.
pub(crate) async fn transport_given<B: Transport>(
    backend: &mut B,
    req: &GenerateRequest,
    x: Vec<f32>,
    progress: &mut dyn FnMut(Progress),
    watch: Option<&mut dyn FnMut(StepStates<'_>)>,
) -> Result<Generated> {
    let (numel, num_classes) = backend.shape();
    let labels = transport_labels(req, &x, numel, num_classes)?;
    Ok(transport_on(backend, req, &req.sampler.plan()?, x, labels, None, false, progress, watch).await?.0)
}

/// The largest batch up to `batch` whose activations fit the [`memory_budget`] beside the
/// request's own buffers (`held` bytes): the batch is halved until they do, so a large network
/// streams its samples in smaller batches instead of exhausting memory. Guidance other than 0
/// and 1 evaluates a doubled batch. Refuses (before allocating) when one sample does not fit.
fn fit_batch<B: Transport>(backend: &B, mut batch: usize, held: u64, guidance: f32) -> Result<usize> {
    let factor = crate::sampling::GuidanceMode::of(guidance)?.batch_factor();
    let per_eval = |b: usize| factor * b;
    let budget = memory_budget();
    while batch > 1 && held.saturating_add(backend.activation_bytes(per_eval(batch))) > budget {
        batch = batch.div_ceil(2);
    }
    let need = held.saturating_add(backend.activation_bytes(per_eval(batch)));
    if need > budget {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        return Err(Error::InvalidInput(format!(
            "this network's activations for a single sample need about {:.2} GiB (with the request's {:.2} GiB), over the memory budget of {:.2} GiB; {}",
            gib(backend.activation_bytes(per_eval(1))),
            gib(held),
            gib(budget),
            RAISE_BUDGET
        )));
    }
    Ok(batch)
}

/// The round trip of [`reconstruct`] on any backend.
pub(crate) async fn reconstruct_on<B: Transport>(
    backend: &mut B,
    req: &GenerateRequest,
    images: Vec<f32>,
    reuse_initial_velocity: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Reconstruction> {
    let (numel, num_classes) = backend.shape();
    let labels = transport_labels(req, &images, numel, num_classes)?;
    if reuse_initial_velocity && req.sampler.solver != Solver::Caf {
        return Err(Error::InvalidInput(format!(
            "reusing the initial velocity is CAF's reconstruction; the {:?} solver has none",
            req.sampler.solver
        )));
    }
    let inv_req = GenerateRequest { sampler: req.sampler.clone().with_direction(Direction::Invert), ..req.clone() };
    let gen_req = GenerateRequest { sampler: req.sampler.clone().with_direction(Direction::Generate), ..req.clone() };
    let (inv_plan, mut gen_plan) = (inv_req.sampler.plan()?, gen_req.sampler.plan()?);
    let (inverted, v0) = transport_on(backend, &inv_req, &inv_plan, images, labels.clone(), None, reuse_initial_velocity, progress, None).await?;
    if reuse_initial_velocity {
        gen_plan = gen_plan.with_given(Slot::V0)?;
    }
    let v0 = v0.filter(|_| reuse_initial_velocity);
    if reuse_initial_velocity && v0.is_none() {
        return Err(Error::InvalidInput("internal: the CAF inversion kept no initial velocity".into()));
    }
    let (regenerated, _) = transport_on(backend, &gen_req, &gen_plan, inverted.samples.clone(), labels, v0.as_deref(), false, progress, None).await?;
    Ok(Reconstruction { inverted, regenerated })
}

/// The value of a future that never waits (a CPU [`Transport`]'s), without an executor.
fn now<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => unreachable!("a CPU transport does not wait"),
    }
}

/// The memory a request may hold on the host by default: 4 GiB natively, 1 GiB on wasm32,
/// whose whole address space is 4 GiB and whose heap browsers often cap lower (a failed
/// allocation there aborts the module instead of returning an error).
pub const DEFAULT_MEMORY_BUDGET: u64 = if cfg!(target_arch = "wasm32") { 1 << 30 } else { 4 << 30 };

static MEMORY_BUDGET: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(DEFAULT_MEMORY_BUDGET);

/// How the budget can be raised, for the refusals' messages: the CLI's flag natively; in the
/// browser it is fixed ([`DEFAULT_MEMORY_BUDGET`]).
#[cfg(not(target_arch = "wasm32"))]
const RAISE_BUDGET: &str = "raise the budget (--memory-budget GIB) if the machine has the memory";
#[cfg(target_arch = "wasm32")]
const RAISE_BUDGET: &str = "in the browser the budget is fixed (a wasm32 module's whole memory is 4 GiB at most)";

/// Sets the memory budget of every later request in this process, in bytes (the CLI's
/// `--memory-budget`).
pub fn set_memory_budget(bytes: u64) {
    MEMORY_BUDGET.store(bytes, std::sync::atomic::Ordering::Relaxed);
}

/// The memory budget in force, in bytes.
pub fn memory_budget() -> u64 {
    MEMORY_BUDGET.load(std::sync::atomic::Ordering::Relaxed)
}

/// The host memory a request of `n` samples of `numel` values holds, in bytes: the start and
/// the final states, plus every step's states with trajectories, plus a kept slot. Saturates
/// instead of overflowing.
pub fn request_bytes(n: usize, numel: usize, steps: usize, record: bool, keep: bool) -> u64 {
    let copies = 2 + if record { steps as u64 + 1 } else { 0 } + u64::from(keep);
    (n as u64).saturating_mul(numel as u64).saturating_mul(4).saturating_mul(copies)
}

/// Refuses a request whose buffers would exceed the [`memory_budget`], before anything is
/// allocated (exit 4 in the CLI).
pub fn check_memory(n: usize, numel: usize, steps: usize, record: bool, keep: bool) -> Result<()> {
    let need = request_bytes(n, numel, steps, record, keep);
    let budget = memory_budget();
    if need <= budget {
        return Ok(());
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    Err(Error::InvalidInput(format!(
        "{n} samples of {numel} values{} need about {:.2} GiB, over the memory budget of {:.2} GiB; \
         ask for fewer samples{}; {RAISE_BUDGET}",
        if record { format!(" with {} recorded steps", steps + 1) } else { String::new() },
        gib(need),
        gib(budget),
        if record { " or drop the trajectories" } else { "" },
    )))
}

/// The checked start of a generation, shared by every backend: the seeded noise
/// `[num_samples, numel]` and the resolved labels.
pub(crate) fn generation_inputs(req: &GenerateRequest, numel: usize, num_classes: usize) -> Result<(Vec<f32>, Vec<u32>)> {
    if req.sampler.direction != Direction::Generate {
        return Err(Error::InvalidInput("generate needs a generation sampler".into()));
    }
    if req.num_samples == 0 {
        return Err(Error::InvalidInput("num_samples must be at least 1".into()));
    }
    check_memory(req.num_samples, numel, req.sampler.steps, req.record_trajectories, false)?;
    let noise = noise::gaussian_batch(req.seed, 0, req.num_samples, numel);
    let labels = req.labels.resolve(req.num_samples, num_classes)?;
    check_guidance(req.guidance, num_classes)?;
    Ok((noise, labels))
}

/// The checked labels of a transport from given states `x`, shared by every backend.
pub(crate) fn transport_labels(req: &GenerateRequest, x: &[f32], numel: usize, num_classes: usize) -> Result<Vec<u32>> {
    if numel == 0 || x.is_empty() || !x.len().is_multiple_of(numel) {
        return Err(Error::InvalidInput(format!("{} values are not whole {numel}-value samples", x.len())));
    }
    let labels = req.labels.resolve(x.len() / numel, num_classes)?;
    check_guidance(req.guidance, num_classes)?;
    Ok(labels)
}

/// Refuses a guidance scale other than 1 for a model without classes: one rule for a request
/// and for a model file's recommended sampler.
pub(crate) fn check_guidance(scale: f32, num_classes: usize) -> Result<()> {
    if num_classes == 0 && scale != 1.0 {
        return Err(Error::InvalidInput(format!(
            "guidance {scale} needs a class-conditional model; this one is unconditional (use guidance 1)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NetRole;
    use crate::field::VelocityField;
    use crate::sampling::AffineFlow;

    #[test]
    fn labels_parse_names_indices_cycle_and_none_for_every_front_end() {
        let classes: Vec<String> = ["cat", "dog", "7"].iter().map(|s| s.to_string()).collect();
        assert_eq!(Labels::parse(None, &classes).unwrap(), Labels::Cycle);
        assert_eq!(Labels::parse(None, &[]).unwrap(), Labels::Unconditional);
        assert_eq!(Labels::parse(Some("cycle"), &classes).unwrap(), Labels::Cycle);
        assert_eq!(Labels::parse(Some("none"), &classes).unwrap(), Labels::Unconditional);
        assert_eq!(Labels::parse(Some("dog"), &classes).unwrap(), Labels::All(1));
        assert_eq!(Labels::parse(Some(" dog "), &classes).unwrap(), Labels::All(1));
        // an index where no class has that name; a name wins over an index
        assert_eq!(Labels::parse(Some("1"), &classes).unwrap(), Labels::All(1));
        assert_eq!(Labels::parse(Some("7"), &classes).unwrap(), Labels::All(2));
        let e = Labels::parse(Some("bird"), &classes).unwrap_err().to_string();
        assert!(e.contains("bird") && e.contains("dog"), "{e}");
        // out of range is caught where the sample count is known
        assert!(Labels::parse(Some("5"), &classes).unwrap().resolve(2, classes.len()).is_err());
    }

    /// The exact CAF field of [`AffineFlow`] as a conditional field (labels ignored), with an
    /// error `bias` added to the initial velocity evaluated on the noise side (`t < ½`): a v̂0
    /// net that is exact from the images and wrong from noise.
    struct NoisySideV0 {
        flow: AffineFlow,
        bias: f32,
    }

    impl ConditionalField<f32> for NoisySideV0 {
        fn sample_numel(&self) -> usize {
            self.flow.dim()
        }
        fn eval_labels(&mut self, net: NetRole, x: &[f32], c: Option<&[f32]>, t: f64, _: &[u32], out: &mut [f32]) -> Result<()> {
            self.flow.eval(net, x, c, t, out)?;
            if net == NetRole::InitialVelocity && t < 0.5 {
                out.iter_mut().for_each(|v| *v += self.bias);
            }
            Ok(())
        }
    }

    fn request(solver: Solver, steps: usize, batch: usize) -> GenerateRequest {
        GenerateRequest {
            seed: 0,
            num_samples: 0,
            batch,
            labels: Labels::Unconditional,
            guidance: 1.0,
            sampler: SamplerSpec::new(solver, steps),
            record_trajectories: false,
        }
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
    }

    /// CAF's reconstruction with v̂0 reused from the images is exact on constant-acceleration
    /// paths even when the v̂0 from noise is wrong; regenerating v̂0 from the noise is not.
    #[test]
    fn caf_reconstruction_reuses_the_initial_velocity_of_the_images() {
        let flow = AffineFlow::new(vec![0.5, 1.8, 1.2], vec![1.0, -2.0, 0.3], 1.5).unwrap();
        let z0 = noise::gaussian_batch(5, 0, 7, 3);
        let x1: Vec<f32> = flow.endpoint(&z0.iter().map(|&v| v as f64).collect::<Vec<_>>()).iter().map(|&v| v as f32).collect();
        let mut field = NoisySideV0 { flow, bias: 0.3 };
        for (steps, batch) in [(1, 7), (4, 3)] {
            let req = request(Solver::Caf, steps, batch);
            let reuse = reconstruct(&mut field, 0, &req, x1.clone(), true, &mut |_| {}).unwrap();
            assert_eq!((reuse.inverted.nfe, reuse.regenerated.nfe, reuse.nfe()), (steps + 1, steps, 2 * steps + 1));
            assert!(max_diff(&reuse.inverted.samples, &z0) < 1e-5, "inversion finds the noise");
            assert!(max_diff(&reuse.regenerated.samples, &x1) < 1e-5, "reconstruction, N = {steps}");
            assert_eq!(reuse.inverted.start, x1);
            let fresh = reconstruct(&mut field, 0, &req, x1.clone(), false, &mut |_| {}).unwrap();
            assert_eq!(fresh.nfe(), 2 * (steps + 1));
            assert_eq!(fresh.inverted.samples, reuse.inverted.samples, "the inversion starts from the images either way");
            let err = max_diff(&fresh.regenerated.samples, &x1);
            // In one step the acceleration (target 2d − 2v̂0) makes up for any v̂0:
            // x0 + v̂0 + ½(2d − 2v̂0) = x0 + d. With more steps the error shows (0.036 at N = 4).
            if steps > 1 {
                assert!(err > 0.01, "v̂0 from noise is off by 0.3, so is the reconstruction ({err})");
            }
        }
    }

    /// Progress goes 0, 1, …, steps once per batch, then one final report: no step twice.
    #[test]
    fn progress_reports_each_step_once() {
        let mut field = NoisySideV0 { flow: AffineFlow::new(vec![0.5, 1.8], vec![1.0, -2.0], 1.0).unwrap(), bias: 0.0 };
        let req = GenerateRequest { num_samples: 5, ..request(Solver::Euler, 3, 2) };
        let mut seen = Vec::new();
        generate(&mut field, 0, &req, &mut |p| seen.push((p.samples_done, p.step))).unwrap();
        let mut want: Vec<(usize, usize)> = [0, 2, 4].iter().flat_map(|&d| (0..=3).map(move |s| (d, s))).collect();
        want.push((5, 3));
        assert_eq!(seen, want);
    }

    /// A watched transport hands every batch its states after each step: the trajectory's,
    /// with the progress unchanged.
    #[test]
    fn watching_hands_each_batch_its_states_after_every_step() {
        let mut field = NoisySideV0 { flow: AffineFlow::new(vec![0.5, 1.8], vec![1.0, -2.0], 1.0).unwrap(), bias: 0.0 };
        let req = GenerateRequest { num_samples: 5, record_trajectories: true, ..request(Solver::Fireflow, 3, 2) };
        let all = generate(&mut field, 0, &req, &mut |_| {}).unwrap();
        let quiet = GenerateRequest { record_trajectories: false, ..req.clone() };
        let (mut seen, mut steps) = (Vec::new(), Vec::new());
        let got = transport_watched(&mut field, 0, &quiet, all.start.clone(), &mut |p| steps.push((p.samples_done, p.step)), &mut |s| {
            seen.push((s.first, s.step, s.steps, s.x.to_vec()))
        })
        .unwrap();
        assert_eq!(got.samples, all.samples);
        assert!(got.trajectories.is_empty());
        let order: Vec<(usize, usize)> = seen.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(order, [0, 2, 4].iter().flat_map(|&f| (1..=3).map(move |k| (f, k))).collect::<Vec<_>>());
        for (first, step, of, x) in &seen {
            assert_eq!(*of, 3);
            let n = x.len() / 2;
            assert_eq!(n, if *first == 4 { 1 } else { 2 });
            assert_eq!(x, &all.trajectories[*step][first * 2..(first + n) * 2]);
        }
        let mut plain = Vec::new();
        transport_from(&mut field, 0, &quiet, all.start.clone(), &mut |p| plain.push((p.samples_done, p.step))).unwrap();
        assert_eq!(steps, plain, "watching leaves the progress as it is");
    }

    /// Without reuse, a round trip is two transports; reuse needs CAF.
    #[test]
    fn reconstruction_of_velocity_solvers() {
        let flow = AffineFlow::new(vec![0.5, 1.8], vec![1.0, -2.0], 1.0).unwrap();
        let mut field = NoisySideV0 { flow, bias: 0.0 };
        let x1 = noise::gaussian_batch(1, 0, 5, 2);
        let req = request(Solver::Fireflow, 3, 2);
        let r = reconstruct(&mut field, 0, &req, x1.clone(), false, &mut |_| {}).unwrap();
        assert_eq!((r.inverted.nfe, r.regenerated.nfe, r.nfe()), (4, 4, 8));
        // h = 1: straight paths at constant speed, which FireFlow follows exactly.
        assert!(max_diff(&r.regenerated.samples, &x1) < 1e-5);
        assert_eq!(r.regenerated.start, r.inverted.samples);
        assert!(matches!(reconstruct(&mut field, 0, &req, x1.clone(), true, &mut |_| {}), Err(Error::InvalidInput(_))));
        assert!(reconstruct(&mut field, 0, &req, x1[..3].to_vec(), false, &mut |_| {}).is_err());
        let guided = GenerateRequest { guidance: 2.0, ..req };
        assert!(reconstruct(&mut field, 0, &guided, x1, false, &mut |_| {}).is_err(), "guidance without classes");
    }
}
