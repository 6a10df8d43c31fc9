//! Trained models committed in `models/` and compiled into the binary, so that `beeline
//! generate` works with no download. `--model NAME` picks one by name when no file of that
//! name exists; `beeline info --list` prints them. The list is `models/bundled.json`, compiled
//! in by `build.rs` ([`BUNDLED`], [`DEFAULT_MODEL`]); how each was trained: `models/README.md`.

use anyhow::{Context, Result};
use std::path::Path;

/// A model shipped inside the binary.
pub struct Bundled {
    /// The name `--model` accepts.
    pub name: &'static str,
    /// `image` (a class-conditional image generator) or `2d` (a point-cloud model).
    pub kind: &'static str,
    /// What it is.
    pub about: &'static str,
    /// The model file's bytes.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The bytes of the model file `spec`: the file at that path if it exists, else the bundled
/// model of that name; also a display name.
pub fn model_bytes(spec: &Path) -> Result<(std::borrow::Cow<'static, [u8]>, String)> {
    if !spec.exists()
        && let Some(b) = spec.to_str().and_then(|s| BUNDLED.iter().find(|b| b.name == s))
    {
        return Ok((std::borrow::Cow::Borrowed(b.bytes), format!("{} (bundled)", b.name)));
    }
    let bytes = beeline::modelfile::read_bounded(spec).with_context(|| {
        // A bare word that is no file was meant as a bundled name: list the names. A path
        // (a folder or an extension in it) gets the I/O error alone.
        if spec.components().count() == 1 && spec.extension().is_none() && !spec.exists() {
            let names: Vec<&str> = BUNDLED.iter().map(|b| b.name).collect();
            format!("{} is neither a file nor a bundled model (bundled models: {}; see `beeline info --list`)", spec.display(), names.join(", "))
        } else {
            format!("reading {}", spec.display())
        }
    })?;
    Ok((std::borrow::Cow::Owned(bytes), spec.display().to_string()))
}

/// `beeline info --list`: the bundled models, one per line (name, kind, size, what), or as JSON.
pub fn print_list(json: bool) {
    if json {
        let list: Vec<serde_json::Value> = BUNDLED
            .iter()
            .map(|b| serde_json::json!({"name": b.name, "kind": b.kind, "about": b.about, "bytes": b.bytes.len(), "default": b.name == DEFAULT_MODEL}))
            .collect();
        crate::outln!("{}", serde_json::Value::Array(list));
        return;
    }
    let width = BUNDLED.iter().map(|b| b.name.len()).max().unwrap_or(0);
    for b in BUNDLED {
        let default = if b.name == DEFAULT_MODEL { " (default)" } else { "" };
        crate::outln!("{:width$}  {:5}  {:>4} KB  {}{default}", b.name, b.kind, b.bytes.len().div_ceil(1000), b.about);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_model_is_a_valid_model_file_documented_in_models_readme() {
        let readme = include_str!("../../models/README.md");
        for b in BUNDLED {
            beeline::modelfile::ModelFile::from_bytes(b.bytes).unwrap_or_else(|e| panic!("{}: {e}", b.name));
            assert!(readme.contains(&format!("`{}`", b.name)), "models/README.md does not describe {}", b.name);
        }
        assert!(BUNDLED.iter().any(|b| b.name == DEFAULT_MODEL));
    }

    #[test]
    fn a_bundled_name_is_found_and_an_unknown_one_lists_the_bundled_models() {
        let (bytes, name) = model_bytes(Path::new(DEFAULT_MODEL)).unwrap();
        assert!(!bytes.is_empty() && name.contains("(bundled)"));
        let err = format!("{:#}", model_bytes(Path::new("no-such-model")).unwrap_err());
        for b in BUNDLED {
            assert!(err.contains(b.name), "{err}");
        }
    }
}
