//! Malformed model files: each case asserts the typed error the loader must return. None may
//! panic, and none may allocate more than the file's own size.

use beeline::config::{ArchConfig, ModelConfig, NetRole, Parameterization};
use beeline::modelfile::ModelFile;
use beeline::weights::{StoredDtype, Weights};
use beeline::{Error, noise, presets};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;

/// A small valid class-conditional MLP model with deterministic non-trivial weights.
fn valid_model() -> ModelFile {
    let arch = ArchConfig::Mlp(presets::mlp(2, 16, 2, 3));
    let config = presets::velocity_model(arch, presets::points2d("gmm3", 12.0), presets::digit_classes(3), presets::euler(4));
    let mut weights = Weights::default();
    for (i, spec) in config.tensor_specs().into_iter().enumerate() {
        let n: usize = spec.shape.iter().product();
        let data: Vec<f32> = noise::gaussian_batch(1, i as u64, 1, n).iter().map(|v| 0.1 * v).collect();
        weights.insert(spec.name, spec.shape, data).unwrap();
    }
    ModelFile::new(config, weights).unwrap()
}

fn valid_bytes() -> Vec<u8> {
    valid_model().to_bytes(None).unwrap()
}

/// A safetensors container from explicit tensors and metadata (bypassing Beeline's writer).
fn container(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)], meta: Option<HashMap<String, String>>) -> Vec<u8> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, meta).unwrap()
}

/// Rebuilds the valid file with `edit` applied to its tensor list and config JSON.
fn edited(edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>, &mut serde_json::Value)) -> Vec<u8> {
    let m = valid_model();
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = m
        .weights
        .tensors
        .iter()
        .map(|(n, t)| (n.clone(), Dtype::F32, t.shape.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    let mut json = serde_json::to_value(&m.config).unwrap();
    edit(&mut tensors, &mut json);
    let refs: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> =
        tensors.iter().map(|(n, d, s, b)| (n.as_str(), *d, s.clone(), b.clone())).collect();
    container(&refs, Some(HashMap::from([("beeline".to_string(), json.to_string())])))
}

fn load(bytes: &[u8]) -> Result<ModelFile, Error> {
    ModelFile::from_bytes(bytes)
}

#[test]
fn valid_file_round_trips_f32_and_f16() {
    let m = valid_model();
    assert_eq!(load(&m.to_bytes(None).unwrap()).unwrap(), m);
    let half = load(&m.to_bytes(Some(StoredDtype::F16)).unwrap()).unwrap();
    for (name, t) in &m.weights.tensors {
        let h = &half.weights.tensors[name];
        assert_eq!(h.stored, StoredDtype::F16);
        for (a, b) in t.data.iter().zip(&h.data) {
            // f16 has an 11-bit significand: relative rounding error ≤ 2^-11 (plus subnormals ≤ 2^-24).
            assert!((a - b).abs() <= a.abs() * 4.9e-4 + 6e-8, "{name}: {a} vs {b}");
        }
    }
}

#[test]
fn empty_file() {
    assert!(matches!(load(&[]), Err(Error::Truncated(_))));
}

#[test]
fn shorter_than_header_length() {
    assert!(matches!(load(&[1, 2, 3, 4, 5]), Err(Error::Truncated(_))));
}

#[test]
fn header_length_past_end_of_file() {
    let mut b = valid_bytes();
    let len = b.len() as u64;
    b[..8].copy_from_slice(&(len).to_le_bytes());
    assert!(matches!(load(&b), Err(Error::HeaderPastEnd { .. })));
}

#[test]
fn header_length_absurd() {
    // 2^62 bytes of header: must be refused before any allocation.
    let mut b = valid_bytes();
    b[..8].copy_from_slice(&(1u64 << 62).to_le_bytes());
    assert!(matches!(load(&b), Err(Error::HeaderTooLarge(_))));
}

#[test]
fn header_not_json() {
    let mut b = 16u64.to_le_bytes().to_vec();
    b.extend_from_slice(b"{not json at all");
    assert!(matches!(load(&b), Err(Error::BadHeader(_))));
}

#[test]
fn header_not_utf8() {
    let mut b = 4u64.to_le_bytes().to_vec();
    b.extend_from_slice(&[0xff, 0xfe, 0xfd, 0xfc]);
    assert!(matches!(load(&b), Err(Error::BadHeader(_))));
}

#[test]
fn truncated_tensor_data() {
    let b = valid_bytes();
    assert!(matches!(load(&b[..b.len() - 10]), Err(Error::Truncated(_))));
}

#[test]
fn trailing_bytes_after_data() {
    let mut b = valid_bytes();
    b.extend_from_slice(&[0u8; 16]);
    assert!(matches!(load(&b), Err(Error::BadLayout(_))));
}

#[test]
fn overlapping_tensor_offsets() {
    let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#;
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(&[0u8; 12]);
    assert!(matches!(load(&b), Err(Error::BadLayout(_))));
}

#[test]
fn shape_product_overflows() {
    let header = r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#;
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(&[0u8; 8]);
    assert!(matches!(load(&b), Err(Error::BadLayout(_))));
}

#[test]
fn no_beeline_metadata() {
    let b = container(&[("w", Dtype::F32, vec![1], vec![0; 4])], None);
    assert!(matches!(load(&b), Err(Error::NotBeeline)));
}

#[test]
fn config_not_json() {
    let b = container(&[("w", Dtype::F32, vec![1], vec![0; 4])], Some(HashMap::from([("beeline".into(), "{oops".into())])));
    assert!(matches!(load(&b), Err(Error::BadConfig(_))));
}

#[test]
fn unknown_version() {
    let b = edited(|_, j| j["version"] = 2.into());
    assert!(matches!(load(&b), Err(Error::UnknownVersion { found: 2, supported: 1 })));
}

#[test]
fn wrong_format_name() {
    let b = edited(|_, j| j["format"] = "diffusers".into());
    assert!(matches!(load(&b), Err(Error::BadConfig(_))));
}

#[test]
fn config_missing_field() {
    let b = edited(|_, j| {
        j.as_object_mut().unwrap().remove("data");
    });
    assert!(matches!(load(&b), Err(Error::BadConfig(_))));
}

#[test]
fn config_unknown_field() {
    let b = edited(|_, j| j["sampler"]["stepz"] = 3.into());
    assert!(matches!(load(&b), Err(Error::BadConfig(_))));
}

#[test]
fn missing_tensor() {
    let b = edited(|t, _| t.retain(|(n, ..)| n != "velocity.output.bias"));
    assert_eq!(load(&b).unwrap_err(), Error::MissingTensor("velocity.output.bias".into()));
}

#[test]
fn extra_tensor() {
    let b = edited(|t, _| t.push(("velocity.hidden.9.weight".into(), Dtype::F32, vec![1], vec![0; 4])));
    assert_eq!(load(&b).unwrap_err(), Error::UnexpectedTensor("velocity.hidden.9.weight".into()));
}

#[test]
fn misnamed_tensor() {
    let b = edited(|t, _| {
        for e in t.iter_mut() {
            if e.0 == "velocity.input.weight" {
                e.0 = "model.input.weight".into();
            }
        }
    });
    assert_eq!(load(&b).unwrap_err(), Error::UnexpectedTensor("model.input.weight".into()));
}

#[test]
fn wrong_shape() {
    let b = edited(|t, _| {
        for e in t.iter_mut() {
            if e.0 == "velocity.output.weight" {
                e.2 = vec![16, 2]; // transposed: [in, out] instead of [out, in]
            }
        }
    });
    assert!(matches!(load(&b), Err(Error::WrongShape { name, .. }) if name == "velocity.output.weight"));
}

#[test]
fn wrong_dtype() {
    let b = edited(|t, _| {
        for e in t.iter_mut() {
            if e.0 == "velocity.output.bias" {
                e.1 = Dtype::I32;
            }
        }
    });
    assert!(matches!(load(&b), Err(Error::WrongDtype { name, dtype }) if name == "velocity.output.bias" && dtype == "I32"));
}

#[test]
fn f64_is_a_wrong_dtype_too() {
    let b = edited(|t, _| {
        for e in t.iter_mut() {
            if e.0 == "velocity.output.bias" {
                e.1 = Dtype::F64;
                e.3 = vec![0u8; 16];
            }
        }
    });
    assert!(matches!(load(&b), Err(Error::WrongDtype { .. })));
}

#[test]
fn nan_weight() {
    let b = edited(|t, _| {
        let e = t.iter_mut().find(|e| e.0 == "velocity.input.bias").unwrap();
        e.3[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    assert!(matches!(load(&b), Err(Error::NonFinite { name, index: 2, .. }) if name == "velocity.input.bias"));
}

#[test]
fn infinite_weight() {
    let b = edited(|t, _| {
        let e = t.iter_mut().find(|e| e.0 == "velocity.time.lin1.weight").unwrap();
        e.3[..4].copy_from_slice(&f32::NEG_INFINITY.to_le_bytes());
    });
    assert!(matches!(load(&b), Err(Error::NonFinite { index: 0, .. })));
}

#[test]
fn config_contradicts_tensors() {
    // The config claims a wider network than the tensors hold.
    let b = edited(|_, j| j["networks"]["velocity"]["hidden"] = 32.into());
    assert!(matches!(load(&b), Err(Error::WrongShape { .. })));
}

#[test]
fn config_networks_contradict_parameterization() {
    let b = edited(|_, j| j["parameterization"] = serde_json::json!({"kind": "caf", "h": 1.5}));
    assert!(matches!(load(&b), Err(Error::BadConfig(m)) if m.contains("initial_velocity")));
}

#[test]
fn class_count_contradicts_names() {
    let b = edited(|_, j| j["classes"] = serde_json::json!(["a", "b"]));
    assert!(matches!(load(&b), Err(Error::BadConfig(m)) if m.contains("classes")));
}

#[test]
fn data_shape_contradicts_network() {
    let b = edited(|_, j| j["data"]["shape"] = serde_json::json!([3]));
    assert!(matches!(load(&b), Err(Error::BadConfig(m)) if m.contains("data shape")));
}

#[test]
fn f16_overflow_is_refused_on_write() {
    let mut m = valid_model();
    m.weights.tensors.get_mut("velocity.output.bias").unwrap().data[0] = 1e6; // > f16 max 65504
    assert!(matches!(m.to_bytes(Some(StoredDtype::F16)), Err(Error::NonFinite { .. })));
    assert!(m.to_bytes(Some(StoredDtype::F32)).is_ok());
}

#[test]
fn writer_refuses_inconsistent_models() {
    let m = valid_model();
    let mut config: ModelConfig = m.config.clone();
    config.parameterization = Parameterization::Perflow { windows: 0 };
    assert!(matches!(ModelFile::new(config, m.weights.clone()), Err(Error::BadConfig(_))));
    let mut w = m.weights.clone();
    w.tensors.remove("velocity.input.bias");
    assert!(matches!(ModelFile::new(m.config.clone(), w), Err(Error::MissingTensor(_))));
    assert!(m.config.networks.contains_key(&NetRole::Velocity));
}

#[test]
fn atomic_write_and_read_back() {
    let dir = std::env::temp_dir().join(format!("beeline-modelfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    let m = valid_model();
    m.write(&path, None).unwrap();
    m.write(&path, Some(StoredDtype::F16)).unwrap(); // overwrite in place
    let back = ModelFile::read(&path).unwrap();
    assert_eq!(back.config, m.config);
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "temporary files left behind: {leftovers:?}");
    assert!(matches!(ModelFile::read(dir.join("missing.safetensors")), Err(Error::Io(_))));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A deterministic mutation fuzzer over a valid file (the `cargo fuzz` target explores further):
/// every mutant must load or fail with an error, never panic.
#[test]
fn mutated_files_never_panic() {
    let base = valid_bytes();
    let rng = noise::Stream::new(2024, 0);
    let mut outcomes: HashMap<&'static str, usize> = HashMap::new();
    for i in 0..3000u64 {
        let mut b = base.clone();
        let r = rng.bits(i * 8);
        let len = b.len();
        match r % 5 {
            0 => {
                let at = (rng.bits(i * 8 + 1) as usize) % b.len();
                b[at] ^= 1 << (r >> 8) % 8;
            }
            1 => b.truncate((rng.bits(i * 8 + 2) as usize) % b.len()),
            2 => {
                let at = 8 + (rng.bits(i * 8 + 3) as usize) % (b.len() - 8).min(600);
                b[at] = (r >> 16) as u8;
            }
            3 => b[..8].copy_from_slice(&(rng.bits(i * 8 + 4) % (len as u64 * 2)).to_le_bytes()),
            _ => {
                let at = (rng.bits(i * 8 + 5) as usize) % b.len();
                b.insert(at, (r >> 24) as u8);
            }
        }
        let key = match load(&b) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    assert!(outcomes.get("model_invalid").copied().unwrap_or(0) > 1000, "{outcomes:?}");
}

/// Writes the seed corpus of the `cargo fuzz` target (`core/fuzz/seeds/`): run with
/// `cargo test -p beeline --test integration -- --ignored write_fuzz_seeds`.
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    std::fs::create_dir_all(&dir).unwrap();
    let m = valid_model();
    std::fs::write(dir.join("mlp-f32.safetensors"), m.to_bytes(Some(StoredDtype::F32)).unwrap()).unwrap();
    std::fs::write(dir.join("mlp-f16.safetensors"), m.to_bytes(Some(StoredDtype::F16)).unwrap()).unwrap();
    // A tiny class-conditional UNet (8×8, guided sampling) and a tiny CAF pair, so that the
    // fuzzer's generation path starts from every network family and a two-network plan.
    let unet = ArchConfig::Unet(presets::unet(1, 8, 4, &[1, 2], 1, false, 2));
    let mut config = presets::velocity_model(unet.clone(), presets::images("tiny", 1, 8), presets::digit_classes(2), presets::euler(2));
    config.sampler.guidance = 2.0;
    let file = ModelFile::new(config, beeline::nn::init::random_weights(&unet, "velocity", 5)).unwrap();
    std::fs::write(dir.join("unet-f16.safetensors"), file.to_bytes(Some(StoredDtype::F16)).unwrap()).unwrap();
    let (v0, acc) = (ArchConfig::Mlp(presets::mlp(2, 8, 1, 0)), ArchConfig::Mlp(beeline::config::MlpConfig { cond_dim: 2, ..presets::mlp(2, 8, 1, 0) }));
    let mut config = presets::velocity_model(v0.clone(), presets::points2d("gmm3", 4.0), vec![], presets::euler(1));
    config.parameterization = Parameterization::Caf { h: 1.5 };
    config.networks = [(NetRole::InitialVelocity, v0.clone()), (NetRole::Acceleration, acc.clone())].into_iter().collect();
    config.sampler.solver = beeline::config::Solver::Caf;
    let mut weights = beeline::nn::init::random_weights(&v0, "initial_velocity", 6);
    weights.tensors.extend(beeline::nn::init::random_weights(&acc, "acceleration", 7).tensors);
    std::fs::write(dir.join("caf-mlp-f32.safetensors"), ModelFile::new(config, weights).unwrap().to_bytes(Some(StoredDtype::F32)).unwrap()).unwrap();
}

/// A sampler section that cannot sample the model is refused at load, not at the first
/// `generate`: each of these passed `info` before.
#[test]
fn bad_sampler_sections_are_refused_at_load() {
    use serde_json::json;
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("zero steps", json!({"solver": "euler", "steps": 0})),
        ("too many steps", json!({"solver": "euler", "steps": 1_000_000})),
        ("negative guidance", json!({"solver": "euler", "steps": 4, "guidance": -3.0})),
        ("absurd guidance", json!({"solver": "euler", "steps": 4, "guidance": 1e30})),
        ("a CAF solver without CAF networks", json!({"solver": "caf", "steps": 4})),
        ("a PeRFlow solver without windows", json!({"solver": "perflow", "steps": 4})),
        ("a custom grid of the wrong length", json!({"solver": "euler", "steps": 4, "time_grid": {"kind": "custom", "times": [0.0, 0.5, 1.0]}})),
        ("a custom grid that goes back", json!({"solver": "euler", "steps": 2, "time_grid": {"kind": "custom", "times": [0.0, 0.7, 0.3]}})),
        ("a custom grid that misses 1", json!({"solver": "euler", "steps": 2, "time_grid": {"kind": "custom", "times": [0.0, 0.5, 0.9]}})),
        ("a negative shift", json!({"solver": "euler", "steps": 4, "time_grid": {"kind": "shifted", "shift": -1.0}})),
        ("a zero shift", json!({"solver": "euler", "steps": 4, "time_grid": {"kind": "shifted", "shift": 0.0}})),
        ("an unknown solver", json!({"solver": "dpm", "steps": 4})),
    ];
    for (what, sampler) in cases {
        let b = edited(|_, j| j["sampler"] = sampler.clone());
        match load(&b) {
            Err(Error::BadConfig(m)) => assert!(!m.is_empty(), "{what}"),
            other => panic!("{what}: {sampler} gave {other:?}"),
        }
    }
    // The same sections are fine when they fit: the check is not a blanket refusal.
    let b = edited(|_, j| j["sampler"] = json!({"solver": "euler", "steps": 2, "guidance": 2.0, "time_grid": {"kind": "custom", "times": [0.0, 0.3, 1.0]}}));
    load(&b).unwrap();
}

/// A key given twice is ambiguous (serde keeps the last, other readers the first): refused in
/// the config and in the safetensors header.
#[test]
fn duplicate_json_keys_are_refused() {
    let m = valid_model();
    let config = serde_json::to_string(&m.config).unwrap();
    assert!(config.starts_with('{'));
    // `"version": 2` first, then the real version 1 that serde would keep.
    let twice = format!("{{\"version\":2,{}", &config[1..]);
    let b = container(&[("w", Dtype::F32, vec![1], vec![0; 4])], Some(HashMap::from([("beeline".into(), twice)])));
    match load(&b) {
        Err(Error::BadConfig(m)) => assert!(m.contains("appears twice"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A tensor named twice in the header.
    let good = valid_bytes();
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&good[8..8 + n]).unwrap();
    let v: serde_json::Value = serde_json::from_str(header).unwrap();
    let (name, entry) = v.as_object().unwrap().iter().find(|(k, _)| *k != "__metadata__").unwrap();
    let dup = format!("{{{:?}:{},{}", name, entry, &header.trim_end()[1..]);
    let mut bytes = (dup.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(dup.as_bytes());
    bytes.extend_from_slice(&good[8 + n..]);
    match load(&bytes) {
        Err(Error::BadHeader(m)) => assert!(m.contains("appears twice"), "{m}"),
        other => panic!("{other:?}"),
    }
}
