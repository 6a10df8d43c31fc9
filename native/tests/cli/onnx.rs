//! `beeline convert --format onnx`, run in ONNX Runtime (`scripts/onnx-check.py`) against the
//! CPU reference (`beeline::nn::Network`) on the same inputs: the bundled MNIST models, the 2D
//! toys (CAF's two networks included) and small random-weight networks that reach every layer
//! kind (attention with two heads, RGB, class labels with both null encodings, CAF's `cond`).
//!
//! The Python that runs ONNX Runtime is `BEELINE_ONNX_PYTHON` (a Python with `onnxruntime` and
//! `numpy`; `scripts/test.sh` makes one in a venv under ~/.cache). Without it these tests fail
//! and say how to set it, unless `BEELINE_ONNX_TESTS=skip`, which skips them and says so.
//!
//! **Tolerance**: `max |ort − cpu| ≤ 1e-4 · max(1, max |cpu|)`. Both compute in f32 from the
//! same f32 weights and the same float64 time embedding; they differ only in the order of
//! summation (ONNX Runtime's MLAS blocks and vectorises its convolutions and GEMMs, with FMA
//! where available; the CPU reference sums each dot product in k order without FMA) and in
//! GroupNorm's statistics (f32 there, f64 here). A dot product of K terms differs by at most ~K·2⁻²⁴ relative to the
//! sum of its terms' magnitudes (K ≤ 9·96 = 864 here: ≤ 5e-5), and typically by √K·2⁻²⁴ (~2e-6);
//! GroupNorm renormalises after every convolution, so errors do not grow through the depth.
//! Measured: ≤ 2e-6 relative on every case (the JSON each case prints); 1e-4 leaves a margin of
//! ~50 while still catching any real mistake (a wrong layout, a missing bias or class row, a
//! transposed head moves outputs by O(1)).

use crate::common::{beeline, scratch, stderr};
use beeline::config::{ArchConfig, MlpConfig, ModelConfig, NetRole, Parameterization, SamplerDefaults, Solver, TimeGrid};
use beeline::field::NULL_LABEL;
use beeline::modelfile::ModelFile;
use beeline::nn::init::random_weights;
use beeline::nn::{Network, Workspace};
use beeline::presets;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Relative tolerance of the comparison (see the module docs).
const TOLERANCE: f64 = 1e-4;

/// The Python with onnxruntime, or `None` when `BEELINE_ONNX_TESTS=skip` (said on stderr).
fn python(test: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BEELINE_ONNX_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if std::env::var("BEELINE_ONNX_TESTS").as_deref() == Ok("skip") {
        eprintln!("{test}: SKIPPED (BEELINE_ONNX_TESTS=skip): the ONNX export is not checked in ONNX Runtime");
        return None;
    }
    panic!(
        "{test} runs the ONNX export in ONNX Runtime and needs BEELINE_ONNX_PYTHON, a Python with onnxruntime and numpy: \
         `python3 -m venv ~/.cache/beeline-onnx-venv && ~/.cache/beeline-onnx-venv/bin/pip install onnxruntime numpy && \
         export BEELINE_ONNX_PYTHON=~/.cache/beeline-onnx-venv/bin/python` (scripts/test.sh does this through \
         scripts/lib/onnx-python.sh), or set BEELINE_ONNX_TESTS=skip to skip it"
    );
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Writes a little-endian `.npy` (format 1.0) of `descr` (`<f4`, `<i8`) values.
fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A random-weight CAF model (both networks) around `v0`, written to `dir/name.safetensors`.
fn write_caf_model(dir: &Path, name: &str, v0: ArchConfig, data: beeline::config::DataSpec, classes: usize) -> PathBuf {
    let a = v0.with_cond(true);
    let mut config: ModelConfig = presets::velocity_model(v0.clone(), data, presets::digit_classes(classes), presets::euler(1));
    config.networks = BTreeMap::from([(NetRole::InitialVelocity, v0.clone()), (NetRole::Acceleration, a.clone())]);
    config.parameterization = Parameterization::Caf { h: 1.5 };
    config.sampler = SamplerDefaults { solver: Solver::Caf, steps: 1, guidance: 1.0, time_grid: TimeGrid::Uniform };
    let mut weights = random_weights(&v0, "initial_velocity", 11);
    weights.tensors.extend(random_weights(&a, "acceleration", 12).tensors);
    let path = dir.join(format!("{name}.safetensors"));
    ModelFile::new(config, weights).unwrap().write(&path, None).unwrap();
    path
}

/// Exports `network` of `model` (a bundled name or a file; `file` is the same model's file),
/// runs it in ONNX Runtime on `batch` seeded inputs and compares with the CPU reference.
fn check(test: &str, model: &str, file: &Path, network: Option<&str>, batch: usize) {
    let Some(py) = python(test) else { return };
    let d = scratch(test);
    let onnx = d.join("model.onnx");
    let mut args = vec!["convert", "--model", model, "--format", "onnx", "--out", onnx.to_str().unwrap(), "--json"];
    if let Some(n) = network {
        args.extend(["--network", n]);
    }
    let o = beeline(&args);
    assert!(o.status.success(), "{test}: {}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["format"], "onnx");
    assert_eq!(report["bytes"].as_u64(), Some(std::fs::metadata(&onnx).unwrap().len()), "{report}");
    assert!(report["nodes"].as_u64().unwrap() > 0, "{report}");

    let mf = ModelFile::read(file).unwrap();
    let role = beeline::onnx_export::network_by_name(report["network"].as_str().unwrap()).unwrap();
    let arch = &mf.config.networks[&role];
    assert_eq!(report["params"].as_u64(), Some(arch.num_params() as u64));
    let net = Network::new(arch, &mf.weights, role.prefix()).unwrap();
    let numel: usize = arch.sample_shape().iter().product();
    let x = beeline::noise::gaussian_batch(3, 0, batch, numel);
    let cond = (arch.cond_numel() > 0).then(|| beeline::noise::gaussian_batch(4, 0, batch, numel));
    // Both ends and points between (net time 1000·t up to 1000).
    let t: Vec<f32> = (0..batch).map(|i| if batch == 1 { 0.37 } else { i as f32 / (batch - 1) as f32 }).collect();
    let classes = arch.num_classes();
    // Labels cycle through the classes; every third is the null class, in ONNX given as
    // `classes` or as -1 alternately.
    let labels: Option<Vec<u32>> = (classes > 0).then(|| (0..batch).map(|i| if i % 3 == 1 { NULL_LABEL } else { (i % classes) as u32 }).collect());
    let mut want = vec![0.0f32; batch * numel];
    net.forward(&x, cond.as_deref(), &t, labels.as_deref(), &mut want, &mut Workspace::new()).unwrap();

    let mut shape = vec![batch];
    shape.extend(arch.sample_shape());
    write_npy(&d.join("x.npy"), "<f4", &shape, &f32_bytes(&x));
    write_npy(&d.join("t.npy"), "<f4", &[batch], &f32_bytes(&t));
    if let Some(c) = &cond {
        write_npy(&d.join("cond.npy"), "<f4", &shape, &f32_bytes(c));
    }
    if let Some(l) = &labels {
        let y: Vec<u8> = l
            .iter()
            .enumerate()
            .flat_map(|(i, &v)| (if v == NULL_LABEL { if i % 2 == 0 { -1 } else { classes as i64 } } else { v as i64 }).to_le_bytes())
            .collect();
        write_npy(&d.join("y.npy"), "<i8", &[batch], &y);
    }
    let out_name = role.prefix();
    write_npy(&d.join(format!("{out_name}.ref.npy")), "<f4", &shape, &f32_bytes(&want));

    let o = Command::new(&py)
        .arg(repo().join("scripts/onnx-check.py"))
        .args([onnx.to_str().unwrap(), d.to_str().unwrap(), "--tolerance", &TOLERANCE.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("{test}: cannot run BEELINE_ONNX_PYTHON={}: {e}", py.display()));
    let text = String::from_utf8_lossy(&o.stdout);
    eprintln!("{test}: {text}");
    assert!(o.status.code().is_some_and(|c| c <= 1), "{test}: onnx-check.py failed to run:\n{text}\n{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{test}: {e}: {text}"));
    let out = &j["outputs"][0];
    assert_eq!(out["name"], out_name, "{j}");
    assert_eq!(out["compared"], true, "{j}");
    let (diff, max_ref) = (out["max_abs_diff"].as_f64().unwrap(), out["max_abs_ref"].as_f64().unwrap());
    assert!(max_ref > 0.0, "{test}: the reference output is all zeros: {j}");
    assert!(
        diff <= TOLERANCE * max_ref.max(1.0),
        "{test}: ONNX Runtime differs from the CPU reference by {diff:e} (max |v| {max_ref}; allowed {TOLERANCE:e} relative): {j}"
    );
    assert_eq!(j["ok"], true, "{j}");
}

fn bundled(name: &str) -> PathBuf {
    repo().join("models").join(format!("{name}.safetensors"))
}

#[test]
fn onnx_matches_cpu_mnist_2rf() {
    check("onnx-mnist-2rf", "mnist-2rf", &bundled("mnist-2rf"), None, 4);
}

#[test]
fn onnx_matches_cpu_mnist_onestep() {
    check("onnx-mnist-onestep", "mnist-onestep", &bundled("mnist-onestep"), None, 3);
}

#[test]
fn onnx_matches_cpu_2d_toy() {
    check("onnx-rf-toy-2rf", "rf-toy-2rf", &bundled("rf-toy-2rf"), None, 7);
}

#[test]
fn onnx_matches_cpu_2d_caf_both_networks() {
    check("onnx-rf-toy-caf-v0", "rf-toy-caf", &bundled("rf-toy-caf"), Some("initial-velocity"), 5);
    check("onnx-rf-toy-caf-a", "rf-toy-caf", &bundled("rf-toy-caf"), Some("acceleration"), 5);
}

/// Every UNet layer kind: attention with two heads, RGB, 3 classes with both null encodings,
/// CAF's `cond` channels, two upsamplings; and a class-conditional MLP with `cond`.
#[test]
fn onnx_matches_cpu_random_unet_with_attention_and_mlp() {
    if python("onnx-random").is_none() {
        return;
    }
    let d = scratch("onnx-random-models");
    let mut u = presets::unet(3, 8, 8, &[1, 2, 2], 1, true, 3);
    u.attention_heads = 2;
    let unet = write_caf_model(&d, "unet", ArchConfig::Unet(u), presets::images("tiny-rgb", 3, 8), 3);
    let p = unet.to_str().unwrap();
    check("onnx-random-unet-v0", p, &unet, Some("initial_velocity"), 4);
    check("onnx-random-unet-a", p, &unet, Some("acceleration"), 4);
    let m = MlpConfig { dim: 3, hidden: 32, depth: 2, time_embed_dim: 16, cond_dim: 0, num_classes: 4 };
    let mlp = write_caf_model(&d, "mlp", ArchConfig::Mlp(m), beeline::config::DataSpec { name: "pts".into(), shape: vec![3], range: [-3.0, 3.0] }, 4);
    let p = mlp.to_str().unwrap();
    check("onnx-random-mlp-a", p, &mlp, Some("acceleration"), 6);
}

/// The CLI's choices and refusals: CAF needs `--network`; `--dtype f16` and sampler flags do
/// not go with ONNX; `--network` does not go with safetensors; safetensors still needs
/// `--dtype`. None of these needs ONNX Runtime.
#[test]
fn onnx_convert_refuses_what_it_cannot_export() {
    let d = scratch("onnx-refusals");
    let out = d.join("m.onnx");
    let out = out.to_str().unwrap();
    let o = beeline(&["convert", "--model", "rf-toy-caf", "--format", "onnx", "--out", out]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("--network") && e.contains("initial_velocity") && e.contains("acceleration"), "{e}");
    assert!(!Path::new(out).exists());
    for (args, word) in [
        (vec!["--model", "mnist-2rf", "--format", "onnx", "--dtype", "f16"], "f32"),
        (vec!["--model", "mnist-2rf", "--format", "onnx", "--steps", "2"], "sampler"),
        (vec!["--model", "mnist-2rf", "--network", "velocity", "--dtype", "f32"], "--format onnx"),
        (vec!["--model", "mnist-2rf"], "--dtype"),
        (vec!["--model", "mnist-2rf", "--format", "onnx", "--network", "decoder"], "unknown network"),
    ] {
        let mut a = vec!["convert", "--out", out];
        a.extend(args.iter().copied());
        let o = beeline(&a);
        let want = if word == "unknown network" { 4 } else { 2 };
        assert_eq!(o.status.code(), Some(want), "{a:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(word), "{a:?}: {}", stderr(&o));
        assert!(!Path::new(out).exists(), "{a:?} wrote a file");
    }
    let o = beeline(&["convert", "--model", "mnist-2rf", "--format", "onnx", "--network", "acceleration", "--out", out]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("no `acceleration` network"), "{}", stderr(&o));
    let o = beeline(&["convert", "--model", "mnist-2rf", "--format", "onnx", "--out", out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for w in ["ONNX opset 17", "input   x", "input   t", "input   y", "output  velocity", "[N, 1, 28, 28]", "int64"] {
        assert!(text.contains(w), "text report lacks {w:?}:\n{text}");
    }
}
