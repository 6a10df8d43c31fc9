//! The sampler flags shared by `generate`, `eval`, `pairs` and `convert`: `--steps`,
//! `--solver`, `--time-grid` and `--guidance`, each overriding what the model file recommends.

use anyhow::Result;
use beeline::config::{SamplerDefaults, Solver, TimeGrid};
use beeline::sampling::SamplerSpec;

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
    /// Overrides `spec`'s solver, steps and grid with the flags given (guidance is not part of
    /// a [`SamplerSpec`]; read `self.guidance`).
    pub fn apply(&self, spec: &mut SamplerSpec) -> Result<()> {
        if let Some(s) = &self.solver {
            spec.solver = parse_solver(s)?;
        }
        if let Some(n) = self.steps {
            spec.steps = n;
        }
        if let Some(g) = &self.time_grid {
            spec.grid = parse_grid(g)?;
        }
        Ok(())
    }

    /// Overrides a model file's recommended sampler (guidance included) with the flags given.
    pub fn apply_defaults(&self, d: &mut SamplerDefaults) -> Result<()> {
        if let Some(s) = &self.solver {
            d.solver = parse_solver(s)?;
        }
        if let Some(n) = self.steps {
            d.steps = u32::try_from(n).map_err(|_| beeline::Error::InvalidInput(format!("--steps {n} is too large")))?;
        }
        if let Some(g) = &self.time_grid {
            d.time_grid = parse_grid(g)?;
        }
        if let Some(g) = self.guidance {
            d.guidance = g;
        }
        Ok(())
    }
}

/// Parses a solver name (kebab or snake case).
fn parse_solver(s: &str) -> Result<Solver> {
    let v = serde_json::Value::String(s.replace('-', "_"));
    serde_json::from_value(v).map_err(|_| {
        beeline::Error::InvalidInput(format!(
            "unknown solver {s:?}; use euler, midpoint, heun, rk4, fireflow, rfpp-new, perflow or caf"
        ))
        .into()
    })
}

/// Parses `uniform`, `shift=S` or a comma-separated list of times.
fn parse_grid(s: &str) -> Result<TimeGrid> {
    let bad = |m: String| -> anyhow::Error { beeline::Error::InvalidInput(m).into() };
    if s == "uniform" {
        return Ok(TimeGrid::Uniform);
    }
    if let Some(v) = s.strip_prefix("shift=") {
        let shift: f64 = v.parse().map_err(|_| bad(format!("shift {v:?} is not a number")))?;
        return Ok(TimeGrid::Shifted { shift });
    }
    let times: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>().map_err(|_| bad(format!("time grid entry {p:?} is not a number"))))
        .collect::<Result<_>>()?;
    Ok(TimeGrid::Custom { times })
}

