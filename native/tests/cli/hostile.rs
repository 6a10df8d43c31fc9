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

/// A table of bad command lines, each run in a folder holding a garbage "model", an empty one, a
/// FIFO and a folder: every one gets its documented status (docs/cli.md: 2 usage, 3 invalid
/// model file, 4 input that does not fit, 5 unreadable or unwritable file), one `error:` line
/// first, no panic, no raw control character, no hang, and nothing written where it runs.
#[test]
fn bad_command_lines_get_their_documented_status() {
    let d = scratch("hostile-table");
    std::fs::write(d.join("junk.safetensors"), b"garbage").unwrap();
    std::fs::write(d.join("empty.safetensors"), b"").unwrap();
    std::fs::create_dir(d.join("adir")).unwrap();
    #[cfg(unix)]
    assert!(std::process::Command::new("mkfifo").arg(d.join("fifo")).status().unwrap().success());
    let esc = "bad\u{1b}[2Jname\n.safetensors";
    let mut cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["generate", "--steps", "0"], 4),
        (vec!["generate", "--steps", "-1"], 2),
        (vec!["generate", "--steps", "1000000000"], 4),
        (vec!["generate", "--steps", "nan"], 2),
        (vec!["generate", "--steps", "99999999999999999999999"], 2),
        (vec!["generate", "--guidance", "nan"], 4),
        (vec!["generate", "--guidance", "inf"], 4),
        (vec!["generate", "--guidance", "-1"], 2),
        (vec!["generate", "--guidance", "1e40"], 4),
        (vec!["generate", "--guidance", "x"], 2),
        (vec!["generate", "--num-samples", "0"], 4),
        (vec!["generate", "--num-samples", "-5"], 2),
        (vec!["generate", "--num-samples", "1.5"], 2),
        (vec!["generate", "--batch", "0"], 2),
        (vec!["generate", "--batch", "-3"], 2),
        (vec!["generate", "--seed", "-1"], 2),
        (vec!["generate", "--seed", "99999999999999999999999"], 2),
        (vec!["generate", "--solver", "dpm"], 4),
        (vec!["generate", "--solver", ""], 4),
        (vec!["generate", "--solver", "caf"], 4),
        (vec!["generate", "--solver", "perflow"], 4),
        (vec!["generate", "--time-grid", "bogus"], 4),
        (vec!["generate", "--time-grid", "0,0.5"], 4),
        (vec!["generate", "--time-grid", "shift=-1"], 4),
        (vec!["generate", "--time-grid", "0,0.7,0.3,1"], 4),
        (vec!["generate", "--label", "11"], 4),
        (vec!["generate", "--label", "-1"], 2),
        (vec!["generate", "--label", "bird"], 4),
        (vec!["generate", "--label", ""], 4),
        (vec!["generate", "--model", ""], 2),
        (vec!["generate", "--model", "/nonexistent.safetensors"], 5),
        (vec!["generate", "--model", "adir"], 5),
        (vec!["generate", "--model", "fifo"], 5),
        (vec!["generate", "--model", "junk.safetensors"], 3),
        (vec!["generate", "--model", "empty.safetensors"], 3),
        (vec!["generate", "--model", "no such model"], 5),
        (vec!["generate", "--model", esc], 5),
        (vec!["generate", "--backend", "tpu"], 2),
        (vec!["generate", "--out", "adir"], 5),
        (vec!["generate", "--out", "fifo"], 5),
        (vec!["generate", "--out", "/nonexistent/dir/x.png"], 5),
        (vec!["generate", "--out", ""], 2),
        (vec!["generate", "--memory-budget", "0"], 2),
        (vec!["generate", "--memory-budget", "nan"], 2),
        (vec!["generate", "--memory-budget", "inf"], 2),
        (vec!["generate", "--memory-budget", "many"], 2),
        (vec!["generate", "--model", "rf-toy-1rf", "--label", "0"], 4),
        (vec!["generate", "--model", "rf-toy-1rf", "--guidance", "2"], 4),
        (vec!["info"], 2),
        (vec!["info", ""], 2),
        (vec!["info", "adir"], 5),
        (vec!["info", "fifo"], 5),
        (vec!["info", "junk.safetensors"], 3),
        (vec!["info", "empty.safetensors"], 3),
        (vec!["info", "/dev/zero"], 5),
        (vec!["info", "--json", "junk.safetensors"], 3),
        (vec!["info", esc], 5),
        (vec!["invert"], 2),
        (vec!["invert", "--model", "junk.safetensors"], 3),
        (vec!["invert", "--model", "mnist-2rf", "--steps", "0"], 4),
        (vec!["invert", "--model", "mnist-2rf", "--batch", "0"], 2),
        (vec!["edit"], 2),
        (vec!["eval", "--model", "mnist-2rf", "--num-samples", "0"], 4),
        (vec!["eval", "--model", "mnist-2rf", "--classifier", "junk.safetensors", "--num-samples", "4"], 4),
        (vec!["eval", "--model", "mnist-2rf", "--classifier", "adir", "--num-samples", "4"], 5),
        (vec!["eval", "--model", "mnist-2rf", "--classifier", "fifo", "--num-samples", "4"], 5),
        (vec!["eval", "--model", "mnist-2rf", "--reference-steps", "-3"], 2),
        (vec!["eval", "--model", "mnist-2rf", "--batch", "0"], 2),
        (vec!["eval", "--model", "junk.safetensors"], 3),
        (vec!["convert"], 2),
        (vec!["convert", "--dtype", "f8", "mnist-2rf", "x.safetensors"], 2),
        (vec!["pairs", "--model", "mnist-2rf", "--num-pairs", "0", "--out", "p"], 4),
        (vec!["pairs", "--model", "mnist-2rf", "--num-pairs", "10", "--direction", "sideways", "--out", "p"], 4),
        (vec!["pairs", "--model", "mnist-2rf", "--num-pairs", "10", "--shard-size", "0", "--out", "p"], 4),
        (vec!["pairs", "--model", "mnist-2rf", "--num-pairs", "10", "--batch", "0", "--out", "p"], 2),
        (vec!["pairs", "--model", "junk.safetensors", "--num-pairs", "10", "--out", "p"], 3),
        (vec!["pairs", "--model", "adir", "--num-pairs", "10", "--out", "p"], 5),
        (vec!["bench", "--bogus"], 2),
        (vec!["frobnicate"], 2),
        (vec!["--version-of-nothing"], 2),
    ];
    if cfg!(feature = "train") {
        cases.extend([
            (vec!["train", "--steps", "0", "--out", "t"], 2),
            (vec!["train", "--batch", "0", "--out", "t"], 2),
            (vec!["train", "--lr", "-1", "--out", "t"], 2),
            (vec!["train", "--lr", "nan", "--out", "t"], 2),
            (vec!["train", "--data", "/etc/passwd", "--out", "t"], 2),
            (vec!["train", "--config", "/dev/zero", "--out", "t"], 5),
            (vec!["train", "--config", "fifo", "--out", "t"], 5),
            (vec!["train", "--config", "adir", "--out", "t"], 5),
            (vec!["train", "--config", "junk.safetensors", "--out", "t"], 2),
            (vec!["train", "--device", "tpu", "--out", "t"], 2),
            (vec!["train", "--ema-decay", "2", "--out", "t"], 2),
            (vec!["train", "--label-dropout", "7", "--out", "t"], 2),
            (vec!["train", "--warmup", "-1", "--out", "t"], 2),
            (vec!["train", "--time-dist", "u-shaped:nan", "--out", "t"], 2),
            (vec!["reflow", "--pairs", "/nonexistent", "--out", "r"], 5),
            (vec!["reflow", "--pairs", "adir", "--out", "r"], 5),
            (vec!["distill", "--pairs", "adir", "--out", "d"], 5),
            (vec!["perflow", "--teacher", "junk.safetensors", "--out", "pf"], 3),
            (vec!["caf", "--pairs", "adir", "--h", "-3", "--out", "c"], 2),
        ]);
    }
    let before = std::fs::read_dir(&d).unwrap().count();
    // Eight at a time: each is a process start and a refusal, so the table runs in seconds.
    for chunk in cases.chunks(8) {
        let children: Vec<_> = chunk.iter().map(|(args, _)| command().args(args).current_dir(&d).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()).collect();
        let start = Instant::now();
        for ((args, code), mut child) in chunk.iter().zip(children) {
            while child.try_wait().unwrap().is_none() {
                assert!(start.elapsed() < Duration::from_secs(60), "beeline {args:?} still running after 60 s");
                std::thread::sleep(Duration::from_millis(5));
            }
            let o = child.wait_with_output().unwrap();
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(*code), "beeline {args:?}: {err}");
            assert!(err.starts_with("error: ") && !err.contains("panicked"), "beeline {args:?}: {err}");
            assert!(!err.contains('\u{1b}'), "beeline {args:?} printed a raw escape: {err:?}");
        }
    }
    let names: Vec<String> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), before, "a refused command wrote into its folder: {names:?}");
    println!("{} bad command lines, each refused with its status", cases.len());
}
