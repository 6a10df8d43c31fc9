//! Which burn device training runs on: `--device auto|wgpu|flex|ndarray|libtorch`.
//!
//! * `flex`: burn's pure-Rust CPU backend (SIMD + rayon); always available, deterministic, and
//!   on a machine without a GPU much faster than wgpu over a software Vulkan driver (a small MLP
//!   trains at ~90 steps/s on flex against ~16 on lavapipe, whose first run also spends ~100 s
//!   compiling kernels; see `research/spike-native.md`).
//! * `wgpu`: burn's wgpu backend on the adapter wgpu prefers (a high-power GPU first). Fails if
//!   there is none. Runs on any adapter it finds, software or GL included, and says so.
//! * `auto`: `wgpu` when its adapter is a real GPU (not a CPU/software adapter, and not the GL
//!   backend, on which burn training deadlocked in the spike), else `libtorch` in a build that
//!   has it, else `flex`.
//!
//! * `ndarray`, `libtorch`: burn's other CPU backends, in builds with the cargo features
//!   `train-ndarray` (`train-blas`: with the system OpenBLAS) and `train-tch`; measured against
//!   flex and PyTorch in docs/training.md. Without the feature the choice is a clear error.
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
    /// burn's ndarray CPU backend (cargo feature `train-ndarray`; with `train-blas`, its
    /// matrix products run on the system OpenBLAS).
    Ndarray,
    /// burn's LibTorch backend on the CPU (cargo feature `train-tch`, linked against the
    /// libtorch of PyPI's `torch` package; see docs/training.md).
    Libtorch,
}

/// Every `--device` word, in the order the help lists them.
pub const DEVICE_CHOICES: [&str; 5] = ["auto", "wgpu", "flex", "ndarray", "libtorch"];

impl FromStr for DeviceChoice {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "wgpu" => Ok(DeviceChoice::Wgpu),
            "flex" => Ok(DeviceChoice::Flex),
            "ndarray" => Ok(DeviceChoice::Ndarray),
            "libtorch" => Ok(DeviceChoice::Libtorch),
            other => Err(DeviceError(format!("unknown device `{other}`; expected one of {}", DEVICE_CHOICES.join(", ")))),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Wgpu => "wgpu",
            DeviceChoice::Flex => "flex",
            DeviceChoice::Ndarray => "ndarray",
            DeviceChoice::Libtorch => "libtorch",
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
    /// burn's ndarray CPU backend.
    Ndarray,
    /// burn's LibTorch backend (CPU).
    Libtorch,
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
    let threads = pool_threads("RAYON_NUM_THREADS");
    SelectedDevice { device: Device::flex(), backend: Backend::Flex, description: format!("flex (CPU, {threads} threads){reason}") }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The threads of a pool that honours `var` (`RAYON_NUM_THREADS`, `OMP_NUM_THREADS`): its
/// value when it is a positive number, else one per core.
fn pool_threads(var: &str) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0).unwrap_or_else(threads)
}

#[cfg(feature = "train-ndarray")]
fn ndarray() -> Result<SelectedDevice, DeviceError> {
    let blas = if cfg!(feature = "train-blas") { ", OpenBLAS" } else { "" };
    #[allow(deprecated)] // burn 0.22 deprecates ndarray in favour of flex; it is measured against it
    let device = Device::ndarray();
    Ok(SelectedDevice { device, backend: Backend::Ndarray, description: format!("ndarray (CPU{blas})") })
}

#[cfg(not(feature = "train-ndarray"))]
fn ndarray() -> Result<SelectedDevice, DeviceError> {
    Err(DeviceError("this build has no ndarray backend: build with `--features train-ndarray` (or `train-blas`)".into()))
}

#[cfg(feature = "train-tch")]
fn libtorch() -> Result<SelectedDevice, DeviceError> {
    // LibTorch sizes its own thread pool (OpenMP): one thread per core unless OMP_NUM_THREADS says.
    let threads = pool_threads("OMP_NUM_THREADS");
    Ok(SelectedDevice { device: Device::libtorch(), backend: Backend::Libtorch, description: format!("libtorch (CPU, {threads} threads)") })
}

#[cfg(not(feature = "train-tch"))]
fn libtorch() -> Result<SelectedDevice, DeviceError> {
    Err(DeviceError("this build has no LibTorch backend: build with `--features train-tch` (docs/training.md, \"LibTorch\")".into()))
}

/// `auto`'s CPU backend: LibTorch where the build has it (2.7–4× flex on the MNIST UNet,
/// docs/training.md), else flex.
fn cpu_default(reason: &str) -> SelectedDevice {
    match libtorch() {
        Ok(mut sel) => {
            sel.description.push_str(reason);
            sel
        }
        Err(_) => flex(reason),
    }
}

/// Picks the device for `choice` (see the module docs).
pub fn select_device(choice: DeviceChoice) -> Result<SelectedDevice, DeviceError> {
    match choice {
        DeviceChoice::Flex => Ok(flex("")),
        DeviceChoice::Ndarray => ndarray(),
        DeviceChoice::Libtorch => libtorch(),
        DeviceChoice::Wgpu => {
            let p = probe_wgpu().map_err(|e| DeviceError(format!("no wgpu adapter: {e}")))?;
            let warn = if is_real_gpu(&p) { "" } else { " — not a real GPU; flex is likely faster (--device flex)" };
            Ok(SelectedDevice { device: p.device.clone(), backend: Backend::Wgpu, description: format!("wgpu: {}{warn}", describe(&p)) })
        }
        DeviceChoice::Auto => Ok(match probe_wgpu() {
            Ok(p) if is_real_gpu(&p) => SelectedDevice { device: p.device.clone(), backend: Backend::Wgpu, description: format!("wgpu: {}", describe(&p)) },
            Ok(p) => cpu_default(&format!("; wgpu's adapter is {}, not a real GPU", describe(&p))),
            Err(e) => cpu_default(&format!("; no wgpu adapter ({e})")),
        }),
    }
}
