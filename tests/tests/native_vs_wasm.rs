//! The same seed gives bit-identical noise on native and on wasm32: the probe crate is built for
//! `wasm32-unknown-unknown` and run under Node, and its numbers are compared with this process's.
//!
//! Needs the wasm32 target (`rustup target add wasm32-unknown-unknown`) and `node`; the test
//! fails, rather than skips, when either is missing.

use beeline::noise;
use std::path::PathBuf;
use std::process::Command;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Builds the probe for wasm32 into its own target directory (so it does not wait on the lock of
/// the running test build) and returns the `.wasm` path.
fn build_probe() -> PathBuf {
    let root = workspace_root();
    let target_dir = root.join("target").join("wasm-probe");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "-p", "beeline-wasm-probe", "--target", "wasm32-unknown-unknown", "--target-dir"])
        .arg(&target_dir)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the wasm32 probe failed: is the target installed? `rustup target add wasm32-unknown-unknown`");
    target_dir.join("wasm32-unknown-unknown/release/beeline_wasm_probe.wasm")
}

#[test]
fn noise_is_bit_identical_on_native_and_wasm32() {
    let wasm = build_probe();
    let seeds: [u64; 4] = [0, 42, 0xDEAD_BEEF_0000_0001, u64::MAX];
    let split = |s: u64| (s as u32, (s >> 32) as u32);
    let fp_req: Vec<[u64; 4]> = seeds.iter().map(|&s| [split(s).0 as u64, split(s).1 as u64, 8, 1000]).collect();
    let val_req: Vec<[u64; 5]> = seeds.iter().map(|&s| [split(s).0 as u64, split(s).1 as u64, 3, 2, 7]).collect();
    let request = format!(
        "{{\"fingerprints\":{},\"values\":{}}}",
        serde_like(&fp_req.iter().map(|a| a.to_vec()).collect::<Vec<_>>()),
        serde_like(&val_req.iter().map(|a| a.to_vec()).collect::<Vec<_>>())
    );
    let out = Command::new("node")
        .arg(workspace_root().join("tests/wasm-probe/probe.mjs"))
        .arg(&wasm)
        .arg(&request)
        .output()
        .expect("`node` must be installed to run the wasm32 side of this test");
    assert!(out.status.success(), "node failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();

    let mut expected = String::from("{\"fingerprints\":[");
    for (i, &s) in seeds.iter().enumerate() {
        let fp = noise::fingerprint(&noise::gaussian_batch(s, 0, 8, 1000));
        expected += &format!("{}\"{fp}\"", if i > 0 { "," } else { "" });
    }
    expected += "],\"values\":[";
    for (i, &s) in seeds.iter().enumerate() {
        let bits: Vec<String> = noise::gaussian_batch(s, 3, 2, 7).iter().map(|v| v.to_bits().to_string()).collect();
        expected += &format!("{}[{}]", if i > 0 { "," } else { "" }, bits.join(","));
    }
    expected += "]}";
    assert_eq!(text.trim(), expected, "wasm32 noise differs from native");
    // And both reproduce the pinned golden value.
    assert_eq!(noise::fingerprint(&noise::gaussian_batch(42, 0, 8, 1000)), noise::GOLDEN_FINGERPRINT_SEED42_8X1000);
}

fn serde_like(v: &[Vec<u64>]) -> String {
    let rows: Vec<String> = v.iter().map(|r| format!("[{}]", r.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","))).collect();
    format!("[{}]", rows.join(","))
}
