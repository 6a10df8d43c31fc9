//! The GPU runtime: both network families and the samplers on wgpu, with the hand-written WGSL
//! kernels of the repository's `wgsl/` folder, natively (Vulkan, Metal, DX12) and on the web's
//! WebGPU. The CPU reference (`nn`, `sampling::run`, `pipeline`) is its oracle in the parity
//! tests and the fallback where no adapter exists (see [`crate::backend`]).
//!
//! * [`shaders`]: the WGSL sources (always compiled; validated by naga in a unit test).
//! * [`GpuContext`]: adapter and device (honours `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`).
//! * [`GpuNetwork`]: one network's weights on the GPU and its compiled dispatch graph.
//! * [`KernelTime`]: one dispatch's GPU time, from [`GpuNetwork::profile`] (timestamp queries);
//!   [`DispatchCount`]: the dispatches of one evaluation, from [`GpuNetwork::dispatch_count`].
//! * [`ladder`]: each GEMM and convolution kernel variant timed alone at a network's layer
//!   shapes, after a parity check against the CPU reference (`beeline bench --ladder`).
//! * [`GpuModel`]: a model file on the GPU with an async `generate` that mirrors
//!   [`pipeline::generate`](crate::pipeline::generate): same noise, same labels, same results
//!   up to f32 rounding.
//!
//! Everything that waits for the GPU is `async` (a browser cannot block); natively the futures
//! drive the device with `Device::poll` and complete without an executor's help
//! (`pollster::block_on` is enough).

pub mod shaders;

#[cfg(feature = "gpu")]
mod context;
#[cfg(feature = "gpu")]
pub(crate) mod kernels;
#[cfg(all(feature = "gpu", not(target_arch = "wasm32")))]
pub mod ladder;
#[cfg(feature = "gpu")]
mod network;
#[cfg(feature = "gpu")]
mod profile;
#[cfg(feature = "gpu")]
mod runtime;
#[cfg(feature = "gpu")]
mod sampler;
#[cfg(all(test, feature = "gpu", not(target_arch = "wasm32")))]
pub(crate) mod testutil;

#[cfg(feature = "gpu")]
pub use context::{AdapterSummary, GpuContext};
#[cfg(feature = "gpu")]
pub use kernels::KernelVariant;
#[cfg(feature = "gpu")]
pub use network::GpuNetwork;
#[cfg(feature = "gpu")]
pub use profile::{DispatchCount, DispatchKind, KernelTime};
#[cfg(feature = "gpu")]
pub use runtime::GpuModel;

/// The GPU tests' policy, for every test crate: a test that needs the GPU path and finds no
/// adapter **fails**, unless `BEELINE_GPU_TESTS=skip` asks for it to be skipped. Then this
/// returns `true` after writing `SKIPPED (BEELINE_GPU_TESTS=skip): {test}` to the real stderr
/// (past the harness's capture), and the test returns. No GPU test passes silently.
pub fn gpu_tests_skipped(test: &str) -> bool {
    let skip = std::env::var("BEELINE_GPU_TESTS").is_ok_and(|v| v == "skip");
    if skip {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "*** SKIPPED (BEELINE_GPU_TESTS=skip): {test} ***");
    }
    skip
}
