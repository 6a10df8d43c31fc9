//! The matrix multiply every layer runs on: `C[m, n] = init + A[m, k] · B[k, n]`, f32.
//!
//! * **A** (the activations) is row-major: either a dense matrix with row stride `lda`, or the
//!   implicit im2col matrix of a 3×3 convolution over an NHWC image ([`Im2col`]), which is packed
//!   panel by panel and never materialised whole.
//! * **B** (the weights) is packed once into [`PackedB`]: `NR`-column panels over the full `k`,
//!   each stored `[k][NR]`, zero-padded to a multiple of `NR` columns. Weights are packed when a
//!   network is built; attention packs its `Kᵀ` and `V` on the fly into scratch memory.
//! * **C** is row-major with row stride `ldc ≥ n`.
//!
//! The micro-kernel computes an `MR × NR` tile with its accumulators in registers: explicit
//! AVX-512 (8×16) or AVX (6×16) code on x86-64, chosen at run time, and a portable 4×16 loop
//! that LLVM vectorises elsewhere (wasm32, aarch64). `k` is cut into blocks that keep the
//! panels in L1, and the running sums of a tile go from C into the kernel and back at each block
//! boundary, so every element of C is computed as the plain sequential sum
//!
//! ```text
//! c = init;  for k in 0..K (in order): c += a[i,k]·b[k,j]        (f32, a multiply then an add)
//! ```
//!
//! whatever the blocking, the tile shape, its position in C, the batch it belongs to, the ISA
//! path or the number of threads (rows are split between threads; an element never is). Rust
//! never contracts `a·b + c` into an FMA, and the intrinsic kernels use separate multiplies and
//! adds, so all paths give bit-identical results.

use super::conv::Im2col;
use super::par;
use super::workspace::Workspace;

/// Columns of the micro-kernel tile (columns of B / C): the width of a packed B panel.
pub(crate) const NR: usize = 16;
/// The most rows a micro-kernel tile has (the AVX-512 kernel; AVX uses 6, other targets 4).
pub(crate) const MR_MAX: usize = 8;
/// Rows per work item when splitting C between threads: a multiple of every kernel's MR.
const ROWS_PER_ITEM: usize = 24;
/// Largest k-block: an A panel (`MR × KC`) and a B panel (`KC × NR`) stay in L1. Affects speed
/// only, not results.
const KC: usize = 256;

/// The k-block length used for a reduction of length `k`: `k` cut into `⌈k/KC⌉` equal blocks.
#[inline]
pub(crate) fn k_block(k: usize) -> usize {
    if k == 0 { 0 } else { k.div_ceil(k.div_ceil(KC)) }
}

/// Values a packed `k × n` matrix occupies.
#[inline]
pub(crate) fn packed_len(k: usize, n: usize) -> usize {
    n.div_ceil(NR) * NR * k
}

/// A `k × n` right-hand matrix in NR-column panels: element `(kk, j)` is at
/// `(j / NR)·k·NR + kk·NR + j % NR`; columns `n..` of the last panel are zero.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PackedB {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl PackedB {
    /// Packs the matrix whose element `(kk, j)` is `f(kk, j)`.
    pub(crate) fn new(k: usize, n: usize, f: impl Fn(usize, usize) -> f32) -> Self {
        let mut data = vec![0.0; packed_len(k, n)];
        fill_packed(k, n, &mut data, f);
        PackedB { k, n, data }
    }

    /// Packs the transpose of a row-major `[n][k]` matrix (a PyTorch linear weight `[out, in]`).
    pub(crate) fn from_transposed(w: &[f32], k: usize, n: usize) -> Self {
        Self::new(k, n, |kk, j| w[j * k + kk])
    }

    /// A borrowed view.
    pub(crate) fn view(&self) -> BRef<'_> {
        BRef { k: self.k, n: self.n, data: &self.data }
    }
}

fn fill_packed(k: usize, n: usize, dst: &mut [f32], f: impl Fn(usize, usize) -> f32) {
    if k == 0 {
        return;
    }
    for (p, panel) in dst[..packed_len(k, n)].chunks_exact_mut(k * NR).enumerate() {
        for (kk, row) in panel.chunks_exact_mut(NR).enumerate() {
            for (jj, v) in row.iter_mut().enumerate() {
                let j = p * NR + jj;
                *v = if j < n { f(kk, j) } else { 0.0 };
            }
        }
    }
}

/// Packs the `k × n` matrix `B[kk][j] = src[kk·rs + j·cs]` into `dst` (at least
/// [`packed_len`]`(k, n)` values) and returns the view.
pub(crate) fn pack_b_strided<'a>(k: usize, n: usize, src: &[f32], rs: usize, cs: usize, dst: &'a mut [f32]) -> BRef<'a> {
    fill_packed(k, n, dst, |kk, j| src[kk * rs + j * cs]);
    BRef { k, n, data: &dst[..packed_len(k, n)] }
}

/// A borrowed packed B.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BRef<'a> {
    pub(crate) k: usize,
    pub(crate) n: usize,
    data: &'a [f32],
}

/// The left-hand matrix A (`m × k`).
pub(crate) enum ASrc<'a> {
    /// Row `r` is `data[r·lda .. r·lda + k]`.
    Dense { data: &'a [f32], lda: usize },
    /// The im2col matrix of a 3×3 convolution (row = output pixel, column = tap·cin + channel).
    Im2col(Im2col<'a>),
}

impl ASrc<'_> {
    /// The k-block length for a reduction of length `k` (a function of the A kind and `k` only).
    fn k_block(&self, k: usize) -> usize {
        match self {
            ASrc::Dense { .. } => k_block(k),
            ASrc::Im2col(im) => im.k_block(KC),
        }
    }
}

/// What C holds before the product is added.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Init<'a> {
    /// `C = A·B`.
    Zero,
    /// `C = bias[j] + A·B` (`bias.len() ≥ n`).
    Bias(&'a [f32]),
    /// `C = (C + bias[j]) + A·B`: the product is added onto what C holds (a residual).
    AddBias(&'a [f32]),
    /// `C = bias[(row / rows_per_group)·n + j] + A·B`: a bias per group of rows, e.g. per sample
    /// (a conv bias plus the time embedding of that sample).
    RowBias { bias: &'a [f32], rows_per_group: usize },
}

impl Init<'_> {
    #[inline]
    fn apply(&self, row: &mut [f32], global_row: usize) {
        let n = row.len();
        match *self {
            Init::Zero => row.fill(0.0),
            Init::Bias(b) => row.copy_from_slice(&b[..n]),
            Init::AddBias(b) => row.iter_mut().zip(b).for_each(|(c, b)| *c += *b),
            Init::RowBias { bias, rows_per_group } => {
                let g = global_row / rows_per_group;
                row.copy_from_slice(&bias[g * n..(g + 1) * n]);
            }
        }
    }
}

/// `C = init + A·B` for the `m` rows of A, split over threads by rows.
///
/// `c` holds row `r` at `c[r·ldc .. r·ldc + n]` (it may be shorter than `m·ldc`).
pub(crate) fn gemm(m: usize, a: &ASrc<'_>, b: BRef<'_>, c: &mut [f32], ldc: usize, init: Init<'_>, ws: &mut Workspace) {
    if m == 0 || b.n == 0 {
        return;
    }
    debug_assert!(ldc >= b.n);
    let c = &mut c[..(m - 1) * ldc + b.n];
    let items = m.div_ceil(ROWS_PER_ITEM);
    let tasks = par::num_tasks(items, m * b.n * b.k.max(1));
    let slot = match a {
        ASrc::Dense { .. } => 0,
        ASrc::Im2col(_) => MR_MAX * a.k_block(b.k),
    };
    let mut scratch = ws.take(tasks * slot);
    par::for_each_task(c, ROWS_PER_ITEM * ldc, tasks, &mut scratch, |first_item, chunk, apack| {
        let rows = chunk.len().div_ceil(ldc);
        gemm_rows(first_item * ROWS_PER_ITEM, rows, a, b, chunk, ldc, init, apack);
    });
    ws.give(scratch);
}

/// `C = init + A·B` for rows `row0 .. row0 + rows` of A, on the calling thread. `c` starts at
/// row `row0`. `apack` needs `MR_MAX·a.k_block(k)` values for an im2col A (none for a dense A).
///
/// Picks the widest kernel the CPU runs (AVX-512: 8×16 tiles, AVX: 6×16, otherwise 4×16). The
/// tile shape changes which elements are computed together, never how one element is summed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_rows(row0: usize, rows: usize, a: &ASrc<'_>, b: BRef<'_>, c: &mut [f32], ldc: usize, init: Init<'_>, apack: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked just above).
            unsafe { gemm_rows_avx512(row0, rows, a, b, c, ldc, init, apack) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked just above).
            unsafe { gemm_rows_avx(row0, rows, a, b, c, ldc, init, apack) };
            return;
        }
    }
    gemm_rows_body::<4>(row0, rows, a, b, c, ldc, init, apack, kernel_portable::<4>)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
fn gemm_rows_avx512(row0: usize, rows: usize, a: &ASrc<'_>, b: BRef<'_>, c: &mut [f32], ldc: usize, init: Init<'_>, apack: &mut [f32]) {
    // SAFETY (kernel): AVX-512F is enabled in this function.
    gemm_rows_body::<8>(row0, rows, a, b, c, ldc, init, apack, |a, b, acc| unsafe { x86::kernel_avx512(a, b, acc) })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[allow(clippy::too_many_arguments)]
fn gemm_rows_avx(row0: usize, rows: usize, a: &ASrc<'_>, b: BRef<'_>, c: &mut [f32], ldc: usize, init: Init<'_>, apack: &mut [f32]) {
    // SAFETY (kernel): AVX is enabled in this function.
    gemm_rows_body::<6>(row0, rows, a, b, c, ldc, init, apack, |a, b, acc| unsafe { x86::kernel_avx(a, b, acc) })
}

/// The blocked loop around a micro-kernel `kernel(a_rows, b_block) -> tile`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gemm_rows_body<const MR: usize>(
    row0: usize,
    rows: usize,
    a: &ASrc<'_>,
    b: BRef<'_>,
    c: &mut [f32],
    ldc: usize,
    init: Init<'_>,
    apack: &mut [f32],
    kernel: impl Fn(&[&[f32]; MR], &[f32], [[f32; NR]; MR]) -> [[f32; NR]; MR],
) {
    let (k, n) = (b.k, b.n);
    let kc = a.k_block(k);
    for p in (0..rows).step_by(MR) {
        let mr = MR.min(rows - p);
        let cp = &mut c[p * ldc..];
        for i in 0..mr {
            init.apply(&mut cp[i * ldc..i * ldc + n], row0 + p + i);
        }
        let mut k0 = 0;
        while k0 < k {
            let kcb = kc.min(k - k0);
            let arows: [&[f32]; MR] = match a {
                ASrc::Dense { data, lda } => {
                    // Rows past the end repeat the last row; their results are discarded.
                    std::array::from_fn(|i| {
                        let r = row0 + p + i.min(mr - 1);
                        &data[r * lda + k0..r * lda + k0 + kcb]
                    })
                }
                ASrc::Im2col(im) => im.rows::<MR>(row0 + p, mr, k0, kcb, apack),
            };
            for (jp, panel) in b.data.chunks_exact(k * NR).enumerate() {
                let n0 = jp * NR;
                let nv = NR.min(n - n0);
                // The running sums of this tile go in and come out of the kernel.
                let mut tile = [[0.0f32; NR]; MR];
                for (i, t) in tile.iter_mut().enumerate().take(mr) {
                    t[..nv].copy_from_slice(&cp[i * ldc + n0..i * ldc + n0 + nv]);
                }
                let tile = kernel(&arows, &panel[k0 * NR..(k0 + kcb) * NR], tile);
                for (i, t) in tile.iter().enumerate().take(mr) {
                    cp[i * ldc + n0..i * ldc + n0 + nv].copy_from_slice(&t[..nv]);
                }
            }
            k0 += kcb;
        }
    }
}

/// The portable `MR × NR` micro-kernel: `acc[i][j] += a[i][k]·b[k][j]` for each k of one
/// k-block, in order. `a` holds MR rows of the block, `b` the block of one packed panel
/// (`kc·NR` values). Bounds-checked slices keep LLVM from vectorising along k; it vectorises
/// along j instead.
#[inline(always)]
fn kernel_portable<const MR: usize>(a: &[&[f32]; MR], b: &[f32], mut acc: [[f32; NR]; MR]) -> [[f32; NR]; MR] {
    let kc = b.len() / NR;
    let a: [&[f32]; MR] = std::array::from_fn(|i| &a[i][..kc]);
    for (k, bk) in b.chunks_exact(NR).enumerate() {
        for i in 0..MR {
            let ai = a[i][k];
            for j in 0..NR {
                acc[i][j] += ai * bk[j];
            }
        }
    }
    acc
}

/// x86-64 micro-kernels with explicit SIMD: the same `acc += a·b` (a multiply, then an add;
/// never an FMA) per element as [`kernel_portable`], so all paths agree bit for bit.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::NR;
    use std::arch::x86_64::*;

    /// 6×16 tile in 12 ymm accumulators.
    ///
    /// # Safety
    /// The CPU must support AVX.
    #[inline]
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn kernel_avx(a: &[&[f32]; 6], b: &[f32], tile: [[f32; NR]; 6]) -> [[f32; NR]; 6] {
        let kc = b.len() / NR;
        assert!(b.len() == kc * NR && a.iter().all(|r| r.len() >= kc));
        let ap: [*const f32; 6] = std::array::from_fn(|i| a[i].as_ptr());
        let bp = b.as_ptr();
        // SAFETY: each row of `tile` holds 16 floats.
        let mut acc: [[__m256; 2]; 6] =
            std::array::from_fn(|i| unsafe { [_mm256_loadu_ps(tile[i].as_ptr()), _mm256_loadu_ps(tile[i].as_ptr().add(8))] });
        for k in 0..kc {
            // SAFETY: k < kc; every row has ≥ kc values and b exactly kc·NR (asserted above).
            unsafe {
                let b0 = _mm256_loadu_ps(bp.add(k * NR));
                let b1 = _mm256_loadu_ps(bp.add(k * NR + 8));
                for i in 0..6 {
                    let ai = _mm256_broadcast_ss(&*ap[i].add(k));
                    acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_mul_ps(ai, b0));
                    acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_mul_ps(ai, b1));
                }
            }
        }
        let mut out = [[0.0f32; NR]; 6];
        for i in 0..6 {
            // SAFETY: each row of `out` holds 16 floats.
            unsafe {
                _mm256_storeu_ps(out[i].as_mut_ptr(), acc[i][0]);
                _mm256_storeu_ps(out[i].as_mut_ptr().add(8), acc[i][1]);
            }
        }
        out
    }

    /// 8×16 tile in 8 zmm accumulators.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn kernel_avx512(a: &[&[f32]; 8], b: &[f32], tile: [[f32; NR]; 8]) -> [[f32; NR]; 8] {
        let kc = b.len() / NR;
        assert!(b.len() == kc * NR && a.iter().all(|r| r.len() >= kc));
        let ap: [*const f32; 8] = std::array::from_fn(|i| a[i].as_ptr());
        let bp = b.as_ptr();
        // SAFETY: each row of `tile` holds 16 floats.
        let mut acc: [__m512; 8] = std::array::from_fn(|i| unsafe { _mm512_loadu_ps(tile[i].as_ptr()) });
        for k in 0..kc {
            // SAFETY: as in `kernel_avx`.
            unsafe {
                let bk = _mm512_loadu_ps(bp.add(k * NR));
                for i in 0..8 {
                    let ai = _mm512_set1_ps(*ap[i].add(k));
                    acc[i] = _mm512_add_ps(acc[i], _mm512_mul_ps(ai, bk));
                }
            }
        }
        let mut out = [[0.0f32; NR]; 8];
        for i in 0..8 {
            // SAFETY: each row of `out` holds 16 floats.
            unsafe { _mm512_storeu_ps(out[i].as_mut_ptr(), acc[i]) };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::Stream;

    fn rand(seed: u64, n: usize) -> Vec<f32> {
        let s = Stream::new(seed, 0);
        (0..n).map(|i| (2.0 * s.uniform(i as u64) - 1.0) as f32).collect()
    }

    /// Plain f64 reference `C = init + A·B` plus the error bound `(K+2)·u·(|init| + Σ|a·b|)` with
    /// u = 2⁻²⁴: recursive f32 summation of K+1 terms (in any blocking) errs by at most
    /// γ_{K+1}·Σ|terms|, the products themselves are exact in f64.
    fn naive(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], init: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let mut c = vec![0.0; m * n];
        let mut bound = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = init[i * n + j] as f64;
                let mut abs = s.abs();
                for kk in 0..k {
                    let p = a[i * k + kk] as f64 * b[kk * n + j] as f64;
                    s += p;
                    abs += p.abs();
                }
                c[i * n + j] = s;
                bound[i * n + j] = (k + 2) as f64 * 2f64.powi(-24) * abs + 1e-30;
            }
        }
        (c, bound)
    }

    #[test]
    fn gemm_matches_naive_on_awkward_shapes() {
        let mut ws = Workspace::new();
        for &(m, k, n) in &[(1, 1, 1), (7, 3, 5), (8, 8, 8), (9, 17, 9), (33, 300, 19), (100, 513, 24), (3, 0, 4)] {
            let a = rand(1, m * k);
            let bm = rand(2, k * n);
            let bias = rand(3, n);
            let pb = PackedB::new(k, n, |kk, j| bm[kk * n + j]);
            // Bias init, C with a wider row stride.
            let ldc = n + 3;
            let mut c = vec![f32::NAN; m * ldc];
            gemm(m, &ASrc::Dense { data: &a, lda: k }, pb.view(), &mut c, ldc, Init::Bias(&bias), &mut ws);
            let init: Vec<f32> = (0..m * n).map(|i| bias[i % n]).collect();
            let (r, bound) = naive(m, k, n, &a, &bm, &init);
            for i in 0..m {
                for j in 0..n {
                    let err = (c[i * ldc + j] as f64 - r[i * n + j]).abs();
                    assert!(err <= bound[i * n + j], "({m},{k},{n}) [{i},{j}] err {err} > {}", bound[i * n + j]);
                }
                assert!(c[i * ldc + n..i * ldc + ldc].iter().all(|v| v.is_nan()), "wrote past n");
            }
            // AddBias onto existing values, and RowBias.
            let base = rand(4, m * n);
            let mut c2 = base.clone();
            gemm(m, &ASrc::Dense { data: &a, lda: k }, pb.view(), &mut c2, n, Init::AddBias(&bias), &mut ws);
            let init2: Vec<f32> = (0..m * n).map(|i| base[i] + bias[i % n]).collect();
            let (r2, b2) = naive(m, k, n, &a, &bm, &init2);
            let rb = rand(5, m.div_ceil(3) * n);
            let mut c3 = vec![0.0; m * n];
            gemm(m, &ASrc::Dense { data: &a, lda: k }, pb.view(), &mut c3, n, Init::RowBias { bias: &rb, rows_per_group: 3 }, &mut ws);
            let init3: Vec<f32> = (0..m * n).map(|i| rb[(i / n / 3) * n + i % n]).collect();
            let (r3, b3) = naive(m, k, n, &a, &bm, &init3);
            for i in 0..m * n {
                assert!((c2[i] as f64 - r2[i]).abs() <= b2[i] + 2f64.powi(-24) * r2[i].abs());
                assert!((c3[i] as f64 - r3[i]).abs() <= b3[i]);
            }
        }
    }

    #[test]
    fn strided_b_packing_reads_transposes() {
        let (k, n) = (5, 11);
        let src = rand(6, k * n);
        let mut dst = vec![0.0; packed_len(k, n)];
        // B = srcᵀ where src is [n][k].
        let b = pack_b_strided(k, n, &src, 1, k, &mut dst);
        let a = rand(7, 3 * k);
        let mut c = vec![0.0; 3 * n];
        gemm_rows(0, 3, &ASrc::Dense { data: &a, lda: k }, b, &mut c, n, Init::Zero, &mut []);
        let bt: Vec<f32> = (0..k * n).map(|i| src[(i % n) * k + i / n]).collect();
        let (r, bound) = naive(3, k, n, &a, &bt, &vec![0.0; 3 * n]);
        for i in 0..3 * n {
            assert!((c[i] as f64 - r[i]).abs() <= bound[i]);
        }
    }

    /// Each element is computed the same way wherever it sits: a row computed alone equals the
    /// same row inside a large product, bit for bit.
    #[test]
    fn rows_are_position_independent() {
        let (m, k, n) = (50, 700, 13);
        let a = rand(8, m * k);
        let pb = PackedB::new(k, n, |kk, j| ((kk * 31 + j * 17) % 23) as f32 * 0.01 - 0.1);
        let mut ws = Workspace::new();
        let mut all = vec![0.0; m * n];
        gemm(m, &ASrc::Dense { data: &a, lda: k }, pb.view(), &mut all, n, Init::Zero, &mut ws);
        for r in [0, 7, 8, 49] {
            let mut one = vec![0.0; n];
            gemm(1, &ASrc::Dense { data: &a[r * k..], lda: k }, pb.view(), &mut one, n, Init::Zero, &mut ws);
            assert_eq!(one, all[r * n..(r + 1) * n]);
        }
    }

    /// Every micro-kernel this CPU can run gives the same bits as the portable one, and as the
    /// sequential f32 sum `c = init; c += a·b` in k order.
    #[test]
    fn isa_paths_agree_bitwise() {
        let (m, k, n) = (37, 600, 35);
        let a = rand(10, m * k);
        let bm = rand(11, k * n);
        let bias = rand(12, n);
        let pb = PackedB::new(k, n, |kk, j| bm[kk * n + j]);
        let dense = ASrc::Dense { data: &a, lda: k };
        let run = |f: &dyn Fn(&mut [f32])| {
            let mut c = vec![0.0f32; m * n];
            f(&mut c);
            c
        };
        let portable = run(&|c| gemm_rows_body::<4>(0, m, &dense, pb.view(), c, n, Init::Bias(&bias), &mut [], kernel_portable::<4>));
        let sequential: Vec<f32> = (0..m * n)
            .map(|e| {
                let (i, j) = (e / n, e % n);
                (0..k).fold(bias[j], |c, kk| c + a[i * k + kk] * bm[kk * n + j])
            })
            .collect();
        assert_eq!(portable, sequential);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx") {
                // SAFETY: AVX is available.
                let avx = run(&|c| unsafe { gemm_rows_avx(0, m, &dense, pb.view(), c, n, Init::Bias(&bias), &mut []) });
                assert_eq!(avx, portable, "AVX kernel");
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F is available.
                let avx512 = run(&|c| unsafe { gemm_rows_avx512(0, m, &dense, pb.view(), c, n, Init::Bias(&bias), &mut []) });
                assert_eq!(avx512, portable, "AVX-512 kernel");
            }
        }
    }
}

#[cfg(test)]
mod bench {
    use super::*;

    /// `cargo test --release -p beeline nn::gemm::bench -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn gemm_throughput() {
        for &(m, k, n) in &[(12544, 288, 32), (12544, 576, 64), (3136, 576, 64), (4096, 256, 256)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
            let pb = PackedB::new(k, n, |kk, j| ((kk + j) % 5) as f32 * 0.1);
            let mut c = vec![0.0; m * n];
            let mut ws = Workspace::new();
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                gemm(m, &ASrc::Dense { data: &a, lda: k }, pb.view(), &mut c, n, Init::Zero, &mut ws);
                best = best.min(t.elapsed().as_secs_f64());
            }
            let mut best1 = f64::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                gemm_rows(0, m, &ASrc::Dense { data: &a, lda: k }, pb.view(), &mut c, n, Init::Zero, &mut []);
                best1 = best1.min(t.elapsed().as_secs_f64());
            }
            let gf = 2.0 * (m * n * k) as f64 / 1e9;
            println!("gemm {m}x{k}x{n}: {:.1} GFLOP/s parallel, {:.1} GFLOP/s one thread", gf / best, gf / best1);
        }
    }
}
