//! `beeline info FILE`: the config and the tensor table of a model file.

use anyhow::{Context, Result};
use beeline::modelfile::{self, ModelFile};
use std::path::PathBuf;

/// Print a model file's config and tensor table.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline info --list                                # the bundled models (models/bundled.json)
  beeline info mnist-onestep                          # a bundled model
  beeline info runs/toy/model.safetensors --json")]
pub struct Args {
    /// The model file (.safetensors), or a bundled model's name.
    #[arg(required_unless_present = "list")]
    pub file: Option<PathBuf>,
    /// List the models compiled into the binary instead (name, kind, size, what; the default
    /// of `generate` and `view` is marked).
    #[arg(long, conflicts_with = "file")]
    pub list: bool,
    /// Print JSON (config and tensors) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A string from the file, safe for the terminal.
fn p(s: &str) -> std::borrow::Cow<'_, str> {
    beeline::error::printable(s, false)
}

pub fn run(a: Args) -> Result<()> {
    let Some(file) = a.file else {
        crate::bundled::print_list(a.json);
        return Ok(());
    };
    let (bytes, _) = crate::bundled::model_bytes(&file)?;
    // List what the container holds even when the model itself does not validate.
    let (config_json, tensors) = modelfile::inspect(&bytes).with_context(|| format!("reading {}", file.display()))?;
    let validated = ModelFile::from_bytes(&bytes);
    if a.json {
        let config: serde_json::Value =
            config_json.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or(serde_json::Value::Null);
        let list: Vec<serde_json::Value> = tensors
            .iter()
            .map(|t| serde_json::json!({"name": t.name, "dtype": t.dtype, "shape": t.shape, "bytes": t.bytes}))
            .collect();
        let status = match &validated {
            Ok(_) => serde_json::json!({"valid": true}),
            Err(e) => serde_json::json!({"valid": false, "error": e.to_string(), "code": e.code()}),
        };
        crate::outln!("{}", serde_json::json!({"file": file, "bytes": bytes.len(), "config": config, "tensors": list, "status": status}));
    } else {
        crate::outln!("file      {} ({} bytes)", file.display(), bytes.len());
        match &validated {
            Ok(m) => {
                let c = &m.config;
                crate::outln!("format    {} v{}", c.format, c.version);
                crate::outln!("method    {:?}", c.parameterization);
                for (role, arch) in &c.networks {
                    crate::outln!("network   {:<16} {:>10} params  {}", role.prefix(), arch.num_params(), serde_json::to_string(arch)?);
                }
                crate::outln!("data      {} shape {:?} range {:?}", p(&c.data.name), c.data.shape, c.data.range);
                if !c.classes.is_empty() {
                    crate::outln!("classes   {}", p(&c.classes.join(", ")));
                }
                crate::outln!(
                    "sampler   {:?}, {} steps, guidance {}, grid {:?}",
                    c.sampler.solver, c.sampler.steps, c.sampler.guidance, c.sampler.time_grid
                );
                if !c.provenance.command.is_empty() {
                    crate::outln!("made by   {}", p(&c.provenance.command));
                }
                if !c.provenance.data.is_empty() || c.provenance.steps > 0 {
                    crate::outln!("trained   {} steps on {}", c.provenance.steps, p(&c.provenance.data));
                }
                for (k, v) in &c.provenance.notes {
                    crate::outln!("note      {}: {}", p(k), p(v));
                }
            }
            Err(_) => match &config_json {
                Some(c) => crate::outln!("config    (raw) {}", p(c)),
                None => crate::outln!("config    none"),
            },
        }
        crate::outln!("\n{:<48} {:<5} {:<20} {:>10}", "tensor", "dtype", "shape", "bytes");
        for t in &tensors {
            crate::outln!("{:<48} {:<5} {:<20} {:>10}", p(&t.name), t.dtype, format!("{:?}", t.shape), t.bytes);
        }
        let total: usize = tensors.iter().map(|t| t.bytes).sum();
        crate::outln!("{} tensors, {} bytes of weights", tensors.len(), total);
    }
    validated.map(|_| ()).map_err(|e| anyhow::Error::new(e).context(format!("{} does not load", file.display())))
}
