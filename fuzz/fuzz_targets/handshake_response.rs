//! Fuzz target `handshake_response`: see `fuzz/src/checks/handshake_response.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rocwebsocket_fuzz::checks::handshake_response::check(data);
});
