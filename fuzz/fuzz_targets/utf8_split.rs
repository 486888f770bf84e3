//! Fuzz target `utf8_split`: see `fuzz/src/checks/utf8_split.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rocwebsocket_fuzz::checks::utf8_split::check(data);
});
