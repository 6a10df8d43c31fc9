//! Distributions of the training time `t` (Beeline time: 0 noise, 1 data).
//!
//! | name | density on (0, 1) | used by |
//! |---|---|---|
//! | `uniform` | 1 | rectified flow (ε-clipped) |
//! | `logit-normal(m, s)` | logit(t) ~ N(m, s²) | SD3-style flow matching |
//! | `u-shaped(a)` | ∝ cosh(a(t − ½)) | RF++ (a = 4): more weight near both ends, where 2-RF's loss is largest |
//!
//! RF++ writes its density in its own time `s = 1 − t`; the cosh density is symmetric about ½,
//! so it is the same in Beeline time. Every draw is clipped to `[EPS, 1 − EPS]`.

use crate::error::{Error, Result};
use crate::noise::Stream;
use serde::{Deserialize, Serialize};

/// Draws are kept inside `[EPS, 1 − EPS]` (RF uses 1e-3 at the noise end; RF++ 1e-5).
pub const EPS: f64 = 1e-5;

/// A distribution of training times.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TimeDist {
    /// Uniform on (0, 1).
    Uniform,
    /// `logit(t) ~ N(mean, std²)`.
    LogitNormal {
        /// Mean of logit(t).
        mean: f64,
        /// Standard deviation of logit(t).
        std: f64,
    },
    /// Density ∝ cosh(a(t − ½)); RF++ uses a = 4.
    UShaped {
        /// Steepness a > 0.
        a: f64,
    },
    /// Always the same time (e.g. t = 0 for one-step distillation).
    Fixed {
        /// The time.
        t: f64,
    },
}

impl TimeDist {
    /// Parses `uniform`, `logit-normal[:m,s]`, `u-shaped[:a]` or a number (fixed time).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::InvalidInput(format!("time distribution {s:?}: use uniform, logit-normal[:m,s], u-shaped[:a] or a fixed time in [0,1]"));
        let (name, args) = s.split_once(':').unwrap_or((s, ""));
        let nums: Vec<f64> = if args.is_empty() {
            Vec::new()
        } else {
            args.split(',').map(|v| v.trim().parse::<f64>().map_err(|_| bad())).collect::<Result<_>>()?
        };
        let d = match (name, nums.as_slice()) {
            ("uniform", []) => TimeDist::Uniform,
            ("logit-normal", []) => TimeDist::LogitNormal { mean: 0.0, std: 1.0 },
            ("logit-normal", [m, sd]) if *sd > 0.0 => TimeDist::LogitNormal { mean: *m, std: *sd },
            ("u-shaped", []) => TimeDist::UShaped { a: 4.0 },
            ("u-shaped", [a]) if *a > 0.0 => TimeDist::UShaped { a: *a },
            (v, []) => match v.parse::<f64>() {
                Ok(t) if (0.0..=1.0).contains(&t) => TimeDist::Fixed { t },
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        };
        Ok(d)
    }

    /// Maps a uniform number `u ∈ (0, 1)` to a time (inverse CDF), clipped to `[EPS, 1 − EPS]`.
    pub fn from_uniform(&self, u: f64, u2: f64) -> f64 {
        let t = match *self {
            TimeDist::Uniform => u,
            TimeDist::Fixed { t } => return t,
            TimeDist::LogitNormal { mean, std } => {
                // Box–Muller from (u, u2) for the normal draw.
                let z = (-2.0 * libm::log(u)).sqrt() * libm::cos(2.0 * std::f64::consts::PI * u2);
                1.0 / (1.0 + libm::exp(-(mean + std * z)))
            }
            TimeDist::UShaped { a } => {
                // Mixture of ½·p(s) and ½·p(1 − s), p(s) = a·e^{as}/(e^a − 1) (RF++'s t_dist.py):
                // inverse CDF s = ln(1 + r(e^a − 1))/a, mirrored with probability ½.
                let s = libm::log(1.0 + u * libm::expm1(a)) / a;
                if u2 < 0.5 { s } else { 1.0 - s }
            }
        };
        t.clamp(EPS, 1.0 - EPS)
    }

    /// `n` times from stream `stream` of `seed`.
    pub fn sample(&self, seed: u64, stream: u64, n: usize) -> Vec<f64> {
        let s = Stream::new(seed, stream);
        (0..n as u64).map(|i| self.from_uniform(s.uniform(2 * i), s.uniform(2 * i + 1))).collect()
    }

    /// The probability density at `t` (for tests and plots).
    pub fn density(&self, t: f64) -> f64 {
        match *self {
            TimeDist::Uniform => 1.0,
            TimeDist::Fixed { .. } => f64::NAN,
            TimeDist::LogitNormal { mean, std } => {
                let l = libm::log(t / (1.0 - t));
                libm::exp(-0.5 * ((l - mean) / std).powi(2)) / (std * (2.0 * std::f64::consts::PI).sqrt() * t * (1.0 - t))
            }
            TimeDist::UShaped { a } => {
                // ½(p(t) + p(1−t)) = a·(e^{at} + e^{a(1−t)}) / (2(e^a − 1)) ∝ cosh(a(t − ½)).
                a * (libm::exp(a * t) + libm::exp(a * (1.0 - t))) / (2.0 * libm::expm1(a))
            }
        }
    }
}

/// RF++/CAF pseudo-Huber: `(√(‖Δ‖² + c²) − c)` per sample with `c = 0.00054·d` (`d` = scalars per
/// sample), divided by `d`. RF++'s code uses `0.00054·d`; iCT, where the constant comes from,
/// uses `0.00054·√d` (RF++ issue #1). Beeline follows RF++'s code, the setting its results used.
pub fn pseudo_huber_c(d: usize) -> f64 {
    0.00054 * d as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Histogram of 200k draws against the density integrated over 20 bins: every bin within
    /// 5 standard errors of a binomial count.
    fn check_histogram(d: TimeDist) {
        let n = 200_000;
        let draws = d.sample(9, 0, n);
        let bins = 20;
        let mut counts = vec![0usize; bins];
        for t in &draws {
            assert!((EPS..=1.0 - EPS).contains(t));
            counts[((t * bins as f64) as usize).min(bins - 1)] += 1;
        }
        for (b, &c) in counts.iter().enumerate() {
            // Midpoint-rule integral over the bin, 50 sub-intervals.
            let p: f64 = (0..50).map(|k| d.density((b as f64 + (k as f64 + 0.5) / 50.0) / bins as f64)).sum::<f64>() / 50.0 / bins as f64;
            let expect = p * n as f64;
            let se = (expect * (1.0 - p)).sqrt();
            assert!((c as f64 - expect).abs() < 5.0 * se + 1.0, "{d:?} bin {b}: {c} vs {expect:.0}");
        }
    }

    #[test]
    fn draws_follow_their_densities() {
        check_histogram(TimeDist::Uniform);
        check_histogram(TimeDist::UShaped { a: 4.0 });
        check_histogram(TimeDist::LogitNormal { mean: 0.0, std: 1.0 });
    }

    #[test]
    fn u_shaped_is_cosh_and_normalised() {
        let d = TimeDist::UShaped { a: 4.0 };
        let ratio = d.density(0.0) / d.density(0.5);
        assert!((ratio - (2.0f64).cosh()).abs() < 1e-12);
        let integral: f64 = (0..10_000).map(|k| d.density((k as f64 + 0.5) / 10_000.0)).sum::<f64>() / 10_000.0;
        assert!((integral - 1.0).abs() < 1e-6);
    }

    #[test]
    fn parse_names() {
        assert_eq!(TimeDist::parse("u-shaped").unwrap(), TimeDist::UShaped { a: 4.0 });
        assert_eq!(TimeDist::parse("logit-normal:0.5,1.2").unwrap(), TimeDist::LogitNormal { mean: 0.5, std: 1.2 });
        assert_eq!(TimeDist::parse("0").unwrap(), TimeDist::Fixed { t: 0.0 });
        assert!(TimeDist::parse("u-shaped:-1").is_err());
        assert!(TimeDist::parse("1.5").is_err());
        assert!(TimeDist::parse("cosine").is_err());
        assert_eq!(pseudo_huber_c(784), 0.00054 * 784.0);
    }
}
