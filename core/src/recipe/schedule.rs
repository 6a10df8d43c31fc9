//! Learning-rate warmup and EMA decay over optimiser steps.

/// Linear warmup from 0 to `lr` over `warmup` steps, then constant (RF, RF++, SlimFlow). Step 0
/// is the first optimiser step and already gets `lr / warmup`.
pub fn warmup_lr(lr: f64, warmup: u64, step: u64) -> f64 {
    if warmup == 0 { lr } else { lr * ((step + 1) as f64 / warmup as f64).min(1.0) }
}

/// The learning rate of optimiser step `step` (0-based): [`warmup_lr`], then from step
/// `decay.0` on a half cosine down to `decay.1` at step `steps`:
/// `lr_min + (w − lr_min)·½(1 + cos(π·(step − from)/(steps − from)))`, with `w` the warmed-up
/// rate. `decay = None` keeps the rate constant after warmup.
pub fn lr_at(lr: f64, warmup: u64, decay: Option<(u64, f64)>, steps: u64, step: u64) -> f64 {
    let w = warmup_lr(lr, warmup, step);
    match decay {
        Some((from, lr_min)) if step >= from && steps > from => {
            let p = ((step - from) as f64 / (steps - from) as f64).min(1.0);
            lr_min + (w - lr_min) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
        }
        _ => w,
    }
}

/// EMA decay with warmup, as in the rectified-flow code: `min(decay, (1 + n)/(10 + n))` after `n`
/// updates, so early averages are not dominated by the random initialisation.
pub fn ema_decay(decay: f64, updates: u64) -> f64 {
    decay.min((1.0 + updates as f64) / (10.0 + updates as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_and_ema() {
        assert_eq!(warmup_lr(1e-3, 0, 0), 1e-3);
        assert!((warmup_lr(1e-3, 10, 0) - 1e-4).abs() < 1e-18);
        assert_eq!(warmup_lr(1e-3, 10, 9), 1e-3);
        assert_eq!(warmup_lr(1e-3, 10, 500), 1e-3);
        // The cosine: unchanged before its start, halfway at its middle, lr_min at `steps`.
        let d = Some((100, 1e-5));
        assert_eq!(lr_at(1e-3, 10, d, 300, 99), 1e-3);
        assert_eq!(lr_at(1e-3, 10, d, 300, 100), 1e-3);
        assert!((lr_at(1e-3, 10, d, 300, 200) - (1e-5 + 0.5 * (1e-3 - 1e-5))).abs() < 1e-15);
        assert!((lr_at(1e-3, 10, d, 300, 300) - 1e-5).abs() < 1e-18);
        assert!(lr_at(1e-3, 10, d, 300, 299) > 1e-5);
        assert_eq!(lr_at(1e-3, 10, None, 300, 299), 1e-3);
        assert!((ema_decay(0.999, 0) - 0.1).abs() < 1e-15);
        assert_eq!(ema_decay(0.999, 1_000_000), 0.999);
    }
}
