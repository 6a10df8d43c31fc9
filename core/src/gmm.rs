//! Isotropic Gaussian mixtures: 2D toy data, and the exact rectified-flow velocity from
//! `N(0, I)` noise to a mixture, the oracle for solver and guidance tests.
//!
//! ## The exact velocity (Beeline time, independent coupling)
//!
//! With `x0 ~ N(0, I)`, `x1 ~ π1 = Σ_k w_k N(μ_k, σ_k² I)` independent and
//! `x_t = t·x1 + (1 − t)·x0`, the velocity a perfectly trained 1-rectified flow learns is
//! `v(x, t) = E[x1 − x0 | x_t = x]`. Per component `x_t | k ~ N(t·μ_k, s_k² I)` with
//! `s_k² = t²σ_k² + (1 − t)²`, and
//!
//! ```text
//! E[x1 − x0 | x, k] = μ_k + ((t·σ_k² − (1 − t)) / s_k²)·(x − t·μ_k)
//! p(k | x)          ∝ w_k · N(x; t·μ_k, s_k² I)          (normalised with log-sum-exp)
//! v(x, t)           = Σ_k p(k | x) · E[x1 − x0 | x, k]
//! ```
//!
//! At `t = 0` this is `E[x1] − x`; for one component the flow is `x_t = t·μ + s_t·x0`. The
//! field is smooth on `[0, 1]` for `σ_k > 0`, but its Lipschitz constant near `t = 1` grows like
//! `1/σ²` where the posterior switches between components: narrow, well separated components
//! (8 Gaussians with σ = 0.1) make a stiff field. Use components with σ ≈ 0.5–1 for solver-order
//! tests.

use crate::config::NetRole;
use crate::error::{Error, Result};
use crate::field::{ConditionalField, NULL_LABEL, Real, VelocityField};
use crate::noise::Stream;

/// A mixture of isotropic Gaussians `Σ_k w_k N(μ_k, σ_k² I)` in `R^dim`.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    weights: Vec<f64>,
    means: Vec<Vec<f64>>,
    stds: Vec<f64>,
    log_weights: Vec<f64>,
    dim: usize,
}

impl GaussianMixture {
    /// A mixture from weights (positive, normalised here), means (equal, positive length) and
    /// per-component standard deviations (positive). All values finite; else `InvalidInput`.
    pub fn new(weights: Vec<f64>, means: Vec<Vec<f64>>, stds: Vec<f64>) -> Result<Self> {
        let bad = |m: &str| Err(Error::InvalidInput(format!("gaussian mixture: {m}")));
        let k = weights.len();
        if k == 0 || means.len() != k || stds.len() != k {
            return bad("needs at least one component and as many means and stds as weights");
        }
        let dim = means[0].len();
        if dim == 0 || means.iter().any(|m| m.len() != dim || m.iter().any(|v| !v.is_finite())) {
            return bad("means must be finite and of one positive dimension");
        }
        if weights.iter().chain(&stds).any(|v| !v.is_finite() || *v <= 0.0) {
            return bad("weights and stds must be finite and positive");
        }
        let total: f64 = weights.iter().sum();
        let weights: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let log_weights = weights.iter().map(|&w| libm::log(w)).collect();
        Ok(GaussianMixture { weights, means, stds, log_weights, dim })
    }

    /// The rectified-flow paper's toy target π1 (seeds.md §1f), exactly as given: three equally
    /// weighted components with means `(±D√3/2, −D/2)` and `(0, D√3/2)`, `D = 10`, variance 0.3
    /// (σ = √0.3). The modes sit 8.7–10 from the origin, far outside the `N(0, I)` noise.
    /// (The paper's source π0 is another mixture; Beeline's source is always `N(0, I)`.)
    pub fn rf_toy() -> Self {
        Self::rf_toy_scaled(1.0).expect("valid constants")
    }

    /// [`rf_toy`](Self::rf_toy) with means and standard deviations multiplied by `scale`
    /// (finite, `> 0`), e.g. 0.3 puts the modes at radius ≈ 3 with σ ≈ 0.16.
    pub fn rf_toy_scaled(scale: f64) -> Result<Self> {
        let d = 10.0 * scale;
        let r3 = 3f64.sqrt() / 2.0;
        let means = vec![vec![d * r3, -d / 2.0], vec![-d * r3, -d / 2.0], vec![0.0, d * r3]];
        Self::new(vec![1.0; 3], means, vec![0.3f64.sqrt() * scale; 3])
    }

    /// The common "8 Gaussians" toy: equal weights, means on a circle of radius 2 at angles
    /// `2πk/8`, σ = 0.1 (a stiff field near `t = 1`, fine as data).
    pub fn eight_gaussians() -> Self {
        Self::eight_gaussians_with(2.0, 0.1).expect("valid constants")
    }

    /// 8 equally weighted Gaussians on a circle of `radius`, each with standard deviation `std`.
    pub fn eight_gaussians_with(radius: f64, std: f64) -> Result<Self> {
        let means = (0..8)
            .map(|k| {
                let a = 2.0 * std::f64::consts::PI * k as f64 / 8.0;
                vec![radius * libm::cos(a), radius * libm::sin(a)]
            })
            .collect();
        Self::new(vec![1.0; 8], means, vec![std; 8])
    }

    /// Dimension of a sample.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of components (= classes when used as a conditional field).
    pub fn num_components(&self) -> usize {
        self.weights.len()
    }

    /// Normalised weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Component means.
    pub fn means(&self) -> &[Vec<f64>] {
        &self.means
    }

    /// Component standard deviations.
    pub fn stds(&self) -> &[f64] {
        &self.stds
    }

    /// The mixture mean `Σ w_k μ_k`.
    pub fn mean(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.dim];
        for (w, mu) in self.weights.iter().zip(&self.means) {
            m.iter_mut().zip(mu).for_each(|(a, b)| *a += w * b);
        }
        m
    }

    /// Component `k` alone, as a one-component mixture (`InvalidInput` if out of range).
    pub fn component(&self, k: usize) -> Result<Self> {
        if k >= self.weights.len() {
            return Err(Error::InvalidInput(format!(
                "component {k} of a {}-component mixture",
                self.weights.len()
            )));
        }
        Self::new(vec![1.0], vec![self.means[k].clone()], vec![self.stds[k]])
    }

    /// `n` samples (row-major `[n, dim]`) and their component labels, deterministic in `seed`.
    ///
    /// Sample `s` uses [`Stream::new(seed, s)`](Stream::new): `uniform(0)` picks the component
    /// by the cumulative weights, and the offsets are the standard normals of pairs `1, 2, …`
    /// (element `e` is component `e mod 2` of pair `1 + e/2`), scaled by σ_k.
    pub fn sample_with_labels(&self, seed: u64, n: usize) -> (Vec<f64>, Vec<u32>) {
        let mut x = vec![0.0; n * self.dim];
        let mut labels = Vec::with_capacity(n);
        for (s, row) in x.chunks_mut(self.dim).enumerate() {
            let stream = Stream::new(seed, s as u64);
            let u = stream.uniform(0);
            let mut acc = 0.0;
            let last = self.weights.len() - 1;
            let k = (0..last)
                .find(|&k| {
                    acc += self.weights[k];
                    u < acc
                })
                .unwrap_or(last);
            labels.push(k as u32);
            for (e, v) in row.iter_mut().enumerate() {
                let (a, b) = stream.normal_pair(1 + (e / 2) as u64);
                *v = self.means[k][e] + self.stds[k] * if e % 2 == 0 { a } else { b };
            }
        }
        (x, labels)
    }

    /// `n` samples, row-major `[n, dim]`; see [`sample_with_labels`](Self::sample_with_labels).
    pub fn sample(&self, seed: u64, n: usize) -> Vec<f64> {
        self.sample_with_labels(seed, n).0
    }

    /// The log density of the time-`t` marginal `Σ_k w_k N(x; t·μ_k, s_k² I)` at `x` (length
    /// `dim`), e.g. to check the velocity against the continuity equation.
    pub fn log_marginal(&self, x: &[f64], t: f64) -> f64 {
        let mut logp = vec![0.0; self.weights.len()];
        self.log_posterior_terms(x, t, None, &mut logp);
        let m = logp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let norm = -0.5 * self.dim as f64 * libm::log(2.0 * std::f64::consts::PI);
        m + libm::log(logp.iter().map(|&l| libm::exp(l - m)).sum::<f64>()) + norm
    }

    /// `log w_k − (dim/2)·ln s_k² − ‖x − tμ_k‖²/(2 s_k²)` per component (−∞ outside `only`).
    fn log_posterior_terms(&self, x: &[f64], t: f64, only: Option<usize>, logp: &mut [f64]) {
        for (k, lp) in logp.iter_mut().enumerate() {
            if only.is_some_and(|o| o != k) {
                *lp = f64::NEG_INFINITY;
                continue;
            }
            let s2 = t * t * self.stds[k] * self.stds[k] + (1.0 - t) * (1.0 - t);
            let r2: f64 = x.iter().zip(&self.means[k]).map(|(xi, mi)| (xi - t * mi).powi(2)).sum();
            *lp = self.log_weights[k] - 0.5 * self.dim as f64 * libm::log(s2) - r2 / (2.0 * s2);
        }
    }

    /// The exact velocity at one point `x` (length `dim`) and time `t`, of the whole mixture
    /// (`only = None`) or of component `only`. `logp` is scratch of length `num_components`.
    fn velocity_at(&self, x: &[f64], t: f64, only: Option<usize>, logp: &mut [f64], out: &mut [f64]) {
        self.log_posterior_terms(x, t, only, logp);
        let m = logp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut z = 0.0;
        out.iter_mut().for_each(|o| *o = 0.0);
        for (k, &lp) in logp.iter().enumerate() {
            if lp == f64::NEG_INFINITY {
                continue;
            }
            let p = libm::exp(lp - m);
            z += p;
            let sigma2 = self.stds[k] * self.stds[k];
            let s2 = t * t * sigma2 + (1.0 - t) * (1.0 - t);
            let c = (t * sigma2 - (1.0 - t)) / s2;
            for ((o, &xi), &mi) in out.iter_mut().zip(x).zip(&self.means[k]) {
                *o += p * (mi + c * (xi - t * mi));
            }
        }
        out.iter_mut().for_each(|o| *o /= z);
    }

    /// Evaluates a batch with one optional component restriction per sample.
    fn eval_batch<T: Real>(
        &self,
        net: NetRole,
        x: &[T],
        cond: Option<&[T]>,
        t: f64,
        only: impl Fn(usize) -> Result<Option<usize>>,
        out: &mut [T],
    ) -> Result<()> {
        if net != NetRole::Velocity {
            return Err(Error::InvalidInput(format!(
                "a Gaussian mixture has only a velocity field, not `{}`",
                net.prefix()
            )));
        }
        if cond.is_some() {
            return Err(Error::InvalidInput(
                "the Gaussian-mixture velocity takes no conditioning input".into(),
            ));
        }
        if !t.is_finite() || !x.len().is_multiple_of(self.dim) || out.len() != x.len() {
            return Err(Error::InvalidInput(format!(
                "gaussian mixture: bad batch ({} inputs, {} outputs, dim {}) or time {t}",
                x.len(),
                out.len(),
                self.dim
            )));
        }
        let (mut xs, mut vs) = (vec![0.0; self.dim], vec![0.0; self.dim]);
        let mut logp = vec![0.0; self.weights.len()];
        for (s, (xr, or)) in x.chunks(self.dim).zip(out.chunks_mut(self.dim)).enumerate() {
            xs.iter_mut().zip(xr).for_each(|(a, b)| *a = Real::to_f64(*b));
            self.velocity_at(&xs, t, only(s)?, &mut logp, &mut vs);
            or.iter_mut().zip(&vs).for_each(|(o, &v)| *o = T::from_f64(v));
        }
        Ok(())
    }
}

/// The exact velocity of the whole mixture; only [`NetRole::Velocity`], no `cond`.
impl<T: Real> VelocityField<T> for GaussianMixture {
    fn sample_numel(&self) -> usize {
        self.dim
    }

    fn eval(&mut self, net: NetRole, x: &[T], cond: Option<&[T]>, t: f64, out: &mut [T]) -> Result<()> {
        self.eval_batch(net, x, cond, t, |_| Ok(None), out)
    }
}

/// Label `k < num_components` restricts the field to component `k` (the exact velocity toward
/// `N(μ_k, σ_k² I)`); [`NULL_LABEL`] gives the whole mixture.
impl<T: Real> ConditionalField<T> for GaussianMixture {
    fn sample_numel(&self) -> usize {
        self.dim
    }

    fn eval_labels(
        &mut self,
        net: NetRole,
        x: &[T],
        cond: Option<&[T]>,
        t: f64,
        labels: &[u32],
        out: &mut [T],
    ) -> Result<()> {
        let k = self.weights.len();
        if labels.len() * self.dim != x.len() {
            return Err(Error::InvalidInput(format!(
                "{} labels for a batch of {} samples",
                labels.len(),
                x.len() / self.dim
            )));
        }
        let only = |s: usize| match labels[s] {
            NULL_LABEL => Ok(None),
            l if (l as usize) < k => Ok(Some(l as usize)),
            l => Err(Error::InvalidInput(format!("label {l} out of range for a {k}-component mixture"))),
        };
        self.eval_batch(net, x, cond, t, only, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Solver;
    use crate::noise::gaussian_batch;
    use crate::sampling::{SamplerSpec, run};

    fn mixture() -> GaussianMixture {
        GaussianMixture::new(
            vec![2.0, 1.0, 1.0],
            vec![vec![1.5, 0.0], vec![-1.0, 1.2], vec![-0.5, -1.5]],
            vec![0.6, 0.8, 0.5],
        )
        .unwrap()
    }

    fn v_at(g: &mut GaussianMixture, x: &[f64], t: f64) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        VelocityField::<f64>::eval(g, NetRole::Velocity, x, None, t, &mut out).unwrap();
        out
    }

    /// The velocity transports the marginals: ∂p/∂t + ∇·(p v) = 0, checked by central
    /// differences at a few points and times. An independent check of the closed form.
    #[test]
    fn velocity_satisfies_the_continuity_equation() {
        let mut g = mixture();
        let p = |g: &GaussianMixture, x: &[f64], t: f64| libm::exp(g.log_marginal(x, t));
        let h = 1e-4;
        for &t in &[0.05, 0.3, 0.6, 0.9, 0.99] {
            for x in [[0.3, -0.2], [1.2, 0.4], [-0.8, 1.0], [0.0, -1.3]] {
                let dpdt = (p(&g, &x, t + h) - p(&g, &x, t - h)) / (2.0 * h);
                let mut div = 0.0;
                for d in 0..2 {
                    let (mut xp, mut xm) = (x, x);
                    xp[d] += h;
                    xm[d] -= h;
                    let fp = p(&g, &xp, t) * v_at(&mut g, &xp, t)[d];
                    let fm = p(&g, &xm, t) * v_at(&mut g, &xm, t)[d];
                    div += (fp - fm) / (2.0 * h);
                }
                let scale = dpdt.abs().max(div.abs()).max(1e-3);
                assert!((dpdt + div).abs() < 1e-5 * scale.max(1.0), "t={t} x={x:?}: {dpdt} vs {div}");
            }
        }
    }

    #[test]
    fn velocity_at_noise_end_is_mean_minus_x() {
        let mut g = mixture();
        let x = [0.7, -0.4];
        let v = v_at(&mut g, &x, 0.0);
        let m = g.mean();
        assert!((v[0] - (m[0] - x[0])).abs() < 1e-14 && (v[1] - (m[1] - x[1])).abs() < 1e-14);
    }

    /// One component: the flow is `x_t = t·μ + s_t·z0` with `s_t = √(t²σ² + (1−t)²)`.
    #[test]
    fn single_component_flow_is_the_closed_form() {
        let mut g = GaussianMixture::new(vec![1.0], vec![vec![2.0, -1.0]], vec![0.4]).unwrap();
        let z0: Vec<f64> = gaussian_batch(11, 0, 16, 2).iter().map(|&v| v as f64).collect();
        let plan = SamplerSpec::new(Solver::Rk4, 256).plan().unwrap();
        let mut times = vec![];
        let mut worst = 0.0f64;
        let mut obs = |e: crate::sampling::StepEvent<'_, f64>| {
            let s = ((e.t * 0.4).powi(2) + (1.0 - e.t).powi(2)).sqrt();
            for (i, z) in z0.iter().enumerate() {
                let want = e.t * [2.0, -1.0][i % 2] + s * z;
                worst = worst.max((e.x[i] - want).abs());
            }
            times.push(e.t);
        };
        run(&plan, &mut g, &z0, Some(&mut obs)).unwrap();
        assert_eq!(times.len(), 257);
        // RK4's error at N = 256 is ~3e-11 here (8e-9 at N = 64, fourth order).
        assert!(worst < 1e-9, "max deviation from the closed-form flow {worst}");
    }

    #[test]
    fn labels_select_components() {
        let mut g = mixture();
        let x = [0.2, 0.1, -0.3, 0.5];
        let mut out = [0.0; 4];
        g.eval_labels(NetRole::Velocity, &x, None, 0.4, &[1, NULL_LABEL], &mut out).unwrap();
        let v1 = v_at(&mut g.component(1).unwrap(), &x[..2], 0.4);
        assert!(g.component(3).is_err());
        let vm = v_at(&mut g, &x[2..], 0.4);
        assert_eq!(&out[..2], &v1[..]);
        assert_eq!(&out[2..], &vm[..]);
        assert!(g.eval_labels(NetRole::Velocity, &x, None, 0.4, &[3, 0], &mut out).is_err());
        assert!(g.eval_labels(NetRole::Velocity, &x, None, 0.4, &[0], &mut out).is_err());
    }

    #[test]
    fn f32_and_f64_agree_and_bad_calls_fail() {
        let mut g = mixture();
        let x64 = [0.25, -0.5];
        let x32 = [0.25f32, -0.5];
        let v64 = v_at(&mut g, &x64, 0.7);
        let mut v32 = [0.0f32; 2];
        VelocityField::<f32>::eval(&mut g, NetRole::Velocity, &x32, None, 0.7, &mut v32).unwrap();
        assert!((v32[0] as f64 - v64[0]).abs() < 1e-6 && (v32[1] as f64 - v64[1]).abs() < 1e-6);
        let mut out = [0.0f64; 2];
        for net in [NetRole::InitialVelocity, NetRole::Acceleration] {
            assert!(matches!(
                VelocityField::<f64>::eval(&mut g, net, &x64, None, 0.5, &mut out),
                Err(Error::InvalidInput(_))
            ));
        }
        assert!(
            VelocityField::<f64>::eval(&mut g, NetRole::Velocity, &x64, Some(&x64), 0.5, &mut out).is_err()
        );
        assert!(
            VelocityField::<f64>::eval(&mut g, NetRole::Velocity, &[0.0; 3], None, 0.5, &mut [0.0; 3])
                .is_err()
        );
        assert!(
            VelocityField::<f64>::eval(&mut g, NetRole::Velocity, &x64, None, f64::NAN, &mut out).is_err()
        );
    }

    #[test]
    fn constructors_and_sampling() {
        assert!(GaussianMixture::new(vec![], vec![], vec![]).is_err());
        assert!(GaussianMixture::new(vec![1.0], vec![vec![0.0]], vec![0.0]).is_err());
        assert!(GaussianMixture::new(vec![-1.0], vec![vec![0.0]], vec![1.0]).is_err());
        assert!(GaussianMixture::new(vec![1.0, 1.0], vec![vec![0.0], vec![0.0, 1.0]], vec![1.0; 2]).is_err());

        let toy = GaussianMixture::rf_toy();
        let r3 = 3f64.sqrt() / 2.0;
        assert!((toy.means()[0][0] - 10.0 * r3).abs() < 1e-12 && toy.means()[0][1] == -5.0);
        assert!((toy.means()[2][1] - 10.0 * r3).abs() < 1e-12 && toy.means()[2][0] == 0.0);
        assert!((toy.stds()[0] - 0.3f64.sqrt()).abs() < 1e-15);
        let small = GaussianMixture::rf_toy_scaled(0.3).unwrap();
        assert!(GaussianMixture::rf_toy_scaled(0.0).is_err());
        assert!(GaussianMixture::rf_toy_scaled(f64::NAN).is_err());
        assert!((small.means()[1][1] + 1.5).abs() < 1e-12);
        let eight = GaussianMixture::eight_gaussians();
        assert!((eight.means()[2][1] - 2.0).abs() < 1e-12 && eight.stds()[0] == 0.1);

        let g = mixture();
        let (x, labels) = g.sample_with_labels(5, 4000);
        assert_eq!(x, g.sample(5, 4000));
        assert_eq!(&x[..20], &g.sample(5, 10)[..], "sample s does not depend on n");
        assert_ne!(x[..20], g.sample(6, 10)[..]);
        for k in 0..3 {
            let idx: Vec<usize> = (0..4000).filter(|&i| labels[i] as usize == k).collect();
            let frac = idx.len() as f64 / 4000.0;
            // binomial sd ≤ 0.008; 0.04 is 5 sd
            assert!((frac - g.weights()[k]).abs() < 0.04, "component {k} fraction {frac}");
            let mean0 = idx.iter().map(|&i| x[2 * i]).sum::<f64>() / idx.len() as f64;
            assert!((mean0 - g.means()[k][0]).abs() < 0.1, "component {k} mean {mean0}");
        }
    }
}
