//! The IDX format of MNIST and Fashion-MNIST: a big-endian header (`0x00 0x00 dtype ndim`, then
//! `ndim` u32 dimensions) followed by the data. Beeline reads the unsigned-byte variant (dtype
//! `0x08`), raw or gzipped.

use crate::error::{Error, Result};

/// A u8 IDX array: its dimensions and row-major data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    /// Dimensions, e.g. `[60000, 28, 28]` for images, `[60000]` for labels.
    pub dims: Vec<usize>,
    /// `dims.iter().product()` bytes.
    pub data: Vec<u8>,
}

/// Parses IDX bytes (already decompressed), checking the magic number and that the data length
/// matches the header exactly. `what` names the file in errors.
pub fn parse(bytes: &[u8], what: &str) -> Result<Idx> {
    let bad = |m: String| Error::InvalidInput(format!("{what}: {m}"));
    if bytes.len() < 4 {
        return Err(bad(format!("{} bytes is too short for an IDX header", bytes.len())));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(format!("magic {:02x}{:02x}{:02x}{:02x} is not IDX", bytes[0], bytes[1], bytes[2], bytes[3])));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!("IDX dtype 0x{:02x} is not unsigned bytes (0x08)", bytes[2])));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 || ndim > 4 {
        return Err(bad(format!("IDX with {ndim} dimensions")));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(bad("truncated IDX header".into()));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| u32::from_be_bytes([bytes[4 + 4 * i], bytes[5 + 4 * i], bytes[6 + 4 * i], bytes[7 + 4 * i]]) as usize)
        .collect();
    let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| bad("dimensions overflow".into()))?;
    if bytes.len() - header != n {
        return Err(bad(format!("header promises {n} bytes of data ({dims:?}) but the file holds {}", bytes.len() - header)));
    }
    Ok(Idx { dims, data: bytes[header..].to_vec() })
}

/// Reads an IDX file from disk, gunzipping it when its name ends in `.gz`.
#[cfg(not(target_arch = "wasm32"))]
pub fn read(path: &std::path::Path) -> Result<Idx> {
    use std::io::Read;
    let raw = crate::files::read_regular(path, 512 << 20, |len| Error::InvalidInput(format!("{}: {len} bytes is more than a data file holds", path.display())))?;
    let what = path.display().to_string();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(512 << 20)
            .read_to_end(&mut out)
            .map_err(|e| Error::InvalidInput(format!("{what}: not a valid gzip file ({e})")))?;
        parse(&out, &what)
    } else {
        parse(&raw, &what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn parses_and_checks() {
        let ok = parse(&idx(&[2, 3], &[1, 2, 3, 4, 5, 6]), "t").unwrap();
        assert_eq!(ok.dims, vec![2, 3]);
        assert_eq!(ok.data, vec![1, 2, 3, 4, 5, 6]);
        assert!(parse(&idx(&[2, 3], &[1, 2, 3]), "t").is_err()); // short data
        assert!(parse(&idx(&[2, 3], &[0; 7]), "t").is_err()); // trailing data
        let mut b = idx(&[1], &[0]);
        b[2] = 0x0d; // float IDX
        assert!(parse(&b, "t").is_err());
        b[0] = 1;
        assert!(parse(&b, "t").is_err());
        assert!(parse(&[0, 0], "t").is_err());
        assert!(parse(&idx(&[u32::MAX, u32::MAX, u32::MAX], &[]), "t").is_err());
    }
}
