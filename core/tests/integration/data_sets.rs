//! The offline data sets load with the right sizes and statistics, and broken or missing files
//! give errors that name the fix. Needs `scripts/fetch-data.sh` (which `scripts/test.sh` runs);
//! the data folder is `$BEELINE_DATA_DIR` or `<workspace>/data`.

use beeline::Error;
use beeline::data::images::{FETCH_COMMAND, ImageDataset, ImageSet, Split};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    std::env::var_os("BEELINE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data"))
}

#[test]
fn mnist_matches_the_published_statistics() {
    let train = ImageSet::load(ImageDataset::Mnist, Split::Train, &data_dir()).expect("run scripts/fetch-data.sh");
    assert_eq!(train.n, 60_000);
    let mut counts = [0usize; 10];
    train.labels.iter().for_each(|&l| counts[l as usize] += 1);
    assert_eq!(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(&train.labels[..8], &[5, 0, 4, 1, 9, 2, 1, 3]);
    let mean = train.pixels.iter().map(|&p| p as f64).sum::<f64>() / train.pixels.len() as f64;
    assert!((mean - 33.318).abs() < 1e-3, "mean {mean}");
    let test = ImageSet::load(ImageDataset::Mnist, Split::Test, &data_dir()).unwrap();
    assert_eq!(test.n, 10_000);
    let mut img = vec![0.0f32; 784];
    test.image_f32(0, &mut img);
    assert!(img.iter().all(|v| (-1.0..=1.0).contains(v)));
}

#[test]
fn fashion_mnist_matches_the_published_statistics() {
    let train = ImageSet::load(ImageDataset::FashionMnist, Split::Train, &data_dir()).expect("run scripts/fetch-data.sh");
    assert_eq!(train.n, 60_000);
    assert!(train.labels.iter().fold([0usize; 10], |mut c, &l| {
        c[l as usize] += 1;
        c
    }) == [6000; 10]);
    let mean = train.pixels.iter().map(|&p| p as f64).sum::<f64>() / train.pixels.len() as f64;
    assert!((mean - 72.94).abs() < 0.01, "mean {mean}");
    assert_eq!(ImageSet::load(ImageDataset::FashionMnist, Split::Test, &data_dir()).unwrap().n, 10_000);
}

#[test]
fn missing_and_corrupt_files_name_the_fix() {
    let empty = std::env::temp_dir().join(format!("beeline-nodata-{}", std::process::id()));
    std::fs::create_dir_all(empty.join("mnist")).unwrap();
    let err = ImageSet::load(ImageDataset::Mnist, Split::Test, &empty).unwrap_err();
    assert!(matches!(&err, Error::Io(m) if m.contains(FETCH_COMMAND)), "{err}");
    // A truncated image file: the IDX header promises more bytes than follow.
    let src = std::fs::read(data_dir().join("mnist/t10k-images-idx3-ubyte")).unwrap();
    std::fs::write(empty.join("mnist/t10k-images-idx3-ubyte"), &src[..5000]).unwrap();
    std::fs::copy(data_dir().join("mnist/t10k-labels-idx1-ubyte"), empty.join("mnist/t10k-labels-idx1-ubyte")).unwrap();
    let err = ImageSet::load(ImageDataset::Mnist, Split::Test, &empty).unwrap_err();
    assert!(matches!(&err, Error::InvalidInput(m) if m.contains("header promises")), "{err}");
    std::fs::remove_dir_all(&empty).unwrap();
}
