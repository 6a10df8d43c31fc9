//! The WGSL sources of the repository's `wgsl/` folder, one op family per file, and the way they
//! are put together: WGSL has no `#include`, so a kernel file that calls shared functions is
//! compiled with its *prelude* (`math.wgsl`, `resample.wgsl`) prepended.
//!
//! Always compiled (no `gpu` feature needed), so that the naga validation test below runs in
//! every `cargo test`, with no GPU or driver.

/// Shared scalar math: `exp_f32` (the CPU reference's polynomial) and `silu`.
pub const MATH: &str = include_str!("../../../wgsl/math.wgsl");
/// The address map of up/down sampling inside a 3×3 convolution.
pub const RESAMPLE: &str = include_str!("../../../wgsl/resample.wgsl");
/// What the GEMM-shaped kernels share: epilogue flags and epilogue, the direct kernels' vec4
/// multiply-accumulate.
pub const GEMM_COMMON: &str = include_str!("../../../wgsl/gemm_common.wgsl");
/// The register-tiled GEMM core (tile sizes, workgroup tiles, multiply-accumulate, epilogue
/// flags) shared by `linear.wgsl` and `conv3x3.wgsl`.
pub const GEMM_TILE: &str = include_str!("../../../wgsl/gemm_tile.wgsl");
/// Tiled GEMM with fused bias, per-sample bias, residual accumulation and SiLU.
pub const LINEAR: &str = include_str!("../../../wgsl/linear.wgsl");
/// 3×3 convolution as an implicit GEMM (same, stride-2, nearest-×2 upsampling).
pub const CONV3X3: &str = include_str!("../../../wgsl/conv3x3.wgsl");
/// The GEMM of `linear.wgsl` computed directly (no workgroup memory), for software adapters.
pub const LINEAR_DIRECT: &str = include_str!("../../../wgsl/linear_direct.wgsl");
/// 3×3 convolution computed directly (no workgroup memory), for software adapters.
pub const CONV3X3_DIRECT: &str = include_str!("../../../wgsl/conv3x3_direct.wgsl");
/// GroupNorm with optional fused SiLU.
pub const GROUPNORM: &str = include_str!("../../../wgsl/groupnorm.wgsl");
/// GroupNorm without workgroup memory, one invocation per (group, sample), for software
/// adapters.
pub const GROUPNORM_DIRECT: &str = include_str!("../../../wgsl/groupnorm_direct.wgsl");
/// Sinusoidal time embedding and class-embedding rows.
pub const TIME_EMBED: &str = include_str!("../../../wgsl/time_embed.wgsl");
/// Channel concatenation (skips, conditioning) and NCHW ↔ NHWC.
pub const CONCAT: &str = include_str!("../../../wgsl/concat.wgsl");
/// Row softmax of self-attention.
pub const ATTENTION: &str = include_str!("../../../wgsl/attention.wgsl");
/// The sampler's linear combinations and classifier-free guidance.
pub const ELEMENTWISE: &str = include_str!("../../../wgsl/elementwise.wgsl");

/// One WGSL file of `wgsl/` as it is compiled: its prelude files, then its own text.
#[derive(Clone, Copy, Debug)]
pub struct ShaderFile {
    /// File name in `wgsl/`.
    pub name: &'static str,
    /// Library files prepended, in order.
    pub prelude: &'static [&'static str],
    /// The file's own text.
    pub body: &'static str,
}

impl ShaderFile {
    /// The full source handed to the compiler.
    pub fn source(&self) -> String {
        let mut s = String::new();
        for p in self.prelude {
            s.push_str(p);
            s.push('\n');
        }
        s.push_str(self.body);
        s
    }
}

pub(crate) const LINEAR_FILE: ShaderFile = ShaderFile { name: "linear.wgsl", prelude: &[MATH, GEMM_COMMON, GEMM_TILE], body: LINEAR };
pub(crate) const LINEAR_DIRECT_FILE: ShaderFile = ShaderFile { name: "linear_direct.wgsl", prelude: &[MATH, GEMM_COMMON], body: LINEAR_DIRECT };
pub(crate) const CONV3X3_FILE: ShaderFile = ShaderFile { name: "conv3x3.wgsl", prelude: &[MATH, RESAMPLE, GEMM_COMMON, GEMM_TILE], body: CONV3X3 };
pub(crate) const CONV3X3_DIRECT_FILE: ShaderFile = ShaderFile { name: "conv3x3_direct.wgsl", prelude: &[MATH, RESAMPLE, GEMM_COMMON], body: CONV3X3_DIRECT };
pub(crate) const GROUPNORM_FILE: ShaderFile = ShaderFile { name: "groupnorm.wgsl", prelude: &[MATH], body: GROUPNORM };
pub(crate) const GROUPNORM_DIRECT_FILE: ShaderFile = ShaderFile { name: "groupnorm_direct.wgsl", prelude: &[MATH], body: GROUPNORM_DIRECT };
pub(crate) const TIME_EMBED_FILE: ShaderFile = ShaderFile { name: "time_embed.wgsl", prelude: &[MATH], body: TIME_EMBED };
pub(crate) const CONCAT_FILE: ShaderFile = ShaderFile { name: "concat.wgsl", prelude: &[], body: CONCAT };
pub(crate) const ATTENTION_FILE: ShaderFile = ShaderFile { name: "attention.wgsl", prelude: &[MATH], body: ATTENTION };
pub(crate) const ELEMENTWISE_FILE: ShaderFile = ShaderFile { name: "elementwise.wgsl", prelude: &[], body: ELEMENTWISE };

/// The buffers `gemm_common.wgsl`'s epilogue reads, as its including kernels declare them: its
/// prelude when it is validated on its own.
const EPILOGUE_BUFFERS: &str = "@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> rowbias: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;";

/// Every file of `wgsl/`, libraries (empty prelude, no entry point) included.
pub const FILES: [ShaderFile; 14] = [
    ShaderFile { name: "math.wgsl", prelude: &[], body: MATH },
    ShaderFile { name: "resample.wgsl", prelude: &[], body: RESAMPLE },
    ShaderFile { name: "gemm_tile.wgsl", prelude: &[], body: GEMM_TILE },
    ShaderFile { name: "gemm_common.wgsl", prelude: &[MATH, EPILOGUE_BUFFERS], body: GEMM_COMMON },
    LINEAR_FILE,
    LINEAR_DIRECT_FILE,
    CONV3X3_FILE,
    CONV3X3_DIRECT_FILE,
    GROUPNORM_FILE,
    GROUPNORM_DIRECT_FILE,
    TIME_EMBED_FILE,
    CONCAT_FILE,
    ATTENTION_FILE,
    ELEMENTWISE_FILE,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every WGSL file parses and validates with naga (the compiler wgpu uses), with all
    /// capabilities: no GPU needed. naga does not know device limits, so this does not check
    /// workgroup sizes against them; the GPU parity tests do.
    #[test]
    fn every_wgsl_file_validates_with_naga() {
        for f in FILES {
            let src = f.source();
            let module = naga::front::wgsl::parse_str(&src)
                .unwrap_or_else(|e| panic!("{}: {}", f.name, e.emit_to_string(&src)));
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
                .validate(&module)
                .unwrap_or_else(|e| panic!("{}: {}", f.name, e.emit_to_string(&src)));
        }
    }

    /// The folder holds exactly the files listed in [`FILES`] (a new kernel file cannot be
    /// forgotten by the validation test).
    #[test]
    fn files_list_matches_the_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wgsl");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".wgsl"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = FILES.iter().map(|f| f.name.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }
}
