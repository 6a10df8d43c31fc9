//! `beeline experiment NAME --quick`: every reproduction end to end at test size (tiny
//! networks, tens of training steps), then `scripts/results.py` over what they wrote. This
//! checks that each pipeline runs, that its files are where the report reads them (no claim
//! left "not run"), and that the all-methods table spends the NFE it says. It does not check
//! what the methods achieve: at this size they have not learned anything (docs/RESULTS.md
//! has the full-size runs).
#![cfg(feature = "train")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn experiment(root: &Path, name: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_beeline")).args(["experiment", name, "--quick", "--out", root.to_str().unwrap()]).output().expect("the binary runs");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "experiment {name}: {err}");
    err
}

fn json(path: PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_experiment_runs_at_quick_size_and_feeds_the_report() {
    let root = std::env::temp_dir().join(format!("beeline-experiments-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let names = ["reflow-2d", "rfpp-2d", "caf-2d", "compare-mnist", "simple-reflow-mnist", "inversion-mnist", "slimflow-fashion"];
    for name in names {
        experiment(&root, name);
    }

    // Spot checks of what the steps wrote.
    let toy = json(root.join("2d/eval-2rf-1.json"));
    assert!(toy["samples"]["sliced_w1"].as_f64().is_some_and(|v| v.is_finite() && v > 0.0), "{toy}");
    assert_eq!(toy["num_samples"], 500);
    let caf = json(root.join("mnist/eval-caf-1.json"));
    assert!(caf["coupling"]["psnr"].as_f64().is_some() && caf["fd"]["samples"].as_f64().is_some(), "{caf}");
    assert_eq!(caf["classifier"]["per_class"].as_array().map(Vec::len), Some(10));
    // The comparison spends exactly the NFE its file names say, whatever the sampler.
    for (tag, nfe) in [("teacher-euler", 1), ("2rf-fireflow", 2), ("2rf-fireflow", 8), ("caf", 2), ("caf", 8), ("perflow-sync", 4), ("distill-euler", 1)] {
        let j = json(root.join(format!("mnist/compare-{tag}-{nfe}.json")));
        assert_eq!(j["nfe"], nfe, "compare-{tag}-{nfe}: {j}");
        assert_eq!(j["num_samples"], 16);
        assert!(j.get("straightness").is_none(), "--reference-steps 0 skips the fine solve");
    }
    assert!(root.join("img/mnist-quality-vs-nfe.png").exists());
    assert!(root.join("img/compare-caf-2nfe.png").exists());

    // A second run finds every step done and runs nothing.
    let again = experiment(&root, "reflow-2d");
    assert!(again.lines().filter(|l| l.starts_with('[')).all(|l| l.contains("done before")), "{again}");

    // The report reads every claim's numbers from these files.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let report = root.join("RESULTS.md");
    let o = Command::new("python3")
        .arg(repo.join("scripts/results.py"))
        .args(["--runs", root.to_str().unwrap(), "--img", root.join("img").to_str().unwrap(), "--out", report.to_str().unwrap()])
        .output()
        .expect("python3 runs scripts/results.py (Debian's python3)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&report).unwrap();
    let claims = text.lines().filter(|l| l.ends_with("** |")).count();
    assert!(claims >= 20, "{claims} claims\n{text}");
    assert!(!text.contains("not run"), "a claim or table cell has no numbers:\n{text}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_names_and_paths_are_usage_errors() {
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_beeline")).args(args).output().unwrap();
    let o = run(&["experiment", "no-such-thing", "--quick"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("reflow-2d"), "the error lists the experiments");
    let o = run(&["experiment", "reflow-2d", "--quick", "--out", "/tmp/a folder"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["experiment", "--list"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("compare-mnist"));
    let o = run(&["experiment", "caf-mnist", "--dry-run"]);
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    // The dependencies' steps come first: the teacher is trained before CAF.
    let (t, c) = (plan.find("beeline train").unwrap(), plan.find("beeline caf").unwrap());
    assert!(t < c, "{plan}");
}
