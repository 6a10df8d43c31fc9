//! Generated 2D distributions: the rectified-flow paper's 3-Gaussian target, 8 Gaussians, two
//! moons and a checkerboard. Deterministic in the seed (noise streams of [`crate::noise`]).

use crate::error::{Error, Result};
use crate::gmm::GaussianMixture;
use crate::noise::Stream;

/// A named 2D toy distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Toy {
    /// The rectified-flow paper's target: 3 Gaussians at radius 10, variance 0.3.
    RfToy,
    /// 8 Gaussians on a circle of radius 2, σ 0.1.
    EightGaussians,
    /// Two interleaved half circles, noise σ 0.05, scaled to about [-2, 2].
    Moons,
    /// A 4×4 checkerboard of uniform squares on [-2, 2]², half of them filled.
    Checkerboard,
}

impl Toy {
    /// All toys.
    pub const ALL: [Toy; 4] = [Toy::RfToy, Toy::EightGaussians, Toy::Moons, Toy::Checkerboard];

    /// Parses a name (`rf-toy`, `8gaussians`, `moons`, `checkerboard`).
    pub fn parse(s: &str) -> Result<Toy> {
        Toy::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| Error::InvalidInput(format!("unknown 2D data set {s:?}; use rf-toy, 8gaussians, moons or checkerboard")))
    }

    /// The name used on the command line and in model files.
    pub fn name(self) -> &'static str {
        match self {
            Toy::RfToy => "rf-toy",
            Toy::EightGaussians => "8gaussians",
            Toy::Moons => "moons",
            Toy::Checkerboard => "checkerboard",
        }
    }

    /// Half-width of a square that holds essentially all samples (for plots and data ranges).
    pub fn half_width(self) -> f32 {
        match self {
            Toy::RfToy => 12.0,
            _ => 3.0,
        }
    }

    /// The exact mixture, where the toy is one.
    pub fn mixture(self) -> Option<GaussianMixture> {
        match self {
            Toy::RfToy => Some(GaussianMixture::rf_toy()),
            Toy::EightGaussians => Some(GaussianMixture::eight_gaussians()),
            _ => None,
        }
    }

    /// `n` samples `[n, 2]` for `seed`, the `k`-th from stream `k` (so a prefix of a larger draw is
    /// the same draw).
    pub fn sample(self, seed: u64, n: usize) -> Vec<f32> {
        if let Some(g) = self.mixture() {
            return g.sample(seed, n).into_iter().map(|v| v as f32).collect();
        }
        let mut out = Vec::with_capacity(2 * n);
        for k in 0..n {
            let s = Stream::new(seed, k as u64);
            let (u, v) = (s.uniform(0), s.uniform(1));
            let (g0, g1) = s.normal_pair(1);
            let p = match self {
                Toy::Moons => {
                    let a = std::f64::consts::PI * u;
                    let (x, y) = if v < 0.5 { (libm::cos(a), libm::sin(a)) } else { (1.0 - libm::cos(a), 0.5 - libm::sin(a)) };
                    [(x - 0.5) * 1.6 + 0.05 * g0, (y - 0.25) * 1.6 + 0.05 * g1]
                }
                _ => {
                    // Pick one of the 8 filled cells of the 4×4 board, uniform inside it.
                    let cell = ((s.bits(4) >> 11) % 8) as i64;
                    let (row, col2) = (cell / 2, cell % 2);
                    let col = 2 * col2 + (row % 2);
                    [-2.0 + col as f64 + u, -2.0 + row as f64 + v]
                }
            };
            out.extend_from_slice(&[p[0] as f32, p[1] as f32]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_prefix_and_in_range() {
        for toy in Toy::ALL {
            let a = toy.sample(3, 500);
            let b = toy.sample(3, 100);
            assert_eq!(&a[..200], &b[..]);
            assert!(a.iter().all(|v| v.abs() < toy.half_width()), "{toy:?}");
            assert_eq!(Toy::parse(toy.name()).unwrap(), toy);
        }
    }

    #[test]
    fn checkerboard_fills_half_the_cells() {
        let s = Toy::Checkerboard.sample(1, 4000);
        let mut counts = [0usize; 16];
        for p in s.chunks(2) {
            let (c, r) = ((p[0] + 2.0).floor() as usize, (p[1] + 2.0).floor() as usize);
            counts[r * 4 + c] += 1;
        }
        let filled = counts.iter().filter(|&&c| c > 0).count();
        assert_eq!(filled, 8);
        assert!(counts.iter().all(|&c| c == 0 || (c as f64 - 500.0).abs() < 120.0), "{counts:?}");
    }
}
