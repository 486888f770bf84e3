//! One module per fuzz target; each `check(data)` panics on any finding.
//!
//! Shared by the fuzz crate (`fuzz/src/lib.rs`) and by the main crate's
//! `tests/fuzz_regressions.rs` (through `#[path]`), so this code names only
//! `rocwebsocket`, `bytes`, `httparse` and std.

pub mod input;
pub mod reference;

pub mod c_codec;
pub mod conn_chunks;
pub mod conn_model;
pub mod deflate;
pub mod frame_header;
pub mod handshake_request;
pub mod handshake_response;
pub mod mask_levels;
pub mod utf8_split;

/// Every target, by name (the directory names under `fuzz/corpus/` and
/// `fuzz/regressions/`).
pub const TARGETS: &[&str] = &[
    "c_codec",
    "conn_chunks",
    "conn_model",
    "deflate",
    "frame_header",
    "handshake_request",
    "handshake_response",
    "mask_levels",
    "utf8_split",
];

/// Runs the check of `target` on `data`; panics on a finding or an unknown name.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "c_codec" => c_codec::check(data),
        "conn_chunks" => conn_chunks::check(data),
        "conn_model" => conn_model::check(data),
        "deflate" => deflate::check(data),
        "frame_header" => frame_header::check(data),
        "handshake_request" => handshake_request::check(data),
        "handshake_response" => handshake_response::check(data),
        "mask_levels" => mask_levels::check(data),
        "utf8_split" => utf8_split::check(data),
        other => panic!("unknown fuzz target {other}"),
    }
}
