// The time and class embeddings (core/src/nn/embed.rs).
//
// `sinusoidal`: row b of out ([batch][dim]) is the sinusoidal embedding of τ = 1000·t[b]
// (`time::net_time`; t arrives as f32 and 1000·t rounds exactly as the CPU's f64 product does):
//   freq_i = exp(−ln(10000)·i/half),  out = [cos(τ·freq_0..half), sin(τ·freq_0..half)]  (+ a 0 if dim is odd)
// Accurate to ~2e-7 absolute for |τ| ≤ 4096 without trusting the driver's sin/cos (WGSL only
// promises 2⁻¹¹ absolute): freq_i comes from the host in f64 as three f32 parts
// (f1, f2: 12 significant bits each, f3: the rest). τ is split by masking into τ1 + τ2 (12 bits
// each), so τ1·f1, τ1·f2, τ2·f1 and τ2·f2 are exact (fused multiply-add or not). The argument
// is reduced by j·π/2 with π/2 in three parts (Cody–Waite; j·C1 and j·C2 exact for |j| < 2¹²),
// then Cephes' sinf/cosf polynomials run on |r| ≲ π/4.
//
// `add_class_rows`: out[b] += table[row(labels[b])], row = label, or num_classes for the null
// label 0xFFFFFFFF; then SiLU if asked.

struct Embed {
    batch: u32, dim: u32, half: u32, num_classes: u32,
    silu: u32, pad0: u32, pad1: u32, pad2: u32,
}

// binding 0: t (f32 bits) for `sinusoidal`, labels for `add_class_rows`.
@group(0) @binding(0) var<storage, read> src: array<u32>;
// binding 1: freq [half] as (f1, f2, f3, 0) for `sinusoidal`; the class table for `add_class_rows`.
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Embed;

const NULL_LABEL: u32 = 0xFFFFFFFFu;

// π/2 = C1 + C2 + C3 (C1: 8 bits, C2: 12 bits).
const PIO2_C1: f32 = 1.5703125;
const PIO2_C2: f32 = 4.837512969970703125e-4;
const PIO2_C3: f32 = 7.5497901264043315e-8;
const TWO_OVER_PI: f32 = 0.63661977236758134;

fn hi12(v: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(v) & 0xFFFFF000u);
}

// (cos(τ·f), sin(τ·f)) with f = f1 + f2 + f3.
fn cos_sin(tau: f32, f1: f32, f2: f32, f3: f32) -> vec2<f32> {
    let t1 = hi12(tau);
    let t2 = tau - t1;
    let p11 = t1 * f1;
    let mid = t1 * f2 + t2 * f1;
    let low = t2 * f2 + tau * f3;
    let jf = round((p11 + mid) * TWO_OVER_PI);
    let j = i32(jf);
    let r = (((p11 - jf * PIO2_C1) - jf * PIO2_C2) + mid) + (low - jf * PIO2_C3);
    let z = r * r;
    let s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
    let c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
    let q = j & 3;
    if (q == 0) {
        return vec2<f32>(c, s);
    }
    if (q == 1) {
        return vec2<f32>(-s, c);
    }
    if (q == 2) {
        return vec2<f32>(-c, -s);
    }
    return vec2<f32>(s, -c);
}

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

@compute @workgroup_size(256, 1, 1)
fn sinusoidal(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = flat_id(gid, nwg);
    let per = p.half + (p.dim % 2u);
    if (id >= p.batch * per) {
        return;
    }
    let b = id / per;
    let i = id % per;
    let row = b * p.dim;
    if (i == p.half) {
        out[row + p.dim - 1u] = 0.0;
        return;
    }
    let tau = 1000.0 * bitcast<f32>(src[b]);
    let f = vec3<f32>(table[4u * i], table[4u * i + 1u], table[4u * i + 2u]);
    let cs = cos_sin(tau, f.x, f.y, f.z);
    out[row + i] = cs.x;
    out[row + p.half + i] = cs.y;
}

@compute @workgroup_size(256, 1, 1)
fn add_class_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let id = flat_id(gid, nwg);
    if (id >= p.batch * p.dim) {
        return;
    }
    let b = id / p.dim;
    let j = id % p.dim;
    var r = src[b];
    if (r == NULL_LABEL) {
        r = p.num_classes;
    }
    var v = out[id] + table[r * p.dim + j];
    if (p.silu != 0u) {
        v = silu(v);
    }
    out[id] = v;
}
