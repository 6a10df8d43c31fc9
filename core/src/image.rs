//! Turning generated samples into pixels: value-range mapping and image grids. Shared by the CLI
//! (PNG files) and the browser (canvas `ImageData`).

use crate::error::{Error, Result};

/// An 8-bit image, row-major, `channels` interleaved per pixel (1 grey, 3 RGB).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image8 {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// 1 or 3.
    pub channels: usize,
    /// `height · width · channels` bytes.
    pub pixels: Vec<u8>,
}

/// Maps one value from the data range `[lo, hi]` to a byte, clamping outside values.
#[inline]
pub fn to_byte(v: f32, range: [f32; 2]) -> u8 {
    let u = (v - range[0]) / (range[1] - range[0]);
    if u.is_nan() { 0 } else { (u.clamp(0.0, 1.0) * 255.0).round() as u8 }
}

/// Maps a byte back to the data range (the inverse of [`to_byte`] up to rounding).
#[inline]
pub fn from_byte(b: u8, range: [f32; 2]) -> f32 {
    range[0] + (b as f32 / 255.0) * (range[1] - range[0])
}

/// One planar sample `[channels, height, width]` in the data range → an interleaved 8-bit image.
pub fn sample_to_image(sample: &[f32], shape: &[usize], range: [f32; 2]) -> Result<Image8> {
    let [c, h, w] = <[usize; 3]>::try_from(shape)
        .map_err(|_| Error::InvalidInput(format!("shape {shape:?} is not [channels, height, width]")))?;
    if sample.len() != c * h * w || !(c == 1 || c == 3) {
        return Err(Error::InvalidInput(format!("{} values for an image of shape {shape:?}", sample.len())));
    }
    let mut pixels = vec![0u8; c * h * w];
    for ch in 0..c {
        for i in 0..h * w {
            pixels[i * c + ch] = to_byte(sample[ch * h * w + i], range);
        }
    }
    Ok(Image8 { width: w, height: h, channels: c, pixels })
}

/// Tiles a batch `[n, channels, height, width]` into a grid with `cols` columns and a `pad`-pixel
/// border of value `pad_value`.
pub fn grid(batch: &[f32], shape: &[usize], range: [f32; 2], cols: usize, pad: usize, pad_value: u8) -> Result<Image8> {
    let numel: usize = shape.iter().product();
    if numel == 0 || batch.is_empty() || batch.len() % numel != 0 || cols == 0 {
        return Err(Error::InvalidInput(format!("cannot tile {} values of shape {shape:?}", batch.len())));
    }
    let n = batch.len() / numel;
    let rows = n.div_ceil(cols);
    let cols = cols.min(n);
    let tiles: Vec<Image8> = batch.chunks(numel).map(|s| sample_to_image(s, shape, range)).collect::<Result<_>>()?;
    let (c, h, w) = (tiles[0].channels, tiles[0].height, tiles[0].width);
    let (gw, gh) = (cols * (w + pad) + pad, rows * (h + pad) + pad);
    let mut pixels = vec![pad_value; gw * gh * c];
    for (k, tile) in tiles.iter().enumerate() {
        let (x0, y0) = (pad + (k % cols) * (w + pad), pad + (k / cols) * (h + pad));
        for y in 0..h {
            let dst = ((y0 + y) * gw + x0) * c;
            pixels[dst..dst + w * c].copy_from_slice(&tile.pixels[y * w * c..(y + 1) * w * c]);
        }
    }
    Ok(Image8 { width: gw, height: gh, channels: c, pixels })
}

/// Why a batch `[n, numel]` of samples on `range` is degenerate, when every sample is: all its
/// values equal once quantised to 8 bits ("constant"), or at least 99 % of them clipped at the
/// range's ends ("saturated"). `None` when any sample has structure. For the warning after
/// `generate` (saturated weights, an absurd data range or a huge guidance give a flat image).
pub fn degenerate(samples: &[f32], numel: usize, range: [f32; 2]) -> Option<&'static str> {
    if numel == 0 || samples.is_empty() {
        return None;
    }
    let (mut constant, mut saturated) = (true, true);
    for s in samples.chunks(numel) {
        let first = to_byte(s[0], range);
        let flat = s.iter().all(|&v| to_byte(v, range) == first);
        let clipped = s.iter().filter(|&&v| !v.is_finite() || v <= range[0] || v >= range[1]).count();
        constant &= flat;
        saturated &= clipped * 100 >= 99 * s.len();
        if !constant && !saturated {
            return None;
        }
    }
    if constant { Some("constant") } else { Some("saturated") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_batches_are_named_and_structured_ones_are_not() {
        let r = [-1.0, 1.0];
        assert_eq!(super::degenerate(&[0.3; 8], 4, r), Some("constant"));
        assert_eq!(super::degenerate(&[5.0, -7.0, 1.0, -1.0, 9.0, 9.0, -9.0, -9.0], 4, r), Some("saturated"));
        assert_eq!(super::degenerate(&[f32::NAN; 4], 4, r), Some("constant"));
        // One sample with structure is enough.
        assert_eq!(super::degenerate(&[0.3, 0.3, 0.3, 0.3, -0.5, 0.0, 0.5, 0.2], 4, r), None);
    }

    #[test]
    fn byte_mapping_clamps_and_inverts() {
        let r = [-1.0, 1.0];
        assert_eq!(to_byte(-1.0, r), 0);
        assert_eq!(to_byte(1.0, r), 255);
        assert_eq!(to_byte(7.0, r), 255);
        assert_eq!(to_byte(f32::NAN, r), 0);
        for b in [0u8, 1, 127, 200, 255] {
            assert_eq!(to_byte(from_byte(b, r), r), b);
        }
    }

    #[test]
    fn grid_places_tiles() {
        // Two 1×2×2 images: all −1 and all +1, in 2 columns with 1 px padding of 128.
        let batch = [-1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0];
        let g = grid(&batch, &[1, 2, 2], [-1.0, 1.0], 2, 1, 128).unwrap();
        assert_eq!((g.width, g.height), (7, 4));
        assert_eq!(g.pixels[7 + 1], 0); // first tile
        assert_eq!(g.pixels[7 + 4], 255); // second tile
        assert_eq!(g.pixels[0], 128);
        assert!(grid(&batch[..7], &[1, 2, 2], [-1.0, 1.0], 2, 1, 0).is_err());
    }

    #[test]
    fn rgb_is_interleaved() {
        let s = [1.0, -1.0, -1.0]; // 3×1×1: pure red
        let img = sample_to_image(&s, &[3, 1, 1], [-1.0, 1.0]).unwrap();
        assert_eq!(img.pixels, vec![255, 0, 0]);
    }
}
