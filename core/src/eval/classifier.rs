//! The digit classifier that judges generated images: an MLP `numel → hidden… → classes` with
//! ReLU, trained by `beeline train-classifier` (burn) and evaluated here on the CPU.
//!
//! File: safetensors with `layers.{i}.weight` `[fout, fin]` and `layers.{i}.bias` `[fout]`
//! (F32), and `__metadata__["beeline_classifier"]` = JSON [`ClassifierMeta`] (data set, input
//! shape, class names, widths, test accuracy, provenance). Inputs are images in `[-1, 1]`,
//! flattened C·H·W.

use crate::error::{Error, Result};
use crate::nn::linear::Linear;
use crate::nn::Workspace;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Metadata key of a classifier file.
pub const META_KEY: &str = "beeline_classifier";

/// What a classifier file says about itself.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassifierMeta {
    /// Data set name (e.g. `mnist`).
    pub data: String,
    /// Input shape `[C, H, W]`.
    pub shape: Vec<usize>,
    /// Class names.
    pub classes: Vec<String>,
    /// Layer widths from input to output: `[numel, hidden…, classes]`.
    pub widths: Vec<usize>,
    /// Accuracy on the data set's test split when it was trained.
    pub test_accuracy: f64,
    /// How it was made (command, epochs, seed).
    pub provenance: String,
}

/// A classifier ready to run on the CPU.
#[derive(Debug)]
pub struct Classifier {
    /// Its metadata.
    pub meta: ClassifierMeta,
    layers: Vec<Linear>,
}

impl Classifier {
    /// Reads and checks a classifier file.
    pub fn read(path: &Path) -> Result<Classifier> {
        let bytes = crate::modelfile::read_bounded(path)?;
        Classifier::from_bytes(&bytes).map_err(|e| Error::InvalidInput(format!("{}: {e}", path.display())))
    }

    /// Parses a classifier file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier> {
        let bad = |m: String| Error::InvalidInput(format!("not a Beeline classifier: {m}"));
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let meta_text = header.metadata().as_ref().and_then(|m| m.get(META_KEY)).ok_or_else(|| bad(format!("no `{META_KEY}` metadata")))?;
        let meta: ClassifierMeta = serde_json::from_str(meta_text).map_err(|e| bad(e.to_string()))?;
        if meta.widths.len() < 2 || meta.widths.iter().any(|&w| w == 0 || w > 1 << 16) {
            return Err(bad(format!("layer widths {:?}", meta.widths)));
        }
        if meta.widths[0] != meta.shape.iter().product::<usize>() || *meta.widths.last().expect("≥ 2") != meta.classes.len() {
            return Err(bad("widths do not match the input shape and classes".into()));
        }
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        if st.len() != 2 * (meta.widths.len() - 1) {
            return Err(bad(format!("{} tensors for {} layers", st.len(), meta.widths.len() - 1)));
        }
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let t = st.tensor(name).map_err(|_| bad(format!("no tensor {name}")))?;
            if t.dtype() != Dtype::F32 || t.shape() != shape {
                return Err(bad(format!("{name} is {:?} {:?}, expected F32 {shape:?}", t.dtype(), t.shape())));
            }
            let v: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            if v.iter().any(|x| !x.is_finite()) {
                return Err(bad(format!("{name} holds NaN or infinite values")));
            }
            Ok(v)
        };
        let mut layers = Vec::new();
        for (i, w) in meta.widths.windows(2).enumerate() {
            let (fin, fout) = (w[0], w[1]);
            let weight = get(&format!("layers.{i}.weight"), &[fout, fin])?;
            let bias = get(&format!("layers.{i}.bias"), &[fout])?;
            layers.push(Linear::new(&weight, &bias, fin, fout));
        }
        Ok(Classifier { meta, layers })
    }

    /// Serialises `layers` (`(weight [fout, fin], bias [fout])`, input to output) with `meta`.
    pub fn to_bytes(meta: &ClassifierMeta, layers: &[(Vec<f32>, Vec<f32>)]) -> Result<Vec<u8>> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = layers
            .iter()
            .enumerate()
            .flat_map(|(i, (w, b))| {
                let fout = b.len();
                let le = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
                [(format!("layers.{i}.weight"), vec![fout, w.len() / fout.max(1)], le(w)), (format!("layers.{i}.bias"), vec![fout], le(b))]
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(n, s, d)| TensorView::new(Dtype::F32, s.clone(), d).map(|v| (n.clone(), v)))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::InvalidInput(format!("classifier: {e}")))?;
        let text = serde_json::to_string(meta).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let meta_map = HashMap::from([(META_KEY.to_string(), text)]);
        safetensors::serialize(views, Some(meta_map)).map_err(|e| Error::InvalidInput(format!("classifier: {e}")))
    }

    /// The first `layers` layers on images `x` `[n, numel]` in `[-1, 1]` (ReLU after every
    /// layer but the last of the network).
    fn forward_to(&self, x: &[f32], layers: usize) -> Result<Vec<f32>> {
        let numel = self.meta.widths[0];
        if x.is_empty() || !x.len().is_multiple_of(numel) {
            return Err(Error::InvalidInput(format!("{} values are not whole {numel}-value images", x.len())));
        }
        let n = x.len() / numel;
        let mut ws = Workspace::new();
        let mut h = x.to_vec();
        for (i, l) in self.layers.iter().enumerate().take(layers) {
            let mut out = vec![0.0f32; n * l.fout];
            l.forward(&h, n, &mut out, &mut ws);
            if i + 1 < self.layers.len() {
                out.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            h = out;
        }
        Ok(h)
    }

    /// Logits `[n, classes]` of images `x` `[n, numel]` in `[-1, 1]`.
    pub fn logits(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.forward_to(x, self.layers.len())
    }

    /// Width of [`features`](Self::features).
    pub fn feature_width(&self) -> usize {
        self.meta.widths[self.meta.widths.len() - 2]
    }

    /// The last hidden layer's activations `[n, feature_width]`: the feature map of the
    /// Fréchet distance ([`super::frechet`]) between generated and real images.
    pub fn features(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.forward_to(x, self.layers.len() - 1)
    }

    /// The predicted class of each image.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<u32>> {
        let k = self.meta.classes.len();
        Ok(self
            .logits(x)?
            .chunks_exact(k)
            .map(|row| row.iter().enumerate().fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) }).0 as u32)
            .collect())
    }

    /// Share of images whose predicted class is `labels[i]`.
    pub fn accuracy(&self, x: &[f32], labels: &[u32]) -> Result<f64> {
        let (hits, total) = self.hits_per_class(x, labels)?;
        Ok(hits.iter().sum::<usize>() as f64 / total.iter().sum::<usize>() as f64)
    }

    /// For each class `c`, the share of the images asked for as `c` (`labels[i] == c`) that are
    /// predicted as `c`; `None` for a class nothing was asked for.
    pub fn per_class_accuracy(&self, x: &[f32], labels: &[u32]) -> Result<Vec<Option<f64>>> {
        let (hits, total) = self.hits_per_class(x, labels)?;
        Ok(hits.iter().zip(&total).map(|(&h, &t)| (t > 0).then(|| h as f64 / t as f64)).collect())
    }

    /// Per class: correctly predicted images and images labelled with it.
    fn hits_per_class(&self, x: &[f32], labels: &[u32]) -> Result<(Vec<usize>, Vec<usize>)> {
        let p = self.predict(x)?;
        let k = self.meta.classes.len();
        if p.len() != labels.len() || p.is_empty() {
            return Err(Error::InvalidInput(format!("{} images but {} labels", p.len(), labels.len())));
        }
        let (mut hits, mut total) = (vec![0; k], vec![0; k]);
        for (&pred, &want) in p.iter().zip(labels) {
            let c = want as usize;
            if c >= k {
                return Err(Error::InvalidInput(format!("label {want} but the classifier knows {k} classes")));
            }
            total[c] += 1;
            hits[c] += usize::from(pred == want);
        }
        Ok((hits, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ClassifierMeta {
        ClassifierMeta { data: "toy".into(), shape: vec![1, 1, 2], classes: vec!["a".into(), "b".into()], widths: vec![2, 3, 2], test_accuracy: 1.0, provenance: "test".into() }
    }

    #[test]
    fn forward_matches_a_hand_computation_and_files_round_trip() {
        // h = relu(W0 x + b0), logits = W1 h + b1.
        let l0 = (vec![1.0, 0.0, 0.0, 1.0, 1.0, -1.0], vec![0.0, 0.0, 0.5]);
        let l1 = (vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0], vec![0.0, 0.1]);
        let bytes = Classifier::to_bytes(&meta(), &[l0, l1]).unwrap();
        let c = Classifier::from_bytes(&bytes).unwrap();
        // x = (2, -1): h = relu(2, -1, 3.5) = (2, 0, 3.5); logits = (5.5, 0.1).
        let logits = c.logits(&[2.0, -1.0]).unwrap();
        assert!((logits[0] - 5.5).abs() < 1e-6 && (logits[1] - 0.1).abs() < 1e-6, "{logits:?}");
        // x = (0, 5): h = (0, 5, 0); logits = (0, 5.1).
        assert_eq!(c.predict(&[2.0, -1.0, 0.0, 5.0]).unwrap(), vec![0, 1]);
        assert_eq!(c.accuracy(&[2.0, -1.0, 0.0, 5.0], &[1, 1]).unwrap(), 0.5);
        // Predictions (0, 1, 1): asked for class 1 three times, right twice; class 0 never asked.
        let x = [2.0, -1.0, 0.0, 5.0, 0.0, 5.0];
        assert_eq!(c.per_class_accuracy(&x, &[1, 1, 1]).unwrap(), vec![None, Some(2.0 / 3.0)]);
        assert_eq!(c.per_class_accuracy(&x, &[0, 1, 0]).unwrap(), vec![Some(0.5), Some(1.0)]);
        assert!(c.per_class_accuracy(&x, &[0, 1, 7]).is_err());
        assert!(c.accuracy(&x, &[0, 1]).is_err());
        assert!(c.logits(&[1.0]).is_err());
        assert_eq!((c.features(&[2.0, -1.0]).unwrap(), c.feature_width()), (vec![2.0, 0.0, 3.5], 3));
    }

    #[test]
    fn bad_files_are_errors() {
        assert!(Classifier::from_bytes(b"junk").is_err());
        let l0 = (vec![0.0; 6], vec![0.0; 3]);
        let l1 = (vec![0.0; 6], vec![0.0; 2]);
        let mut m = meta();
        m.widths = vec![2, 4, 2];
        assert!(Classifier::from_bytes(&Classifier::to_bytes(&m, &[l0.clone(), l1.clone()]).unwrap()).unwrap_err().to_string().contains("expected F32 [4, 2]"));
        let nan = (vec![f32::NAN; 6], vec![0.0; 3]);
        assert!(Classifier::from_bytes(&Classifier::to_bytes(&meta(), &[nan, l1]).unwrap()).unwrap_err().to_string().contains("NaN"));
    }
}
