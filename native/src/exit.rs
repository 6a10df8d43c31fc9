//! Exit statuses: distinct per kind of failure so scripts can tell them apart.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | unexpected internal error |
//! | 2 | bad command line (clap), a bad training config (`--config` file or flag values), or `train` in a build without the `train` feature |
//! | 3 | the model file is invalid (truncated, corrupt, inconsistent) |
//! | 4 | an input does not fit the model or sampler (label, steps, solver, ...), or `--backend gpu` without a usable GPU |
//! | 5 | a file could not be read or written |

use std::process::ExitCode;

/// A usage error that clap cannot see (a training config value, a missing build feature): exit 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// The exit status for an error chain: the first `beeline::Error` in it decides.
pub fn code_for(e: &anyhow::Error) -> ExitCode {
    if e.chain().any(|c| c.is::<Usage>()) {
        return ExitCode::from(2);
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
