//! Trained models committed in `models/` and compiled into the binary, so that `beeline
//! generate` works with no download. `--model NAME` picks one by name when no file of that
//! name exists; `beeline info --list`… see [`BUNDLED`]. How each was trained: `models/README.md`.

use anyhow::{Context, Result};
use std::path::Path;

/// A model shipped inside the binary.
pub struct Bundled {
    /// The name `--model` accepts.
    pub name: &'static str,
    /// What it is.
    pub about: &'static str,
    /// The model file's bytes.
    pub bytes: &'static [u8],
}

/// Every bundled model.
pub const BUNDLED: &[Bundled] = &[
    Bundled { name: "mnist-onestep", about: "class-conditional MNIST digits in one network evaluation (distilled 2-RF)", bytes: include_bytes!("../../models/mnist-onestep.safetensors") },
    Bundled { name: "mnist-2rf", about: "class-conditional MNIST 2-rectified flow; recommends 2 Euler steps", bytes: include_bytes!("../../models/mnist-2rf.safetensors") },
    Bundled { name: "rf-toy-1rf", about: "1-rectified flow on the 3-Gaussian toy (MLP)", bytes: include_bytes!("../../models/rf-toy-1rf.safetensors") },
    Bundled { name: "rf-toy-2rf", about: "2-rectified flow (reflow of rf-toy-1rf): straight enough for one step", bytes: include_bytes!("../../models/rf-toy-2rf.safetensors") },
    Bundled { name: "rf-toy-caf", about: "Constant Acceleration Flow (h = 2) on rf-toy-1rf's couplings: one CAF step, 2 evaluations", bytes: include_bytes!("../../models/rf-toy-caf.safetensors") },
];

/// The model `generate` uses without `--model`.
pub const DEFAULT_MODEL: &str = "mnist-onestep";

/// The bytes of the model file `spec`: the file at that path if it exists, else the bundled
/// model of that name; also a display name.
pub fn model_bytes(spec: &Path) -> Result<(std::borrow::Cow<'static, [u8]>, String)> {
    if !spec.exists()
        && let Some(b) = spec.to_str().and_then(|s| BUNDLED.iter().find(|b| b.name == s))
    {
        return Ok((std::borrow::Cow::Borrowed(b.bytes), format!("{} (bundled)", b.name)));
    }
    let bytes = beeline::modelfile::read_bounded(spec).with_context(|| {
        let names: Vec<String> = BUNDLED.iter().map(|b| format!("{}: {}", b.name, b.about)).collect();
        format!("reading {} (bundled models: {})", spec.display(), names.join("; "))
    })?;
    Ok((std::borrow::Cow::Owned(bytes), spec.display().to_string()))
}
