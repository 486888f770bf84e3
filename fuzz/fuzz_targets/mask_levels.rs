//! Fuzz target `mask_levels`: see `fuzz/src/checks/mask_levels.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rocwebsocket_fuzz::checks::mask_levels::check(data);
});
