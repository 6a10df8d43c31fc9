// GroupNorm over NHWC activations ([batch][hw][c]), optionally fused with SiLU: PyTorch's
// nn.GroupNorm (biased variance) with `groups` groups of c/groups consecutive channels and a
// per-channel affine gamma, beta.
//
// One 256-invocation workgroup per (group, sample): workgroup_id = (g, b). Statistics in f32,
// in three passes over the group's hw·(c/groups) values, tree-reduced in workgroup memory:
//   1. m1 = Σx / n                                  (a first mean)
//   2. s1 = Σ(x − m1), s2 = Σ(x − m1)²             (shifted sums: a large common offset cancels)
//      mean = m1 + s1/n,  var = s2/n − (s1/n)²
//   3. y = ((x − m1) − s1/n)·(gamma·rsqrt(var + eps)) + beta, then SiLU if asked.

struct Norm {
    hw: u32, c: u32, groups: u32, silu: u32,
    eps: f32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Norm;

const WG: u32 = 256u;
var<workgroup> red_a: array<f32, 256>;
var<workgroup> red_b: array<f32, 256>;

// Sums `va` and `vb` over the workgroup; every invocation gets both totals.
fn reduce2(li: u32, va: f32, vb: f32) -> vec2<f32> {
    red_a[li] = va;
    red_b[li] = vb;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (li < s) {
            red_a[li] += red_a[li + s];
            red_b[li] += red_b[li + s];
        }
        workgroupBarrier();
    }
    let r = vec2<f32>(red_a[0], red_b[0]);
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let g = wg.x;
    let b = wg.y;
    let cpg = p.c / p.groups;
    let n = p.hw * cpg;
    let base = b * p.hw * p.c + g * cpg;
    let nf = f32(n);

    var s0 = 0.0;
    for (var e = li; e < n; e += WG) {
        s0 += x[base + (e / cpg) * p.c + e % cpg];
    }
    let m1 = reduce2(li, s0, 0.0).x / nf;

    var s1 = 0.0;
    var s2 = 0.0;
    for (var e = li; e < n; e += WG) {
        let d = x[base + (e / cpg) * p.c + e % cpg] - m1;
        s1 += d;
        s2 += d * d;
    }
    let sums = reduce2(li, s1, s2);
    let mc = sums.x / nf;
    let var_ = max(sums.y / nf - mc * mc, 0.0);
    let rstd = 1.0 / sqrt(var_ + p.eps);

    for (var e = li; e < n; e += WG) {
        let ch = g * cpg + e % cpg;
        let i = base + (e / cpg) * p.c + e % cpg;
        var v = ((x[i] - m1) - mc) * (gamma[ch] * rstd) + beta[ch];
        if (p.silu != 0u) {
            v = silu(v);
        }
        y[i] = v;
    }
}
