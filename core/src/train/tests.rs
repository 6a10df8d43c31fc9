//! burn modules against the CPU reference, on `Device::flex()` (and burn's other CPU backends
//! where the build has them: `cpu_devices`) with tiny shapes.
//!
//! Tolerance of the forward comparisons: both sides compute in f32 from bit-identical weights
//! and bit-identical time features, but sum in different orders (burn's flex GEMM and im2col
//! against the reference's blocked GEMM; burn's f32 GroupNorm statistics against the
//! reference's f64 ones; the softmax's exp). Each dot product of K terms then differs by about
//! K·2⁻²⁴ relative to Σ|terms|, and a UNet chains ~20 of them (K up to 9·2C), renormalised by
//! every GroupNorm. We allow `1e-5 · max|reference output|` — the tolerance of the reference's
//! own attention and GEMM tests — and print the measured maxima (`--nocapture`); they are
//! typically ~10× below it.

use super::convert::{load_weights, param_specs};
use super::*;
use crate::config::*;
use crate::field::NULL_LABEL;
use crate::modelfile::ModelFile;
use crate::nn::{init::random_weights, Network, Workspace};
use crate::noise::Stream;
use crate::weights::Weights;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::collections::BTreeMap;

const TOL: f64 = 1e-5;

fn rand(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let s = Stream::new(seed, 77);
    (0..n).map(|i| scale * (2.0 * s.uniform(i as u64) - 1.0) as f32).collect()
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap()
}

fn tensor2(data: &[f32], rows: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data.to_vec(), [rows, data.len() / rows]), device)
}

/// Max |a − b| and the scale max |b|.
fn max_diff(got: &[f32], want: &[f32]) -> (f64, f64) {
    assert_eq!(got.len(), want.len());
    let err = got.iter().zip(want).fold(0.0f64, |m, (g, w)| m.max((*g as f64 - *w as f64).abs()));
    let scale = want.iter().fold(0.0f64, |m, w| m.max((*w as f64).abs()));
    (err, scale)
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    let (err, scale) = max_diff(got, want);
    println!("{what}: max |burn − cpu| = {err:.3e}, max |cpu| = {scale:.3}, relative {:.2e} (tolerance {TOL:.0e})", err / scale);
    assert!(got.iter().all(|v| v.is_finite()), "{what}: non-finite output");
    assert!(scale > 1e-3, "{what}: degenerate output scale {scale}");
    assert!(err <= TOL * scale, "{what}: max difference {err:e} > {TOL:e} × {scale}");
}

/// One test input: batch, x, cond, t (incl. both ends), labels.
struct Input {
    batch: usize,
    x: Vec<f32>,
    cond: Option<Vec<f32>>,
    t: Vec<f32>,
    labels: Option<Vec<u32>>,
}

fn input(arch: &ArchConfig, batch: usize, seed: u64, labels: bool) -> Input {
    let numel: usize = arch.sample_shape().iter().product();
    let cn = arch.cond_numel();
    let nc = arch.num_classes();
    let t: Vec<f32> = (0..batch).map(|b| b as f32 / (batch - 1) as f32).collect();
    Input {
        batch,
        x: rand(seed, batch * numel, 1.5),
        cond: (cn > 0).then(|| rand(seed + 1, batch * cn, 1.0)),
        t,
        labels: (labels && nc > 0).then(|| (0..batch).map(|b| if b % 3 == 2 { NULL_LABEL } else { (b % nc) as u32 }).collect()),
    }
}

fn cpu_forward(arch: &ArchConfig, weights: &Weights, prefix: &str, inp: &Input) -> Vec<f32> {
    let net = Network::new(arch, weights, prefix).unwrap();
    let mut out = vec![0.0; inp.x.len()];
    net.forward(&inp.x, inp.cond.as_deref(), &inp.t, inp.labels.as_deref(), &mut out, &mut Workspace::new()).unwrap();
    out
}

/// burn's forward through the typed module API (`Mlp::forward` / `Unet::forward` with a time
/// tensor) — the path the brief names — not the flat one.
fn burn_forward(net: &Net, inp: &Input, device: &Device) -> Vec<f32> {
    let b = inp.batch;
    let t = Tensor::<1>::from_data(TensorData::new(inp.t.clone(), [b]), device);
    let labels = inp.labels.as_ref().map(|l| class_rows(l, net.arch().num_classes(), device).unwrap());
    match net {
        Net::Mlp(m) => {
            let x = tensor2(&inp.x, b, device);
            let cond = inp.cond.as_ref().map(|c| tensor2(c, b, device));
            to_vec(m.forward(x, cond, t, labels))
        }
        Net::Unet(u) => {
            let c = &u.config;
            let shape = |ch: usize| [b, ch, c.height, c.width];
            let x = Tensor::<4>::from_data(TensorData::new(inp.x.clone(), shape(c.channels)), device);
            let cond = inp.cond.as_ref().map(|v| Tensor::<4>::from_data(TensorData::new(v.clone(), shape(c.cond_channels)), device));
            to_vec(u.forward(x, cond, t, labels))
        }
    }
}

/// Every CPU training backend in this build: flex always; ndarray and LibTorch with the cargo
/// features `train-ndarray` and `train-tch` (their own test command: docs/training.md). The
/// parity and export tests run their one body on each.
fn cpu_devices() -> Vec<(String, Device)> {
    let built = [(true, DeviceChoice::Flex), (cfg!(feature = "train-ndarray"), DeviceChoice::Ndarray), (cfg!(feature = "train-tch"), DeviceChoice::Libtorch)];
    built.into_iter().filter(|(b, _)| *b).map(|(_, c)| (c.to_string(), select_device(c).expect("a backend this build was made with").device)).collect()
}

/// (a): random Beeline weights imported into burn; burn forward = CPU forward, on every CPU
/// backend of the build.
fn check_imported(what: &str, arch: ArchConfig, batch: usize) {
    for (backend, device) in cpu_devices() {
        check_imported_on(&format!("{what} [{backend}]"), arch.clone(), batch, &device);
    }
}

fn check_imported_on(what: &str, arch: ArchConfig, batch: usize, device: &Device) {
    let device = device.clone();
    let weights = random_weights(&arch, "velocity", 3);
    let net = Net::from_weights(&arch, &weights, "velocity", 0.0, &device).unwrap();
    for with_labels in [true, false] {
        if !with_labels && arch.num_classes() == 0 {
            continue;
        }
        let inp = input(&arch, batch, 5, with_labels);
        let label_note = if arch.num_classes() == 0 { "" } else if with_labels { ", labels incl. NULL_LABEL" } else { ", labels None (null row)" };
        assert_close(&format!("{what}{label_note}"), &burn_forward(&net, &inp, &device), &cpu_forward(&arch, &weights, "velocity", &inp));
    }
    // And the flat entry point gives the same as the typed one.
    let inp = input(&arch, batch, 6, true);
    let b = inp.batch;
    let flat = net.forward_flat(
        tensor2(&inp.x, b, &device),
        inp.cond.as_ref().map(|c| tensor2(c, b, &device)),
        net.time_features(&inp.t, &device),
        inp.labels.as_ref().map(|l| class_rows(l, arch.num_classes(), &device).unwrap()),
    );
    assert_eq!(to_vec(flat), burn_forward(&net, &inp, &device), "{what}: forward_flat");
}

fn mlp(dim: usize, cond_dim: usize, num_classes: usize) -> ArchConfig {
    ArchConfig::Mlp(MlpConfig { dim, hidden: 32, depth: 2, time_embed_dim: 16, cond_dim, num_classes })
}

#[allow(clippy::too_many_arguments)]
fn unet(channels: usize, size: usize, mult: &[usize], nrb: usize, attention: bool, heads: usize, cond_channels: usize, num_classes: usize) -> ArchConfig {
    ArchConfig::Unet(UnetConfig {
        channels,
        height: size,
        width: size,
        base_channels: 8,
        channel_mult: mult.to_vec(),
        num_res_blocks: nrb,
        attention,
        attention_heads: heads,
        groups: 4,
        cond_channels,
        num_classes,
    })
}

#[test]
fn mlp_unconditional_matches_cpu() {
    check_imported("mlp 2-d unconditional", mlp(2, 0, 0), 6);
}

#[test]
fn mlp_conditional_matches_cpu() {
    check_imported("mlp 3-d, cond_dim 3, 4 classes", mlp(3, 3, 4), 7);
}

#[test]
fn unet_plain_matches_cpu() {
    check_imported("unet 1x8x8 [1,2], no attention, unconditional", unet(1, 8, &[1, 2], 1, false, 1, 0, 0), 3);
}

#[test]
fn unet_attention_classes_matches_cpu() {
    check_imported("unet 1x8x8 [1,2], attention 2 heads, 3 classes", unet(1, 8, &[1, 2], 1, true, 2, 0, 3), 4);
}

#[test]
fn unet_rgb_cond_matches_cpu() {
    check_imported("unet 3x16x16 [1,2,2] x2 res, attention, cond_channels 3", unet(3, 16, &[1, 2, 2], 2, true, 1, 3, 0), 2);
}

/// The module trees carry exactly the architecture's tensors, by Beeline name and shape.
#[test]
fn module_parameters_are_the_architecture_params() {
    let device = Device::flex();
    for arch in [mlp(2, 0, 0), mlp(3, 3, 4), unet(1, 8, &[1, 2], 1, false, 1, 0, 0), unet(3, 16, &[1, 2, 2], 2, true, 2, 3, 5)] {
        let net = Net::new(&arch, 0.1, &device).unwrap();
        let mut got: Vec<(String, Vec<usize>)> = param_specs(&net).unwrap().into_iter().map(|p| (p.name, p.shape)).collect();
        let mut want: Vec<(String, Vec<usize>)> = arch.params().into_iter().map(|p| (p.name, p.shape)).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(net.num_params(), arch.num_params());
    }
}

/// Import then export gives back the very same bits (the transposes are exact), and a wrong
/// tensor is reported by name.
#[test]
fn import_export_is_exact_and_checked() {
    let device = Device::flex();
    let arch = unet(1, 8, &[1, 2], 1, true, 2, 0, 3);
    let weights = random_weights(&arch, "velocity", 9);
    let net = Net::from_weights(&arch, &weights, "velocity", 0.0, &device).unwrap();
    assert_eq!(net.to_weights("velocity").unwrap(), weights);

    let mut missing = weights.clone();
    missing.tensors.remove("velocity.mid.attn.qkv.weight");
    assert_eq!(Net::from_weights(&arch, &missing, "velocity", 0.0, &device).unwrap_err(), crate::Error::MissingTensor("velocity.mid.attn.qkv.weight".into()));
    let mut wrong = weights.clone();
    wrong.tensors.get_mut("velocity.time.lin1.weight").unwrap().shape = vec![8, 32];
    assert!(matches!(Net::from_weights(&arch, &wrong, "velocity", 0.0, &device), Err(crate::Error::WrongShape { .. })));
    // A module for another architecture does not load these weights.
    let other = unet(1, 8, &[1, 2], 1, false, 1, 0, 3);
    let module = Net::new(&other, 0.0, &device).unwrap();
    assert!(load_weights(module, &arch, &weights, "velocity").is_err());
}

/// (b): burn-initialised networks → export → model-file bytes → load → CPU forward = burn forward.
#[test]
fn export_round_trip_matches_burn() {
    for (backend, device) in cpu_devices() {
        export_round_trip_on(&backend, &device);
    }
}

fn export_round_trip_on(backend: &str, device: &Device) {
    let device = device.clone();
    for (arch, data) in [
        (mlp(2, 0, 3), crate::presets::points2d("gmm3", 4.0)),
        (unet(1, 8, &[1, 2], 1, true, 2, 0, 3), crate::presets::images("tiny", 1, 8)),
    ] {
        let net = Net::new(&arch, 0.1, &device).unwrap();
        let classes = crate::presets::digit_classes(arch.num_classes());
        let config = crate::presets::velocity_model(arch.clone(), data, classes, crate::presets::euler(4));
        let file = export(&[(NetRole::Velocity, &net)], config).unwrap();
        let bytes = file.to_bytes(None).unwrap();
        let loaded = ModelFile::from_bytes(&bytes).unwrap();
        assert_eq!(loaded, file);
        let inp = input(&arch, 5, 11, true);
        let cpu = cpu_forward(&loaded.config.networks[&NetRole::Velocity], &loaded.weights, "velocity", &inp);
        assert_close(&format!("round trip {} [{backend}]", if matches!(arch, ArchConfig::Mlp(_)) { "mlp" } else { "unet" }), &burn_forward(&net, &inp, &device), &cpu);
    }
}

/// CAF's two networks export into one file under their role prefixes, and the acceleration
/// network (which takes v̂0 as `cond`) matches the CPU reference from that file.
#[test]
fn export_caf_pair() {
    let device = Device::flex();
    let v0 = mlp(2, 0, 0);
    let acc = mlp(2, 2, 0);
    let (nv, na) = (Net::new(&v0, 0.0, &device).unwrap(), Net::new(&acc, 0.0, &device).unwrap());
    let mut config = crate::presets::velocity_model(v0.clone(), crate::presets::points2d("gmm3", 4.0), vec![], crate::presets::euler(2));
    config.parameterization = Parameterization::Caf { h: 1.5 };
    config.networks = BTreeMap::from([(NetRole::InitialVelocity, v0.clone()), (NetRole::Acceleration, acc.clone())]);
    config.sampler.solver = Solver::Caf;
    assert!(export(&[(NetRole::InitialVelocity, &nv)], config.clone()).is_err(), "a missing role is an error");
    assert!(export(&[(NetRole::InitialVelocity, &na), (NetRole::Acceleration, &nv)], config.clone()).is_err(), "swapped roles are an error");
    let file = ModelFile::from_bytes(&export(&[(NetRole::InitialVelocity, &nv), (NetRole::Acceleration, &na)], config).unwrap().to_bytes(None).unwrap()).unwrap();
    let inp = input(&acc, 4, 3, false);
    assert_close("caf acceleration from file", &burn_forward(&na, &inp, &device), &cpu_forward(&acc, &file.weights, "acceleration", &inp));
    let inp = input(&v0, 4, 4, false);
    assert_close("caf initial velocity from file", &burn_forward(&nv, &inp, &device), &cpu_forward(&v0, &file.weights, "initial_velocity", &inp));
}

/// Visits every float parameter with its Beeline name and checks its gradient.
struct GradCheck<'a> {
    grads: &'a GradientsParams,
    path: Vec<String>,
    checked: usize,
    bad: Vec<String>,
}

impl ModuleVisitor for GradCheck<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.checked += 1;
        let name = self.path.join(".");
        match self.grads.get::<D>(param.id) {
            None => self.bad.push(format!("{name}: no gradient")),
            Some(g) => {
                let g = to_vec(g);
                if !g.iter().all(|v| v.is_finite()) || g.iter().all(|v| *v == 0.0) {
                    self.bad.push(format!("{name}: gradient zero or non-finite"));
                }
            }
        }
    }
}

/// (c): one MSE + AdamW step with autodiff, dropout active, on every CPU backend of the build:
/// every parameter gets a nonzero gradient (so autodiff runs through every layer) and every
/// weight tensor changes.
#[test]
fn one_training_step_reaches_every_parameter() {
    for (_, device) in cpu_devices() {
        one_training_step_on(&device.autodiff());
    }
}

fn one_training_step_on(device: &Device) {
    let device = device.clone();
    // Groups of 2 channels: with one channel per group a bias before a GroupNorm would be
    // normalised away and get no gradient.
    for arch in [mlp(3, 3, 4), unet(1, 8, &[1, 2], 1, true, 2, 1, 3)] {
        let net = Net::new(&arch, 0.1, &device).unwrap();
        let before = net.to_weights("velocity").unwrap();
        let inp = input(&arch, 6, 21, true);
        let b = inp.batch;
        let target = tensor2(&rand(99, inp.x.len(), 1.0), b, &device);
        let out = net.forward_flat(
            tensor2(&inp.x, b, &device),
            inp.cond.as_ref().map(|c| tensor2(c, b, &device)),
            net.time_features(&inp.t, &device),
            inp.labels.as_ref().map(|l| class_rows(l, arch.num_classes(), &device).unwrap()),
        );
        let loss = (out - target).powi_scalar(2).mean();
        let loss_value = to_vec(loss.clone())[0];
        assert!(loss_value.is_finite() && loss_value > 0.0);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let mut check = GradCheck { grads: &grads, path: Vec::new(), checked: 0, bad: Vec::new() };
        net.visit(&mut check);
        assert_eq!(check.checked, arch.params().len());
        assert!(check.bad.is_empty(), "parameters without gradient: {:?}", check.bad);

        let mut optim = AdamWConfig::new().init();
        let net = optim.step(1e-3, net, grads);
        let after = net.to_weights("velocity").unwrap();
        for (name, t) in &before.tensors {
            assert_ne!(after.tensors[name].data, t.data, "{name} did not change");
        }
        println!("training step ({} params): loss {loss_value:.4}, all {} tensors got gradients and changed", arch.num_params(), before.tensors.len());
    }
}

/// Dropout acts only while training: after `valid()` the autodiff network gives the plain
/// (dropout-free) output; in training mode it differs.
#[test]
fn dropout_only_while_training() {
    let arch = unet(1, 8, &[1, 2], 1, false, 1, 0, 0);
    let weights = random_weights(&arch, "velocity", 1);
    let inp = input(&arch, 2, 8, false);
    let plain = burn_forward(&Net::from_weights(&arch, &weights, "velocity", 0.5, &Device::flex()).unwrap(), &inp, &Device::flex());
    let ad = Device::flex().autodiff();
    let net = Net::from_weights(&arch, &weights, "velocity", 0.5, &ad).unwrap();
    let training = burn_forward(&net, &inp, &ad);
    let valid = burn_forward(&net.valid(), &inp, &Device::flex());
    assert_eq!(valid, plain);
    assert_ne!(training, plain);
    let mlp_arch = mlp(2, 0, 0);
    let w = random_weights(&mlp_arch, "velocity", 2);
    let m = Net::from_weights(&mlp_arch, &w, "velocity", 0.5, &ad).unwrap();
    let inp = input(&mlp_arch, 4, 3, false);
    assert_ne!(burn_forward(&m, &inp, &ad), burn_forward(&m.valid(), &inp, &Device::flex()));
}

#[test]
fn class_rows_map_null_and_reject_others() {
    let device = Device::flex();
    let rows: Tensor<1, Int> = class_rows(&[0, 2, NULL_LABEL], 3, &device).unwrap();
    assert_eq!(rows.into_data().try_into_vec_as::<i64>().unwrap(), vec![0, 2, 3]);
    assert!(class_rows(&[3], 3, &device).is_err());
    assert!(class_rows(&[0], 0, &device).is_err());
}

#[test]
fn time_features_are_the_reference_embedding() {
    let t = [0.0f32, 0.25, 1.0];
    let f = to_vec(time_features(&t, 6, &Device::flex()));
    for (b, &tb) in t.iter().enumerate() {
        let mut want = [0.0f32; 6];
        crate::nn::embed::sinusoidal(crate::time::net_time(tb as f64), &mut want);
        assert_eq!(&f[b * 6..(b + 1) * 6], &want);
    }
}

#[test]
fn device_choice() {
    assert_eq!("auto".parse::<DeviceChoice>().unwrap(), DeviceChoice::Auto);
    assert_eq!("wgpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Wgpu);
    assert_eq!("flex".parse::<DeviceChoice>().unwrap(), DeviceChoice::Flex);
    assert!("cuda".parse::<DeviceChoice>().is_err());
    let flex = select_device(DeviceChoice::Flex).unwrap();
    assert_eq!(flex.backend, Backend::Flex);
    assert!(flex.description.starts_with("flex"));
}

/// `auto` picks wgpu only for a real GPU; on a machine without one it is flex. Either way it
/// reports what it found. (Initialises burn's wgpu runtime if an adapter exists.)
#[test]
fn device_auto_reports() {
    let sel = select_device(DeviceChoice::Auto).unwrap();
    println!("--device auto: {}", sel.description);
    let x = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0], [2]), &sel.device);
    assert_eq!(to_vec(x * 2.0), vec![2.0, 4.0]);
}

/// The same parity and one training step on burn's wgpu backend (any adapter, software ones
/// included: this checks the wgpu code path, not speed). Ignored by default because a cold run
/// compiles and autotunes kernels (minutes on a software adapter); run with
/// `cargo test -p beeline --features train wgpu -- --ignored --nocapture`. Fails if there is
/// no wgpu adapter. GPU kernels sum in yet other orders; the tolerance stays 1e-5 of the scale.
#[test]
#[ignore]
fn wgpu_forward_and_step() {
    let sel = select_device(DeviceChoice::Wgpu).expect("this test needs a wgpu adapter");
    println!("device: {}", sel.description);
    let device = sel.device;
    for (what, arch) in [("wgpu mlp cond+classes", mlp(3, 3, 4)), ("wgpu unet attention+classes+cond", unet(1, 8, &[1, 2], 1, true, 2, 1, 3))] {
        let weights = random_weights(&arch, "velocity", 3);
        let net = Net::from_weights(&arch, &weights, "velocity", 0.0, &device).unwrap();
        let inp = input(&arch, 4, 5, true);
        assert_close(what, &burn_forward(&net, &inp, &device), &cpu_forward(&arch, &weights, "velocity", &inp));
    }
    let ad = device.autodiff();
    let arch = unet(1, 8, &[1, 2], 1, true, 2, 0, 3);
    let net = Net::new(&arch, 0.1, &ad).unwrap();
    let inp = input(&arch, 4, 2, true);
    let b = inp.batch;
    let out = net.forward_flat(tensor2(&inp.x, b, &ad), None, net.time_features(&inp.t, &ad), Some(class_rows(inp.labels.as_ref().unwrap(), 3, &ad).unwrap()));
    let loss = out.powi_scalar(2).mean();
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let mut check = GradCheck { grads: &grads, path: Vec::new(), checked: 0, bad: Vec::new() };
    net.visit(&mut check);
    assert!(check.bad.is_empty(), "{:?}", check.bad);
    let before = net.to_weights("velocity").unwrap();
    let net = AdamWConfig::new().init().step(1e-3, net, grads);
    assert_ne!(net.to_weights("velocity").unwrap(), before);
}

/// A frozen teacher on a training device gives the CPU reference's guided velocities, both on
/// device tensors (`Frozen::guided`, SlimFlow's regulariser) and as a field behind `Guided`
/// (PeRFlow's window solves), at guidance 0, 1 and 2.5, on every CPU backend of the build.
#[test]
fn frozen_teacher_matches_the_cpu_reference() {
    use crate::field::VelocityField;
    use crate::sampling::Guided;
    for (backend, device) in cpu_devices() {
        for (what, arch) in [("mlp", mlp(2, 0, 3)), ("unet", unet(1, 8, &[1, 2], 1, false, 1, 0, 3))] {
            let weights = random_weights(&arch, "velocity", 11);
            let data = match &arch {
                ArchConfig::Mlp(_) => crate::presets::points2d("gmm3", 4.0),
                ArchConfig::Unet(_) => crate::presets::images("tiny", 1, 8),
            };
            let config = crate::presets::velocity_model(arch.clone(), data, vec!["a".into(), "b".into(), "c".into()], crate::presets::euler(2));
            let mut cpu = crate::model::Model::new(&ModelFile::new(config, weights.clone()).unwrap()).unwrap();
            let mut bare = Weights::default();
            for (name, t) in &weights.tensors {
                bare.tensors.insert(name.strip_prefix("velocity.").unwrap().to_string(), t.clone());
            }
            let mut frozen = Frozen::new(&arch, &bare, &device).unwrap();
            let inp = input(&arch, 6, 21, true);
            let labels = inp.labels.clone().unwrap();
            for scale in [0.0f32, 1.0, 2.5] {
                let t = 0.3;
                let mut want = vec![0.0; inp.x.len()];
                Guided::new(&mut cpu, labels.clone(), scale).unwrap().eval(NetRole::Velocity, &inp.x, None, t, &mut want).unwrap();
                let mut got = vec![0.0; inp.x.len()];
                Guided::new(&mut frozen, labels.clone(), scale).unwrap().eval(NetRole::Velocity, &inp.x, None, t, &mut got).unwrap();
                assert_close(&format!("frozen {what} as a field, guidance {scale} [{backend}]"), &got, &want);
                let on_device = frozen.guided(tensor2(&inp.x, inp.batch, &device), None, t as f32, &labels, scale).unwrap();
                assert_close(&format!("frozen {what} on device, guidance {scale} [{backend}]"), &to_vec(on_device), &want);
            }
            assert!(frozen.guided(tensor2(&inp.x, inp.batch, &device), None, 0.3, &labels, f32::NAN).is_err(), "a NaN guidance is refused");
            assert!(frozen.forward(tensor2(&inp.x, inp.batch, &device), None, &[0.3], &labels).is_err(), "one time for six samples is refused");
        }
    }
}
