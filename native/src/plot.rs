//! A small raster plotter for 2D samples: scatter points and trajectories on a white canvas,
//! written as PNG. Enough for the toy experiments; no dependencies beyond `png`.

use beeline::image::Image8;

/// An RGB canvas mapping the square `[-half, half]²` of data space onto `size × size` pixels.
pub struct Canvas {
    size: usize,
    half: f32,
    rgb: Vec<f32>,
}

/// Colours used by the plots (RGB in 0..1).
pub mod colors {
    /// Source noise points.
    pub const NOISE: [f32; 3] = [0.55, 0.55, 0.55];
    /// Generated samples.
    pub const SAMPLE: [f32; 3] = [0.85, 0.33, 0.10];
    /// Trajectory lines.
    pub const PATH: [f32; 3] = [0.12, 0.47, 0.71];
    /// Axes.
    pub const AXIS: [f32; 3] = [0.85, 0.85, 0.85];
}

impl Canvas {
    /// A white canvas of `size` pixels showing `[-half, half]²`, with faint axes.
    pub fn new(size: usize, half: f32) -> Self {
        let mut c = Canvas { size, half, rgb: vec![1.0; size * size * 3] };
        c.line([-half, 0.0], [half, 0.0], colors::AXIS, 1.0);
        c.line([0.0, -half], [0.0, half], colors::AXIS, 1.0);
        c
    }

    fn to_px(&self, p: [f32; 2]) -> (f32, f32) {
        let s = self.size as f32;
        ((p[0] / self.half * 0.5 + 0.5) * s, (0.5 - p[1] / self.half * 0.5) * s)
    }

    fn blend(&mut self, x: i64, y: i64, color: [f32; 3], alpha: f32) {
        if x < 0 || y < 0 || x >= self.size as i64 || y >= self.size as i64 {
            return;
        }
        let i = (y as usize * self.size + x as usize) * 3;
        for k in 0..3 {
            self.rgb[i + k] = self.rgb[i + k] * (1.0 - alpha) + color[k] * alpha;
        }
    }

    /// A filled dot of radius `r` pixels.
    pub fn dot(&mut self, p: [f32; 2], r: f32, color: [f32; 3], alpha: f32) {
        let (cx, cy) = self.to_px(p);
        if !(cx.is_finite() && cy.is_finite()) {
            return;
        }
        let ri = r.ceil() as i64;
        for dy in -ri..=ri {
            for dx in -ri..=ri {
                if (dx * dx + dy * dy) as f32 <= r * r {
                    self.blend(cx as i64 + dx, cy as i64 + dy, color, alpha);
                }
            }
        }
    }

    /// A 1-pixel line from `a` to `b` in data coordinates.
    pub fn line(&mut self, a: [f32; 2], b: [f32; 2], color: [f32; 3], alpha: f32) {
        let (x0, y0) = self.to_px(a);
        let (x1, y1) = self.to_px(b);
        if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
            return;
        }
        let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).clamp(1, 4 * self.size);
        for i in 0..=n {
            let u = i as f32 / n as f32;
            self.blend((x0 + u * (x1 - x0)) as i64, (y0 + u * (y1 - y0)) as i64, color, alpha);
        }
    }

    /// The canvas as an 8-bit RGB image.
    pub fn into_image(self) -> Image8 {
        let pixels = self.rgb.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
        Image8 { width: self.size, height: self.size, channels: 3, pixels }
    }
}

/// Writes an 8-bit image as PNG, atomically.
pub fn write_png(path: &std::path::Path, img: &Image8) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, img.width as u32, img.height as u32);
        enc.set_color(if img.channels == 3 { png::ColorType::Rgb } else { png::ColorType::Grayscale });
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(&img.pixels)?;
    }
    beeline::modelfile::write_atomic(path, &bytes)?;
    Ok(())
}
