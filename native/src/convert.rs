//! `beeline convert`: rewrites a model file with every tensor stored as f16 or f32, and
//! optionally another recommended sampler.

use anyhow::{Context, Result};
use crate::sampler_args::SamplerArgs;
use beeline::modelfile::ModelFile;
use beeline::weights::StoredDtype;
use std::path::PathBuf;

/// Rewrite a model file with its tensors stored as f16 (half the size) or f32.
///
/// The output is checked by reading it back; `beeline eval` on both files shows what f16
/// costs. A weight too large for f16 is an error and nothing is written.
///
/// Example:
///   beeline convert --model runs/toy/model.safetensors --dtype f16 --out models/toy.safetensors
#[derive(clap::Args, Debug)]
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
}

pub fn run(a: Args) -> Result<()> {
    let (bytes, name) = crate::bundled::model_bytes(&a.model)?;
    let mut file = ModelFile::from_bytes(&bytes).with_context(|| format!("loading {name}"))?;
    a.sampler.apply_defaults(&mut file.config.sampler)?;
    let dtype = if a.dtype == "f16" { StoredDtype::F16 } else { StoredDtype::F32 };
    file.write(&a.out, Some(dtype)).with_context(|| format!("writing {}", a.out.display()))?;
    ModelFile::read(&a.out).with_context(|| format!("reading back {}", a.out.display()))?;
    let size = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    println!("wrote {} ({} bytes, {}; was {} bytes)", a.out.display(), size, a.dtype, bytes.len());
    Ok(())
}
