//! Samples ↔ canvas pixels. A sample is planar `[channels, height, width]` f32 in the model's
//! data range; canvas pixels are interleaved RGBA bytes, `height · width · 4` per image (what
//! `ImageData` holds). The value ↔ byte mapping is the core's ([`beeline::image`]), the one the
//! CLI's PNGs use.

use beeline::image::{from_byte, sample_to_image};
use beeline::{Error, Result};

/// `[n, c, h, w]` samples → `n` RGBA images back to back (`n · h · w · 4` bytes); grey images
/// (c = 1) fill R, G and B with the same byte; alpha is 255.
pub fn to_rgba(samples: &[f32], shape: &[usize], range: [f32; 2]) -> Result<Vec<u8>> {
    let numel: usize = shape.iter().product();
    if shape.len() != 3 || numel == 0 || !samples.len().is_multiple_of(numel) {
        return Err(Error::InvalidInput(format!("{} values are not whole images of shape {shape:?}", samples.len())));
    }
    let mut out = Vec::with_capacity(samples.len() / shape[0] * 4);
    for s in samples.chunks_exact(numel) {
        let img = sample_to_image(s, shape, range)?;
        for px in img.pixels.chunks_exact(img.channels) {
            match px {
                [g] => out.extend_from_slice(&[*g, *g, *g, 255]),
                [r, g, b] => out.extend_from_slice(&[*r, *g, *b, 255]),
                _ => return Err(Error::InvalidInput(format!("{} channels", img.channels))),
            }
        }
    }
    Ok(out)
}

/// One RGBA image (`width · height · 4` bytes, e.g. a canvas's `ImageData`) → one sample of
/// `shape` in the data range. Its size must be the model's (the page scales drawings first).
/// Transparent pixels count as black, so a stroke drawn on a cleared canvas reads like an
/// MNIST digit (light on dark). Grey models take the luma 0.299 R + 0.587 G + 0.114 B.
pub fn from_rgba(rgba: &[u8], width: usize, height: usize, shape: &[usize], range: [f32; 2]) -> Result<Vec<f32>> {
    let [c, h, w] = <[usize; 3]>::try_from(shape).map_err(|_| Error::InvalidInput(format!("the model makes samples of shape {shape:?}, not images")))?;
    if (width, height) != (w, h) {
        return Err(Error::InvalidInput(format!("the image is {width}×{height}; the model takes {w}×{h}")));
    }
    if rgba.len() != w * h * 4 {
        return Err(Error::InvalidInput(format!("{} bytes are not a {w}×{h} RGBA image ({} bytes)", rgba.len(), w * h * 4)));
    }
    let mut out = vec![0.0f32; c * h * w];
    for (i, px) in rgba.chunks_exact(4).enumerate() {
        let a = px[3] as f32 / 255.0;
        let byte = |v: f32| (v * a).round().clamp(0.0, 255.0) as u8;
        match c {
            1 => out[i] = from_byte(byte(0.299 * px[0] as f32 + 0.587 * px[1] as f32 + 0.114 * px[2] as f32), range),
            3 => {
                for ch in 0..3 {
                    out[ch * h * w + i] = from_byte(byte(px[ch] as f32), range);
                }
            }
            _ => return Err(Error::InvalidInput(format!("{c}-channel images are not supported"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_round_trip() {
        let shape = [1, 2, 3];
        let x = [-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, /* second image */ -1.0, -1.0, -1.0, 1.0, 1.0, 1.0];
        let rgba = to_rgba(&x, &shape, [-1.0, 1.0]).unwrap();
        assert_eq!(rgba.len(), 2 * 6 * 4);
        assert_eq!(&rgba[..8], &[0, 0, 0, 255, 64, 64, 64, 255]);
        assert_eq!(&rgba[20..24], &[255, 255, 255, 255], "values above the range clamp");
        let back = from_rgba(&rgba[24..], 3, 2, &shape, [-1.0, 1.0]).unwrap();
        assert_eq!(back, vec![-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]);
        let first = from_rgba(&rgba[..24], 3, 2, &shape, [-1.0, 1.0]).unwrap();
        for (a, b) in first.iter().zip(&x) {
            assert!((a - b.clamp(-1.0, 1.0)).abs() <= 1.0 / 255.0 + 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn transparent_is_black_and_sizes_are_checked() {
        let shape = [1, 1, 2];
        let v = from_rgba(&[255, 255, 255, 0, 255, 255, 255, 255], 2, 1, &shape, [-1.0, 1.0]).unwrap();
        assert_eq!(v, vec![-1.0, 1.0]);
        assert!(from_rgba(&[0; 8], 1, 2, &shape, [-1.0, 1.0]).is_err());
        assert!(from_rgba(&[0; 7], 2, 1, &shape, [-1.0, 1.0]).is_err());
        assert!(from_rgba(&[0; 8], 2, 1, &[2], [-1.0, 1.0]).is_err());
        assert!(to_rgba(&[0.0; 3], &[1, 1, 2], [-1.0, 1.0]).is_err());
        assert!(to_rgba(&[0.0; 2], &[2], [-1.0, 1.0]).is_err());
    }
}
