// The softmax of the UNet's self-attention (core/src/nn/attention.rs). The two products around
// it, S = q_h·k_hᵀ and o_h = P·v_h, run on linear.wgsl batched over (sample, head).
//
// `softmax_rows`: each row of S ([rows][l], rows = batch·heads·l) in place:
//   s ← scale·s;  m = max s;  e = exp(s − m);  s ← e · (1 / Σe)
// with the sum accumulated in f32 and exp from math.wgsl (the CPU's polynomial). One
// 64-invocation workgroup per row (2-D grid past 65535 rows); max and sum are tree-reduced.

struct Softmax {
    rows: u32, l: u32, scale: f32, pad0: u32,
}

@group(0) @binding(0) var<storage, read_write> s: array<f32>;
@group(0) @binding(1) var<uniform> p: Softmax;

const WG: u32 = 64u;
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64, 1, 1)
fn softmax_rows(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.l;

    var m = -3.0e38;
    for (var j = li; j < p.l; j += WG) {
        let v = p.scale * s[base + j];
        s[base + j] = v;
        m = max(m, v);
    }
    red[li] = m;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (li < k) {
            red[li] = max(red[li], red[li + k]);
        }
        workgroupBarrier();
    }
    let mx = red[0];
    workgroupBarrier();

    var sum = 0.0;
    for (var j = li; j < p.l; j += WG) {
        let e = exp_f32(s[base + j] - mx);
        s[base + j] = e;
        sum += e;
    }
    red[li] = sum;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (li < k) {
            red[li] += red[li + k];
        }
        workgroupBarrier();
    }
    let inv = 1.0 / red[0];
    for (var j = li; j < p.l; j += WG) {
        s[base + j] *= inv;
    }
}
