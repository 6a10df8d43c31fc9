// Concatenation and layout changes (pure data movement, exact).
//
// `concat_channels`: out[r] = [a[r], b[r]] for rows r: a [rows][ca], b [rows][cb] → [rows][ca+cb]
//   (a UNet ResBlock's input concat[h, skip] per pixel, the MLP's concat[x, cond]).
// `nchw_to_nhwc`: x [batch][cx][hw] and cond [batch][cc][hw] → [batch][hw][cx+cc] (the UNet's
//   input concat[x, cond] along channels, NCHW → NHWC; cc may be 0).
// `nhwc_to_nchw`: [batch][hw][c] → [batch][c][hw] (the UNet's output).
//
// One invocation per output element; the grid may be 2-D (x·256 per row of workgroups) when
// the element count exceeds 65535 workgroups.

struct Shape {
    n0: u32, n1: u32, n2: u32, n3: u32,
}

@group(0) @binding(0) var<storage, read> src0: array<f32>;
@group(0) @binding(1) var<storage, read> src1: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Shape;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// p = (rows, ca, cb, _)
@compute @workgroup_size(256, 1, 1)
fn concat_channels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = flat_id(gid, nwg);
    let w = p.n1 + p.n2;
    if (id >= p.n0 * w) {
        return;
    }
    let r = id / w;
    let j = id % w;
    if (j < p.n1) {
        out[id] = src0[r * p.n1 + j];
    } else {
        out[id] = src1[r * p.n2 + (j - p.n1)];
    }
}

// p = (batch, cx, cc, hw)
@compute @workgroup_size(256, 1, 1)
fn nchw_to_nhwc(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = flat_id(gid, nwg);
    let c = p.n1 + p.n2;
    let hw = p.n3;
    if (id >= p.n0 * hw * c) {
        return;
    }
    let ch = id % c;
    let q = (id / c) % hw;
    let b = id / (c * hw);
    if (ch < p.n1) {
        out[id] = src0[(b * p.n1 + ch) * hw + q];
    } else {
        out[id] = src1[(b * p.n2 + (ch - p.n1)) * hw + q];
    }
}

// p = (batch, c, hw, _)
@compute @workgroup_size(256, 1, 1)
fn nhwc_to_nchw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = flat_id(gid, nwg);
    let c = p.n1;
    let hw = p.n2;
    if (id >= p.n0 * c * hw) {
        return;
    }
    let q = id % hw;
    let ch = (id / hw) % c;
    let b = id / (hw * c);
    out[id] = src0[(b * hw + q) * c + ch];
}
