//! Fuzz target `c_codec`: see `fuzz/src/checks/c_codec.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rocwebsocket_fuzz::checks::c_codec::check(data);
});
