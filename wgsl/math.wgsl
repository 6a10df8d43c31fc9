// Shared scalar math for Beeline's kernels, prepended to the kernels that use it (WGSL has no
// includes; see core/src/gpu/shaders.rs). Written with + − × ÷ and bit operations only, as the
// CPU reference's core/src/nn/activation.rs is, so that results do not depend on a driver's
// `exp` (WGSL only promises exp to 3 + 2·|x| ULP).

// ln 2 split in two: LN2_HI has 9 significant bits, so n·LN2_HI is exact for |n| ≤ 128.
const LOG2E: f32 = 1.4426950408889634;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;

// eˣ (Cephes' expf polynomial, as the CPU reference's `activation::exp`): relative error
// ≲ 2 ulp for x ∈ [−87, 88]; inputs are clamped to that range, so the result is finite and
// positive. The CPU finds n = round(x·log₂e) with the 1.5·2²³ magic-number trick; here it is
// `round()` (also ties-to-even), because GPU compilers (Mesa's NIR, for one) may simplify
// (a + C) − C to a.
fn exp_f32(x_in: f32) -> f32 {
    let x = clamp(x_in, -87.0, 88.0);
    // x = n·ln2 + r, |r| ≤ ln2/2.
    let n = round(x * LOG2E);
    let r = (x - n * LN2_HI) - n * LN2_LO;
    var p = 1.9875691e-4;
    p = p * r + 1.3982e-3;
    p = p * r + 8.333452e-3;
    p = p * r + 4.1665796e-2;
    p = p * r + 1.6666665e-1;
    p = p * r + 5.0000001e-1;
    let er = (p * r) * r + r + 1.0;
    // 2ⁿ through the exponent bits, n ∈ [−126, 127] after the clamp.
    let scale = bitcast<f32>(u32(i32(n) + 127) << 23u);
    return er * scale;
}

// SiLU(x) = x·σ(x) = x / (1 + e⁻ˣ).
fn silu(x: f32) -> f32 {
    return x / (1.0 + exp_f32(-x));
}
