//! UTF-8 validation for C: whole buffers and an incremental validator.

use super::handle::{self, try_mut, Boxed};
use super::{fail, guard, rws_result, slice_arg};
use crate::simd::utf8::Utf8Validator;

/// Validates `len` bytes as UTF-8 in one go: `RWS_OK` or `RWS_ERR_UTF8`.
/// Thread-safe.
///
/// # Safety
/// `data` must point to `len` readable bytes (NULL allowed when `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn rws_utf8_validate(data: *const u8, len: usize) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let data = slice_arg!(data, len);
        match crate::simd::utf8::validate(data) {
            Ok(()) => rws_result::RWS_OK,
            Err(e) => fail(rws_result::RWS_ERR_UTF8, e.to_string()),
        }
    })
}

/// An incremental UTF-8 validator: feed chunks, then finish. Opaque. Not
/// thread-safe: use one from one thread at a time.
pub struct rws_utf8_validator(Utf8Validator);

impl Boxed for rws_utf8_validator {}

/// A new validator, or NULL if out of memory. Free with `rws_utf8_validator_free`.
#[no_mangle]
pub extern "C" fn rws_utf8_validator_new() -> *mut rws_utf8_validator {
    guard(std::ptr::null_mut(), || {
        handle::into_c(rws_utf8_validator(Utf8Validator::new()))
    })
}

/// Frees a validator. NULL is a no-op.
/// Any thread, not concurrently with another call on `v`.
///
/// # Safety
/// `v` must be NULL or from `rws_utf8_validator_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rws_utf8_validator_free(v: *mut rws_utf8_validator) {
    // SAFETY: per the contract, `v` is NULL or a live validator freed once.
    guard((), || unsafe { handle::free(v) });
}

/// Feeds the next chunk. `RWS_ERR_UTF8` as soon as the bytes seen so far can
/// no longer be valid (even mid code point); `RWS_OK` otherwise, including
/// when a code point is still incomplete at the chunk's end.
/// Any thread, one call at a time per validator.
///
/// # Safety
/// `v` from `rws_utf8_validator_new`; `data` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_utf8_validator_feed(
    v: *mut rws_utf8_validator,
    data: *const u8,
    len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let v = try_mut!(v);
        let data = slice_arg!(data, len);
        match v.0.feed(data) {
            Ok(()) => rws_result::RWS_OK,
            Err(e) => fail(rws_result::RWS_ERR_UTF8, e.to_string()),
        }
    })
}

/// Ends the text: `RWS_ERR_UTF8` if a code point is left incomplete. The
/// validator is reset either way and may be reused.
/// Any thread, one call at a time per validator.
///
/// # Safety
/// `v` from `rws_utf8_validator_new`.
#[no_mangle]
pub unsafe extern "C" fn rws_utf8_validator_finish(v: *mut rws_utf8_validator) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let v = try_mut!(v);
        let result = v.0.finish();
        v.0.reset();
        match result {
            Ok(()) => rws_result::RWS_OK,
            Err(e) => fail(rws_result::RWS_ERR_UTF8, e.to_string()),
        }
    })
}
