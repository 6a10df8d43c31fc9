//! Measures of a flow and its samples, shared by `beeline eval`, the experiments and the tests.
//!
//! * [`straightness`]: the rectified-flow paper's `S = ∫₀¹ E‖(X1 − X0) − Ẋt‖² dt`, per scalar,
//!   from recorded ODE trajectories (0 for straight paths).
//! * [`sliced_w1`], [`sliced_w2`]: sliced 1- and 2-Wasserstein distances between two sample sets.
//! * [`frechet::frechet_distance`]: FID's formula, here on the digit classifier's features.
//! * [`direction_straightness`]: CAF's normalised flow straightness (directions only).
//! * [`mmd2`]: multi-bandwidth MMD² between two sample sets.
//! * [`mse_psnr`]: reconstruction and coupling-preservation error.
//! * [`mode_stats`]: where samples of a 2D Gaussian-mixture target land: on a mode (within
//!   3σ of a component mean), and how the modes share them.

use crate::error::{Error, Result};
use crate::gmm::GaussianMixture;
use crate::noise::Stream;

pub mod classifier;
pub mod frechet;

/// Mean squared error between two equally long sample batches, and the PSNR in dB for data of
/// value range `range` (`[lo, hi]`; images in [-1, 1] give the usual PSNR of [0, 1] pixels):
/// `10·log10((hi − lo)²/MSE)`. Errors if the lengths differ or are 0.
pub fn mse_psnr(a: &[f32], b: &[f32], range: [f32; 2]) -> Result<(f64, f64)> {
    if a.len() != b.len() || a.is_empty() {
        return Err(Error::InvalidInput(format!("MSE of {} and {} values", a.len(), b.len())));
    }
    let mse = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / a.len() as f64;
    let peak = (range[1] - range[0]) as f64;
    Ok((mse, 10.0 * (peak * peak / mse).log10()))
}

/// Straightness of trajectories `trajectories[k]` (`[n, numel]`, the states at `times[k]`,
/// from `times[0] = 0` to the end): per sample,
/// `Σ_k (t_{k+1} − t_k)·‖(x_K − x_0) − (x_{k+1} − x_k)/(t_{k+1} − t_k)‖²`, divided by `numel`
/// and averaged over the samples. With `x_{k+1} − x_k` from a fine solve this is the
/// rectified-flow paper's `S(Z)` (its Eq. for straightness) per scalar; exact straight lines
/// give 0.
pub fn straightness(trajectories: &[Vec<f32>], times: &[f64], numel: usize) -> Result<f64> {
    let (k, len) = check_trajectories(trajectories, times, numel)?;
    let (first, last) = (&trajectories[0], &trajectories[k - 1]);
    let span = times[k - 1] - times[0];
    let mut total = 0.0f64;
    for w in 0..k - 1 {
        let dt = times[w + 1] - times[w];
        if dt.abs() < 1e-12 {
            continue;
        }
        let (a, b) = (&trajectories[w], &trajectories[w + 1]);
        let mut s = 0.0f64;
        for e in 0..len {
            let chord = (last[e] - first[e]) as f64 / span;
            let vel = (b[e] - a[e]) as f64 / dt;
            s += (chord - vel).powi(2);
        }
        total += dt.abs() * s;
    }
    Ok(total / len as f64)
}

/// `(states, scalars per state)` of checked trajectories: ≥ 2 states, one time each, all of the
/// same whole number of `numel`-scalar samples.
fn check_trajectories(trajectories: &[Vec<f32>], times: &[f64], numel: usize) -> Result<(usize, usize)> {
    let k = trajectories.len();
    if k < 2 || times.len() != k || numel == 0 {
        return Err(Error::InvalidInput(format!("straightness needs ≥ 2 recorded states with their times, got {k} states and {} times", times.len())));
    }
    let len = trajectories[0].len();
    if len == 0 || !len.is_multiple_of(numel) || trajectories.iter().any(|t| t.len() != len) {
        return Err(Error::InvalidInput("trajectories of unequal or partial length".into()));
    }
    Ok((k, len))
}

/// CAF's normalised flow straightness score (NFSS) of the same trajectories: per sample,
/// `Σ_k (t_{k+1} − t_k)·‖d/‖d‖ − u_k/‖u_k‖‖²` with the chord `d = x_K − x_0` and the step
/// `u_k = (x_{k+1} − x_k)/(t_{k+1} − t_k)`, averaged over the samples. It compares directions
/// only: a straight path travelled at changing speed (CAF with h ≠ 1) scores 0, where
/// [`straightness`] does not. Between 0 and 4 (opposite directions); samples or steps that do
/// not move are skipped.
pub fn direction_straightness(trajectories: &[Vec<f32>], times: &[f64], numel: usize) -> Result<f64> {
    let (k, len) = check_trajectories(trajectories, times, numel)?;
    let n = len / numel;
    let (first, last) = (&trajectories[0], &trajectories[k - 1]);
    let unit = |v: &mut [f64]| {
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-12 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        norm > 1e-12
    };
    let span = (times[k - 1] - times[0]).signum();
    let mut total = 0.0f64;
    let (mut chord, mut step) = (vec![0.0f64; numel], vec![0.0f64; numel]);
    for i in 0..n {
        let r = i * numel..(i + 1) * numel;
        chord.iter_mut().zip(&last[r.clone()]).zip(&first[r.clone()]).for_each(|((c, b), a)| *c = span * (b - a) as f64);
        if !unit(&mut chord) {
            continue;
        }
        for w in 0..k - 1 {
            let dt = times[w + 1] - times[w];
            let (a, b) = (&trajectories[w][r.clone()], &trajectories[w + 1][r.clone()]);
            step.iter_mut().zip(b).zip(a).for_each(|((u, b), a)| *u = dt.signum() * (b - a) as f64);
            if dt.abs() < 1e-12 || !unit(&mut step) {
                continue;
            }
            total += dt.abs() * chord.iter().zip(&step).map(|(c, u)| (c - u).powi(2)).sum::<f64>();
        }
    }
    Ok(total / n as f64)
}

/// Sliced 2-Wasserstein distance (squared, per projection, averaged) between the sample sets
/// `a` and `b` (each `[n, dim]`, the same `n`): the mean over `projections` random unit
/// directions θ (seeded) of `W2²` between the projected sets, which is the mean squared
/// difference of their sorted projections. A shift by `s` gives `‖s‖²/dim`.
pub fn sliced_w2(a: &[f32], b: &[f32], dim: usize, projections: usize, seed: u64) -> Result<f64> {
    sliced_wasserstein(a, b, dim, projections, seed, |d| d * d)
}

/// Sliced 1-Wasserstein distance between the sample sets `a` and `b` (each `[n, dim]`, the same
/// `n`), in data units: the mean over `projections` random unit directions θ (seeded) of `W1`
/// between the projected sets, the mean absolute difference of their sorted projections. A
/// shift by `s` gives `E_θ|θ·s|` (`2‖s‖/π` in 2D). Its sampling noise shrinks like `1/√n`:
/// use ≥ 20 000 samples per set to separate 2D models (research/data.md §5).
pub fn sliced_w1(a: &[f32], b: &[f32], dim: usize, projections: usize, seed: u64) -> Result<f64> {
    sliced_wasserstein(a, b, dim, projections, seed, f64::abs)
}

/// The mean over seeded random directions of `mean_i cost(sorted_a[i] − sorted_b[i])` of the
/// projected sets: the shared body of [`sliced_w1`] and [`sliced_w2`].
fn sliced_wasserstein(a: &[f32], b: &[f32], dim: usize, projections: usize, seed: u64, cost: impl Fn(f64) -> f64) -> Result<f64> {
    if dim == 0 || a.len() != b.len() || a.is_empty() || !a.len().is_multiple_of(dim) || projections == 0 {
        return Err(Error::InvalidInput(format!("a sliced Wasserstein distance needs two equal non-empty sets of {dim}-vectors ({} and {} values)", a.len(), b.len())));
    }
    let n = a.len() / dim;
    let mut total = 0.0;
    let (mut pa, mut pb) = (vec![0.0f64; n], vec![0.0f64; n]);
    for p in 0..projections {
        let s = Stream::new(seed, p as u64);
        let mut theta: Vec<f64> = (0..dim).map(|i| s.normal_pair(i as u64).0).collect();
        let norm = theta.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        theta.iter_mut().for_each(|v| *v /= norm);
        for (dst, src) in [(&mut pa, a), (&mut pb, b)] {
            for (o, row) in dst.iter_mut().zip(src.chunks_exact(dim)) {
                *o = row.iter().zip(&theta).map(|(x, t)| *x as f64 * t).sum();
            }
            dst.sort_by(f64::total_cmp);
        }
        total += pa.iter().zip(&pb).map(|(x, y)| cost(x - y)).sum::<f64>() / n as f64;
    }
    Ok(total / projections as f64)
}

/// The bandwidths σ of [`mmd2`]'s Gaussian kernels, in data units (2D toys span about ±10).
pub const MMD_BANDWIDTHS: [f64; 5] = [0.1, 0.3, 1.0, 3.0, 10.0];

/// Squared maximum mean discrepancy between the sample sets `a` and `b` (`[n, dim]` and
/// `[m, dim]`, n, m ≥ 2) with the multi-bandwidth kernel `k(x, y) = Σ_σ exp(−‖x − y‖²/(2σ²))`
/// over `bandwidths`, unbiased estimator: the mean of `k` over distinct pairs within `a`, plus
/// the same within `b`, minus twice the mean over all cross pairs. 0 in expectation when both
/// come from one distribution (single draws scatter around 0, slightly negative values
/// included); `O((n + m)²·dim)`, so keep n to a few thousand.
pub fn mmd2(a: &[f32], b: &[f32], dim: usize, bandwidths: &[f64]) -> Result<f64> {
    let ok = |x: &[f32]| dim > 0 && x.len().is_multiple_of(dim) && x.len() >= 2 * dim;
    if !ok(a) || !ok(b) || bandwidths.is_empty() || bandwidths.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(Error::InvalidInput(format!("MMD needs two sets of at least two {dim}-vectors and positive bandwidths ({} and {} values)", a.len(), b.len())));
    }
    let gammas: Vec<f64> = bandwidths.iter().map(|s| 1.0 / (2.0 * s * s)).collect();
    let kernel = |x: &[f32], y: &[f32]| {
        let d2: f64 = x.iter().zip(y).map(|(p, q)| ((p - q) as f64).powi(2)).sum();
        gammas.iter().map(|g| (-g * d2).exp()).sum::<f64>()
    };
    let within = |x: &[f32]| {
        let rows: Vec<&[f32]> = x.chunks_exact(dim).collect();
        let n = rows.len();
        let mut sum = 0.0;
        for i in 0..n {
            for j in i + 1..n {
                sum += kernel(rows[i], rows[j]);
            }
        }
        2.0 * sum / (n * (n - 1)) as f64
    };
    let mut cross = 0.0;
    for x in a.chunks_exact(dim) {
        for y in b.chunks_exact(dim) {
            cross += kernel(x, y);
        }
    }
    let (n, m) = (a.len() / dim, b.len() / dim);
    Ok(within(a) + within(b) - 2.0 * cross / (n * m) as f64)
}

/// Where samples of a Gaussian-mixture target land.
#[derive(Clone, Debug, PartialEq)]
pub struct ModeStats {
    /// Share of samples within 3σ of their nearest component mean (σ of that component). For
    /// samples of the mixture itself this is `1 − e^{−9/2}` = 0.989 in 2D.
    pub on_mode: f64,
    /// Share of the on-mode samples at each component (compare with the mixture weights).
    pub per_mode: Vec<f64>,
    /// Mean distance to the nearest component mean, in that component's σ.
    pub mean_distance: f64,
    /// Width of each mode: the root mean square per coordinate of the on-mode samples' offsets
    /// from the component mean, in its σ (0 if none landed there). Samples of the mixture itself
    /// give 0.974 in 2D (a Gaussian cut at 3σ); a collapsed mode gives less, a smeared one more.
    pub per_mode_width: Vec<f64>,
}

/// [`ModeStats`] of `samples` (`[n, dim]`) against `target`.
pub fn mode_stats(samples: &[f32], target: &GaussianMixture) -> Result<ModeStats> {
    let dim = target.dim();
    if samples.is_empty() || !samples.len().is_multiple_of(dim) {
        return Err(Error::InvalidInput(format!("{} values are not whole {dim}-dimensional samples", samples.len())));
    }
    let k = target.weights().len();
    let mut counts = vec![0usize; k];
    let mut sq_sums = vec![0.0f64; k];
    let (mut on, mut dist_sum) = (0usize, 0.0f64);
    let n = samples.len() / dim;
    for x in samples.chunks_exact(dim) {
        let (mut best, mut best_d) = (0, f64::INFINITY);
        for (c, (m, s)) in target.means().iter().zip(target.stds()).enumerate() {
            let d = x.iter().zip(m).map(|(a, b)| (*a as f64 - b).powi(2)).sum::<f64>().sqrt() / s;
            if d < best_d {
                (best, best_d) = (c, d);
            }
        }
        dist_sum += best_d;
        if best_d < 3.0 {
            on += 1;
            counts[best] += 1;
            sq_sums[best] += best_d * best_d;
        }
    }
    let per_mode = counts.iter().map(|&c| c as f64 / on.max(1) as f64).collect();
    let per_mode_width = counts.iter().zip(&sq_sums).map(|(&c, &q)| if c == 0 { 0.0 } else { (q / (c * dim) as f64).sqrt() }).collect();
    Ok(ModeStats { on_mode: on as f64 / n as f64, per_mode, mean_distance: dist_sum / n as f64, per_mode_width })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MMD² of two draws of one mixture scatters around 0; a shifted draw is far above that
    /// scatter, and grows with the shift.
    #[test]
    fn mmd_separates_shifted_samples() {
        let g = GaussianMixture::rf_toy();
        let draw = |seed| g.sample(seed, 600).into_iter().map(|v| v as f32).collect::<Vec<f32>>();
        let (a, b) = (draw(1), draw(2));
        let same = mmd2(&a, &b, 2, &MMD_BANDWIDTHS).unwrap();
        let shift = |d: f32| b.chunks(2).flat_map(|p| [p[0] + d, p[1]]).collect::<Vec<f32>>();
        let (near, far) = (mmd2(&a, &shift(0.5), 2, &MMD_BANDWIDTHS).unwrap(), mmd2(&a, &shift(2.0), 2, &MMD_BANDWIDTHS).unwrap());
        assert!(same.abs() < 0.01, "{same}");
        assert!(near > 5.0 * same.abs().max(1e-3) && far > near, "{same} {near} {far}");
        assert!(mmd2(&a, &b[..1], 2, &MMD_BANDWIDTHS).is_err());
        assert!(mmd2(&a, &b, 2, &[0.0]).is_err());
    }

    #[test]
    fn mse_and_psnr_of_a_known_error() {
        // Every value off by 0.2 in [-1, 1]: MSE 0.04, PSNR 10·log10(4/0.04) = 20 dB.
        let a = [0.0f32, 0.5, -1.0, 1.0];
        let b: Vec<f32> = a.iter().map(|v| v + 0.2).collect();
        let (mse, psnr) = mse_psnr(&a, &b, [-1.0, 1.0]).unwrap();
        assert!((mse - 0.04).abs() < 1e-7 && (psnr - 20.0).abs() < 1e-5, "{mse} {psnr}");
        assert!(mse_psnr(&a, &b[..3], [-1.0, 1.0]).is_err());
        assert!(mse_psnr(&[], &[], [-1.0, 1.0]).is_err());
    }

    #[test]
    fn straight_lines_have_zero_straightness_and_bends_do_not() {
        // Two samples moving on straight lines at constant speed, 4 steps.
        let times = [0.0, 0.25, 0.5, 0.75, 1.0];
        let line: Vec<Vec<f32>> = times.iter().map(|&t| vec![t as f32, 2.0 * t as f32, -3.0 * t as f32, 1.0]).collect();
        assert!(straightness(&line, &times, 2).unwrap() < 1e-12);
        // An L-shaped path: first half along x, second along y, from (0,0) to (1,1). The
        // chord velocity is (1,1); the velocity is (2,0) then (0,2): ‖Δ‖² = 2 everywhere, so
        // S = 2 per sample, 1 per scalar.
        let l: Vec<Vec<f32>> = vec![vec![0.0, 0.0], vec![1.0, 0.0], vec![1.0, 1.0]];
        let s = straightness(&l, &[0.0, 0.5, 1.0], 2).unwrap();
        assert!((s - 1.0).abs() < 1e-12, "{s}");
        assert!(straightness(&l[..1], &[0.0], 2).is_err());
        // Directions only: the L path's steps are (1,0) and (0,1) against the chord (1,1)/√2:
        // ‖Δ‖² = 2 − √2 in each half, NFSS = 2 − √2; a straight line at changing speed scores 0
        // on NFSS but not on S.
        let nfss = direction_straightness(&l, &[0.0, 0.5, 1.0], 2).unwrap();
        assert!((nfss - (2.0 - 2f64.sqrt())).abs() < 1e-6, "{nfss}");
        let t = [0.0, 0.5, 1.0];
        let slowing: Vec<Vec<f32>> = t.iter().map(|&t| { let g = (2.0 * t - t * t) as f32; vec![g, 3.0 * g] }).collect();
        assert!(direction_straightness(&slowing, &t, 2).unwrap() < 1e-12);
        assert!(straightness(&slowing, &t, 2).unwrap() > 0.1);
    }

    #[test]
    fn sliced_w1_of_a_shift_is_the_mean_projected_length() {
        let g = GaussianMixture::rf_toy();
        let a: Vec<f32> = g.sample(1, 20_000).into_iter().map(|v| v as f32).collect();
        let b: Vec<f32> = a.chunks(2).flat_map(|p| [p[0] + 3.0, p[1] + 4.0]).collect();
        // E|θ·s| over unit θ in 2D is 2‖s‖/π = 3.183; |cos| has standard deviation 0.31, so
        // 256 directions give 5·0.31/16 ≈ 0.1 of spread: 0.4 is four of those.
        let w = sliced_w1(&a, &b, 2, 256, 0).unwrap();
        assert!((w - 10.0 / std::f64::consts::PI).abs() < 0.4, "{w}");
        // Two independent draws of 20 000 from the same mixture (spread ±10): only sampling
        // noise, O(10/√20 000) = 0.07 per direction.
        let c: Vec<f32> = g.sample(2, 20_000).into_iter().map(|v| v as f32).collect();
        let same = sliced_w1(&a, &c, 2, 64, 0).unwrap();
        assert!(same < 0.15 && same < w / 20.0, "{same}");
        assert!(sliced_w1(&a, &c[..10], 2, 4, 0).is_err());
    }

    #[test]
    fn sliced_w2_of_a_shift_is_its_square_over_dim() {
        let g = GaussianMixture::rf_toy();
        let a: Vec<f32> = g.sample(1, 4000).into_iter().map(|v| v as f32).collect();
        assert!(sliced_w2(&a, &a, 2, 16, 0).unwrap() < 1e-12);
        let b: Vec<f32> = a.chunks(2).flat_map(|p| [p[0] + 3.0, p[1] + 4.0]).collect();
        // Sorted projections of a shifted set differ by θ·s exactly; mean of (θ·s)² over
        // random unit θ in 2D is ‖s‖²/2 = 12.5, to within the spread of 256 directions.
        let w = sliced_w2(&a, &b, 2, 256, 0).unwrap();
        assert!((w - 12.5).abs() < 1.5, "{w}");
        assert!(sliced_w2(&a, &b[..10], 2, 4, 0).is_err());
    }

    #[test]
    fn mixture_samples_are_on_its_modes() {
        let g = GaussianMixture::rf_toy();
        let x: Vec<f32> = g.sample(3, 20_000).into_iter().map(|v| v as f32).collect();
        let st = mode_stats(&x, &g).unwrap();
        // 1 − e^{−4.5} = 0.9889; binomial s.d. over 20 000 samples is 0.0007.
        assert!((st.on_mode - 0.9889).abs() < 0.004, "{st:?}");
        let total: f64 = g.weights().iter().sum();
        for (p, w) in st.per_mode.iter().zip(g.weights()) {
            assert!((p - w / total).abs() < 0.02, "{st:?}");
        }
        // E[r² | r² < 9] for r² ~ χ²(2) is 2 − 9e^{−4.5}/(1 − e^{−4.5}) = 1.899: width √(1.899/2).
        for wd in &st.per_mode_width {
            assert!((wd - 0.9744).abs() < 0.02, "{st:?}");
        }
        // Squeezed towards the means by half: widths halve.
        let squeezed: Vec<f32> = x.chunks(2).flat_map(|p| {
            let c = g.means().iter().min_by(|a, b| {
                let d = |m: &Vec<f64>| (p[0] as f64 - m[0]).powi(2) + (p[1] as f64 - m[1]).powi(2);
                d(a).total_cmp(&d(b))
            }).unwrap();
            [(c[0] + 0.5 * (p[0] as f64 - c[0])) as f32, (c[1] + 0.5 * (p[1] as f64 - c[1])) as f32]
        }).collect();
        let sq = mode_stats(&squeezed, &g).unwrap();
        for (a, b) in sq.per_mode_width.iter().zip(&st.per_mode_width) {
            assert!(*a < 0.6 * b, "{sq:?}");
        }
        // Everything at the mixture's mean (what 1-RF's one step does): off every mode.
        let mean: Vec<f64> = (0..2).map(|d| g.means().iter().zip(g.weights()).map(|(m, w)| m[d] * w / total).sum()).collect();
        let at_mean: Vec<f32> = (0..100).flat_map(|_| [mean[0] as f32, mean[1] as f32]).collect();
        assert_eq!(mode_stats(&at_mean, &g).unwrap().on_mode, 0.0);
    }
}
