//! A small raster plotter for 2D samples: scatter points and trajectories on a white canvas,
//! written as PNG. Enough for the toy experiments; no dependencies beyond `png`.

use beeline::image::{self, Image8};
use beeline::pipeline::Generated;

/// An RGB canvas mapping the rectangle `x ∈ [x0, x1]`, `y ∈ [y0, y1]` of data space onto
/// `width × height` pixels (y up).
pub struct Canvas {
    width: usize,
    height: usize,
    x: [f32; 2],
    y: [f32; 2],
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
        let mut c = Self::with_bounds(size, size, [-half, half], [-half, half]);
        c.line([-half, 0.0], [half, 0.0], colors::AXIS, 1.0);
        c.line([0.0, -half], [0.0, half], colors::AXIS, 1.0);
        c
    }

    /// A white `width × height` canvas showing `x ∈ [x[0], x[1]]`, `y ∈ [y[0], y[1]]`, no axes.
    pub fn with_bounds(width: usize, height: usize, x: [f32; 2], y: [f32; 2]) -> Self {
        Canvas { width, height, x, y, rgb: vec![1.0; width * height * 3] }
    }

    fn to_px(&self, p: [f32; 2]) -> (f32, f32) {
        let u = (p[0] - self.x[0]) / (self.x[1] - self.x[0]);
        let v = (p[1] - self.y[0]) / (self.y[1] - self.y[0]);
        (u * self.width as f32, (1.0 - v) * self.height as f32)
    }

    fn blend(&mut self, x: i64, y: i64, color: [f32; 3], alpha: f32) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = (y as usize * self.width + x as usize) * 3;
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
        let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).clamp(1, 4 * self.width.max(self.height));
        for i in 0..=n {
            let u = i as f32 / n as f32;
            self.blend((x0 + u * (x1 - x0)) as i64, (y0 + u * (y1 - y0)) as i64, color, alpha);
        }
    }

    /// The canvas as an 8-bit RGB image.
    pub fn into_image(self) -> Image8 {
        let pixels = self.rgb.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
        Image8 { width: self.width, height: self.height, channels: 3, pixels }
    }
}

/// The picture of a generation, as `generate` writes it and `view` shows it: for 2D points
/// (`shape == [2]`) a scatter plot of noise (grey), the first `trajectories` paths (blue) and
/// the samples (orange) on 800×800 pixels; for images a grid with a 2-pixel border, one column
/// per class when `class_columns` is given, else a square-ish grid.
///
/// `range` is the data's value range (images) or its extent (points: the plot shows
/// `[-h, h]²` with `h = 1.05 · max(|range|)`).
pub fn picture(out: &Generated, shape: &[usize], range: [f32; 2], class_columns: Option<usize>, trajectories: usize) -> beeline::Result<Image8> {
    if shape.len() == 1 {
        if shape[0] != 2 {
            return Err(beeline::Error::InvalidInput(format!("can only plot 2D points, these have {} dimensions", shape[0])));
        }
        return Ok(plot_points(out, range[1].max(-range[0]), trajectories));
    }
    let numel: usize = shape.iter().product::<usize>().max(1);
    let n = out.samples.len() / numel;
    let cols = class_columns.unwrap_or_else(|| (n as f64).sqrt().ceil() as usize).max(1);
    image::grid(&out.samples, shape, range, cols, 2, 64)
}

/// Noise (grey), trajectories (blue) and samples (orange) on one canvas showing `[-h, h]²`,
/// `h = 1.05 · half`.
fn plot_points(out: &Generated, half: f32, trajectories: usize) -> Image8 {
    let mut c = Canvas::new(800, half * 1.05);
    let pts = |v: &[f32]| v.chunks_exact(2).map(|p| [p[0], p[1]]).collect::<Vec<_>>();
    for p in pts(&out.start) {
        c.dot(p, 1.5, colors::NOISE, 0.35);
    }
    let n = out.start.len() / 2;
    for k in 0..trajectories.min(n) {
        for w in out.trajectories.windows(2) {
            c.line([w[0][2 * k], w[0][2 * k + 1]], [w[1][2 * k], w[1][2 * k + 1]], colors::PATH, 0.6);
        }
    }
    for p in pts(&out.samples) {
        c.dot(p, 1.5, colors::SAMPLE, 0.6);
    }
    c.into_image()
}

/// Writes an 8-bit image as PNG, atomically (`-`: to standard output).
pub fn write_png(path: &std::path::Path, img: &Image8) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, img.width as u32, img.height as u32);
        enc.set_color(if img.channels == 3 { png::ColorType::Rgb } else { png::ColorType::Grayscale });
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(&img.pixels)?;
    }
    crate::output::write_file(path, &bytes)
}
