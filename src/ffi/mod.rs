//! The C ABI: a thin layer over `proto`, `simd` and `net`.
//!
//! Conventions, the same for every function:
//! - every exported body runs inside `guard`, so a Rust panic becomes
//!   `RWS_ERR_PANIC` (or NULL) and never unwinds into C;
//! - every pointer argument is checked: NULL where not allowed gives
//!   `RWS_ERR_NULL`;
//! - failures set a per-thread message readable with `rws_last_error_message`;
//! - objects are opaque, created by `rws_X_new`/`_start` and released by
//!   `rws_X_free`, which accepts NULL.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub mod close;
pub mod conn;
pub mod deflate;
pub mod engine;
pub mod event;
pub mod frame;
pub(crate) mod handle;
pub mod handshake;
pub mod log;
pub mod result;
pub mod simd;
pub mod tls;
pub mod utf8;

// One flat namespace for Rust callers, as the C header has.
pub use self::log::{rws_log_callback, rws_log_level, rws_set_log_callback};
pub use close::*;
pub use conn::*;
pub use engine::callbacks::*;
pub use engine::config::*;
pub use engine::connect::*;
pub use engine::feed::*;
pub use engine::options::*;
pub use engine::poll::*;
pub use engine::protocol::*;
pub use engine::send::*;
pub use engine::upgrade::*;
pub use engine::*;
pub use event::*;
pub use frame::*;
pub use handshake::*;
pub use result::*;
pub(crate) use result::{fail, set_error};
pub use simd::*;
pub use tls::*;
pub use utf8::*;

/// Runs `body`, turning a panic into `on_panic`.
pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            set_error(
                rws_result::RWS_ERR_PANIC,
                format!("internal error (panic): {what}"),
            );
            on_panic
        }
    }
}

/// Returns `RWS_ERR_NULL` from the enclosing function when a pointer is NULL.
macro_rules! check_null {
    ($($ptr:ident),+) => {
        $(
            if $ptr.is_null() {
                return $crate::ffi::fail($crate::ffi::rws_result::RWS_ERR_NULL, concat!(stringify!($ptr), " is NULL"));
            }
        )+
    };
}
pub(crate) use check_null;

/// Evaluates to the byte slice behind a `(pointer, length)` argument pair, or
/// returns `RWS_ERR_NULL` from the enclosing function when the pointer is NULL
/// and the length is not 0. Only for pairs that the exported function's
/// documented contract declares readable for that length.
macro_rules! slice_arg {
    ($ptr:ident, $len:expr) => {
        // SAFETY: the exported function's contract promises `$len` readable bytes at `$ptr`.
        match unsafe { $crate::ffi::bytes($ptr, $len) } {
            Some(slice) => slice,
            None => {
                return $crate::ffi::fail(
                    $crate::ffi::rws_result::RWS_ERR_NULL,
                    concat!(stringify!($ptr), " is NULL"),
                )
            }
        }
    };
}
pub(crate) use slice_arg;

/// Evaluates to the `&str` behind a NUL-terminated C string argument, or
/// returns the failure (`RWS_ERR_NULL`, or `RWS_ERR_INVALID_ARGUMENT` for one
/// that is not UTF-8) from the enclosing function. Only for arguments that the
/// exported function's documented contract declares NULL or NUL-terminated.
macro_rules! str_arg {
    ($ptr:expr) => {
        // SAFETY: the exported function's contract: NULL or a NUL-terminated string.
        match unsafe { $crate::ffi::c_str($ptr) } {
            Ok(s) => s,
            Err(r) => return r,
        }
    };
}
pub(crate) use str_arg;

/// A byte slice from a pointer and a length; NULL is fine when the length is 0.
///
/// # Safety
/// If `len > 0`, `ptr` must point to `len` readable bytes that stay valid for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        Some(&[])
    } else if ptr.is_null() {
        None
    } else {
        // SAFETY: the caller promises `len` readable bytes at `ptr`.
        Some(unsafe { std::slice::from_raw_parts(ptr, len) })
    }
}

/// A close reason from a pointer and a length: UTF-8, NULL allowed when empty.
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn close_reason<'a>(ptr: *const u8, len: usize) -> Result<&'a str, rws_result> {
    // SAFETY: the caller's contract is the one `bytes` needs.
    let Some(reason) = (unsafe { bytes(ptr, len) }) else {
        return Err(fail(rws_result::RWS_ERR_NULL, "reason is NULL"));
    };
    std::str::from_utf8(reason)
        .map_err(|_| fail(rws_result::RWS_ERR_UTF8, "close reason is not UTF-8"))
}

/// A UTF-8 string from a NUL-terminated C string.
///
/// # Safety
/// `ptr` must be NULL or a valid NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char) -> Result<&'a str, rws_result> {
    if ptr.is_null() {
        return Err(fail(rws_result::RWS_ERR_NULL, "string argument is NULL"));
    }
    // SAFETY: the caller promises a NUL-terminated string.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| {
        fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "string argument is not UTF-8",
        )
    })
}
