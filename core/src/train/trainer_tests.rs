//! The trainer on `Device::flex()` with tiny networks: one step, a falling loss, exact resume
//! in-process (the subprocess kill test is `native/tests/train.rs`), checkpoints, batches.
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
    assert_eq!(a.batch(3), b.batch(3));
    assert_ne!(a.batch(3), a.batch(4));
    let x = a.batch(7);
    // x_t and the target are t·x1 + (1 − t)·x0 and x1 − x0 of the same x0, x1.
    assert_eq!(x.t.len(), 64);
    assert!(x.t.iter().all(|t| (0.0..=1.0).contains(t)));
    assert!(x.labels.is_none());
    let mut c = toy_config(5);
    c.seed = 1;
    assert_ne!(toy_trainer(c).batch(3), a.batch(3));
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
        let b = tr.batch(s);
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
    let got = scalar(loss_of(t.clone(), Loss::PseudoHuber));
    let c = 0.00054 * 3.0;
    let want = diff.chunks(3).map(|r| ((r.iter().map(|v| (v * v) as f64).sum::<f64>() + c * c).sqrt() - c) / 3.0).sum::<f64>() / 2.0;
    assert!((got as f64 - want).abs() < 1e-6, "{got} vs {want}");
    let l2 = scalar(loss_of(t, Loss::L2));
    assert!((l2 as f64 - diff.iter().map(|v| (v * v) as f64).sum::<f64>() / 6.0).abs() < 1e-6);

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
/// relative). Ignored by default: a cold wgpu run compiles and autotunes kernels (about 30 s on
/// lavapipe). `cargo test -p beeline --features train wgpu_training -- --ignored --nocapture`.
/// Fails if there is no wgpu adapter.
#[test]
#[ignore]
fn wgpu_training_matches_flex() {
    let sel = select_device(DeviceChoice::Wgpu).expect("this test needs a wgpu adapter");
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

/// Reflow and distill batches come from the pairs: every sample's target is one pair's
/// `x1 − x0` and its input lies on that pair's line at its time; distill's times are all 0.
#[test]
fn pair_batches_follow_the_couplings() {
    use crate::config::{SamplerDefaults, Solver, TimeGrid};
    use crate::pairs::{PairDirection, PairSet, Pairs, PairsSpec, PAIRS_VERSION};
    let n = 40;
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
    let set = PairSet { spec, pairs: Pairs { numel: 2, x0: x0.clone(), x1: x1.clone(), labels: vec![NULL_LABEL; n] } };
    for (method, fixed_zero) in [("reflow", false), ("distill", true)] {
        let t = TrainConfig::parse_toml(&format!("data = 'moons'\nmethod = '{method}'\npairs = 'p'\nbatch = 16\n[arch]\nhidden = 16\ndepth = 1\ntime_embed_dim = 8"), "test").unwrap();
        let config = TrainConfig::resolve(None, &[t]).unwrap();
        assert_eq!(config.label_dropout, 0.0);
        let mut tr = Trainer::new(config, Data::Pairs(set.clone()), Device::flex().autodiff()).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for step in 0..5 {
            let b = tr.batch(step);
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
