//! Training support with burn 0.22 (feature `train`, native only): modules that mirror the CPU
//! reference networks exactly, conversion to and from Beeline [`Weights`](crate::weights::Weights),
//! export to a model file, and the choice of device.
//!
//! * [`Mlp`], [`Unet`] (and [`Net`], either of them) are backend-free burn modules
//!   (`#[derive(Module)]`, `Tensor<D>`): the same code runs on [`Device::flex`](burn::tensor::Device::flex)
//!   and on `Device::wgpu(..)`, with `.autodiff()` for training. Their forward is the one
//!   documented on [`MlpConfig`](crate::config::MlpConfig) / [`UnetConfig`](crate::config::UnetConfig)
//!   and implemented by [`nn`](crate::nn); tests check that exported weights give the CPU
//!   reference's outputs to f32 rounding.
//! * Inputs: `x`, optional `cond` (CAF's v̂0), Beeline times `t` (turned into the network's time
//!   input only through [`net_time`](crate::time::net_time), on the host: [`time_features`]),
//!   and class rows ([`class_rows`]: a label or the null row for
//!   [`NULL_LABEL`](crate::field::NULL_LABEL)).
//! * Dropout: training only, in the MLP's hidden layers and before each ResBlock's `conv2`;
//!   identity on a device without autodiff and after `Module::valid()`; no parameters.
//! * [`convert`]: burn parameter ⇄ Beeline tensor names and layouts; [`export()`]: networks →
//!   [`ModelFile`](crate::modelfile::ModelFile); [`device`]: `--device auto|wgpu|flex`.
//!
//! * [`trainer`]: `beeline train`, 1-rectified flow from data ([`TrainConfig`] from
//!   [`config`], [`checkpoint`]s, the [`metrics`] log, [`optim`]: AdamW, clipping, EMA).
//!
//! See `docs/training-modules.md` and `docs/training.md`.

pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod convert;
pub mod device;
mod export;
pub mod frozen;
pub mod metrics;
pub mod modules;
pub mod optim;
pub mod trainer;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod trainer_tests;

pub use burn;
pub use toml;
pub use config::{Loss, Method, MethodConfig, TrainConfig};
pub use trainer::{run, Event, TrainOptions, TrainSummary, Trainer};
pub use device::{select_device, Backend, DeviceChoice, DeviceError, SelectedDevice};
pub use export::export;
pub use frozen::Frozen;
pub use modules::{class_rows, time_features, Mlp, Net, Unet};
