//! The `beeline` command end to end, on small shapes: outputs exist and are valid PNGs, bad input
//! gives a clear message and its documented exit status.

use beeline::config::ArchConfig;
use beeline::modelfile::ModelFile;
use beeline::nn::init::random_weights;
use beeline::presets;
use crate::common::{beeline, png_size, scratch, stderr};
use std::path::{Path, PathBuf};




/// A tiny class-conditional UNet model with random weights.
fn write_unet_model(dir: &Path) -> PathBuf {
    let arch = ArchConfig::Unet(presets::unet(1, 8, 8, &[1, 2], 1, true, 3));
    let config = presets::velocity_model(arch.clone(), presets::images("tiny", 1, 8), presets::digit_classes(3), presets::euler(2));
    let weights = random_weights(&arch, "velocity", 7);
    let path = dir.join("unet.safetensors");
    ModelFile::new(config, weights).unwrap().write(&path, None).unwrap();
    path
}


#[test]
fn generate_analytic_writes_the_toy_plot() {
    let d = scratch("analytic");
    let out = d.join("toy.png");
    let o = beeline(&["generate", "--analytic", "rf-toy", "--num-samples", "300", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(png_size(&out), (800, 800));
    assert!(String::from_utf8_lossy(&o.stdout).contains("8 NFE"));
    let o = beeline(&["generate", "--analytic", "rf-toy", "--model", "x.safetensors"]);
    assert_eq!(o.status.code(), Some(2), "--model and --analytic exclude each other");
}

/// The README's main command: the bundled one-step MNIST model, 4 digits per class in a
/// 10-column grid, and the digits are the classes asked for (judged by the bundled classifier
/// through the library, on the same model file).
#[test]
fn generate_default_makes_digits_of_the_asked_classes() {
    use beeline::eval::classifier::Classifier;
    use beeline::model::Model;
    use beeline::pipeline::{generate, GenerateRequest, Labels};
    use beeline::sampling::SamplerSpec;
    let d = scratch("default");
    let out = d.join("digits.png");
    let o = beeline(&["generate", "--backend", "cpu", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 NFE"), "{}", String::from_utf8_lossy(&o.stdout));
    // 10 columns × 4 rows of 28-px tiles with 2-px padding.
    assert_eq!(png_size(&out), (10 * 30 + 2, 4 * 30 + 2));
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let mut model = Model::load(models.join("mnist-onestep.safetensors")).unwrap();
    let spec = SamplerSpec::from_defaults(&model.config().sampler, &model.config().parameterization);
    let req = GenerateRequest { seed: 3, num_samples: 200, batch: 100, labels: Labels::Cycle, guidance: 1.0, sampler: spec, record_trajectories: false };
    let g = generate(&mut model, 10, &req, &mut |_| {}).unwrap();
    assert_eq!(g.nfe, 1);
    let c = Classifier::read(&models.join("mnist-classifier.safetensors")).unwrap();
    let acc = c.accuracy(&g.samples, &g.labels).unwrap();
    // Measured 99–100 % (docs/reflow.md); 90 % leaves room for another seed.
    assert!(acc > 0.9, "classifier accuracy of the bundled one-step digits: {acc}");
}

/// The bundled 2D models: the 2-RF's one step lands on the modes, the 1-RF's collapses to the
/// mean (docs/reflow.md), straight from the binary with no file around.
#[test]
fn bundled_toy_models_show_what_reflow_does() {
    let d = scratch("bundled");
    let on_mode = |model: &str| -> f64 {
        let o = beeline(&["eval", "--model", model, "--steps", "1", "--solver", "euler", "--num-samples", "1000", "--reference-steps", "4", "--backend", "cpu", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        j["samples"]["on_mode"].as_f64().unwrap()
    };
    // Measured 88.5 % and 0 % on 4000 samples; the bounds leave room for another draw.
    assert!(on_mode("rf-toy-2rf") > 0.8);
    assert!(on_mode("rf-toy-1rf") < 0.02);
    // The bundled CAF, one CAF step (2 evaluations): measured 96.4 % on 4000 samples.
    let o = beeline(&["eval", "--model", "rf-toy-caf", "--num-samples", "1000", "--reference-steps", "4", "--backend", "cpu", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((j["solver"].as_str(), j["nfe"].as_u64()), (Some("caf"), Some(2)), "{j}");
    assert!(j["samples"]["on_mode"].as_f64().unwrap() > 0.9, "{j}");
    let out = d.join("toy.png");
    let o = beeline(&["generate", "--model", "rf-toy-2rf", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 NFE"), "the 2-RF recommends one step");
    let o = beeline(&["info", "rf-toy-1rf", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // `info --list` is models/bundled.json, the one manifest, in its order with its default.
    let manifest: serde_json::Value = serde_json::from_str(include_str!("../../../models/bundled.json")).unwrap();
    let o = beeline(&["info", "--list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(names(&list), names(&manifest["models"]));
    let defaults: Vec<_> = list.as_array().unwrap().iter().filter(|m| m["default"] == true).map(|m| m["name"].clone()).collect();
    assert_eq!(defaults, [manifest["default"].clone()]);
    let o = beeline(&["info", "--list"]);
    assert!(String::from_utf8_lossy(&o.stdout).lines().count() == names(&manifest["models"]).len(), "{}", stderr(&o));
    let o = beeline(&["generate", "--model", "no-such-model"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("bundled models: "), "{}", stderr(&o));
}

#[test]
fn generate_from_a_model_file_with_json_summary() {
    let d = scratch("model");
    let model = write_unet_model(&d);
    let out = d.join("grid.png");
    let o = beeline(&[
        "generate", "--model", model.to_str().unwrap(), "--num-samples", "6", "--solver", "fireflow",
        "--steps", "2", "--guidance", "2", "--out", out.to_str().unwrap(), "--json", "--backend", "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["nfe"], 3);
    assert_eq!(summary["backend"], "cpu");
    assert_eq!(summary["backend_reason"], "cpu: requested");
    assert!(summary["adapter"].is_null());
    // 6 samples cycling over 3 classes: 3 columns, 2 rows of 8×8 tiles with 2-px padding.
    assert_eq!(png_size(&out), (3 * 10 + 2, 2 * 10 + 2));
}

#[test]
fn info_prints_config_and_tensors() {
    let d = scratch("info");
    let model = write_unet_model(&d);
    let o = beeline(&["info", model.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("velocity.conv_in.weight") && text.contains("classes   0, 1, 2"), "{text}");
    let o = beeline(&["info", model.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"]["valid"], true);
    assert_eq!(v["config"]["data"]["shape"], serde_json::json!([1, 8, 8]));
}

#[test]
fn corrupt_model_exits_3_with_a_clear_message() {
    let d = scratch("corrupt");
    let model = write_unet_model(&d);
    let bytes = std::fs::read(&model).unwrap();
    let cut = d.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    for args in [vec!["info", cut.to_str().unwrap()], vec!["generate", "--model", cut.to_str().unwrap()]] {
        let o = beeline(&args);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
}

#[test]
fn bad_inputs_exit_4() {
    let d = scratch("inputs");
    let model = write_unet_model(&d);
    let m = model.to_str().unwrap();
    let cases: [&[&str]; 6] = [
        &["generate", "--analytic", "rf-toy", "--backend", "gpu"],
        &["generate", "--model", m, "--label", "7"],
        &["generate", "--model", m, "--solver", "warp"],
        &["generate", "--model", m, "--steps", "0"],
        &["generate", "--model", m, "--solver", "caf"],
        &["generate", "--model", "rf-toy-2rf", "--guidance", "3"],
    ];
    for args in cases {
        let o = beeline(args);
        assert_eq!(o.status.code(), Some(4), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    }
}

#[test]
fn missing_file_exits_5_and_bad_flags_exit_2() {
    let o = beeline(&["info", "/nonexistent/model.safetensors"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let o = beeline(&["generate", "--stepz", "3"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Standard output that cannot be written (a full device) is an I/O error, exit 5, with a
/// message instead of `print!`'s panic: for text, for JSON and for the bundled list.
#[test]
fn a_full_standard_output_exits_5() {
    for args in [&["info", "mnist-onestep"][..], &["info", "mnist-onestep", "--json"], &["info", "--list"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("Linux has /dev/full");
        let o = crate::common::command().args(args).stdout(full).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(5), "{args:?}: {err}");
        assert!(err.contains("writing to standard output") && !err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `--backend gpu` on the GPU when one is expected (CI's software Vulkan): the same grid as the
/// CPU backend, and the adapter named in the summary. Fails without an adapter unless
/// `BEELINE_GPU_TESTS=skip`, when it only checks that auto mode reports its choice.
#[test]
fn generate_on_the_gpu_when_one_is_expected() {
    let d = scratch("gpu");
    let model = write_unet_model(&d);
    let m = model.to_str().unwrap();
    let (gpu_png, cpu_png) = (d.join("gpu.png"), d.join("cpu.png"));
    let args = |out: &Path, backend: &str| -> Vec<String> {
        ["generate", "--model", m, "--num-samples", "6", "--solver", "fireflow", "--steps", "2", "--guidance", "2", "--json", "--backend", backend, "--out", out.to_str().unwrap()]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let run = |a: Vec<String>| beeline(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(args(&d.join("auto.png"), "auto"));
    assert!(o.status.success(), "{}", stderr(&o));
    let auto: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let reason = auto["backend_reason"].as_str().unwrap();
    assert!(reason.starts_with(auto["backend"].as_str().unwrap()), "{reason}");

    if beeline::gpu::gpu_tests_skipped("generate --backend gpu") {
        return;
    }
    let o = run(args(&gpu_png, "gpu"));
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["backend"], "gpu");
    assert_eq!(summary["nfe"], 3);
    let adapter = summary["adapter"].as_str().unwrap();
    assert!(summary["backend_reason"].as_str().unwrap().starts_with("gpu: "), "{summary}");
    if let Ok(api) = std::env::var("BEELINE_EXPECT_BACKEND") {
        assert!(adapter.to_lowercase().contains(&api.to_lowercase()), "{adapter}");
    }
    let o = run(args(&cpu_png, "cpu"));
    assert!(o.status.success(), "{}", stderr(&o));
    // The same samples up to f32 rounding: 8-bit pixels differ by at most one level.
    let pixels = |p: &Path| {
        let mut r = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap())).read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        r.next_frame(&mut buf).unwrap();
        buf
    };
    let (g, c) = (pixels(&gpu_png), pixels(&cpu_png));
    assert_eq!(g.len(), c.len());
    assert!(g.iter().zip(&c).all(|(a, b)| a.abs_diff(*b) <= 1), "GPU and CPU grids differ");
}

/// `--backend gpu` with no usable adapter exits 4 and says why (an adapter name that matches
/// nothing stands in for a machine without a GPU).
#[test]
fn gpu_backend_without_adapter_exits_4() {
    let d = scratch("nogpu");
    let model = write_unet_model(&d);
    let o = crate::common::command()
        .args(["generate", "--model", model.to_str().unwrap(), "--backend", "gpu", "--out", d.join("x.png").to_str().unwrap()])
        .env("WGPU_ADAPTER_NAME", "no-such-adapter-beeline")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("no usable GPU"), "{}", stderr(&o));
    // Auto falls back to the CPU and says why.
    let o = crate::common::command()
        .args(["generate", "--model", model.to_str().unwrap(), "--num-samples", "2", "--out", d.join("y.png").to_str().unwrap()])
        .env("WGPU_ADAPTER_NAME", "no-such-adapter-beeline")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("backend cpu: no WebGPU/wgpu adapter found"), "{}", String::from_utf8_lossy(&o.stdout));
}

/// Output cut short by the reader (`beeline info … | head -1`) ends the process quietly, not
/// with a panic.
#[cfg(unix)]
#[test]
fn closed_stdout_is_not_a_panic() {
    use std::process::Stdio;
    let mut child = crate::common::command().args(["info", "mnist-onestep"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Close the reading end at once: the child's first write finds no reader (it is still
    // parsing the model then), which without the SIGPIPE reset panicked in `println!`.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

/// `convert` reports the size and the sample change: f32 → f16 halves the weights and moves the
/// samples a little; f16 → f32 is exact.
#[test]
fn convert_reports_size_and_sample_change() {
    let d = scratch("convert");
    let f32_model = write_unet_model(&d);
    let f16_model = d.join("unet-f16.safetensors");
    let o = beeline(&["convert", "--model", f32_model.to_str().unwrap(), "--dtype", "f16", "--num-samples", "6", "--out", f16_model.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let num = |k: &str| j[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {j}"));
    assert!(num("bytes_after") < num("bytes_before") && num("size_ratio") < 0.7, "{j}");
    assert!(num("max_abs_diff") > 0.0 && num("max_abs_diff") < 0.1 && num("mean_abs_diff") <= num("max_abs_diff"), "{j}");
    assert_eq!(j["samples_compared"], 6);

    let back = d.join("unet-f32.safetensors");
    let o = beeline(&["convert", "--model", f16_model.to_str().unwrap(), "--dtype", "f32", "--out", back.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("differ by at most 0.000e0") && text.contains("% of the size"), "f16 → f32 is exact:\n{text}");

    let o = beeline(&["convert", "--model", f32_model.to_str().unwrap(), "--dtype", "f8", "--out", back.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = beeline(&["convert", "--model", d.join("missing.safetensors").to_str().unwrap(), "--dtype", "f16", "--out", back.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
}

/// Every subcommand `beeline --help` lists has `--help` with at least one example, and the
/// shared flags keep one name across commands.
#[test]
fn every_subcommand_has_help_with_an_example() {
    let o = beeline(&["--help"]);
    assert!(o.status.success());
    let top = String::from_utf8_lossy(&o.stdout).into_owned();
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    let mut want = vec!["generate", "view", "info", "eval", "invert", "edit", "convert", "pairs", "bench"];
    if cfg!(feature = "train") {
        want.extend(["train", "reflow", "distill", "caf", "perflow", "slimflow", "train-classifier"]);
    }
    for w in &want {
        assert!(commands.iter().any(|c| c == w), "`beeline --help` lacks {w}: {top}");
    }
    for c in &commands {
        let o = beeline(&[c, "--help"]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{c} --help: {}", stderr(&o));
        assert!(text.contains("Example"), "`beeline {c} --help` has no example:\n{text}");
        assert!(text.contains(&format!("beeline {c}")), "`beeline {c} --help`'s examples do not run {c}:\n{text}");
        // One vocabulary: no alternative spellings of the shared flags.
        for bad in ["--num_samples", "--n-samples", "--output ", "--batch-size", "--nsteps"] {
            assert!(!text.contains(bad), "`beeline {c} --help` uses {bad}");
        }
        if text.contains("--backend") || text.contains("--device") {
            assert!(text.contains("--backend"), "`beeline {c}` names its backend flag --device only");
        }
    }
}

/// `train-classifier` on small shapes (one epoch of a 16-unit MLP on MNIST): it writes its file
/// and reports a test accuracy well above chance. `--backend cpu` and its
/// alias `--device flex` name the same burn device.
#[cfg(feature = "train")]
#[test]
fn train_classifier_one_small_epoch() {
    let d = scratch("classifier");
    let out = d.join("classifier.safetensors");
    let o = beeline(&["train-classifier", "--data", "mnist", "--hidden", "16", "--epochs", "1", "--batch", "256", "--backend", "cpu", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let acc: f64 = text
        .split("test accuracy ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in: {text}"));
    assert!(acc > 50.0, "one epoch of a small MLP should beat chance by far: {acc} %");
    assert!(std::fs::metadata(&out).is_ok_and(|m| m.len() > 1000), "no classifier file written");
    let o = beeline(&["train-classifier", "--data", "mnist", "--device", "tpu", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
