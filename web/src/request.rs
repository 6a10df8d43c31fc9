//! What the JS API asks for, as JSON, checked and turned into the core's
//! [`GenerateRequest`]: one call runs one chunk `[first, first + count)` of a request for
//! `total` samples, so the JS side can report progress and honour an `AbortSignal` between
//! chunks while the samples stay those of one [`pipeline::generate`](beeline::pipeline::generate)
//! call (sample `k` always draws noise stream `k` and label `k` of the whole request).

use beeline::config::ModelConfig;
use beeline::field::NULL_LABEL;
use beeline::pipeline::{GenerateRequest, Labels};
use beeline::sampling::{Direction, Overrides, SamplerSpec};
use beeline::{Error, Result};
use serde::Deserialize;

/// The most sampler steps one request may ask for.
pub const MAX_STEPS: usize = 1000;
/// The most values (samples × values per sample) one request may produce: 2²⁶ f32 = 256 MiB.
pub const MAX_VALUES: usize = 1 << 26;

/// Which class each sample asks for, as JS gives it.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum LabelSpec {
    /// One class index for every sample.
    Index(u32),
    /// One class index per sample.
    PerSample(Vec<u32>),
    /// `"cycle"` (sample `k` gets class `k mod classes`), `"none"` (the null class), a class
    /// name or a class index as text (`"3"`): [`Labels::parse`], as the CLI's `--label`.
    Text(String),
}

/// A transport request: generation from seeded noise, or a transport (inversion,
/// regeneration) from given states.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransportRequest {
    /// Noise seed (generation only): sample `k` uses noise stream `k`.
    #[serde(default)]
    pub seed: u64,
    /// Samples in the whole request (the chunks together).
    pub total: usize,
    /// Labels; `None`: one class per sample cycling for class-conditional models, else none.
    #[serde(default)]
    pub labels: Option<LabelSpec>,
    /// Classifier-free guidance scale (default: the model's).
    #[serde(default)]
    pub guidance: Option<f32>,
    /// Solver by name, kebab or snake case (default: the model's), as the CLI's `--solver`
    /// ([`Solver::parse`](beeline::config::Solver::parse)).
    #[serde(default)]
    pub solver: Option<String>,
    /// Sampler steps N (default: the model's).
    #[serde(default)]
    pub steps: Option<usize>,
    /// `"generate"` (t: 0 → 1, default) or `"invert"` (t: 1 → 0).
    #[serde(default)]
    pub direction: Option<String>,
    /// Keep every step's states.
    #[serde(default)]
    pub trajectories: bool,
}

impl TransportRequest {
    /// Parses the JSON the JS side sends.
    pub fn parse(json: &str) -> Result<TransportRequest> {
        serde_json::from_str(json).map_err(|e| Error::InvalidInput(format!("bad request: {e}")))
    }

    /// The core request for the chunk `[first, first + count)`, with its labels resolved over
    /// the whole request, checked against the model.
    pub fn chunk(&self, config: &ModelConfig, first: usize, count: usize) -> Result<GenerateRequest> {
        let numel = config.data.numel();
        if self.total == 0 {
            return Err(Error::InvalidInput("the number of samples must be at least 1".into()));
        }
        if self.total.saturating_mul(numel.max(1)) > MAX_VALUES {
            return Err(Error::InvalidInput(format!(
                "{} samples of {numel} values are more than one request may hold ({MAX_VALUES} values)",
                self.total
            )));
        }
        if count == 0 || first.checked_add(count).is_none_or(|end| end > self.total) {
            return Err(Error::InvalidInput(format!("chunk {first}+{count} lies outside the {} samples", self.total)));
        }
        // The browser's own, tighter bound on steps, checked before the shared parser.
        if let Some(n) = self.steps
            && !(1..=MAX_STEPS).contains(&n)
        {
            return Err(Error::InvalidInput(format!("steps must be 1 to {MAX_STEPS}, got {n}")));
        }
        // The same overrides, parsed the same way, as the CLI's sampler flags.
        let overrides = Overrides::parse(self.steps, self.solver.as_deref(), None, self.guidance)?;
        let mut sampler = SamplerSpec::from_defaults(&config.sampler, &config.parameterization);
        overrides.apply(&mut sampler);
        let direction = match self.direction.as_deref() {
            None | Some("generate") => Direction::Generate,
            Some("invert") => Direction::Invert,
            Some(d) => return Err(Error::InvalidInput(format!("direction {d:?}: use generate or invert"))),
        };
        let guidance = overrides.guidance_or(config.sampler.guidance);
        let all = self.labels(config)?.resolve(self.total, config.classes.len())?;
        let mine = &all[first..first + count];
        // The null class of every sample is "no labels" (which an unconditional model requires).
        let labels = if mine.iter().all(|&l| l == NULL_LABEL) { Labels::Unconditional } else { Labels::PerSample(mine.to_vec()) };
        Ok(GenerateRequest {
            seed: self.seed,
            num_samples: count,
            batch: count,
            labels,
            guidance,
            sampler: sampler.with_direction(direction),
            record_trajectories: self.trajectories,
        })
    }

    fn labels(&self, config: &ModelConfig) -> Result<Labels> {
        let classes = &config.classes;
        Ok(match &self.labels {
            None => Labels::parse(None, classes)?,
            Some(LabelSpec::Index(l)) => Labels::All(*l),
            Some(LabelSpec::PerSample(v)) => Labels::PerSample(v.clone()),
            Some(LabelSpec::Text(t)) => Labels::parse(Some(t), classes)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beeline::config::Solver;
    use beeline::presets;

    fn mnist_like() -> ModelConfig {
        let arch = beeline::config::ArchConfig::Mlp(presets::mlp(2, 8, 1, 10));
        presets::velocity_model(arch, presets::points2d("toy", 4.0), presets::digit_classes(10), presets::euler(2))
    }

    #[test]
    fn defaults_come_from_the_model() {
        let c = mnist_like();
        let r = TransportRequest::parse(r#"{"total": 12}"#).unwrap().chunk(&c, 4, 4).unwrap();
        assert_eq!(r.sampler.steps, c.sampler.steps as usize);
        assert_eq!(r.sampler.solver, c.sampler.solver);
        assert_eq!(r.guidance, c.sampler.guidance);
        assert_eq!(r.sampler.direction, Direction::Generate);
        // cycling labels count from the request's first sample, not the chunk's
        assert_eq!(r.labels, Labels::PerSample(vec![4, 5, 6, 7]));
        let r = TransportRequest::parse(r#"{"total": 12}"#).unwrap().chunk(&c, 8, 4).unwrap();
        assert_eq!(r.labels, Labels::PerSample(vec![8, 9, 0, 1]));
    }

    #[test]
    fn unconditional_models_and_the_null_class_take_no_labels() {
        let mut c = mnist_like();
        let r = TransportRequest::parse(r#"{"total": 3, "labels": "none"}"#).unwrap().chunk(&c, 0, 3).unwrap();
        assert_eq!(r.labels, Labels::Unconditional);
        c.classes.clear();
        let r = TransportRequest::parse(r#"{"total": 3}"#).unwrap().chunk(&c, 1, 2).unwrap();
        assert_eq!(r.labels, Labels::Unconditional);
        assert!(TransportRequest::parse(r#"{"total": 3, "labels": 0}"#).unwrap().chunk(&c, 0, 3).is_err());
    }

    #[test]
    fn options_override_and_names_resolve() {
        let c = mnist_like();
        let j = r#"{"total": 2, "seed": 7, "solver": "fireflow", "steps": 3, "guidance": 2.5, "labels": "3", "direction": "invert", "trajectories": true}"#;
        let r = TransportRequest::parse(j).unwrap().chunk(&c, 0, 2).unwrap();
        assert_eq!((r.seed, r.sampler.solver, r.sampler.steps, r.guidance), (7, Solver::Fireflow, 3, 2.5));
        assert_eq!(r.labels, Labels::PerSample(vec![3, 3]));
        assert_eq!(r.sampler.direction, Direction::Invert);
        assert!(r.record_trajectories);
        // solver names as the CLI takes them, kebab or snake case
        for name in ["rfpp-new", "rfpp_new"] {
            let r = TransportRequest::parse(&format!(r#"{{"total": 1, "solver": "{name}"}}"#)).unwrap().chunk(&c, 0, 1).unwrap();
            assert_eq!(r.sampler.solver, Solver::RfppNew);
        }
        let r = TransportRequest::parse(r#"{"total": 2, "labels": [1, 9]}"#).unwrap().chunk(&c, 1, 1).unwrap();
        assert_eq!(r.labels, Labels::PerSample(vec![9]));
    }

    #[test]
    fn bad_requests_are_invalid_input() {
        let c = mnist_like();
        let bad = [
            (r#"{"total": 0}"#, 0, 1),
            (r#"{"total": 4}"#, 3, 2),
            (r#"{"total": 4}"#, 0, 0),
            (r#"{"total": 4, "steps": 0}"#, 0, 4),
            (r#"{"total": 4, "solver": "leapfrog"}"#, 0, 4),
            (r#"{"total": 4, "steps": 1000000}"#, 0, 4),
            (r#"{"total": 4, "labels": 10}"#, 0, 4),
            (r#"{"total": 4, "labels": "eleven"}"#, 0, 4),
            (r#"{"total": 4, "labels": [1, 2]}"#, 0, 4),
            (r#"{"total": 4, "direction": "sideways"}"#, 0, 4),
            (r#"{"total": 100000000}"#, 0, 4),
        ];
        for (j, first, count) in bad {
            let e = TransportRequest::parse(j).unwrap().chunk(&c, first, count).unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{j}: {e}");
        }
        for j in [r#"{"total": -1}"#, r#"{"total": 2, "solver": 3}"#, r#"{"total": 2, "colour": 1}"#, "[", r#"{"seed": 1.5, "total": 1}"#] {
            assert!(matches!(TransportRequest::parse(j), Err(Error::InvalidInput(_))), "{j}");
        }
    }
}
