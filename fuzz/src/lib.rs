//! The checks behind the fuzz targets, one module per target, each against a
//! reference (see `fuzz/README.md`). They are plain functions of the input
//! bytes, so `tests/fuzz_regressions.rs` in the main crate replays every seed
//! and every kept crash with stable `cargo test`.

pub mod checks;
