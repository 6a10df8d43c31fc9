//! Beeline in the browser: the wasm-bindgen layer under the npm package `beeline-web`.
//!
//! This crate exports one class, [`Engine`]: a validated model file on the CPU reference or on
//! the browser's WebGPU (the core's GPU runtime), and the few calls the JS API (`web/js/`)
//! needs: run one chunk of a generation or inversion, and convert samples to and from canvas
//! pixels. Everything user-facing (workers, caching, cancellation, progress, the automatic
//! CPU fallback) lives in the JS layer; everything numeric lives in the core, so the browser
//! computes exactly what the CLI does (same noise streams, same samplers, same pixels).
//!
//! Errors reach JS as `Error` objects with a `code` property: the core's
//! [`Error::code`](beeline::Error::code) (`model_invalid`, `invalid_input`, `webgpu_unsupported`,
//! `device_lost`, …) or `busy` when a second call overlaps a running one.

pub mod pixels;
pub mod request;

use beeline::backend::{self, Backend, Selected};
use beeline::config::ModelConfig;
use beeline::generator::Generator;
use beeline::modelfile::ModelFile;
use beeline::noise;
use beeline::pipeline::Generated;
use request::TransportRequest;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(s: &str);
}

/// Sends Rust panics to `console.error` before the module aborts (a panic is a bug: user input
/// never panics; the JS side reports the abort as an `internal` error).
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| console_error(&format!("beeline-web panicked: {info}"))));
}

/// A JS `Error` with a `code` property.
fn js_error(code: &str, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    let _ = js_sys::Reflect::set(&e, &JsValue::from_str("code"), &JsValue::from_str(code));
    e.into()
}

fn core_error(e: beeline::Error) -> JsValue {
    js_error(e.code(), &e.to_string())
}

/// The version of this crate (the npm package's).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Checks a model file's bytes (header, config, every tensor's dtype, shape and values) without
/// building it; returns its description as JSON (see [`Engine::info`]). The cache calls this
/// before storing a download.
#[wasm_bindgen]
pub fn inspect(bytes: &[u8]) -> Result<String, JsValue> {
    let file = ModelFile::from_bytes(bytes).map_err(core_error)?;
    Ok(describe(&file.config, file.num_params(), "none", None, None))
}

fn describe(config: &ModelConfig, params: usize, backend: &str, adapter: Option<String>, reason: Option<&str>) -> String {
    serde_json::json!({
        "config": config,
        "params": params,
        "kind": if config.data.shape.len() == 3 { "images" } else { "points" },
        "backend": backend,
        "adapter": adapter,
        "reason": reason,
    })
    .to_string()
}

/// A model file ready to sample on one backend.
#[wasm_bindgen]
pub struct Engine {
    runner: Rc<RefCell<Generator>>,
    config: Rc<ModelConfig>,
    info: String,
    /// The WebGPU device the model runs on (none on the CPU), held outside `runner` so that
    /// [`Engine::lose_device`] can reach it while a run holds the model.
    gpu: Option<beeline::gpu::GpuContext>,
}

#[wasm_bindgen]
impl Engine {
    /// Validates the model file `bytes` and builds it on `backend`: `"webgpu"` (the GPU
    /// runtime on `navigator.gpu`: compiles the kernels and uploads the weights; fails with
    /// `webgpu_unsupported` without an adapter) or `"cpu"` (the CPU reference).
    pub async fn load(bytes: Vec<u8>, backend: String) -> Result<Engine, JsValue> {
        let file = ModelFile::from_bytes(&bytes).map_err(core_error)?;
        drop(bytes);
        let want = match backend.as_str() {
            "webgpu" => Backend::Gpu,
            "cpu" => Backend::Cpu,
            other => return Err(js_error("invalid_input", &format!("backend {other:?}: use webgpu or cpu"))),
        };
        let choice = backend::choose(want).await.map_err(core_error)?;
        let runner = Generator::new(&choice.selected, &file).await.map_err(core_error)?;
        let gpu = match &choice.selected {
            Selected::Cpu => None,
            Selected::Gpu(ctx) => Some(ctx.clone()),
        };
        let name = if gpu.is_some() { "webgpu" } else { "cpu" };
        let info = describe(&file.config, file.num_params(), name, choice.adapter(), Some(&choice.reason));
        Ok(Engine { runner: Rc::new(RefCell::new(runner)), config: Rc::new(file.config), info, gpu })
    }

    /// Destroys the WebGPU device under this model, as a driver reset or a crashed GPU process
    /// would, even while a run is in flight (it then fails with `device_lost`); for testing
    /// recovery. Returns whether there was a device (`false` on the CPU).
    #[wasm_bindgen(js_name = loseDevice)]
    pub fn lose_device(&self) -> bool {
        self.gpu.as_ref().inspect(|ctx| ctx.destroy()).is_some()
    }

    /// The model and backend as JSON: `{config, params, kind: "images"|"points", backend:
    /// "webgpu"|"cpu", adapter, reason}` (`config` is the model file's config).
    pub fn info(&self) -> String {
        self.info.clone()
    }

    /// Runs samples `[first, first + count)` of the request `request` (JSON, see
    /// [`TransportRequest`]). Without `start` they start from seeded noise (generation);
    /// with `start` (`[count, numel]` values in the data range) from those states.
    ///
    /// Resolves to `{samples: Float32Array [count·numel], start: Float32Array [count·numel],
    /// labels: Uint32Array [count], nfe: number, trajectories: Float32Array [(steps+1)·count·numel]
    /// (empty unless asked for)}`. Rejects with a coded `Error`; `busy` if another call on this
    /// engine is still running.
    ///
    /// With `on_step` (a live preview), `on_step(step, steps, states)` is called after each
    /// sampler step `1..=steps` with the chunk's states (`Float32Array [count·numel]`, data
    /// range); on WebGPU each step then costs a readback. An exception it throws is ignored.
    pub fn transport(&self, request: String, start: Option<Vec<f32>>, first: usize, count: usize, on_step: Option<js_sys::Function>) -> js_sys::Promise {
        let runner = self.runner.clone();
        let config = self.config.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let req = TransportRequest::parse(&request).and_then(|r| r.chunk(&config, first, count)).map_err(core_error)?;
            let numel = config.data.numel();
            let x = match start {
                Some(x) if x.len() != count * numel => {
                    return Err(js_error("invalid_input", &format!("{} start values for {count} samples of {numel}", x.len())));
                }
                Some(x) => x,
                None => noise::gaussian_batch(req.seed, first as u64, count, numel),
            };
            let mut guard = runner.try_borrow_mut().map_err(|_| js_error("busy", "another call on this model is still running"))?;
            let out = match on_step {
                None => guard.transport_from(&req, x, &mut |_| {}).await,
                Some(f) => {
                    let mut watch = |s: beeline::pipeline::StepStates<'_>| {
                        let states = js_sys::Float32Array::from(s.x);
                        let _ = f.call3(&JsValue::NULL, &JsValue::from_f64(s.step as f64), &JsValue::from_f64(s.steps as f64), &states);
                    };
                    guard.transport_watched(&req, x, &mut |_| {}, &mut watch).await
                }
            }
            .map_err(core_error)?;
            Ok(result_object(&out))
        })
    }

    /// Inverts `images` (`[n, numel]` values in the data range, `n` the request's `total`) to
    /// noise with the request's sampler run backwards and regenerates them from that noise, as
    /// `beeline invert` does (the core's `reconstruct`, the same on both backends). With
    /// `reuse_initial_velocity` (CAF models) the initial velocity the inversion computes from
    /// the images is given to the regeneration: the CAF paper's reconstruction, `(N + 1) + N`
    /// evaluations. The request's `direction` is ignored (both are run).
    ///
    /// Resolves to `{inverted, regenerated}`, each shaped as [`Engine::transport`]'s result.
    pub fn reconstruct(&self, request: String, images: Vec<f32>, reuse_initial_velocity: bool) -> js_sys::Promise {
        let runner = self.runner.clone();
        let config = self.config.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let parsed = TransportRequest::parse(&request).map_err(core_error)?;
            let req = parsed.chunk(&config, 0, parsed.total).map_err(core_error)?;
            let numel = config.data.numel();
            if images.len() != parsed.total * numel {
                return Err(js_error("invalid_input", &format!("{} image values for {} samples of {numel}", images.len(), parsed.total)));
            }
            let mut guard = runner.try_borrow_mut().map_err(|_| js_error("busy", "another call on this model is still running"))?;
            let rec = guard.reconstruct(&req, images, reuse_initial_velocity, &mut |_| {}).await.map_err(core_error)?;
            let o = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&o, &JsValue::from_str("inverted"), &result_object(&rec.inverted));
            let _ = js_sys::Reflect::set(&o, &JsValue::from_str("regenerated"), &result_object(&rec.regenerated));
            Ok(o.into())
        })
    }

    /// `[n, c, h, w]` samples → `n` RGBA images back to back (`n·h·w·4` bytes).
    #[wasm_bindgen(js_name = toRgba)]
    pub fn to_rgba(&self, samples: &[f32]) -> Result<Vec<u8>, JsValue> {
        pixels::to_rgba(samples, &self.config.data.shape, self.config.data.range).map_err(core_error)
    }

    /// One RGBA image of the model's size → one sample in the data range.
    #[wasm_bindgen(js_name = fromRgba)]
    pub fn from_rgba(&self, rgba: &[u8], width: usize, height: usize) -> Result<Vec<f32>, JsValue> {
        pixels::from_rgba(rgba, width, height, &self.config.data.shape, self.config.data.range).map_err(core_error)
    }
}

fn result_object(g: &Generated) -> JsValue {
    let o = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), &v);
    };
    set("samples", js_sys::Float32Array::from(g.samples.as_slice()).into());
    set("start", js_sys::Float32Array::from(g.start.as_slice()).into());
    set("labels", js_sys::Uint32Array::from(g.labels.as_slice()).into());
    set("nfe", JsValue::from_f64(g.nfe as f64));
    let traj: Vec<f32> = g.trajectories.concat();
    set("trajectories", js_sys::Float32Array::from(traj.as_slice()).into());
    o.into()
}
