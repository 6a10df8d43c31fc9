//! `beeline train` end to end (with the `train` feature; without it, the command only says how
//! to build it). Tiny MLPs on burn's flex backend.
#![cfg_attr(not(feature = "train"), allow(dead_code, unused_imports))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn beeline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_beeline")).args(args).output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("beeline-train-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[cfg(not(feature = "train"))]
#[test]
fn train_without_the_feature_says_how_to_build_it() {
    let o = beeline(&["train", "--data", "mnist"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--features train"), "{}", stderr(&o));
}

/// A tiny MLP config for fast runs.
#[cfg(feature = "train")]
fn tiny_config(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, "data = 'rf-toy'\nbatch = 64\nlr = 3e-3\nwarmup = 20\n[arch]\nhidden = 32\ndepth = 2\ntime_embed_dim = 16\n").unwrap();
    path
}

#[cfg(feature = "train")]
mod with_train {
    use super::*;
    use beeline::modelfile::ModelFile;
    use beeline::train::checkpoint::{self, Checkpoint};
    use beeline::train::metrics::MetricsLog;
    use std::time::{Duration, Instant};

    /// A run killed with SIGKILL between checkpoints, then resumed, ends with the same
    /// weights, EMA and AdamW state, bit for bit, as a run that was never interrupted. Dropout
    /// 0.1 is on: its masks are reseeded from (seed, step) every step.
    #[test]
    fn killed_and_resumed_run_equals_an_uninterrupted_one() {
        let d = scratch("kill");
        let cfg = tiny_config(&d);
        let (straight, killed) = (d.join("straight"), d.join("killed"));
        let steps = "1500";
        let args = |out: &Path| -> Vec<String> {
            ["train", "--config", cfg.to_str().unwrap(), "--steps", steps, "--checkpoint-every", "20", "--dropout", "0.1", "--seed", "7", "--device", "flex", "--quiet", "--out", out.to_str().unwrap()]
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        let t0 = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_beeline")).args(args(&straight)).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        println!("uninterrupted run: {:.1} s; {}", t0.elapsed().as_secs_f64(), String::from_utf8_lossy(&o.stdout).trim());

        let mut child = Command::new(env!("CARGO_BIN_EXE_beeline")).args(args(&killed)).spawn().unwrap();
        // Kill it once its checkpoint has been replaced a few times (step ≥ 200 of 1500); the
        // checkpoint is read while the run keeps rewriting it, which atomic replacement allows.
        let deadline = Instant::now() + Duration::from_secs(120);
        while checkpoint::read_meta(&killed).ok().flatten().is_none_or(|m| m.step < 200) {
            assert!(Instant::now() < deadline, "no checkpoint appeared");
            assert!(child.try_wait().unwrap().is_none(), "the run ended before the test could kill it");
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let at = Checkpoint::read(&killed).unwrap().expect("the checkpoint is whole").meta.step;
        println!("killed after the checkpoint at step {at}");
        assert!(at < 1500, "the run finished before it was killed; the test proves nothing");

        let mut resume = args(&killed);
        resume.push("--resume".into());
        let o = Command::new(env!("CARGO_BIN_EXE_beeline")).args(&resume).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));

        let (a, b) = (Checkpoint::read(&straight).unwrap().unwrap(), Checkpoint::read(&killed).unwrap().unwrap());
        assert_eq!((a.meta.step, b.meta.step), (1500, 1500));
        assert!(a.model == b.model, "weights differ after kill and resume");
        assert!(a.ema == b.ema, "EMA weights differ after kill and resume");
        assert!(a.moments == b.moments, "AdamW state differs after kill and resume");
        let (ma, mb) = (ModelFile::read(straight.join("model.safetensors")).unwrap(), ModelFile::read(killed.join("model.safetensors")).unwrap());
        assert!(ma.weights == mb.weights, "exported models differ");
        // One clean log: every 10 steps once, and the same losses as the uninterrupted run.
        let (la, lb) = (MetricsLog::read(&straight).unwrap(), MetricsLog::read(&killed).unwrap());
        assert_eq!(lb.iter().map(|r| r.step).collect::<Vec<_>>(), (1..=150).map(|k| 10 * k).collect::<Vec<_>>());
        assert_eq!(la.iter().map(|r| r.loss).collect::<Vec<_>>(), lb.iter().map(|r| r.loss).collect::<Vec<_>>());
        let names: Vec<String> = std::fs::read_dir(&killed).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Train a little, then sample the result with `beeline generate`.
    #[test]
    fn trained_model_generates() {
        let d = scratch("gen");
        let cfg = tiny_config(&d);
        let out = d.join("run");
        let o = beeline(&["train", "--config", cfg.to_str().unwrap(), "--steps", "30", "--device", "flex", "--quiet", "--time-dist", "u-shaped", "--loss", "pseudo-huber", "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("after 30 steps"), "{}", String::from_utf8_lossy(&o.stdout));
        let model = out.join("model.safetensors");
        let m = ModelFile::read(&model).unwrap();
        assert_eq!(m.config.provenance.steps, 30);
        assert!(m.config.provenance.command.contains("train"));
        assert_eq!(m.config.provenance.notes["time_dist"], "u-shaped");
        assert!(m.config.provenance.notes["loss"].starts_with("pseudo-huber"));
        let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
        assert!(config.contains("steps = 30") && config.contains("hidden = 32"), "{config}");
        let png = d.join("samples.png");
        let o = beeline(&["generate", "--model", model.to_str().unwrap(), "--num-samples", "200", "--backend", "cpu", "--out", png.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(png.exists());
        // An existing run is not overwritten without --resume …
        let o = beeline(&["train", "--config", cfg.to_str().unwrap(), "--steps", "30", "--device", "flex", "--quiet", "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
        // … and a resumed one may not change the recipe.
        let o = beeline(&["train", "--steps", "40", "--lr", "0.1", "--device", "flex", "--quiet", "--resume", "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("`lr` differs"), "{}", stderr(&o));
        // Resuming with more steps continues from the checkpoint's config.
        let o = beeline(&["train", "--steps", "40", "--device", "flex", "--quiet", "--resume", "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(ModelFile::read(&model).unwrap().config.provenance.steps, 40);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn bad_configs_exit_2_with_the_key_named() {
        let d = scratch("bad");
        let bad = d.join("bad.toml");
        std::fs::write(&bad, "data = 'rf-toy'\nlearning_rate = 0.1\n").unwrap();
        let out = d.join("out");
        let o = beeline(&["train", "--config", bad.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("learning_rate"), "{}", stderr(&o));
        std::fs::write(&bad, "steps = [\n").unwrap();
        let o = beeline(&["train", "--config", bad.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("bad.toml"), "{}", stderr(&o));
        for args in [["--loss", "l1"], ["--time-dist", "cosine"], ["--data", "cifar10"], ["--dropout", "2"]] {
            let o = beeline(&["train", args[0], args[1], "--out", out.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).starts_with("error: ") && !stderr(&o).contains("panicked"), "{}", stderr(&o));
        }
        let o = beeline(&["train", "--device", "tpu"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(!out.join("checkpoint.safetensors").exists());
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// The quick real run of the docs: the default rf-toy MLP, 2000 steps on flex, sampled with its
/// recommended sampler (Euler, 50 steps) on the CPU reference. Ignored by default (~15 s of
/// training); `cargo test -p beeline-cli --features train --test train -- --ignored --nocapture`.
#[cfg(feature = "train")]
#[test]
#[ignore]
fn rf_toy_default_run_lands_on_the_three_modes() {
    use beeline::gmm::GaussianMixture;
    use beeline::model::Model;
    use beeline::modelfile::ModelFile;
    use beeline::pipeline::{generate, GenerateRequest, Labels};
    use beeline::sampling::SamplerSpec;
    let d = scratch("rftoy");
    let out = d.join("run");
    let o = beeline(&["train", "--data", "rf-toy", "--steps", "2000", "--device", "flex", "--quiet", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    println!("{}", String::from_utf8_lossy(&o.stdout).trim());
    let file = ModelFile::read(out.join("model.safetensors")).unwrap();
    let spec = SamplerSpec::from_defaults(&file.config.sampler, &file.config.parameterization);
    let mut model = Model::new(&file).unwrap();
    let req = GenerateRequest { seed: 1, num_samples: 2000, batch: 500, labels: Labels::Unconditional, guidance: 1.0, sampler: spec, record_trajectories: false };
    let g = generate(&mut model, 0, &req, &mut |_| {}).unwrap();
    let gmm = GaussianMixture::rf_toy();
    let (means, sd) = (gmm.means(), gmm.stds()[0]);
    let mut counts = vec![0usize; means.len()];
    let mut near = 0;
    for p in g.samples.chunks(2) {
        let dist = |m: &Vec<f64>| ((p[0] as f64 - m[0]).powi(2) + (p[1] as f64 - m[1]).powi(2)).sqrt();
        let (k, dmin) = means.iter().enumerate().map(|(k, m)| (k, dist(m))).min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        counts[k] += 1;
        // 3.03 σ holds 99% of a 2D Gaussian.
        if dmin < 3.03 * sd {
            near += 1;
        }
    }
    let frac = near as f64 / 2000.0;
    println!("Euler 50 steps, 2000 samples: {:.1}% within 3.03σ of a mode; per mode {counts:?}", 100.0 * frac);
    assert!(frac > 0.9, "{frac}");
    assert!(counts.iter().all(|&c| (500..830).contains(&c)), "{counts:?}");
    let _ = std::fs::remove_dir_all(&d);
}
