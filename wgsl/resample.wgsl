// Up and down sampling of the UNet, as the address map of a padded 3×3 convolution (prepended to
// conv3x3.wgsl). The resampled image is never stored: a stride-2 convolution reads every other
// pixel, and the nearest-neighbour ×2 upsampling before a convolution reads pixel (y/2, x/2) for
// upsampled position (y, x). The CPU reference does the same (core/src/nn/conv.rs, `ConvMode`).

// Modes of a 3×3, padding-1 convolution over an h×w input:
const MODE_SAME: u32 = 0u; // stride 1:                 h×w → h×w
const MODE_DOWN: u32 = 1u; // stride 2 (downsampling):  h×w → ⌈h/2⌉×⌈w/2⌉
const MODE_UP: u32 = 2u;   // nearest ×2, then stride 1: h×w → 2h×2w

// The input pixel (y, x) that tap (ky, kx) ∈ {0,1,2}² of output pixel (oy, ox) reads, or
// (−1, −1) where it falls on the zero padding.
fn conv_tap_source(mode: u32, oy: u32, ox: u32, ky: u32, kx: u32, h: u32, w: u32) -> vec2<i32> {
    var stride = 1u;
    var vh = h;
    var vw = w;
    if (mode == MODE_DOWN) {
        stride = 2u;
    } else if (mode == MODE_UP) {
        vh = 2u * h;
        vw = 2u * w;
    }
    // Position in the (virtual, possibly upsampled) input, shifted by the padding.
    let vy = i32(oy * stride + ky) - 1;
    let vx = i32(ox * stride + kx) - 1;
    if (vy < 0 || vx < 0 || vy >= i32(vh) || vx >= i32(vw)) {
        return vec2<i32>(-1, -1);
    }
    if (mode == MODE_UP) {
        return vec2<i32>(vy / 2, vx / 2);
    }
    return vec2<i32>(vy, vx);
}

// Output height and width of a mode for an h×w input.
fn conv_out_hw(mode: u32, h: u32, w: u32) -> vec2<u32> {
    if (mode == MODE_DOWN) {
        return vec2<u32>((h + 1u) / 2u, (w + 1u) / 2u);
    }
    if (mode == MODE_UP) {
        return vec2<u32>(2u * h, 2u * w);
    }
    return vec2<u32>(h, w);
}
