//! Sampler overrides as every front end takes them (the CLI's `--steps`, `--solver`,
//! `--time-grid` and `--guidance`, the viewer, the wasm/JS request): each value left out keeps
//! the model file's recommendation ([`SamplerDefaults`]).

use crate::config::{SamplerDefaults, Solver, TimeGrid};
use crate::error::{Error, Result};
use crate::sampling::SamplerSpec;
use crate::sampling::grid::check_steps;

/// What a request changes about a model's recommended sampler.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// Sampler steps N (1 to [`MAX_STEPS`](crate::sampling::MAX_STEPS)).
    pub steps: Option<usize>,
    /// The solver.
    pub solver: Option<Solver>,
    /// The time grid.
    pub grid: Option<TimeGrid>,
    /// Classifier-free guidance scale (finite; 1 = none).
    pub guidance: Option<f32>,
}

impl Overrides {
    /// Overrides from text, as a command line or JSON gives them: the solver by name
    /// ([`Solver::parse`]) and the grid as `uniform`, `shift=S` or times ([`TimeGrid::parse`]).
    pub fn parse(steps: Option<usize>, solver: Option<&str>, grid: Option<&str>, guidance: Option<f32>) -> Result<Overrides> {
        let o = Overrides { steps, solver: solver.map(Solver::parse).transpose()?, grid: grid.map(TimeGrid::parse).transpose()?, guidance };
        if let Some(n) = o.steps {
            check_steps(n)?;
        }
        if let Some(g) = o.guidance
            && !g.is_finite()
        {
            return Err(Error::InvalidInput(format!("guidance must be a finite number, got {g}")));
        }
        Ok(o)
    }

    /// Lays the solver, steps and grid over `spec` (guidance is not part of a
    /// [`SamplerSpec`]: see [`Overrides::guidance_or`]).
    pub fn apply(&self, spec: &mut SamplerSpec) {
        if let Some(s) = self.solver {
            spec.solver = s;
        }
        if let Some(n) = self.steps {
            spec.steps = n;
        }
        if let Some(g) = &self.grid {
            spec.grid = g.clone();
        }
    }

    /// Lays every override, guidance included, over a model file's recommendation (for files
    /// that record it: `convert`, `pairs`).
    pub fn apply_defaults(&self, d: &mut SamplerDefaults) -> Result<()> {
        if let Some(s) = self.solver {
            d.solver = s;
        }
        if let Some(n) = self.steps {
            d.steps = u32::try_from(n).map_err(|_| Error::InvalidInput(format!("{n} steps are too many")))?;
        }
        if let Some(g) = &self.grid {
            d.time_grid = g.clone();
        }
        if let Some(g) = self.guidance {
            d.guidance = g;
        }
        Ok(())
    }

    /// The guidance scale: the override, else `default` (the model's).
    pub fn guidance_or(&self, default: f32) -> f32 {
        self.guidance.unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Parameterization;

    #[test]
    fn text_overrides_parse_and_lay_over_the_recommendation() {
        let d = SamplerDefaults { solver: Solver::Euler, steps: 2, guidance: 1.5, time_grid: TimeGrid::Uniform };
        let o = Overrides::parse(Some(4), Some("rfpp-new"), Some("shift=3"), None).unwrap();
        let mut spec = SamplerSpec::from_defaults(&d, &Parameterization::Velocity);
        o.apply(&mut spec);
        assert_eq!((spec.solver, spec.steps, &spec.grid), (Solver::RfppNew, 4, &TimeGrid::Shifted { shift: 3.0 }));
        assert_eq!(o.guidance_or(d.guidance), 1.5);
        assert_eq!(Solver::parse("rfpp_new").unwrap(), Solver::RfppNew);
        let mut d2 = d.clone();
        Overrides::parse(None, Some("fireflow"), Some("0, 0.5, 1"), Some(2.0)).unwrap().apply_defaults(&mut d2).unwrap();
        assert_eq!((d2.solver, d2.steps, d2.guidance), (Solver::Fireflow, 2, 2.0));
        assert_eq!(d2.time_grid, TimeGrid::Custom { times: vec![0.0, 0.5, 1.0] });
        // nothing given keeps everything
        let mut spec2 = SamplerSpec::from_defaults(&d, &Parameterization::Velocity);
        Overrides::default().apply(&mut spec2);
        assert_eq!(spec2, SamplerSpec::from_defaults(&d, &Parameterization::Velocity));
    }

    #[test]
    fn bad_overrides_are_invalid_input() {
        for (steps, solver, grid, guidance) in [
            (Some(0), None, None, None),
            (None, Some("leapfrog"), None, None),
            (None, None, Some("shift=x"), None),
            (None, None, Some("0,a,1"), None),
            (None, None, None, Some(f32::NAN)),
        ] {
            let e = Overrides::parse(steps, solver, grid, guidance).unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{e}");
        }
        assert!(Overrides::parse(None, Some("leapfrog"), None, None).unwrap_err().to_string().contains("rfpp-new"));
        for (s, name) in Solver::ALL {
            assert_eq!((Solver::parse(name).unwrap(), s.name()), (s, name));
            // the names are the model file's (serde) names in kebab case
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::Value::String(name.replace('-', "_")));
        }
    }
}
