//! Training and evaluation data, offline: IDX image sets (MNIST, Fashion-MNIST) and generated 2D
//! distributions.

pub mod idx;
#[cfg(not(target_arch = "wasm32"))]
pub mod images;
pub mod toys;
