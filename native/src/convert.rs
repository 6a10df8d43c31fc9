//! `beeline convert`: rewrites a model file with every tensor stored as f16 or f32, and
//! optionally another recommended sampler, and reports what that changed: the file size and
//! the samples (the same seeded batch generated on the CPU reference from both files).

use anyhow::{Context, Result};
use crate::sampler_args::SamplerArgs;
use crate::source::generator_on;
use beeline::backend::Selected;
use beeline::modelfile::ModelFile;
use beeline::pipeline::{GenerateRequest, Labels};
use beeline::sampling::SamplerSpec;
use beeline::weights::StoredDtype;
use std::path::PathBuf;

/// Rewrite a model file with its tensors stored as f16 (half the size) or f32.
///
/// The output is checked by reading it back. Then both files generate the same seeded batch on
/// the CPU reference (`--num-samples`, `--seed`, the new file's recommended sampler) and the
/// report gives the file sizes and the largest and mean absolute difference between the two
/// batches' values (data units: images in [-1, 1]). `beeline eval` on both files measures
/// quality further. A weight too large for f16 is an error and nothing is written.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline convert --model runs/toy/model.safetensors --dtype f16 --out models/toy.safetensors
  beeline convert --model mnist-2rf --dtype f32 --out mnist-2rf-f32.safetensors --json")]
pub struct Args {
    /// Model file, or a bundled model's name.
    #[arg(long)]
    pub model: PathBuf,
    /// f16 or f32.
    #[arg(long, value_parser = ["f16", "f32"])]
    pub dtype: String,
    /// A new recommended sampler (what `generate` uses by default); flags left out keep the
    /// file's.
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Samples generated from both files for the comparison (0: no comparison).
    #[arg(long, default_value_t = 16)]
    pub num_samples: usize,
    /// Noise seed of the comparison batch.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the report as JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The largest and the mean absolute difference between the samples two model files generate
/// from the same seeded noise on the CPU reference, with `sampler` (the recommendation of
/// `b`) and `b`'s guidance; `None` for `n = 0`.
fn sample_difference(a: &ModelFile, b: &ModelFile, n: usize, seed: u64) -> Result<Option<(f64, f64)>> {
    if n == 0 {
        return Ok(None);
    }
    let c = &b.config;
    let req = GenerateRequest {
        seed,
        num_samples: n,
        batch: n.min(64),
        labels: if c.classes.is_empty() { Labels::Unconditional } else { Labels::Cycle },
        guidance: c.sampler.guidance,
        sampler: SamplerSpec::from_defaults(&c.sampler, &c.parameterization),
        record_trajectories: false,
    };
    let run = |f: &ModelFile| -> Result<Vec<f32>> {
        let mut src = generator_on(&Selected::Cpu, f)?;
        Ok(pollster::block_on(src.generate(&req, &mut |_| {}))?.samples)
    };
    let (x, y) = (run(a)?, run(b)?);
    let (mut max, mut sum) = (0.0f64, 0.0f64);
    for (p, q) in x.iter().zip(&y) {
        let d = (*p as f64 - *q as f64).abs();
        max = max.max(d);
        sum += d;
    }
    Ok(Some((max, sum / x.len().max(1) as f64)))
}

pub fn run(a: Args) -> Result<()> {
    let (bytes, name) = crate::bundled::model_bytes(&a.model)?;
    let original = ModelFile::from_bytes(&bytes).with_context(|| format!("loading {name}"))?;
    let mut file = original.clone();
    a.sampler.apply_defaults(&mut file.config.sampler)?;
    let dtype = if a.dtype == "f16" { StoredDtype::F16 } else { StoredDtype::F32 };
    file.write(&a.out, Some(dtype)).with_context(|| format!("writing {}", a.out.display()))?;
    let written = ModelFile::read(&a.out).with_context(|| format!("reading back {}", a.out.display()))?;
    let size = std::fs::metadata(&a.out).with_context(|| format!("reading {}", a.out.display()))?.len();
    let diff = sample_difference(&original, &written, a.num_samples, a.seed)?;
    let before = bytes.len() as u64;
    let ratio = size as f64 / before.max(1) as f64;
    if a.json {
        crate::outln!(
            "{}",
            serde_json::json!({
                "model": name, "out": a.out, "dtype": a.dtype,
                "bytes_before": before, "bytes_after": size, "size_ratio": ratio,
                "samples_compared": diff.map_or(0, |_| a.num_samples), "seed": a.seed,
                "max_abs_diff": diff.map(|d| d.0), "mean_abs_diff": diff.map(|d| d.1),
            })
        );
    } else {
        crate::outln!("wrote {} ({}): {size} bytes, was {before} bytes ({:.0} % of the size)", a.out.display(), a.dtype, ratio * 100.0);
        match diff {
            Some((max, mean)) => crate::outln!(
                "samples: {} from seed {} on the CPU reference differ by at most {max:.3e}, on average {mean:.3e} (data units)",
                a.num_samples, a.seed
            ),
            None => crate::outln!("samples: not compared (--num-samples 0)"),
        }
    }
    Ok(())
}
