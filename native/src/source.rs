//! What the sampling commands run: a model file on the CPU reference or the GPU, or an analytic
//! field, behind one `generate` / `transport_from`.

use anyhow::{Context, Result};
use beeline::backend::{self, Backend, Choice, Selected};
use beeline::config::ModelConfig;
use beeline::gmm::GaussianMixture;
use beeline::gpu::GpuModel;
use beeline::model::Model;
use beeline::modelfile::ModelFile;
use beeline::pipeline::{self, GenerateRequest, Generated, Progress};
use std::path::Path;

/// A velocity field ready to sample.
pub enum Source {
    /// A model file on the CPU reference.
    Model(Box<Model>),
    /// A model file on the GPU runtime.
    Gpu(Box<GpuModel>),
    /// The exact field of a Gaussian mixture.
    Analytic(GaussianMixture),
}

/// Loads the model file at `path` (or the bundled model of that name, see
/// [`crate::bundled`]) and puts it on the backend `want` asks for; also returns the backend
/// choice with its reason.
pub fn load_model(path: &Path, want: Backend) -> Result<(Source, Choice)> {
    let (bytes, name) = crate::bundled::model_bytes(path)?;
    load_model_bytes(&bytes, &name, want)
}

/// [`load_model`] from a model file's bytes (`name` for messages), for callers that also
/// need the bytes.
pub fn load_model_bytes(bytes: &[u8], name: &str, want: Backend) -> Result<(Source, Choice)> {
    let file = ModelFile::from_bytes(bytes).with_context(|| format!("loading {name}"))?;
    let choice = pollster::block_on(backend::choose(want))?;
    let source = source_on(&choice.selected, &file)?;
    Ok((source, choice))
}

/// A model file on a backend already chosen (one GPU context serves several models).
pub fn source_on(selected: &Selected, file: &ModelFile) -> Result<Source> {
    Ok(match selected {
        Selected::Cpu => Source::Model(Box::new(Model::new(file)?)),
        Selected::Gpu(ctx) => Source::Gpu(Box::new(pollster::block_on(GpuModel::new(ctx, file)).context("putting the model on the GPU")?)),
    })
}

impl Source {
    /// The model file's config (`None` for analytic fields).
    pub fn config(&self) -> Option<&ModelConfig> {
        match self {
            Source::Model(m) => Some(m.config()),
            Source::Gpu(m) => Some(m.config()),
            Source::Analytic(_) => None,
        }
    }

    fn num_classes(&self) -> usize {
        self.config().map_or(0, |c| c.classes.len())
    }

    /// [`pipeline::generate`] on this source.
    pub fn generate(&mut self, req: &GenerateRequest, progress: &mut dyn FnMut(Progress)) -> Result<Generated> {
        let classes = self.num_classes();
        Ok(match self {
            Source::Model(m) => pipeline::generate(m.as_mut(), classes, req, progress)?,
            Source::Gpu(m) => pollster::block_on(m.generate(req, progress))?,
            Source::Analytic(g) => pipeline::generate(g, 0, req, progress)?,
        })
    }

    /// [`pipeline::transport_from`] on this source.
    pub fn transport_from(&mut self, req: &GenerateRequest, x: Vec<f32>, progress: &mut dyn FnMut(Progress)) -> beeline::Result<Generated> {
        let classes = self.num_classes();
        match self {
            Source::Model(m) => pipeline::transport_from(m.as_mut(), classes, req, x, progress),
            Source::Gpu(m) => pollster::block_on(m.transport_from(req, x, progress)),
            Source::Analytic(g) => pipeline::transport_from(g, 0, req, x, progress),
        }
    }
}
