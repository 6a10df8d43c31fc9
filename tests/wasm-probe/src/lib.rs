//! C-ABI exports of the core, for checking that wasm32 computes exactly what native computes.
//! Built for `wasm32-unknown-unknown` and driven from Node by `tests/tests/native_vs_wasm.rs`;
//! no wasm-bindgen is involved, so the check needs only `rustup target add` and Node.

use beeline::noise;

/// Allocates `n` f32 in the module's memory and leaks them; returns the pointer.
#[unsafe(no_mangle)]
pub extern "C" fn alloc_f32(n: usize) -> *mut f32 {
    Box::leak(vec![0.0f32; n].into_boxed_slice()).as_mut_ptr()
}

/// Fills `out[0..batch·numel]` with the Gaussian noise of `seed` (split in two u32 halves, since
/// Node passes 64-bit integers as BigInt), samples `first..first+batch`.
///
/// # Safety
/// `out` must point to `batch·numel` writable f32 (from [`alloc_f32`]).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fill_noise(seed_lo: u32, seed_hi: u32, first: u32, batch: u32, numel: u32, out: *mut f32) {
    let seed = (seed_hi as u64) << 32 | seed_lo as u64;
    let v = noise::gaussian_batch(seed, first as u64, batch as usize, numel as usize);
    // SAFETY: the caller provides room for batch·numel values.
    unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), out, v.len()) };
}

/// `noise::fingerprint` of the noise for (seed, samples 0..batch, numel).
#[unsafe(no_mangle)]
pub extern "C" fn noise_fingerprint(seed_lo: u32, seed_hi: u32, batch: u32, numel: u32) -> u64 {
    let seed = (seed_hi as u64) << 32 | seed_lo as u64;
    noise::fingerprint(&noise::gaussian_batch(seed, 0, batch as usize, numel as usize))
}
