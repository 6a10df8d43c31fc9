//! `beeline train` end to end (with the `train` feature; without it, the command only says how
//! to build it). Tiny MLPs on burn's flex backend.
#![cfg_attr(not(feature = "train"), allow(dead_code, unused_imports))]

use std::path::{Path, PathBuf};
use crate::common::{beeline, scratch, stderr};




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
    use beeline::config::{NetRole, Parameterization, Solver};
    use beeline::modelfile::ModelFile;
    use beeline::train::checkpoint::{self, Checkpoint};
    use beeline::train::metrics::MetricsLog;
    use std::time::{Duration, Instant};

    /// Resuming a finished run (as `beeline-lab experiment` does on a rerun) leaves its model file
    /// byte for byte as it was: pairs made from it record the file's digest.
    #[test]
    fn resuming_a_finished_run_keeps_its_model_file() {
        let d = scratch("finished");
        let cfg = tiny_config(&d);
        let out = d.join("run");
        let args = |every: &str| -> Vec<String> {
            ["train", "--config", cfg.to_str().unwrap(), "--steps", "40", "--checkpoint-every", every, "--device", "flex", "--quiet", "--resume", "--out", out.to_str().unwrap()].iter().map(|s| s.to_string()).collect()
        };
        let run = |a: Vec<String>| {
            let o = crate::common::command().args(&a).output().unwrap();
            assert!(o.status.success(), "{}", stderr(&o));
        };
        run(args("20"));
        let before = std::fs::read(out.join("model.safetensors")).unwrap();
        run(args("10"));
        assert!(std::fs::read(out.join("model.safetensors")).unwrap() == before, "the finished run's model file was rewritten");
        // A missing model file is written again from the final checkpoint.
        std::fs::remove_file(out.join("model.safetensors")).unwrap();
        run(args("10"));
        assert!(out.join("model.safetensors").exists());
    }

    /// A run killed with SIGKILL between checkpoints, then resumed, ends with the same
    /// weights, EMA and AdamW state, bit for bit, as a run that was never interrupted. Dropout
    /// 0.1 is on: its masks are reseeded from (seed, step) every step. Its metrics log is one
    /// clean log, with the uninterrupted run's losses.
    #[test]
    fn killed_and_resumed_run_equals_an_uninterrupted_one() {
        let d = scratch("kill");
        let cfg = tiny_config(&d);
        let args: Vec<String> = ["train", "--config", cfg.to_str().unwrap(), "--steps", "1500", "--checkpoint-every", "20", "--dropout", "0.1", "--seed", "7", "--device", "flex", "--quiet"].iter().map(|s| s.to_string()).collect();
        kill_and_resume(&d, "train", &args, &[""], "", 200);
        let (straight, killed) = (d.join("train-straight"), d.join("train-killed"));
        assert_eq!(Checkpoint::read(&killed).unwrap().unwrap().meta.step, 1500);
        // Every 10 steps once, and the same losses as the uninterrupted run.
        let (la, lb) = (MetricsLog::read(&straight).unwrap(), MetricsLog::read(&killed).unwrap());
        assert_eq!(lb.iter().map(|r| r.step).collect::<Vec<_>>(), (1..=150).map(|k| 10 * k).collect::<Vec<_>>());
        assert_eq!(la.iter().map(|r| r.loss).collect::<Vec<_>>(), lb.iter().map(|r| r.loss).collect::<Vec<_>>());
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Runs `args` + `--out straight` to its end, and `args` + `--out killed` until the
    /// checkpoint of `killed/<stage>` passes step `at`, SIGKILLs it, then runs it again with
    /// `--resume`. Every stage's final checkpoint (weights, EMA, AdamW state) and the exported
    /// model must equal the uninterrupted run's bit for bit, and no temporary file may be left.
    fn kill_and_resume(d: &Path, what: &str, args: &[String], stages: &[&str], kill_stage: &str, at: u64) {
        let (straight, killed) = (d.join(format!("{what}-straight")), d.join(format!("{what}-killed")));
        let with_out = |out: &Path| -> Vec<String> { args.iter().cloned().chain(["--out".to_string(), out.to_str().unwrap().to_string()]).collect() };
        let o = crate::common::command().args(with_out(&straight)).output().unwrap();
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        let mut child = crate::common::command().args(with_out(&killed)).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let stage_dir = if kill_stage.is_empty() { killed.clone() } else { killed.join(kill_stage) };
        while checkpoint::read_meta(&stage_dir).ok().flatten().is_none_or(|m| m.step < at) {
            assert!(Instant::now() < deadline, "{what}: no checkpoint appeared");
            assert!(child.try_wait().unwrap().is_none(), "{what}: the run ended before the test could kill it");
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let was = checkpoint::read_meta(&stage_dir).unwrap().unwrap();
        assert!(was.step < was.config.steps, "{what}: the stage finished before it was killed; the test proves nothing");
        let mut resume = with_out(&killed);
        resume.push("--resume".into());
        let o = crate::common::command().args(&resume).output().unwrap();
        assert!(o.status.success(), "{what} --resume: {}", stderr(&o));
        for stage in stages {
            let (a, b) = (Checkpoint::read(&straight.join(stage)).unwrap().unwrap(), Checkpoint::read(&killed.join(stage)).unwrap().unwrap());
            assert_eq!(a.meta.step, b.meta.step, "{what}/{stage}");
            assert!(a.model == b.model && a.ema == b.ema && a.moments == b.moments, "{what}/{stage}: the killed and resumed run differs");
            let names: Vec<String> = std::fs::read_dir(killed.join(stage)).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            assert!(names.iter().all(|n| !n.contains(".tmp-")), "{what}/{stage}: {names:?}");
        }
        let (ma, mb) = (ModelFile::read(straight.join("model.safetensors")).unwrap(), ModelFile::read(killed.join("model.safetensors")).unwrap());
        assert!(ma.weights == mb.weights, "{what}: exported models differ");
        println!("{what}: killed in {kill_stage:?} after step {}, resumed, equal", was.step);
    }

    /// Every training command, and `pairs`, survives SIGKILL: reflow, distill, CAF (killed in
    /// stage 2), PeRFlow and SlimFlow (killed in its distillation stage), each resumed to the
    /// uninterrupted run's result bit for bit; `pairs` killed after some shards, rerun, gives
    /// the same shards byte for byte.
    #[test]
    fn every_method_and_pairs_survive_sigkill() {
        let d = scratch("kill-methods");
        let cfg = tiny_config(&d);
        let p = |x: &Path| x.to_str().unwrap().to_string();
        let run = |args: &[&str]| {
            let o = beeline(args);
            assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        };
        let (rf1, pairs) = (d.join("1rf"), d.join("pairs"));
        run(&["train", "--config", &p(&cfg), "--steps", "30", "--device", "flex", "--quiet", "--out", &p(&rf1)]);
        let teacher = p(&rf1.join("model.safetensors"));
        run(&["pairs", "--model", &teacher, "--num-pairs", "256", "--steps", "4", "--backend", "cpu", "--out", &p(&pairs)]);
        let common = |cmd: &str, extra: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = [cmd, "--steps", "1000", "--checkpoint-every", "10", "--batch", "32", "--seed", "3", "--device", "flex", "--quiet"].iter().map(|s| s.to_string()).collect();
            v.extend(extra.iter().map(|s| s.to_string()));
            v
        };
        let on_pairs = ["--pairs", &p(&pairs), "--init", &teacher];
        kill_and_resume(&d, "reflow", &common("reflow", &on_pairs), &[""], "", 200);
        kill_and_resume(&d, "distill", &common("distill", &on_pairs), &[""], "", 200);
        kill_and_resume(&d, "caf", &common("caf", &[&on_pairs[..], &["--acceleration-steps", "1000"]].concat()), &["initial-velocity", "acceleration"], "acceleration", 200);
        kill_and_resume(&d, "perflow", &common("perflow", &["--teacher", &teacher, "--windows", "2", "--teacher-steps", "1"]), &[""], "", 200);
        kill_and_resume(&d, "slimflow", &common("slimflow", &["--pairs", &p(&pairs), "--config", &p(&cfg), "--anneal", "0.5", "--distill-steps", "1000"]), &["reflow", "distill"], "distill", 200);

        // pairs: killed once a few shards exist, then the same command again.
        let pairs_args = |out: &Path| -> Vec<String> {
            ["pairs", "--model", &teacher, "--num-pairs", "20000", "--shard-size", "500", "--steps", "100", "--backend", "cpu", "--out", &p(out)].iter().map(|s| s.to_string()).collect()
        };
        let (straight, killed) = (d.join("pairs-straight"), d.join("pairs-killed"));
        let o = crate::common::command().args(pairs_args(&straight)).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let mut child = crate::common::command().args(pairs_args(&killed)).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !killed.join("shard-00003.safetensors").exists() {
            assert!(Instant::now() < deadline, "no shard appeared");
            assert!(child.try_wait().unwrap().is_none(), "pairs ended before the test could kill it");
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!killed.join("shard-00039.safetensors").exists(), "pairs finished before it was killed; the test proves nothing");
        let o = crate::common::command().args(pairs_args(&killed)).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let names = |dir: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            v.sort();
            v
        };
        assert_eq!(names(&straight), names(&killed), "a temporary file or a shard is missing or left over");
        for n in names(&straight) {
            assert!(std::fs::read(straight.join(&n)).unwrap() == std::fs::read(killed.join(&n)).unwrap(), "{n} differs after kill and rerun");
        }
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

    /// 1-RF → pairs → reflow (initialised from the 1-RF) → distill, on a tiny MLP, then
    /// `beeline eval` of the one-step model.
    #[test]
    fn pairs_reflow_and_distill_end_to_end() {
        let d = scratch("reflow");
        let cfg = tiny_config(&d);
        let p = |x: &Path| x.to_str().unwrap().to_string();
        let (rf1, pairs, rf2, one) = (d.join("1rf"), d.join("pairs"), d.join("2rf"), d.join("distill"));
        let run = |args: &[&str]| {
            let o = beeline(args);
            assert!(o.status.success(), "{args:?}: {}", stderr(&o));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        run(&["train", "--config", &p(&cfg), "--steps", "30", "--device", "flex", "--quiet", "--out", &p(&rf1)]);
        let teacher = rf1.join("model.safetensors");
        let out = run(&["pairs", "--model", &p(&teacher), "--num-pairs", "96", "--shard-size", "64", "--steps", "8", "--backend", "cpu", "--json", "--out", &p(&pairs)]);
        let j: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!((j["made"].as_u64(), j["nfe"].as_u64()), (Some(96), Some(8)), "{j}");
        assert!(pairs.join("shard-00001.safetensors").exists());
        // Running it again keeps every shard.
        let j: serde_json::Value = serde_json::from_str(run(&["pairs", "--model", &p(&teacher), "--num-pairs", "96", "--shard-size", "64", "--steps", "8", "--backend", "cpu", "--json", "--out", &p(&pairs)]).trim()).unwrap();
        assert_eq!((j["made"].as_u64(), j["kept"].as_u64()), (Some(0), Some(96)), "{j}");

        run(&["reflow", "--pairs", &p(&pairs), "--init", &p(&teacher), "--steps", "20", "--batch", "32", "--time-dist", "u-shaped", "--loss", "pseudo-huber", "--device", "flex", "--quiet", "--out", &p(&rf2)]);
        let m = ModelFile::read(rf2.join("model.safetensors")).unwrap();
        assert!(m.config.provenance.notes["method"].starts_with("reflow"), "{:?}", m.config.provenance.notes);
        assert!(m.config.provenance.data.contains("96 noise-to-data pairs of rf-toy"), "{}", m.config.provenance.data);
        assert_eq!(m.config.provenance.notes["init"], p(&teacher));
        let config = std::fs::read_to_string(rf2.join("config.toml")).unwrap();
        assert!(config.contains("method = \"reflow\"") && config.contains("hidden = 32"), "{config}");

        run(&["distill", "--pairs", &p(&pairs), "--init", &p(&rf2.join("model.safetensors")), "--steps", "20", "--batch", "32", "--device", "flex", "--quiet", "--out", &p(&one)]);
        let m = ModelFile::read(one.join("model.safetensors")).unwrap();
        assert_eq!(m.config.sampler.steps, 1, "a distilled model recommends one step");
        assert!(m.config.provenance.notes["method"].starts_with("one-step distillation"));
        assert_eq!(m.config.provenance.notes["time_dist"], "0");
        let j: serde_json::Value = serde_json::from_str(run(&["eval", "--model", &p(&one.join("model.safetensors")), "--num-samples", "64", "--reference-steps", "10", "--backend", "cpu", "--json"]).trim()).unwrap();
        assert_eq!(j["nfe"].as_u64(), Some(1), "{j}");
        assert!(j["straightness"].as_f64().unwrap() >= 0.0 && j["samples"]["on_mode"].as_f64().is_some(), "{j}");

        // Misuse is a clear usage error.
        let o = beeline(&["reflow", "--steps", "5", "--device", "flex", "--out", &p(&d.join("x"))]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("needs `pairs`"), "{}", stderr(&o));
        // Pairs are held in memory: checked against the budget before a shard is read.
        let o = beeline(&["reflow", "--pairs", &p(&pairs), "--memory-budget", "0.000001", "--device", "flex", "--out", &p(&d.join("z"))]);
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        assert!(stderr(&o).contains("memory budget") && !d.join("z").exists(), "{}", stderr(&o));
        let o = beeline(&["distill", "--pairs", &p(&pairs), "--time-dist", "uniform", "--device", "flex", "--out", &p(&d.join("y"))]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("t = 0"), "{}", stderr(&o));
        let o = beeline(&["pairs", "--model", &p(&teacher), "--num-pairs", "96", "--seed", "5", "--backend", "cpu", "--out", &p(&pairs)]);
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        assert!(stderr(&o).contains("other settings"), "{}", stderr(&o));
        let _ = std::fs::remove_dir_all(&d);
    }

    /// CAF, PeRFlow and SlimFlow end to end on tiny 2D MLPs: each trains, exports one model
    /// file that recommends its own sampler, evaluates, and samples the same on the GPU as on
    /// the CPU when a GPU is expected (CI's software Vulkan).
    #[test]
    fn caf_perflow_and_slimflow_end_to_end() {
        let d = scratch("methods");
        let cfg = tiny_config(&d);
        let p = |x: &Path| x.to_str().unwrap().to_string();
        let run = |args: &[&str]| {
            let o = beeline(args);
            assert!(o.status.success(), "{args:?}: {}", stderr(&o));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let (rf1, pairs) = (d.join("1rf"), d.join("pairs"));
        run(&["train", "--config", &p(&cfg), "--steps", "30", "--device", "flex", "--quiet", "--out", &p(&rf1)]);
        let teacher = rf1.join("model.safetensors");
        run(&["pairs", "--model", &p(&teacher), "--num-pairs", "96", "--steps", "8", "--backend", "cpu", "--out", &p(&pairs)]);
        let eval = |model: &Path, extra: &[&str], backend: &str| -> serde_json::Value {
            let mut args = vec!["eval", "--model", model.to_str().unwrap(), "--num-samples", "64", "--reference-steps", "10", "--backend", backend, "--json"];
            args.extend_from_slice(extra);
            serde_json::from_str(run(&args).trim()).unwrap()
        };

        // CAF: two stages, one file with both networks, one CAF step = 2 evaluations.
        let caf = d.join("caf");
        let caf_args = ["caf", "--pairs", &p(&pairs), "--init", &p(&teacher), "--h", "2", "--steps", "20", "--batch", "32", "--device", "flex", "--quiet", "--out", &p(&caf)];
        run(&caf_args);
        let m = ModelFile::read(caf.join("model.safetensors")).unwrap();
        assert_eq!(m.config.parameterization, Parameterization::Caf { h: 2.0 });
        assert_eq!((m.config.sampler.solver, m.config.sampler.steps), (Solver::Caf, 1));
        assert!(m.config.networks.contains_key(&NetRole::InitialVelocity) && m.config.networks.contains_key(&NetRole::Acceleration));
        let j = eval(&caf.join("model.safetensors"), &["--pairs", &p(&pairs)], "cpu");
        assert_eq!(j["nfe"].as_u64(), Some(2), "{j}");
        assert!(j["coupling"]["mse"].as_f64().unwrap().is_finite(), "{j}");
        // Rerunning without --resume refuses to overwrite; with it, both stages are complete.
        let o = beeline(&caf_args);
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
        let mut resumed = caf_args.to_vec();
        resumed.push("--resume");
        run(&resumed);

        // PeRFlow: two windows, the teacher solved inside each.
        let perflow = d.join("perflow");
        run(&["perflow", "--teacher", &p(&teacher), "--windows", "2", "--teacher-steps", "1", "--steps", "20", "--batch", "32", "--device", "flex", "--quiet", "--out", &p(&perflow)]);
        let m = ModelFile::read(perflow.join("model.safetensors")).unwrap();
        assert_eq!(m.config.parameterization, Parameterization::Perflow { windows: 2 });
        assert_eq!((m.config.sampler.solver, m.config.sampler.steps), (Solver::Perflow, 2));
        assert_eq!(eval(&perflow.join("model.safetensors"), &[], "cpu")["nfe"].as_u64(), Some(2));

        // SlimFlow: annealing reflow, then distillation with the 2-step regulariser.
        let slim = d.join("slimflow");
        run(&["slimflow", "--pairs", &p(&pairs), "--config", &p(&cfg), "--anneal", "0.5", "--steps", "20", "--distill-steps", "10", "--batch", "32", "--device", "flex", "--quiet", "--out", &p(&slim)]);
        let m = ModelFile::read(slim.join("model.safetensors")).unwrap();
        assert_eq!(m.config.sampler.steps, 1);
        assert!(m.config.provenance.notes["teacher"].contains("reflow"), "{:?}", m.config.provenance.notes);
        let flow = std::fs::read_to_string(slim.join("reflow").join("config.toml")).unwrap();
        assert!(flow.contains("anneal = 0.5"), "{flow}");
        // Flips of 2D points are refused (only flip-invariant image sets allow them).
        let o = beeline(&["slimflow", "--pairs", &p(&pairs), "--hflip", "--steps", "5", "--device", "flex", "--out", &p(&d.join("x"))]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("hflip"), "{}", stderr(&o));

        if !beeline::gpu::gpu_tests_skipped("the method models' eval on the GPU") {
            for model in [caf.join("model.safetensors"), perflow.join("model.safetensors"), slim.join("model.safetensors")] {
                let (g, c) = (eval(&model, &[], "gpu"), eval(&model, &[], "cpu"));
                assert_eq!(g["backend"], "gpu");
                for key in ["mse_to_reference", "straightness"] {
                    let (a, b) = (g[key].as_f64().unwrap(), c[key].as_f64().unwrap());
                    // f32 kernels against the f32 CPU reference: rounding only.
                    assert!((a - b).abs() <= 1e-4 + 1e-3 * b.abs(), "{}: {key} {a} on the GPU, {b} on the CPU", model.display());
                }
            }
        }
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
/// training); `cargo test -p beeline-cli --features train --test cli train:: -- --ignored --nocapture`.
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
    let st = beeline::eval::mode_stats(&g.samples, &GaussianMixture::rf_toy()).unwrap();
    println!("Euler 50 steps, 2000 samples: {:.1}% within 3σ of a mode; per mode {:?}", 100.0 * st.on_mode, st.per_mode);
    assert!(st.on_mode > 0.9, "{st:?}");
    assert!(st.per_mode.iter().all(|&p| (0.25..0.42).contains(&p)), "{st:?}");
    let _ = std::fs::remove_dir_all(&d);
}
