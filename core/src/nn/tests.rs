//! Whole-network tests: against the plain f64 reference in `naive`, determinism, batch
//! invariance, workspace reuse and input validation.

use super::init::random_weights;
use super::naive;
use super::*;
use crate::config::{MlpConfig, UnetConfig};
use crate::noise::{gaussian_batch, Stream};

fn mlp_cfg(dim: usize, hidden: usize, depth: usize, ted: usize, cond_dim: usize, num_classes: usize) -> MlpConfig {
    MlpConfig { dim, hidden, depth, time_embed_dim: ted, cond_dim, num_classes }
}

/// 1-channel 28×28, base 8, groups 4, mult [1, 2], one res block, attention (2 heads), 3 classes.
fn unet_mnist_tiny() -> UnetConfig {
    UnetConfig {
        channels: 1,
        height: 28,
        width: 28,
        base_channels: 8,
        channel_mult: vec![1, 2],
        num_res_blocks: 1,
        attention: true,
        attention_heads: 2,
        groups: 4,
        cond_channels: 0,
        num_classes: 3,
    }
}

/// CAF acceleration-net style: 3-channel 32×32 with 3 cond channels (v̂0), unconditional.
fn unet_rgb_cond() -> UnetConfig {
    UnetConfig {
        channels: 3,
        height: 32,
        width: 32,
        base_channels: 8,
        channel_mult: vec![1, 2, 2],
        num_res_blocks: 1,
        attention: true,
        attention_heads: 1,
        groups: 4,
        cond_channels: 3,
        num_classes: 0,
    }
}

struct Inputs {
    x: Vec<f32>,
    cond: Option<Vec<f32>>,
    t: Vec<f32>,
    labels: Option<Vec<u32>>,
}

fn inputs(arch: &ArchConfig, batch: usize, seed: u64) -> Inputs {
    let numel: usize = arch.sample_shape().iter().product();
    let s = Stream::new(seed, 99);
    let t: Vec<f32> = (0..batch).map(|b| s.uniform(b as u64) as f32).collect();
    let nc = arch.num_classes();
    let labels = (nc > 0).then(|| (0..batch).map(|b| if b % 3 == 2 { crate::field::NULL_LABEL } else { (b % nc) as u32 }).collect());
    let cond = (arch.cond_numel() > 0).then(|| gaussian_batch(seed + 1, 0, batch, arch.cond_numel()));
    Inputs { x: gaussian_batch(seed, 0, batch, numel), cond, t, labels }
}

fn run(net: &Network, inp: &Inputs, ws: &mut Workspace) -> Vec<f32> {
    let mut out = vec![f32::NAN; inp.x.len()];
    net.forward(&inp.x, inp.cond.as_deref(), &inp.t, inp.labels.as_deref(), &mut out, ws).expect("forward");
    out
}

fn naive_forward(arch: &ArchConfig, w: &Weights, inp: &Inputs) -> Vec<f64> {
    match arch {
        ArchConfig::Mlp(m) => naive::mlp(m, w, "velocity", &inp.x, inp.cond.as_deref(), &inp.t, inp.labels.as_deref()),
        ArchConfig::Unet(u) => naive::unet(u, w, "velocity", &inp.x, inp.cond.as_deref(), &inp.t, inp.labels.as_deref()),
    }
}

/// max |fast − naive| / max(1, max |naive|).
fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    got.iter().zip(want).fold(0.0f64, |m, (g, w)| m.max((*g as f64 - w).abs())) / scale
}

fn check_against_naive(arch: ArchConfig, batch: usize, tol: f64) {
    let w = random_weights(&arch, "velocity", 7);
    let net = Network::new(&arch, &w, "velocity").unwrap();
    let inp = inputs(&arch, batch, 3);
    let got = run(&net, &inp, &mut Workspace::new());
    let want = naive_forward(&arch, &w, &inp);
    let err = rel_err(&got, &want);
    eprintln!("{:?}: relative error {err:e}", arch);
    assert!(err <= tol, "relative error {err:e} > {tol:e}");
}

/// MLPs: with/without classes, with a cond input. The forward is ≤ 6 f32 GEMMs with K ≤ 64
/// (error ≲ K·2⁻²⁴ ≈ 4e-6 relative each, far less in practice) and SiLUs (≲ 8 ulp); observed
/// 1e-8 to 6e-8. Tolerance 5e-7 of the output scale.
#[test]
fn mlp_matches_naive() {
    check_against_naive(ArchConfig::Mlp(mlp_cfg(2, 32, 2, 16, 0, 0)), 7, 5e-7);
    check_against_naive(ArchConfig::Mlp(mlp_cfg(3, 24, 1, 8, 0, 4)), 7, 5e-7);
    check_against_naive(ArchConfig::Mlp(mlp_cfg(5, 16, 3, 10, 5, 0)), 7, 5e-7);
    check_against_naive(ArchConfig::Mlp(mlp_cfg(4, 20, 0, 6, 4, 2)), 3, 5e-7);
}

/// UNets: ~20 convolutions (K up to 9·32 = 288) through GroupNorms, which rescale each
/// activation by 1/std, so per-layer relative errors of ~K·2⁻²⁴·(cancellation) compound;
/// observed 6e-7 to 8e-7 of the output scale. Tolerance 1e-5.
#[test]
fn unet_mnist_tiny_matches_naive() {
    check_against_naive(ArchConfig::Unet(unet_mnist_tiny()), 3, 1e-5);
}

#[test]
fn unet_rgb_cond_matches_naive() {
    check_against_naive(ArchConfig::Unet(unet_rgb_cond()), 2, 1e-5);
}

/// Bit-identical output with 1 and 2 rayon threads and across repeated calls.
#[test]
fn deterministic_across_threads_and_calls() {
    for arch in [ArchConfig::Unet(unet_mnist_tiny()), ArchConfig::Mlp(mlp_cfg(2, 64, 3, 16, 0, 3))] {
        let w = random_weights(&arch, "velocity", 1);
        let net = Network::new(&arch, &w, "velocity").unwrap();
        let inp = inputs(&arch, 9, 5);
        let mut ws = Workspace::new();
        let first = run(&net, &inp, &mut ws);
        assert_eq!(first, run(&net, &inp, &mut ws));
        #[cfg(all(feature = "parallel", not(target_arch = "wasm32")))]
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let out = pool.install(|| run(&net, &inp, &mut Workspace::new()));
            assert!(first.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()), "{threads} threads differ");
        }
    }
}

/// A sample's output is bit-identical alone or inside a batch (every op works per sample or
/// per output element with a batch-independent summation order).
#[test]
fn batch_invariant() {
    for arch in [ArchConfig::Unet(unet_rgb_cond()), ArchConfig::Mlp(mlp_cfg(3, 40, 2, 16, 3, 0))] {
        let w = random_weights(&arch, "velocity", 2);
        let net = Network::new(&arch, &w, "velocity").unwrap();
        let batch = 5;
        let inp = inputs(&arch, batch, 8);
        let mut ws = Workspace::new();
        let all = run(&net, &inp, &mut ws);
        let (numel, cn) = (net.sample_numel(), arch.cond_numel());
        for b in [0, 3] {
            let one = Inputs {
                x: inp.x[b * numel..(b + 1) * numel].to_vec(),
                cond: inp.cond.as_ref().map(|c| c[b * cn..(b + 1) * cn].to_vec()),
                t: vec![inp.t[b]],
                labels: inp.labels.as_ref().map(|l| vec![l[b]]),
            };
            assert_eq!(run(&net, &one, &mut ws), all[b * numel..(b + 1) * numel], "sample {b}");
        }
    }
}

/// A second forward with the same shapes takes every buffer from the pool.
#[test]
fn workspace_is_reused() {
    for arch in [ArchConfig::Unet(unet_mnist_tiny()), ArchConfig::Mlp(mlp_cfg(5, 16, 3, 10, 5, 2))] {
        let net = Network::new(&arch, &random_weights(&arch, "v", 1), "v").unwrap();
        let inp = inputs(&arch, 4, 1);
        let mut ws = Workspace::new();
        run(&net, &inp, &mut ws);
        let n = ws.allocations();
        assert!(n > 0);
        run(&net, &inp, &mut ws);
        run(&net, &inp, &mut ws);
        assert_eq!(ws.allocations(), n, "{arch:?}");
    }
}

#[test]
fn bad_inputs_are_rejected() {
    let invalid = |r: Result<()>| matches!(r, Err(Error::InvalidInput(_)));
    let unet = ArchConfig::Unet(unet_rgb_cond());
    let net = Network::new(&unet, &random_weights(&unet, "a", 1), "a").unwrap();
    let numel = 3 * 32 * 32;
    let (x, c, t) = (vec![0.0f32; 2 * numel], vec![0.0f32; 2 * numel], [0.5f32, 0.1]);
    let mut out = vec![0.0f32; 2 * numel];
    let mut ws = Workspace::new();
    assert!(net.forward(&x, Some(&c), &t, None, &mut out, &mut ws).is_ok());
    assert!(net.forward(&x, Some(&c), &t, Some(&[crate::field::NULL_LABEL; 2]), &mut out, &mut ws).is_ok());
    assert!(invalid(net.forward(&x[1..], Some(&c), &t, None, &mut out, &mut ws)), "short x");
    assert!(invalid(net.forward(&x, Some(&c), &t[..1], None, &mut out, &mut ws)), "short t");
    assert!(invalid(net.forward(&x, Some(&c), &t, None, &mut out[1..], &mut ws)), "short out");
    assert!(invalid(net.forward(&x, None, &t, None, &mut out, &mut ws)), "missing cond");
    assert!(invalid(net.forward(&x, Some(&c[1..]), &t, None, &mut out, &mut ws)), "short cond");
    assert!(invalid(net.forward(&x, Some(&c), &[0.5, f32::NAN], None, &mut out, &mut ws)), "NaN time");
    assert!(invalid(net.forward(&x, Some(&c), &t, Some(&[0, 0]), &mut out, &mut ws)), "label for unconditional");
    assert!(invalid(net.forward(&x, Some(&c), &t, Some(&[crate::field::NULL_LABEL]), &mut out, &mut ws)), "label count");

    let mlp = ArchConfig::Mlp(mlp_cfg(2, 8, 1, 4, 0, 3));
    let net = Network::new(&mlp, &random_weights(&mlp, "v", 1), "v").unwrap();
    let mut out = [0.0f32; 4];
    assert!(net.forward(&[0.0; 4], None, &[0.0, 1.0], Some(&[2, crate::field::NULL_LABEL]), &mut out, &mut ws).is_ok());
    assert!(net.forward(&[0.0; 4], None, &[0.0, 1.0], None, &mut out, &mut ws).is_ok());
    assert!(invalid(net.forward(&[0.0; 4], None, &[0.0, 1.0], Some(&[3, 0]), &mut out, &mut ws)), "label out of range");
    assert!(invalid(net.forward(&[0.0; 4], Some(&[0.0; 4]), &[0.0, 1.0], None, &mut out, &mut ws)), "unexpected cond");
    assert!(invalid(net.forward(&[0.0; 5], None, &[0.0, 1.0], None, &mut out, &mut ws)), "long x");
    // An empty batch is fine and writes nothing.
    assert!(net.forward(&[], None, &[], None, &mut [], &mut ws).is_ok());
}

#[test]
fn construction_errors_are_typed() {
    let arch = ArchConfig::Unet(unet_mnist_tiny());
    let w = random_weights(&arch, "velocity", 1);
    assert!(matches!(Network::new(&arch, &w, "acceleration"), Err(Error::MissingTensor(n)) if n == "acceleration.time.lin1.weight"));
    let mut missing = w.clone();
    missing.tensors.remove("velocity.mid.attn.qkv.bias");
    assert!(matches!(Network::new(&arch, &missing, "velocity"), Err(Error::MissingTensor(n)) if n == "velocity.mid.attn.qkv.bias"));
    let mut wrong = w.clone();
    wrong.insert("velocity.up.1.res.0.skip.weight", vec![16, 24, 3, 3], vec![0.0; 16 * 24 * 9]).unwrap();
    assert!(matches!(Network::new(&arch, &wrong, "velocity"), Err(Error::WrongShape { .. })));
    let mut bad = unet_mnist_tiny();
    bad.groups = 3;
    assert!(matches!(Network::new(&ArchConfig::Unet(bad), &w, "velocity"), Err(Error::BadConfig(_))));
    // Extra tensors (another role) are ignored; an empty prefix means bare names.
    let mlp = ArchConfig::Mlp(mlp_cfg(2, 8, 1, 4, 0, 0));
    let mut both = random_weights(&mlp, "", 3);
    both.tensors.extend(w.tensors.clone());
    assert!(Network::new(&mlp, &both, "").is_ok());
}

#[test]
fn flops_count_macs_twice() {
    let m = mlp_cfg(2, 10, 2, 4, 1, 0);
    // lin1 4·10, lin2 10·10, input 3·10, hidden 2·10·10, output 10·2
    assert_eq!(flops(&ArchConfig::Mlp(m)), 2 * (40 + 100 + 30 + 200 + 20));
    let u = UnetConfig {
        channels: 1,
        height: 4,
        width: 4,
        base_channels: 2,
        channel_mult: vec![1],
        num_res_blocks: 1,
        attention: true,
        attention_heads: 1,
        groups: 1,
        cond_channels: 0,
        num_classes: 0,
    };
    // time 2·8 + 8·8; conv_in 16·1·2·9; down res 16·9·(4+4) + 8·2; mid 2× the same;
    // attn 16·2·6 + 2·16·16·2 + 16·2·2; two up res (2+2→2): 16·9·(4·2+4) + 8·2 + 16·4·2;
    // out 16·2·1·9
    let res = 16 * 9 * 8 + 16;
    let want = 80 + 288 + 3 * res + (192 + 1024 + 64) + 2 * (16 * 9 * 12 + 16 + 128) + 288;
    assert_eq!(flops(&ArchConfig::Unet(u)), 2 * want as u64);
}

/// `activation_bytes` bounds what the workspace really allocates for a forward pass, and not
/// by much: between 1× and 4× of the measured allocation, for an MLP, the MNIST UNet and a UNet
/// with attention, at batches 1 and 8.
#[test]
fn activation_estimate_bounds_the_workspace() {
    use crate::config::{ArchConfig, MlpConfig};
    let archs = [
        ArchConfig::Mlp(MlpConfig { dim: 2, hidden: 64, depth: 3, time_embed_dim: 16, cond_dim: 0, num_classes: 0 }),
        ArchConfig::Unet(crate::presets::unet_mnist()),
        ArchConfig::Unet(crate::presets::unet(1, 16, 8, &[1, 2], 1, true, 3)),
    ];
    for arch in archs {
        for batch in [1usize, 8] {
            let net = Network::new(&arch, &crate::nn::init::random_weights(&arch, "", 1), "").unwrap();
            let numel = net.sample_numel();
            let x = vec![0.1f32; batch * numel];
            let labels = vec![0u32; batch];
            let t = vec![0.5f32; batch];
            let mut out = vec![0.0f32; batch * numel];
            let mut ws = Workspace::new();
            net.forward(&x, None, &t, (arch.num_classes() > 0).then_some(&labels[..]), &mut out, &mut ws).unwrap();
            let (got, bound) = (ws.allocated_bytes() as u64, crate::nn::activation_bytes(&arch, batch));
            println!("{arch:?} batch {batch}: workspace {got} B, estimate {bound} B");
            assert!(bound >= got, "batch {batch}: estimate {bound} below the workspace's {got}");
            assert!(bound <= 4 * got.max(1 << 12), "batch {batch}: estimate {bound} over 4× the workspace's {got}");
        }
    }
}
