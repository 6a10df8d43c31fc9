// The sampler's element-wise updates (core/src/sampling). Every solver compiles to a plan of
// network evaluations, linear combinations and copies; all coefficients are computed on the
// host when the plan is built. The plan's state slots (X, V, XM, K1.., V0, A) live in one
// buffer, each at its own offset.
//
// `lincomb`: state[out + i] = Σ_t coef_t·state[off_t + i], summed in term order from the first
//   term (up to 6 terms; a term may name the output slot: each element is read before it is
//   written). Covers every solver's update: Euler/PeRFlow axpy, midpoint and Heun stages,
//   RK4's 5-term sum, FireFlow's step with its cached midpoint velocity (the V slot simply
//   survives to the next step), RF++'s re-noising, CAF's x + h·v0 + ½(tn² − tc²)·a, and copies
//   (one term with coefficient 1, exact).
// `cfg_combine`: classifier-free guidance, state[out + i] = u + s·(c − u) with the conditional
//   half c = net[c_off + i] and the unconditional half u = net[u_off + i] of a doubled-batch
//   network output (`sampling::cfg_combine`).

struct Elementwise {
    len: u32, n_terms: u32, out_off: u32, u_off: u32,
    c_off: u32, scale: f32, pad0: u32, pad1: u32,
    offs: array<vec4<u32>, 2>,
    coefs: array<vec4<f32>, 2>,
}

@group(0) @binding(0) var<storage, read_write> state: array<f32>;
@group(0) @binding(1) var<storage, read> net: array<f32>;
@group(0) @binding(2) var<uniform> p: Elementwise;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

@compute @workgroup_size(256, 1, 1)
fn lincomb(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg);
    if (i >= p.len) {
        return;
    }
    var acc = p.coefs[0][0] * state[p.offs[0][0] + i];
    for (var t = 1u; t < p.n_terms; t++) {
        acc = acc + p.coefs[t / 4u][t % 4u] * state[p.offs[t / 4u][t % 4u] + i];
    }
    state[p.out_off + i] = acc;
}

@compute @workgroup_size(256, 1, 1)
fn cfg_combine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_id(gid, nwg);
    if (i >= p.len) {
        return;
    }
    let u = net[p.u_off + i];
    let c = net[p.c_off + i];
    state[p.out_off + i] = u + p.scale * (c - u);
}
