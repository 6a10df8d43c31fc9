//! Portable seeded noise, specified bit-exactly so that the same seed gives the same numbers on
//! every platform (native, wasm32 in the browser, the burn trainer).
//!
//! ## Specification
//!
//! All arithmetic is on `u64` with wrapping, or IEEE-754 `f64` using only `+ − × ÷ √` and the
//! pure-Rust `libm` crate's `log`, `sin` and `cos` (never the platform's libm, whose last bits
//! differ between glibc, macOS and the wasm runtime).
//!
//! ```text
//! mix(z)        = z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^ (z >> 31)
//! key(seed, s)  = mix(seed ^ mix(s + 0x9E3779B97F4A7C15))          # one stream per sample index s
//! bits(key, i)  = mix(key + (i + 1)·0x9E3779B97F4A7C15)              # counter-based: SplitMix64
//! uniform(k, i) = ((bits(k, i) >> 11) + 0.5) · 2^-53                  # in (0, 1), never 0 or 1
//! normal pair j = r·cos(2π·u2), r·sin(2π·u2),  r = √(−2·ln u1),  u1 = uniform(k, 2j), u2 = uniform(k, 2j+1)
//! ```
//!
//! Element `e` of sample `s` is `normal pair (e/2)`, component `e mod 2`, rounded to f32. Because
//! every sample has its own stream, sample `s` of a seed is the same whatever the batch size.

use std::f64::consts::PI;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A counter-based random stream: one per (seed, stream index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stream {
    key: u64,
}

impl Stream {
    /// Stream `stream` of `seed` (streams are sample indices for noise).
    pub fn new(seed: u64, stream: u64) -> Self {
        Stream { key: seed ^ mix(stream.wrapping_add(GOLDEN)) }.rekeyed()
    }

    fn rekeyed(self) -> Self {
        Stream { key: mix(self.key) }
    }

    /// The `i`-th 64 random bits.
    #[inline]
    pub fn bits(&self, i: u64) -> u64 {
        mix(self.key.wrapping_add(i.wrapping_add(1).wrapping_mul(GOLDEN)))
    }

    /// The `i`-th uniform number in the open interval (0, 1).
    #[inline]
    pub fn uniform(&self, i: u64) -> f64 {
        ((self.bits(i) >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// The `j`-th pair of standard normal numbers (Box–Muller).
    #[inline]
    pub fn normal_pair(&self, j: u64) -> (f64, f64) {
        let u1 = self.uniform(2 * j);
        let u2 = self.uniform(2 * j + 1);
        let r = (-2.0 * libm::log(u1)).sqrt();
        let a = 2.0 * PI * u2;
        (r * libm::cos(a), r * libm::sin(a))
    }

    /// Fills `out` with standard normal f32 numbers: element `e` is component `e mod 2` of
    /// pair `e/2`.
    pub fn fill_normal(&self, out: &mut [f32]) {
        for (j, chunk) in out.chunks_mut(2).enumerate() {
            let (a, b) = self.normal_pair(j as u64);
            chunk[0] = a as f32;
            if chunk.len() > 1 {
                chunk[1] = b as f32;
            }
        }
    }
}

/// A permutation of `0..n` by Fisher–Yates from `stream` (draw `i` picks the partner of
/// position `i`), the same on every platform.
pub fn permutation(stream: &Stream, n: usize) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = ((stream.bits(i as u64) as u128 * (i as u128 + 1)) >> 64) as usize;
        p.swap(i, j);
    }
    p
}

/// Gaussian noise for a batch: `batch` samples of `numel` scalars each, sample `s` taken from
/// stream `first_sample + s` of `seed`. Row-major `[batch, numel]`.
pub fn gaussian_batch(seed: u64, first_sample: u64, batch: usize, numel: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; batch * numel];
    if numel == 0 {
        return out;
    }
    for (s, row) in out.chunks_mut(numel).enumerate() {
        Stream::new(seed, first_sample + s as u64).fill_normal(row);
    }
    out
}

/// A 64-bit hash of the noise for (seed, sample 0..batch): used by the cross-platform test.
pub fn fingerprint(values: &[f32]) -> u64 {
    values.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, v| mix(h ^ v.to_bits() as u64))
}

/// `fingerprint(gaussian_batch(42, 0, 8, 1000))`, pinned: the native and the wasm32 builds
/// must both reproduce it.
pub const GOLDEN_FINGERPRINT_SEED42_8X1000: u64 = 0x142c_068c_cedb_61c6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_independent() {
        let a = gaussian_batch(42, 0, 4, 10);
        let b = gaussian_batch(42, 2, 1, 10);
        assert_eq!(&a[20..30], &b[..]);
        assert_ne!(gaussian_batch(43, 0, 1, 10), gaussian_batch(42, 0, 1, 10));
    }

    #[test]
    fn moments_are_standard_normal() {
        let v = gaussian_batch(7, 0, 100, 1000);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        let kurt = v.iter().map(|&x| (x as f64 - mean).powi(4)).sum::<f64>() / n / (var * var);
        // 1e5 samples: sd(mean) ≈ 0.003, sd(var) ≈ 0.0045, sd(kurtosis) ≈ 0.015; 5σ bounds.
        assert!(mean.abs() < 0.016, "mean {mean}");
        assert!((var - 1.0).abs() < 0.023, "var {var}");
        assert!((kurt - 3.0).abs() < 0.08, "kurtosis {kurt}");
    }

    /// Golden values pin the specification: any change to the generator breaks this test.
    #[test]
    fn golden_values() {
        let s = Stream::new(0, 0);
        let first = [s.bits(0), s.bits(1)];
        let v = gaussian_batch(0, 0, 1, 4);
        let fp = fingerprint(&gaussian_batch(42, 0, 8, 1000));
        // Printed once from this implementation; the wasm32 build must reproduce them.
        eprintln!("bits {first:x?} normals {v:?} fingerprint {fp:#x}");
        assert_eq!(fp, GOLDEN_FINGERPRINT_SEED42_8X1000);
    }
}
