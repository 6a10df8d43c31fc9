//! Generation and inversion end to end on any [`ConditionalField`]: seeded noise, labels,
//! guidance, the sampler plan, batching and progress. The CLI, the browser and the experiments
//! all go through here, so a seed means the same samples everywhere.

use crate::error::{Error, Result};
use crate::field::{ConditionalField, NULL_LABEL};
use crate::noise;
use crate::sampling::{Direction, Guided, SamplerSpec, StepEvent, run};

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
    transport(field, req, noise, labels, progress)
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
    let labels = transport_labels(req, &x, field.sample_numel(), num_classes)?;
    transport(field, req, x, labels, progress)
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

fn check_guidance(scale: f32, num_classes: usize) -> Result<()> {
    if num_classes == 0 && scale != 1.0 {
        return Err(Error::InvalidInput(format!(
            "guidance {scale} needs a class-conditional model; this one is unconditional (use guidance 1)"
        )));
    }
    Ok(())
}

fn transport<F: ConditionalField<f32>>(
    field: &mut F,
    req: &GenerateRequest,
    start: Vec<f32>,
    labels: Vec<u32>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Generated> {
    let plan = req.sampler.plan()?;
    let numel = field.sample_numel();
    let n = start.len() / numel;
    let batch = req.batch.clamp(1, n);
    let mut samples = Vec::with_capacity(start.len());
    let mut trajectories: Vec<Vec<f32>> = Vec::new();
    if req.record_trajectories {
        trajectories = vec![Vec::with_capacity(start.len()); plan.steps() + 1];
    }
    let mut done = 0;
    while done < n {
        let b = batch.min(n - done);
        let x0 = &start[done * numel..(done + b) * numel];
        let mut guided = Guided::new(&mut *field, labels[done..done + b].to_vec(), req.guidance)?;
        let mut observe = |e: StepEvent<'_, f32>| {
            if req.record_trajectories {
                trajectories[e.step].extend_from_slice(e.x);
            }
            progress(Progress { samples_done: done, samples_total: n, step: e.step, steps: e.steps });
        };
        let out = run(&plan, &mut guided, x0, Some(&mut observe))?;
        samples.extend_from_slice(&out);
        done += b;
    }
    progress(Progress { samples_done: n, samples_total: n, step: plan.steps(), steps: plan.steps() });
    Ok(Generated { samples, start, labels, nfe: plan.nfe(), trajectories })
}
