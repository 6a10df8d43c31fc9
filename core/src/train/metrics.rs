//! The JSONL metrics log, `<out>/metrics.jsonl`: one JSON object per line, every `log_every`
//! steps:
//!
//! ```json
//! {"step":200,"loss":0.7321,"lr":0.001,"grad_norm":1.84,"steps_per_s":96.1,"elapsed":2.08}
//! ```
//!
//! * `step`: optimiser steps done; `loss` and `grad_norm` (the global gradient norm before
//!   clipping) are means over the steps since the previous line;
//! * `lr`: the learning rate of the last step (after warmup);
//! * `steps_per_s`: over the steps since the previous line; `elapsed`: training seconds since
//!   the run began, over all resumed processes.
//!
//! On resume, lines past the checkpoint's step (written by the killed process after its last
//! checkpoint) are dropped, so the log reads as one uninterrupted run.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The log's file name inside the output folder.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// One line of the log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MetricsRecord {
    /// Optimiser steps done.
    pub step: u64,
    /// Mean loss since the previous record.
    pub loss: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Mean global gradient norm (before clipping) since the previous record.
    pub grad_norm: f64,
    /// Steps per second since the previous record.
    pub steps_per_s: f64,
    /// Training seconds since the run began.
    pub elapsed: f64,
}

/// Largest metrics log read back (a record is about 150 bytes: millions of steps).
const MAX_METRICS_BYTES: u64 = 1 << 30;

/// An open metrics log.
pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io(format!("{}: {e}", path.display()))
}

impl MetricsLog {
    /// Starts `<dir>/metrics.jsonl` afresh.
    pub fn create(dir: &Path) -> Result<MetricsLog> {
        let path = dir.join(METRICS_FILE);
        crate::files::write_atomic(&path, b"")?;
        let file = crate::files::open_append(&path)?;
        Ok(MetricsLog { path, file })
    }

    /// Opens `<dir>/metrics.jsonl` to continue after step `step`: keeps the records up to
    /// `step` (dropping later ones and any partial last line), then appends.
    pub fn resume(dir: &Path, step: u64) -> Result<MetricsLog> {
        let path = dir.join(METRICS_FILE);
        let text = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            _ => crate::files::read_text(&path, MAX_METRICS_BYTES)?,
        };
        let kept: Vec<String> = text
            .lines()
            .filter(|l| serde_json::from_str::<MetricsRecord>(l).is_ok_and(|r| r.step <= step))
            .map(|l| format!("{l}\n"))
            .collect();
        crate::files::write_atomic(&path, kept.concat().as_bytes())?;
        let file = crate::files::open_append(&path)?;
        Ok(MetricsLog { path, file })
    }

    /// Appends one record (one `write` of one whole line).
    pub fn write(&mut self, r: &MetricsRecord) -> Result<()> {
        let mut line = serde_json::to_string(r).map_err(|e| io(&self.path, e))?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(|e| io(&self.path, e))
    }

    /// Reads every record of `<dir>/metrics.jsonl`.
    pub fn read(dir: &Path) -> Result<Vec<MetricsRecord>> {
        let path = dir.join(METRICS_FILE);
        let text = crate::files::read_text(&path, MAX_METRICS_BYTES)?;
        text.lines().map(|l| serde_json::from_str(l).map_err(|e| io(&path, format!("bad line {l:?}: {e}")))).collect()
    }
}
