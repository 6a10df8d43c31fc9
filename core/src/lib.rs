//! Beeline core: the model file, the CPU reference networks, samplers and portable noise.
//!
//! Everything here is plain Rust that compiles for native targets and `wasm32-unknown-unknown`.
//! It is the oracle that the GPU runtime, the burn training code and the browser build are
//! checked against. See `time` for the one time convention (t = 0 noise, t = 1 data).

pub mod backend;
pub mod config;
pub mod data;
pub mod error;
pub mod eval;
pub mod field;
pub mod files;
pub mod generator;
pub mod gmm;
pub mod gpu;
pub mod image;
pub mod model;
pub mod modelfile;
pub mod nn;
pub mod onnx_export;
#[cfg(not(target_arch = "wasm32"))]
pub mod pairs;
pub mod noise;
pub mod pipeline;
pub mod presets;
pub mod recipe;
pub mod sampling;
pub mod strict_json;
pub mod time;
#[cfg(all(feature = "train", not(target_arch = "wasm32")))]
pub mod train;
pub mod weights;

pub use error::{Error, Result};
