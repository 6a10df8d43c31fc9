//! The one error type of the core. Every variant maps to a stable code (see [`Error::code`]) that
//! the CLI turns into an exit status and the browser API into a typed JS error.

use thiserror::Error;

/// What went wrong, precisely enough for a user to fix it. Nothing in the core panics on user input.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The file is shorter than its own header says it must be.
    #[error("model file truncated: {0}")]
    Truncated(String),
    /// The 8-byte header length points past the end of the file.
    #[error("model file header length {header_len} runs past the end of the {file_len}-byte file")]
    HeaderPastEnd { header_len: u64, file_len: u64 },
    /// The header is larger than the format allows (100 MB), which would allocate absurdly.
    #[error("model file header of {0} bytes is larger than the 100 MB limit")]
    HeaderTooLarge(u64),
    /// The safetensors header is not valid JSON or not a valid safetensors header.
    #[error("model file header is invalid: {0}")]
    BadHeader(String),
    /// Tensor offsets overlap, leave holes, or do not cover the data buffer.
    #[error("model file tensor layout is invalid: {0}")]
    BadLayout(String),
    /// The `__metadata__` has no Beeline config, so this is some other safetensors file.
    #[error("not a Beeline model: the safetensors metadata has no \"beeline\" config (is this a raw checkpoint? convert it with `beeline convert`)")]
    NotBeeline,
    /// The Beeline config JSON does not parse or is missing fields.
    #[error("model config is invalid: {0}")]
    BadConfig(String),
    /// The config's format version is one this build cannot read.
    #[error("model format version {found} is not supported (this build reads version {supported})")]
    UnknownVersion { found: u64, supported: u32 },
    /// A tensor the config requires is not in the file.
    #[error("tensor `{0}` is missing from the model file")]
    MissingTensor(String),
    /// The file holds a tensor the config does not describe (misnamed or from another architecture).
    #[error("tensor `{0}` is not part of the configured architecture")]
    UnexpectedTensor(String),
    /// A tensor has the wrong shape for the configured architecture.
    #[error("tensor `{name}` has shape {found:?}, the config needs {expected:?}")]
    WrongShape { name: String, expected: Vec<usize>, found: Vec<usize> },
    /// A tensor is stored in a dtype Beeline does not read (only F32 and F16 are allowed).
    #[error("tensor `{name}` has dtype {dtype}; Beeline model files hold F32 or F16 only")]
    WrongDtype { name: String, dtype: String },
    /// A weight is NaN or infinite.
    #[error("tensor `{name}` holds a non-finite value ({value}) at flat index {index}")]
    NonFinite { name: String, index: usize, value: f32 },
    /// An input (noise, label, image, step count) does not fit the model or the sampler.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Reading or writing a file failed.
    #[error("i/o error: {0}")]
    Io(String),
    /// No usable GPU: no WebGPU/wgpu adapter, or one that lacks what Beeline needs.
    #[error("no usable GPU: {0}")]
    GpuUnavailable(String),
    /// The GPU device was lost or reported an error (out of memory, driver reset) while running.
    #[error("GPU device lost or failed: {0}")]
    DeviceLost(String),
}

impl Error {
    /// A short stable identifier, used as the JS error `code` and in `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Truncated(_)
            | Error::HeaderPastEnd { .. }
            | Error::HeaderTooLarge(_)
            | Error::BadHeader(_)
            | Error::BadLayout(_)
            | Error::NotBeeline
            | Error::BadConfig(_)
            | Error::UnknownVersion { .. }
            | Error::MissingTensor(_)
            | Error::UnexpectedTensor(_)
            | Error::WrongShape { .. }
            | Error::WrongDtype { .. }
            | Error::NonFinite { .. } => "model_invalid",
            Error::InvalidInput(_) => "invalid_input",
            Error::Io(_) => "io",
            Error::GpuUnavailable(_) => "webgpu_unsupported",
            Error::DeviceLost(_) => "device_lost",
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `s` safe to print on a terminal: control characters (escape sequences, carriage returns,
/// bidi overrides' C0/C1 neighbours) are written as `\u{..}` escapes, newlines kept only when
/// `keep_newlines`. For every string read from a file (class names, provenance, tensor names).
pub fn printable(s: &str, keep_newlines: bool) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| (c.is_control() && !(keep_newlines && c == '\n')) || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.chars().map(|c| if bad(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn printable_escapes_terminal_controls_only() {
        assert_eq!(super::printable("digit 7 – ünïcode", false), "digit 7 – ünïcode");
        assert_eq!(super::printable("\x1b[2Jgone\r", false), "\\u{1b}[2Jgone\\u{d}");
        assert_eq!(super::printable("a\nb\u{202e}", true), "a\nb\\u{202e}");
        assert_eq!(super::printable("a\nb", false), "a\\u{a}b");
    }
}
