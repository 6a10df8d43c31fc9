//! A model on a backend: the one type the CLI, the viewer, the browser and the lab sample with.
//!
//! A [`Generator`] is a model file on the CPU reference ([`Model`]) or on the GPU runtime
//! ([`GpuModel`]), or an analytic field (a Gaussian mixture's exact velocity). Every operation is
//! the pipeline's, on any of them: [`generate`](Generator::generate) from seeded noise,
//! [`transport_from`](Generator::transport_from) given start states (inversion), or
//! [`transport_watched`](Generator::transport_watched) with every step's states for a live preview,
//! [`reconstruct`](Generator::reconstruct) (inversion and regeneration, CAF's v̂0 reused).
//! Editing is a reconstruction's inversion regenerated with other labels. The operations are
//! `async` because the GPU's are (a browser cannot block); on the CPU they complete at once,
//! and natively `pollster::block_on` drives the GPU's.

use crate::backend::Selected;
use crate::config::ModelConfig;
use crate::error::Result;
use crate::gmm::GaussianMixture;
#[cfg(feature = "gpu")]
use crate::gpu::GpuModel;
use crate::model::Model;
use crate::modelfile::ModelFile;
use crate::pipeline::{self, GenerateRequest, Generated, Progress, Reconstruction, StepStates};

/// A velocity field ready to sample.
pub enum Generator {
    /// A model file on the CPU reference.
    Cpu(Box<Model>),
    /// A model file on the GPU runtime.
    #[cfg(feature = "gpu")]
    Gpu(Box<GpuModel>),
    /// The exact velocity field of a Gaussian mixture (2D toys; no model file, no classes).
    Analytic(GaussianMixture),
}

impl Generator {
    /// Puts a validated model file on the backend `selected` (the GPU: its networks compiled and
    /// weights uploaded; errors as [`GpuModel::new`]).
    pub async fn new(selected: &Selected, file: &ModelFile) -> Result<Generator> {
        Ok(match selected {
            Selected::Cpu => Generator::Cpu(Box::new(Model::new(file)?)),
            #[cfg(feature = "gpu")]
            Selected::Gpu(ctx) => Generator::Gpu(Box::new(GpuModel::new(ctx, file).await?)),
        })
    }

    /// The model file's config (`None` for an analytic field).
    pub fn config(&self) -> Option<&ModelConfig> {
        match self {
            Generator::Cpu(m) => Some(m.config()),
            #[cfg(feature = "gpu")]
            Generator::Gpu(m) => Some(m.config()),
            Generator::Analytic(_) => None,
        }
    }

    /// The backend's name: `cpu`, `gpu` or `analytic`.
    pub fn backend(&self) -> &'static str {
        match self {
            Generator::Cpu(_) => "cpu",
            #[cfg(feature = "gpu")]
            Generator::Gpu(_) => "gpu",
            Generator::Analytic(_) => "analytic",
        }
    }

    fn num_classes(&self) -> usize {
        self.config().map_or(0, |c| c.classes.len())
    }

    /// [`pipeline::generate`] on this backend.
    pub async fn generate(&mut self, req: &GenerateRequest, progress: &mut dyn FnMut(Progress)) -> Result<Generated> {
        let classes = self.num_classes();
        match self {
            Generator::Cpu(m) => pipeline::generate(m.as_mut(), classes, req, progress),
            #[cfg(feature = "gpu")]
            Generator::Gpu(m) => m.generate(req, progress).await,
            Generator::Analytic(g) => pipeline::generate(g, 0, req, progress),
        }
    }

    /// [`pipeline::transport_from`] on this backend.
    pub async fn transport_from(&mut self, req: &GenerateRequest, x: Vec<f32>, progress: &mut dyn FnMut(Progress)) -> Result<Generated> {
        let classes = self.num_classes();
        match self {
            Generator::Cpu(m) => pipeline::transport_from(m.as_mut(), classes, req, x, progress),
            #[cfg(feature = "gpu")]
            Generator::Gpu(m) => m.transport_from(req, x, progress).await,
            Generator::Analytic(g) => pipeline::transport_from(g, 0, req, x, progress),
        }
    }

    /// [`pipeline::transport_watched`] on this backend: `watch` gets each batch's states after
    /// every step (on the GPU, one readback per step).
    pub async fn transport_watched(&mut self, req: &GenerateRequest, x: Vec<f32>, progress: &mut dyn FnMut(Progress), watch: &mut dyn FnMut(StepStates<'_>)) -> Result<Generated> {
        let classes = self.num_classes();
        match self {
            Generator::Cpu(m) => pipeline::transport_watched(m.as_mut(), classes, req, x, progress, watch),
            #[cfg(feature = "gpu")]
            Generator::Gpu(m) => m.transport_watched(req, x, progress, watch).await,
            Generator::Analytic(g) => pipeline::transport_watched(g, 0, req, x, progress, watch),
        }
    }

    /// [`pipeline::reconstruct`] on this backend (the same round trip everywhere).
    pub async fn reconstruct(&mut self, req: &GenerateRequest, images: Vec<f32>, reuse_initial_velocity: bool, progress: &mut dyn FnMut(Progress)) -> Result<Reconstruction> {
        let classes = self.num_classes();
        match self {
            Generator::Cpu(m) => pipeline::reconstruct(m.as_mut(), classes, req, images, reuse_initial_velocity, progress),
            #[cfg(feature = "gpu")]
            Generator::Gpu(m) => m.reconstruct(req, images, reuse_initial_velocity, progress).await,
            Generator::Analytic(g) => pipeline::reconstruct(g, 0, req, images, reuse_initial_velocity, progress),
        }
    }
}
