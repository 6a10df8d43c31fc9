//! The trainer on `Device::flex()` with tiny networks: one step, a falling loss, exact resume
//! in-process (the subprocess kill test is `native/tests/cli/train.rs`), checkpoints, batches.
//!
//! These tests use dropout 0: burn's dropout masks come from a process-wide generator, which
//! other tests of this binary use concurrently. The trainer reseeds it every step, so separate
//! processes (the CLI kill test, which uses dropout 0.1) are exact with dropout too.

use super::checkpoint::Checkpoint;
use super::config::{Loss, TrainConfig};
use super::metrics::MetricsLog;
use super::optim::{flat_params, global_grad_norm, to_host};
use super::trainer::*;
use super::*;
use crate::config::ArchConfig;
use crate::data::images::{ImageDataset, ImageSet};
use crate::data::toys::Toy;
use crate::field::NULL_LABEL;
use crate::modelfile::ModelFile;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use std::path::PathBuf;

fn toy_config(steps: u64) -> TrainConfig {
    let t = TrainConfig::parse_toml(
        &format!("data = 'moons'\nsteps = {steps}\nbatch = 64\nlr = 3e-3\nwarmup = 10\ncheckpoint_every = 20\nlog_every = 10\n[arch]\nhidden = 32\ndepth = 2\ntime_embed_dim = 16"),
        "test",
    )
    .unwrap();
    TrainConfig::resolve(None, &[t]).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("beeline-trainer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_data().try_into_vec_as::<f32>().unwrap()[0]
}

fn toy_trainer(config: TrainConfig) -> Trainer {
    Trainer::new(config, Data::Toy(Toy::Moons), Device::flex().autodiff()).unwrap()
}

#[test]
fn one_step_changes_every_weight_and_the_ema() {
    let mut tr = toy_trainer(toy_config(1));
    let before = to_host(&flat_params(tr.model()));
    let ema_before = to_host(&flat_params(&tr.ema_net()));
    assert_eq!(before, ema_before, "the EMA starts at the initial weights");
    let out = tr.step().unwrap();
    let loss = scalar(out.loss);
    assert!(loss.is_finite() && loss > 0.0);
    assert_eq!(tr.step_count(), 1);
    let after = to_host(&flat_params(tr.model()));
    let ema_after = to_host(&flat_params(&tr.ema_net()));
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert_ne!(a, b, "parameter {i} did not change");
    }
    // EMA after one update: d = min(0.999, 1/10) = 0.1, so ema = 0.1·θ0 + 0.9·θ1.
    for ((b, a), e) in before.iter().zip(&after).zip(&ema_after) {
        for ((b, a), e) in b.iter().zip(a).zip(e) {
            let want = 0.1f32 * b + 0.9f32 * a;
            assert!((e - want).abs() <= 1e-6 * (1.0 + want.abs()), "{e} vs {want}");
        }
    }
    // The first AdamW step moves each weight by about lr·warmup fraction (Adam's first step is
    // ±lr per coordinate, up to ε).
    let lr = 3e-3 / 10.0;
    let moved = before.iter().zip(&after).flat_map(|(b, a)| b.iter().zip(a).map(|(x, y)| (x - y).abs())).fold(0.0f32, f32::max);
    assert!((moved - lr as f32).abs() < 1e-5, "largest move {moved}, lr {lr}");
}

#[test]
fn loss_decreases_on_a_2d_toy() {
    let mut tr = toy_trainer(toy_config(200));
    let losses: Vec<f32> = (0..200).map(|_| scalar(tr.step().unwrap().loss)).collect();
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    let (first, last) = (mean(&losses[..20]), mean(&losses[180..]));
    println!("moons, 200 steps: mean loss of the first 20 steps {first:.4}, of the last 20 {last:.4}");
    assert!(last < 0.8 * first, "loss did not fall: {first} → {last}");
}

#[test]
fn batches_are_a_function_of_seed_and_step() {
    let mut a = toy_trainer(toy_config(5));
    let mut b = toy_trainer(toy_config(5));
    assert_eq!(a.batch(3).unwrap(), b.batch(3).unwrap());
    assert_ne!(a.batch(3).unwrap(), a.batch(4).unwrap());
    let x = a.batch(7).unwrap();
    // x_t and the target are t·x1 + (1 − t)·x0 and x1 − x0 of the same x0, x1.
    assert_eq!(x.t.len(), 64);
    assert!(x.t.iter().all(|t| (0.0..=1.0).contains(t)));
    assert!(x.labels.is_none());
    let mut c = toy_config(5);
    c.seed = 1;
    assert_ne!(toy_trainer(c).batch(3).unwrap(), a.batch(3).unwrap());
}

/// 100 fake 28×28 images of 10 classes.
fn fake_images() -> ImageSet {
    let n = 100;
    let pixels = (0..n * 784).map(|i| ((i * 37) % 251) as u8).collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    ImageSet { dataset: ImageDataset::FashionMnist, n, shape: [1, 28, 28], pixels, labels }
}

fn image_config() -> TrainConfig {
    let t = TrainConfig::parse_toml(
        "data = 'fashion-mnist'\nsteps = 2\nbatch = 40\nlabel_dropout = 0.5\nhflip = true\nloss = 'pseudo-huber'\ntime_dist = 'u-shaped:4'\n\
         [arch]\nkind = 'unet'\nchannels = 1\nheight = 28\nwidth = 28\nbase_channels = 8\nchannel_mult = [1, 2]\nnum_res_blocks = 1\ngroups = 4\nnum_classes = 10",
        "test",
    )
    .unwrap();
    TrainConfig::resolve(None, &[t]).unwrap()
}

#[test]
fn image_batches_walk_epoch_permutations_with_label_dropout() {
    let mut tr = Trainer::new(image_config(), Data::Images(fake_images()), Device::flex().autodiff()).unwrap();
    // Steps 0..5 of batch 40 cover 200 positions = two epochs of 100 images; each epoch is a
    // permutation, so every label appears 10 times per epoch before label dropout.
    let mut nulls = 0;
    let mut total = 0;
    for s in 0..5 {
        let b = tr.batch(s).unwrap();
        let labels = b.labels.unwrap();
        nulls += labels.iter().filter(|&&l| l == NULL_LABEL).count();
        total += labels.len();
        assert!(labels.iter().all(|&l| l == NULL_LABEL || l < 10));
    }
    let frac = nulls as f64 / total as f64;
    assert!((0.35..0.65).contains(&frac), "label dropout 0.5 gave {frac}");
    let out = tr.step().unwrap();
    assert!(scalar(out.loss).is_finite());
    assert!(scalar(out.grad_norm) > 0.0);
}

#[test]
fn pseudo_huber_and_grad_norm_are_what_the_docs_say() {
    let device = Device::flex();
    let diff = vec![0.5f32, -1.0, 2.0, 0.0, 0.25, 3.0];
    let t = Tensor::<2>::from_data(TensorData::new(diff.clone(), [2, 3]), &device);
    let got = scalar(loss_of(t.clone(), Loss::PseudoHuber, false));
    let c = 0.00054 * 3.0;
    let want = diff.chunks(3).map(|r| ((r.iter().map(|v| (v * v) as f64).sum::<f64>() + c * c).sqrt() - c) / 3.0).sum::<f64>() / 2.0;
    assert!((got as f64 - want).abs() < 1e-6, "{got} vs {want}");
    let l2 = scalar(loss_of(t.clone(), Loss::L2, false));
    assert!((l2 as f64 - diff.iter().map(|v| (v * v) as f64).sum::<f64>() / 6.0).abs() < 1e-6);
    // Normalised: each sample's loss over itself (+1e-3) is ≈ 1 in value …
    for loss in [Loss::L2, Loss::PseudoHuber] {
        let n = scalar(loss_of(t.clone(), loss, true)) as f64;
        assert!((n - 1.0).abs() < 2e-3, "{loss:?}: {n}");
    }
    // … and the gradient of sample i is its plain gradient divided by its loss: for l2,
    // d/d(diff) of mean_i(ℓ_i/sg[ℓ_i]) is (2·diff/d)/(B·ℓ_i).
    let ad = Device::flex().autodiff();
    let leaf = Tensor::<2>::from_data(TensorData::new(diff.clone(), [2, 3]), &ad).require_grad();
    let grads = loss_of(leaf.clone(), Loss::L2, true).backward();
    let g = leaf.grad(&grads).unwrap().into_data().try_into_vec_as::<f32>().unwrap();
    for (i, row) in diff.chunks(3).enumerate() {
        let li = row.iter().map(|v| v * v).sum::<f32>() / 3.0;
        for (e, v) in row.iter().enumerate() {
            let want = (2.0 * v / 3.0) / (2.0 * (li + 1e-3));
            assert!((g[3 * i + e] - want).abs() < 1e-5, "sample {i}: {} vs {want}", g[3 * i + e]);
        }
    }

    // The global norm is the norm of all gradients together.
    let ad = Device::flex().autodiff();
    let tr = toy_trainer(toy_config(1));
    let net = tr.model();
    let x = Tensor::<2>::from_data(TensorData::new(vec![0.3f32, -0.7, 1.0, 2.0], [2, 2]), &ad);
    let out = net.forward_flat(x, None, net.time_features(&[0.2, 0.9], &ad), None);
    let grads = GradientsParams::from_grads(out.square().mean().backward(), net);
    let norm = scalar(global_grad_norm(net, &grads).unwrap()) as f64;
    struct Sum<'a>(&'a GradientsParams, f64);
    impl burn::module::ModuleVisitor for Sum<'_> {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            let g = self.0.get::<D>(p.id).unwrap().into_data().try_into_vec_as::<f32>().unwrap();
            self.1 += g.iter().map(|v| (*v as f64).powi(2)).sum::<f64>();
        }
    }
    let mut s = Sum(&grads, 0.0);
    burn::module::Module::visit(net, &mut s);
    assert!((norm - s.1.sqrt()).abs() < 1e-5 * s.1.sqrt(), "{norm} vs {}", s.1.sqrt());
}

fn opts(dir: &std::path::Path, stop_after: Option<u64>, resume: bool) -> TrainOptions {
    TrainOptions { out_dir: dir.to_path_buf(), resume, device: DeviceChoice::Flex, command: "test".into(), stop_after }
}

/// Interrupted at step 50 (after the checkpoint at 40; steps 41–50 are lost), resumed to 100:
/// the very same weights, EMA and AdamW state as an uninterrupted run, and one clean metrics log.
#[test]
fn resume_is_exact_in_process() {
    let config = toy_config(100);
    let (a, b) = (scratch("straight"), scratch("interrupted"));
    let sa = run(config.clone(), &opts(&a, None, false), &mut |_| {}).unwrap();
    assert_eq!(sa.steps, 100);
    let sb = run(config.clone(), &opts(&b, Some(50), false), &mut |_| {}).unwrap();
    assert_eq!((sb.steps, sb.model.is_none()), (50, true));
    assert_eq!(Checkpoint::read(&b).unwrap().unwrap().meta.step, 40);
    // Without --resume an existing checkpoint is refused, not overwritten.
    let e = run(config.clone(), &opts(&b, None, false), &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("--resume"), "{e}");
    let sb = run(config.clone(), &opts(&b, None, true), &mut |_| {}).unwrap();
    assert_eq!((sb.steps, sb.steps_this_run), (100, 60));

    let (ca, cb) = (Checkpoint::read(&a).unwrap().unwrap(), Checkpoint::read(&b).unwrap().unwrap());
    assert_eq!(ca.meta.step, 100);
    assert_eq!(ca.model, cb.model, "weights differ after resume");
    assert_eq!(ca.ema, cb.ema, "EMA differs after resume");
    assert_eq!(ca.moments, cb.moments, "AdamW state differs after resume");
    assert_eq!(ca.meta.params, cb.meta.params);
    let (ma, mb) = (ModelFile::read(a.join(MODEL_FILE)).unwrap(), ModelFile::read(b.join(MODEL_FILE)).unwrap());
    assert_eq!(ma.weights, mb.weights);
    assert_eq!(ma.config.provenance.steps, 100);
    assert_eq!(ma.config.provenance.notes["weights"], "ema");
    let steps: Vec<u64> = MetricsLog::read(&b).unwrap().iter().map(|r| r.step).collect();
    assert_eq!(steps, (1..=10).map(|k| 10 * k).collect::<Vec<_>>());
    let losses = |d: &std::path::Path| MetricsLog::read(d).unwrap().iter().map(|r| r.loss).collect::<Vec<_>>();
    assert_eq!(losses(&a), losses(&b), "the logged losses differ");
    // Nothing temporary is left behind.
    for d in [&a, &b] {
        let names: Vec<String> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }
    let _ = (std::fs::remove_dir_all(&a), std::fs::remove_dir_all(&b));
}

#[test]
fn checkpoints_round_trip_and_broken_ones_are_errors() {
    let d = scratch("ckpt");
    let mut tr = toy_trainer(toy_config(3));
    tr.step().unwrap();
    tr.step().unwrap();
    let ck = tr.checkpoint(1.5);
    assert!(ck.moments.iter().all(|m| m.is_some()));
    assert!(ck.meta.params.iter().all(|p| p.adam_time == 2));
    let bytes = ck.to_bytes().unwrap();
    let path = d.join("c.safetensors");
    assert_eq!(Checkpoint::from_bytes(&bytes, &path).unwrap(), ck);
    // A resumed trainer gives back the same checkpoint.
    let again = Trainer::resume(&ck, ck.meta.config.clone(), Data::Toy(Toy::Moons), Device::flex().autodiff()).unwrap();
    assert_eq!(again.checkpoint(1.5), ck);
    // Truncated or foreign files are clear errors, never panics.
    for cut in [10, bytes.len() / 2, bytes.len() - 3] {
        let e = Checkpoint::from_bytes(&bytes[..cut], &path).unwrap_err().to_string();
        assert!(e.contains("checkpoint"), "{e}");
    }
    let model = tr.model_file(&tr.ema_net(), "ema", "x").unwrap().to_bytes(None).unwrap();
    assert!(Checkpoint::from_bytes(&model, &path).unwrap_err().to_string().contains("not a training checkpoint"));
    // Another architecture does not resume from it.
    let mut other = ck.meta.config.clone();
    let ArchConfig::Mlp(m) = &mut other.arch else { panic!() };
    m.hidden = 16;
    assert!(Trainer::resume(&ck, other, Data::Toy(Toy::Moons), Device::flex().autodiff()).is_err());
    // Writing goes through a temporary file; none is left.
    ck.write(&d).unwrap();
    assert_eq!(Checkpoint::read(&d).unwrap().unwrap(), ck);
    let names: Vec<String> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    let _ = std::fs::remove_dir_all(&d);
}

/// The exported EMA model runs on the CPU reference and gives the burn EMA network's output.
#[test]
fn exported_model_matches_the_ema_network() {
    let mut tr = toy_trainer(toy_config(5));
    for _ in 0..5 {
        tr.step().unwrap();
    }
    let ema = tr.ema_net();
    let file = ModelFile::from_bytes(&tr.model_file(&ema, "ema", "cmd").unwrap().to_bytes(None).unwrap()).unwrap();
    assert_eq!(file.config.sampler.steps, 50);
    assert_eq!(file.config.provenance.command, "cmd");
    let arch = &file.config.networks[&crate::config::NetRole::Velocity];
    let net = crate::nn::Network::new(arch, &file.weights, "velocity").unwrap();
    let x = [0.3f32, -0.7, 1.0, 2.0];
    let t = [0.2f32, 0.9];
    let mut cpu = vec![0.0; 4];
    net.forward(&x, None, &t, None, &mut cpu, &mut crate::nn::Workspace::new()).unwrap();
    let device = Device::flex();
    let burn_out = ema.forward_flat(Tensor::from_data(TensorData::new(x.to_vec(), [2, 2]), &device), None, ema.time_features(&t, &device), None);
    let burn_out = burn_out.into_data().try_into_vec_as::<f32>().unwrap();
    for (a, b) in cpu.iter().zip(&burn_out) {
        assert!((a - b).abs() < 1e-5 * (1.0 + a.abs()), "{cpu:?} vs {burn_out:?}");
    }
}

/// The same training code on burn's wgpu backend: 40 steps of the toy config (dropout 0) give
/// the losses and weights of flex to f32 rounding (measured on lavapipe: losses equal to 1e-7
/// relative, EMA weights to 1.8e-7). Run by every test command, on lavapipe where there is no
/// GPU: a cold run compiles and autotunes burn's kernels, 60–90 s on 2 cores (the UNet's
/// `train::tests::wgpu_forward_and_step`, with attention, takes 4 min and stays `--ignored`).
/// Fails if there is no wgpu adapter, unless `BEELINE_GPU_TESTS=skip`, which says so.
#[test]
fn wgpu_training_matches_flex() {
    if crate::gpu::gpu_tests_skipped("train::trainer_tests::wgpu_training_matches_flex") {
        return;
    }
    let sel = select_device(DeviceChoice::Wgpu).expect("this test needs a wgpu adapter (install mesa-vulkan-drivers for a software one, or set BEELINE_GPU_TESTS=skip)");
    println!("device: {}", sel.description);
    let config = toy_config(40);
    let mut on_wgpu = Trainer::new(config.clone(), Data::Toy(Toy::Moons), sel.device.autodiff()).unwrap();
    let mut on_flex = toy_trainer(config);
    for s in 0..40 {
        let (a, b) = (scalar(on_wgpu.step().unwrap().loss), scalar(on_flex.step().unwrap().loss));
        assert!((a - b).abs() <= 1e-4 * b.abs(), "step {s}: loss {a} on wgpu, {b} on flex");
    }
    let (a, b) = (to_host(&flat_params(&on_wgpu.ema_net())), to_host(&flat_params(&on_flex.ema_net())));
    let worst = a.iter().flatten().zip(b.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    println!("after 40 steps: max |EMA weight difference| {worst:.2e}");
    assert!(worst < 1e-4, "{worst}");
}

/// `n` unlabelled 2D pairs `x1 = 3·x0 + 1` of "moons".
fn line_pairs(n: usize) -> crate::pairs::PairSet {
    use crate::config::{SamplerDefaults, Solver, TimeGrid};
    use crate::pairs::{PairDirection, PairSet, Pairs, PairsSpec, PAIRS_VERSION};
    let x0 = crate::noise::gaussian_batch(1, 0, n, 2);
    let x1: Vec<f32> = x0.iter().map(|v| 3.0 * v + 1.0).collect();
    let spec = PairsSpec {
        version: PAIRS_VERSION,
        teacher: "t".into(),
        teacher_digest: "0".into(),
        data: "moons".into(),
        shape: vec![2],
        num_classes: 0,
        direction: PairDirection::NoiseToData,
        sampler: SamplerDefaults { solver: Solver::Euler, steps: 4, guidance: 1.0, time_grid: TimeGrid::Uniform },
        seed: 0,
        num_pairs: n,
        shard_size: n,
    };
    PairSet { spec, pairs: Pairs { numel: 2, x0, x1, labels: vec![NULL_LABEL; n] } }
}

/// Reflow and distill batches come from the pairs: every sample's target is one pair's
/// `x1 − x0` and its input lies on that pair's line at its time; distill's times are all 0.
#[test]
fn pair_batches_follow_the_couplings() {
    let n = 40;
    let set = line_pairs(n);
    let (x0, x1) = (set.pairs.x0.clone(), set.pairs.x1.clone());
    for (method, fixed_zero) in [("reflow", false), ("distill", true)] {
        let t = TrainConfig::parse_toml(&format!("data = 'moons'\nmethod = '{method}'\npairs = 'p'\nbatch = 16\n[arch]\nhidden = 16\ndepth = 1\ntime_embed_dim = 8"), "test").unwrap();
        let config = TrainConfig::resolve(None, &[t]).unwrap();
        assert_eq!(config.label_dropout, 0.0);
        let mut tr = Trainer::new(config, Data::Pairs(set.clone()), Device::flex().autodiff()).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for step in 0..5 {
            let b = tr.batch(step).unwrap();
            for k in 0..16 {
                let i = (0..n).find(|&i| (x1[2 * i] - x0[2 * i] - b.target[2 * k]).abs() < 1e-6 && (x1[2 * i + 1] - x0[2 * i + 1] - b.target[2 * k + 1]).abs() < 1e-6).expect("target is a pair's difference");
                seen.insert(i);
                let t = b.t[k];
                assert!(fixed_zero == (t == 0.0), "{method}: t = {t}");
                for e in 0..2 {
                    let want = t * x1[2 * i + e] + (1.0 - t) * x0[2 * i + e];
                    assert!((b.xt[2 * k + e] - want).abs() < 1e-5);
                }
            }
        }
        // 80 draws over 40 pairs in two epochs: every pair is used.
        assert_eq!(seen.len(), n, "{method}");
        assert!(tr.step().is_ok());
    }
}

/// The index of the pair whose `x0` is (to 1e-5) batch row `k` of `x0` rows `rows`.
fn pair_of(set: &crate::pairs::PairSet, rows: &[f32], k: usize) -> usize {
    let p = &set.pairs.x0;
    (0..set.pairs.len()).find(|&i| (p[2 * i] - rows[2 * k]).abs() < 1e-5 && (p[2 * i + 1] - rows[2 * k + 1]).abs() < 1e-5).expect("a pair's x0")
}

/// CAF, both stages on a tiny MLP: stage 1's inputs and targets are the paper's
/// (`x_t = (1 − t²)x0 + t²x1 + v0(t − t²)`, target `v0 = h(x1 − x0)`); stage 2 conditions on
/// `v̂0` = the stage-1 network at t = 0 (checked against the CPU reference), regresses
/// `2(x1 − x0) − 2v̂0` on `x_t = x0 + v̂0·t + ½a·t²`, starts as stage 1's network whatever the
/// conditioning (zero-widened input layer), and exports one CAF model file that the CAF sampler
/// runs.
#[test]
fn caf_stages_build_the_papers_batches_and_export_one_model() {
    use crate::config::{NetRole, Parameterization, Solver};
    use crate::sampling::{run, SamplerSpec};
    let n = 32;
    let h = 1.5f32;
    let set = line_pairs(n);
    let dir = scratch("caf");
    let cfg = |extra: &str| {
        let t = TrainConfig::parse_toml(&format!("data = 'moons'\npairs = 'p'\nbatch = 8\ncaf_h = {h}\n{extra}\n[arch]\nhidden = 16\ndepth = 1\ntime_embed_dim = 8"), "test").unwrap();
        TrainConfig::resolve(None, &[t]).unwrap()
    };
    let c1 = cfg("method = 'caf-velocity'");
    let mut tr = Trainer::new(c1.clone(), Data::Pairs(set.clone()), Device::flex().autodiff()).unwrap();
    let b = tr.batch(3).unwrap();
    assert!(b.cond.is_none());
    let (x0s, x1s) = (&set.pairs.x0, &set.pairs.x1);
    // Rows of x0 in the batch: recover each pair from the target h·(x1 − x0) = h·(2·x0 + 1).
    let rows: Vec<f32> = b.target.iter().map(|v| (v / h - 1.0) / 2.0).collect();
    for k in 0..8 {
        let i = pair_of(&set, &rows, k);
        let t = b.t[k];
        for e in 0..2 {
            let (a, z) = (x1s[2 * i + e], x0s[2 * i + e]);
            let want = (1.0 - t * t) * z + t * t * a + h * (a - z) * (t - t * t);
            assert!((b.xt[2 * k + e] - want).abs() < 1e-5);
        }
    }
    for _ in 0..5 {
        tr.step().unwrap();
    }
    let v_path = dir.join("v.safetensors");
    let v_file = tr.model_file(&tr.ema_net(), "ema", "test").unwrap();
    assert_eq!(v_file.config.parameterization, Parameterization::Velocity);
    v_file.write(&v_path, None).unwrap();

    // Stage 2.
    let p = v_path.display();
    let c2 = cfg(&format!("method = 'caf-acceleration'\ninitial_velocity = '{p}'\ninit = '{p}'"));
    assert_eq!(c2.sample_steps, 1);
    assert_eq!(c2.arch.cond_numel(), 2);
    let mut tr2 = Trainer::new(c2.clone(), Data::Pairs(set.clone()), Device::flex().autodiff()).unwrap();
    let vnet = crate::nn::Network::new(&v_file.config.networks[&NetRole::Velocity], &v_file.weights, "velocity").unwrap();
    let mut ws = crate::nn::Workspace::new();
    let mut want_v0 = vec![0.0f32; 2 * n];
    vnet.forward(x0s, None, &vec![0.0; n], None, &mut want_v0, &mut ws).unwrap();
    let b = tr2.batch(0).unwrap();
    let cond = b.cond.clone().expect("v̂0");
    for k in 0..8 {
        let i = (0..n).find(|&i| (want_v0[2 * i] - cond[2 * k]).abs() < 1e-5 && (want_v0[2 * i + 1] - cond[2 * k + 1]).abs() < 1e-5).expect("cond is a pair's v̂0");
        let t = b.t[k];
        for e in 0..2 {
            let (a1, z, v0) = (x1s[2 * i + e], x0s[2 * i + e], want_v0[2 * i + e]);
            let acc = 2.0 * (a1 - z) - 2.0 * v0;
            assert!((b.target[2 * k + e] - acc).abs() < 1e-4);
            assert!((b.xt[2 * k + e] - (z + v0 * t + 0.5 * acc * t * t)).abs() < 1e-4);
        }
    }
    // The widened initial network ignores the conditioning and equals stage 1.
    let net = tr2.raw_net();
    let dev = Device::flex();
    let x = Tensor::<2>::from_data(TensorData::new(vec![0.3f32, -0.7, 1.0, 2.0], [2, 2]), &dev);
    let c = Tensor::<2>::from_data(TensorData::new(vec![5.0f32, -3.0, 0.5, 9.0], [2, 2]), &dev);
    let got = net.forward_flat(x.clone(), Some(c), net.time_features(&[0.2, 0.9], &dev), None).into_data().try_into_vec_as::<f32>().unwrap();
    let mut want = vec![0.0f32; 4];
    vnet.forward(&[0.3, -0.7, 1.0, 2.0], None, &[0.2, 0.9], None, &mut want, &mut ws).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-4, "{g} vs {w}");
    }
    tr2.step().unwrap();
    let file = tr2.model_file(&tr2.ema_net(), "ema", "test").unwrap();
    assert_eq!(file.config.parameterization, Parameterization::Caf { h });
    assert_eq!(file.config.sampler.solver, Solver::Caf);
    let bytes = file.to_bytes(None).unwrap();
    let mut model = crate::model::Model::new(&ModelFile::from_bytes(&bytes).unwrap()).unwrap();
    let plan = SamplerSpec::new(Solver::Caf, 2).plan().unwrap();
    let out = run(&plan, &mut crate::sampling::Guided::new(&mut model, vec![NULL_LABEL; 4], 1.0).unwrap(), &x0s[..8], None).unwrap();
    assert!(out.iter().all(|v| v.is_finite()));

    // Stage 2 without its stage-1 model, or with a network that does not fit, is refused.
    let e = TrainConfig::resolve(None, &[TrainConfig::parse_toml("data = 'moons'\nmethod = 'caf-acceleration'\npairs = 'p'", "t").unwrap()]).unwrap_err();
    assert!(e.to_string().contains("initial_velocity"), "{e}");
    let mut bad = c2.clone();
    bad.arch = ArchConfig::Mlp(crate::presets::mlp(2, 8, 1, 0)).with_cond(true);
    bad.init = None;
    let e = Trainer::new(bad, Data::Pairs(set), Device::flex().autodiff()).err().expect("refused").to_string();
    assert!(e.contains("conditioning input"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// PeRFlow's batch on a 2D toy with a random MLP teacher: every sample's window start is its
/// data point noised to the start of the window holding its t, `z_s + (t_e − t_s)·target` is
/// the teacher's solve from `z_s` over the window, and `x_t` lies on that segment at t. The
/// student starts as the teacher and exports as a PeRFlow model file.
#[test]
fn perflow_batches_are_teacher_solves_inside_windows() {
    use crate::config::{Parameterization, Solver};
    use crate::sampling::{run, Guided, SamplerSpec};
    let dir = scratch("perflow");
    let arch = ArchConfig::Mlp(crate::presets::mlp(2, 16, 1, 0));
    let mut cfg = crate::presets::velocity_model(arch.clone(), crate::presets::points2d("moons", 2.5), vec![], crate::presets::euler(8));
    cfg.provenance.command = "test".into();
    let teacher_path = dir.join("teacher.safetensors");
    ModelFile::new(cfg, crate::nn::init::random_weights(&arch, "velocity", 5)).unwrap().write(&teacher_path, None).unwrap();
    let p = teacher_path.display();
    let t = TrainConfig::parse_toml(
        &format!("data = 'moons'\nmethod = 'perflow'\nbatch = 32\ninit = '{p}'\n[teacher]\nmodel = '{p}'\nsolver = 'heun'\nsteps = 3\n[arch]\nhidden = 16\ndepth = 1\ntime_embed_dim = 16"),
        "test",
    )
    .unwrap();
    let c = TrainConfig::resolve(None, &[t]).unwrap();
    assert_eq!((c.method.windows(), c.sample_steps), (Some(4), 4));
    let mut tr = Trainer::new(c.clone(), Data::Toy(Toy::Moons), Device::flex().autodiff()).unwrap();
    let step = 2;
    let b = tr.batch(step).unwrap();
    let x1 = Toy::Moons.sample(seed_for(c.seed, purpose::DATA, step), 32);
    let x0 = crate::noise::gaussian_batch(seed_for(c.seed, purpose::NOISE, 0), step * 32, 32, 2);
    let mut teacher = crate::model::Model::load(&teacher_path).unwrap();
    let mut windows_seen = std::collections::BTreeSet::new();
    for k in 0..32 {
        let t = b.t[k] as f64;
        let w = (t * 4.0).floor().min(3.0);
        windows_seen.insert(w as usize);
        let (ts, te) = (w / 4.0, (w + 1.0) / 4.0);
        let r = 2 * k..2 * k + 2;
        let zs: Vec<f32> = x1[r.clone()].iter().zip(&x0[r.clone()]).map(|(a, z)| ts as f32 * a + (1.0 - ts as f32) * z).collect();
        let plan = SamplerSpec::new(Solver::Heun, 3).plan_between(ts, te).unwrap();
        let ze = run(&plan, &mut Guided::new(&mut teacher, vec![NULL_LABEL], 1.0).unwrap(), &zs, None).unwrap();
        for e in 0..2 {
            let want_target = (ze[e] - zs[e]) / (te - ts) as f32;
            assert!((b.target[2 * k + e] - want_target).abs() < 1e-4, "sample {k}");
            let want_xt = zs[e] + ((t - ts) / (te - ts)) as f32 * (ze[e] - zs[e]);
            assert!((b.xt[2 * k + e] - want_xt).abs() < 1e-5, "sample {k}");
        }
    }
    assert!(windows_seen.len() >= 3, "{windows_seen:?}");
    tr.step().unwrap();
    let file = tr.model_file(&tr.ema_net(), "ema", "test").unwrap();
    assert_eq!(file.config.parameterization, Parameterization::Perflow { windows: 4 });
    assert_eq!((file.config.sampler.solver, file.config.sampler.steps), (Solver::Perflow, 4));
    // Without a teacher, or with one of other samples, it is refused.
    let e = TrainConfig::resolve(None, &[TrainConfig::parse_toml("data = 'moons'\nmethod = 'perflow'", "t").unwrap()]).unwrap_err();
    assert!(e.to_string().contains("teacher"), "{e}");
    let mut other = c.clone();
    other.data = "mnist".into();
    other.arch = ArchConfig::Unet(crate::presets::unet(1, 28, 8, &[1], 1, false, 0));
    other.init = None;
    let e = Trainer::new(other, Data::Toy(Toy::Moons), Device::flex().autodiff()).err().expect("refused").to_string();
    assert!(e.contains("shape"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `snapshot_every` keeps the EMA model of the checkpoints at its multiples (40 of 20, 40, 60),
/// each a loadable model file of its step; a value that is not a multiple of
/// `checkpoint_every` is refused before training.
#[test]
fn snapshots_keep_the_models_of_their_steps() {
    let d = scratch("snapshots");
    let mut config = toy_config(60);
    config.snapshot_every = 40;
    run(config.clone(), &opts(&d, None, false), &mut |_| {}).unwrap();
    let names: Vec<String> = std::fs::read_dir(d.join(SNAPSHOT_DIR)).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["model-0000040.safetensors".to_string()]);
    let snap = ModelFile::read(d.join(SNAPSHOT_DIR).join(&names[0])).unwrap();
    assert_eq!(snap.config.provenance.steps, 40);
    assert_ne!(snap.weights, ModelFile::read(d.join(MODEL_FILE)).unwrap().weights);
    config.snapshot_every = 30;
    let e = run(config, &opts(&scratch("snapshots-bad"), None, false), &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("snapshot_every"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}
