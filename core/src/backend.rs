//! Which backend runs the networks, chosen at run time, with the reason reported.
//!
//! * [`Backend::Cpu`]: the CPU reference (`nn`), always available.
//! * [`Backend::Gpu`]: the wgpu/WebGPU runtime ([`crate::gpu`]) on whatever adapter
//!   [`GpuContext::new`](crate::gpu::GpuContext::new) finds (honouring `WGPU_BACKEND` and
//!   `WGPU_ADAPTER_NAME`), software adapters included; an error
//!   ([`Error::GpuUnavailable`]) if there is none or the build has no `gpu` feature.
//! * [`Backend::Auto`]: the GPU when a hardware adapter exists, else the CPU reference. A
//!   software adapter (lavapipe/llvmpipe, SwiftShader, WARP: device type `Cpu`) is skipped
//!   because it emulates the GPU on the same cores, several times slower than the CPU
//!   reference; naming it with `WGPU_ADAPTER_NAME` (or asking for [`Backend::Gpu`]) uses it.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// The backend a user asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The GPU if a hardware adapter exists, else the CPU reference.
    #[default]
    Auto,
    /// The GPU, or an error.
    Gpu,
    /// The CPU reference.
    Cpu,
}

impl FromStr for Backend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Backend> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Backend::Auto),
            "gpu" => Ok(Backend::Gpu),
            "cpu" => Ok(Backend::Cpu),
            _ => Err(Error::InvalidInput(format!("unknown backend {s:?}; use auto, gpu or cpu"))),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Auto => "auto",
            Backend::Gpu => "gpu",
            Backend::Cpu => "cpu",
        })
    }
}

/// The backend that was chosen.
#[derive(Clone, Debug)]
pub enum Selected {
    /// The CPU reference.
    Cpu,
    /// The GPU runtime on this device.
    #[cfg(feature = "gpu")]
    Gpu(crate::gpu::GpuContext),
}

/// A chosen backend and why, e.g. `"gpu: NVIDIA GeForce RTX 4090 (Vulkan)"` or
/// `"cpu: no WebGPU/wgpu adapter found (…)"`.
#[derive(Clone, Debug)]
pub struct Choice {
    /// The backend.
    pub selected: Selected,
    /// One line for people: the backend, then why.
    pub reason: String,
}

impl Choice {
    fn cpu(reason: impl Into<String>) -> Choice {
        Choice { selected: Selected::Cpu, reason: format!("cpu: {}", reason.into()) }
    }

    /// `"gpu"` or `"cpu"`.
    pub fn kind(&self) -> &'static str {
        match self.selected {
            Selected::Cpu => "cpu",
            #[cfg(feature = "gpu")]
            Selected::Gpu(_) => "gpu",
        }
    }

    /// The adapter, `"name (API)"`, when the GPU was chosen.
    pub fn adapter(&self) -> Option<String> {
        match &self.selected {
            Selected::Cpu => None,
            #[cfg(feature = "gpu")]
            Selected::Gpu(ctx) => Some(ctx.adapter().describe()),
        }
    }
}

/// Chooses the backend for `want`. Only [`Backend::Gpu`] can fail (with
/// [`Error::GpuUnavailable`], when no adapter can be used); `Auto` falls back to the CPU and
/// says why.
pub async fn choose(want: Backend) -> Result<Choice> {
    match want {
        Backend::Cpu => Ok(Choice::cpu("requested")),
        Backend::Gpu => gpu_choice().await,
        Backend::Auto => match gpu_choice().await {
            Ok(c) => Ok(auto_filter(c)),
            Err(e) => Ok(Choice::cpu(format!("no WebGPU/wgpu adapter found ({e})"))),
        },
    }
}

#[cfg(feature = "gpu")]
async fn gpu_choice() -> Result<Choice> {
    let ctx = crate::gpu::GpuContext::new().await?;
    let reason = format!("gpu: {}", ctx.adapter().describe());
    Ok(Choice { selected: Selected::Gpu(ctx), reason })
}

#[cfg(not(feature = "gpu"))]
async fn gpu_choice() -> Result<Choice> {
    Err(Error::GpuUnavailable("this build has no GPU runtime (the `gpu` feature is off)".into()))
}

/// `Auto` keeps a hardware adapter, or one the user named with `WGPU_ADAPTER_NAME`.
fn auto_filter(c: Choice) -> Choice {
    match &c.selected {
        #[cfg(feature = "gpu")]
        Selected::Gpu(ctx) if ctx.adapter().is_software() && !adapter_named() => Choice::cpu(format!(
            "the only adapter, {}, is a software rasterizer on the CPU, slower than the CPU reference \
             (ask for the GPU backend, or name it in WGPU_ADAPTER_NAME, to use it anyway)",
            ctx.adapter().describe()
        )),
        _ => c,
    }
}

#[cfg(feature = "gpu")]
fn adapter_named() -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    return std::env::var_os("WGPU_ADAPTER_NAME").is_some();
    #[cfg(target_arch = "wasm32")]
    return false;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for b in [Backend::Auto, Backend::Gpu, Backend::Cpu] {
            assert_eq!(b.to_string().parse::<Backend>().unwrap(), b);
        }
        assert_eq!("GPU".parse::<Backend>().unwrap(), Backend::Gpu);
        assert!(matches!("tpu".parse::<Backend>(), Err(Error::InvalidInput(_))));
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn cpu_is_always_available_and_auto_never_fails() {
        let c = pollster::block_on(choose(Backend::Cpu)).unwrap();
        assert_eq!((c.kind(), c.adapter()), ("cpu", None));
        assert_eq!(c.reason, "cpu: requested");
        let a = pollster::block_on(choose(Backend::Auto)).unwrap();
        assert!(a.reason.starts_with(a.kind()), "{}", a.reason);
    }
}
