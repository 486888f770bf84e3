//! Result codes, the per-thread last error, and the library version.

use std::cell::RefCell;
use std::ffi::{c_char, CStr};

use super::guard;

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
    /// The connection id names no thread of this engine (0, or an id from
    /// another engine): from the calls taking a `conn` (`rws_engine_send`,
    /// `_close`, `_subscribe`, `_pause_reading`, `_resume_reading`,
    /// `_set_tag`). An id of a connection that has since closed is accepted
    /// and the command dropped (those calls are asynchronous).
    RWS_ERR_UNKNOWN_CONNECTION = 13,
    /// The CPU cannot run the requested SIMD level.
    RWS_ERR_UNSUPPORTED = 14,
    /// A deadline passed with no way to recover (no pong after a keepalive
    /// ping, or a closing handshake that never finished): close the
    /// transport now.
    RWS_TIMED_OUT = 15,
}

impl rws_result {
    /// Every code with its name: the one table both directions read.
    const ALL: [(rws_result, &'static CStr); 16] = [
        (rws_result::RWS_OK, c"RWS_OK"),
        (rws_result::RWS_ERR_NULL, c"RWS_ERR_NULL"),
        (
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            c"RWS_ERR_INVALID_ARGUMENT",
        ),
        (rws_result::RWS_ERR_PANIC, c"RWS_ERR_PANIC"),
        (rws_result::RWS_NEED_MORE, c"RWS_NEED_MORE"),
        (rws_result::RWS_NONE, c"RWS_NONE"),
        (rws_result::RWS_ERR_PROTOCOL, c"RWS_ERR_PROTOCOL"),
        (rws_result::RWS_ERR_UTF8, c"RWS_ERR_UTF8"),
        (rws_result::RWS_ERR_CLOSING, c"RWS_ERR_CLOSING"),
        (
            rws_result::RWS_ERR_BUFFER_TOO_SMALL,
            c"RWS_ERR_BUFFER_TOO_SMALL",
        ),
        (rws_result::RWS_ERR_HANDSHAKE, c"RWS_ERR_HANDSHAKE"),
        (rws_result::RWS_ERR_IO, c"RWS_ERR_IO"),
        (rws_result::RWS_ERR_STOPPED, c"RWS_ERR_STOPPED"),
        (
            rws_result::RWS_ERR_UNKNOWN_CONNECTION,
            c"RWS_ERR_UNKNOWN_CONNECTION",
        ),
        (rws_result::RWS_ERR_UNSUPPORTED, c"RWS_ERR_UNSUPPORTED"),
        (rws_result::RWS_TIMED_OUT, c"RWS_TIMED_OUT"),
    ];

    /// The code whose value is `value`, if any.
    pub fn from_u32(value: u32) -> Option<rws_result> {
        Self::ALL
            .iter()
            .map(|&(code, _)| code)
            .find(|&code| code as u32 == value)
    }

    /// The code's name, as in the header.
    pub fn name(self) -> &'static CStr {
        Self::ALL
            .iter()
            .find(|&&(code, _)| code == self)
            .map_or(c"RWS_UNKNOWN", |&(_, name)| name)
    }
}

thread_local! {
    static LAST_ERROR: RefCell<(rws_result, String)> =
        const { RefCell::new((rws_result::RWS_OK, String::new())) };
}

pub(crate) fn set_error(code: rws_result, message: impl Into<String>) {
    LAST_ERROR.with(|e| *e.borrow_mut() = (code, message.into()));
}

/// Fails with `code` and remembers it and `message` for
/// `rws_last_error_code` and `rws_last_error_message`.
pub(crate) fn fail(code: rws_result, message: impl Into<String>) -> rws_result {
    set_error(code, message);
    code
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

/// A static, NUL-terminated name for a result code ("RWS_OK", ...), or
/// "RWS_UNKNOWN" for a value that is no `rws_result`. Never NULL. Takes the
/// code as an integer: a C caller may pass any value. Thread-safe.
#[no_mangle]
pub extern "C" fn rws_result_name(code: u32) -> *const c_char {
    guard(c"RWS_UNKNOWN".as_ptr(), || {
        rws_result::from_u32(code)
            .map_or(c"RWS_UNKNOWN", rws_result::name)
            .as_ptr()
    })
}

/// The library version as a static NUL-terminated string ("0.1.0"). Never NULL.
/// Thread-safe.
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
