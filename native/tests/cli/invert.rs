//! `beeline invert` and `beeline edit` end to end on the bundled MNIST 2-RF and tiny random
//! models, on a few held-out test images: FireFlow's reconstruction error falls with steps and
//! beats Euler's at equal NFE, edits land in the target class, CAF's reconstruction reuses v̂0,
//! and bad input gives its documented exit status.
//!
//! The MNIST test images come from `$BEELINE_DATA_DIR`, else the repository's `data/`
//! (`scripts/fetch-data.sh` installs them).

use beeline::config::{ArchConfig, NetRole, Parameterization, UnetConfig};
use beeline::modelfile::ModelFile;
use beeline::nn::init::random_weights;
use beeline::presets;
use beeline::weights::Weights;
use serde_json::Value;
use std::path::{Path, PathBuf};
use crate::common::{png_size, scratch, stderr};
use std::process::Output;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("BEELINE_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("data"));
    assert!(dir.join("mnist/t10k-images-idx3-ubyte").exists(), "no MNIST test images in {}: run scripts/fetch-data.sh or set BEELINE_DATA_DIR", dir.display());
    dir
}

/// `beeline ARGS` with the data folder set (the test images these commands read).
fn beeline(args: &[&str]) -> Output {
    crate::common::command().args(args).env("BEELINE_DATA_DIR", data_dir()).output().expect("the binary runs")
}



/// Runs a command with `--json --backend cpu` and parses its output.
fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--json", "--backend", "cpu"]);
    let o = beeline(&all);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&o.stdout)))
}


fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// A random-weight model of MNIST's shape (tiny UNet): a velocity model, or a CAF pair.
fn tiny_mnist_model(dir: &Path, classes: usize, caf: bool) -> PathBuf {
    let unet = presets::unet(1, 28, 8, &[1, 2], 1, false, classes);
    let arch = ArchConfig::Unet(unet.clone());
    // The acceleration network also takes v̂0: one more image's worth of input channels.
    let with_v0 = ArchConfig::Unet(UnetConfig { cond_channels: 1, ..unet });
    let mut config = presets::velocity_model(arch.clone(), presets::images("mnist", 1, 28), presets::digit_classes(classes), presets::euler(2));
    let mut weights = Weights::default();
    if caf {
        config.parameterization = Parameterization::Caf { h: 1.5 };
        config.networks.clear();
        config.networks.insert(NetRole::InitialVelocity, arch.clone());
        config.networks.insert(NetRole::Acceleration, with_v0.clone());
        config.sampler.solver = beeline::config::Solver::Caf;
        weights.tensors.extend(random_weights(&arch, "initial_velocity", 3).tensors);
        weights.tensors.extend(random_weights(&with_v0, "acceleration", 4).tensors);
    } else {
        weights = random_weights(&arch, "velocity", 5);
    }
    let path = dir.join(format!("tiny-{classes}-{}.safetensors", if caf { "caf" } else { "velocity" }));
    ModelFile::new(config, weights).unwrap().write(&path, None).unwrap();
    path
}

/// FireFlow's round-trip error on held-out digits falls with the number of steps (measured on
/// these 8 images: MSE 0.27, 0.11, 0.024, 0.017 at N = 1, 2, 4, 8), and the inverted noise is
/// centred. The PNG has a row of originals and a row of reconstructions.
#[test]
fn fireflow_reconstruction_error_falls_with_steps() {
    let d = scratch("steps");
    let out = d.join("recon.png");
    let mut last = f64::INFINITY;
    for n in ["1", "2", "4", "8"] {
        let j = json(&["invert", "--model", "mnist-2rf", "--num-samples", "8", "--solver", "fireflow", "--steps", n, "--out", out.to_str().unwrap()]);
        let r = &j["runs"][0];
        let steps: u64 = n.parse().unwrap();
        assert_eq!((r["nfe_invert"].as_u64(), r["nfe_regenerate"].as_u64()), (Some(steps + 1), Some(steps + 1)));
        let mse = f(&r["mse"]);
        assert!(mse < last, "N = {n}: MSE {mse} after {last}");
        assert!((f(&r["psnr"]) - 10.0 * (4.0 / mse).log10()).abs() < 1e-9, "PSNR on [0, 1]");
        assert!(f(&r["noise_mean"]).abs() < 0.1, "noise mean {}", r["noise_mean"]);
        last = mse;
    }
    assert!(last < 0.05, "8 FireFlow steps: MSE {last}");
    assert_eq!(png_size(&out), (8 * 30 + 2, 2 * 30 + 2));
}

/// The FireFlow paper's ordering holds on the bundled 2-RF: at equal NFE (N + 1 each way)
/// FireFlow reconstructs better than Euler (measured MSE 0.032 vs 0.043 at N = 2, 0.025 vs 0.035
/// at N = 4 on the stop-24 2-RF; the older, less straight one gave 0.11 vs 0.26 and 0.024 vs
/// 0.18: the straighter the flow, the less a second-order step has to correct). Midpoint is
/// listed with ⌈(N + 1)/2⌉ steps.
#[test]
fn fireflow_beats_euler_at_equal_nfe() {
    let d = scratch("compare");
    let out = d.join("compare.png");
    for n in ["2", "4"] {
        let j = json(&["invert", "--model", "mnist-2rf", "--num-samples", "8", "--steps", n, "--compare", "--out", out.to_str().unwrap()]);
        let runs = j["runs"].as_array().unwrap();
        let names: Vec<&str> = runs.iter().map(|r| r["solver"].as_str().unwrap()).collect();
        assert_eq!(names, ["euler", "midpoint", "fireflow"]);
        let (euler, fireflow) = (&runs[0], &runs[2]);
        assert_eq!(euler["nfe_invert"], fireflow["nfe_invert"], "equal NFE");
        let n: u64 = n.parse().unwrap();
        assert_eq!(runs[1]["steps"].as_u64(), Some((n + 1).div_ceil(2)));
        assert!(f(&fireflow["mse"]) < 0.85 * f(&euler["mse"]), "N = {n}: FireFlow {} vs Euler {}", fireflow["mse"], euler["mse"]);
    }
    // Rows: originals, then the three reconstructions.
    assert_eq!(png_size(&out), (8 * 30 + 2, 4 * 30 + 2));
}

/// Editing 3 → 8 with the bundled 2-RF: the classifier reads 8 in most edits (measured 8 of 8)
/// while the reconstructions stay 3, and the edits keep more of the original than fresh 8s do.
#[test]
fn edit_turns_threes_into_eights() {
    let d = scratch("edit");
    let out = d.join("edit.png");
    let classifier = repo().join("models/mnist-classifier.safetensors");
    let j = json(&[
        "edit", "--model", "mnist-2rf", "--from", "3", "--to", "8", "--num-samples", "8", "--steps", "4",
        "--classifier", classifier.to_str().unwrap(), "--out", out.to_str().unwrap(),
    ]);
    let c = &j["classifier"];
    assert!(f(&c["edits_as_target"]) >= 0.75, "{c}");
    assert!(f(&c["reconstructions_as_source"]) >= 0.75, "{c}");
    let dist = &j["distance_to_original"];
    assert!(f(&dist["reconstruction"]["mse"]) < f(&dist["edit"]["mse"]), "{dist}");
    assert!(f(&dist["edit"]["mse"]) < f(&dist["fresh_target_samples"]["mse"]), "{dist}");
    assert_eq!((j["nfe_invert"].as_u64(), j["guidance"].as_f64()), (Some(5), Some(2.0)));
    assert_eq!(png_size(&out), (8 * 30 + 2, 3 * 30 + 2));
}

/// CAF: the default reconstruction reuses v̂0 from the images (1 + N + N NFE), the other
/// recomputes it from the noise (2(N + 1)); on the GPU as on the CPU.
#[test]
fn caf_reconstruction_reuses_the_initial_velocity() {
    let d = scratch("caf");
    let model = tiny_mnist_model(&d, 10, true);
    let out = d.join("caf.png");
    let j = json(&["invert", "--model", model.to_str().unwrap(), "--num-samples", "3", "--steps", "3", "--compare", "--out", out.to_str().unwrap()]);
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let nfe = |r: &Value| (r["nfe_invert"].as_u64().unwrap(), r["nfe_regenerate"].as_u64().unwrap(), r["nfe_round_trip"].as_u64().unwrap());
    assert_eq!((runs[0]["reuse_initial_velocity"].as_bool(), nfe(&runs[0])), (Some(true), (4, 3, 7)));
    assert_eq!((runs[1]["reuse_initial_velocity"].as_bool(), nfe(&runs[1])), (Some(false), (4, 4, 8)));
    let single = json(&["invert", "--model", model.to_str().unwrap(), "--num-samples", "2", "--steps", "2", "--out", out.to_str().unwrap()]);
    assert_eq!(single["runs"][0]["nfe_round_trip"].as_u64(), Some(5));
    // The GPU runtime runs the same round trip, v̂0 reused: the same NFE, and the PSNR of the
    // CPU's to 0.01 dB (f32 rounding on a random network).
    if !beeline::gpu::gpu_tests_skipped("invert's CAF reconstruction on the GPU") {
        let o = beeline(&["invert", "--model", model.to_str().unwrap(), "--num-samples", "2", "--steps", "2", "--backend", "gpu", "--json", "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "reuse on the GPU: {}", stderr(&o));
        let gpu: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(gpu["backend"], "gpu", "{gpu}");
        let (g, c) = (&gpu["runs"][0], &single["runs"][0]);
        assert_eq!((g["reuse_initial_velocity"].as_bool(), g["nfe_round_trip"].as_u64()), (Some(true), Some(5)), "{g}");
        assert!((f(&g["psnr"]) - f(&c["psnr"])).abs() < 0.01, "GPU {g} vs CPU {c}");
    }
    let o = beeline(&["invert", "--model", model.to_str().unwrap(), "--num-samples", "2", "--solver", "fireflow", "--backend", "cpu", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4), "a CAF model has no velocity network: {}", stderr(&o));
}

#[test]
fn bad_input_is_refused_with_its_exit_status() {
    let d = scratch("bad");
    let out = d.join("x.png");
    let out = out.to_str().unwrap();
    let unconditional = tiny_mnist_model(&d, 0, false);
    let unconditional = unconditional.to_str().unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["invert", "--model", "mnist-2rf", "--num-samples", "0"], 4, "at least 1"),
        (&["invert", "--model", "mnist-2rf", "--num-samples", "10001"], 4, "10000 images"),
        (&["invert", "--model", "mnist-2rf", "--data", "cifar"], 4, "unknown image data set"),
        (&["invert", "--model", "mnist-2rf", "--data", "fashion-mnist"], 4, "classes"),
        (&["invert", "--model", "rf-toy-2rf"], 4, "not an image data set"),
        (&["invert", "--model", "rf-toy-2rf", "--data", "mnist"], 4, "shape"),
        (&["invert", "--model", "mnist-2rf", "--steps", "0"], 4, "step"),
        (&["invert", "--model", "mnist-2rf", "--solver", "rfpp-new"], 4, "cannot invert"),
        (&["invert", "--model", "mnist-2rf", "--label", "12"], 4, "out of range"),
        (&["invert", "--model", unconditional, "--label", "data"], 4, "class-conditional"),
        (&["invert", "--model", "mnist-2rf", "--compare", "--solver", "euler"], 2, "cannot be used with"),
        (&["invert", "--model", "no-such-model.safetensors"], 5, "no-such-model"),
        (&["invert", "--model", "mnist-2rf", "--data-dir", "/nonexistent"], 5, "fetch-data"),
        (&["edit", "--model", unconditional, "--from", "3", "--to", "8"], 4, "class-conditional"),
        (&["edit", "--model", "mnist-2rf", "--from", "3", "--to", "10"], 4, "out of range"),
        (&["edit", "--model", "mnist-2rf", "--from", "cycle", "--to", "8"], 4, "one class"),
        (&["edit", "--model", "mnist-2rf", "--from", "three", "--to", "8"], 4, "is neither \"cycle\", \"none\", a class index nor one of the model's classes"),
        (&["edit", "--model", "mnist-2rf", "--from", "3", "--to", "8", "--num-samples", "2000"], 4, "images of class 3"),
        (&["edit", "--model", "mnist-2rf", "--from", "3", "--to", "8", "--num-samples", "0"], 4, "at least 1"),
        (&["edit", "--model", "mnist-2rf", "--from", "3"], 2, "--to"),
    ];
    for (args, code, msg) in cases {
        let mut all = args.to_vec();
        all.extend(["--backend", "cpu", "--out", out]);
        let o = beeline(&all);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(*code), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err:?} should mention {msg:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
