//! Loading what the sampling commands run: a model file, by path or bundled name, put on a
//! backend as the core's [`Generator`] (the one "model on a backend" type; its operations are
//! `async`, and the commands drive them with `pollster::block_on`).

use anyhow::{Context, Result};
use beeline::backend::{self, Backend, Choice, Selected};
use beeline::generator::Generator;
use beeline::modelfile::ModelFile;
use std::path::Path;

/// Loads the model file at `path` (or the bundled model of that name, see
/// [`crate::bundled`]) and puts it on the backend `want` asks for; also returns the backend
/// choice with its reason.
pub fn load_model(path: &Path, want: Backend) -> Result<(Generator, Choice)> {
    let (bytes, name) = crate::bundled::model_bytes(path)?;
    load_model_bytes(&bytes, &name, want)
}

/// [`load_model`] from a model file's bytes (`name` for messages), for callers that also
/// need the bytes.
pub fn load_model_bytes(bytes: &[u8], name: &str, want: Backend) -> Result<(Generator, Choice)> {
    let file = ModelFile::from_bytes(bytes).with_context(|| format!("loading {name}"))?;
    let choice = pollster::block_on(backend::choose(want))?;
    let generator = generator_on(&choice.selected, &file)?;
    Ok((generator, choice))
}

/// A model file on a backend already chosen (one GPU context serves several models).
pub fn generator_on(selected: &Selected, file: &ModelFile) -> Result<Generator> {
    let what = if matches!(selected, Selected::Cpu) { "building the model on the CPU" } else { "putting the model on the GPU" };
    pollster::block_on(Generator::new(selected, file)).context(what)
}
