//! The lab's commands. `beeline-lab experiment NAME --quick`: every reproduction end to end at test size (tiny
//! networks, tens of training steps), then `lab/scripts/results.py` over what they wrote. This
//! checks that each pipeline runs, that its files are where the report reads them (no claim
//! left "not run"), and that the all-methods table spends the NFE it says. It does not check
//! what the methods achieve: at this size they have not learned anything (docs/RESULTS.md
//! has the full-size runs).
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_beeline-lab")).args(args).output().expect("the lab binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn experiment(root: &Path, name: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_beeline-lab")).args(["experiment", name, "--quick", "--out", root.to_str().unwrap()]).output().expect("the binary runs");
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
    // A root with a space in its name: each step's arguments are split before the paths go in.
    let root = std::env::temp_dir().join(format!("beeline experiments {}", std::process::id()));
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
    let lab_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let report = root.join("RESULTS.md");
    let o = Command::new("python3")
        .arg(lab_dir.join("scripts/results.py"))
        .args(["--runs", root.to_str().unwrap(), "--img", root.join("img").to_str().unwrap(), "--out", report.to_str().unwrap()])
        .output()
        .expect("python3 runs lab/scripts/results.py (Debian's python3)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&report).unwrap();
    let claims = text.lines().filter(|l| l.ends_with("** |")).count();
    assert!(claims >= 20, "{claims} claims\n{text}");
    assert!(!text.contains("not run"), "a claim or table cell has no numbers:\n{text}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_names_and_paths_are_usage_errors() {
    let run = lab;
    let o = run(&["experiment", "no-such-thing", "--quick"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("reflow-2d"), "the error lists the experiments");
    // A folder with a space is quoted in the printed commands, as a shell takes them.
    let o = run(&["experiment", "reflow-2d", "--quick", "--out", "/tmp/a folder", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--out '/tmp/a folder/2d/1rf'"), "{}", String::from_utf8_lossy(&o.stdout));
    let o = run(&["experiment", "--list"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("compare-mnist"));
    let o = run(&["experiment", "caf-mnist", "--dry-run"]);
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    // The dependencies' steps come first: the teacher's couplings are made before CAF trains on
    // them. At full size the teacher is the compiled-in one, so nothing trains it.
    let (p, c) = (plan.find("beeline pairs").unwrap(), plan.find("beeline caf").unwrap());
    assert!(p < c, "{plan}");
    assert!(!plan.contains("beeline train"), "{plan}");
}

/// `benchmarks` on small shapes: the generated section replaces the one between the markers
/// (the text around it kept), every model × backend × step count is measured, and the
/// browser's figures become a column when their file exists (and are said to be missing
/// otherwise). No timing assertions.
#[test]
fn benchmarks_writes_the_tables_between_the_markers() {
    let d = std::env::temp_dir().join(format!("beeline-lab-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let doc = d.join("BENCHMARKS.md");
    let begin = "<!-- beeline-lab benchmarks: begin (generated; edit the text around it, not this) -->";
    let end = "<!-- beeline-lab benchmarks: end -->";
    std::fs::write(&doc, format!("# Benchmarks\n\nintro\n\n{begin}\nold\n{end}\n\noutro\n")).unwrap();
    let browser = d.join("browser.json");
    std::fs::write(
        &browser,
        r#"{"date": "2026-01-02", "browser": "Chromium 140", "adapter": "SwiftShader", "machine": "test box",
            "models": {"rf-toy-2rf": {"backend": "webgpu", "cold_start_ms": {"wasm": 10, "model": 2, "pipeline": 30},
                                      "steps": {"1": {"warm_ms_per_image": 0.0123, "batch": 64}, "2": {"warm_ms_per_image": 0.02, "batch": 64}}},
                       "rf-toy-2rf@cpu": {"backend": "cpu", "cold_start_ms": {"wasm": 10, "model": 2, "pipeline": 0},
                                      "steps": {"1": {"warm_ms_per_image": 0.5, "batch": 64}}}}}"#,
    )
    .unwrap();
    let json_out = d.join("native.json");
    let mut args = vec!["benchmarks", "--models", "rf-toy-2rf,mnist-onestep", "--steps", "1,2", "--num-samples", "2", "--num-points", "50", "--iters", "1"];
    let backends = "wgsl,cpu,burn-flex";
    args.extend(["--backends", backends, "--doc", doc.to_str().unwrap(), "--browser", browser.to_str().unwrap(), "--out", json_out.to_str().unwrap(), "--json"]);
    let o = lab(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("--json prints JSON");
    let ran: Vec<&str> = j["backends"].as_array().unwrap().iter().filter(|b| b["ran"] == true).map(|b| b["backend"].as_str().unwrap()).collect();
    assert!(ran.contains(&"cpu"));
    if !beeline::gpu::gpu_tests_skipped("bench's wgsl column") {
        assert!(ran.contains(&"wgsl"), "wgsl did not run (no adapter? BEELINE_GPU_TESTS=skip skips it): {}", j["backends"]);
    }
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len(), 2 * 2 * ran.len(), "{j}");
    for r in results {
        assert!(r["cold_ms_per_sample"].as_f64().unwrap() > 0.0 && r["warm_ms_per_sample"].as_f64().unwrap() > 0.0, "{r}");
        assert_eq!(r["samples"], if r["model"] == "rf-toy-2rf" { 50 } else { 2 });
    }
    let on_disk: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    assert_eq!(on_disk["results"], j["results"]);

    let md = std::fs::read_to_string(&doc).unwrap();
    assert!(md.starts_with("# Benchmarks\n\nintro\n\n") && md.ends_with(&format!("{end}\n\noutro\n")), "{md}");
    assert!(!md.contains("\nold\n"), "{md}");
    assert!(md.contains("### rf-toy-2rf") && md.contains("### mnist-onestep"), "{md}");
    assert!(md.contains("| steps | NFE | wgsl cold | wgsl warm | cpu cold | cpu warm |") || !ran.contains(&"wgsl"), "{md}");
    assert!(md.contains("browser warm | browser CPU warm |"), "{md}");
    assert!(md.contains("0.012 (batch 64)") && md.contains("Chromium 140"), "{md}");
    assert!(md.contains("Load average"), "{md}");

    // Without the browser's file the table says so.
    let o = lab(&["benchmarks", "--models", "rf-toy-1rf", "--steps", "1", "--num-points", "20", "--iters", "1", "--backends", "cpu", "--doc", doc.to_str().unwrap(), "--browser", d.join("none.json").to_str().unwrap(), "--out", json_out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(&doc).unwrap();
    assert!(md.contains("missing:") && md.contains("none.json") && md.contains("### rf-toy-1rf") && !md.contains("### mnist-onestep"), "{md}");

    // Bad input: an unknown model (exit 5, the bundled names listed), zero steps (exit 4).
    let o = lab(&["benchmarks", "--models", "nope", "--backends", "cpu", "--doc", doc.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("mnist-onestep"), "{}", stderr(&o));
    let o = lab(&["benchmarks", "--steps", "0", "--backends", "cpu", "--doc", doc.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}
