//! Trains the digit classifier of [`crate::eval::classifier`] (the judge of generated images)
//! with burn: an MLP with ReLU, cross-entropy, AdamW, seeded shuffles; the test accuracy is
//! measured on the exported file with the CPU forward, so the number reported is the one the
//! evaluation uses.

use super::optim::{adamw_step, param_infos};
use crate::data::images::{ImageDataset, ImageSet, Split};
use crate::error::{Error, Result};
use crate::eval::classifier::{Classifier, ClassifierMeta};
use crate::noise::{mix, permutation, Stream};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::path::Path;

/// The classifier's layers as a burn module.
#[derive(Module, Debug)]
pub struct ClassifierNet {
    /// `layers.{i}`, input to output.
    pub layers: Vec<Linear>,
}

impl ClassifierNet {
    fn new(widths: &[usize], device: &Device) -> ClassifierNet {
        ClassifierNet { layers: widths.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect() }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |h, (i, l)| if i < last { relu(l.forward(h)) } else { l.forward(h) })
    }
}

/// How the classifier is trained.
#[derive(Clone, Debug)]
pub struct ClassifierTraining {
    /// The data set.
    pub dataset: ImageDataset,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per step.
    pub batch: usize,
    /// AdamW learning rate.
    pub lr: f64,
    /// Seed of the initial weights and the shuffles.
    pub seed: u64,
}

/// Trains on the training split in `data_dir`, reporting `(epoch, mean loss)` after each epoch,
/// and returns the classifier file's bytes and its test accuracy.
pub fn train_classifier(cfg: &ClassifierTraining, data_dir: &Path, device: &Device, command: &str, on_epoch: &mut dyn FnMut(usize, f64)) -> Result<(Vec<u8>, f64)> {
    if cfg.epochs == 0 || cfg.batch == 0 || !(cfg.lr > 0.0) {
        return Err(Error::InvalidInput("epochs, batch and lr must be positive".into()));
    }
    let train = ImageSet::load(cfg.dataset, Split::Train, data_dir)?;
    let test = ImageSet::load(cfg.dataset, Split::Test, data_dir)?;
    let numel = train.numel();
    let classes = cfg.dataset.classes();
    let mut widths = vec![numel];
    widths.extend(&cfg.hidden);
    widths.push(classes.len());
    device.seed(mix(cfg.seed ^ 0xc1a5));
    let mut model = ClassifierNet::new(&widths, device);
    let adam = AdamWConfig::new().with_weight_decay(1e-4).build();
    let mut states = vec![None; param_infos(&model).len()];
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let steps_per_epoch = train.n / cfg.batch;
    let total = (steps_per_epoch * cfg.epochs) as f64;
    let mut x = vec![0.0f32; cfg.batch * numel];
    for epoch in 0..cfg.epochs {
        let order = permutation(&Stream::new(mix(cfg.seed ^ 0x5bf1e), epoch as u64), train.n);
        let mut loss_sum: Option<Tensor<1>> = None;
        for s in 0..steps_per_epoch {
            let idx = &order[s * cfg.batch..(s + 1) * cfg.batch];
            for (row, &i) in x.chunks_mut(numel).zip(idx) {
                train.image_f32(i as usize, row);
            }
            let labels: Vec<i64> = idx.iter().map(|&i| train.labels[i as usize] as i64).collect();
            let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [cfg.batch, numel]), device);
            let yt = Tensor::<1, Int>::from_data(TensorData::new(labels, [cfg.batch]), device);
            let loss = loss_fn.forward(model.forward(xt), yt);
            loss_sum = Some(match loss_sum {
                Some(a) => a + loss.clone().inner(),
                None => loss.clone().inner(),
            });
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            // Cosine decay over the whole run.
            let progress = (epoch * steps_per_epoch + s) as f64 / total;
            let lr = cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
            model = adamw_step(&adam, model, lr, &mut grads, None, &mut states);
        }
        let mean = loss_sum.map_or(f64::NAN, |l| l.into_data().try_into_vec_as::<f32>().expect("f32")[0] as f64 / steps_per_epoch as f64);
        if !mean.is_finite() {
            return Err(Error::InvalidInput(format!("classifier training diverged at epoch {epoch}; lower the learning rate")));
        }
        on_epoch(epoch + 1, mean);
    }
    let layers: Vec<(Vec<f32>, Vec<f32>)> = model
        .valid()
        .layers
        .iter()
        .map(|l| {
            let w = l.weight.val().transpose().into_data().try_into_vec_as::<f32>().expect("f32");
            let b = l.bias.as_ref().expect("linears have biases").val().into_data().try_into_vec_as::<f32>().expect("f32");
            (w, b)
        })
        .collect();
    let mut meta = ClassifierMeta {
        data: cfg.dataset.name().into(),
        shape: train.shape.to_vec(),
        classes,
        widths,
        test_accuracy: 0.0,
        provenance: format!("{command} (epochs {}, batch {}, lr {}, seed {})", cfg.epochs, cfg.batch, cfg.lr, cfg.seed),
    };
    let c = Classifier::from_bytes(&Classifier::to_bytes(&meta, &layers)?)?;
    let tx = test.first_f32(test.n);
    let labels: Vec<u32> = test.labels.iter().map(|&l| l as u32).collect();
    meta.test_accuracy = c.accuracy(&tx, &labels)?;
    Ok((Classifier::to_bytes(&meta, &layers)?, meta.test_accuracy))
}
