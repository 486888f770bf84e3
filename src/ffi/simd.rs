//! The unmasking kernels for C: which SIMD level runs, forcing one, masking.

use super::{check_null, fail, guard, rws_result};
use crate::simd::SimdLevel;

/// A SIMD level for unmasking.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rws_simd_level {
    /// Portable word-at-a-time code.
    RWS_SIMD_SCALAR = 0,
    /// x86-64 SSE2.
    RWS_SIMD_SSE2 = 1,
    /// x86-64 AVX2.
    RWS_SIMD_AVX2 = 2,
    /// AArch64 NEON.
    RWS_SIMD_NEON = 3,
}

fn to_level(level: u32) -> Option<SimdLevel> {
    Some(match level {
        0 => SimdLevel::Scalar,
        1 => SimdLevel::Sse2,
        2 => SimdLevel::Avx2,
        3 => SimdLevel::Neon,
        _ => return None,
    })
}

fn from_level(level: SimdLevel) -> rws_simd_level {
    match level {
        SimdLevel::Scalar => rws_simd_level::RWS_SIMD_SCALAR,
        SimdLevel::Sse2 => rws_simd_level::RWS_SIMD_SSE2,
        SimdLevel::Avx2 => rws_simd_level::RWS_SIMD_AVX2,
        SimdLevel::Neon => rws_simd_level::RWS_SIMD_NEON,
    }
}

/// The SIMD level unmasking uses now (chosen once from the CPU, or forced by
/// `ROCWS_SIMD=scalar|sse2|avx2|neon` or `rws_simd_force`). Thread-safe.
#[no_mangle]
pub extern "C" fn rws_simd_active_level() -> rws_simd_level {
    guard(rws_simd_level::RWS_SIMD_SCALAR, || {
        from_level(crate::simd::active_level())
    })
}

/// Forces the unmasking level (an `rws_simd_level` value) for the whole
/// process (tests and benchmarks). `RWS_ERR_UNSUPPORTED` if this CPU cannot
/// run it, `RWS_ERR_INVALID_ARGUMENT` for an unknown value. Thread-safe.
#[no_mangle]
pub extern "C" fn rws_simd_force(level: u32) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let Some(level) = to_level(level) else {
            return fail(rws_result::RWS_ERR_INVALID_ARGUMENT, "unknown SIMD level");
        };
        match crate::simd::force_level(level) {
            Ok(()) => rws_result::RWS_OK,
            Err(e) => fail(rws_result::RWS_ERR_UNSUPPORTED, e.to_string()),
        }
    })
}

/// XORs `len` bytes at `buf` with the 4-byte masking `key`, starting at key
/// position `offset % 4` (the count of payload bytes already unmasked), so a
/// payload split across reads continues where it left off. Masking twice
/// unmasks. `buf` may be NULL only when `len` is 0. Thread-safe.
///
/// # Safety
/// `buf` must point to `len` writable bytes; `key` to 4 readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_mask(
    buf: *mut u8,
    len: usize,
    key: *const u8,
    offset: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(key);
        if len == 0 {
            return rws_result::RWS_OK;
        }
        check_null!(buf);
        // SAFETY: the caller promises `len` writable bytes at `buf` and 4 at `key`.
        let (data, key) = unsafe {
            (
                std::slice::from_raw_parts_mut(buf, len),
                *key.cast::<[u8; 4]>(),
            )
        };
        crate::simd::mask::apply_mask(data, key, offset);
        rws_result::RWS_OK
    })
}
