//! Samplers as data: every solver compiles to a [`Plan`], a flat list of network evaluations and
//! linear combinations over a few state buffers, which the CPU interpreter [`run`] executes and
//! the GPU runtime compiles to WGSL dispatches.
//!
//! All times are Beeline times (t = 0 noise, t = 1 data, see [`crate::time`]); generation
//! integrates 0 → 1 and inversion 1 → 0 over the same grid reversed.
//!
//! | solver | NFE for N steps | order | inversion |
//! |---|---|---|---|
//! | Euler | N | 1 | yes |
//! | Midpoint | 2N | 2 | yes |
//! | Heun | 2N | 2 | yes |
//! | RK4 | 4N | 4 | yes |
//! | FireFlow | N + 1 | 2 | yes |
//! | PeRFlow (Euler on the window grid) | N | 1 | yes |
//! | RF++ "new" | N | exact on straight couplings, not convergent on curved ones (see below) | no |
//! | CAF | N + 1 (1 initial velocity + N accelerations) | exact for constant acceleration | yes |
//!
//! The step formulas are in [`solvers`]'s docs. RF++'s "new" sampler replaces Euler's implied
//! noise prediction `x − t·v` with the true initial noise `z0`; as N → ∞ it follows the curve
//! `x − t·v(x, t) = z0`, which is the ODE trajectory only when that trajectory is straight, so
//! on a curved field its error does not vanish with N.
//!
//! - [`SamplerSpec`]: solver, steps, grid, windows, direction → [`Plan`].
//! - [`time_grid`], [`perflow_grid`], [`perflow_split`]: the grids.
//! - [`Guided`]: classifier-free guidance around a [`crate::field::ConditionalField`].
//! - [`AffineFlow`]: a closed-form field (velocity and CAF pair) for testing samplers.

mod analytic;
mod grid;
mod guidance;
mod overrides;
mod plan;
mod run;
pub mod solvers;
mod spec;

pub use analytic::AffineFlow;
pub use grid::{MAX_STEPS, check_grid, perflow_grid, perflow_split, time_grid};
pub use guidance::{GuidanceMode, Guided, cfg_combine};
pub use overrides::Overrides;
pub use plan::{MAX_LINCOMB_TERMS, Op, Plan, Slot};
#[cfg(feature = "gpu")]
pub(crate) use run::check_given;
pub use run::{Observer, StepEvent, run, run_keeping, run_with};
pub use spec::{Direction, SamplerSpec};
