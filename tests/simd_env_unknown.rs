//! An unknown `ROCWS_SIMD` value is ignored: the detected level is used.

use rocwebsocket::simd::{active_level, detected_level};

#[test]
fn unknown_env_value_falls_back_to_detected() {
    std::env::set_var("ROCWS_SIMD", "avx512-please");
    assert_eq!(active_level(), detected_level());
}
