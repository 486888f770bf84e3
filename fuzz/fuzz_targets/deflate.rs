//! Fuzz target `deflate`: see `fuzz/src/checks/deflate.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rocwebsocket_fuzz::checks::deflate::check(data);
});
