//! `beeline convert`: rewrites a model file with every tensor stored as f16 or f32, and
//! optionally another recommended sampler, and reports what that changed: the file size and
//! the samples (the same seeded batch generated on the CPU reference from both files). With
//! `--format onnx` it exports one network of the model as an ONNX graph instead
//! (`beeline::onnx_export`).

use anyhow::{Context, Result};
use crate::exit::Usage;
use crate::sampler_args::SamplerArgs;
use crate::source::generator_on;
use beeline::backend::Selected;
use beeline::modelfile::ModelFile;
use beeline::onnx_export::{self, Dim, ValueSpec};
use beeline::pipeline::{GenerateRequest, Labels};
use beeline::sampling::SamplerSpec;
use beeline::weights::StoredDtype;
use std::path::PathBuf;

/// Rewrite a model file with its tensors stored as f16 (half the size) or f32, or export one of
/// its networks as an ONNX graph (`--format onnx`).
///
/// The output is checked by reading it back. Then both files generate the same seeded batch on
/// the CPU reference (`--num-samples`, `--seed`, the new file's recommended sampler) and the
/// report gives the file sizes and the largest and mean absolute difference between the two
/// batches' values (data units: images in [-1, 1]). `beeline eval` on both files measures
/// quality further. A weight too large for f16 is an error and nothing is written.
///
/// `--format onnx` writes one network evaluation (not the sampler) as ONNX opset 17 with f32
/// weights: inputs `x` [N, C, H, W] or [N, D], `t` [N] (Beeline time, 0 = noise, 1 = data),
/// `y` [N] int64 for class-conditional models (the class count, or -1, is the null class) and
/// `cond` for CAF's acceleration network; the output is named after the network (`velocity`,
/// `initial_velocity`, `acceleration`). CAF models have two networks: name one with
/// `--network`. `scripts/onnx-check.py` runs the file in ONNX Runtime.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline convert --model runs/toy/model.safetensors --dtype f16 --out models/toy.safetensors
  beeline convert --model mnist-2rf --dtype f32 --out mnist-2rf-f32.safetensors --json
  beeline convert --model mnist-2rf --format onnx --out mnist-2rf.onnx
  beeline convert --model rf-toy-caf --format onnx --network acceleration --out caf-a.onnx --json")]
pub struct Args {
    /// Model file, or a bundled model's name.
    #[arg(long)]
    pub model: PathBuf,
    /// Output format: `safetensors` (a Beeline model file) or `onnx` (one network as an ONNX graph).
    #[arg(long, default_value = "safetensors", value_parser = ["safetensors", "onnx"])]
    pub format: String,
    /// f16 or f32 (required for safetensors; ONNX weights are always f32).
    #[arg(long, value_parser = ["f16", "f32"])]
    pub dtype: Option<String>,
    /// The network to export as ONNX: velocity, initial-velocity or acceleration (default: the
    /// model's only network; CAF models have two and need it).
    #[arg(long)]
    pub network: Option<String>,
    /// A new recommended sampler (what `generate` uses by default); flags left out keep the
    /// file's. Not with `--format onnx` (the graph holds no sampler).
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Samples generated from both files for the comparison (0: no comparison; safetensors only).
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
    if a.format == "onnx" {
        return run_onnx(&a);
    }
    if a.network.is_some() {
        return Err(Usage("--network picks the network of an ONNX export; use it with --format onnx".into()).into());
    }
    let Some(dtype_name) = a.dtype.as_deref() else {
        return Err(Usage("--dtype f16 or --dtype f32 is required with --format safetensors".into()).into());
    };
    let (bytes, name) = crate::bundled::model_bytes(&a.model)?;
    let original = ModelFile::from_bytes(&bytes).with_context(|| format!("loading {name}"))?;
    let mut file = original.clone();
    a.sampler.apply_defaults(&mut file.config.sampler)?;
    let dtype = if dtype_name == "f16" { StoredDtype::F16 } else { StoredDtype::F32 };
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
                "model": name, "out": a.out, "format": "safetensors", "dtype": dtype_name,
                "bytes_before": before, "bytes_after": size, "size_ratio": ratio,
                "samples_compared": diff.map_or(0, |_| a.num_samples), "seed": a.seed,
                "max_abs_diff": diff.map(|d| d.0), "mean_abs_diff": diff.map(|d| d.1),
            })
        );
    } else {
        crate::outln!("wrote {} ({dtype_name}): {size} bytes, was {before} bytes ({:.0} % of the size)", a.out.display(), ratio * 100.0);
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

/// A graph input or output as JSON: name, dtype, shape (`"N"` for the batch), meaning.
fn value_json(v: &ValueSpec) -> serde_json::Value {
    let shape: Vec<serde_json::Value> = v.shape.iter().map(|d| match d {
        Dim::Batch => serde_json::json!("N"),
        Dim::Fixed(n) => serde_json::json!(n),
    }).collect();
    serde_json::json!({"name": v.name, "dtype": v.dtype.name(), "shape": shape, "doc": v.doc})
}

/// `--format onnx`: one network of the model as an ONNX graph, written atomically.
fn run_onnx(a: &Args) -> Result<()> {
    if a.dtype.as_deref() == Some("f16") {
        return Err(Usage("--format onnx writes f32 weights; leave out --dtype (or give f32)".into()).into());
    }
    let s = &a.sampler;
    if s.steps.is_some() || s.solver.is_some() || s.time_grid.is_some() || s.guidance.is_some() {
        return Err(Usage(
            "--steps, --solver, --time-grid and --guidance set a model file's sampler; an ONNX graph holds one network evaluation and no sampler".into(),
        )
        .into());
    }
    let (bytes, name) = crate::bundled::model_bytes(&a.model)?;
    let file = ModelFile::from_bytes(&bytes).with_context(|| format!("loading {name}"))?;
    let role = a.network.as_deref().map(onnx_export::network_by_name).transpose()?;
    let hint = if role.is_none() && file.config.networks.len() > 1 { " (pick one network with --network)" } else { "" };
    let g = onnx_export::export_model(&file, role).with_context(|| format!("exporting {name} as ONNX{hint}"))?;
    beeline::files::write_atomic(&a.out, &g.bytes).with_context(|| format!("writing {}", a.out.display()))?;
    let size = std::fs::metadata(&a.out).with_context(|| format!("reading {}", a.out.display()))?.len();
    let network = g.network.prefix();
    if a.json {
        crate::outln!(
            "{}",
            serde_json::json!({
                "model": name, "out": a.out, "format": "onnx", "network": network,
                "num_classes": file.config.classes.len(),
                "opset": onnx_export::OPSET, "ir_version": onnx_export::IR_VERSION,
                "inputs": g.inputs.iter().map(value_json).collect::<Vec<_>>(),
                "outputs": g.outputs.iter().map(value_json).collect::<Vec<_>>(),
                "nodes": g.nodes, "ops": g.ops, "initializers": g.initializers, "params": g.params,
                "bytes": size,
            })
        );
    } else {
        crate::outln!(
            "wrote {} (ONNX opset {}, IR {}): network `{network}` of {name}, {} nodes, {} initializers ({} weights, f32), {size} bytes",
            a.out.display(),
            onnx_export::OPSET,
            onnx_export::IR_VERSION,
            g.nodes,
            g.initializers,
            g.params
        );
        let width = g.inputs.iter().chain(&g.outputs).map(|v| v.name.len()).max().unwrap_or(0);
        for (kind, v) in g.inputs.iter().map(|v| ("input ", v)).chain(g.outputs.iter().map(|v| ("output", v))) {
            crate::outln!("{kind}  {:width$}  {:7}  {:18}  {}", v.name, v.dtype.name(), v.shape_text(), v.doc);
        }
        crate::outln!("the sampler is not part of the graph; scripts/onnx-check.py runs it in ONNX Runtime");
    }
    Ok(())
}
