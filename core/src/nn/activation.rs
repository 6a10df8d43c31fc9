//! Elementwise functions, written with `+ − × ÷`, comparisons and bit operations only, so that
//! they are bit-identical on every target (no platform `expf`) and LLVM vectorises them.

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two: `LN2_HI` has 9 significant bits, so `n·LN2_HI` is exact for `|n| ≤ 128`.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5·2²³: adding and subtracting it rounds an f32 of magnitude < 2²² to the nearest integer.
const ROUND: f32 = 12_582_912.0;

/// Calls the `#[inline(always)]` function `f(args)` compiled for AVX2 when the CPU has it (on
/// x86-64), else the baseline build. Both compute the same IEEE operations, so the results are
/// identical; AVX2 only widens the vectors.
macro_rules! simd_dispatch {
    ($f:ident($($arg:expr),* $(,)?)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            fn wide(f: impl FnOnce()) {
                f()
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                return unsafe { wide(|| $f($($arg),*)) };
            }
        }
        $f($($arg),*)
    }};
}
pub(crate) use simd_dispatch;

/// `eˣ` in f32 (Cephes' `expf` polynomial): relative error ≲ 2 ulp for `x ∈ [−87, 88]`; inputs
/// are clamped to that range (so the result is always finite and positive), NaN stays NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // x = n·ln2 + r, |r| ≤ ln2/2. `t` holds the integer n in its low mantissa bits.
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.987_569_1e-4f32;
    let p = p * r + 1.398_2e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5; // Cephes 5.0000001201e-1, which rounds to 0.5 in f32
    let er = (p * r) * r + r + 1.0;
    // 2ⁿ through the exponent bits: bits(t) = bits(ROUND) + n, and n ∈ [−126, 127] after the
    // clamp, so (n + 127) << 23 is a normal power of two. (Integer ops only: no float→int
    // conversion, which SSE2 cannot vectorise with Rust's saturating semantics.)
    let scale = f32::from_bits(t.to_bits().wrapping_sub(ROUND.to_bits() - 127) << 23);
    er * scale
}

/// `SiLU(x) = x·σ(x) = x / (1 + e⁻ˣ)`.
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// Applies SiLU in place.
pub fn silu_inplace(v: &mut [f32]) {
    simd_dispatch!(silu_slice(v))
}

#[inline(always)]
fn silu_slice(v: &mut [f32]) {
    for x in v {
        *x = silu(*x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over a dense sweep of [−87, 88]: relative error ≤ 4·2⁻²⁴ (the polynomial's ~2 ulp plus
    /// rounding of the final scaling) against f64 `exp`.
    #[test]
    fn exp_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let got = exp(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_37;
        }
        assert!(worst <= 4.0 * 2f64.powi(-24), "worst relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) > 0.0 && exp(1000.0).is_finite());
        assert!(exp(f32::NAN).is_nan());
    }

    /// SiLU against `x / (1 + e^−x)` in f64: error ≤ 8·2⁻²⁴·|x| (exp error, one add, one divide).
    #[test]
    fn silu_is_accurate() {
        for i in -20_000..20_000 {
            let x = i as f32 * 0.004_7;
            let want = x as f64 / (1.0 + (-(x as f64)).exp());
            let got = silu(x) as f64;
            assert!((got - want).abs() <= 8.0 * 2f64.powi(-24) * (x as f64).abs() + 1e-45, "x {x}: {got} vs {want}");
        }
        assert_eq!(silu(0.0), 0.0);
        assert!(silu(-200.0).abs() < 1e-30 && silu(200.0) == 200.0);
    }
}
