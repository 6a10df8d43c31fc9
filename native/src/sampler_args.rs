//! The sampler flags shared by `generate`, `eval`, `pairs` and `convert`: `--steps`,
//! `--solver`, `--time-grid` and `--guidance`, each overriding what the model file recommends
//! (parsed by the core's [`Overrides`], as the wasm request is).

use anyhow::Result;
use beeline::config::SamplerDefaults;
use beeline::sampling::{Overrides, SamplerSpec};

/// Sampler flags; every one left out keeps the model's recommendation.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SamplerArgs {
    /// Number of sampler steps N (default: the model's recommendation).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Solver: euler, midpoint, heun, rk4, fireflow, rfpp-new, perflow, caf (default: the model's).
    #[arg(long)]
    pub solver: Option<String>,
    /// Time grid: `uniform`, `shift=S` (diffusers/FLUX shift), or comma-separated times 0,…,1.
    #[arg(long)]
    pub time_grid: Option<String>,
    /// Classifier-free guidance scale (default: the model's).
    #[arg(long)]
    pub guidance: Option<f32>,
}

impl SamplerArgs {
    /// The flags as the core's [`Overrides`], parsed and checked (one parser for every front end).
    pub fn overrides(&self) -> Result<Overrides> {
        Ok(Overrides::parse(self.steps, self.solver.as_deref(), self.time_grid.as_deref(), self.guidance)?)
    }

    /// Overrides `spec`'s solver, steps and grid with the flags given (guidance is not part of
    /// a [`SamplerSpec`]; read `self.guidance`).
    pub fn apply(&self, spec: &mut SamplerSpec) -> Result<()> {
        self.overrides()?.apply(spec);
        Ok(())
    }

    /// Overrides a model file's recommended sampler (guidance included) with the flags given.
    pub fn apply_defaults(&self, d: &mut SamplerDefaults) -> Result<()> {
        Ok(self.overrides()?.apply_defaults(d)?)
    }
}
