//! Fuzz target `conn_chunks`: see `fuzz/src/checks/conn_chunks.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rocwebsocket_fuzz::checks::conn_chunks::check(data);
});
