//! The one time convention of Beeline, and every conversion to and from the papers' conventions.
//!
//! **Beeline time**: `t ∈ [0, 1]`, `t = 0` is noise, `t = 1` is data.
//! `x_t = t·x1 + (1 − t)·x0`, velocity `v = x1 − x0` (points from noise to data).
//! Generation integrates `t: 0 → 1`; inversion integrates `t: 1 → 0`.
//!
//! Papers that run the other way (RF++, PeRFlow, FLUX/FireFlow, diffusers' flow-matching
//! schedulers: `σ = 1` is noise, `x_σ = σ·noise + (1 − σ)·x0`, `v_σ = noise − x0`) are converted
//! here and nowhere else. Times are the source of truth; the network sees [`net_time`] of `t`.

/// The scalar the networks receive as their time input, derived from Beeline time `t`.
///
/// Networks embed `1000·t` with a sinusoidal embedding (max period 10 000), the scale the
/// rectified-flow and Stable Diffusion code bases use (RF feeds `999·t`, SD `1000·t`). Raw `t`
/// in `[0, 1]` would leave the embedding's low frequencies almost constant.
#[inline]
pub fn net_time(t: f64) -> f32 {
    (1000.0 * t) as f32
}

/// Beeline time → σ of the reversed convention (RF++, PeRFlow, FLUX, diffusers): `σ = 1 − t`.
#[inline]
pub fn to_sigma(t: f64) -> f64 {
    1.0 - t
}

/// σ of the reversed convention → Beeline time: `t = 1 − σ`.
#[inline]
pub fn from_sigma(sigma: f64) -> f64 {
    1.0 - sigma
}

/// A velocity predicted in the reversed convention (`noise − data`) → Beeline velocity
/// (`data − noise`). The map is its own inverse.
#[inline]
pub fn velocity_from_sigma_convention(v_sigma: f32) -> f32 {
    -v_sigma
}

/// Beeline time → the EDM noise level used by RF++'s initialisation: `σ_EDM = (1 − t)/t`
/// (RF++ writes `σ = s/(1 − s)` with `s` its own time, `s = 1 − t`). Infinite at `t = 0`.
#[inline]
pub fn to_edm_sigma(t: f64) -> f64 {
    (1.0 - t) / t
}

/// Beeline time → the PeRFlow / Stable Diffusion timestep index `1000·(1 − t)` that their
/// code feeds the UNet.
#[inline]
pub fn to_sd_timestep(t: f64) -> f64 {
    1000.0 * (1.0 - t)
}

/// The time shift of diffusers' `FlowMatchEulerDiscreteScheduler` and FLUX, applied in Beeline
/// time: `σ' = s·σ / (1 + (s − 1)·σ)` with `σ = 1 − t`, returned as `t' = 1 − σ'`.
/// `shift > 1` spends more steps near the noise end. FLUX's `e^μ` shift is `shift = e^μ`.
#[inline]
pub fn shift_time(t: f64, shift: f64) -> f64 {
    if t <= 0.0 || t >= 1.0 {
        return t; // the ends are fixed points; exact even where the formula rounds
    }
    let sigma = to_sigma(t);
    from_sigma(shift * sigma / (1.0 + (shift - 1.0) * sigma))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interpolant and velocity in both conventions describe the same point and direction.
    #[test]
    fn sigma_convention_round_trip() {
        let (x0, x1) = (0.3f64, -1.7f64); // noise, data
        for &t in &[0.0, 0.1, 0.5, 0.9, 1.0] {
            let ours = t * x1 + (1.0 - t) * x0;
            let s = to_sigma(t);
            let theirs = s * x0 + (1.0 - s) * x1; // x_σ = σ·noise + (1−σ)·data
            assert!((ours - theirs).abs() < 1e-12);
            assert!((from_sigma(to_sigma(t)) - t).abs() < 1e-15);
        }
        let v_sigma = (x0 - x1) as f32; // noise − data
        assert_eq!(velocity_from_sigma_convention(v_sigma), (x1 - x0) as f32);
    }

    #[test]
    fn shift_fixes_ends_and_moves_interior_toward_noise() {
        assert_eq!(shift_time(0.0, 3.0), 0.0);
        assert_eq!(shift_time(1.0, 3.0), 1.0);
        assert_eq!(shift_time(0.0, 0.3), 0.0);
        assert!((shift_time(0.5, 1.0) - 0.5).abs() < 1e-15);
        assert!(shift_time(0.5, 3.0) < 0.5);
        // diffusers: sigma 0.5 with shift 3 → 0.75
        assert!((to_sigma(shift_time(0.5, 3.0)) - 0.75).abs() < 1e-12);
    }

    #[test]
    fn other_conventions() {
        assert_eq!(net_time(0.5), 500.0);
        assert_eq!(to_sd_timestep(0.25), 750.0);
        assert!((to_edm_sigma(0.5) - 1.0).abs() < 1e-15);
    }
}
