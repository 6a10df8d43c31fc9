//! What the CLI's test modules share: running the binary, scratch folders, PNG sizes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `beeline` ready to take arguments.
pub fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_beeline"))
}

/// `beeline ARGS`, run to the end.
pub fn beeline(args: &[&str]) -> Output {
    command().args(args).output().expect("the binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A new empty folder for one test (unique within the run: the tests of every module share
/// this binary and run in parallel).
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!("beeline-cli-{}-{}-{name}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A PNG's width and height.
pub fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let info = decoder.read_info().unwrap().info().clone();
    (info.width, info.height)
}
