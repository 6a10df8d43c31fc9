//! Time and class embeddings.

use crate::field::NULL_LABEL;
use crate::time::net_time;

/// The sinusoidal time embedding of width `out.len() = D` for the network time `tau`
/// (= [`net_time`]`(t)`):
///
/// ```text
/// half = D / 2,   freq_i = exp(−ln(10000)·i / half)          i = 0 .. half
/// out  = [cos(tau·freq_0), …, cos(tau·freq_{half−1}), sin(tau·freq_0), …, sin(tau·freq_{half−1})]
/// ```
///
/// cos first, then sin. Computed in f64 with the pure-Rust `libm` (the same bits on every
/// platform) and rounded to f32. An odd `D` gets a final 0 (`validate` only lets even widths
/// through for the MLP; the UNet uses `D = base_channels`).
pub fn sinusoidal(tau: f32, out: &mut [f32]) {
    let half = out.len() / 2;
    for i in 0..half {
        (out[i], out[half + i]) = cos_sin(tau, frequency(i, half));
    }
    if out.len() % 2 == 1 {
        out[2 * half] = 0.0;
    }
}

/// `freq_i = exp(−ln(10000)·i/half)`, in f64 (also the ONNX export's constants).
#[inline]
pub(crate) fn frequency(i: usize, half: usize) -> f64 {
    libm::exp(-std::f64::consts::LN_10 * 4.0 * i as f64 / half as f64)
}

/// `(cos(tau·freq), sin(tau·freq))` rounded to f32.
#[inline]
fn cos_sin(tau: f32, freq: f64) -> (f32, f32) {
    let arg = tau as f64 * freq;
    (libm::cos(arg) as f32, libm::sin(arg) as f32)
}

/// Embeds every sample's Beeline time `t[b]` (via [`net_time`], the one conversion) into row `b`
/// of `out` (`[t.len()][dim]`): [`sinusoidal`] row by row (the same bits), with each frequency
/// computed once per call.
pub(crate) fn time_embedding(t: &[f32], dim: usize, out: &mut [f32]) {
    let half = dim / 2;
    for i in 0..half {
        let freq = frequency(i, half);
        for (row, &tb) in out.chunks_exact_mut(dim).zip(t) {
            (row[i], row[half + i]) = cos_sin(net_time(tb as f64), freq);
        }
    }
    if dim % 2 == 1 {
        for row in out.chunks_exact_mut(dim) {
            row[dim - 1] = 0.0;
        }
    }
}

/// The embedding row of a label: the label itself, or the null row `num_classes` for
/// [`NULL_LABEL`] (labels were validated by the caller).
#[inline]
pub(crate) fn class_row(label: u32, num_classes: usize) -> usize {
    if label == NULL_LABEL { num_classes } else { label as usize }
}

/// Adds `table[class_row(labels[b])]` (table `[num_classes + 1][dim]`) to row `b` of `out`;
/// `labels = None` means every sample is null-class.
pub(crate) fn add_class_rows(table: &[f32], num_classes: usize, labels: Option<&[u32]>, out: &mut [f32]) {
    let dim = table.len() / (num_classes + 1);
    for (b, row) in out.chunks_exact_mut(dim).enumerate() {
        let r = class_row(labels.map_or(NULL_LABEL, |l| l[b]), num_classes);
        for (o, e) in row.iter_mut().zip(&table[r * dim..(r + 1) * dim]) {
            *o += *e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the formula written out in f64 with std's `cos`/`sin` (which differ from libm by
    /// at most an ulp of f64): the f32 results agree to 1 ulp of f32 (≤ 6e-8 in [−1, 1]).
    #[test]
    fn sinusoidal_matches_formula() {
        for &(tau, d) in &[(0.0f32, 8usize), (1.0, 2), (500.0, 32), (999.9, 64), (37.25, 7)] {
            let mut out = vec![f32::NAN; d];
            sinusoidal(tau, &mut out);
            let half = d / 2;
            for i in 0..half {
                let f = (-(10000f64.ln()) * i as f64 / half as f64).exp();
                assert!((out[i] as f64 - (tau as f64 * f).cos()).abs() <= 6e-8, "cos {tau} {i}");
                assert!((out[half + i] as f64 - (tau as f64 * f).sin()).abs() <= 6e-8, "sin {tau} {i}");
            }
            if d % 2 == 1 {
                assert_eq!(out[d - 1], 0.0);
            }
        }
        for dim in [4, 7] {
            let mut e = vec![f32::NAN; 3 * dim];
            time_embedding(&[0.5, 0.0, 0.123], dim, &mut e);
            for (row, t) in e.chunks(dim).zip([0.5, 0.0, 0.123]) {
                let mut direct = vec![f32::NAN; dim];
                sinusoidal(net_time(t), &mut direct);
                assert_eq!(row, direct);
            }
        }
    }

    #[test]
    fn class_rows_use_the_null_row() {
        let table = [1.0, 2.0, 10.0, 20.0, 100.0, 200.0]; // 2 classes + null
        let mut out = [0.0f32; 6];
        add_class_rows(&table, 2, Some(&[1, NULL_LABEL, 0]), &mut out);
        assert_eq!(out, [10.0, 20.0, 100.0, 200.0, 1.0, 2.0]);
        let mut out = [0.0f32; 2];
        add_class_rows(&table, 2, None, &mut out);
        assert_eq!(out, [100.0, 200.0]);
    }
}
