//! The Fréchet distance between Gaussians fitted to two feature sets (FID's formula), used with
//! the digit classifier's last hidden layer as the feature map:
//!
//! `FD = ‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1^½ Σ2 Σ1^½)^½)`.
//!
//! The matrix square roots come from symmetric eigendecompositions (cyclic Jacobi, f64), so no
//! linear-algebra dependency is needed; features are a few hundred wide.

use crate::error::{Error, Result};

/// Mean and covariance of a feature set.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianFit {
    /// Feature width d.
    pub dim: usize,
    /// Mean `[d]`.
    pub mean: Vec<f64>,
    /// Covariance `[d, d]` (unbiased, row-major).
    pub cov: Vec<f64>,
}

impl GaussianFit {
    /// Fits `features` `[n, dim]` (n ≥ 2).
    pub fn fit(features: &[f32], dim: usize) -> Result<GaussianFit> {
        if dim == 0 || features.len() < 2 * dim || !features.len().is_multiple_of(dim) {
            return Err(Error::InvalidInput(format!("a Gaussian fit needs at least 2 whole {dim}-wide rows, got {} values", features.len())));
        }
        let n = features.len() / dim;
        let mut mean = vec![0.0f64; dim];
        for row in features.chunks_exact(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut cov = vec![0.0f64; dim * dim];
        let mut c = vec![0.0f64; dim];
        for row in features.chunks_exact(dim) {
            for (ci, (&v, m)) in c.iter_mut().zip(row.iter().zip(&mean)) {
                *ci = v as f64 - m;
            }
            for i in 0..dim {
                let ci = c[i];
                for j in i..dim {
                    cov[i * dim + j] += ci * c[j];
                }
            }
        }
        for i in 0..dim {
            for j in i..dim {
                let v = cov[i * dim + j] / (n - 1) as f64;
                cov[i * dim + j] = v;
                cov[j * dim + i] = v;
            }
        }
        Ok(GaussianFit { dim, mean, cov })
    }
}

/// Eigenvalues and eigenvectors (columns of `v`, row-major `[d, d]`) of the symmetric `a`.
fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-300);
    for _sweep in 0..60 {
        let off: f64 = (0..d).flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i * d + j].powi(2)).sum::<f64>().sqrt();
        if off <= 1e-14 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

/// `V diag(f(λ)) Vᵀ` of the symmetric `a`.
fn map_symmetric(a: &[f64], d: usize, f: impl Fn(f64) -> f64) -> Vec<f64> {
    let (lambda, v) = symmetric_eigen(a, d);
    let fl: Vec<f64> = lambda.iter().map(|&l| f(l)).collect();
    let mut out = vec![0.0f64; d * d];
    for i in 0..d {
        for j in 0..d {
            out[i * d + j] = (0..d).map(|k| v[i * d + k] * fl[k] * v[j * d + k]).sum();
        }
    }
    out
}

fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; d * d];
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            for j in 0..d {
                out[i * d + j] += aik * b[k * d + j];
            }
        }
    }
    out
}

/// The Fréchet distance between two fits of the same width.
pub fn frechet_distance(x: &GaussianFit, y: &GaussianFit) -> Result<f64> {
    if x.dim != y.dim {
        return Err(Error::InvalidInput(format!("features of width {} and {}", x.dim, y.dim)));
    }
    let d = x.dim;
    let mean_term: f64 = x.mean.iter().zip(&y.mean).map(|(a, b)| (a - b).powi(2)).sum();
    let s1 = map_symmetric(&x.cov, d, |l| l.max(0.0).sqrt());
    let mut m = matmul(&matmul(&s1, &y.cov, d), &s1, d);
    // Symmetrise against rounding before the second eigendecomposition.
    for i in 0..d {
        for j in i + 1..d {
            let v = 0.5 * (m[i * d + j] + m[j * d + i]);
            m[i * d + j] = v;
            m[j * d + i] = v;
        }
    }
    let (lambda, _) = symmetric_eigen(&m, d);
    let tr_sqrt: f64 = lambda.iter().map(|l| l.max(0.0).sqrt()).sum();
    let tr = |c: &[f64]| (0..d).map(|i| c[i * d + i]).sum::<f64>();
    Ok((mean_term + tr(&x.cov) + tr(&y.cov) - 2.0 * tr_sqrt).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_of(mean: Vec<f64>, cov: Vec<f64>) -> GaussianFit {
        GaussianFit { dim: mean.len(), mean, cov }
    }

    #[test]
    fn closed_forms() {
        // Diagonal covariances: FD = ‖Δμ‖² + Σ (a + b − 2√(ab)) = ‖Δμ‖² + Σ (√a − √b)².
        let x = fit_of(vec![0.0, 1.0, 2.0], vec![4.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 9.0]);
        let y = fit_of(vec![1.0, 1.0, 0.0], vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 4.0]);
        let want = 1.0 + 4.0 + (2.0f64 - 1.0).powi(2) + 0.0 + (3.0f64 - 2.0).powi(2);
        assert!((frechet_distance(&x, &y).unwrap() - want).abs() < 1e-9);
        assert!(frechet_distance(&x, &x).unwrap() < 1e-9);
        // Rotating both covariances by the same rotation changes nothing.
        let (c, s) = (0.6f64, 0.8f64);
        let r = [c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0];
        let rt = [c, s, 0.0, -s, c, 0.0, 0.0, 0.0, 1.0];
        let rot = |m: &[f64]| matmul(&matmul(&r, m, 3), &rt, 3);
        let (xr, yr) = (fit_of(x.mean.clone(), rot(&x.cov)), fit_of(y.mean.clone(), rot(&y.cov)));
        assert!((frechet_distance(&xr, &yr).unwrap() - want).abs() < 1e-9);
        // Non-commuting covariances: a 2×2 case computed by hand. Σ1 = diag(1, 0), Σ2 = [[1,1],[1,1]]:
        // Σ1^½ Σ2 Σ1^½ = diag(1, 0), so FD = tr Σ1 + tr Σ2 − 2 = 1 + 2 − 2 = 1.
        let a = fit_of(vec![0.0, 0.0], vec![1.0, 0.0, 0.0, 0.0]);
        let b = fit_of(vec![0.0, 0.0], vec![1.0, 1.0, 1.0, 1.0]);
        assert!((frechet_distance(&a, &b).unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn fit_recovers_mean_and_covariance() {
        let rows: Vec<f32> = vec![1.0, 2.0, 3.0, 4.0, 5.0, 0.0];
        let f = GaussianFit::fit(&rows, 2).unwrap();
        assert_eq!(f.mean, vec![3.0, 2.0]);
        // x: 1,3,5 (var 4); y: 2,4,0 (var 4); cov = ((-2)(0) + 0·2 + 2·(−2))/2 = −2.
        assert_eq!(f.cov, vec![4.0, -2.0, -2.0, 4.0]);
        assert!(GaussianFit::fit(&rows[..2], 2).is_err());
    }
}
