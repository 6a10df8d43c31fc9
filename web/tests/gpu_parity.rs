//! The GPU runtime on the browser's WebGPU against the CPU reference, inside Chromium
//! (`wasm-bindgen-test`, run by scripts/browser-test.sh with `--enable-unsafe-webgpu`, which
//! gives SwiftShader on a machine without a GPU). Every test needs an adapter and fails
//! without one: these tests never fall back to the CPU.
//!
//! Tolerance: each sample is compared with the CPU reference to 1e-4 × max(1, max|x|)
//! (absolute). The native parity tests (core/src/gpu/runtime.rs) allow 1e-5 for ≤ 5
//! evaluations of random networks on lavapipe; here the networks are the trained bundled models
//! (deeper activations) and the device is SwiftShader, whose `exp`/`tanh` (SiLU, GELU, time
//! embeddings) are allowed several ULP more error by WGSL than Rust's libm, so the bound is 10×
//! looser; it is still ~1/40 of one 8-bit pixel step (2/255 ≈ 8e-3 in the [-1, 1] range).
//! Observed on SwiftShader (Chromium 156): at most 2.5e-6 on the MNIST UNets and 2e-5 × scale
//! on the toy MLPs (FireFlow inversion, 4 steps), so the bound has 5× headroom.
#![cfg(target_arch = "wasm32")]

use beeline::config::Solver;
use beeline::gpu::{GpuContext, GpuModel};
use beeline::model::Model;
use beeline::modelfile::ModelFile;
use beeline::pipeline::{self, GenerateRequest, Generated, Labels};
use beeline::sampling::SamplerSpec;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn gpu() -> GpuContext {
    GpuContext::new()
        .await
        .unwrap_or_else(|e| panic!("the GPU parity tests need a WebGPU adapter (Chromium with --enable-unsafe-webgpu): {e}"))
}

fn max_abs(x: &[f32]) -> f32 {
    x.iter().fold(1.0f32, |m, v| m.max(v.abs()))
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let tol = 1e-4 * max_abs(want);
    let (i, d) = got.iter().zip(want).map(|(a, b)| (a - b).abs()).enumerate().fold((0, 0.0f32), |m, (i, d)| if d > m.1 { (i, d) } else { m });
    web_sys_log(&format!("{what}: max |gpu − cpu| = {d:.3e} at {i} (tolerance {tol:.3e})"));
    assert!(d <= tol, "{what}: |gpu − cpu| = {d} at index {i} > {tol} (gpu {}, cpu {})", got[i], want[i]);
}

fn web_sys_log(s: &str) {
    wasm_bindgen_test::console_log!("{s}");
}

async fn both(bytes: &[u8], req: &GenerateRequest) -> (Generated, Generated, String) {
    let file = ModelFile::from_bytes(bytes).expect("a bundled model");
    let classes = file.config.classes.len();
    let want = pipeline::generate(&mut Model::new(&file).unwrap(), classes, req, &mut |_| {}).unwrap();
    let ctx = gpu().await;
    let mut gm = GpuModel::new(&ctx, &file).await.expect("the model on WebGPU");
    let got = gm.generate(req, &mut |_| {}).await.expect("a WebGPU generation");
    (got, want, ctx.adapter().describe())
}

fn request(solver: Solver, steps: usize, n: usize, labels: Labels, guidance: f32, trajectories: bool) -> GenerateRequest {
    GenerateRequest { seed: 11, num_samples: n, batch: n, labels, guidance, sampler: SamplerSpec::new(solver, steps), record_trajectories: trajectories }
}

#[wasm_bindgen_test]
async fn adapter_is_webgpu() {
    let ctx = gpu().await;
    assert_eq!(ctx.adapter().backend, "BrowserWebGpu");
}

/// The distilled MNIST UNet, one Euler step, two classes.
#[wasm_bindgen_test]
async fn mnist_onestep_unet_matches_the_cpu() {
    let req = request(Solver::Euler, 1, 2, Labels::Cycle, 1.0, false);
    let (got, want, adapter) = both(include_bytes!("../../models/mnist-onestep.safetensors"), &req).await;
    assert_eq!(got.start, want.start, "the same noise");
    assert_close(&format!("mnist-onestep on {adapter}"), &got.samples, &want.samples);
}

/// The 2-RF UNet under classifier-free guidance (conditional and null batches together).
#[wasm_bindgen_test]
async fn mnist_2rf_with_guidance_matches_the_cpu() {
    let req = request(Solver::Euler, 2, 1, Labels::All(7), 1.5, false);
    let (got, want, _) = both(include_bytes!("../../models/mnist-2rf.safetensors"), &req).await;
    assert_close("mnist-2rf, 2 Euler steps, guidance 1.5", &got.samples, &want.samples);
}

/// The CAF pair of MLPs with every step's state (the playground's trajectories).
#[wasm_bindgen_test]
async fn caf_toy_trajectories_match_the_cpu() {
    let req = request(Solver::Caf, 3, 64, Labels::Unconditional, 1.0, true);
    let (got, want, _) = both(include_bytes!("../../models/rf-toy-caf.safetensors"), &req).await;
    assert_eq!(got.trajectories.len(), 4);
    for (s, (g, w)) in got.trajectories.iter().zip(&want.trajectories).enumerate() {
        assert_close(&format!("rf-toy-caf trajectory step {s}"), g, w);
    }
}

/// FireFlow on the 1-RF MLP, forwards and back (inversion).
#[wasm_bindgen_test]
async fn fireflow_inversion_on_the_toy_matches_the_cpu() {
    let file = ModelFile::from_bytes(include_bytes!("../../models/rf-toy-1rf.safetensors")).unwrap();
    let x = beeline::noise::gaussian_batch(5, 0, 32, 2);
    let req = GenerateRequest { sampler: SamplerSpec::new(Solver::Fireflow, 4).with_direction(beeline::sampling::Direction::Invert), ..request(Solver::Fireflow, 4, 32, Labels::Unconditional, 1.0, false) };
    let want = pipeline::transport_from(&mut Model::new(&file).unwrap(), 0, &req, x.clone(), &mut |_| {}).unwrap();
    let mut gm = GpuModel::new(&gpu().await, &file).await.unwrap();
    let got = gm.transport_from(&req, x, &mut |_| {}).await.unwrap();
    assert_close("rf-toy-1rf FireFlow inversion", &got.samples, &want.samples);
}
