//! `beeline pairs`: runs a teacher's ODE to make reflow couplings (see `beeline::pairs`).

use crate::sampler_args::SamplerArgs;
use crate::source::load_model_bytes;
use anyhow::{Result, bail};
use beeline::backend::Backend;
use beeline::data::images::{ImageDataset, ImageSet, Split, default_data_dir};
use beeline::data::toys::Toy;
use beeline::pairs::{self, PairData, PairDirection, PairsEvent, PairsSpec};
use beeline::pipeline::{GenerateRequest, Generated, Progress};
use std::path::PathBuf;

/// Make (x0, x1, label) couplings with a teacher model, for `beeline reflow` and `beeline
/// distill`.
///
/// Pairs are written in shards to `--out`; a killed run is continued by running the same
/// command again (finished shards are kept). The pairs depend only on the flags, not on
/// `--batch` or the backend (to rounding).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline pairs --model runs/toy/model.safetensors --num-pairs 20000 --out runs/toy-pairs
  beeline pairs --model teacher.safetensors --steps 50 --solver euler --num-pairs 20000 --out pairs/
  beeline pairs --model teacher.safetensors --direction data-to-noise --num-pairs 10000 --out inv/")]
pub struct Args {
    /// The teacher's model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Output folder (pairs.json and shard-NNNNN.safetensors).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of pairs.
    #[arg(long, default_value_t = 10_000)]
    pub num_pairs: usize,
    /// `noise-to-data` (sample the teacher from seeded noise) or `data-to-noise` (invert real
    /// data with the teacher: Simple ReFlow's forward pairs).
    #[arg(long, default_value = "noise-to-data")]
    pub direction: String,
    /// The teacher's sampler.
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// Seed of the noise (noise-to-data) or of the order of the data (data-to-noise).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Pairs per shard file.
    #[arg(long, default_value_t = 2048)]
    pub shard_size: usize,
    /// Largest batch integrated at once.
    #[arg(long, default_value_t = 256, value_parser = crate::batch_size)]
    pub batch: usize,
    /// Where the teacher runs: `auto`, `gpu` or `cpu` (as for `generate`).
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    pub backend: String,
    /// Where the image data sets are (data-to-noise; default `$BEELINE_DATA_DIR`, else `data/`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print a JSON summary on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let want: Backend = a.backend.parse()?;
    let direction = PairDirection::parse(&a.direction)?;
    let (bytes, name) = crate::bundled::model_bytes(&a.model)?;
    let (mut source, choice) = load_model_bytes(&bytes, &name, want)?;
    let config = source.config().expect("a model file").clone();
    let mut sampler = config.sampler.clone();
    a.sampler.apply_defaults(&mut sampler)?;
    let spec = PairsSpec {
        version: pairs::PAIRS_VERSION,
        teacher: a.model.display().to_string(),
        teacher_digest: pairs::digest(&bytes),
        data: config.data.name.clone(),
        shape: config.data.shape.clone(),
        num_classes: config.classes.len(),
        direction,
        sampler,
        seed: a.seed,
        num_pairs: a.num_pairs,
        shard_size: a.shard_size,
    };
    drop(bytes);
    let images;
    let data = match direction {
        PairDirection::NoiseToData => None,
        PairDirection::DataToNoise => {
            if let Ok(t) = Toy::parse(&spec.data) {
                Some(PairData::Toy(t))
            } else if let Ok(d) = ImageDataset::parse(&spec.data) {
                images = ImageSet::load(d, Split::Train, &a.data_dir.clone().unwrap_or_else(default_data_dir))?;
                Some(PairData::Images(&images))
            } else {
                bail!(beeline::Error::InvalidInput(format!(
                    "the teacher was trained on {:?}, which is not a data set Beeline can load for data-to-noise pairs",
                    spec.data
                )));
            }
        }
    };

    let bar = crate::progress::bar(a.json, spec.num_pairs as u64, "pairs");
    let mut transport = |req: &GenerateRequest, x: Vec<f32>, p: &mut dyn FnMut(Progress)| -> beeline::Result<Generated> { pollster::block_on(source.transport_from(req, x, p)) };
    let shard_start = |i: usize| (i * spec.shard_size) as u64;
    let mut on_event = |e: PairsEvent| match e {
        PairsEvent::Kept { index, pairs } => bar.set_position(shard_start(index) + pairs as u64),
        PairsEvent::Progress { index, progress } => {
            bar.set_position(shard_start(index) + progress.samples_done as u64);
            bar.set_message(format!("shard {index}, step {}/{}", progress.step, progress.steps));
        }
        PairsEvent::Written { index, pairs, .. } => bar.set_position(shard_start(index) + pairs as u64),
    };
    let summary = pairs::make_pairs(&a.out, &spec, data, a.batch, &mut transport, &mut on_event)?;
    bar.finish_and_clear();
    let per_s = summary.made as f64 / summary.seconds.max(1e-9);
    if a.json {
        let j = serde_json::json!({
            "out": a.out, "num_pairs": spec.num_pairs, "made": summary.made, "kept": summary.kept,
            "seconds": summary.seconds, "pairs_per_s": per_s, "nfe": summary.nfe,
            "backend": choice.kind(), "backend_reason": choice.reason,
        });
        crate::outln!("{j}");
    } else {
        crate::outln!(
            "{} pairs in {} ({} made, {} kept); {:?} {} steps = {} NFE per pair; {:.1} pairs/s; backend {}",
            spec.num_pairs,
            a.out.display(),
            summary.made,
            summary.kept,
            spec.sampler.solver,
            spec.sampler.steps,
            summary.nfe,
            per_s,
            choice.reason
        );
    }
    Ok(())
}
