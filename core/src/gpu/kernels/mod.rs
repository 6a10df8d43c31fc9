//! The compute pipelines of every WGSL entry point, and the small machinery to launch them: a
//! [`Spec`] (entry point, buffers, parameters, grid) per dispatch, turned into a
//! [`DispatchList`] whose parameters share one uniform buffer.
//!
//! One Rust module per WGSL file, each with the parameter block of its kernels and, beside it,
//! its parity test against the CPU twin in `crate::nn` (run on a real or software adapter; see
//! `gpu::testutil`).

pub(crate) mod attention;
pub(crate) mod concat;
pub(crate) mod conv3x3;
pub(crate) mod elementwise;
pub(crate) mod groupnorm;
pub(crate) mod linear;
pub(crate) mod time_embed;

use super::context::GpuContext;
use super::shaders::{self, ShaderFile};
use crate::error::Result;
use std::sync::{Mutex, OnceLock};

/// Which family of kernels runs the convolutions, matrix products and GroupNorms: each of these
/// ops has a `_direct` file beside its own, computing the same values (the GEMMs in the same
/// summation order, equal up to fused multiply-adds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelVariant {
    /// `conv3x3.wgsl`, `linear.wgsl`: 64×64 output tiles staged through workgroup memory;
    /// `groupnorm.wgsl`: 256 invocations per group with tree reductions (for GPUs).
    #[default]
    Tiled,
    /// The `_direct` files: no workgroup memory and no barriers, vec4 loads; the GEMMs hold a
    /// 4×4 output block per invocation, GroupNorm is one invocation per (group, sample). For
    /// software adapters, which run workgroups as SIMD loops on CPU cores, where every load is
    /// a loop over the lanes. Only where the operands are vec4-aligned (a convolution's `cin`,
    /// a GEMM's k, n and strides, a group's channels: multiples of 4); the rest (an RGB or
    /// one-channel input layer, attention's q·kᵀ) runs the other variant.
    Direct,
}

impl KernelVariant {
    /// The default for an adapter: `Direct` on software adapters, `Tiled` on GPUs.
    pub fn for_adapter(software: bool) -> KernelVariant {
        if software { KernelVariant::Direct } else { KernelVariant::Tiled }
    }

    /// From `"tiled"` or `"direct"` (e.g. the `BEELINE_KERNEL_VARIANT` variable).
    pub fn parse(s: &str) -> Option<KernelVariant> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tiled" => Some(KernelVariant::Tiled),
            "direct" => Some(KernelVariant::Direct),
            _ => None,
        }
    }

    /// The algorithm an op runs under this preference: `Direct` only where the op allows it.
    pub(crate) fn resolve(self, direct_ok: bool) -> KernelVariant {
        if self == KernelVariant::Direct && direct_ok { KernelVariant::Direct } else { KernelVariant::Tiled }
    }

    /// `"tiled"` or `"direct"`.
    pub fn name(self) -> &'static str {
        match self {
            KernelVariant::Tiled => "tiled",
            KernelVariant::Direct => "direct",
        }
    }
}

/// The workgroup layout of the direct GEMM-shaped kernels (`conv3x3_direct.wgsl`,
/// `linear_direct.wgsl`): 64 invocations as `cq` quads of output columns (≤ 16) × ⌊64/cq⌋ row
/// units (runs of pixels or rows). For `cols` output columns and `units` row units: `(cq,
/// workgroups along the columns, workgroups along the rows)`.
pub(crate) fn direct_layout(cols: u32, units: usize) -> (u32, u32, usize) {
    let cq = cols.div_ceil(4).clamp(1, 16);
    let per_wg = (64 / cq) as usize;
    (cq, cols.div_ceil(4 * cq), units.div_ceil(per_wg).max(1))
}

/// Invocations per workgroup of the element-wise kernels (one element each).
pub(crate) const WG_1D: u32 = 256;
/// wgpu's default (WebGPU's) maximum workgroups per grid dimension.
pub(crate) const MAX_GROUPS: u32 = 65_535;

/// Every WGSL entry point Beeline launches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Entry {
    Linear,
    LinearDirect,
    Conv3x3,
    Conv3x3Direct,
    GroupNorm,
    GroupNormDirect,
    Sinusoidal,
    ClassRows,
    ConcatChannels,
    NchwToNhwc,
    NhwcToNchw,
    Softmax,
    Lincomb,
    CfgCombine,
}

/// How a kernel binds one buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Read,
    ReadWrite,
    Uniform,
}
use Access::*;

impl Entry {
    const ALL: [Entry; 14] = [
        Entry::Linear,
        Entry::LinearDirect,
        Entry::Conv3x3,
        Entry::Conv3x3Direct,
        Entry::GroupNorm,
        Entry::GroupNormDirect,
        Entry::Sinusoidal,
        Entry::ClassRows,
        Entry::ConcatChannels,
        Entry::NchwToNhwc,
        Entry::NhwcToNchw,
        Entry::Softmax,
        Entry::Lincomb,
        Entry::CfgCombine,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The kernel's name in reports: the file's name for the single-entry files, else the
    /// entry point.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Entry::Linear => "linear",
            Entry::LinearDirect => "linear_direct",
            Entry::Conv3x3 => "conv3x3",
            Entry::Conv3x3Direct => "conv3x3_direct",
            Entry::GroupNorm => "groupnorm",
            Entry::GroupNormDirect => "groupnorm_direct",
            e => e.entry_point(),
        }
    }

    fn file(self) -> ShaderFile {
        match self {
            Entry::Linear => shaders::LINEAR_FILE,
            Entry::LinearDirect => shaders::LINEAR_DIRECT_FILE,
            Entry::Conv3x3 => shaders::CONV3X3_FILE,
            Entry::Conv3x3Direct => shaders::CONV3X3_DIRECT_FILE,
            Entry::GroupNorm => shaders::GROUPNORM_FILE,
            Entry::GroupNormDirect => shaders::GROUPNORM_DIRECT_FILE,
            Entry::Sinusoidal | Entry::ClassRows => shaders::TIME_EMBED_FILE,
            Entry::ConcatChannels | Entry::NchwToNhwc | Entry::NhwcToNchw => shaders::CONCAT_FILE,
            Entry::Softmax => shaders::ATTENTION_FILE,
            Entry::Lincomb | Entry::CfgCombine => shaders::ELEMENTWISE_FILE,
        }
    }

    fn entry_point(self) -> &'static str {
        match self {
            Entry::Linear | Entry::LinearDirect | Entry::Conv3x3 | Entry::Conv3x3Direct | Entry::GroupNorm | Entry::GroupNormDirect => "main",
            Entry::Sinusoidal => "sinusoidal",
            Entry::ClassRows => "add_class_rows",
            Entry::ConcatChannels => "concat_channels",
            Entry::NchwToNhwc => "nchw_to_nhwc",
            Entry::NhwcToNchw => "nhwc_to_nchw",
            Entry::Softmax => "softmax_rows",
            Entry::Lincomb => "lincomb",
            Entry::CfgCombine => "cfg_combine",
        }
    }

    /// The bindings 0.. of group 0, the last being the parameter block.
    fn bindings(self) -> &'static [Access] {
        match self {
            Entry::Linear | Entry::LinearDirect | Entry::Conv3x3 | Entry::Conv3x3Direct => &[Read, Read, Read, Read, ReadWrite, Uniform],
            Entry::GroupNorm | Entry::GroupNormDirect => &[Read, Read, Read, ReadWrite, Uniform],
            Entry::Sinusoidal | Entry::ClassRows => &[Read, Read, ReadWrite, Uniform],
            Entry::ConcatChannels | Entry::NchwToNhwc | Entry::NhwcToNchw => &[Read, Read, ReadWrite, Uniform],
            Entry::Softmax => &[ReadWrite, Uniform],
            Entry::Lincomb | Entry::CfgCombine => &[ReadWrite, Read, Uniform],
        }
    }
}

/// The compute pipelines (one per entry point) with their explicit bind-group layouts, each
/// compiled on first use: a model compiles only what its networks and samplers launch (one
/// kernel variant, no attention where it has none), which is most of a browser's cold start.
pub(crate) struct Kernels {
    device: wgpu::Device,
    /// The WGSL files compiled so far, by name.
    modules: Mutex<Vec<(&'static str, wgpu::ShaderModule)>>,
    pipelines: [OnceLock<(wgpu::ComputePipeline, wgpu::BindGroupLayout)>; Entry::ALL.len()],
}

impl Kernels {
    /// Pipelines for `device`, none compiled yet.
    pub(crate) fn new(device: &wgpu::Device) -> Kernels {
        Kernels { device: device.clone(), modules: Mutex::new(Vec::new()), pipelines: std::array::from_fn(|_| OnceLock::new()) }
    }

    /// The pipeline and layout of `e`, compiled (with its file's module) the first time.
    fn compiled(&self, e: Entry) -> &(wgpu::ComputePipeline, wgpu::BindGroupLayout) {
        self.pipelines[e.index()].get_or_init(|| self.compile(e))
    }

    fn compile(&self, e: Entry) -> (wgpu::ComputePipeline, wgpu::BindGroupLayout) {
        let device = &self.device;
        let file = e.file();
        let mut modules = self.modules.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !modules.iter().any(|(n, _)| *n == file.name) {
            let source = file.source();
            let m = device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(file.name), source: wgpu::ShaderSource::Wgsl(source.into()) });
            modules.push((file.name, m));
        }
        let module = &modules.iter().find(|(n, _)| *n == file.name).map(|(_, m)| m).expect("module just created");
        let entries: Vec<wgpu::BindGroupLayoutEntry> = e
            .bindings()
            .iter()
            .enumerate()
            .map(|(i, a)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match a {
                        Read => wgpu::BufferBindingType::Storage { read_only: true },
                        ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                        Uniform => wgpu::BufferBindingType::Uniform,
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(e.entry_point()), entries: &entries });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor { label: Some(e.entry_point()), bind_group_layouts: &[Some(&bgl)], immediate_size: 0 });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(e.entry_point()),
            layout: Some(&layout),
            module,
            entry_point: Some(e.entry_point()),
            compilation_options: Default::default(),
            cache: None,
        });
        (pipeline, bgl)
    }

    fn pipeline(&self, e: Entry) -> &wgpu::ComputePipeline {
        &self.compiled(e).0
    }

    fn layout(&self, e: Entry) -> &wgpu::BindGroupLayout {
        &self.compiled(e).1
    }

    /// The entry points compiled so far.
    #[cfg(test)]
    pub(crate) fn compiled_entries(&self) -> Vec<Entry> {
        Entry::ALL.into_iter().filter(|e| self.pipelines[e.index()].get().is_some()).collect()
    }
}

/// One dispatch before it is bound: entry point, the storage buffers of its bindings (in
/// binding order, without the parameter block), its parameter words and its grid.
pub(crate) struct Spec<'a> {
    pub(crate) entry: Entry,
    pub(crate) buffers: Vec<&'a wgpu::Buffer>,
    pub(crate) params: Vec<u32>,
    pub(crate) groups: [u32; 3],
}

/// Parameter words from a list of `u32`-like values (f32 as its bits).
pub(crate) fn f(v: f32) -> u32 {
    v.to_bits()
}

/// The grid for `n` one-element invocations in workgroups of [`WG_1D`]: 1-D up to 65535
/// workgroups, else 2-D (the kernels flatten `x + y·num_workgroups.x·256`).
pub(crate) fn grid_1d(n: usize) -> [u32; 3] {
    grid_groups(n.div_ceil(WG_1D as usize))
}

/// `groups` workgroups laid out as a 1-D or 2-D grid.
pub(crate) fn grid_groups(groups: usize) -> [u32; 3] {
    let g = groups.max(1);
    if g <= MAX_GROUPS as usize {
        [g as u32, 1, 1]
    } else {
        [MAX_GROUPS, g.div_ceil(MAX_GROUPS as usize) as u32, 1]
    }
}

/// Bound dispatches, ready to encode any number of times.
pub(crate) struct DispatchList {
    items: Vec<(Entry, wgpu::BindGroup, [u32; 3])>,
    /// Keeps the parameter buffer alive (the bind groups reference it).
    _params: Option<wgpu::Buffer>,
}

impl DispatchList {
    /// Packs every spec's parameters into one uniform buffer (at the device's uniform offset
    /// alignment) and creates the bind groups.
    pub(crate) fn new(ctx: &GpuContext, specs: &[Spec<'_>]) -> Result<DispatchList> {
        let align = ctx.limits().min_uniform_buffer_offset_alignment.max(16) as usize;
        let mut bytes: Vec<u8> = Vec::new();
        let mut ranges = Vec::with_capacity(specs.len());
        for s in specs {
            let off = bytes.len().next_multiple_of(align);
            bytes.resize(off, 0);
            for w in &s.params {
                bytes.extend_from_slice(&w.to_le_bytes());
            }
            let size = (s.params.len() * 4).next_multiple_of(16).max(16);
            bytes.resize(off + size, 0);
            ranges.push((off as u64, size as u64));
        }
        if specs.is_empty() {
            return Ok(DispatchList { items: Vec::new(), _params: None });
        }
        let params = ctx.buffer("params", bytes.len() as u64, wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST)?;
        ctx.queue().write_buffer(&params, 0, &bytes);
        let kernels = &ctx.inner.kernels;
        let mut items = Vec::with_capacity(specs.len());
        for (s, (off, size)) in specs.iter().zip(ranges) {
            let mut entries: Vec<wgpu::BindGroupEntry<'_>> = s
                .buffers
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32, resource: b.as_entire_binding() })
                .collect();
            entries.push(wgpu::BindGroupEntry {
                binding: s.buffers.len() as u32,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer: &params, offset: off, size: wgpu::BufferSize::new(size) }),
            });
            debug_assert_eq!(entries.len(), s.entry.bindings().len(), "{:?}", s.entry);
            let bg = ctx.device().create_bind_group(&wgpu::BindGroupDescriptor { label: Some(s.entry.entry_point()), layout: kernels.layout(s.entry), entries: &entries });
            items.push((s.entry, bg, s.groups));
        }
        Ok(DispatchList { items, _params: Some(params) })
    }

    /// Records every dispatch, in order, into `pass` (wgpu orders dispatches that share
    /// buffers with the barriers they need), and returns how many it recorded.
    pub(crate) fn encode(&self, ctx: &GpuContext, pass: &mut wgpu::ComputePass<'_>) -> usize {
        let kernels = &ctx.inner.kernels;
        let mut recorded = 0;
        for (entry, bg, g) in &self.items {
            pass.set_pipeline(kernels.pipeline(*entry));
            pass.set_bind_group(0, bg, &[]);
            pass.dispatch_workgroups(g[0], g[1], g[2]);
            recorded += 1;
        }
        recorded
    }

    /// The entry point and grid of dispatch `i`.
    pub(crate) fn item(&self, i: usize) -> Option<(Entry, [u32; 3])> {
        self.items.get(i).map(|(e, _, g)| (*e, *g))
    }

    /// Records every dispatch, in order, each alone in a compute pass stamped as pass `i` of
    /// `ts` (per-kernel timing).
    pub(crate) fn encode_timed(&self, ctx: &GpuContext, encoder: &mut wgpu::CommandEncoder, ts: &super::profile::Timestamps) {
        let kernels = &ctx.inner.kernels;
        for (i, (entry, bg, g)) in self.items.iter().enumerate() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(entry.name()), timestamp_writes: Some(ts.writes(i)) });
            pass.set_pipeline(kernels.pipeline(*entry));
            pass.set_bind_group(0, bg, &[]);
            pass.dispatch_workgroups(g[0], g[1], g[2]);
        }
    }

    /// Records the dispatches `indices`, in that order, into `pass`.
    pub(crate) fn encode_items(&self, ctx: &GpuContext, pass: &mut wgpu::ComputePass<'_>, indices: &[usize]) {
        let kernels = &ctx.inner.kernels;
        for &i in indices {
            let (entry, bg, g) = &self.items[i];
            pass.set_pipeline(kernels.pipeline(*entry));
            pass.set_bind_group(0, bg, &[]);
            pass.dispatch_workgroups(g[0], g[1], g[2]);
        }
    }
}

/// Encodes `list` in one compute pass of a fresh command encoder; returns the number of
/// dispatches recorded.
pub(crate) fn encode_pass(ctx: &GpuContext, encoder: &mut wgpu::CommandEncoder, list: &DispatchList) -> usize {
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("beeline"), timestamp_writes: None });
    list.encode(ctx, &mut pass)
}

/// The f32 GEMM error bound of the difference of two summation orders of the same dot product:
/// each is within `(K+2)·2⁻²⁴·mag` of the exact value (`mag = |bias| + Σ|a·b|`), so they differ
/// by at most twice that. The kernel tests' and the kernel ladder's parity bound.
pub(crate) fn gemm_bound(k: usize, mag: f64) -> f64 {
    2.0 * (k as f64 + 2.0) * 2f64.powi(-24) * mag
}

/// How far GPU results are from the CPU reference's, against per-element bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Compared {
    /// max |got − want|.
    pub(crate) max_err: f64,
    /// max |got − want| / bound (≤ 1: every element within its bound; infinite for a
    /// non-finite result or a length mismatch).
    pub(crate) ratio: f64,
    /// The element of the largest ratio.
    pub(crate) worst: usize,
}

/// `got` against `want` with the bound `bound[i]` per element (see [`gemm_bound`]).
pub(crate) fn compare(got: &[f32], want: &[f32], bound: &[f64]) -> Compared {
    let mut c = Compared { max_err: 0.0, ratio: 0.0, worst: 0 };
    if got.len() != want.len() || bound.len() != want.len() {
        c.ratio = f64::INFINITY;
        return c;
    }
    for i in 0..got.len() {
        let e = (got[i] as f64 - want[i] as f64).abs();
        let r = if got[i].is_finite() { e / bound[i].max(f64::MIN_POSITIVE) } else { f64::INFINITY };
        c.max_err = c.max_err.max(if got[i].is_finite() { e } else { f64::INFINITY });
        if r > c.ratio {
            c.ratio = r;
            c.worst = i;
        }
    }
    c
}

/// Runs `specs` in one submission and reads `len` values of `out` back (the kernel tests and
/// the kernel ladder's parity check).
pub(crate) async fn run_and_read(ctx: &GpuContext, specs: &[Spec<'_>], out: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
    let list = DispatchList::new(ctx, specs)?;
    let staging = ctx.buffer("readback", (len * 4) as u64, wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST)?;
    let mut enc = ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("beeline") });
    encode_pass(ctx, &mut enc, &list);
    enc.copy_buffer_to_buffer(out, 0, &staging, 0, (len * 4) as u64);
    ctx.queue().submit([enc.finish()]);
    ctx.read_back(&staging, len).await
}
