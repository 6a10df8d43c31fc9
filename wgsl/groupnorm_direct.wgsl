// GroupNorm over NHWC activations ([batch][hw][c]), optionally fused with SiLU — the same
// operation and statistics as groupnorm.wgsl (see there), computed without workgroup memory or
// barriers, for adapters that run a workgroup's invocations as SIMD lanes of a CPU core
// (lavapipe, SwiftShader): there a barrier is a switch between invocations and every load a
// loop over the lanes, so the tree reductions of groupnorm.wgsl cost more than the sums.
//
// One invocation per (group, sample), 8 per workgroup: invocation g + groups·b of the grid.
// Reads and writes vec4s of 4 channels, so c/groups is a multiple of 4 (the runtime checks and
// runs groupnorm.wgsl otherwise). Sums in f32, blocked: each pass sums blocks of 64 vec4s and
// adds the block sums, so every total carries ≲ (64 + n/256)·2⁻²⁴ relative rounding, about
// what groupnorm.wgsl's tree carries:
//   1. m1 = Σx / n
//   2. s1 = Σ(x − m1), s2 = Σ(x − m1)²;  mean = m1 + s1/n, var = s2/n − (s1/n)²
//   3. y = ((x − m1) − s1/n)·(gamma·rsqrt(var + eps)) + beta, then SiLU if asked.

struct Norm {
    hw: u32, c: u32, groups: u32, silu: u32,
    eps: f32, batch: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> gamma: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> beta: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Norm;

const BLOCK: u32 = 64u;

fn sum4(v: vec4<f32>) -> f32 {
    return (v.x + v.y) + (v.z + v.w);
}

@compute @workgroup_size(8, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let pair = gid.x;
    if (pair >= p.groups * p.batch) {
        return;
    }
    let g = pair % p.groups;
    let b = pair / p.groups;
    let c4 = p.c / 4u;
    let q = c4 / p.groups;          // channel quads per group
    let n4 = p.hw * q;              // vec4s in the group
    let nf = f32(4u * n4);
    let base = b * p.hw * c4 + g * q;

    // Pass 1: the first mean.
    var total = vec4<f32>(0.0);
    for (var s = 0u; s < n4; s += BLOCK) {
        var part = vec4<f32>(0.0);
        for (var e = s; e < min(s + BLOCK, n4); e++) {
            part += x[base + (e / q) * c4 + e % q];
        }
        total += part;
    }
    let m1 = sum4(total) / nf;

    // Pass 2: shifted sums.
    var t1 = vec4<f32>(0.0);
    var t2 = vec4<f32>(0.0);
    for (var s = 0u; s < n4; s += BLOCK) {
        var p1 = vec4<f32>(0.0);
        var p2 = vec4<f32>(0.0);
        for (var e = s; e < min(s + BLOCK, n4); e++) {
            let d = x[base + (e / q) * c4 + e % q] - m1;
            p1 += d;
            p2 += d * d;
        }
        t1 += p1;
        t2 += p2;
    }
    let mc = sum4(t1) / nf;
    let var_ = max(sum4(t2) / nf - mc * mc, 0.0);
    let rstd = 1.0 / sqrt(var_ + p.eps);

    // Pass 3: normalise.
    for (var e = 0u; e < n4; e++) {
        let ch4 = g * q + e % q;
        let i = base + (e / q) * c4 + e % q;
        var v = ((x[i] - m1) - mc) * (gamma[ch4] * rstd) + beta[ch4];
        if (p.silu != 0u) {
            v = vec4<f32>(silu(v.x), silu(v.y), silu(v.z), silu(v.w));
        }
        y[i] = v;
    }
}
