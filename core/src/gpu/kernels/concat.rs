//! `concat.wgsl`: channel concatenation and NCHW ↔ NHWC (exact data movement).

use super::{Entry, Spec, grid_1d};

/// `out[r] = [a[r], b[r]]` for `rows` rows of `ca` and `cb` values (`cb = 0` makes it a copy;
/// `b` is then not read).
pub(crate) fn concat_channels<'a>(rows: u32, ca: u32, cb: u32, a: &'a wgpu::Buffer, b: &'a wgpu::Buffer, out: &'a wgpu::Buffer) -> Spec<'a> {
    Spec { entry: Entry::ConcatChannels, buffers: vec![a, b, out], params: vec![rows, ca, cb, 0], groups: grid_1d((rows * (ca + cb)) as usize) }
}

/// `x [batch][cx][hw]`, `cond [batch][cc][hw]` → `out [batch][hw][cx + cc]`.
pub(crate) fn nchw_to_nhwc<'a>(batch: u32, cx: u32, cc: u32, hw: u32, x: &'a wgpu::Buffer, cond: &'a wgpu::Buffer, out: &'a wgpu::Buffer) -> Spec<'a> {
    Spec { entry: Entry::NchwToNhwc, buffers: vec![x, cond, out], params: vec![batch, cx, cc, hw], groups: grid_1d((batch * hw * (cx + cc)) as usize) }
}

/// `src [batch][hw][c]` → `out [batch][c][hw]` (`unused` fills binding 1).
pub(crate) fn nhwc_to_nchw<'a>(batch: u32, c: u32, hw: u32, src: &'a wgpu::Buffer, unused: &'a wgpu::Buffer, out: &'a wgpu::Buffer) -> Spec<'a> {
    Spec { entry: Entry::NhwcToNchw, buffers: vec![src, unused, out], params: vec![batch, c, hw, 0], groups: grid_1d((batch * hw * c) as usize) }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::kernels::run_and_read;
    use crate::gpu::testutil::{gpu, uniform};
    use crate::nn::naive::{nchw_to_nhwc as cpu_to_nhwc, nhwc_to_nchw as cpu_to_nchw};

    /// Pure data movement: bit-identical to the CPU layouts (`nn::naive`'s transposes and the
    /// per-pixel concatenation of `nn::unet`).
    #[test]
    fn concat_and_layouts_are_exact() {
        let Some(ctx) = gpu() else { return };
        let (batch, cx, cc, hw) = (3usize, 2usize, 3usize, 35usize);
        let x = uniform(51, batch * cx * hw, 1.0);
        let cond = uniform(52, batch * cc * hw, 1.0);
        let xb = ctx.upload("x", &x).unwrap();
        let cb = ctx.upload("cond", &cond).unwrap();
        let n = batch * hw * (cx + cc);
        let out = ctx.upload("out", &vec![f32::NAN; n]).unwrap();
        let got = pollster::block_on(run_and_read(&ctx, &[nchw_to_nhwc(batch as u32, cx as u32, cc as u32, hw as u32, &xb, &cb, &out)], &out, n)).unwrap();
        let (xn, cn) = (cpu_to_nhwc(&x, batch, cx, hw), cpu_to_nhwc(&cond, batch, cc, hw));
        let want: Vec<f32> = (0..batch * hw).flat_map(|p| xn[p * cx..(p + 1) * cx].iter().chain(&cn[p * cc..(p + 1) * cc]).copied().collect::<Vec<_>>()).collect();
        assert_eq!(got, want, "nchw_to_nhwc with cond");

        let back = ctx.upload("back", &vec![f32::NAN; batch * cx * hw]).unwrap();
        let xnb = ctx.upload("xn", &xn).unwrap();
        let got = pollster::block_on(run_and_read(&ctx, &[nhwc_to_nchw(batch as u32, cx as u32, hw as u32, &xnb, &xnb, &back)], &back, x.len())).unwrap();
        assert_eq!(got, cpu_to_nchw(&xn, batch, cx, hw));
        assert_eq!(got, x);

        let rows = batch * hw;
        let got = pollster::block_on(run_and_read(&ctx, &[concat_channels(rows as u32, cx as u32, cc as u32, &xnb, &ctx.upload("cn", &cn).unwrap(), &out)], &out, n)).unwrap();
        assert_eq!(got, want, "concat_channels");
        let copy = ctx.upload("copy", &vec![f32::NAN; xn.len()]).unwrap();
        let got = pollster::block_on(run_and_read(&ctx, &[concat_channels(rows as u32, cx as u32, 0, &xnb, &xnb, &copy)], &copy, xn.len())).unwrap();
        assert_eq!(got, xn, "copy");
    }
}
