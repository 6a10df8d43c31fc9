//! `beeline`: generate images or 2D samples from a rectified-flow model file, inspect model
//! files, and (with the cargo feature `train`) train models. Run `beeline <command> --help` for
//! each command's flags and an example. The commands live in the library (`src/lib.rs`).

use beeline_cli::{Cli, dispatch, exit};
use clap::Parser;
use std::io::Write;

fn main() -> std::process::ExitCode {
    // Output piped into `head` and closed early ends the process quietly, as for other Unix
    // tools, instead of a panic in `println!` (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Mesa's Vulkan device-select layer connects to a Wayland compositor to order the GPUs,
    // and without one it prints "XDG_RUNTIME_DIR is invalid" twice on every run. Beeline picks
    // its adapter itself (WGPU_ADAPTER_NAME, else high performance), so where there is no
    // session (no XDG_RUNTIME_DIR) and no DRI_PRIME for the layer to honour, the layer is off.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() && std::env::var_os("DRI_PRIME").is_none() && std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: at start-up, before any thread exists.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
    // A panic is a bug, never a verdict on the input: one line that says so, and exit 1 (not
    // Rust's 101) as docs/cli.md's table has it for internal errors.
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(std::io::stderr(), "error: internal error, please report it: {info}");
    }));
    let cli = Cli::parse();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli))) {
        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
        Ok(Err(e)) => {
            let _ = writeln!(std::io::stderr(), "error: {}", beeline::error::printable(&format!("{e:#}"), true));
            exit::code_for(&e)
        }
        Err(_) => std::process::ExitCode::from(1),
    }
}
