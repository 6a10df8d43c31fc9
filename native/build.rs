//! Compiles the bundled-model list, `models/bundled.json` (the one manifest the CLI, the npm
//! package, the demo page and the docs read), into `$OUT_DIR/bundled.rs`: one `Bundled` entry
//! per model, its bytes through `include_bytes!`, and the default model's name.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let manifest = dir.join("bundled.json");
    println!("cargo:rerun-if-changed={}", manifest.display());
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("reading {}: {e}", manifest.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let str_of = |v: &serde_json::Value, key: &str| -> String {
        v.get(key).and_then(|s| s.as_str()).unwrap_or_else(|| panic!("{}: `{key}` must be a string", manifest.display())).to_string()
    };
    let default = str_of(&json, "default");
    let models = json.get("models").and_then(|m| m.as_array()).unwrap_or_else(|| panic!("{}: `models` must be a list", manifest.display()));
    let mut out = String::from("/// Every bundled model, in `models/bundled.json`'s order.\npub const BUNDLED: &[Bundled] = &[\n");
    let mut names = Vec::new();
    for m in models {
        let (name, kind, about) = (str_of(m, "name"), str_of(m, "kind"), str_of(m, "about"));
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{}: model name {name:?} must be lowercase letters, digits and '-'",
            manifest.display()
        );
        assert!(kind == "image" || kind == "2d", "{}: {name}: kind must be \"image\" or \"2d\"", manifest.display());
        assert!(!names.contains(&name), "{}: {name} is listed twice", manifest.display());
        let file = dir.join(format!("{name}.safetensors"));
        assert!(file.is_file(), "{}: {name}: {} is missing", manifest.display(), file.display());
        println!("cargo:rerun-if-changed={}", file.display());
        let file = file.canonicalize().expect("canonical path");
        writeln!(
            out,
            "    Bundled {{ name: {name:?}, kind: {kind:?}, about: {about:?}, bytes: include_bytes!({:?}) }},",
            file.display().to_string()
        )
        .unwrap();
        names.push(name);
    }
    out.push_str("];\n\n");
    assert!(names.contains(&default), "{}: the default {default:?} is not in `models`", manifest.display());
    writeln!(out, "/// The model `generate` and `view` use without `--model` (`models/bundled.json`'s `default`).\npub const DEFAULT_MODEL: &str = {default:?};").unwrap();
    let path = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("bundled.rs");
    std::fs::write(&path, out).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
