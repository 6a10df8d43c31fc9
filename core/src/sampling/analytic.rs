//! A field whose trajectories are known in closed form, for checking samplers (velocity and
//! CAF) without a trained model.
//!
//! [`AffineFlow`] is the deterministic coupling `x1 = α ⊙ x0 + β` (per coordinate, `α > 0`)
//! travelled along CAF paths with initial-velocity scale `h ∈ [0, 2]`:
//!
//! ```text
//! d     = x1 − x0 = (α − 1) ⊙ x0 + β
//! x_t   = x0 + g(t)·d,   g(t) = h·t + (1 − h)·t²       (= x0 + v0·t + ½a·t², v0 = h·d, a = 2(1 − h)·d)
//! x0(x, t) = (x − g(t)·β) / (1 + g(t)·(α − 1))          (the path through x at time t)
//! ```
//!
//! Every path is a straight segment in space; for `h = 1` it is also run at constant speed, so
//! the velocity field is that of a perfectly straight (rectified) coupling. Its networks:
//!
//! - `Velocity`: the instantaneous velocity `g'(t)·d = (h + 2(1 − h)t)·d`;
//! - `InitialVelocity`: `h·d` (CAF's v-net target `h(x1 − x0)`), at any `t`;
//! - `Acceleration` with `cond = v̂0`: `2d − 2v̂0` (CAF's a-net target `2(x1 − x0) − 2v̂0`), so a
//!   wrong or missing conditioning input gives a wrong acceleration.
//!
//! The CAF sampler is exact on this field for any N and grid, in both directions; Euler is exact
//! only for `h = 1`.

use crate::config::NetRole;
use crate::error::{Error, Result};
use crate::field::{Real, VelocityField};

/// The affine coupling travelled along constant-acceleration paths; see the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct AffineFlow {
    alpha: Vec<f64>,
    beta: Vec<f64>,
    h: f64,
}

impl AffineFlow {
    /// `x1 = alpha ⊙ x0 + beta` with CAF scale `h`. Needs equal, positive lengths, finite
    /// values, `alpha > 0` and `0 <= h <= 2` (which keep `1 + g(t)(α − 1) > 0` on `[0, 1]`).
    pub fn new(alpha: Vec<f64>, beta: Vec<f64>, h: f64) -> Result<Self> {
        let ok = !alpha.is_empty()
            && alpha.len() == beta.len()
            && alpha.iter().all(|a| a.is_finite() && *a > 0.0)
            && beta.iter().all(|b| b.is_finite())
            && (0.0..=2.0).contains(&h);
        if !ok {
            return Err(Error::InvalidInput(
                "affine flow: needs alpha > 0, finite beta of the same length, h in [0, 2]".into(),
            ));
        }
        Ok(AffineFlow { alpha, beta, h })
    }

    /// The data point of noise `x0`: `α ⊙ x0 + β`, for a batch.
    pub fn endpoint(&self, x0: &[f64]) -> Vec<f64> {
        x0.iter()
            .enumerate()
            .map(|(i, x)| self.alpha[i % self.dim()] * x + self.beta[i % self.dim()])
            .collect()
    }

    /// Dimension of a sample.
    pub fn dim(&self) -> usize {
        self.alpha.len()
    }

    fn g(&self, t: f64) -> f64 {
        self.h * t + (1.0 - self.h) * t * t
    }

    /// `d = x1 − x0` of the path through `x` (coordinate `i`) at time `t`.
    fn displacement(&self, i: usize, x: f64, t: f64) -> f64 {
        let (a, b, g) = (self.alpha[i], self.beta[i], self.g(t));
        let x0 = (x - g * b) / (1.0 + g * (a - 1.0));
        (a - 1.0) * x0 + b
    }
}

impl<T: Real> VelocityField<T> for AffineFlow {
    fn sample_numel(&self) -> usize {
        self.dim()
    }

    fn eval(&mut self, net: NetRole, x: &[T], cond: Option<&[T]>, t: f64, out: &mut [T]) -> Result<()> {
        let n = self.dim();
        if !x.len().is_multiple_of(n) || out.len() != x.len() || cond.is_some_and(|c| c.len() != x.len()) {
            return Err(Error::InvalidInput("affine flow: bad batch".into()));
        }
        if (net == NetRole::Acceleration) != cond.is_some() {
            return Err(Error::InvalidInput(
                "affine flow: only the acceleration takes (and needs) cond".into(),
            ));
        }
        for (j, o) in out.iter_mut().enumerate() {
            let d = self.displacement(j % n, Real::to_f64(x[j]), t);
            let v = match net {
                NetRole::Velocity => (self.h + 2.0 * (1.0 - self.h) * t) * d,
                NetRole::InitialVelocity => self.h * d,
                NetRole::Acceleration => 2.0 * d - 2.0 * Real::to_f64(cond.expect("checked")[j]),
            };
            *o = T::from_f64(v);
        }
        Ok(())
    }
}
