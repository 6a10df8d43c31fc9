//! `time_embed.wgsl`: the sinusoidal time embedding of `net_time(t)` and the class-embedding
//! rows (with the null row for [`NULL_LABEL`](crate::field::NULL_LABEL)).

use super::{Entry, Spec, grid_1d};

/// The frequency table of a `dim`-wide embedding: for each `i < dim/2`,
/// `freq_i = exp(−ln(10000)·i/half)` computed in f64 with the pure-Rust libm exactly as the CPU
/// reference (`nn::embed::sinusoidal`) does, split into `(f1, f2, f3, 0)`: f1 and f2 hold 12
/// significant bits each (so the kernel's products with a 12-bit half of τ are exact) and f3
/// the rest.
pub(crate) fn freq_table(dim: usize) -> Vec<f32> {
    let half = dim / 2;
    let hi12 = |v: f64| f32::from_bits((v as f32).to_bits() & 0xFFFF_F000);
    let mut out = Vec::with_capacity(4 * half.max(1));
    for i in 0..half {
        let freq = libm::exp(-std::f64::consts::LN_10 * 4.0 * i as f64 / half as f64);
        let f1 = hi12(freq);
        let f2 = hi12(freq - f1 as f64);
        let f3 = (freq - f1 as f64 - f2 as f64) as f32;
        out.extend_from_slice(&[f1, f2, f3, 0.0]);
    }
    if out.is_empty() {
        out.extend_from_slice(&[0.0; 4]);
    }
    out
}

/// `out[b] = sinusoidal(1000·t[b])`, `[batch][dim]`.
pub(crate) fn sinusoidal<'a>(batch: u32, dim: u32, t: &'a wgpu::Buffer, freq: &'a wgpu::Buffer, out: &'a wgpu::Buffer) -> Spec<'a> {
    let per = dim / 2 + dim % 2;
    Spec { entry: Entry::Sinusoidal, buffers: vec![t, freq, out], params: vec![batch, dim, dim / 2, 0, 0, 0, 0, 0], groups: grid_1d((batch * per) as usize) }
}

/// `out[b] += table[row(labels[b])]` (`[batch][dim]`, table `[num_classes + 1][dim]`), then
/// SiLU if `silu`.
pub(crate) fn class_rows<'a>(batch: u32, dim: u32, num_classes: u32, silu: bool, labels: &'a wgpu::Buffer, table: &'a wgpu::Buffer, out: &'a wgpu::Buffer) -> Spec<'a> {
    Spec {
        entry: Entry::ClassRows,
        buffers: vec![labels, table, out],
        params: vec![batch, dim, dim / 2, num_classes, u32::from(silu), 0, 0, 0],
        groups: grid_1d((batch * dim) as usize),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::field::NULL_LABEL;
    use crate::gpu::kernels::run_and_read;
    use crate::gpu::testutil::{assert_close, gpu, uniform};
    use crate::nn::activation::silu;
    use crate::nn::embed::{add_class_rows, time_embedding};

    /// Against `nn::embed::time_embedding` (f64 libm, rounded once: ≤ 3e-8 from exact) for
    /// times across [0, 1] (τ up to 1000) and widths from 1 to 256. The kernel's argument
    /// reduction is exact up to three f32 roundings of values ≲ 1.3 and the polynomials add
    /// ~1 ulp: ≲ 2e-7 absolute. Tolerance 4e-7.
    #[test]
    fn sinusoidal_matches_cpu() {
        let Some(ctx) = gpu() else { return };
        let mut t: Vec<f32> = vec![0.0, 1.0, 0.5, 1e-3, 0.999_9, 0.123_456_7, 0.25, 0.75];
        t.extend(uniform(31, 56, 0.5).iter().map(|v| v + 0.5));
        let batch = t.len();
        let tb = ctx.upload("t", &t).unwrap();
        for dim in [1usize, 2, 7, 32, 64, 256] {
            let mut want = vec![0.0; batch * dim];
            time_embedding(&t, dim, &mut want);
            let fb = ctx.upload("freq", &freq_table(dim)).unwrap();
            let out = ctx.upload("out", &vec![f32::NAN; batch * dim]).unwrap();
            let got = pollster::block_on(run_and_read(&ctx, &[sinusoidal(batch as u32, dim as u32, &tb, &fb, &out)], &out, batch * dim)).unwrap();
            assert_close(&format!("sinusoidal dim {dim}"), &got, &want, 4e-7);
        }
    }

    /// Against `nn::embed::add_class_rows` (then SiLU): the addition is exact-rounded on both
    /// sides; SiLU adds ≲ 8 ulp on each. Tolerance 2e-6 for values of magnitude ≲ 3.
    #[test]
    fn class_rows_match_cpu() {
        let Some(ctx) = gpu() else { return };
        let (batch, dim, nc) = (7usize, 20usize, 3usize);
        let labels: Vec<u32> = vec![0, 2, NULL_LABEL, 1, 1, NULL_LABEL, 0];
        let table = uniform(41, (nc + 1) * dim, 1.0);
        let base = uniform(42, batch * dim, 1.0);
        let lb = ctx.buffer("labels", (batch * 4) as u64, crate::gpu::context::STORAGE_USAGE).unwrap();
        ctx.queue().write_buffer(&lb, 0, bytemuck::cast_slice(&labels));
        let tb = ctx.upload("table", &table).unwrap();
        for s in [false, true] {
            let out = ctx.upload("out", &base).unwrap();
            let got = pollster::block_on(run_and_read(&ctx, &[class_rows(batch as u32, dim as u32, nc as u32, s, &lb, &tb, &out)], &out, batch * dim)).unwrap();
            let mut want = base.clone();
            add_class_rows(&table, nc, Some(&labels), &mut want);
            if s {
                want.iter_mut().for_each(|v| *v = silu(*v));
            }
            assert_close(&format!("class rows silu {s}"), &got, &want, 2e-6);
        }
    }
}
