//! Replays the fuzz target's check (`core/fuzz/check.rs`) on its seeds and on every input that
//! ever crashed it (`core/fuzz/regressions/`, one file per crash, added when it was fixed), so a
//! fixed crash stays fixed without a fuzzing toolchain.

#[path = "../../fuzz/check.rs"]
mod check;

#[test]
fn fuzz_seeds_and_past_crashes_pass_the_fuzz_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let (mut n, mut generated) = (0, 0);
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            match std::panic::catch_unwind(|| check::check(&data)) {
                Ok(g) => generated += usize::from(g),
                Err(_) => panic!("{} fails the fuzz check", path.display()),
            }
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} inputs found under {}", root.display());
    assert_eq!(generated, 4, "every seed (MLP f32/f16, guided UNet, CAF pair) reaches generation");
}
