//! `beeline bench`: milliseconds per network evaluation, images per second and GFLOP/s of one
//! network with one set of weights on every backend Beeline has — the WGSL runtime
//! (`beeline::gpu`), the CPU reference (`beeline::nn`) and, in a build with the `train` feature,
//! burn's wgpu and flex backends running the same architecture (`beeline::train::Net`) — with
//! the ratios between them computed in the same run.
//!
//! Every backend gets the same seeded weights and the same inputs. A timed evaluation is one
//! forward pass from host inputs to host outputs: the GPU backends upload the inputs, run, and
//! read the result back inside the timed region (a readback waits for the GPU), so the time is
//! the real one. Each backend's output is also compared with the CPU reference's, to show that
//! the columns compute the same function.

mod ladder;
mod profile;

use anyhow::{Context, Result};
use beeline::config::ArchConfig;
use beeline::gpu::{AdapterSummary, DispatchCount, GpuContext, GpuNetwork};
use beeline::modelfile::ModelFile;
use beeline::nn::{self, Network, Workspace};
use beeline::weights::Weights;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// Time one network evaluation on the WGSL runtime, the CPU reference and burn's backends.
///
/// Same seeded weights and inputs everywhere; medians and minima of `--iters` timed evaluations
/// after `--warmup` untimed ones (the first evaluation, with shader compilation or autotuning,
/// is reported apart). burn's columns need a build with the `train` feature
/// (`cargo run -p beeline-cli --features train -- bench`); burn's wgpu device is put on the
/// adapter the WGSL runtime uses (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME` pick it).
///
/// Full generation of every bundled model on every backend, written into docs/BENCHMARKS.md,
/// is the lab's (`cargo run --release -p beeline-lab -- benchmarks`).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline bench --batches 1,16 --iters 3
  beeline bench --arch mlp --backends cpu,burn-flex --json
  beeline bench --model m.safetensors --out bench.json
  beeline bench --backends wgsl --batches 16 --profile
  beeline bench --ladder --batches 1,16 --ladder-sizes unet --iters 3
  beeline bench --ladder --batches 1,16,64,256 --peak-gflops 67000 --out ladder.json")]
pub struct Args {
    /// Model file (.safetensors) or bundled model's name whose first network (`velocity` if
    /// present) and weights are timed. Without it, `--arch` with seeded random weights.
    #[arg(long, conflicts_with = "arch")]
    pub model: Option<PathBuf>,
    /// Architecture without `--model`: `mnist-unet` (the MNIST UNet preset, 28×28, 10 classes)
    /// or `mlp` (the 2D-toy MLP, hidden 128, depth 3).
    #[arg(long, default_value = "mnist-unet", value_parser = ["mnist-unet", "mlp"])]
    pub arch: String,
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub batches: Vec<usize>,
    /// Timed evaluations per backend and batch.
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// Untimed evaluations before timing (the first one compiles shaders / autotunes).
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Backends, comma-separated: wgsl, cpu, burn-wgpu, burn-flex.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "wgsl,cpu,burn-wgpu,burn-flex")]
    pub backends: Vec<Kind>,
    /// Seed of the random weights (without `--model`) and of the inputs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the report as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file (`-`: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also time every kernel of the `wgsl` column at each batch (GPU timestamp queries; the
    /// adapter must offer `timestamp-query`): a per-kernel summary and the slowest dispatches,
    /// and the number of compute dispatches per evaluation, by kind and kernel.
    #[arg(long)]
    pub profile: bool,
    /// Instead of whole evaluations, time every GEMM and 3×3-convolution kernel variant of the
    /// WGSL runtime (tiled and direct) alone at the network's layer shapes for each of
    /// `--batches` (and a 1024×1024×1024 GEMM), each checked against the CPU reference
    /// first: GFLOP/s per variant and shape. `--iters`, `--warmup`, `--json`, `--out` apply.
    #[arg(long, conflicts_with_all = ["backends", "profile"])]
    pub ladder: bool,
    /// The ladder's problems: `unet` (the network's layer shapes), `all` (also the
    /// 1024×1024×1024 GEMM: 2.1 GFLOP per dispatch, seconds per dispatch on a software
    /// adapter) or `gemm1024` (that GEMM alone).
    #[arg(long, value_enum, default_value = "all", requires = "ladder")]
    pub ladder_sizes: LadderSizes,
    /// The device's fp32 peak in GFLOP/s, for the ladder's share of peak (e.g. 67000 for an
    /// H200's non-tensor fp32). Without it no share is printed: wgpu does not report the
    /// hardware's peak, and a software adapter has none.
    #[arg(long, value_name = "GFLOP/S", requires = "ladder", value_parser = positive_f64)]
    pub peak_gflops: Option<f64>,
}

/// The problems `--ladder` times.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LadderSizes {
    /// The network's GEMM and convolution shapes at each batch.
    Unet,
    /// Those and the 1024×1024×1024 GEMM.
    All,
    /// Only the 1024×1024×1024 GEMM.
    Gemm1024,
}

/// clap's parser for a positive, finite number.
fn positive_f64(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} is not a positive number")),
        Err(e) => Err(e.to_string()),
    }
}

/// A backend the bench can time.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Beeline's WGSL runtime (`beeline::gpu`).
    Wgsl,
    /// Beeline's CPU reference (`beeline::nn`).
    Cpu,
    /// burn 0.22's wgpu backend (fusion, autotune) running `beeline::train::Net`.
    BurnWgpu,
    /// burn 0.22's pure-Rust CPU backend `flex` running `beeline::train::Net`.
    BurnFlex,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Wgsl => "wgsl",
            Kind::Cpu => "cpu",
            Kind::BurnWgpu => "burn-wgpu",
            Kind::BurnFlex => "burn-flex",
        }
    }
}

/// The network under test.
pub struct Workload {
    /// Where it came from, e.g. `"preset mnist-unet, random weights (seed 1)"`.
    pub source: String,
    pub arch: ArchConfig,
    pub weights: Weights,
    /// Tensor-name prefix of the network in `weights`.
    pub prefix: String,
}

impl Workload {
    fn from_args(a: &Args) -> Result<Workload> {
        if let Some(path) = &a.model {
            let (bytes, name) = crate::bundled::model_bytes(path)?;
            let file = ModelFile::from_bytes(&bytes).with_context(|| format!("loading {name}"))?;
            let (role, arch) = file.config.networks.iter().next().map(|(r, a)| (*r, a.clone())).context("the model file has no network")?;
            return Ok(Workload {
                source: format!("{name} (network `{}`)", role.prefix()),
                arch,
                weights: file.weights,
                prefix: role.prefix().to_string(),
            });
        }
        let arch = match a.arch.as_str() {
            "mnist-unet" => ArchConfig::Unet(beeline::presets::unet_mnist()),
            _ => ArchConfig::Mlp(beeline::presets::mlp(2, 128, 3, 0)),
        };
        Ok(Workload::random(&format!("preset {}", a.arch), arch, a.seed))
    }

    /// `arch` with seeded random weights (`nn::init::random_weights`).
    pub fn random(name: &str, arch: ArchConfig, seed: u64) -> Workload {
        let weights = nn::init::random_weights(&arch, "velocity", seed);
        Workload { source: format!("{name}, random weights (seed {seed})"), arch, weights, prefix: "velocity".into() }
    }
}

/// How to time.
#[derive(Clone, Debug)]
pub struct Settings {
    pub batches: Vec<usize>,
    pub iters: usize,
    pub warmup: usize,
    pub backends: Vec<Kind>,
    pub seed: u64,
    /// Also profile the kernels of the `wgsl` column.
    pub profile: bool,
}

/// One batch of inputs, the same for every backend.
pub struct Inputs {
    pub batch: usize,
    pub x: Vec<f32>,
    pub cond: Option<Vec<f32>>,
    pub t: Vec<f32>,
    pub labels: Option<Vec<u32>>,
}

impl Inputs {
    fn new(arch: &ArchConfig, batch: usize, seed: u64) -> Inputs {
        let numel: usize = arch.sample_shape().iter().product();
        let cn = arch.cond_numel();
        let nc = arch.num_classes();
        Inputs {
            batch,
            x: beeline::noise::gaussian_batch(seed, 0, batch, numel),
            cond: (cn > 0).then(|| beeline::noise::gaussian_batch(seed + 1, 0, batch, cn)),
            t: (0..batch).map(|i| (i as f32 + 0.5) / batch as f32).collect(),
            labels: (nc > 0).then(|| (0..batch).map(|i| (i % nc) as u32).collect()),
        }
    }
}

/// One forward pass, host inputs to host outputs (waiting for the device).
trait Runner {
    fn forward(&mut self, inp: &Inputs) -> Result<Vec<f32>>;

    /// Per-kernel GPU times of `iters` evaluations (`None`: this backend has none).
    fn profile(&mut self, _inp: &Inputs, _iters: usize) -> Option<beeline::Result<profile::Profile>> {
        None
    }

    /// The compute dispatches of one evaluation of `batch` samples (`None`: not a WGSL column).
    fn dispatches(&self, _batch: usize) -> Option<beeline::Result<DispatchCount>> {
        None
    }
}

struct CpuRunner {
    net: Network,
    ws: Workspace,
}

impl Runner for CpuRunner {
    fn forward(&mut self, inp: &Inputs) -> Result<Vec<f32>> {
        debug_assert_eq!(inp.t.len(), inp.batch);
        let mut out = vec![0.0; inp.x.len()];
        self.net.forward(&inp.x, inp.cond.as_deref(), &inp.t, inp.labels.as_deref(), &mut out, &mut self.ws)?;
        Ok(out)
    }
}

struct WgslRunner {
    net: GpuNetwork,
}

impl Runner for WgslRunner {
    fn forward(&mut self, inp: &Inputs) -> Result<Vec<f32>> {
        // Uploads the inputs, one submission, one readback that waits for the GPU.
        Ok(pollster::block_on(self.net.forward(&inp.x, inp.cond.as_deref(), &inp.t, inp.labels.as_deref()))?)
    }

    fn profile(&mut self, inp: &Inputs, iters: usize) -> Option<beeline::Result<profile::Profile>> {
        Some(profile::Profile::measure(&self.net, &inp.x, inp.cond.as_deref(), &inp.t, inp.labels.as_deref(), iters))
    }

    fn dispatches(&self, batch: usize) -> Option<beeline::Result<DispatchCount>> {
        Some(self.net.dispatch_count(batch))
    }
}

/// What a user needs to know about an adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adapter {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

impl Adapter {
    fn from_summary(a: &AdapterSummary) -> Adapter {
        Adapter { name: a.name.clone(), backend: a.backend.clone(), device_type: a.device_type.clone(), driver: a.driver.clone() }
    }

    pub fn describe(&self) -> String {
        format!("{} ({}, {}; driver {})", self.name, self.backend, self.device_type, if self.driver.is_empty() { "?" } else { &self.driver })
    }

    fn json(&self) -> Value {
        json!({"name": self.name, "backend": self.backend, "device_type": self.device_type, "driver": self.driver})
    }
}

/// A backend as set up for this run: what it runs on, or why it does not run.
#[derive(Clone, Debug)]
pub struct BackendInfo {
    pub kind: Kind,
    /// `Ok(description)` or `Err(why it is not run)`.
    pub status: std::result::Result<String, String>,
    pub adapter: Option<Adapter>,
}

/// The timings of one backend at one batch size.
#[derive(Clone, Debug)]
pub struct Row {
    pub kind: Kind,
    pub batch: usize,
    /// The first evaluation (shader compilation, buffer allocation, autotuning).
    pub first_ms: f64,
    /// Every timed evaluation.
    pub samples_ms: Vec<f64>,
    pub median_ms: f64,
    pub min_ms: f64,
    /// From the median.
    pub images_per_s: f64,
    /// From the median and `nn::flops`.
    pub gflops: f64,
    /// max |y − y_cpu| / max(1, max |y_cpu|) against the CPU reference on the same inputs.
    pub max_rel_diff: f64,
    /// An error that stopped this backend at this batch.
    pub error: Option<String>,
}

/// A ratio of median times at one batch: `slow / fast`, > 1 when `fast` is faster.
#[derive(Clone, Debug)]
pub struct Ratio {
    pub batch: usize,
    pub fast: Kind,
    pub slow: Kind,
    pub value: f64,
    /// The target `value` should reach, where one is set for this architecture and batch.
    pub target: Option<f64>,
}

/// Everything one run measured.
pub struct Report {
    pub source: String,
    pub arch: ArchConfig,
    pub params: usize,
    pub flops_per_sample: u64,
    pub build: String,
    pub threads: usize,
    pub loadavg_start: Option<String>,
    pub loadavg_end: Option<String>,
    pub unix_time: u64,
    pub settings: Settings,
    pub backends: Vec<BackendInfo>,
    pub rows: Vec<Row>,
    /// Per-kernel profiles of the `wgsl` column, per batch (`--profile`).
    pub profiles: Vec<profile::Profile>,
    /// The `wgsl` column's compute dispatches per evaluation, per batch (`--profile`).
    pub dispatches: Vec<DispatchCount>,
    /// Why a requested profile is missing.
    pub profile_errors: Vec<String>,
}

/// The build that produced the numbers: optimisation level matters for the CPU columns.
pub fn build_description() -> String {
    let profile = if cfg!(debug_assertions) {
        "dev profile (beeline crates at opt-level 1, dependencies incl. burn and wgpu at 3)"
    } else {
        "release profile (opt-level 3)"
    };
    let features = if cfg!(feature = "train") { "gpu, train" } else { "gpu (no train: no burn)" };
    format!("{profile}; features {features}")
}

/// The load averages of /proc/loadavg (1, 5, 15 min), where there is one.
pub fn loadavg() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// The median (NaN for none).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Milliseconds since `t0`.
pub fn ms_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}

/// Sets up every requested backend. A backend that cannot run is reported with the reason.
fn setup(w: &Workload, kinds: &[Kind]) -> Vec<(BackendInfo, Option<Box<dyn Runner>>)> {
    let threads = nn::cpu_threads();
    // The WGSL runtime's adapter: also the one burn's wgpu device is put on.
    let need_gpu = kinds.iter().any(|k| matches!(k, Kind::Wgsl | Kind::BurnWgpu));
    let ctx: Option<std::result::Result<GpuContext, String>> = need_gpu.then(|| pollster::block_on(GpuContext::new()).map_err(|e| e.to_string()));
    let wgsl_adapter = ctx.as_ref().and_then(|c| c.as_ref().ok()).map(|c| c.adapter().clone());
    let mut out: Vec<(BackendInfo, Option<Box<dyn Runner>>)> = Vec::new();
    for &kind in kinds {
        if out.iter().any(|(i, _)| i.kind == kind) {
            continue;
        }
        let not_run = |why: String| (BackendInfo { kind, status: Err(why), adapter: None }, None);
        let entry: (BackendInfo, Option<Box<dyn Runner>>) = match kind {
            Kind::Cpu => match Network::new(&w.arch, &w.weights, &w.prefix) {
                Ok(net) => {
                    (BackendInfo { kind, status: Ok(format!("CPU reference (beeline::nn), {threads} threads (rayon)")), adapter: None }, Some(Box::new(CpuRunner { net, ws: Workspace::new() })))
                }
                Err(e) => not_run(format!("the network does not build: {e}")),
            },
            Kind::Wgsl => match ctx.as_ref() {
                Some(Ok(c)) => match GpuNetwork::new(c, &w.arch, &w.weights, &w.prefix) {
                    Ok(net) => {
                        let a = Adapter::from_summary(c.adapter());
                        let soft = if c.adapter().is_software() { " — a software adapter: emulates a GPU on the CPU cores" } else { "" };
                        (
                            BackendInfo { kind, status: Ok(format!("Beeline WGSL runtime on {}{soft}", a.describe())), adapter: Some(a) },
                            Some(Box::new(WgslRunner { net })),
                        )
                    }
                    Err(e) => not_run(format!("the network does not build on the GPU: {e}")),
                },
                Some(Err(e)) => not_run(format!("no usable wgpu adapter: {e}")),
                None => unreachable!("a GPU context is made when wgsl is asked for"),
            },
            Kind::BurnWgpu | Kind::BurnFlex => burn_setup(kind, w, wgsl_adapter.as_ref(), threads),
        };
        out.push(entry);
    }
    out
}

#[cfg(not(feature = "train"))]
fn burn_setup(kind: Kind, _w: &Workload, _target: Option<&AdapterSummary>, _threads: usize) -> (BackendInfo, Option<Box<dyn Runner>>) {
    let why = "this build has no burn: build with `--features train` (cargo run -p beeline-cli --features train -- bench)".to_string();
    (BackendInfo { kind, status: Err(why), adapter: None }, None)
}

#[cfg(feature = "train")]
fn burn_setup(kind: Kind, w: &Workload, target: Option<&AdapterSummary>, threads: usize) -> (BackendInfo, Option<Box<dyn Runner>>) {
    use beeline::train::Net;
    use beeline::train::burn::tensor::Device;
    let (device, status, adapter) = match kind {
        Kind::BurnFlex => (Device::flex(), format!("burn 0.22 flex (pure-Rust CPU, SIMD + rayon), {threads} threads"), None),
        _ => match burn_side::wgpu_device(target) {
            Ok((device, adapter, note)) => (device, format!("burn 0.22 wgpu (fusion, autotune) on {}{note}", adapter.describe()), Some(adapter)),
            Err(e) => return (BackendInfo { kind, status: Err(format!("burn's wgpu device: {e}")), adapter: None }, None),
        },
    };
    match Net::from_weights(&w.arch, &w.weights, &w.prefix, 0.0, &device) {
        Ok(net) => (BackendInfo { kind, status: Ok(status), adapter }, Some(Box::new(burn_side::BurnRunner { net, device }))),
        Err(e) => (BackendInfo { kind, status: Err(format!("the network does not build in burn: {e}")), adapter }, None),
    }
}

#[cfg(feature = "train")]
pub mod burn_side {
    use super::{Adapter, Inputs, Runner};
    use anyhow::Result;
    use beeline::gpu::AdapterSummary;
    use beeline::train::burn::tensor::wgpu::{WgpuBackend, wgpu};
    use beeline::train::burn::tensor::{Device, DeviceKind, Int, Tensor, TensorData};
    use beeline::train::{Net, class_rows};

    /// burn's module forward from host inputs to host outputs: the inputs are uploaded, the
    /// time features made on the host (as in training), and the result read back, which waits
    /// for every queued kernel.
    pub(super) struct BurnRunner {
        pub(super) net: Net,
        pub(super) device: Device,
    }

    impl Runner for BurnRunner {
        fn forward(&mut self, inp: &Inputs) -> Result<Vec<f32>> {
            Ok(forward(&self.net, &self.device, &inp.x, inp.cond.as_deref(), &inp.t, inp.labels.as_deref())?)
        }
    }

    /// `net` on host inputs (`x`, `cond`: `[batch, numel]`; `t`: one time per sample; labels
    /// for conditional networks, [`beeline::field::NULL_LABEL`] for the null class), read back.
    pub fn forward(net: &Net, d: &Device, x: &[f32], cond: Option<&[f32]>, t: &[f32], labels: Option<&[u32]>) -> beeline::Result<Vec<f32>> {
        let b = t.len();
        let xt = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [b, x.len() / b]), d);
        let ct = cond.map(|c| Tensor::<2>::from_data(TensorData::new(c.to_vec(), [b, c.len() / b]), d));
        let features = net.time_features(t, d);
        let classes = net.arch().num_classes();
        let lt: Option<Tensor<1, Int>> = match labels {
            Some(l) if classes > 0 => Some(class_rows(l, classes, d)?),
            _ => None,
        };
        let y = net.forward_flat(xt, ct, features, lt);
        y.into_data().try_into_vec_as::<f32>().map_err(|e| beeline::Error::InvalidInput(format!("reading burn's output: {e:?}")))
    }

    fn api(backend: &str) -> Option<(WgpuBackend, wgpu::Backend)> {
        Some(match backend {
            "Vulkan" => (WgpuBackend::Vulkan, wgpu::Backend::Vulkan),
            "Metal" => (WgpuBackend::Metal, wgpu::Backend::Metal),
            "Dx12" => (WgpuBackend::Dx12, wgpu::Backend::Dx12),
            "Gl" => (WgpuBackend::Gl, wgpu::Backend::Gl),
            _ => return None,
        })
    }

    /// burn's wgpu device on the adapter `target` (the WGSL runtime's): the same graphics API
    /// and the adapter's kind and index among adapters of that kind, as burn selects them
    /// (`Device::wgpu_options().device_kind(..).graphics_api(..)`). burn then makes its own
    /// wgpu device on that adapter (with the features and limits its compiler wants), so the
    /// two runtimes share the hardware, not the queue. The adapter burn got is read back from
    /// its setup and compared by name. Without a target, burn's default adapter.
    pub fn wgpu_device(target: Option<&AdapterSummary>) -> std::result::Result<(Device, Adapter, String), String> {
        let mut opts = Device::wgpu_options();
        if let Some(t) = target {
            let (burn_api, wgpu_api) = api(&t.backend).ok_or_else(|| format!("the WGSL runtime's API {} has no burn equivalent", t.backend))?;
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor { backends: wgpu_api.into(), ..wgpu::InstanceDescriptor::new_without_display_handle() });
            let adapters = pollster::block_on(instance.enumerate_adapters(wgpu_api.into()));
            let infos: Vec<wgpu::AdapterInfo> = adapters.iter().map(|a| a.get_info()).collect();
            let me = infos.iter().find(|i| i.name == t.name).ok_or_else(|| format!("adapter {} not found again on {}", t.name, t.backend))?;
            let ty = me.device_type;
            let index = infos.iter().filter(|i| i.device_type == ty).position(|i| i.name == t.name).unwrap_or(0);
            let kind = match ty {
                wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(index),
                wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(index),
                wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(index),
                wgpu::DeviceType::Cpu if index == 0 => DeviceKind::Cpu,
                _ => DeviceKind::DefaultDevice,
            };
            opts = opts.device_kind(kind).graphics_api(burn_api);
        }
        let (device, setup) = opts.init_with_setup().map_err(|e| e.to_string())?;
        let info = setup.adapter.get_info();
        let adapter = Adapter {
            name: info.name.clone(),
            backend: format!("{:?}", setup.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        };
        let note = match target {
            Some(t) if t.name == adapter.name && t.backend == adapter.backend => " — the WGSL runtime's adapter".to_string(),
            Some(t) => format!(" — NOT the WGSL runtime's adapter ({}); ratios compare different hardware", t.describe()),
            None => String::new(),
        };
        Ok((device, adapter, note))
    }
}

/// Runs the bench: setup, then for each batch every backend in turn (so that the backends
/// compared at one batch are measured close together in time), warm-up, then timed evaluations.
pub fn run_bench(w: &Workload, s: &Settings, progress: &mut dyn FnMut(&str)) -> Result<Report> {
    if s.batches.is_empty() || s.batches.contains(&0) {
        return Err(beeline::Error::InvalidInput("--batches needs one or more batch sizes ≥ 1".into()).into());
    }
    if s.iters == 0 {
        return Err(beeline::Error::InvalidInput("--iters must be at least 1".into()).into());
    }
    let loadavg_start = loadavg();
    let flops = nn::flops(&w.arch);
    let reference = Network::new(&w.arch, &w.weights, &w.prefix)?;
    let mut set = setup(w, &s.backends);
    for (info, _) in &set {
        progress(&match &info.status {
            Ok(d) => format!("{:<9} {d}", info.kind.name()),
            Err(e) => format!("{:<9} not run: {e}", info.kind.name()),
        });
    }
    let mut rows = Vec::new();
    let (mut profiles, mut profile_errors, mut dispatches) = (Vec::new(), Vec::new(), Vec::new());
    for &batch in &s.batches {
        let inp = Inputs::new(&w.arch, batch, s.seed);
        let mut want = vec![0.0; inp.x.len()];
        reference.forward(&inp.x, inp.cond.as_deref(), &inp.t, inp.labels.as_deref(), &mut want, &mut Workspace::new())?;
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs() as f64));
        for (info, runner) in set.iter_mut() {
            let Some(runner) = runner.as_mut() else { continue };
            let mut row = Row {
                kind: info.kind,
                batch,
                first_ms: f64::NAN,
                samples_ms: Vec::new(),
                median_ms: f64::NAN,
                min_ms: f64::NAN,
                images_per_s: f64::NAN,
                gflops: f64::NAN,
                max_rel_diff: f64::NAN,
                error: None,
            };
            let mut last = None;
            for i in 0..s.warmup + s.iters {
                let t0 = Instant::now();
                match runner.forward(&inp) {
                    Ok(y) => {
                        let ms = ms_since(t0);
                        if i == 0 {
                            row.first_ms = ms;
                        }
                        if i >= s.warmup {
                            row.samples_ms.push(ms);
                        }
                        last = Some(y);
                    }
                    Err(e) => {
                        row.error = Some(format!("{e:#}"));
                        break;
                    }
                }
            }
            if let Some(y) = last {
                let d = y.iter().zip(&want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs() as f64));
                row.max_rel_diff = if y.len() == want.len() { d / scale } else { f64::INFINITY };
            }
            if !row.samples_ms.is_empty() {
                row.median_ms = median(&row.samples_ms);
                row.min_ms = row.samples_ms.iter().copied().fold(f64::INFINITY, f64::min);
                row.images_per_s = batch as f64 / row.median_ms * 1e3;
                row.gflops = flops as f64 * batch as f64 / row.median_ms * 1e-6;
            }
            if s.profile && row.error.is_none() {
                match runner.dispatches(batch) {
                    Some(Ok(d)) => dispatches.push(d),
                    Some(Err(e)) => profile_errors.push(format!("{} batch {batch}: counting dispatches: {e}", info.kind.name())),
                    None => {}
                }
                match runner.profile(&inp, s.iters) {
                    Some(Ok(p)) => profiles.push(p),
                    Some(Err(e)) => profile_errors.push(format!("{} batch {batch}: {e}", info.kind.name())),
                    None => {}
                }
            }
            progress(&format!(
                "{:<9} batch {batch:>3}: median {:.2} ms, min {:.2} ms, first {:.1} ms{}",
                info.kind.name(),
                row.median_ms,
                row.min_ms,
                row.first_ms,
                row.error.as_deref().map(|e| format!(" — error: {e}")).unwrap_or_default()
            ));
            rows.push(row);
        }
    }
    Ok(Report {
        source: w.source.clone(),
        arch: w.arch.clone(),
        params: w.arch.num_params(),
        flops_per_sample: flops,
        build: build_description(),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg_start,
        loadavg_end: loadavg(),
        unix_time: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        settings: s.clone(),
        backends: set.into_iter().map(|(i, _)| i).collect(),
        rows,
        profiles,
        dispatches,
        profile_errors,
    })
}

impl Report {
    fn row(&self, kind: Kind, batch: usize) -> Option<&Row> {
        self.rows.iter().find(|r| r.kind == kind && r.batch == batch && r.median_ms.is_finite())
    }

    /// `wgsl` over `burn-wgpu` (target 2 for an image UNet at batch 64), `cpu` over
    /// `burn-flex` (target 1), and `wgsl` over `cpu`, at every batch where both ran.
    pub fn ratios(&self) -> Vec<Ratio> {
        let unet = matches!(self.arch, ArchConfig::Unet(_));
        let mut out = Vec::new();
        for &batch in &self.settings.batches {
            for (fast, slow, target) in [
                (Kind::Wgsl, Kind::BurnWgpu, (unet && batch == 64).then_some(2.0)),
                (Kind::Cpu, Kind::BurnFlex, Some(1.0)),
                (Kind::Wgsl, Kind::Cpu, None),
            ] {
                if let (Some(f), Some(s)) = (self.row(fast, batch), self.row(slow, batch)) {
                    out.push(Ratio { batch, fast, slow, value: s.median_ms / f.median_ms, target });
                }
            }
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let num = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        json!({
            "model": {
                "source": self.source,
                "arch": self.arch,
                "params": self.params,
                "flops_per_sample": self.flops_per_sample,
                "gflop_per_sample": self.flops_per_sample as f64 * 1e-9,
            },
            "build": self.build,
            "host": {"threads": self.threads, "loadavg_start": self.loadavg_start, "loadavg_end": self.loadavg_end},
            "unix_time": self.unix_time,
            "settings": {
                "batches": self.settings.batches,
                "iters": self.settings.iters,
                "warmup": self.settings.warmup,
                "seed": self.settings.seed,
            },
            "backends": self.backends.iter().map(|b| json!({
                "backend": b.kind.name(),
                "ran": b.status.is_ok(),
                "description": b.status.as_ref().ok(),
                "not_run_reason": b.status.as_ref().err(),
                "adapter": b.adapter.as_ref().map(Adapter::json),
            })).collect::<Vec<_>>(),
            "results": self.rows.iter().map(|r| json!({
                "backend": r.kind.name(),
                "batch": r.batch,
                "first_ms": num(r.first_ms),
                "median_ms": num(r.median_ms),
                "min_ms": num(r.min_ms),
                "samples_ms": r.samples_ms,
                "images_per_s": num(r.images_per_s),
                "gflops": num(r.gflops),
                "max_rel_diff_vs_cpu": num(r.max_rel_diff),
                "error": r.error,
            })).collect::<Vec<_>>(),
            "profiles": self.profiles.iter().map(profile::Profile::to_json).collect::<Vec<_>>(),
            "dispatches": self.dispatches.iter().map(profile::dispatches_json).collect::<Vec<_>>(),
            "profile_errors": self.profile_errors,
            "ratios": self.ratios().iter().map(|q| json!({
                "batch": q.batch,
                "faster": q.fast.name(),
                "slower": q.slow.name(),
                "speedup": q.value,
                "target": q.target,
                "target_met": q.target.map(|t| q.value >= t),
            })).collect::<Vec<_>>(),
        })
    }

    pub fn table(&self) -> String {
        let mut s = String::new();
        let gflop = self.flops_per_sample as f64 * 1e-9;
        let _ = writeln!(s, "model    {}: {} parameters, {:.4} GFLOP per sample (nn::flops)", self.source, self.params, gflop);
        let _ = writeln!(s, "build    {}", self.build);
        let load = match (&self.loadavg_start, &self.loadavg_end) {
            (Some(a), Some(b)) => format!("; load average {a} at start, {b} at end"),
            _ => String::new(),
        };
        let _ = writeln!(s, "host     {} hardware threads{load}", self.threads);
        let _ = writeln!(s, "timing   median and min of {} evaluations after {} warm-up (first = the first evaluation)", self.settings.iters, self.settings.warmup);
        for b in &self.backends {
            match &b.status {
                Ok(d) => {
                    let _ = writeln!(s, "{:<9} {d}", b.kind.name());
                }
                Err(e) => {
                    let _ = writeln!(s, "{:<9} NOT RUN: {e}", b.kind.name());
                }
            }
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:<9} {:>5} {:>11} {:>11} {:>11} {:>10} {:>9} {:>10}",
            "backend", "batch", "median ms", "min ms", "first ms", "images/s", "GFLOP/s", "vs cpu"
        );
        let f = |v: f64, p: usize| if v.is_finite() { format!("{v:.p$}") } else { "–".into() };
        for r in &self.rows {
            let _ = writeln!(
                s,
                "{:<9} {:>5} {:>11} {:>11} {:>11} {:>10} {:>9} {:>10}{}",
                r.kind.name(),
                r.batch,
                f(r.median_ms, 2),
                f(r.min_ms, 2),
                f(r.first_ms, 1),
                f(r.images_per_s, 1),
                f(r.gflops, 2),
                if r.max_rel_diff.is_finite() { format!("{:.1e}", r.max_rel_diff) } else { "–".into() },
                r.error.as_deref().map(|e| format!("  error: {e}")).unwrap_or_default()
            );
        }
        let ratios = self.ratios();
        let _ = writeln!(s);
        if ratios.is_empty() {
            let _ = writeln!(s, "ratios   none (each needs both of its backends to have run)");
        } else {
            let _ = writeln!(s, "ratios   (median time of the slower column / median time of the faster; > 1 = faster)");
            for q in &ratios {
                let target = match q.target {
                    Some(t) => format!("   target ≥ {t}: {}", if q.value >= t { "met" } else { "MISSED" }),
                    None => String::new(),
                };
                let v = if q.value >= 0.095 { format!("{:.2}", q.value) } else { format!("{:.1e}", q.value) };
                let _ = writeln!(s, "batch {:>3}  {:<5} vs {:<9} {v:>8}×{target}", q.batch, q.fast.name(), q.slow.name());
            }
        }
        let _ = writeln!(s, "(vs cpu = max |y − y_cpu| / max(1, max |y_cpu|) on the same inputs: every column computes the same network)");
        if !self.dispatches.is_empty() {
            let _ = writeln!(s);
            for d in &self.dispatches {
                let _ = writeln!(s, "dispatches wgsl, batch {}: {}", d.batch, d.describe());
            }
        }
        for p in &self.profiles {
            let _ = writeln!(s);
            s.push_str(&p.table(10));
        }
        for e in &self.profile_errors {
            let _ = writeln!(s, "profile  NOT RUN: {e}");
        }
        s
    }
}

pub fn run(a: Args) -> Result<()> {
    let w = Workload::from_args(&a)?;
    if a.ladder {
        return ladder::run(&a, &w);
    }
    let settings = Settings { batches: a.batches.clone(), iters: a.iters, warmup: a.warmup, backends: a.backends.clone(), seed: a.seed, profile: a.profile };
    let report = run_bench(&w, &settings, &mut progress(&a))?;
    emit(&a, &report.to_json(), || report.table())
}

/// Progress lines on standard error, unless `--json` keeps the terminal for the JSON.
fn progress(a: &Args) -> impl FnMut(&str) + use<> {
    let quiet = a.json;
    move |line| {
        if !quiet {
            eprintln!("{line}");
        }
    }
}

/// A finished report (`bench` or `bench --ladder`): its JSON to `--out` when given, then the
/// JSON (`--json`) or the table on standard output.
fn emit(a: &Args, j: &serde_json::Value, table: impl FnOnce() -> String) -> Result<()> {
    if let Some(path) = &a.out {
        crate::output::write_file(path, (serde_json::to_string_pretty(j)? + "\n").as_bytes())?;
    }
    if a.json {
        crate::outln!("{j}");
    } else {
        crate::out!("{}", table());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use beeline::config::MlpConfig;

    fn tiny_unet() -> ArchConfig {
        ArchConfig::Unet(beeline::presets::unet(1, 8, 8, &[1, 2], 1, true, 3))
    }

    fn tiny_mlp() -> ArchConfig {
        ArchConfig::Mlp(MlpConfig { dim: 3, hidden: 16, depth: 2, time_embed_dim: 8, cond_dim: 3, num_classes: 4 })
    }

    fn kinds() -> Vec<Kind> {
        let mut k = vec![Kind::Cpu, Kind::Wgsl];
        if cfg!(feature = "train") {
            k.push(Kind::BurnFlex);
        }
        k
    }

    /// Runs the bench code path for the CPU reference, the WGSL runtime (when there is an
    /// adapter; required unless `BEELINE_GPU_TESTS=skip`) and burn's flex (with the `train`
    /// feature) on tiny shapes, and checks the report's fields. No timing assertions.
    fn check(name: &str, arch: ArchConfig) {
        let w = Workload::random(name, arch, 3);
        let s = Settings { batches: vec![1, 2], iters: 1, warmup: 1, backends: kinds(), seed: 5, profile: true };
        let mut lines = Vec::new();
        let r = run_bench(&w, &s, &mut |l| lines.push(l.to_string())).unwrap();
        let expect_gpu = !beeline::gpu::gpu_tests_skipped("bench's wgsl column");
        let ran: Vec<Kind> = r.backends.iter().filter(|b| b.status.is_ok()).map(|b| b.kind).collect();
        assert!(ran.contains(&Kind::Cpu));
        if expect_gpu {
            assert!(ran.contains(&Kind::Wgsl), "wgsl did not run (no adapter? BEELINE_GPU_TESTS=skip skips it): {:?}", r.backends);
        }
        if cfg!(feature = "train") {
            assert!(ran.contains(&Kind::BurnFlex), "{:?}", r.backends);
        }
        for b in &r.backends {
            if b.kind == Kind::Wgsl && b.status.is_ok() {
                assert!(b.adapter.as_ref().is_some_and(|a| !a.name.is_empty() && !a.backend.is_empty()));
            }
            if let Err(e) = &b.status {
                assert!(!e.is_empty());
                eprintln!("{name}: {} not run: {e}", b.kind.name());
            }
        }
        assert_eq!(r.rows.len(), ran.len() * 2, "{:?}", r.rows);
        for row in &r.rows {
            assert!(row.error.is_none(), "{row:?}");
            assert_eq!(row.samples_ms.len(), 1);
            assert!(row.median_ms >= 0.0 && row.first_ms >= 0.0 && row.images_per_s > 0.0 && row.gflops > 0.0, "{row:?}");
            // The same network on every backend: f32 rounding apart.
            assert!(row.max_rel_diff < 1e-4, "{name}: {} batch {} differs from the CPU reference by {}", row.kind.name(), row.batch, row.max_rel_diff);
        }
        assert!(r.flops_per_sample > 0 && r.params > 0);
        // The wgsl column's per-kernel profile: one per batch (or the reason), every dispatch
        // timed, and its FLOPs adding up to the network's count (`nn::flops`) for the batch.
        if ran.contains(&Kind::Wgsl) {
            assert_eq!(r.profiles.len() + r.profile_errors.len(), 2, "{:?}", r.profile_errors);
            if expect_gpu {
                assert!(r.profile_errors.is_empty(), "lavapipe offers timestamp queries: {:?}", r.profile_errors);
            }
            for p in &r.profiles {
                assert!(!p.dispatches.is_empty());
                assert!(p.dispatches.iter().all(|d| d.ms.is_finite() && d.ms >= 0.0 && !d.shape.is_empty()), "{p:?}");
                let flop: u64 = p.dispatches.iter().map(|d| d.flop).sum();
                assert_eq!(flop, r.flops_per_sample * p.batch as u64, "{name}: kernel FLOPs at batch {}", p.batch);
                assert!(p.table(5).contains("slowest dispatches"));
            }
            // The dispatch count per batch, and the profile timed exactly those dispatches.
            assert_eq!(r.dispatches.iter().map(|d| d.batch).collect::<Vec<_>>(), vec![1, 2]);
            for p in &r.profiles {
                let d = r.dispatches.iter().find(|d| d.batch == p.batch).unwrap();
                assert_eq!(d.total(), p.dispatches.len());
            }
            let j = r.to_json();
            assert_eq!(j["dispatches"][0]["total"], json!(r.dispatches[0].total()), "{j}");
            assert!(r.table().contains("dispatches wgsl, batch 1: "), "{}", r.table());
        }

        let j = r.to_json();
        for key in ["model", "build", "host", "settings", "backends", "results", "ratios", "unix_time"] {
            assert!(j.get(key).is_some(), "JSON lacks `{key}`: {j}");
        }
        assert_eq!(j["model"]["flops_per_sample"], json!(r.flops_per_sample));
        let results = j["results"].as_array().unwrap();
        assert_eq!(results.len(), r.rows.len());
        for res in results {
            for key in ["backend", "batch", "first_ms", "median_ms", "min_ms", "images_per_s", "gflops", "max_rel_diff_vs_cpu"] {
                assert!(res[key].is_number() || res[key].is_string(), "result lacks `{key}`: {res}");
            }
        }
        for b in j["backends"].as_array().unwrap() {
            assert!(b["ran"].is_boolean());
            if b["backend"] == "wgsl" && b["ran"] == true {
                for key in ["name", "backend", "device_type", "driver"] {
                    assert!(b["adapter"][key].is_string(), "adapter lacks `{key}`: {b}");
                }
            }
        }
        let ratios = j["ratios"].as_array().unwrap();
        if ran.contains(&Kind::Wgsl) {
            assert!(ratios.iter().any(|q| q["faster"] == "wgsl" && q["slower"] == "cpu" && q["speedup"].is_number()), "{j}");
        }
        if ran.contains(&Kind::BurnFlex) {
            assert!(ratios.iter().any(|q| q["faster"] == "cpu" && q["slower"] == "burn-flex" && q["target"] == json!(1.0) && q["target_met"].is_boolean()), "{j}");
        }

        let t = r.table();
        for word in ["model", "build", "host", "backend", "batch", "median ms", "min ms", "images/s", "GFLOP/s", "ratios"] {
            assert!(t.contains(word), "table lacks `{word}`:\n{t}");
        }
        for k in &ran {
            assert!(t.lines().filter(|l| l.starts_with(k.name())).count() >= 3, "table lacks {} rows:\n{t}", k.name());
        }
        if !cfg!(feature = "train") {
            // Asked-for burn columns say why they are missing.
            let r = run_bench(&w, &Settings { backends: vec![Kind::BurnFlex], ..s.clone() }, &mut |_| {}).unwrap();
            assert!(r.table().contains("burn-flex NOT RUN: this build has no burn"), "{}", r.table());
        }
    }

    #[test]
    fn bench_tiny_mlp() {
        check("tiny mlp", tiny_mlp());
    }

    #[test]
    fn bench_tiny_unet() {
        check("tiny unet", tiny_unet());
    }

    #[test]
    fn bench_rejects_empty_settings() {
        let w = Workload::random("tiny mlp", tiny_mlp(), 3);
        let s = Settings { batches: vec![], iters: 1, warmup: 0, backends: vec![Kind::Cpu], seed: 1, profile: false };
        assert!(run_bench(&w, &s, &mut |_| {}).is_err());
        let s = Settings { batches: vec![1], iters: 0, ..s };
        assert!(run_bench(&w, &s, &mut |_| {}).is_err());
    }
}
