//! The GPU runtime: both network families and the samplers on wgpu, with the hand-written WGSL
//! kernels of the repository's `wgsl/` folder, natively (Vulkan, Metal, DX12) and on the web's
//! WebGPU. The CPU reference (`nn`, `sampling::run`, `pipeline`) is its oracle in the parity
//! tests and the fallback where no adapter exists (see [`crate::backend`]).
//!
//! * [`shaders`]: the WGSL sources (always compiled; validated by naga in a unit test).
//! * [`GpuContext`]: adapter and device (honours `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`).
//! * [`GpuNetwork`]: one network's weights on the GPU and its compiled dispatch graph.
//! * [`KernelTime`]: one dispatch's GPU time, from [`GpuNetwork::profile`] (timestamp queries).
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
pub use profile::KernelTime;
#[cfg(feature = "gpu")]
pub use runtime::GpuModel;
