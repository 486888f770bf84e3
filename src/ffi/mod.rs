//! The C ABI: a thin layer over `proto`, `simd` and `net`.
//!
//! Conventions, the same for every function:
//! - every exported body runs inside [`guard`], so a Rust panic becomes
//!   `RWS_ERR_PANIC` (or NULL) and never unwinds into C;
//! - every pointer argument is checked: NULL where not allowed gives
//!   `RWS_ERR_NULL`;
//! - failures set a per-thread message readable with `rws_last_error_message`;
//! - objects are opaque, created by `rws_X_new`/`_start` and released by
//!   `rws_X_free`, which accepts NULL.
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub mod codec;
pub mod engine;
pub mod handshake;
pub mod log;
mod queue;

/// Result codes of every `rws_` function that can fail. Values are stable and
/// never reused.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rws_result {
    /// Success.
    RWS_OK = 0,
    /// A required pointer argument was NULL.
    RWS_ERR_NULL = 1,
    /// An argument was out of range or malformed (see `rws_last_error_message`).
    RWS_ERR_INVALID_ARGUMENT = 2,
    /// A bug inside rocwebsocket was caught at the boundary; the object involved
    /// should be freed and not used further.
    RWS_ERR_PANIC = 3,
    /// More input bytes are needed (incremental parsers).
    RWS_NEED_MORE = 4,
    /// Nothing to report (no event ready).
    RWS_NONE = 5,
    /// The peer violated RFC 6455; a close code says which rule.
    RWS_ERR_PROTOCOL = 6,
    /// Invalid UTF-8.
    RWS_ERR_UTF8 = 7,
    /// The connection is closing: no more data may be sent.
    RWS_ERR_CLOSING = 8,
    /// A caller-provided buffer was too small; nothing was written.
    RWS_ERR_BUFFER_TOO_SMALL = 9,
    /// The opening handshake was refused; an HTTP status says why.
    RWS_ERR_HANDSHAKE = 10,
    /// An operating-system error (bind, connect, ...).
    RWS_ERR_IO = 11,
    /// The engine has stopped.
    RWS_ERR_STOPPED = 12,
    /// The connection id is not (or no longer) known.
    RWS_ERR_UNKNOWN_CONNECTION = 13,
    /// The CPU cannot run the requested SIMD level.
    RWS_ERR_UNSUPPORTED = 14,
}

thread_local! {
    static LAST_ERROR: RefCell<(rws_result, String)> =
        const { RefCell::new((rws_result::RWS_OK, String::new())) };
}

fn set_error(code: rws_result, message: impl Into<String>) {
    LAST_ERROR.with(|e| *e.borrow_mut() = (code, message.into()));
}

/// Fails with `code` and remembers it and `message` for
/// `rws_last_error_code` and `rws_last_error_message`.
pub(crate) fn fail(code: rws_result, message: impl Into<String>) -> rws_result {
    set_error(code, message);
    code
}

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

/// Copies the calling thread's last error message into `buf` (at most
/// `len - 1` bytes and a terminating NUL) and returns the message's full length
/// in bytes (without NUL), so a caller can tell it was cut short. `buf` may be
/// NULL when `len` is 0. The message stays until the next failing `rws_` call
/// on this thread. Thread-safe (per-thread state).
///
/// # Safety
/// `buf` must be NULL or have `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_last_error_message(buf: *mut c_char, len: usize) -> usize {
    guard(0, || {
        LAST_ERROR.with(|e| {
            let e = &e.borrow().1;
            if len > 0 && !buf.is_null() {
                let n = e.len().min(len - 1);
                // SAFETY: `buf` has room for `len` bytes per the contract; we write n + 1 <= len.
                unsafe {
                    std::ptr::copy_nonoverlapping(e.as_ptr(), buf.cast::<u8>(), n);
                    *buf.add(n) = 0;
                }
            }
            e.len()
        })
    })
}

/// The code of the calling thread's last failure (`RWS_OK` if none yet): how
/// a NULL from a constructor such as `rws_engine_start` says why (for example
/// `RWS_ERR_INVALID_ARGUMENT` for a bad listen address, `RWS_ERR_IO` for an
/// address in use). Kept until the next failing `rws_` call on this thread.
/// Thread-safe (per-thread state).
#[no_mangle]
pub extern "C" fn rws_last_error_code() -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        LAST_ERROR.with(|e| e.borrow().0)
    })
}

/// A static, NUL-terminated name for a result code ("RWS_OK", ...). Never NULL.
#[no_mangle]
pub extern "C" fn rws_result_name(code: rws_result) -> *const c_char {
    let name: &'static [u8] = match code {
        rws_result::RWS_OK => b"RWS_OK\0",
        rws_result::RWS_ERR_NULL => b"RWS_ERR_NULL\0",
        rws_result::RWS_ERR_INVALID_ARGUMENT => b"RWS_ERR_INVALID_ARGUMENT\0",
        rws_result::RWS_ERR_PANIC => b"RWS_ERR_PANIC\0",
        rws_result::RWS_NEED_MORE => b"RWS_NEED_MORE\0",
        rws_result::RWS_NONE => b"RWS_NONE\0",
        rws_result::RWS_ERR_PROTOCOL => b"RWS_ERR_PROTOCOL\0",
        rws_result::RWS_ERR_UTF8 => b"RWS_ERR_UTF8\0",
        rws_result::RWS_ERR_CLOSING => b"RWS_ERR_CLOSING\0",
        rws_result::RWS_ERR_BUFFER_TOO_SMALL => b"RWS_ERR_BUFFER_TOO_SMALL\0",
        rws_result::RWS_ERR_HANDSHAKE => b"RWS_ERR_HANDSHAKE\0",
        rws_result::RWS_ERR_IO => b"RWS_ERR_IO\0",
        rws_result::RWS_ERR_STOPPED => b"RWS_ERR_STOPPED\0",
        rws_result::RWS_ERR_UNKNOWN_CONNECTION => b"RWS_ERR_UNKNOWN_CONNECTION\0",
        rws_result::RWS_ERR_UNSUPPORTED => b"RWS_ERR_UNSUPPORTED\0",
    };
    name.as_ptr().cast()
}

/// The library version as a static NUL-terminated string ("0.1.0"). Never NULL.
#[no_mangle]
pub extern "C" fn rws_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The library version as `major * 10000 + minor * 100 + patch`.
#[no_mangle]
pub extern "C" fn rws_version_number() -> u32 {
    let n = |s: &str| s.parse::<u32>().unwrap_or(0);
    n(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
        + n(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + n(env!("CARGO_PKG_VERSION_PATCH"))
}
