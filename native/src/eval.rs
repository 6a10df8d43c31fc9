//! `beeline eval`: how straight a model's flow is and how good its few-step samples are.

use crate::sampler_args::SamplerArgs;
use crate::source::load_model;
use anyhow::Result;
use beeline::backend::Backend;
use beeline::config::{Parameterization, Solver};
use beeline::data::toys::Toy;
use beeline::data::images::{ImageDataset, ImageSet, Split, default_data_dir};
use beeline::eval::classifier::Classifier;
use beeline::eval::frechet::{GaussianFit, frechet_distance};
use beeline::eval::{direction_straightness, mmd2, mode_stats, mse_psnr, sliced_w2, straightness, MMD_BANDWIDTHS};
use beeline::pairs::PairSet;
use beeline::pipeline::{GenerateRequest, Generated, Labels};
use beeline::sampling::SamplerSpec;
use serde_json::json;
use std::path::PathBuf;

/// Measure a model: straightness of its flow, and its few-step samples against its own fine
/// ODE solve and (2D toys) against the true distribution.
///
/// From the same seeded noise, samples with the sampler asked for (default: the model's) and
/// with a fine solve (`--reference-steps` of Euler; of the CAF sampler for CAF models;
/// trajectories recorded), then reports:
/// straightness `S = ∫ E‖(X1 − X0) − Ẋt‖² dt` per scalar (rectified-flow paper; 0 = straight)
/// and CAF's normalised NFSS (the same with unit vectors: directions only),
/// the few-step samples' mean squared distance per scalar to the fine solve's, and for the 2D
/// toys whose density is a known Gaussian mixture (rf-toy, 8gaussians) the share of samples on
/// a mode, the share per mode, and the sliced W2 to as many true samples. With `--classifier`
/// (class-conditional image models): the share of samples classified as the class asked for,
/// and the Fréchet distance between the classifier's last-hidden-layer features of the samples
/// and of the data set's 10 000 test images (FID's formula with an MNIST feature map). With
/// `--pairs` (a folder of `beeline pairs`, e.g. the couplings the model was trained on):
/// coupling preservation, the MSE and PSNR between the model's samples from the pairs' noise
/// (with their labels) and the pairs' data.
///
/// Examples:
///   beeline eval --model runs/toy-1rf/model.safetensors --steps 1
///   beeline eval --model runs/toy-2rf/model.safetensors --steps 1 --json
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model file.
    #[arg(long)]
    pub model: PathBuf,
    /// The evaluated sampler (its guidance applies to both solves).
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Euler steps of the reference solve (and of the straightness integral).
    #[arg(long, default_value_t = 100)]
    pub reference_steps: usize,
    /// Samples (default 4000 for 2D data, 256 for images).
    #[arg(long)]
    pub num_samples: Option<usize>,
    /// Noise seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Largest batch evaluated at once.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Where the networks run: auto, gpu or cpu.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    pub backend: String,
    /// A pairs folder: measure how well the model keeps these couplings (MSE, PSNR of its
    /// samples from the pairs' x0 against their x1; the first --num-samples pairs).
    #[arg(long, value_name = "DIR")]
    pub pairs: Option<PathBuf>,
    /// A classifier file (`beeline train-classifier`): report the share of class-conditional
    /// samples it classifies as the class asked for.
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// Where the image data sets are (the test images of the Fréchet distance; default
    /// `$BEELINE_DATA_DIR`, else `data/`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let want: Backend = a.backend.parse()?;
    let (mut source, choice) = load_model(&a.model, want)?;
    let config = source.config().expect("a model file").clone();
    let mut spec = SamplerSpec::from_defaults(&config.sampler, &config.parameterization);
    a.sampler.apply(&mut spec)?;
    let guidance = a.sampler.guidance.unwrap_or(config.sampler.guidance);
    let is_points = config.data.shape.len() == 1;
    let n = a.num_samples.unwrap_or(if is_points { 4000 } else { 256 });
    let labels = if config.classes.is_empty() { Labels::Unconditional } else { Labels::Cycle };
    let request = |sampler: SamplerSpec, record: bool| GenerateRequest {
        seed: a.seed,
        num_samples: n,
        batch: a.batch,
        labels: labels.clone(),
        guidance,
        sampler,
        record_trajectories: record,
    };
    let reference_solver = if matches!(config.parameterization, Parameterization::Caf { .. }) { Solver::Caf } else { Solver::Euler };
    let reference_spec = SamplerSpec::new(reference_solver, a.reference_steps.max(1));
    let reference: Generated = source.generate(&request(reference_spec.clone(), true), &mut |_| {})?;
    let times = reference_spec.plan()?.times().to_vec();
    let numel = config.data.numel();
    let s = straightness(&reference.trajectories, &times, numel)?;
    let nfss = direction_straightness(&reference.trajectories, &times, numel)?;
    let few = source.generate(&request(spec.clone(), false), &mut |_| {})?;
    let gap = few.samples.iter().zip(&reference.samples).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / few.samples.len() as f64;

    let mut out = json!({
        "model": a.model, "backend": choice.kind(), "num_samples": n, "seed": a.seed,
        "solver": spec.solver, "steps": spec.steps, "nfe": few.nfe, "guidance": guidance,
        "reference_steps": reference_spec.steps,
        "straightness": s,
        "nfss": nfss,
        "mse_to_reference": gap,
    });
    if let Some(dir) = &a.pairs {
        let set = PairSet::load(dir)?;
        if set.spec.shape != config.data.shape {
            anyhow::bail!(beeline::Error::InvalidInput(format!("the pairs' samples have shape {:?}, the model's {:?}", set.spec.shape, config.data.shape)));
        }
        let m = n.min(set.pairs.len());
        let p = &set.pairs;
        let pair_labels = if config.classes.is_empty() { Labels::Unconditional } else { Labels::PerSample(p.labels[..m].to_vec()) };
        let req = GenerateRequest { labels: pair_labels, ..request(spec.clone(), false) };
        let got = source.transport_from(&req, p.x0[..m * numel].to_vec(), &mut |_| {})?;
        let (mse, psnr) = mse_psnr(&got.samples, &p.x1[..m * numel], config.data.range)?;
        out["coupling"] = json!({ "pairs": dir, "num_pairs": m, "mse": mse, "psnr": psnr });
    }
    let mixture = Toy::parse(&config.data.name).ok().and_then(|t| t.mixture());
    if let Some(g) = mixture.filter(|g| g.dim() == numel) {
        let truth: Vec<f32> = g.sample(a.seed ^ 0x7275_7468, n).into_iter().map(|v| v as f32).collect();
        for (name, x) in [("samples", &few.samples), ("reference", &reference.samples)] {
            let m = mode_stats(x, &g)?;
            out[name] = json!({
                "on_mode": m.on_mode, "per_mode": m.per_mode, "per_mode_width_sigma": m.per_mode_width, "mean_distance_sigma": m.mean_distance,
                "sliced_w2": sliced_w2(x, &truth, numel, 64, 1)?,
                // MMD on at most 2000 of each (quadratic cost).
                "mmd2": mmd2(&x[..x.len().min(2000 * numel)], &truth[..truth.len().min(2000 * numel)], numel, &MMD_BANDWIDTHS)?,
            });
        }
    }
    if let Some(path) = &a.classifier {
        let c = Classifier::read(path)?;
        if c.meta.shape != config.data.shape {
            anyhow::bail!(beeline::Error::InvalidInput(format!("the classifier takes {:?} inputs, the model makes {:?}", c.meta.shape, config.data.shape)));
        }
        if config.classes.is_empty() {
            anyhow::bail!(beeline::Error::InvalidInput("--classifier needs a class-conditional model (its accuracy is measured against the labels asked for)".into()));
        }
        out["classifier"] = json!({
            "file": path, "test_accuracy": c.meta.test_accuracy,
            "samples": c.accuracy(&few.samples, &few.labels)?,
            "reference": c.accuracy(&reference.samples, &reference.labels)?,
        });
        // Fréchet distance in the classifier's feature space to the data set's test images.
        let d = ImageDataset::parse(&c.meta.data)?;
        let dir = a.data_dir.clone().unwrap_or_else(default_data_dir);
        let test = ImageSet::load(d, Split::Test, &dir)?;
        let width = c.feature_width();
        let real = GaussianFit::fit(&c.features(&test.first_f32(test.n))?, width)?;
        let fd = |s: &[f32]| -> Result<f64> { Ok(frechet_distance(&GaussianFit::fit(&c.features(s)?, width)?, &real)?) };
        // The floor: as many real training images as samples (the distance shrinks with the
        // sample count, so only equal counts compare).
        let t = ImageSet::load(d, Split::Train, &dir)?.first_f32(n);
        out["fd"] = json!({ "samples": fd(&few.samples)?, "reference": fd(&reference.samples)?, "train_images": fd(&t)?, "test_images": test.n });
    }
    if a.json {
        println!("{out}");
        return Ok(());
    }
    println!("{}: {:?} {} steps ({} NFE), {} samples, seed {}, backend {}", a.model.display(), spec.solver, spec.steps, few.nfe, n, a.seed, choice.reason);
    println!("  straightness ({:?} {} steps)        {s:.5} (S; directions only, CAF's NFSS: {nfss:.5})", reference_spec.solver, reference_spec.steps);
    if let Some(c) = out.get("coupling") {
        println!(
            "  coupling preservation                MSE {:.5}, PSNR {:.2} dB on {} pairs",
            c["mse"].as_f64().unwrap_or(f64::NAN),
            c["psnr"].as_f64().unwrap_or(f64::NAN),
            c["num_pairs"]
        );
    }
    println!("  mean sq. distance to that solve      {gap:.5}");
    let reference_name = format!("{:?} {} steps", reference_spec.solver, reference_spec.steps);
    if let Some(f) = out.get("fd") {
        println!(
            "  Fréchet distance to the test set     {:.2} at {} steps, {:.2} at {reference_name}, {:.2} for as many training images (classifier features)",
            f["samples"].as_f64().unwrap_or(f64::NAN),
            spec.steps,
            f["reference"].as_f64().unwrap_or(f64::NAN),
            f["train_images"].as_f64().unwrap_or(f64::NAN)
        );
    }
    if let Some(c) = out.get("classifier") {
        println!(
            "  classifier accuracy (asked class)    {:.1} % at {} steps, {:.1} % at {reference_name} (classifier's test accuracy {:.1} %)",
            c["samples"].as_f64().unwrap_or(f64::NAN) * 100.0,
            spec.steps,
            c["reference"].as_f64().unwrap_or(f64::NAN) * 100.0,
            c["test_accuracy"].as_f64().unwrap_or(f64::NAN) * 100.0
        );
    }
    for name in ["samples", "reference"] {
        if let Some(m) = out.get(name) {
            let label = if name == "samples" { format!("{} steps", spec.steps) } else { reference_name.clone() };
            println!(
                "  {label:<14} on a mode {:.1} %, per mode {}, sliced W2 {:.4}, MMD² {:.5}",
                m["on_mode"].as_f64().unwrap_or(f64::NAN) * 100.0,
                m["per_mode"].as_array().map(|v| v.iter().map(|p| format!("{:.2}", p.as_f64().unwrap_or(f64::NAN))).collect::<Vec<_>>().join("/")).unwrap_or_default(),
                m["sliced_w2"].as_f64().unwrap_or(f64::NAN),
                m["mmd2"].as_f64().unwrap_or(f64::NAN),
            );
        }
    }
    Ok(())
}
