//! Every file Beeline reads or writes goes through here.
//!
//! - [`read_regular`] reads a regular file only (a FIFO, a device or a folder is refused before
//!   anything is read, so `/dev/zero` cannot fill memory and a FIFO cannot hang), with its size
//!   capped before it is read, checked on the open handle.
//! - [`write_atomic`] writes a whole file through a temporary sibling created with `create_new`
//!   under a random name (a planted symbolic link cannot redirect it), flushed, synced and then
//!   renamed over the target. A target that exists and is not a regular file (a device, a FIFO, a
//!   folder, a symbolic link) is refused, so `--out /dev/null` cannot replace /dev/null.
//! - [`open_append`] opens a log (metrics) for appending, with the same refusal.
//!
//! Errors are [`Error::Io`] (exit 5) with the path in the message.

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io(format!("{}: {e}", path.display()))
}

/// What a non-regular file is, in words.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a folder";
    }
    if t.is_symlink() {
        return "a symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Reads the regular file `path` whole. A file larger than `limit` bytes gets `too_large(len)`
/// before anything is read; a non-regular file is refused with [`Error::Io`].
pub fn read_regular(path: &Path, limit: u64, too_large: impl FnOnce(u64) -> Error) -> Result<Vec<u8>> {
    // Refuse before opening: opening a FIFO for reading blocks until a writer appears.
    let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
    if !meta.is_file() {
        return Err(io(path, format!("is {}, not a regular file", kind(&meta))));
    }
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    // Check again on the handle: the path may have been swapped between the two calls.
    let meta = file.metadata().map_err(|e| io(path, e))?;
    if !meta.is_file() {
        return Err(io(path, format!("is {}, not a regular file", kind(&meta))));
    }
    if meta.len() > limit {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // `take` holds the cap even if the file grows while it is read.
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Reads the regular text file `path` (UTF-8) of at most `limit` bytes; a larger one is refused
/// as [`Error::InvalidInput`].
pub fn read_text(path: &Path, limit: u64) -> Result<String> {
    let bytes = read_regular(path, limit, |len| {
        Error::InvalidInput(format!("{} is {len} bytes; at most {limit} bytes are read", path.display()))
    })?;
    String::from_utf8(bytes).map_err(|_| io(path, "is not UTF-8 text"))
}

/// Refuses a target that exists and is not a regular file.
fn check_target(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => Err(io(
            path,
            format!("is {}; refusing to replace it (give the path of a regular file, or a new one)", kind(&meta)),
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path, e)),
    }
}

/// A random 64-bit tag: std's per-instance random hash keys, mixed with the time and a counter.
fn random_tag() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

/// Creates a new temporary sibling of `path` under a random name, with `create_new` (O_EXCL: an
/// existing file or symbolic link at that name is never opened).
fn create_temp(path: &Path) -> Result<(PathBuf, std::fs::File)> {
    let name = path.file_name().ok_or_else(|| Error::InvalidInput(format!("{} is not a file path", path.display())))?;
    let mut last = None;
    for _ in 0..16 {
        let tmp = path.with_file_name(format!(".{}.tmp-{:016x}", name.to_string_lossy(), random_tag()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(io(path, e)),
        }
    }
    Err(io(path, last.map_or_else(|| "no temporary name".to_string(), |e| e.to_string())))
}

/// Writes `bytes` as the whole of `path`, atomically: a reader sees the old file or the new one,
/// never a part, and a failure (a full disk, a kill) leaves the old file as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    check_target(path)?;
    let (tmp, mut file) = create_temp(path)?;
    let result = (|| {
        file.write_all(bytes)?;
        file.flush()?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| io(path, e))
}

/// Whether `name` is one of [`write_atomic`]'s temporary names, `.NAME.tmp-<16 hex digits>`.
fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.len() > 22 && name.is_char_boundary(name.len() - 21) && {
        let (head, tag) = name.split_at(name.len() - 21);
        head.len() > 1 && tag.starts_with(".tmp-") && tag[5..].bytes().all(|b| b.is_ascii_hexdigit())
    }
}

/// Removes the temporary files that writers killed mid-write (SIGKILL, power loss) left in
/// `dir`: regular files named like [`write_atomic`]'s temporaries. Symbolic links and anything
/// else are left alone. For the start of a run that owns `dir` (training, pairs); returns how
/// many were removed. A missing folder removes nothing.
pub fn remove_stale_temps(dir: &Path) -> Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, e))?;
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if regular && entry.file_name().to_str().is_some_and(is_temp_name) {
            std::fs::remove_file(entry.path()).map_err(|e| io(&entry.path(), e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Opens the regular file `path` for appending (created if missing), refusing a non-regular target.
pub fn open_append(path: &Path) -> Result<std::fs::File> {
    check_target(path)?;
    std::fs::OpenOptions::new().append(true).create(true).open(path).map_err(|e| io(path, e))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("beeline-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A killed writer's temporaries are removed at the next start; other files, look-alikes
    /// and symbolic links are not.
    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let d = dir("stale");
        let keep = ["checkpoint.safetensors", ".checkpoint.safetensors.tmp-xyz", ".tmp-0123456789abcdef", "a.tmp-0123456789abcdef", ".x.tmp-0123456789abcdeg"];
        for name in keep.iter().chain(&[".checkpoint.safetensors.tmp-0123456789abcdef", ".shard-00003.safetensors.tmp-fedcba9876543210"]) {
            std::fs::write(d.join(name), b"x").unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.join("checkpoint.safetensors"), d.join(".model.safetensors.tmp-00000000000000ff")).unwrap();
        assert_eq!(remove_stale_temps(&d).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        let mut want: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
        if cfg!(unix) {
            want.push(".model.safetensors.tmp-00000000000000ff".into());
        }
        want.sort();
        assert_eq!(left, want);
        assert_eq!(remove_stale_temps(&d.join("missing")).unwrap(), 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn writes_replace_a_regular_file_and_leave_no_temporary() {
        let d = dir("replace");
        let p = d.join("out.png");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "a temporary file was left behind");
    }

    #[test]
    fn non_regular_targets_are_refused_and_left_alone() {
        let d = dir("targets");
        let victim = d.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let link = d.join("link.png");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for (target, what) in [(link.as_path(), "symbolic link"), (d.as_path(), "folder"), (Path::new("/dev/null"), "device")] {
            let e = write_atomic(target, b"png").unwrap_err();
            assert!(matches!(e, Error::Io(_)) && e.to_string().contains(what), "{target:?}: {e}");
            assert!(open_append(target).is_err());
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    }

    #[test]
    fn reads_refuse_devices_fifos_and_folders_and_cap_the_size() {
        let d = dir("reads");
        let fifo = d.join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        let big = |n| Error::InvalidInput(format!("{n} bytes"));
        for p in [Path::new("/dev/zero"), d.as_path()] {
            let e = read_regular(p, 1 << 20, big).unwrap_err();
            assert!(matches!(e, Error::Io(_)) && e.to_string().contains("not a regular file"), "{e}");
        }
        if status.is_ok_and(|s| s.success()) {
            // Would block forever if it were opened.
            assert!(read_regular(&fifo, 1 << 20, big).unwrap_err().to_string().contains("FIFO"));
        }
        let f = d.join("f");
        std::fs::write(&f, [7u8; 100]).unwrap();
        assert_eq!(read_regular(&f, 100, big).unwrap().len(), 100);
        assert_eq!(read_regular(&f, 99, big).unwrap_err().to_string(), big(100).to_string());
    }

    #[test]
    fn a_planted_file_at_a_temporary_name_is_not_used() {
        // Temporary names are random: many writes never collide with each other or reuse a name.
        let d = dir("names");
        let p = d.join("m.safetensors");
        let names: std::collections::HashSet<_> =
            (0..64).map(|_| { let (t, _) = create_temp(&p).unwrap(); t }).collect();
        assert_eq!(names.len(), 64);
    }
}
