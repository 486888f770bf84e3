//! Fuzz target `handshake_request`: see `fuzz/src/checks/handshake_request.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rocwebsocket_fuzz::checks::handshake_request::check(data);
});
