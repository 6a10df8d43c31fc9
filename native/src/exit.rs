//! Exit statuses: distinct per kind of failure so scripts can tell them apart.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | unexpected internal error, a panic included |
//! | 2 | bad command line (clap), a bad training config (`--config` file or flag values), or `train` in a build without the `train` feature |
//! | 3 | the model file is invalid (truncated, corrupt, inconsistent) |
//! | 4 | an input does not fit the model or sampler (label, steps, solver, ...), or `--backend gpu` without a usable GPU |
//! | 5 | a file could not be read or written, standard output included |
//! | 6 | `beeline view` found no display to open a window on (no `DISPLAY`, or the X server refused) |

use std::process::ExitCode;

/// An error type that is its message, for the statuses decided here rather than by
/// `beeline::Error`.
macro_rules! message_error {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub String);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::error::Error for $name {}
    };
}

message_error!(
    /// A usage error that clap cannot see (a training config value, a missing build feature): exit 2.
    Usage
);
message_error!(
    /// No window can be opened (no display server): exit 6.
    NoDisplay
);

/// The exit status for an error chain: the first `beeline::Error` in it decides.
pub fn code_for(e: &anyhow::Error) -> ExitCode {
    if e.chain().any(|c| c.is::<Usage>()) {
        return ExitCode::from(2);
    }
    if e.chain().any(|c| c.is::<NoDisplay>()) {
        return ExitCode::from(6);
    }
    let core = e.chain().find_map(|c| c.downcast_ref::<beeline::Error>());
    ExitCode::from(match core.map(|c| c.code()) {
        Some("model_invalid") => 3,
        Some("invalid_input") | Some("webgpu_unsupported") => 4,
        Some("io") => 5,
        _ if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some()) => 5,
        _ => 1,
    })
}
