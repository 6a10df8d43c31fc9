//! Where the commands' standard output goes: the process's stdout, or, inside [`capture`], a
//! file. The commands print through [`outln!`](crate::outln) and [`out!`](crate::out), so a
//! caller that runs them in-process (the lab's experiments) keeps what `beeline eval --json`
//! would print, without running the binary.

use std::cell::RefCell;
use std::fmt;
use std::io::Write;

thread_local! {
    /// The capture in force on this thread, with the first write error it met.
    static SINK: RefCell<Option<(Box<dyn Write>, Option<std::io::Error>)>> = const { RefCell::new(None) };
}

thread_local! {
    /// Set once a file went to standard output (`--out -`): the command's text output goes to
    /// stderr from then on, so it cannot corrupt the PNG or JSON a pipe reads.
    static TAKEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The path that means standard output (or standard input) in `--out` and similar flags.
pub const STDIO: &str = "-";

/// Writes a whole output file: `-` is standard output (or the capture in force), anything else
/// goes through [`beeline::files::write_atomic`] (a temporary file, synced, renamed; non-regular
/// targets refused).
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path.as_os_str() != STDIO {
        return Ok(beeline::files::write_atomic(path, bytes)?);
    }
    let result = SINK.with(|s| match s.borrow_mut().as_mut() {
        Some((w, _)) => w.write_all(bytes).and_then(|()| w.flush()),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
    });
    TAKEN.with(|t| t.set(true));
    result.map_err(|e| anyhow::Error::new(e).context("writing to standard output"))
}

/// The first write error on the process's stdout (a full disk, a closed descriptor), kept for
/// [`finish`]: `print!` would panic on it.
static STDOUT_ERROR: std::sync::Mutex<Option<std::io::Error>> = std::sync::Mutex::new(None);

/// Writes `args` to the capture of this thread, or to stdout (an error is kept for
/// [`finish`], and later writes are dropped).
pub fn write(args: fmt::Arguments) {
    if TAKEN.with(|t| t.get()) {
        eprint!("{args}");
        return;
    }
    SINK.with(|s| match s.borrow_mut().as_mut() {
        Some((w, err)) => {
            if err.is_none()
                && let Err(e) = w.write_fmt(args)
            {
                *err = Some(e);
            }
        }
        None => {
            let mut failed = STDOUT_ERROR.lock().unwrap_or_else(|e| e.into_inner());
            if failed.is_none()
                && let Err(e) = std::io::stdout().lock().write_fmt(args)
            {
                *failed = Some(e);
            }
        }
    });
}

/// Flushes stdout and returns the first error any command output met on it (then clears it).
pub fn finish() -> std::io::Result<()> {
    TAKEN.with(|t| t.set(false));
    let flushed = std::io::stdout().lock().flush();
    match STDOUT_ERROR.lock().unwrap_or_else(|e| e.into_inner()).take() {
        Some(e) => Err(e),
        None => flushed,
    }
}

/// Runs `f` with this thread's command output going to `w` instead of stdout, then flushes
/// `w`. Captures do not nest: an inner one replaces the outer one until it ends.
pub fn capture<T>(w: impl Write + 'static, f: impl FnOnce() -> T) -> std::io::Result<T> {
    let old = SINK.with(|s| s.borrow_mut().replace((Box::new(w), None)));
    let taken = TAKEN.with(|t| t.replace(false));
    let value = f();
    TAKEN.with(|t| t.set(taken));
    let (mut w, err) = SINK.with(|s| std::mem::replace(&mut *s.borrow_mut(), old)).expect("the capture is still in place");
    match err {
        Some(e) => Err(e),
        None => w.flush().map(|()| value),
    }
}

/// `print!` for the commands: to stdout, or to the [`capture`] in force.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write(format_args!($($arg)*)) };
}

/// `println!` for the commands: to stdout, or to the [`capture`] in force.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write(format_args!("{}\n", format_args!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn capture_takes_the_output_and_gives_back_the_value() {
        let buf = Shared::default();
        let v = super::capture(buf.clone(), || {
            crate::outln!("{} {}", 1, "two");
            crate::out!("three");
            crate::outln!();
            7
        })
        .unwrap();
        assert_eq!(v, 7);
        assert_eq!(String::from_utf8(buf.0.lock().unwrap().clone()).unwrap(), "1 two\nthree\n");
    }

    #[test]
    fn a_failing_writer_is_reported() {
        struct Full;
        impl std::io::Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let e = super::capture(Full, || crate::outln!("x")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
    }
}
