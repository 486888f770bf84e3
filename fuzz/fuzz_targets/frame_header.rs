//! Fuzz target `frame_header`: see `fuzz/src/checks/frame_header.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rocwebsocket_fuzz::checks::frame_header::check(data);
});
