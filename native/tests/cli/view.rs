//! `beeline view` under Xvfb: the window opens on a wgpu surface (Mesa's lavapipe where there
//! is no GPU), generates on the GPU runtime, and `--screenshot` writes what the window shows.
//! The screenshots are checked for the picture's structure, not just for existing.
//!
//! Needs `xvfb-run` (Debian's `xvfb`; `scripts/test.sh` installs it): without it these tests
//! fail rather than skip.

use std::path::Path;
use crate::common::scratch;
use std::process::{Command, Output};

/// Window size asked for (logical pixels; Xvfb's scale factor is 1).
const SIZE: (usize, usize) = (900, 600);


/// `beeline view ARGS --screenshot OUT` under a fresh Xvfb (24-bit colour).
fn view_under_xvfb(args: &[&str], out: &Path) -> Output {
    let have = Command::new("xvfb-run").arg("--help").output().is_ok();
    assert!(have, "xvfb-run is missing: install Debian's `xvfb` (scripts/test.sh does)");
    let size = format!("{}x{}", SIZE.0, SIZE.1);
    // `timeout`: a guard against a hung window (it kills, it does not judge speed).
    Command::new("timeout")
        .args(["600", "xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", env!("CARGO_BIN_EXE_beeline"), "view", "--size", &size, "--screenshot"])
        .arg(out)
        .args(["--frames", "2"])
        .args(args)
        .output()
        .expect("xvfb-run runs")
}

/// RGB pixels of a PNG, with its size.
fn read_rgb(path: &Path) -> (usize, usize, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "the screenshot is RGB");
    let px = buf[..info.buffer_size()].chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    (info.width as usize, info.height as usize, px)
}

/// Pixels right of the control panel (x ≥ 260) that satisfy `f`.
fn count_right(w: usize, px: &[[u8; 3]], f: impl Fn([u8; 3]) -> bool) -> usize {
    px.iter().enumerate().filter(|(i, p)| i % w >= 260 && f(**p)).count()
}

fn check_ran(o: &Output, out: &Path) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "beeline view failed ({:?}):\n{err}", o.status.code());
    assert!(out.exists(), "no screenshot:\n{err}");
    assert!(err.contains("ms per sample"), "the status line has the speed:\n{err}");
    if !beeline::gpu::gpu_tests_skipped("the viewer on the GPU") {
        assert!(err.contains("backend gpu:"), "the viewer did not generate on the GPU (no adapter? BEELINE_GPU_TESTS=skip skips it):\n{err}");
    }
    err
}

/// The 2D model: a white plot with orange samples, blue trajectories and grey noise, beside a
/// dark control panel with text; then the MNIST model: a grid of black tiles with white strokes.
/// One test, so that the two Xvfb servers never start at once.
#[test]
fn view_screenshots_under_xvfb() {
    let d = scratch("shots");

    let out = d.join("toy.png");
    let o = view_under_xvfb(&["--model", "rf-toy-2rf", "--backend", "gpu", "--steps", "2", "--num-samples", "400"], &out);
    let err = check_ran(&o, &out);
    assert!(err.contains("rf-toy-2rf: 400 samples, 2 steps euler"), "{err}");
    let (w, h, px) = read_rgb(&out);
    assert_eq!((w, h), SIZE);
    let white = count_right(w, &px, |p| p.iter().all(|&v| v > 245));
    // Dots and lines are thin and the plot is scaled to the window: colours blend with white.
    let orange = count_right(w, &px, |p| p[0] > 150 && p[0] as i32 > p[2] as i32 + 80);
    let blue = count_right(w, &px, |p| p[2] as i32 > p[0] as i32 + 40);
    assert!(white > 100_000, "the plot's white canvas is missing ({white} white pixels)");
    assert!(orange > 300, "too few sample dots ({orange} orange pixels)");
    assert!(blue > 1_000, "too few trajectory pixels ({blue} blue pixels)");
    // The control panel (left) is dark with light text.
    let panel: Vec<[u8; 3]> = px.iter().enumerate().filter(|(i, _)| i % w < 240).map(|(_, p)| *p).collect();
    let dark = panel.iter().filter(|p| p.iter().all(|&v| v < 60)).count();
    let light = panel.iter().filter(|p| p.iter().all(|&v| v > 150)).count();
    assert!(dark > panel.len() / 2 && light > 200, "the control panel is not drawn ({dark} dark, {light} light pixels)");

    let out = d.join("mnist.png");
    let o = view_under_xvfb(&["--model", "mnist-onestep", "--backend", "gpu", "--num-samples", "10"], &out);
    let err = check_ran(&o, &out);
    assert!(err.contains("mnist-onestep: 10 samples, 1 step euler"), "{err}");
    let (w, _, px) = read_rgb(&out);
    // Tiles are black (0) with white strokes; the grid border is grey 64; the window is ~27.
    let black = count_right(w, &px, |p| p.iter().all(|&v| v < 8));
    let strokes = count_right(w, &px, |p| p.iter().all(|&v| v > 200));
    let border = count_right(w, &px, |p| p.iter().all(|&v| (56..=72).contains(&v)));
    assert!(black > 20_000, "no black digit tiles ({black} pixels)");
    assert!(strokes > 3_000, "no digit strokes ({strokes} pixels)");
    assert!(border > 1_000, "no grid border ({border} pixels)");
    assert!(strokes < black, "strokes on black tiles: more black than white");
}

/// Without a display: a clear message and exit status 6, not a panic.
#[test]
fn view_without_a_display_exits_6() {
    let o = crate::common::command().args(["view", "--model", "rf-toy-2rf"]).env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(err.contains("needs a display") && err.contains("xvfb-run"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A model that does not exist is reported before any window is opened.
    let o = crate::common::command().args(["view", "--model", "no-such-model.safetensors"]).env_remove("DISPLAY").output().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", String::from_utf8_lossy(&o.stderr));
}
