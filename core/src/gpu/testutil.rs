//! Shared by the GPU parity tests: the adapter (or the documented refusal to run without one),
//! random data, and error measures.
//!
//! Without an adapter a GPU test fails (Debian's `mesa-vulkan-drivers` gives a software one),
//! unless `BEELINE_GPU_TESTS=skip` asks for it to be skipped, which it then says on stderr
//! ([`gpu_tests_skipped`](crate::gpu::gpu_tests_skipped)). With `BEELINE_EXPECT_BACKEND=vulkan`
//! (or `metal`, `dx12`, `gl`; CI sets `vulkan`) the adapter must be of that API: the tests never
//! pass by silently running the CPU path twice or by landing on an unexpected fallback.

use super::GpuContext;
use crate::noise::Stream;
use std::sync::OnceLock;

static CONTEXT: OnceLock<Result<GpuContext, String>> = OnceLock::new();

/// The shared test device, or `None` when there is no adapter and `BEELINE_GPU_TESTS=skip`
/// (the skip is reported on stderr). Panics when there is no adapter otherwise, or when the
/// adapter's API is not `BEELINE_EXPECT_BACKEND`.
pub(crate) fn gpu() -> Option<GpuContext> {
    let ctx = CONTEXT.get_or_init(|| {
        let r = pollster::block_on(GpuContext::new()).map_err(|e| e.to_string());
        if let Ok(c) = &r {
            eprintln!("GPU tests run on {} [{}]", c.adapter().describe(), c.adapter().driver);
        }
        r
    });
    match ctx {
        Ok(c) => {
            if let Ok(want) = std::env::var("BEELINE_EXPECT_BACKEND") {
                let have = &c.adapter().backend;
                assert!(
                    have.eq_ignore_ascii_case(&want),
                    "BEELINE_EXPECT_BACKEND={want} but the adapter is {} — is the driver (e.g. mesa-vulkan-drivers) installed?",
                    c.adapter().describe()
                );
            }
            Some(c.clone())
        }
        Err(e) if super::gpu_tests_skipped(&format!("a GPU parity test (no adapter: {e})")) => None,
        Err(e) => panic!("no GPU adapter could be used ({e}): install mesa-vulkan-drivers for a software one, or set BEELINE_GPU_TESTS=skip"),
    }
}

/// `n` uniform values in `[-scale, scale]`, from a seeded stream.
pub(crate) fn uniform(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let s = Stream::new(seed, 0x5EED);
    (0..n).map(|i| scale * (2.0 * s.uniform(i as u64) - 1.0) as f32).collect()
}

/// max |a − b|.
pub(crate) fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).abs()).fold(0.0, f64::max)
}

/// max |b| (at least `floor`).
pub(crate) fn max_abs(b: &[f32], floor: f64) -> f64 {
    b.iter().fold(floor, |m, v| m.max((*v as f64).abs()))
}

/// Asserts `max |got − want| ≤ tol` and prints the measured error (visible with
/// `--nocapture`), so the tolerances in the tests can be compared with what is observed.
pub(crate) fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f64) {
    assert!(got.iter().all(|v| v.is_finite()), "{what}: non-finite GPU output");
    let err = max_abs_diff(got, want);
    eprintln!("parity {what}: max abs err {err:.3e} (tolerance {tol:.3e}, max |cpu| {:.3})", max_abs(want, 0.0));
    assert!(err <= tol, "{what}: max abs error {err:e} > tolerance {tol:e}");
}

/// Asserts `|got[i] − want[i]| ≤ bound[i]` for every element and prints the largest error and
/// the largest error-to-bound ratio.
pub(crate) fn assert_within(what: &str, got: &[f32], want: &[f32], bound: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    assert!(got.iter().all(|v| v.is_finite()), "{what}: non-finite GPU output");
    let c = compare(got, want, bound);
    eprintln!("parity {what}: max abs err {:.3e}, worst err/bound {:.3}", c.max_err, c.ratio);
    let w = c.worst;
    assert!(c.ratio <= 1.0, "{what}: element {w}: {} vs {} exceeds bound {:e}", got[w], want[w], bound[w]);
}

pub(crate) use super::kernels::{compare, gemm_bound};
