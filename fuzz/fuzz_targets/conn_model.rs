//! Fuzz target `conn_model`: see `fuzz/src/checks/conn_model.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rocwebsocket_fuzz::checks::conn_model::check(data);
});
