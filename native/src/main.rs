//! `beeline`: generate images or 2D samples from a rectified-flow model file, inspect model
//! files, and (with the cargo feature `train`) train models. Run `beeline <command> --help` for
//! each command's flags and an example. The commands live in the library (`src/lib.rs`).

use beeline_cli::{Cli, dispatch, exit};
use clap::Parser;

fn main() -> std::process::ExitCode {
    // Output piped into `head` and closed early ends the process quietly, as for other Unix
    // tools, instead of a panic in `println!` (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match dispatch(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::code_for(&e)
        }
    }
}
