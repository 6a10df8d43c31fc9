//! The `beeline` command end to end, in one test binary (one link of burn, wgpu and egui, not
//! four): generate/info/eval/bench and bad input (`generate`), inversion and editing
//! (`invert`), the ONNX export run in ONNX Runtime (`onnx`), the training commands (`train`) and
//! the viewer under Xvfb (`view`).

mod common;
mod generate;
mod hostile;
mod invert;
mod onnx;
mod train;
mod view;
