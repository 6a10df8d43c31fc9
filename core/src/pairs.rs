//! Reflow couplings ("pairs"): `(x0, x1, label)` triples made by running a teacher's ODE, the
//! training data of reflow (2-rectified flow) and one-step distillation.
//!
//! Two directions:
//!
//! * [`PairDirection::NoiseToData`] (the rectified-flow paper): `x0` is seeded Gaussian noise,
//!   pair `k` from noise stream `k` of the seed, and `x1` the teacher's sample from it; a
//!   class-conditional teacher gets label `k mod classes`.
//! * [`PairDirection::DataToNoise`] (Simple ReFlow's forward pairs): `x1` is a real training
//!   sample (images in a seeded order without repeats; 2D toys drawn from the seed) with its
//!   label, and `x0` the teacher's inversion of it.
//!
//! ## On disk
//!
//! A folder with `pairs.json` (the [`PairsSpec`]: teacher and its digest, solver, steps,
//! guidance, seed, count, shard size) and shards `shard-00000.safetensors`, … each holding
//! `x0` and `x1` (F32, `[n, numel]`) and `labels` (U32, `[n]`; [`NULL_LABEL`] for
//! unconditional), for pairs `i·shard_size ..` of the set. Every file is written atomically,
//! so a killed run leaves only whole shards: running the same command again skips the shards
//! already there (a changed request is refused, except `num_pairs`, which may grow).
//! The content of a shard depends only on the spec and its index, not on batch size, backend
//! (to rounding) or on which run wrote it.

use crate::config::SamplerDefaults;
use crate::data::images::ImageSet;
use crate::data::toys::Toy;
use crate::error::{Error, Result};
use crate::field::NULL_LABEL;
use crate::files::write_atomic;
use crate::noise::{gaussian_batch, mix, permutation, Stream};
use crate::pipeline::{GenerateRequest, Generated, Labels, Progress};
use crate::sampling::{Direction, SamplerSpec};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Name of the manifest in a pairs folder.
pub const MANIFEST: &str = "pairs.json";
/// Version of the pairs format.
pub const PAIRS_VERSION: u32 = 1;
/// Largest shard file read back (bytes).
const MAX_SHARD_BYTES: u64 = 1 << 31;

/// Which way the teacher's ODE runs to make a pair.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PairDirection {
    /// Seeded noise `x0` → the teacher's sample `x1`.
    NoiseToData,
    /// A data sample `x1` → the teacher's inversion `x0`.
    DataToNoise,
}

impl PairDirection {
    /// Parses `noise-to-data` (also `generate`, `forward`…) or `data-to-noise` (also `invert`).
    pub fn parse(s: &str) -> Result<PairDirection> {
        match s {
            "noise-to-data" | "generate" => Ok(PairDirection::NoiseToData),
            "data-to-noise" | "invert" | "inversion" => Ok(PairDirection::DataToNoise),
            _ => Err(Error::InvalidInput(format!("unknown pair direction {s:?}; use noise-to-data or data-to-noise"))),
        }
    }
}

/// What a pairs folder holds and how it was made (`pairs.json`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PairsSpec {
    /// [`PAIRS_VERSION`].
    pub version: u32,
    /// The teacher's model file, as given.
    pub teacher: String,
    /// [`digest`] of the teacher's file bytes.
    pub teacher_digest: String,
    /// The teacher's data set name (e.g. `mnist`, `rf-toy`).
    pub data: String,
    /// Shape of one sample.
    pub shape: Vec<usize>,
    /// The teacher's classes (0 for unconditional).
    pub num_classes: usize,
    /// Direction of the ODE.
    pub direction: PairDirection,
    /// The sampler that made the pairs, with its guidance scale (inversion runs its grid
    /// reversed).
    pub sampler: SamplerDefaults,
    /// Seed of the noise (or of the data order).
    pub seed: u64,
    /// Pairs in the set.
    pub num_pairs: usize,
    /// Pairs per shard.
    pub shard_size: usize,
}

impl PairsSpec {
    /// Scalars per sample.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of shards.
    pub fn num_shards(&self) -> usize {
        self.num_pairs.div_ceil(self.shard_size.max(1))
    }

    /// The range of pairs in shard `i`.
    pub fn shard_range(&self, i: usize) -> std::ops::Range<usize> {
        let start = i * self.shard_size;
        start..(start + self.shard_size).min(self.num_pairs)
    }

    /// The sampler as a [`SamplerSpec`] in the direction of the pairs.
    pub fn sampler_spec(&self) -> SamplerSpec {
        let mut s = SamplerSpec::new(self.sampler.solver, self.sampler.steps as usize);
        s.grid = self.sampler.time_grid.clone();
        s.direction = match self.direction {
            PairDirection::NoiseToData => Direction::Generate,
            PairDirection::DataToNoise => Direction::Invert,
        };
        s
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(m));
        if self.version != PAIRS_VERSION {
            return bad(format!("pairs format version {} (this build reads {PAIRS_VERSION})", self.version));
        }
        if self.num_pairs == 0 || self.shard_size == 0 {
            return bad("num_pairs and shard_size must be at least 1".into());
        }
        if self.numel() == 0 || self.numel() > 1 << 20 {
            return bad(format!("sample shape {:?} is not a sample shape", self.shape));
        }
        self.sampler_spec().plan().map(|_| ())
    }
}

/// Shard file name of shard `i`.
pub fn shard_name(i: usize) -> String {
    format!("shard-{i:05}.safetensors")
}

/// A 64-bit digest of `bytes` in hex (SplitMix64 over 8-byte words and the length): tells
/// whether a pairs folder was made from the same teacher file. Not cryptographic.
pub fn digest(bytes: &[u8]) -> String {
    let mut h = mix(bytes.len() as u64 ^ 0x5eed);
    for chunk in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        h = mix(h ^ u64::from_le_bytes(w));
    }
    format!("{h:016x}")
}

/// Where the `x1` of [`PairDirection::DataToNoise`] pairs come from.
pub enum PairData<'a> {
    /// A 2D toy.
    Toy(Toy),
    /// An image set (training split).
    Images(&'a ImageSet),
}

/// A group of pairs in memory, `x0`/`x1` `[n, numel]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pairs {
    /// Scalars per sample.
    pub numel: usize,
    /// Starting points (noise side).
    pub x0: Vec<f32>,
    /// End points (data side).
    pub x1: Vec<f32>,
    /// Labels ([`NULL_LABEL`] for none).
    pub labels: Vec<u32>,
}

impl Pairs {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The mean squared distance `‖x1 − x0‖²/numel` over the pairs (1 + data variance for
    /// independent pairs; smaller means a straighter coupling).
    pub fn mean_sq_distance(&self) -> f64 {
        let s: f64 = self.x0.iter().zip(&self.x1).map(|(a, b)| ((b - a) as f64).powi(2)).sum();
        s / self.x0.len().max(1) as f64
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        let n = self.len();
        let f = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let (x0, x1) = (f(&self.x0), f(&self.x1));
        let l: Vec<u8> = self.labels.iter().flat_map(|x| x.to_le_bytes()).collect();
        fn view(dtype: Dtype, shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>> {
            TensorView::new(dtype, shape, data).map_err(|e| Error::InvalidInput(format!("pairs shard: {e}")))
        }
        let views = vec![
            ("x0", view(Dtype::F32, vec![n, self.numel], &x0)?),
            ("x1", view(Dtype::F32, vec![n, self.numel], &x1)?),
            ("labels", view(Dtype::U32, vec![n], &l)?),
        ];
        safetensors::serialize(views, None).map_err(|e| Error::InvalidInput(format!("pairs shard: {e}")))
    }

    /// Reads a shard, checking names, dtypes and shapes against `numel` and `n` pairs.
    pub fn read_shard(path: &Path, numel: usize, n: usize) -> Result<Pairs> {
        let bad = |m: String| Error::InvalidInput(format!("{}: {m}", path.display()));
        let bytes = crate::files::read_regular(path, MAX_SHARD_BYTES, |len| bad(format!("{len} bytes is more than a shard holds")))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("not a pairs shard ({e})")))?;
        let get = |name: &str, dtype: Dtype, shape: &[usize]| -> Result<Vec<u8>> {
            let t = st.tensor(name).map_err(|_| bad(format!("no tensor {name:?}")))?;
            if t.dtype() != dtype || t.shape() != shape {
                return Err(bad(format!("{name} is {:?} {:?}, expected {dtype:?} {shape:?}", t.dtype(), t.shape())));
            }
            Ok(t.data().to_vec())
        };
        let floats = |b: Vec<u8>| b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<f32>>();
        let x0 = floats(get("x0", Dtype::F32, &[n, numel])?);
        let x1 = floats(get("x1", Dtype::F32, &[n, numel])?);
        let labels: Vec<u32> = get("labels", Dtype::U32, &[n])?.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        if x0.iter().chain(&x1).any(|v| !v.is_finite()) {
            return Err(bad("holds NaN or infinite values".into()));
        }
        Ok(Pairs { numel, x0, x1, labels })
    }

    fn extend(&mut self, other: Pairs) {
        self.numel = other.numel;
        self.x0.extend(other.x0);
        self.x1.extend(other.x1);
        self.labels.extend(other.labels);
    }
}

/// A whole pairs folder in memory.
#[derive(Clone, Debug)]
pub struct PairSet {
    /// Its manifest.
    pub spec: PairsSpec,
    /// Every pair, in order.
    pub pairs: Pairs,
}

impl PairSet {
    /// Reads `dir/pairs.json` and every shard; missing shards are an error that says how to
    /// finish the set.
    pub fn load(dir: &Path) -> Result<PairSet> {
        let spec = read_manifest(dir)?.ok_or_else(|| Error::Io(format!("{} has no {MANIFEST}; make pairs with `beeline pairs --out {}`", dir.display(), dir.display())))?;
        // All pairs are held in memory (x0, x1 in f32 and a label each): checked against the
        // memory budget from the manifest, before any shard is read.
        let need = (spec.num_pairs as u64).saturating_mul((spec.numel() as u64).saturating_mul(8).saturating_add(4));
        let budget = crate::pipeline::memory_budget();
        if need > budget {
            let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
            return Err(Error::InvalidInput(format!(
                "{}: {} pairs of {} values need about {:.2} GiB in memory, over the memory budget of {:.2} GiB; raise it (--memory-budget GIB) or use fewer pairs",
                dir.display(),
                spec.num_pairs,
                spec.numel(),
                gib(need),
                gib(budget)
            )));
        }
        let mut pairs = Pairs { numel: spec.numel(), ..Pairs::default() };
        for i in 0..spec.num_shards() {
            let path = dir.join(shard_name(i));
            if !path.exists() {
                return Err(Error::Io(format!(
                    "{} is missing: the pairs are not finished; run the same `beeline pairs` command again to complete them",
                    path.display()
                )));
            }
            let r = spec.shard_range(i);
            let shard = Pairs::read_shard(&path, spec.numel(), r.len())?;
            if let Some(&l) = shard.labels.iter().find(|&&l| l != NULL_LABEL && l as usize >= spec.num_classes) {
                return Err(Error::InvalidInput(format!("{}: label {l} is out of range for {} classes", path.display(), spec.num_classes)));
            }
            pairs.extend(shard);
        }
        Ok(PairSet { spec, pairs })
    }
}

/// Reads `dir/pairs.json` if it exists.
pub fn read_manifest(dir: &Path) -> Result<Option<PairsSpec>> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(None);
    }
    let text = crate::files::read_text(&path, 1 << 20)?;
    let spec: PairsSpec = serde_json::from_str(&text).map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?;
    spec.check().map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))?;
    Ok(Some(spec))
}

/// What [`make_pairs`] reports as it goes.
#[derive(Clone, Copy, Debug)]
pub enum PairsEvent {
    /// Shard `index` was already there and is kept.
    Kept {
        /// Shard index.
        index: usize,
        /// Pairs in it.
        pairs: usize,
    },
    /// Progress inside the shard being made.
    Progress {
        /// Shard index.
        index: usize,
        /// Progress of the sampler over this shard.
        progress: Progress,
    },
    /// Shard `index` was written.
    Written {
        /// Shard index.
        index: usize,
        /// Pairs in it.
        pairs: usize,
        /// Seconds it took.
        seconds: f64,
    },
}

/// What [`make_pairs`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct PairsSummary {
    /// The folder.
    pub dir: PathBuf,
    /// Pairs made by this call.
    pub made: usize,
    /// Pairs found already made.
    pub kept: usize,
    /// Seconds spent making pairs.
    pub seconds: f64,
    /// Teacher evaluations per pair.
    pub nfe: usize,
}

/// The teacher's transport: integrates `req.sampler` from the states `x` `[n, numel]` with
/// `req.labels`, on whatever backend the caller holds (CPU reference or GPU).
pub type Transport<'a> = dyn FnMut(&GenerateRequest, Vec<f32>, &mut dyn FnMut(Progress)) -> Result<Generated> + 'a;

/// Makes (or completes) the pairs folder `dir` for `spec` with the teacher's `transport`;
/// `data` must be given for [`PairDirection::DataToNoise`]. `batch` bounds how many samples
/// are integrated at once (the result does not depend on it).
pub fn make_pairs(dir: &Path, spec: &PairsSpec, data: Option<PairData<'_>>, batch: usize, transport: &mut Transport<'_>, on_event: &mut dyn FnMut(PairsEvent)) -> Result<PairsSummary> {
    spec.check()?;
    if let Some(old) = read_manifest(dir)? {
        // The teacher is known by its bytes: the same file under another path makes the same pairs.
        let same = PairsSpec { num_pairs: spec.num_pairs, teacher: spec.teacher.clone(), ..old.clone() };
        if &same != spec {
            return Err(Error::InvalidInput(format!(
                "{} holds pairs made with other settings ({}); use another --out or remove it",
                dir.display(),
                describe_difference(&old, spec)
            )));
        }
    }
    if spec.direction == PairDirection::DataToNoise {
        match &data {
            None => return Err(Error::InvalidInput("data-to-noise pairs need the data set".into())),
            Some(PairData::Images(set)) if spec.num_pairs > set.n => {
                return Err(Error::InvalidInput(format!("{} pairs asked from {} images; data-to-noise pairs use each image once", spec.num_pairs, set.n)));
            }
            Some(PairData::Images(set)) if set.numel() != spec.numel() => {
                return Err(Error::InvalidInput(format!("the data's samples have {} values, the teacher's {}", set.numel(), spec.numel())));
            }
            Some(PairData::Toy(_)) if spec.numel() != 2 => return Err(Error::InvalidInput("2D toy data for a teacher whose samples are not 2D".into())),
            _ => {}
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
    crate::files::remove_stale_temps(dir)?;
    let manifest = serde_json::to_string_pretty(spec).map_err(|e| Error::InvalidInput(e.to_string()))?;
    write_atomic(&dir.join(MANIFEST), manifest.as_bytes())?;

    let order = match &data {
        Some(PairData::Images(set)) if spec.direction == PairDirection::DataToNoise => permutation(&Stream::new(mix(spec.seed ^ 0xda7a), 0), set.n),
        _ => Vec::new(),
    };
    let sampler = spec.sampler_spec();
    let nfe = sampler.plan()?.nfe();
    let numel = spec.numel();
    let (mut made, mut kept, mut seconds) = (0, 0, 0.0);
    for i in 0..spec.num_shards() {
        let range = spec.shard_range(i);
        let path = dir.join(shard_name(i));
        if path.exists() && Pairs::read_shard(&path, numel, range.len()).is_ok() {
            kept += range.len();
            on_event(PairsEvent::Kept { index: i, pairs: range.len() });
            continue;
        }
        let start = std::time::Instant::now();
        let n = range.len();
        let (x_start, labels) = match spec.direction {
            PairDirection::NoiseToData => {
                let labels = (range.clone()).map(|k| if spec.num_classes > 0 { (k % spec.num_classes) as u32 } else { NULL_LABEL }).collect();
                (gaussian_batch(spec.seed, range.start as u64, n, numel), labels)
            }
            PairDirection::DataToNoise => match &data {
                Some(PairData::Toy(t)) => (t.sample(spec.seed, range.end)[range.start * 2..].to_vec(), vec![NULL_LABEL; n]),
                Some(PairData::Images(set)) => {
                    let mut x = vec![0.0f32; n * numel];
                    let mut labels = Vec::with_capacity(n);
                    for (k, row) in range.clone().zip(x.chunks_mut(numel)) {
                        let j = order[k] as usize;
                        set.image_f32(j, row);
                        labels.push(if spec.num_classes > 0 { set.labels[j] as u32 } else { NULL_LABEL });
                    }
                    (x, labels)
                }
                None => unreachable!("checked above"),
            },
        };
        let req = GenerateRequest {
            seed: spec.seed,
            num_samples: n,
            batch,
            labels: if spec.num_classes > 0 { Labels::PerSample(labels.clone()) } else { Labels::Unconditional },
            guidance: spec.sampler.guidance,
            sampler: sampler.clone(),
            record_trajectories: false,
        };
        let out = transport(&req, x_start.clone(), &mut |p| on_event(PairsEvent::Progress { index: i, progress: p }))?;
        if out.samples.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!("the teacher produced NaN or infinite values in shard {i}")));
        }
        let pairs = match spec.direction {
            PairDirection::NoiseToData => Pairs { numel, x0: x_start, x1: out.samples, labels },
            PairDirection::DataToNoise => Pairs { numel, x0: out.samples, x1: x_start, labels },
        };
        write_atomic(&path, &pairs.to_bytes()?)?;
        let secs = start.elapsed().as_secs_f64();
        seconds += secs;
        made += n;
        on_event(PairsEvent::Written { index: i, pairs: n, seconds: secs });
    }
    Ok(PairsSummary { dir: dir.to_path_buf(), made, kept, seconds, nfe })
}

fn describe_difference(old: &PairsSpec, new: &PairsSpec) -> String {
    let (a, b) = (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(new).unwrap_or_default());
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return String::new() };
    a.iter()
        .filter(|(k, v)| *k != "num_pairs" && b.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: {v} there, {} now", b.get(k).cloned().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Solver, TimeGrid};
    use crate::gmm::GaussianMixture;
    use crate::pipeline::transport_from;

    fn spec(direction: PairDirection, n: usize, shard: usize) -> PairsSpec {
        PairsSpec {
            version: PAIRS_VERSION,
            teacher: "analytic:rf-toy".into(),
            teacher_digest: digest(b"rf-toy"),
            data: "rf-toy".into(),
            shape: vec![2],
            num_classes: 0,
            direction,
            sampler: SamplerDefaults { solver: Solver::Rk4, steps: 16, time_grid: TimeGrid::Uniform, guidance: 1.0 },
            seed: 7,
            num_pairs: n,
            shard_size: shard,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("beeline-pairs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn make(dir: &Path, s: &PairsSpec, batch: usize, calls: &mut usize) -> Result<PairsSummary> {
        let mut g = GaussianMixture::rf_toy();
        let mut transport = |req: &GenerateRequest, x: Vec<f32>, p: &mut dyn FnMut(Progress)| {
            *calls += 1;
            transport_from(&mut g, 0, req, x, p)
        };
        make_pairs(dir, s, Some(PairData::Toy(Toy::RfToy)), batch, &mut transport, &mut |_| {})
    }

    #[test]
    fn noise_to_data_pairs_follow_the_exact_flow_and_resume() {
        let dir = tmp("n2d");
        let s = spec(PairDirection::NoiseToData, 10, 4);
        let mut calls = 0;
        let sum = make(&dir, &s, 3, &mut calls).unwrap();
        assert_eq!((sum.made, sum.kept, calls, sum.nfe), (10, 0, 3, 64));
        let set = PairSet::load(&dir).unwrap();
        assert_eq!(set.pairs.len(), 10);
        // x0 is noise stream k of the seed; x1 its RK4 image under the exact field.
        assert_eq!(set.pairs.x0, gaussian_batch(7, 0, 10, 2));
        let mut g = GaussianMixture::rf_toy();
        let req = GenerateRequest { seed: 0, num_samples: 10, batch: 10, labels: Labels::Unconditional, guidance: 1.0, sampler: s.sampler_spec(), record_trajectories: false };
        let direct = transport_from(&mut g, 0, &req, set.pairs.x0.clone(), &mut |_| {}).unwrap();
        assert_eq!(set.pairs.x1, direct.samples, "batch size must not change the pairs");
        // A killed run: shard 1 gone. Running again makes only it, and the same bytes.
        let shard1 = std::fs::read(dir.join(shard_name(1))).unwrap();
        std::fs::remove_file(dir.join(shard_name(1))).unwrap();
        let mut calls = 0;
        let sum = make(&dir, &s, 8, &mut calls).unwrap();
        assert_eq!((sum.made, sum.kept, calls), (4, 6, 1));
        assert_eq!(std::fs::read(dir.join(shard_name(1))).unwrap(), shard1);
        // A corrupt shard is remade; growing the set adds shards.
        std::fs::write(dir.join(shard_name(2)), b"junk").unwrap();
        let grown = PairsSpec { num_pairs: 13, ..s.clone() };
        let mut calls = 0;
        let sum = make(&dir, &grown, 8, &mut calls).unwrap();
        assert_eq!((sum.made, sum.kept), (5, 8));
        assert_eq!(PairSet::load(&dir).unwrap().pairs.len(), 13);
        // The same teacher under another path keeps the shards.
        let moved = PairsSpec { teacher: "moved/teacher.safetensors".into(), ..grown.clone() };
        let sum = make(&dir, &moved, 8, &mut 0).unwrap();
        assert_eq!((sum.made, sum.kept), (0, 13));
        // Other settings are refused, naming the difference.
        let other = PairsSpec { seed: 8, ..s.clone() };
        let e = make(&dir, &other, 8, &mut 0).unwrap_err().to_string();
        assert!(e.contains("seed: 7 there, 8 now"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn data_to_noise_pairs_invert_the_data() {
        let dir = tmp("d2n");
        let s = spec(PairDirection::DataToNoise, 6, 6);
        make(&dir, &s, 6, &mut 0).unwrap();
        let set = PairSet::load(&dir).unwrap();
        assert_eq!(set.pairs.x1, Toy::RfToy.sample(7, 6));
        // Generating back from the inverted noise returns the data (RK4, 16 steps each way on
        // a target of half-width 12: the round trip is good to 0.02, 0.2 % of the range).
        let mut g = GaussianMixture::rf_toy();
        let mut fwd = s.sampler_spec();
        fwd.direction = Direction::Generate;
        let req = GenerateRequest { seed: 0, num_samples: 6, batch: 6, labels: Labels::Unconditional, guidance: 1.0, sampler: fwd, record_trajectories: false };
        let back = transport_from(&mut g, 0, &req, set.pairs.x0.clone(), &mut |_| {}).unwrap();
        let err = back.samples.iter().zip(&set.pairs.x1).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 0.03, "round trip error {err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_shards_and_manifests_are_errors() {
        let dir = tmp("bad");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(PairSet::load(&dir).unwrap_err().to_string().contains("beeline pairs"));
        std::fs::write(dir.join(MANIFEST), "{").unwrap();
        assert!(matches!(PairSet::load(&dir), Err(Error::InvalidInput(_))));
        let s = spec(PairDirection::NoiseToData, 4, 4);
        std::fs::write(dir.join(MANIFEST), serde_json::to_string(&s).unwrap()).unwrap();
        assert!(PairSet::load(&dir).unwrap_err().to_string().contains("not finished"));
        std::fs::write(dir.join(shard_name(0)), b"\x08\0\0\0\0\0\0\0{}      ").unwrap();
        assert!(PairSet::load(&dir).unwrap_err().to_string().contains("no tensor"));
        let wrong = Pairs { numel: 2, x0: vec![0.0; 6], x1: vec![0.0; 6], labels: vec![NULL_LABEL; 3] };
        std::fs::write(dir.join(shard_name(0)), wrong.to_bytes().unwrap()).unwrap();
        assert!(PairSet::load(&dir).unwrap_err().to_string().contains("expected F32 [4, 2]"));
        let nan = Pairs { numel: 2, x0: vec![f32::NAN; 8], x1: vec![0.0; 8], labels: vec![NULL_LABEL; 4] };
        std::fs::write(dir.join(shard_name(0)), nan.to_bytes().unwrap()).unwrap();
        assert!(PairSet::load(&dir).unwrap_err().to_string().contains("NaN"));
        let v2 = PairsSpec { version: 2, ..s };
        std::fs::write(dir.join(MANIFEST), serde_json::to_string(&v2).unwrap()).unwrap();
        assert!(PairSet::load(&dir).unwrap_err().to_string().contains("version 2"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
