//! `elementwise.wgsl`: the sampler's linear combinations of state slots (every solver update,
//! and copies) and classifier-free guidance.

use super::{Entry, Spec, f, grid_1d};
use crate::sampling::MAX_LINCOMB_TERMS;

/// `state[out + i] = Σ_t coef_t·state[off_t + i]` for `i < len` (1 to 6 terms, f32
/// coefficients rounded from the plan's f64, summed in term order as `sampling::run` does).
/// `net` fills binding 1, unused.
pub(crate) fn lincomb<'a>(len: u32, out: u32, terms: &[(f32, u32)], state: &'a wgpu::Buffer, net: &'a wgpu::Buffer) -> Spec<'a> {
    assert!(!terms.is_empty() && terms.len() <= MAX_LINCOMB_TERMS, "plans are validated to 1..=6 terms");
    let mut offs = [0u32; 8];
    let mut coefs = [0u32; 8];
    for (k, (c, o)) in terms.iter().enumerate() {
        offs[k] = *o;
        coefs[k] = f(*c);
    }
    let mut params = vec![len, terms.len() as u32, out, 0, 0, 0, 0, 0];
    params.extend_from_slice(&offs);
    params.extend_from_slice(&coefs);
    Spec { entry: Entry::Lincomb, buffers: vec![state, net], params, groups: grid_1d(len as usize) }
}

/// `state[out + i] = u + scale·(c − u)` with `c = net[c_off + i]`, `u = net[u_off + i]`.
pub(crate) fn cfg_combine<'a>(len: u32, out: u32, c_off: u32, u_off: u32, scale: f32, state: &'a wgpu::Buffer, net: &'a wgpu::Buffer) -> Spec<'a> {
    let mut params = vec![len, 0, out, u_off, c_off, f(scale), 0, 0];
    params.extend_from_slice(&[0; 16]);
    Spec { entry: Entry::CfgCombine, buffers: vec![state, net], params, groups: grid_1d(len as usize) }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::kernels::run_and_read;
    use crate::gpu::testutil::{assert_close, gpu, uniform};
    use crate::sampling::cfg_combine as cpu_cfg;

    /// Linear combinations with 1 to 6 terms, in place (the output slot among the terms), and
    /// guidance, against the CPU's formulas (`sampling::run`'s lincomb order and
    /// `sampling::cfg_combine`). The same f32 operations in the same order; a GPU may fuse a
    /// multiply-add, which changes each partial sum by ≤ 1 ulp: tolerance 6·2⁻²⁴·Σ|c·s| ≤ 1e-6
    /// here.
    #[test]
    fn lincomb_and_guidance_match_cpu() {
        let Some(ctx) = gpu() else { return };
        let len = 1000usize;
        let slots = 7usize;
        let state0 = uniform(71, slots * len, 2.0);
        let net = uniform(72, 2 * len, 2.0);
        let netb = ctx.upload("net", &net).unwrap();
        let coefs = [1.0f32, 0.25, -0.125, 1.0 / 3.0, 0.7, -2.5];
        for n in 1..=6usize {
            let state = ctx.upload("state", &state0).unwrap();
            // out = slot 0 (also term 0), terms slots 0..n
            let terms: Vec<(f32, u32)> = (0..n).map(|k| (coefs[k], (k * len) as u32)).collect();
            let got = pollster::block_on(run_and_read(&ctx, &[lincomb(len as u32, 0, &terms, &state, &netb)], &state, len)).unwrap();
            let want: Vec<f32> = (0..len)
                .map(|i| {
                    let mut acc = coefs[0] * state0[i];
                    for k in 1..n {
                        // The interpreter's order: acc = acc + c·s (written out, not `+=`).
                        #[allow(clippy::assign_op_pattern)]
                        {
                            acc = acc + coefs[k] * state0[k * len + i];
                        }
                    }
                    acc
                })
                .collect();
            assert_close(&format!("lincomb {n} terms"), &got, &want, 1e-6);
        }
        let state = ctx.upload("state", &state0).unwrap();
        let got = pollster::block_on(run_and_read(&ctx, &[cfg_combine(len as u32, 0, 0, len as u32, 2.5, &state, &netb)], &state, len)).unwrap();
        let mut want = vec![0.0f32; len];
        cpu_cfg(&net[len..], &net[..len], 2.5, &mut want);
        assert_close("cfg_combine", &got, &want, 1e-6);
    }
}
