//! `ROCWS_SIMD` is read once, on first use. This binary runs one test only,
//! so nothing else in the process can pick the level first.

use rocwebsocket::simd::mask::{apply_mask, apply_mask_reference};
use rocwebsocket::simd::{active_level, detected_level, force_level, SimdLevel};

#[test]
fn env_var_selects_level_then_force_overrides() {
    // Edition 2021: `set_var` is safe; no other thread exists yet.
    std::env::set_var("ROCWS_SIMD", "Scalar");
    let mut buf: Vec<u8> = (0..100u8).collect();
    let mut want = buf.clone();
    apply_mask_reference(&mut want, [9, 8, 7, 6], 2);
    apply_mask(&mut buf, [9, 8, 7, 6], 2);
    assert_eq!(buf, want);
    assert_eq!(active_level(), SimdLevel::Scalar);
    // Cached: changing the variable later has no effect.
    std::env::set_var("ROCWS_SIMD", "bogus");
    assert_eq!(active_level(), SimdLevel::Scalar);
    force_level(detected_level()).unwrap();
    assert_eq!(active_level(), detected_level());
    let mut buf2: Vec<u8> = (0..100u8).collect();
    apply_mask(&mut buf2, [9, 8, 7, 6], 2);
    assert_eq!(buf2, want);
}
