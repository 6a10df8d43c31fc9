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
use beeline::eval::{direction_straightness, mmd2, mode_stats, mse_psnr, sliced_w1, sliced_w2, straightness, MMD_BANDWIDTHS};
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
/// a mode, the share and width per mode, the sliced W1 and W2 and the multi-bandwidth MMD² to as
/// many true samples. With `--classifier`
/// (class-conditional image models): the share of samples classified as the class asked for
/// (overall and per class),
/// and the Fréchet distance between the classifier's last-hidden-layer features of the samples
/// and of the data set's 10 000 test images (FID's formula with an MNIST feature map). With
/// `--pairs` (a folder of `beeline pairs`, e.g. the couplings the model was trained on):
/// coupling preservation, the MSE and PSNR between the model's samples from the pairs' noise
/// (with their labels) and the pairs' data.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline eval --model runs/toy-1rf/model.safetensors --steps 1
  beeline eval --model runs/toy-2rf/model.safetensors --steps 1 --json
  beeline eval --model rf-toy-2rf --steps 1 --seeds 0,1,2 --out eval.json   # mean ± spread
  beeline eval --model mnist-2rf --steps 2 --classifier models/mnist-classifier.safetensors --num-samples 10000")]
pub struct Args {
    /// Model file.
    #[arg(long)]
    pub model: PathBuf,
    /// The evaluated sampler (its guidance applies to both solves).
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Euler steps of the reference solve (and of the straightness integral); 0 skips it (only
    /// the samples' quality is measured).
    #[arg(long, default_value_t = 100)]
    pub reference_steps: usize,
    /// Samples (default 20 000 for 2D data, 256 for images).
    #[arg(long)]
    pub num_samples: Option<usize>,
    /// Noise seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Several noise seeds (e.g. `0,1,2`): the whole measurement runs once per seed; the JSON's
    /// numbers are the means, `spread` gives mean, standard deviation, min and max of each and
    /// `runs` the per-seed results. Overrides --seed.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub seeds: Option<Vec<u64>>,
    /// Largest batch evaluated at once.
    #[arg(long, default_value_t = 256, value_parser = crate::batch_size)]
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
    /// Also write the JSON to this file (`-`: standard output).
    #[arg(long, value_name = "FILE.json")]
    pub out: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    let want: Backend = a.backend.parse()?;
    let (mut source, choice) = load_model(&a.model, want)?;
    let config = source.config().expect("a model file").clone();
    let is_points = config.data.shape.len() == 1;
    let n = a.num_samples.unwrap_or(if is_points { 20_000 } else { 256 });
    let judge = a.classifier.as_deref().map(|path| ImageJudge::new(path, &config, n, a.data_dir.clone())).transpose()?;
    let seeds = a.seeds.clone().unwrap_or_else(|| vec![a.seed]);
    let mut runs = Vec::with_capacity(seeds.len());
    for &seed in &seeds {
        let mut out = measure(&a, &mut source, &config, n, seed, judge.as_ref())?;
        out["backend"] = json!(choice.kind());
        runs.push(out);
    }
    let out = if runs.len() == 1 { runs.pop().expect("one run") } else { with_spread(runs) };
    if let Some(path) = &a.out {
        crate::output::write_file(path, format!("{out:#}\n").as_bytes())?;
    }
    if a.json {
        crate::outln!("{out}");
        return Ok(());
    }
    print_text(&a, &out, &choice.reason);
    Ok(())
}

/// What judges class-conditional image samples: the classifier, the Gaussian fit of its
/// features on the data set's test images, and the floor (as many real training images as
/// samples, measured the same way; the distance shrinks with the sample count, so only equal
/// counts compare). Built once for every seed.
struct ImageJudge {
    path: PathBuf,
    classifier: Classifier,
    real: GaussianFit,
    test_images: usize,
    floor: f64,
}

impl ImageJudge {
    fn new(path: &std::path::Path, config: &beeline::config::ModelConfig, n: usize, data_dir: Option<PathBuf>) -> Result<ImageJudge> {
        let c = Classifier::read(path)?;
        if c.meta.shape != config.data.shape {
            anyhow::bail!(beeline::Error::InvalidInput(format!("the classifier takes {:?} inputs, the model makes {:?}", c.meta.shape, config.data.shape)));
        }
        if config.classes.is_empty() {
            anyhow::bail!(beeline::Error::InvalidInput("--classifier needs a class-conditional model (its accuracy is measured against the labels asked for)".into()));
        }
        let d = ImageDataset::parse(&c.meta.data)?;
        let dir = data_dir.unwrap_or_else(default_data_dir);
        // The test set's features and the floor depend only on the classifier, the data and
        // `n`: computed once per process (the lab runs many evaluations in one).
        let key = (beeline::modelfile::read_bounded(path)?, dir.clone(), n);
        static REFERENCES: std::sync::Mutex<Vec<((Vec<u8>, PathBuf, usize), (GaussianFit, usize, f64))>> = std::sync::Mutex::new(Vec::new());
        if let Some((_, (real, test_images, floor))) = REFERENCES.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(k, _)| *k == key) {
            return Ok(ImageJudge { path: path.to_path_buf(), classifier: c, real: real.clone(), test_images: *test_images, floor: *floor });
        }
        let test = ImageSet::load(d, Split::Test, &dir)?;
        let real = GaussianFit::fit(&c.features(&test.first_f32(test.n))?, c.feature_width())?;
        let train = ImageSet::load(d, Split::Train, &dir)?.first_f32(n);
        let mut judge = ImageJudge { path: path.to_path_buf(), classifier: c, real, test_images: test.n, floor: 0.0 };
        judge.floor = judge.fd(&train)?;
        REFERENCES.lock().unwrap_or_else(|e| e.into_inner()).push((key, (judge.real.clone(), judge.test_images, judge.floor)));
        Ok(judge)
    }

    /// Fréchet distance between the classifier features of `images` and of the test set.
    fn fd(&self, images: &[f32]) -> Result<f64> {
        let fit = GaussianFit::fit(&self.classifier.features(images)?, self.classifier.feature_width())?;
        Ok(frechet_distance(&fit, &self.real)?)
    }
}

/// One seed's measurements, as the JSON object `beeline eval --json` prints.
fn measure(a: &Args, source: &mut beeline::generator::Generator, config: &beeline::config::ModelConfig, n: usize, seed: u64, judge: Option<&ImageJudge>) -> Result<serde_json::Value> {
    let mut spec = SamplerSpec::from_defaults(&config.sampler, &config.parameterization);
    a.sampler.apply(&mut spec)?;
    let guidance = a.sampler.guidance.unwrap_or(config.sampler.guidance);
    let labels = if config.classes.is_empty() { Labels::Unconditional } else { Labels::Cycle };
    let request = |sampler: SamplerSpec, record: bool| GenerateRequest {
        seed,
        num_samples: n,
        batch: a.batch,
        labels: labels.clone(),
        guidance,
        sampler,
        record_trajectories: record,
    };
    let few = pollster::block_on(source.generate(&request(spec.clone(), false), &mut |_| {}))?;
    let mut out = json!({
        "model": a.model, "num_samples": n, "seed": seed,
        "solver": spec.solver, "steps": spec.steps, "nfe": few.nfe, "guidance": guidance,
        "reference_steps": a.reference_steps,
    });
    // The fine solve (trajectories recorded): straightness and the few-step error against it.
    let reference = if a.reference_steps == 0 {
        None
    } else {
        let reference_solver = if matches!(config.parameterization, Parameterization::Caf { .. }) { Solver::Caf } else { Solver::Euler };
        let reference_spec = SamplerSpec::new(reference_solver, a.reference_steps);
        let reference: Generated = pollster::block_on(source.generate(&request(reference_spec.clone(), true), &mut |_| {}))?;
        let times = reference_spec.plan()?.times().to_vec();
        let numel = config.data.numel();
        out["reference_solver"] = json!(reference_spec.solver);
        out["straightness"] = json!(straightness(&reference.trajectories, &times, numel)?);
        out["nfss"] = json!(direction_straightness(&reference.trajectories, &times, numel)?);
        out["mse_to_reference"] = json!(few.samples.iter().zip(&reference.samples).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / few.samples.len() as f64);
        Some(reference)
    };
    let numel = config.data.numel();
    if let Some(dir) = &a.pairs {
        let set = PairSet::load(dir)?;
        if set.spec.shape != config.data.shape {
            anyhow::bail!(beeline::Error::InvalidInput(format!("the pairs' samples have shape {:?}, the model's {:?}", set.spec.shape, config.data.shape)));
        }
        let m = n.min(set.pairs.len());
        let p = &set.pairs;
        let pair_labels = if config.classes.is_empty() { Labels::Unconditional } else { Labels::PerSample(p.labels[..m].to_vec()) };
        let req = GenerateRequest { labels: pair_labels, ..request(spec.clone(), false) };
        let got = pollster::block_on(source.transport_from(&req, p.x0[..m * numel].to_vec(), &mut |_| {}))?;
        let (mse, psnr) = mse_psnr(&got.samples, &p.x1[..m * numel], config.data.range)?;
        out["coupling"] = json!({ "pairs": dir, "num_pairs": m, "mse": mse, "psnr": psnr });
    }
    let mixture = Toy::parse(&config.data.name).ok().and_then(|t| t.mixture());
    if let Some(g) = mixture.filter(|g| g.dim() == numel) {
        let truth: Vec<f32> = g.sample(seed ^ 0x7275_7468, n).into_iter().map(|v| v as f32).collect();
        let sets = std::iter::once(("samples", &few.samples)).chain(reference.as_ref().map(|r| ("reference", &r.samples)));
        for (name, x) in sets {
            let m = mode_stats(x, &g)?;
            out[name] = json!({
                "on_mode": m.on_mode, "per_mode": m.per_mode, "per_mode_width_sigma": m.per_mode_width, "mean_distance_sigma": m.mean_distance,
                "sliced_w1": sliced_w1(x, &truth, numel, 64, 1)?,
                "sliced_w2": sliced_w2(x, &truth, numel, 64, 1)?,
                // MMD on at most 2000 of each (quadratic cost).
                "mmd2": mmd2(&x[..x.len().min(2000 * numel)], &truth[..truth.len().min(2000 * numel)], numel, &MMD_BANDWIDTHS)?,
            });
        }
    }
    if let Some(j) = judge {
        let c = &j.classifier;
        out["classifier"] = json!({
            "file": j.path, "test_accuracy": c.meta.test_accuracy,
            "samples": c.accuracy(&few.samples, &few.labels)?,
            "per_class": c.per_class_accuracy(&few.samples, &few.labels)?,
            "classes": c.meta.classes,
        });
        out["fd"] = json!({ "samples": j.fd(&few.samples)?, "train_images": j.floor, "test_images": j.test_images });
        if let Some(r) = &reference {
            out["classifier"]["reference"] = json!(c.accuracy(&r.samples, &r.labels)?);
            out["fd"]["reference"] = json!(j.fd(&r.samples)?);
        }
    }
    Ok(out)
}

/// Several seeds' results as one: every number (at any depth) replaced by its mean over the
/// runs, plus `seeds`, `spread` (for each number's dotted path: mean, std (n − 1), min, max)
/// and `runs`.
fn with_spread(runs: Vec<serde_json::Value>) -> serde_json::Value {
    use serde_json::Value;
    fn walk(path: &str, first: &Value, runs: &[&Value], spread: &mut serde_json::Map<String, Value>) -> Value {
        match first {
            Value::Number(_) if path != "seed" => {
                let v: Vec<f64> = runs.iter().filter_map(|r| r.as_f64()).collect();
                if v.len() != runs.len() {
                    return first.clone();
                }
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1).max(1) as f64;
                let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(*x), h.max(*x)));
                if hi == lo {
                    // The same in every run (counts, settings): kept as it is.
                    return first.clone();
                }
                spread.insert(path.to_string(), json!({ "mean": mean, "std": var.sqrt(), "min": lo, "max": hi }));
                json!(mean)
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let sub: Vec<&Value> = runs.iter().map(|r| r.get(k).unwrap_or(&Value::Null)).collect();
                        let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                        (k.clone(), walk(&p, v, &sub, spread))
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let sub: Vec<&Value> = runs.iter().map(|r| r.get(i).unwrap_or(&Value::Null)).collect();
                        walk(&format!("{path}.{i}"), v, &sub, spread)
                    })
                    .collect(),
            ),
            _ => first.clone(),
        }
    }
    let refs: Vec<&Value> = runs.iter().collect();
    let mut spread = serde_json::Map::new();
    let mut out = walk("", &runs[0], &refs, &mut spread);
    out["seeds"] = runs.iter().map(|r| r["seed"].clone()).collect();
    out["spread"] = Value::Object(spread);
    out["runs"] = Value::Array(runs);
    out
}

/// The text report of `out` (one run or the means of several).
fn print_text(a: &Args, out: &serde_json::Value, reason: &str) {
    let num = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    // ± the standard deviation over seeds, when there were several.
    let pm = |path: &str| out["spread"].get(path).map(|s| format!(" ± {:.2e}", num(&s["std"]))).unwrap_or_default();
    let steps = &out["steps"];
    let seeds = out.get("seeds").map(|s| format!("seeds {s}")).unwrap_or_else(|| format!("seed {}", out["seed"]));
    crate::outln!("{}: {} {steps} steps ({} NFE), {} samples, {seeds}, backend {reason}", a.model.display(), out["solver"].as_str().unwrap_or("?"), out["nfe"], out["num_samples"]);
    let reference_name = format!("{} {} steps", out["reference_solver"].as_str().unwrap_or("?"), out["reference_steps"]);
    if out.get("straightness").is_some() {
        crate::outln!("  straightness ({reference_name})        {:.5}{} (S; directions only, CAF's NFSS: {:.5})", num(&out["straightness"]), pm("straightness"), num(&out["nfss"]));
        crate::outln!("  mean sq. distance to that solve      {:.5}{}", num(&out["mse_to_reference"]), pm("mse_to_reference"));
    }
    if let Some(c) = out.get("coupling") {
        crate::outln!("  coupling preservation                MSE {:.5}, PSNR {:.2} dB on {} pairs", num(&c["mse"]), num(&c["psnr"]), c["num_pairs"]);
    }
    // ", X at the reference solve" when there was one (--reference-steps 0 skips it).
    let at_reference = |v: &serde_json::Value, scale: f64, digits: usize, unit: &str| v.as_f64().map(|x| format!(", {:.digits$}{unit} at {reference_name}", x * scale)).unwrap_or_default();
    if let Some(f) = out.get("fd") {
        crate::outln!(
            "  Fréchet distance to the test set     {:.2}{} at {steps} steps{}, {:.2} for as many training images (classifier features)",
            num(&f["samples"]),
            pm("fd.samples"),
            at_reference(&f["reference"], 1.0, 2, ""),
            num(&f["train_images"])
        );
    }
    if let Some(c) = out.get("classifier") {
        crate::outln!(
            "  classifier accuracy (asked class)    {:.1} % at {steps} steps{} (classifier's test accuracy {:.1} %)",
            num(&c["samples"]) * 100.0,
            at_reference(&c["reference"], 100.0, 1, " %"),
            num(&c["test_accuracy"]) * 100.0
        );
        let per: Vec<String> = c["per_class"].as_array().into_iter().flatten().zip(c["classes"].as_array().into_iter().flatten()).map(|(p, k)| format!("{}: {}", k.as_str().unwrap_or("?"), p.as_f64().map(|v| format!("{:.0} %", v * 100.0)).unwrap_or("–".into()))).collect();
        crate::outln!("  per class at {steps} steps              {}", per.join(", "));
    }
    for name in ["samples", "reference"] {
        if let Some(m) = out.get(name) {
            let label = if name == "samples" { format!("{steps} steps") } else { reference_name.clone() };
            crate::outln!(
                "  {label:<14} on a mode {:.1} %, per mode {}, sliced W1 {:.4}{}, sliced W2 {:.4}, MMD² {:.5}",
                num(&m["on_mode"]) * 100.0,
                m["per_mode"].as_array().map(|v| v.iter().map(|p| format!("{:.2}", num(p))).collect::<Vec<_>>().join("/")).unwrap_or_default(),
                num(&m["sliced_w1"]),
                pm(&format!("{name}.sliced_w1")),
                num(&m["sliced_w2"]),
                num(&m["mmd2"]),
            );
        }
    }
}
