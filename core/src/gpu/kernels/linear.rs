//! `linear.wgsl`: tiled GEMM with a fused epilogue (bias, per-group row bias, residual
//! accumulation, SiLU). Every linear layer, 1×1 convolution and both attention products.

use super::{Entry, KernelVariant, MAX_GROUPS, Spec, direct_layout, f};

/// Epilogue flag: add `bias[j]`.
pub(crate) const HAS_BIAS: u32 = 1;
/// Epilogue flag: add `rowbias[(i / rows_per_group)·n + j]` (a per-sample bias).
pub(crate) const HAS_ROWBIAS: u32 = 2;
/// Epilogue flag: add what C already holds (a residual connection).
pub(crate) const ACCUMULATE: u32 = 4;
/// Epilogue flag: apply SiLU last.
pub(crate) const SILU: u32 = 8;
/// Epilogue flag: add the `rowbias` binding's element at the output's own index (a residual
/// connection read from another buffer laid out as C, so nothing copies it first). Not with
/// [`HAS_ROWBIAS`], which reads the same binding.
pub(crate) const RESIDUAL: u32 = 16;

/// Tile of C computed by one workgroup (rows × columns).
pub(crate) const TILE: u32 = 64;

/// The parameter block of `linear.wgsl` (see the file for the addressing), f32 elements.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Gemm {
    pub(crate) m: u32,
    pub(crate) n: u32,
    pub(crate) k: u32,
    pub(crate) flags: u32,
    pub(crate) a_off: u32,
    pub(crate) a_rs: u32,
    pub(crate) a_zo: u32,
    pub(crate) a_zi: u32,
    pub(crate) b_off: u32,
    pub(crate) b_rs: u32,
    pub(crate) b_cs: u32,
    pub(crate) b_zo: u32,
    pub(crate) b_zi: u32,
    pub(crate) c_off: u32,
    pub(crate) c_rs: u32,
    pub(crate) c_zo: u32,
    pub(crate) c_zi: u32,
    /// Batch count z (workgroups along z).
    pub(crate) z: u32,
    pub(crate) z_inner: u32,
    pub(crate) rows_per_group: u32,
    pub(crate) alpha: f32,
    /// The preferred algorithm (`linear_direct.wgsl` only where [`Gemm::direct_ok`]).
    pub(crate) variant: KernelVariant,
}

impl Gemm {
    /// `C[rows][fout] = A[rows][fin] · B[fin][fout]` with dense row-major operands (B is a
    /// linear layer's weight uploaded transposed, see [`pack_linear`]).
    pub(crate) fn dense(rows: u32, fin: u32, fout: u32, flags: u32) -> Gemm {
        Gemm {
            m: rows,
            n: fout,
            k: fin,
            flags,
            a_rs: fin,
            b_rs: fout,
            b_cs: 1,
            c_rs: fout,
            z: 1,
            z_inner: 1,
            rows_per_group: 1,
            alpha: 1.0,
            ..Gemm::default()
        }
    }

    /// Whether `linear_direct.wgsl` can run this product: its vec4 reads need k, n, every
    /// offset and row stride of A and B multiples of 4, and B's columns contiguous.
    pub(crate) fn direct_ok(&self) -> bool {
        let words = [self.k, self.n, self.a_off, self.a_rs, self.a_zo, self.a_zi, self.b_off, self.b_rs, self.b_zo, self.b_zi];
        self.b_cs == 1 && words.iter().all(|w| w % 4 == 0)
    }

    /// The algorithm that runs this product.
    pub(crate) fn algorithm(&self) -> KernelVariant {
        self.variant.resolve(self.direct_ok())
    }

    /// Direct kernel: `(cq, workgroups along n, workgroups along m)` for row quads (see
    /// [`direct_layout`]).
    fn direct_layout(&self) -> (u32, u32, usize) {
        direct_layout(self.n, self.m.div_ceil(4) as usize)
    }

    /// Workgroups. Tiled: `⌈n/64⌉ × ⌈m/64⌉ × z`. Direct: `⌈n/(4·cq)⌉ × ⌈⌈m/4⌉/⌊64/cq⌋⌉ × z`.
    pub(crate) fn groups(&self) -> [u32; 3] {
        match self.algorithm() {
            KernelVariant::Tiled => [self.n.div_ceil(TILE), self.m.div_ceil(TILE), self.z],
            KernelVariant::Direct => {
                let (_, cols, rows) = self.direct_layout();
                [cols, u32::try_from(rows).unwrap_or(u32::MAX), self.z]
            }
        }
    }

    /// Whether the grid fits the default limit of 65535 workgroups per dimension.
    pub(crate) fn fits(&self) -> bool {
        self.groups().iter().all(|&g| g <= MAX_GROUPS)
    }

    /// The dispatch: A, B, bias, row bias (unused ones bound to `dummy`), C.
    pub(crate) fn spec<'a>(
        &self,
        a: &'a wgpu::Buffer,
        b: &'a wgpu::Buffer,
        bias: Option<&'a wgpu::Buffer>,
        rowbias: Option<&'a wgpu::Buffer>,
        c: &'a wgpu::Buffer,
        dummy: &'a wgpu::Buffer,
    ) -> Spec<'a> {
        let g = self;
        let mut params = vec![
            g.m, g.n, g.k, g.flags, g.a_off, g.a_rs, g.a_zo, g.a_zi, g.b_off, g.b_rs, g.b_cs, g.b_zo, g.b_zi, g.c_off, g.c_rs,
            g.c_zo, g.c_zi, g.z_inner, g.rows_per_group, f(g.alpha),
        ];
        // Both kernels share `Gemm` (gemm_common.wgsl): cq, then padding.
        let entry = match self.algorithm() {
            KernelVariant::Tiled => {
                params.extend([0, 0, 0, 0]);
                Entry::Linear
            }
            KernelVariant::Direct => {
                params.extend([self.direct_layout().0, 0, 0, 0]);
                Entry::LinearDirect
            }
        };
        Spec { entry, buffers: vec![a, b, bias.unwrap_or(dummy), rowbias.unwrap_or(dummy), c], params, groups: self.groups() }
    }
}

/// A PyTorch linear weight `[fout][fin]` (or 1×1 conv `[fout][fin][1][1]`) transposed to the
/// `[fin][fout]` the kernel reads along `n`.
pub(crate) fn pack_linear(w: &[f32], fin: usize, fout: usize) -> Vec<f32> {
    let mut out = vec![0.0; fin * fout];
    for o in 0..fout {
        for i in 0..fin {
            out[i * fout + o] = w[o * fin + i];
        }
    }
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::gpu::kernels::run_and_read;
    use crate::gpu::testutil::{assert_within, gemm_bound, gpu, uniform};
    use crate::nn::activation::silu;
    use crate::nn::linear::Linear;
    use crate::nn::Workspace;

    /// `y = SiLU(x·Wᵀ + b)` and `y = c + x·Wᵀ + b + rowbias` against the CPU reference
    /// `nn::linear::Linear`, on sizes that cut tiles (m, n not multiples of 64, k not of 16).
    /// Bound per element: the two summation orders of the K-term dot product each lie within
    /// (K+2)·2⁻²⁴·(|b| + Σ|x·w|) of the exact value (`gemm_bound`), plus, after SiLU, 8 ulp of
    /// SiLU's own error on each side.
    #[test]
    fn linear_matches_cpu() {
        let Some(ctx) = gpu() else { return };
        let shapes = [(37usize, 70usize, 45usize), (3, 9, 130), (130, 33, 7), (37, 72, 44), (130, 32, 8), (5, 128, 132), (1, 4, 4)];
        for (&(rows, fin, fout), variant) in shapes.iter().flat_map(|s| [(s, KernelVariant::Tiled), (s, KernelVariant::Direct)]) {
            let x = uniform(1, rows * fin, 1.0);
            let w = uniform(2, fout * fin, 1.0 / (fin as f32).sqrt());
            let b = uniform(3, fout, 0.5);
            let rb = uniform(4, (rows / 2 + 1) * fout, 0.5);
            let c0 = uniform(5, rows * fout, 1.0);
            let lin = Linear::new(&w, &b, fin, fout);
            let mut ws = Workspace::new();
            let mut plain = vec![0.0; rows * fout];
            lin.forward(&x, rows, &mut plain, &mut ws);
            let mag: Vec<f64> = (0..rows * fout)
                .map(|e| {
                    let (i, j) = (e / fout, e % fout);
                    b[j].abs() as f64 + (0..fin).map(|k| (x[i * fin + k] * w[j * fin + k]).abs() as f64).sum::<f64>()
                })
                .collect();

            let xa = ctx.upload("x", &x).unwrap();
            let wb = ctx.upload("w", &pack_linear(&w, fin, fout)).unwrap();
            let bb = ctx.upload("b", &b).unwrap();
            let rbb = ctx.upload("rb", &rb).unwrap();
            let dummy = ctx.upload("dummy", &[0.0; 4]).unwrap();
            let cb = ctx.upload("c", &vec![f32::NAN; rows * fout]).unwrap();

            // SiLU(x·Wᵀ + b)
            let g = Gemm { variant, ..Gemm::dense(rows as u32, fin as u32, fout as u32, HAS_BIAS | SILU) };
            let what = format!("{rows}x{fin}->{fout} {}", variant.resolve(g.direct_ok()).name());
            let got = pollster::block_on(run_and_read(&ctx, &[g.spec(&xa, &wb, Some(&bb), None, &cb, &dummy)], &cb, rows * fout)).unwrap();
            let want: Vec<f32> = plain.iter().map(|&v| silu(v)).collect();
            let bound: Vec<f64> = (0..want.len()).map(|e| 1.1 * gemm_bound(fin, mag[e]) + 16.0 * 2f64.powi(-24) * (want[e].abs() as f64 + 1e-30)).collect();
            assert_within(&format!("linear+silu {what}"), &got, &want, &bound);

            // c0 + x·Wᵀ + b + rowbias[i / 2]
            let cb = ctx.upload("c", &c0).unwrap();
            let mut g = Gemm { variant, ..Gemm::dense(rows as u32, fin as u32, fout as u32, HAS_BIAS | HAS_ROWBIAS | ACCUMULATE) };
            g.rows_per_group = 2;
            let got = pollster::block_on(run_and_read(&ctx, &[g.spec(&xa, &wb, Some(&bb), Some(&rbb), &cb, &dummy)], &cb, rows * fout)).unwrap();
            let want: Vec<f32> = (0..rows * fout).map(|e| c0[e] + rb[(e / fout / 2) * fout + e % fout] + plain[e]).collect();
            let bound: Vec<f64> = (0..want.len())
                .map(|e| gemm_bound(fin + 2, mag[e] + (c0[e].abs() + rb[(e / fout / 2) * fout + e % fout].abs()) as f64))
                .collect();
            assert_within(&format!("linear+rowbias+acc {what}"), &got, &want, &bound);

            // x·Wᵀ + b + c0, the residual c0 read from another buffer (RESIDUAL)
            let c0b = ctx.upload("residual", &c0).unwrap();
            let cb = ctx.upload("c", &vec![f32::NAN; rows * fout]).unwrap();
            let g = Gemm { variant, ..Gemm::dense(rows as u32, fin as u32, fout as u32, HAS_BIAS | RESIDUAL) };
            let got = pollster::block_on(run_and_read(&ctx, &[g.spec(&xa, &wb, Some(&bb), Some(&c0b), &cb, &dummy)], &cb, rows * fout)).unwrap();
            let want: Vec<f32> = (0..rows * fout).map(|e| c0[e] + plain[e]).collect();
            let bound: Vec<f64> = (0..want.len()).map(|e| gemm_bound(fin + 1, mag[e] + c0[e].abs() as f64)).collect();
            assert_within(&format!("linear+residual {what}"), &got, &want, &bound);
        }
    }
}
