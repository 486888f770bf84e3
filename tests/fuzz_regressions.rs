//! Replays every fuzz seed (`fuzz/corpus/<target>/`) and every kept finding
//! (`fuzz/regressions/<target>/`) through the same checks the fuzz targets
//! run (`fuzz/src/checks/`), on stable and without libFuzzer, so a fixed
//! crash stays fixed in plain `cargo test`.

#[allow(dead_code)]
#[path = "../fuzz/src/checks/mod.rs"]
mod checks;

use std::path::Path;

/// Runs every input under `fuzz/<kind>/<target>/`; returns how many ran.
/// Panics naming every input that fails.
fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut count = 0;
    let mut failed = Vec::new();
    for target in checks::TARGETS {
        let dir = root.join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            if file
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let data = std::fs::read(&file).unwrap();
            let result = std::panic::catch_unwind(|| checks::run(target, &data));
            if result.is_err() {
                failed.push(format!("{target}: {}", file.display()));
            }
            count += 1;
        }
    }
    assert!(failed.is_empty(), "failing inputs:\n{}", failed.join("\n"));
    count
}

#[test]
fn seed_corpora_pass() {
    let n = replay("corpus");
    // Every target has seeds.
    assert!(n >= checks::TARGETS.len(), "only {n} seeds found");
}

#[test]
fn kept_findings_stay_fixed() {
    replay("regressions");
}
