//! What the fuzz target checks for one input, shared with the regression test that replays the
//! seeds and every crash the fuzzer ever found (`core/tests/integration/fuzz_regressions.rs`):
//! any byte string must load or return a typed error, never panic, hang or allocate beyond the
//! input's size; a file that loads must re-serialise to itself, and, where its networks are
//! small enough to run in a fuzzing iteration, compile its recommended sampler and generate two
//! samples (or refuse with a typed error) without panicking.

use beeline::pipeline::{generate, GenerateRequest, Labels};
use beeline::sampling::SamplerSpec;

/// Per-sample work and memory that one input may spend on generation.
const MAX_FLOPS: u64 = 50_000_000;
const MAX_ACTIVATIONS: u64 = 64 << 20;
const MAX_STEPS: usize = 8;

/// Checks one input (panics on a violation, as the fuzzer expects); returns whether it got as
/// far as generating samples.
pub fn check(data: &[u8]) -> bool {
    let mut generated = false;
    if let Ok(model) = beeline::modelfile::ModelFile::from_bytes(data) {
        let bytes = model.to_bytes(None).expect("a loaded model re-serialises");
        let again = beeline::modelfile::ModelFile::from_bytes(&bytes).expect("re-serialised model loads");
        assert_eq!(again, model);
        generated = generate_small(&model);
    }
    let _ = beeline::modelfile::inspect(data);
    generated
}

fn generate_small(file: &beeline::modelfile::ModelFile) -> bool {
    let c = &file.config;
    let small = c.networks.values().all(|a| beeline::nn::flops(a) <= MAX_FLOPS && beeline::nn::activation_bytes(a, 4) <= MAX_ACTIVATIONS);
    if !small {
        return false;
    }
    let Ok(mut model) = beeline::model::Model::new(file) else { return false };
    let mut sampler = SamplerSpec::from_defaults(&c.sampler, &c.parameterization);
    sampler.steps = sampler.steps.min(MAX_STEPS).max(sampler.windows.unwrap_or(1));
    let req = GenerateRequest {
        seed: 1,
        num_samples: 2,
        batch: 2,
        labels: if c.classes.is_empty() { Labels::Unconditional } else { Labels::Cycle },
        guidance: c.sampler.guidance,
        sampler,
        record_trajectories: false,
    };
    match generate(&mut model, c.classes.len(), &req, &mut |_| {}) {
        Ok(out) => {
            assert_eq!(out.samples.len(), 2 * c.data.numel(), "two samples of the data's size");
            true
        }
        Err(_) => false,
    }
}
