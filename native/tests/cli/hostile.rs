//! Hostile paths and standard streams (issue 16): every case gets its documented exit status, a
//! message without a panic, no hang, and no write outside the regular file asked for.

use crate::common::{beeline, command, scratch, stderr};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The commands that write one output file, each given `OUT` as its `--out`.
fn writers() -> Vec<Vec<&'static str>> {
    vec![
        vec!["generate", "--model", "rf-toy-1rf", "--num-samples", "64", "--out", "OUT"],
        vec!["generate", "--model", "mnist-onestep", "--num-samples", "4", "--backend", "cpu", "--out", "OUT"],
        vec!["eval", "--model", "rf-toy-1rf", "--num-samples", "256", "--out", "OUT"],
    ]
}

fn with_out(args: &[&'static str], out: &Path) -> Vec<String> {
    args.iter().map(|a| if *a == "OUT" { out.display().to_string() } else { a.to_string() }).collect()
}

/// Runs `beeline ARGS` with a deadline: a hang is a failure, not a stuck test run.
fn bounded(args: &[String], secs: u64) -> std::process::Output {
    let mut child = command().args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("beeline {args:?} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn assert_refused(o: &std::process::Output, code: i32, needle: &str, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{what}: {err}");
    assert!(err.contains(needle) && !err.contains("panicked"), "{what}: {err}");
}

/// `--out` onto a symbolic link, a folder or a device: refused with exit 5, the link, its
/// target, the folder and the device left as they were.
#[test]
fn outputs_onto_non_regular_files_are_refused_and_nothing_changes() {
    let d = scratch("hostile-out");
    let victim = d.join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let link = d.join("link.png");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let folder = d.join("folder");
    std::fs::create_dir(&folder).unwrap();
    for args in writers() {
        for (target, what) in [(link.as_path(), "symbolic link"), (folder.as_path(), "folder"), (Path::new("/dev/null"), "device")] {
            let o = bounded(&with_out(&args, target), 120);
            assert_refused(&o, 5, what, &format!("{args:?} onto {target:?}"));
        }
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    let left: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 3, "temporary files left behind: {left:?}");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
}

/// A file planted at the old predictable temporary name (`.NAME.tmp-PID`) is never written
/// through: temporary names are random and created exclusively.
#[test]
fn a_planted_temporary_link_does_not_redirect_the_write() {
    let d = scratch("hostile-tmp");
    let victim = d.join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    // Plant links at the names the next few PIDs would have used.
    let me = std::process::id();
    for pid in me..me + 64 {
        let _ = std::os::unix::fs::symlink(&victim, d.join(format!(".out.png.tmp-{pid}")));
    }
    let out = d.join("out.png");
    let o = beeline(&["generate", "--model", "rf-toy-1rf", "--num-samples", "64", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(std::fs::read(&out).unwrap().starts_with(b"\x89PNG"));
}

/// `--out -` writes the PNG or JSON to standard output, and the summary goes to stderr so a
/// pipe gets the file alone.
#[test]
fn a_dash_writes_the_file_to_standard_output() {
    let o = beeline(&["generate", "--model", "rf-toy-1rf", "--num-samples", "64", "--out", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.starts_with(b"\x89PNG\r\n\x1a\n"), "stdout is not a PNG");
    let decoder = png::Decoder::new(std::io::Cursor::new(&o.stdout));
    let mut reader = decoder.read_info().expect("stdout holds one whole PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut buf).unwrap();
    assert!(stderr(&o).contains("wrote -"), "{}", stderr(&o));

    let o = beeline(&["generate", "--model", "rf-toy-1rf", "--num-samples", "64", "--out", "-", "--json"]);
    assert!(o.status.success() && o.stdout.starts_with(b"\x89PNG"), "{}", stderr(&o));
    let err = stderr(&o);
    let line = err.lines().rfind(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON summary on stderr: {err}"));
    let summary: serde_json::Value = serde_json::from_str(line).expect("the JSON summary on stderr");
    assert_eq!(summary["out"], "-");

    let o = beeline(&["eval", "--model", "rf-toy-1rf", "--num-samples", "256", "--out", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let j: serde_json::Value = serde_json::from_str(&text).expect("stdout is the JSON report alone");
    assert!(j["nfe"].is_number(), "{j}");
}

/// Reads of non-regular files: a device that never ends, a FIFO nobody writes, a folder. Each
/// is refused at once (exit 5) instead of reading 2 GB or blocking.
#[test]
fn reads_of_devices_fifos_and_folders_are_refused_at_once() {
    let d = scratch("hostile-read");
    let fifo = d.join("model.safetensors");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let fifo = fifo.display().to_string();
    let folder = d.display().to_string();
    let cases: Vec<Vec<String>> = [
        vec!["info", "/dev/zero"],
        vec!["info", "/dev/urandom"],
        vec!["info", &fifo],
        vec!["info", &folder],
        vec!["generate", "--model", &fifo, "--out", "x.png"],
        vec!["generate", "--model", "/dev/zero", "--out", "x.png"],
        vec!["eval", "--model", "mnist-onestep", "--classifier", &fifo],
        vec!["convert", "--model", &fifo, "--out", "x.safetensors", "--dtype", "f16"],
    ]
    .iter()
    .map(|a| a.iter().map(|s| s.to_string()).collect())
    .collect();
    for args in cases {
        let start = Instant::now();
        let o = bounded(&args, 30);
        assert_refused(&o, 5, "not a regular file", &format!("{args:?}"));
        assert!(start.elapsed() < Duration::from_secs(10), "{args:?} took {:?}", start.elapsed());
    }
}

/// A training config that is a FIFO or a device is refused the same way (exit 5), before
/// any training starts.
#[test]
fn a_training_config_that_is_not_a_file_is_refused() {
    let d = scratch("hostile-config");
    let fifo = d.join("config.toml");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for config in [fifo.display().to_string(), "/dev/zero".to_string()] {
        let out = d.join("run").display().to_string();
        let o = bounded(&["train".into(), "--config".into(), config.clone(), "--out".into(), out], 30);
        let err = stderr(&o);
        // A build without `train` refuses the command itself (exit 2) before reading anything.
        if o.status.code() == Some(2) && err.contains("train") {
            continue;
        }
        assert_refused(&o, 5, "not a regular file", &config);
    }
}

/// Strings from a model file reach the terminal escaped: a class name, a provenance command and
/// a note that carry escape sequences print as `\u{1b}`, never as the control itself.
#[test]
fn strings_from_a_file_cannot_drive_the_terminal() {
    use beeline::config::ArchConfig;
    use beeline::modelfile::ModelFile;
    let d = scratch("hostile-strings");
    let arch = ArchConfig::Mlp(beeline::presets::mlp(2, 8, 1, 2));
    let classes = vec!["\x1b[2Jwiped".to_string(), "bell\x07".to_string()];
    let mut config = beeline::presets::velocity_model(arch.clone(), beeline::presets::points2d("gmm3", 12.0), classes, beeline::presets::euler(2));
    config.provenance.command = "beeline train \x1b]0;title\x07 --evil".into();
    config.provenance.notes.insert("k\r".into(), "\x1b[31mred".into());
    let path = d.join("escapes.safetensors");
    ModelFile::new(config, beeline::nn::init::random_weights(&arch, "velocity", 1)).unwrap().write(&path, None).unwrap();
    let o = beeline(&["info", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
    assert!(text.contains("\\u{1b}[2Jwiped") && text.contains("\\u{1b}[31mred"), "{text}");
}

/// Absurd sample counts are refused against the memory budget before anything is allocated
/// (exit 4, at once), and the budget is a flag.
#[test]
fn sample_counts_beyond_the_memory_budget_are_refused() {
    let cases: [(&[&str], i32, &str); 6] = [
        (&["generate", "--model", "rf-toy-1rf", "--num-samples", "9223372036854775807", "--out", "x.png"], 4, "memory budget"),
        (&["generate", "--model", "mnist-onestep", "--num-samples", "100000000", "--out", "x.png"], 4, "memory budget"),
        (&["generate", "--model", "rf-toy-1rf", "--num-samples", "18446744073709551615", "--trajectories", "64", "--out", "x.png"], 4, "memory budget"),
        (&["generate", "--model", "rf-toy-1rf", "--num-samples", "64", "--memory-budget", "0.0000001", "--out", "x.png"], 4, "--memory-budget"),
        (&["generate", "--model", "rf-toy-1rf", "--memory-budget=-1", "--out", "x.png"], 2, "--memory-budget"),
        (&["eval", "--model", "mnist-onestep", "--num-samples", "1000000000000"], 4, "memory budget"),
    ];
    let d = scratch("hostile-memory");
    for (args, code, needle) in cases {
        let args: Vec<String> = args.iter().map(|a| if *a == "x.png" { d.join("x.png").display().to_string() } else { a.to_string() }).collect();
        let start = Instant::now();
        let o = bounded(&args, 60);
        assert_refused(&o, code, needle, &format!("{args:?}"));
        assert!(start.elapsed() < Duration::from_secs(20), "{args:?} took {:?}", start.elapsed());
    }
    assert!(!d.join("x.png").exists());
}

/// A small file whose config asks for 1024×1024 images (about 1.4 GiB of activations per
/// sample): over a 1 GiB budget `generate` refuses at once (exit 4) instead of allocating until
/// the machine aborts (under the default 4 GiB it would stream one or two samples at a time);
/// under a small budget the bundled model streams in smaller batches, to the same image.
#[test]
fn activations_beyond_the_memory_budget_are_refused_or_streamed() {
    use beeline::config::ArchConfig;
    use beeline::modelfile::ModelFile;
    let d = scratch("hostile-activations");
    let arch = ArchConfig::Unet(beeline::presets::unet(1, 1024, 8, &[1, 2], 1, false, 0));
    let config = beeline::presets::velocity_model(arch.clone(), beeline::presets::images("huge", 1, 1024), Vec::new(), beeline::presets::euler(2));
    let path = d.join("huge.safetensors");
    ModelFile::new(config, beeline::nn::init::random_weights(&arch, "velocity", 7)).unwrap().write(&path, None).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 400_000);
    let out = d.join("huge.png");
    let start = Instant::now();
    let o = bounded(&["generate".into(), "--model".into(), path.display().to_string(), "--backend".into(), "cpu".into(), "--num-samples".into(), "1".into(), "--memory-budget".into(), "1".into(), "--out".into(), out.display().to_string()], 60);
    assert_refused(&o, 4, "activations for a single sample", "1024×1024");
    assert!(start.elapsed() < Duration::from_secs(20), "took {:?}", start.elapsed());
    assert!(!out.exists());
    // 40 MNIST samples at batch 64 under a 12 MiB budget: batches shrink, the result stands.
    let small = d.join("small.png");
    let o = beeline(&["generate", "--model", "mnist-2rf", "--backend", "cpu", "--steps", "2", "--batch", "64", "--memory-budget", "0.012", "--out", small.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let full = d.join("full.png");
    let o = beeline(&["generate", "--model", "mnist-2rf", "--backend", "cpu", "--steps", "2", "--batch", "64", "--out", full.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(&small).unwrap() == std::fs::read(&full).unwrap(), "streaming in smaller batches changed the image");
}

/// A model whose weights are blown up makes a flat, saturated image: `generate` still writes it
/// (exit 0) but says so on stderr; a healthy model gets no warning.
#[test]
fn a_degenerate_output_is_warned_about() {
    use beeline::config::ArchConfig;
    use beeline::modelfile::ModelFile;
    let d = scratch("hostile-degenerate");
    let arch = ArchConfig::Unet(beeline::presets::unet(1, 8, 8, &[1, 2], 1, false, 3));
    let config = beeline::presets::velocity_model(arch.clone(), beeline::presets::images("tiny", 1, 8), beeline::presets::digit_classes(3), beeline::presets::euler(2));
    let mut weights = beeline::nn::init::random_weights(&arch, "velocity", 7);
    for t in weights.tensors.values_mut() {
        t.data.iter_mut().for_each(|v| *v *= 1e4);
    }
    let path = d.join("blown.safetensors");
    ModelFile::new(config, weights).unwrap().write(&path, None).unwrap();
    let out = d.join("flat.png");
    let o = beeline(&["generate", "--model", path.to_str().unwrap(), "--backend", "cpu", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: every sample is"), "{}", stderr(&o));
    let o = beeline(&["generate", "--model", "mnist-onestep", "--backend", "cpu", "--out", out.to_str().unwrap()]);
    assert!(o.status.success() && !stderr(&o).contains("warning: every sample"), "{}", stderr(&o));
}

/// Without a desktop session (no XDG_RUNTIME_DIR), `generate` prints its result and nothing
/// about Wayland: Mesa's device-select layer no longer complains twice per run.
#[test]
fn no_session_means_no_wayland_noise() {
    let d = scratch("hostile-xdg");
    let out = d.join("a.png");
    let o = command()
        .args(["generate", "--model", "rf-toy-1rf", "--num-samples", "64", "--out", out.to_str().unwrap()])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NODEVICE_SELECT")
        .env_remove("DRI_PRIME")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("XDG_RUNTIME_DIR"), "{}", stderr(&o));
}
