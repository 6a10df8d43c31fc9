//! Time grids in Beeline time (0 = noise, 1 = data): uniform, shifted, custom, and PeRFlow's
//! window-aware grid. Every grid returned here is validated: `N + 1` finite values, exactly 0
//! first and exactly 1 last, strictly increasing.

use crate::config::TimeGrid;
use crate::error::{Error, Result};
use crate::time::shift_time;

/// The largest step count a sampler accepts.
pub const MAX_STEPS: usize = 100_000;

fn invalid<T>(msg: String) -> Result<T> {
    Err(Error::InvalidInput(msg))
}

/// Checks `1 <= steps <= MAX_STEPS`.
pub fn check_steps(steps: usize) -> Result<()> {
    if steps == 0 || steps > MAX_STEPS {
        return invalid(format!("sampler steps must be in 1..={MAX_STEPS}, got {steps}"));
    }
    Ok(())
}

/// The generation grid `t_0 = 0 < t_1 < … < t_N = 1` for `steps = N`.
///
/// - `Uniform`: `t_i = i/N`.
/// - `Shifted { shift }`: `t_i = shift_time(i/N, shift)` (`shift` finite and > 0; > 1 puts more
///   steps near the noise end).
/// - `Custom { times }`: the given values, which must be `N + 1` finite, strictly increasing
///   values starting at exactly 0 and ending at exactly 1.
pub fn time_grid(grid: &TimeGrid, steps: usize) -> Result<Vec<f64>> {
    check_steps(steps)?;
    let uniform = |i: usize| i as f64 / steps as f64;
    let times: Vec<f64> = match grid {
        TimeGrid::Uniform => (0..=steps).map(uniform).collect(),
        TimeGrid::Shifted { shift } => {
            if !shift.is_finite() || *shift <= 0.0 {
                return invalid(format!("time-grid shift must be finite and positive, got {shift}"));
            }
            // The ends are exactly 0 and 1 in exact arithmetic; pin them against rounding.
            (0..=steps)
                .map(|i| match i {
                    0 => 0.0,
                    i if i == steps => 1.0,
                    i => shift_time(uniform(i), *shift),
                })
                .collect()
        }
        TimeGrid::Custom { times } => {
            if times.len() != steps + 1 {
                return invalid(format!(
                    "custom time grid has {} values; {steps} steps need {}",
                    times.len(),
                    steps + 1
                ));
            }
            times.clone()
        }
    };
    check_grid(&times)?;
    Ok(times)
}

/// Checks a generation grid: finite, strictly increasing, exactly 0 first and 1 last.
pub fn check_grid(times: &[f64]) -> Result<()> {
    if times.len() < 2 {
        return invalid("a time grid needs at least two values".into());
    }
    if times.iter().any(|t| !t.is_finite()) {
        return invalid("time grid values must be finite".into());
    }
    if times[0] != 0.0 || times[times.len() - 1] != 1.0 {
        return invalid(format!(
            "time grid must start at 0 (noise) and end at 1 (data), got {} .. {}",
            times[0],
            times[times.len() - 1]
        ));
    }
    if let Some(i) = times.windows(2).position(|w| w[1] <= w[0]) {
        return invalid(format!("time grid must be strictly increasing (values {} and {})", i, i + 1));
    }
    Ok(())
}

/// PeRFlow's split of `steps` over `windows` equal time windows (PeRFlow's
/// `set_timesteps`): window `k` gets `⌊N/K⌋ + [k < N mod K]` steps. Windows are indexed from the
/// noise end, window `k` covering Beeline time `[k/K, (k+1)/K]`, so the extra steps go to the
/// noisiest windows first. E.g. K = 4, N = 6 → `[2, 2, 1, 1]`. Needs `1 <= K <= N`.
pub fn perflow_split(windows: usize, steps: usize) -> Result<Vec<usize>> {
    check_steps(steps)?;
    if windows == 0 || windows > steps {
        return invalid(format!(
            "PeRFlow needs at least one step per window: {steps} steps for {windows} windows"
        ));
    }
    Ok((0..windows).map(|k| steps / windows + usize::from(k < steps % windows)).collect())
}

/// PeRFlow's window-aware generation grid: the steps of [`perflow_split`], uniform inside each
/// window `[k/K, (k+1)/K]`. Every window edge is a grid point.
pub fn perflow_grid(windows: usize, steps: usize) -> Result<Vec<f64>> {
    let split = perflow_split(windows, steps)?;
    let mut times = Vec::with_capacity(steps + 1);
    for (k, &n) in split.iter().enumerate() {
        let (start, end) = (k as f64 / windows as f64, (k + 1) as f64 / windows as f64);
        times.extend((0..n).map(|j| start + (end - start) * j as f64 / n as f64));
    }
    times.push(1.0);
    check_grid(&times)?;
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perflow_split_follows_the_perflow_rule() {
        assert_eq!(perflow_split(4, 6).unwrap(), vec![2, 2, 1, 1]);
        assert_eq!(perflow_split(4, 4).unwrap(), vec![1, 1, 1, 1]);
        assert_eq!(perflow_split(4, 9).unwrap(), vec![3, 2, 2, 2]);
        assert_eq!(perflow_split(1, 5).unwrap(), vec![5]);
        assert!(perflow_split(4, 3).is_err());
        assert!(perflow_split(0, 3).is_err());
    }

    #[test]
    fn perflow_grid_puts_extra_steps_near_noise() {
        let g = perflow_grid(4, 6).unwrap();
        let want = [0.0, 0.125, 0.25, 0.375, 0.5, 0.75, 1.0];
        assert_eq!(g.len(), 7);
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{g:?}");
        }
    }

    #[test]
    fn grids_have_exact_endpoints() {
        for grid in [TimeGrid::Uniform, TimeGrid::Shifted { shift: 3.0 }, TimeGrid::Shifted { shift: 0.3 }] {
            for n in [1, 2, 7, 1000] {
                let g = time_grid(&grid, n).unwrap();
                assert_eq!(g.len(), n + 1);
                assert_eq!(g[0], 0.0);
                assert_eq!(g[n], 1.0);
            }
        }
        // shift 3 moves the interior toward the noise end (smaller t)
        let s = time_grid(&TimeGrid::Shifted { shift: 3.0 }, 4).unwrap();
        assert!((s[2] - 0.25).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn bad_grids_are_rejected() {
        let custom = |v: Vec<f64>| TimeGrid::Custom { times: v };
        assert!(time_grid(&TimeGrid::Uniform, 0).is_err());
        assert!(time_grid(&TimeGrid::Uniform, MAX_STEPS + 1).is_err());
        assert!(time_grid(&TimeGrid::Shifted { shift: 0.0 }, 4).is_err());
        assert!(time_grid(&TimeGrid::Shifted { shift: f64::NAN }, 4).is_err());
        assert!(time_grid(&custom(vec![0.0, 0.5, 1.0]), 3).is_err());
        assert!(time_grid(&custom(vec![0.0, 0.5, 0.5, 1.0]), 3).is_err());
        assert!(time_grid(&custom(vec![0.1, 0.5, 0.7, 1.0]), 3).is_err());
        assert!(time_grid(&custom(vec![0.0, 0.5, 0.7, 0.99]), 3).is_err());
        assert!(time_grid(&custom(vec![0.0, f64::NAN, 0.7, 1.0]), 3).is_err());
        assert!(time_grid(&custom(vec![0.0, 0.2, 0.7, 1.0]), 3).is_ok());
    }
}
