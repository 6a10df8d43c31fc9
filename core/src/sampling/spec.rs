//! What a user asks for — solver, steps, grid, direction — validated and compiled to a [`Plan`].

use crate::config::{Parameterization, SamplerDefaults, Solver, TimeGrid};
use crate::error::{Error, Result};
use crate::sampling::grid::{check_steps, perflow_grid, time_grid};
use crate::sampling::plan::{Op, Plan};
use crate::sampling::solvers;
use serde::{Deserialize, Serialize};

/// Which way a sampler integrates.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Noise → data: `t` from 0 to 1.
    #[default]
    Generate,
    /// Data → noise: `t` from 1 to 0, over the generation grid reversed.
    Invert,
}

/// A sampler request. Build its [`Plan`] with [`SamplerSpec::plan`], which rejects every
/// invalid combination with [`Error::InvalidInput`]:
///
/// - `steps` outside `1..=100 000`, or a grid that [`time_grid`] rejects;
/// - `Perflow` without `windows`, with fewer steps than windows, or with a non-uniform grid
///   (PeRFlow lays out its own grid, uniform inside each window);
/// - `RfppNew` with `Invert`: the "new" sampler re-noises with the initial noise, which an
///   inversion does not have (RF++ itself inverts with Euler, asserting `sampler == 'default'`).
///
/// `windows` is read by `Perflow` only; other solvers ignore it, so a PeRFlow model can also be
/// sampled with, say, Euler on a uniform grid.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerSpec {
    /// The solver.
    pub solver: Solver,
    /// Number of steps N (the NFE follows from the solver, see [`Plan::nfe`]).
    pub steps: usize,
    /// The time grid (ignored by `Perflow`, which needs `Uniform`).
    pub grid: TimeGrid,
    /// PeRFlow's number of time windows K.
    pub windows: Option<usize>,
    /// Generation or inversion.
    pub direction: Direction,
}

impl SamplerSpec {
    /// `steps` steps of `solver`, generating on a uniform grid.
    pub fn new(solver: Solver, steps: usize) -> Self {
        SamplerSpec { solver, steps, grid: TimeGrid::Uniform, windows: None, direction: Direction::Generate }
    }

    /// The sampler a model file recommends, with PeRFlow's windows taken from its
    /// parameterization.
    pub fn from_defaults(defaults: &SamplerDefaults, param: &Parameterization) -> Self {
        let windows = match param {
            Parameterization::Perflow { windows } => Some(*windows),
            _ => None,
        };
        SamplerSpec {
            solver: defaults.solver,
            steps: defaults.steps as usize,
            grid: defaults.time_grid.clone(),
            windows,
            direction: Direction::Generate,
        }
    }

    /// Replaces the time grid.
    pub fn with_grid(mut self, grid: TimeGrid) -> Self {
        self.grid = grid;
        self
    }

    /// Sets PeRFlow's window count.
    pub fn with_windows(mut self, windows: usize) -> Self {
        self.windows = Some(windows);
        self
    }

    /// Sets the direction.
    pub fn with_direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// The generation grid `0 = t_0 < … < t_N = 1` this spec integrates over (reversed for
    /// inversion).
    pub fn generation_times(&self) -> Result<Vec<f64>> {
        check_steps(self.steps)?;
        if self.solver != Solver::Perflow {
            return time_grid(&self.grid, self.steps);
        }
        let Some(windows) = self.windows else {
            return Err(Error::InvalidInput(
                "the PeRFlow sampler needs the model's number of time windows".into(),
            ));
        };
        if self.grid != TimeGrid::Uniform {
            return Err(Error::InvalidInput(
                "the PeRFlow sampler lays out its own window-aware grid; use the uniform time grid".into(),
            ));
        }
        perflow_grid(windows, self.steps)
    }

    /// Compiles the spec to a plan.
    pub fn plan(&self) -> Result<Plan> {
        if self.solver == Solver::RfppNew && self.direction == Direction::Invert {
            return Err(Error::InvalidInput(
                "RF++'s \"new\" sampler cannot invert: it re-noises with the initial noise, which an \
                 inversion does not have; invert with Euler (as RF++ does) or another solver"
                    .into(),
            ));
        }
        let mut times = self.generation_times()?;
        if self.direction == Direction::Invert {
            times.reverse();
        }
        self.plan_over(times)
    }

    /// The plan of this spec's grid mapped affinely onto `[t_start, t_end]` instead of `[0, 1]`
    /// (`0 ≤ t_start < t_end ≤ 1`): a teacher solve inside one time window (PeRFlow's window
    /// ends). Generation direction only.
    pub fn plan_between(&self, t_start: f64, t_end: f64) -> Result<Plan> {
        let ok = (0.0..1.0).contains(&t_start) && t_end > t_start && t_end <= 1.0 && self.direction == Direction::Generate;
        if !ok {
            return Err(Error::InvalidInput(format!("a sub-interval plan needs 0 ≤ t_start < t_end ≤ 1 and generation, got [{t_start}, {t_end}]")));
        }
        let times = self.generation_times()?.iter().map(|&u| if u == 1.0 { t_end } else { t_start + (t_end - t_start) * u }).collect();
        self.plan_over(times)
    }

    fn plan_over(&self, times: Vec<f64>) -> Result<Plan> {
        let mut ops = vec![Op::Record { step: 0, t: times[0] }];
        solvers::prologue(self.solver, times[0], &mut ops);
        for (i, w) in times.windows(2).enumerate() {
            solvers::step(self.solver, w[0], w[1], &mut ops);
            ops.push(Op::Record { step: i + 1, t: w[1] });
        }
        Plan::new(self.solver, self.direction, times, ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NetRole;
    use crate::sampling::plan::Slot;

    const ALL: [Solver; 8] = [
        Solver::Euler,
        Solver::Midpoint,
        Solver::Heun,
        Solver::Rk4,
        Solver::Fireflow,
        Solver::RfppNew,
        Solver::Perflow,
        Solver::Caf,
    ];

    fn nfe_per(solver: Solver, n: usize) -> usize {
        match solver {
            Solver::Euler | Solver::Perflow | Solver::RfppNew => n,
            Solver::Midpoint | Solver::Heun => 2 * n,
            Solver::Rk4 => 4 * n,
            Solver::Fireflow | Solver::Caf => n + 1,
        }
    }

    #[test]
    fn nfe_of_every_plan() {
        for solver in ALL {
            for n in [4, 5, 13] {
                for dir in [Direction::Generate, Direction::Invert] {
                    let spec = SamplerSpec::new(solver, n).with_windows(4).with_direction(dir);
                    if solver == Solver::RfppNew && dir == Direction::Invert {
                        assert!(matches!(spec.plan(), Err(Error::InvalidInput(_))));
                        continue;
                    }
                    let plan = spec.plan().unwrap();
                    assert_eq!(plan.nfe(), nfe_per(solver, n), "{solver:?} N={n} {dir:?}");
                    assert_eq!(plan.steps(), n);
                    let records = plan.ops().iter().filter(|o| matches!(o, Op::Record { .. })).count();
                    assert_eq!(records, n + 1);
                }
            }
        }
    }

    #[test]
    fn slots_and_roles() {
        let plan = |s| SamplerSpec::new(s, 3).with_windows(2).plan().unwrap();
        assert_eq!(plan(Solver::Euler).slots(), vec![Slot::X, Slot::V]);
        assert_eq!(plan(Solver::Fireflow).slots(), vec![Slot::X, Slot::V, Slot::XM]);
        assert_eq!(plan(Solver::RfppNew).slots(), vec![Slot::X, Slot::Z0, Slot::V]);
        assert_eq!(plan(Solver::Caf).slots(), vec![Slot::X, Slot::V0, Slot::A]);
        assert_eq!(
            plan(Solver::Rk4).slots(),
            vec![Slot::X, Slot::XM, Slot::K1, Slot::K2, Slot::K3, Slot::K4]
        );
        assert_eq!(plan(Solver::Caf).roles(), vec![NetRole::InitialVelocity, NetRole::Acceleration]);
        assert_eq!(plan(Solver::Heun).roles(), vec![NetRole::Velocity]);
    }

    #[test]
    fn inversion_traverses_the_reversed_grid() {
        let g = SamplerSpec::new(Solver::Euler, 4).with_grid(TimeGrid::Shifted { shift: 2.0 });
        let gen_plan = g.plan().unwrap();
        let inv = g.with_direction(Direction::Invert).plan().unwrap();
        let mut rev = gen_plan.times().to_vec();
        rev.reverse();
        assert_eq!(inv.times(), &rev[..]);
        assert_eq!(inv.times()[0], 1.0);
        let perflow = SamplerSpec::new(Solver::Perflow, 6).with_windows(4);
        let inv = perflow.clone().with_direction(Direction::Invert).plan().unwrap();
        assert_eq!(inv.times()[0], 1.0);
        assert_eq!(inv.times()[6], 0.0);
        assert!((inv.times()[5] - 0.125).abs() < 1e-15);
    }

    /// On a uniform grid the general constant-acceleration update reduces to the CAF paper's
    /// `x += v0/N + t'·a/N`, `t' = (2i+1)/(2N)` (generation), `(2i−1)/(2N)` (inversion).
    #[test]
    fn caf_coefficients_reduce_to_the_paper() {
        let n = 5usize;
        for dir in [Direction::Generate, Direction::Invert] {
            let plan = SamplerSpec::new(Solver::Caf, n).with_direction(dir).plan().unwrap();
            let combos: Vec<&Vec<(f64, Slot)>> = plan
                .ops()
                .iter()
                .filter_map(|o| match o {
                    Op::Lincomb { terms, .. } => Some(terms),
                    _ => None,
                })
                .collect();
            let evals: Vec<f64> = plan
                .ops()
                .iter()
                .filter_map(|o| match o {
                    Op::Eval { net: NetRole::Acceleration, t, .. } => Some(*t),
                    _ => None,
                })
                .collect();
            assert_eq!(combos.len(), n);
            for (k, terms) in combos.iter().enumerate() {
                let (sign, i) = match dir {
                    Direction::Generate => (1.0, k as f64),
                    Direction::Invert => (-1.0, (n - k) as f64),
                };
                let tprime = match dir {
                    Direction::Generate => (2.0 * i + 1.0) / (2.0 * n as f64),
                    Direction::Invert => (2.0 * i - 1.0) / (2.0 * n as f64),
                };
                assert!((terms[1].0 - sign / n as f64).abs() < 1e-15);
                assert!((terms[2].0 - sign * tprime / n as f64).abs() < 1e-15, "{terms:?}");
                assert!((evals[k] - i / n as f64).abs() < 1e-15, "a-net time {} vs i/N", evals[k]);
            }
        }
    }

    #[test]
    fn invalid_specs_are_errors() {
        let err = |s: SamplerSpec| assert!(matches!(s.plan(), Err(Error::InvalidInput(_))), "{s:?}");
        for solver in ALL {
            err(SamplerSpec::new(solver, 0).with_windows(1));
            err(SamplerSpec::new(solver, 100_001).with_windows(1));
            err(SamplerSpec::new(solver, usize::MAX).with_windows(1));
            err(SamplerSpec::new(solver, 3)
                .with_windows(1)
                .with_grid(TimeGrid::Custom { times: vec![0.0, 1.0] }));
            err(SamplerSpec::new(solver, 2)
                .with_windows(1)
                .with_grid(TimeGrid::Custom { times: vec![0.0, 1.0, 0.5] }));
            err(SamplerSpec::new(solver, 2).with_windows(1).with_grid(TimeGrid::Shifted { shift: -1.0 }));
            err(SamplerSpec::new(solver, 2)
                .with_windows(1)
                .with_grid(TimeGrid::Shifted { shift: f64::INFINITY }));
        }
        err(SamplerSpec::new(Solver::Perflow, 8));
        err(SamplerSpec::new(Solver::Perflow, 3).with_windows(4));
        err(SamplerSpec::new(Solver::Perflow, 3).with_windows(0));
        err(SamplerSpec::new(Solver::Perflow, 8).with_windows(4).with_grid(TimeGrid::Shifted { shift: 2.0 }));
        err(SamplerSpec::new(Solver::RfppNew, 4).with_direction(Direction::Invert));
        // The windows of a PeRFlow model do not bother other solvers.
        assert!(SamplerSpec::new(Solver::Euler, 2).with_windows(4).plan().is_ok());
        // A custom grid that is valid is accepted, also by CAF.
        let custom = TimeGrid::Custom { times: vec![0.0, 0.1, 0.5, 1.0] };
        assert!(SamplerSpec::new(Solver::Caf, 3).with_grid(custom).plan().is_ok());
    }

    #[test]
    fn plan_validation_rejects_malformed_plans() {
        use Slot::*;
        let times = vec![0.0, 1.0];
        let mk = |ops| Plan::new(Solver::Euler, Direction::Generate, times.clone(), ops);
        let ev = |input, out| Op::Eval { net: NetRole::Velocity, input, cond: None, t: 0.0, out };
        assert!(mk(vec![ev(X, X)]).is_err());
        assert!(mk(vec![ev(XM, V)]).is_err(), "reads XM before writing it");
        assert!(mk(vec![Op::Lincomb { out: X, terms: vec![] }]).is_err());
        assert!(mk(vec![Op::Lincomb { out: X, terms: vec![(1.0, X); 7] }]).is_err());
        assert!(mk(vec![Op::Lincomb { out: X, terms: vec![(f64::NAN, X)] }]).is_err());
        assert!(mk(vec![Op::Copy { from: X, to: X }]).is_err());
        assert!(mk(vec![Op::Record { step: 2, t: 1.0 }]).is_err());
        assert!(mk(vec![ev(X, V), Op::Lincomb { out: X, terms: vec![(1.0, X), (1.0, V)] }]).is_ok());
        assert!(Plan::new(Solver::Euler, Direction::Generate, vec![0.0], vec![]).is_err());
    }

    #[test]
    fn display_lists_ops() {
        let text = SamplerSpec::new(Solver::Fireflow, 2).plan().unwrap().to_string();
        assert!(text.starts_with("Fireflow Generate: 2 steps, 3 NFE"), "{text}");
        assert!(text.contains("V = velocity(XM, t=0.25)"), "{text}");
    }

    #[test]
    fn from_defaults_takes_windows_from_the_model() {
        let d = SamplerDefaults {
            solver: Solver::Perflow,
            steps: 6,
            guidance: 1.0,
            time_grid: TimeGrid::Uniform,
        };
        let spec = SamplerSpec::from_defaults(&d, &Parameterization::Perflow { windows: 4 });
        assert_eq!(spec.windows, Some(4));
        assert_eq!(spec.plan().unwrap().nfe(), 6);
    }

    /// A sub-interval plan runs the same grid inside the window: on the straight, constant-speed
    /// affine flow (h = 1) RK4 lands exactly on the path point at `t_end`, x0 + t_end·d, from the
    /// one at `t_start`; bad intervals are refused.
    #[test]
    fn plan_between_solves_inside_a_window() {
        use crate::sampling::{AffineFlow, run};
        let mut field = AffineFlow::new(vec![0.5, 1.8], vec![1.0, -2.0], 1.0).unwrap();
        let x0 = [0.3f64, -1.1, 0.7, 0.2];
        let d: Vec<f64> = field.endpoint(&x0).iter().zip(&x0).map(|(a, b)| a - b).collect();
        let at = |t: f64| x0.iter().zip(&d).map(|(x, d)| x + t * d).collect::<Vec<f64>>();
        let spec = SamplerSpec::new(Solver::Rk4, 3);
        let plan = spec.plan_between(0.25, 0.5).unwrap();
        assert_eq!(plan.times().first().copied(), Some(0.25));
        assert_eq!(plan.times().last().copied(), Some(0.5));
        let got = run(&plan, &mut field, &at(0.25), None).unwrap();
        for (g, w) in got.iter().zip(at(0.5)) {
            assert!((g - w).abs() < 1e-12);
        }
        for (a, b) in [(0.5, 0.5), (-0.1, 0.5), (0.5, 1.2), (f64::NAN, 0.5)] {
            assert!(spec.plan_between(a, b).is_err(), "[{a}, {b}]");
        }
        assert!(spec.clone().with_direction(Direction::Invert).plan_between(0.0, 0.5).is_err());
    }
}
