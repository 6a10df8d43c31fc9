//! Which burn device training runs on: `--device auto|wgpu|flex`.
//!
//! * `flex`: burn's pure-Rust CPU backend (SIMD + rayon); always available, deterministic, and
//!   on a machine without a GPU much faster than wgpu over a software Vulkan driver (a small MLP
//!   trains at ~90 steps/s on flex against ~16 on lavapipe, whose first run also spends ~100 s
//!   compiling kernels; see `research/spike-native.md`).
//! * `wgpu`: burn's wgpu backend on the adapter wgpu prefers (a high-power GPU first). Fails if
//!   there is none. Runs on any adapter it finds, software or GL included, and says so.
//! * `auto`: `wgpu` when its adapter is a real GPU (not a CPU/software adapter, and not the GL
//!   backend, on which burn training deadlocked in the spike), else `flex`.
//!
//! The returned device has no autodiff; call `.autodiff()` on it to train.

use burn::tensor::wgpu::wgpu;
use burn::tensor::Device;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// The `--device` choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// A real GPU through wgpu if there is one, else flex.
    #[default]
    Auto,
    /// burn's wgpu backend (errors if no adapter).
    Wgpu,
    /// burn's pure-Rust CPU backend.
    Flex,
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "wgpu" => Ok(DeviceChoice::Wgpu),
            "flex" => Ok(DeviceChoice::Flex),
            other => Err(DeviceError(format!("unknown device `{other}`; expected auto, wgpu or flex"))),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Wgpu => "wgpu",
            DeviceChoice::Flex => "flex",
        })
    }
}

/// The backend a device runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// burn's wgpu backend.
    Wgpu,
    /// burn's flex CPU backend.
    Flex,
}

/// A device could not be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceError(pub String);

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeviceError {}

/// The chosen device and a one-line report of what it is and why.
#[derive(Clone, Debug)]
pub struct SelectedDevice {
    /// The device (without autodiff).
    pub device: Device,
    /// Its backend.
    pub backend: Backend,
    /// E.g. `"wgpu: NVIDIA H100 (DiscreteGpu, Vulkan)"` or
    /// `"flex (CPU, 2 threads); wgpu's only adapter is llvmpipe (Cpu, Vulkan)"`.
    pub description: String,
}

/// What burn's wgpu runtime came up on, once per process (burn refuses a second init).
#[derive(Clone, Debug)]
struct WgpuProbe {
    device: Device,
    info: wgpu::AdapterInfo,
    backend: wgpu::Backend,
}

fn probe_wgpu() -> Result<WgpuProbe, String> {
    static PROBE: OnceLock<Result<WgpuProbe, String>> = OnceLock::new();
    PROBE
        .get_or_init(|| match Device::wgpu_options().init_with_setup() {
            Ok((device, setup)) => Ok(WgpuProbe { device, info: setup.adapter.get_info(), backend: setup.backend }),
            Err(e) => Err(e.to_string()),
        })
        .clone()
}

fn describe(p: &WgpuProbe) -> String {
    format!("{} ({:?}, {:?})", p.info.name, p.info.device_type, p.backend)
}

/// Whether an adapter is a real GPU that burn trains well on.
fn is_real_gpu(p: &WgpuProbe) -> bool {
    p.info.device_type != wgpu::DeviceType::Cpu && p.backend != wgpu::Backend::Gl
}

fn flex(reason: &str) -> SelectedDevice {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    SelectedDevice { device: Device::flex(), backend: Backend::Flex, description: format!("flex (CPU, {threads} threads){reason}") }
}

/// Picks the device for `choice` (see the module docs).
pub fn select_device(choice: DeviceChoice) -> Result<SelectedDevice, DeviceError> {
    match choice {
        DeviceChoice::Flex => Ok(flex("")),
        DeviceChoice::Wgpu => {
            let p = probe_wgpu().map_err(|e| DeviceError(format!("no wgpu adapter: {e}")))?;
            let warn = if is_real_gpu(&p) { "" } else { " — not a real GPU; flex is likely faster (--device flex)" };
            Ok(SelectedDevice { device: p.device.clone(), backend: Backend::Wgpu, description: format!("wgpu: {}{warn}", describe(&p)) })
        }
        DeviceChoice::Auto => Ok(match probe_wgpu() {
            Ok(p) if is_real_gpu(&p) => SelectedDevice { device: p.device.clone(), backend: Backend::Wgpu, description: format!("wgpu: {}", describe(&p)) },
            Ok(p) => flex(&format!("; wgpu's adapter is {}, not a real GPU", describe(&p))),
            Err(e) => flex(&format!("; no wgpu adapter ({e})")),
        }),
    }
}
