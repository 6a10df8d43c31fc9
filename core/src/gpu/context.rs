//! The adapter and device: chosen once, shared by every network and sampler run on it.

use super::kernels::Kernels;
use super::kernels::KernelVariant;
use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};

/// What a user needs to know about the adapter a [`GpuContext`] runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSummary {
    /// Adapter name, e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"` or `"NVIDIA GeForce RTX 4090"`.
    pub name: String,
    /// Graphics API: `"Vulkan"`, `"Metal"`, `"Dx12"`, `"Gl"` or `"BrowserWebGpu"`.
    pub backend: String,
    /// `"DiscreteGpu"`, `"IntegratedGpu"`, `"VirtualGpu"`, `"Cpu"` (a software rasterizer) or `"Other"`.
    pub device_type: String,
    /// Driver name and version, where the platform reports them.
    pub driver: String,
    /// Whether the device was created with WGSL `f16` support (`shader-f16`). Beeline's kernels
    /// compute in f32 either way (f16 weights are expanded on upload).
    pub shader_f16: bool,
    /// Whether the device was created with `timestamp-query`, which per-kernel timing
    /// ([`GpuNetwork::profile`](super::GpuNetwork::profile)) needs.
    pub timestamps: bool,
}

impl AdapterSummary {
    /// `"llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)"`.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.name, self.backend)
    }

    /// Whether this is a software adapter running on the CPU (lavapipe/llvmpipe, SwiftShader,
    /// WARP): usually slower than Beeline's CPU reference.
    pub fn is_software(&self) -> bool {
        self.device_type == "Cpu"
    }
}

/// A wgpu device and queue with Beeline's compute pipelines, each compiled when first used. Cheap to clone
/// (shared handles).
///
/// The device is created with wgpu's *default* limits (WebGPU's: 128 MiB per storage binding,
/// 256 MiB per buffer, 16 KiB of workgroup memory, 256 invocations per workgroup, 8 storage
/// buffers per stage), not the adapter's maxima, so that what runs here runs on every WebGPU
/// implementation. Batches that would exceed them are split by the runtime.
#[derive(Clone)]
pub struct GpuContext {
    pub(crate) inner: Arc<Inner>,
    /// The kernel variant networks built on this context use.
    kernel_variant: KernelVariant,
}

pub(crate) struct Inner {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) kernels: Kernels,
    pub(crate) limits: wgpu::Limits,
    summary: AdapterSummary,
    /// Uncaptured errors and device loss, reported by wgpu's callbacks; the first one is
    /// returned by the next [`GpuContext::check`].
    failure: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext").field("adapter", &self.inner.summary).field("kernel_variant", &self.kernel_variant).finish()
    }
}

impl GpuContext {
    /// Finds an adapter and creates the device.
    ///
    /// Natively honours `WGPU_BACKEND` (e.g. `vulkan`, `metal`, `dx12`, `gl`; a comma-separated
    /// list), `WGPU_ADAPTER_NAME` (a case-insensitive substring of the adapter name; if set and
    /// no adapter matches, this fails rather than picking another) and `WGPU_POWER_PREF`
    /// (`low` / `high`, default high). On wasm32 it asks the browser's `navigator.gpu`.
    ///
    /// Errors: [`Error::GpuUnavailable`] with the reason (no adapter, no named adapter, or the
    /// adapter cannot give WebGPU's default limits).
    pub async fn new() -> Result<GpuContext> {
        let adapter = find_adapter().await?;
        let info = adapter.get_info();
        let offered = adapter.features();
        let limits = wgpu::Limits::default();
        let mut short = Vec::new();
        limits.check_limits_with_fail_fn(&adapter.limits(), false, |name, want, have| short.push(format!("{name} {have} < {want}")));
        if !short.is_empty() {
            return Err(Error::GpuUnavailable(format!(
                "adapter {} ({:?}) does not offer WebGPU's default limits: {}",
                info.name,
                info.backend,
                short.join(", ")
            )));
        }
        // Optional features, requested when offered: WGSL `f16`, and timestamp queries for
        // per-kernel timing.
        let required_features = offered & (wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY);
        let shader_f16 = required_features.contains(wgpu::Features::SHADER_F16);
        let timestamps = required_features.contains(wgpu::Features::TIMESTAMP_QUERY);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("beeline"),
                required_features,
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| Error::GpuUnavailable(format!("adapter {} ({:?}): {e}", info.name, info.backend)))?;

        let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let f = failure.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut slot) = f.lock() {
                slot.get_or_insert_with(|| e.to_string());
            }
        }));
        let f = failure.clone();
        device.set_device_lost_callback(move |reason, msg| {
            if let Ok(mut slot) = f.lock() {
                slot.get_or_insert_with(|| format!("device lost ({reason:?}): {msg}"));
            }
        });

        let kernels = Kernels::new(&device);
        let summary = AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
            shader_f16,
            timestamps,
        };
        let kernel_variant = match kernel_variant_from_env()? {
            Some(k) => k,
            None => KernelVariant::for_adapter(summary.is_software()),
        };
        let ctx = GpuContext { inner: Arc::new(Inner { device, queue, kernels, limits, summary, failure }), kernel_variant };
        ctx.check()?;
        Ok(ctx)
    }

    /// The kernels of networks built on this context: `BEELINE_KERNEL_VARIANT` (`tiled` or
    /// `direct`) when set, else [`KernelVariant::for_adapter`] (`Direct` on software adapters,
    /// `Tiled` on GPUs).
    pub fn kernel_variant(&self) -> KernelVariant {
        self.kernel_variant
    }

    /// The same device and queue, building networks with the `kernel` variant (networks
    /// already built keep theirs).
    pub fn with_kernel_variant(&self, kernel: KernelVariant) -> GpuContext {
        GpuContext { inner: self.inner.clone(), kernel_variant: kernel }
    }

    /// The adapter this context runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.inner.summary
    }

    /// The wgpu device (for interop, e.g. sharing buffers with burn).
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// Destroys the device, as a driver reset or a crashed GPU process would: every later use
    /// fails with [`Error::DeviceLost`]. For testing how a caller recovers (the browser
    /// package's `simulateDeviceLoss`).
    pub fn destroy(&self) {
        self.inner.device.destroy();
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// The limits the device was created with (wgpu's defaults).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    /// The first error the device reported since it was created (validation, out of memory,
    /// device lost), as [`Error::DeviceLost`].
    pub fn check(&self) -> Result<()> {
        match self.inner.failure.lock() {
            Ok(slot) => match slot.as_ref() {
                Some(msg) => Err(Error::DeviceLost(msg.clone())),
                None => Ok(()),
            },
            Err(_) => Err(Error::DeviceLost("error slot poisoned".into())),
        }
    }

    /// Creates a buffer, checking the size against the device limits first (so that an
    /// oversized request is an error, not a device failure).
    pub(crate) fn buffer(&self, label: &str, bytes: u64, usage: wgpu::BufferUsages) -> Result<wgpu::Buffer> {
        let l = &self.inner.limits;
        let bytes = bytes.max(16).next_multiple_of(16);
        let storage = usage.contains(wgpu::BufferUsages::STORAGE);
        if bytes > l.max_buffer_size || (storage && bytes > l.max_storage_buffer_binding_size) {
            return Err(Error::DeviceLost(format!(
                "buffer `{label}` of {bytes} bytes exceeds the device limits (max buffer {} B, storage binding {} B)",
                l.max_buffer_size, l.max_storage_buffer_binding_size
            )));
        }
        Ok(self.inner.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size: bytes, usage, mapped_at_creation: false }))
    }

    /// A storage buffer holding `data`.
    pub(crate) fn upload(&self, label: &str, data: &[f32]) -> Result<wgpu::Buffer> {
        let buf = self.buffer(label, (data.len() * 4) as u64, STORAGE_USAGE)?;
        if !data.is_empty() {
            self.inner.queue.write_buffer(&buf, 0, bytemuck::cast_slice(data));
        }
        Ok(buf)
    }

    /// Reads `len` f32 values back from a `MAP_READ` buffer after everything submitted so far
    /// has run. Asynchronous: on the web the browser completes the mapping; natively this
    /// drives the device with `poll` (which waits for the queue), so any executor works.
    pub(crate) async fn read_back(&self, staging: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        let bytes = self.read_back_bytes(staging, (len * 4) as u64).await?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// Reads the first `bytes` bytes of a `MAP_READ` buffer, as [`read_back`](Self::read_back).
    pub(crate) async fn read_back_bytes(&self, staging: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let slice = staging.slice(..bytes);
        let (tx, rx) = futures_channel::oneshot::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.wait_idle()?;
        let mapped = rx.await.map_err(|_| Error::DeviceLost("the buffer mapping was dropped".into()))?;
        self.check()?;
        mapped.map_err(|e| Error::DeviceLost(format!("reading results back: {e}")))?;
        let out = {
            let view = slice.get_mapped_range().map_err(|e| Error::DeviceLost(format!("reading results back: {e}")))?;
            view.to_vec()
        };
        staging.unmap();
        Ok(out)
    }
}

impl GpuContext {
    /// Blocks until everything submitted so far has run (natively: `Device::poll`).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn wait_idle(&self) -> Result<()> {
        self.inner.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::DeviceLost(format!("waiting for the GPU: {e}")))?;
        Ok(())
    }
}

/// `BEELINE_KERNEL_VARIANT`, if set (natively; never on the web).
fn kernel_variant_from_env() -> Result<Option<KernelVariant>> {
    #[cfg(not(target_arch = "wasm32"))]
    if let Ok(v) = std::env::var("BEELINE_KERNEL_VARIANT") {
        return KernelVariant::parse(&v)
            .map(Some)
            .ok_or_else(|| Error::InvalidInput(format!("BEELINE_KERNEL_VARIANT={v:?}: expected `tiled` or `direct`")));
    }
    Ok(None)
}

/// The adapter `WGPU_ADAPTER_NAME` names, else the default high-performance one.
#[cfg(not(target_arch = "wasm32"))]
async fn find_adapter() -> Result<wgpu::Adapter> {
    let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    let backends = desc.backends;
    let instance = wgpu::Instance::new(desc);
    if let Ok(want) = std::env::var("WGPU_ADAPTER_NAME") {
        let want_lc = want.to_lowercase();
        let adapters = instance.enumerate_adapters(backends).await;
        let names: Vec<String> = adapters.iter().map(|a| format!("{} ({:?})", a.get_info().name, a.get_info().backend)).collect();
        return adapters.into_iter().find(|a| a.get_info().name.to_lowercase().contains(&want_lc)).ok_or_else(|| {
            Error::GpuUnavailable(format!(
                "WGPU_ADAPTER_NAME={want:?} matches no adapter (found: {})",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            ))
        });
    }
    instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::from_env().unwrap_or(wgpu::PowerPreference::HighPerformance),
            force_fallback_adapter: false,
            compatible_surface: None,
            apply_limit_buckets: false,
        })
        .await
        .map_err(|e| Error::GpuUnavailable(format!("no wgpu adapter found for backends {backends:?} ({e})")))
}

/// The browser's WebGPU adapter. Checks first that `navigator.gpu` exists and gives an adapter:
/// wgpu's `Instance::new` panics outside a window or dedicated worker (e.g. in Node).
#[cfg(target_arch = "wasm32")]
async fn find_adapter() -> Result<wgpu::Adapter> {
    if !wgpu::util::is_browser_webgpu_supported().await {
        return Err(Error::GpuUnavailable(
            "no WebGPU: navigator.gpu is missing (not a browser window or dedicated worker, or WebGPU is off) or offers no adapter".into(),
        ));
    }
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::BROWSER_WEBGPU;
    let instance = wgpu::Instance::new(desc);
    instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            apply_limit_buckets: false,
        })
        .await
        .map_err(|e| Error::GpuUnavailable(format!("no WebGPU adapter: navigator.gpu is missing or returned none ({e})")))
}

/// Usage of every storage buffer: bound by kernels, written by the host, copied on the GPU.
pub(crate) const STORAGE_USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_DST).union(wgpu::BufferUsages::COPY_SRC);
