//! The opening handshake through the C ABI: parse a request and answer it
//! (server), build a request and check the answer (client).

use std::ffi::{c_char, CString};

use super::handle::{self, try_mut, try_ref, Boxed};
use super::{c_str, check_null, fail, guard, rws_result, slice_arg};
use crate::proto::handshake::{
    self, ClientHandshake, ClientHandshakeError, Request, DEFAULT_MAX_HEAD,
};

/// A parsed, validated upgrade request. Opaque; strings it returns stay valid
/// until `rws_request_free`. Not thread-safe.
pub struct rws_request {
    request: Request,
    path: CString,
    headers: Vec<(String, CString)>,
    protocols: Vec<CString>,
}

impl Boxed for rws_request {}

fn cstring(s: &[u8]) -> CString {
    // Header values cannot hold NUL (httparse rejects it); be safe anyway.
    CString::new(s.iter().copied().filter(|&b| b != 0).collect::<Vec<u8>>()).unwrap_or_default()
}

fn copy_out(src: &[u8], out: *mut u8, cap: usize, written: *mut usize) -> rws_result {
    // SAFETY: `written` was checked non-NULL by the caller and is writable per its contract.
    unsafe { written.write(src.len()) };
    if src.len() > cap || (out.is_null() && !src.is_empty()) {
        return fail(
            rws_result::RWS_ERR_BUFFER_TOO_SMALL,
            format!("{} bytes needed, {cap} given", src.len()),
        );
    }
    // SAFETY: `out` has `cap >= src.len()` writable bytes per the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), out, src.len()) };
    rws_result::RWS_OK
}

/// Parses an upgrade request from `len` bytes at `data` (`max_head` limits the
/// request head; 0 means 8 KiB).
///
/// - `RWS_OK`: `*out` receives the request (free with `rws_request_free`) and
///   `*consumed` the length of the head; bytes after it are WebSocket frames.
/// - `RWS_NEED_MORE`: the head is incomplete.
/// - `RWS_ERR_HANDSHAKE`: `*status` receives the HTTP status to answer with
///   (400, 405, 426, 431); `rws_handshake_write_error` writes that answer.
///
/// Thread-safe.
///
/// # Safety
/// `data` points to `len` readable bytes; `out`, `consumed`, `status` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_handshake_parse_request(
    data: *const u8,
    len: usize,
    max_head: usize,
    out: *mut *mut rws_request,
    consumed: *mut usize,
    status: *mut u16,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(out, consumed, status);
        let data = slice_arg!(data, len);
        let max_head = if max_head == 0 {
            DEFAULT_MAX_HEAD
        } else {
            max_head
        };
        match handshake::parse_request(data, max_head) {
            Ok(None) => rws_result::RWS_NEED_MORE,
            Ok(Some((request, n))) => {
                let wrapped = rws_request {
                    path: cstring(request.path.as_bytes()),
                    headers: request
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), cstring(v)))
                        .collect(),
                    protocols: request
                        .protocols
                        .iter()
                        .map(|p| cstring(p.as_bytes()))
                        .collect(),
                    request,
                };
                // SAFETY: the out-pointers are writable per the contract.
                unsafe {
                    out.write(handle::into_c(wrapped));
                    consumed.write(n);
                    status.write(101);
                }
                rws_result::RWS_OK
            }
            Err(e) => {
                // SAFETY: `status` is writable per the contract.
                unsafe { status.write(e.status) };
                fail(rws_result::RWS_ERR_HANDSHAKE, e.to_string())
            }
        }
    })
}

/// Frees a request. NULL is a no-op.
/// Any thread, not concurrently with another call on `r`.
///
/// # Safety
/// `r` NULL or from `rws_handshake_parse_request`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rws_request_free(r: *mut rws_request) {
    // SAFETY: per the contract, `r` is NULL or live, and freed once.
    guard((), || unsafe { handle::free(r) });
}

/// The request path (with query). NULL only if `r` is NULL.
/// Thread-safe (a parsed request does not change).
///
/// # Safety
/// `r` NULL or a live request.
#[no_mangle]
pub unsafe extern "C" fn rws_request_path(r: *const rws_request) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract above.
        unsafe { handle::as_ref(r) }.map_or(std::ptr::null(), |r| r.path.as_ptr())
    })
}

/// The first header named `name` (case-insensitive), or NULL if absent.
/// Thread-safe (a parsed request does not change).
///
/// # Safety
/// `r` a live request; `name` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rws_request_header(
    r: *const rws_request,
    name: *const c_char,
) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract above.
        let (Some(r), Ok(name)) = (unsafe { handle::as_ref(r) }, unsafe { c_str(name) }) else {
            return std::ptr::null();
        };
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or(std::ptr::null(), |(_, v)| v.as_ptr())
    })
}

/// How many subprotocols the client offered.
/// Thread-safe (a parsed request does not change).
///
/// # Safety
/// `r` NULL or a live request.
#[no_mangle]
pub unsafe extern "C" fn rws_request_protocol_count(r: *const rws_request) -> usize {
    guard(0, || {
        // SAFETY: per the contract above.
        unsafe { handle::as_ref(r) }.map_or(0, |r| r.protocols.len())
    })
}

/// The `i`-th offered subprotocol, or NULL when out of range.
/// Thread-safe (a parsed request does not change).
///
/// # Safety
/// `r` NULL or a live request.
#[no_mangle]
pub unsafe extern "C" fn rws_request_protocol(r: *const rws_request, i: usize) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract above.
        let Some(r) = (unsafe { handle::as_ref(r) }) else {
            return std::ptr::null();
        };
        r.protocols.get(i).map_or(std::ptr::null(), |p| p.as_ptr())
    })
}

/// Writes the `101 Switching Protocols` answer to `r` into `out` (`cap`
/// bytes), choosing `protocol` (NULL for none; it must be one the client
/// offered). `*written` receives the answer's length, also when
/// `RWS_ERR_BUFFER_TOO_SMALL` says `cap` was short (nothing is written then).
/// Thread-safe (a parsed request does not change).
///
/// # Safety
/// `r` a live request; `protocol` NULL or a C string; `out` `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_handshake_write_accept(
    r: *const rws_request,
    protocol: *const c_char,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let r = try_ref!(r);
        check_null!(written);
        let protocol = if protocol.is_null() {
            None
        } else {
            // SAFETY: per the contract above.
            match unsafe { c_str(protocol) } {
                Ok(p) => Some(p),
                Err(e) => return e,
            }
        };
        let mut answer = Vec::new();
        if let Err(e) = handshake::write_accept_response(&mut answer, &r.request, protocol, &[]) {
            return fail(rws_result::RWS_ERR_INVALID_ARGUMENT, e.to_string());
        }
        copy_out(&answer, out, cap, written)
    })
}

/// Writes a complete HTTP error response with `status` (as given by
/// `rws_handshake_parse_request`, or any 4xx/5xx of the host's choosing) into
/// `out`. 426 carries `Sec-WebSocket-Version: 13`. Buffer rules as for
/// `rws_handshake_write_accept`. Thread-safe.
///
/// # Safety
/// `out` has `cap` writable bytes; `written` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_handshake_write_error(
    status: u16,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(written);
        if !(400..600).contains(&status) {
            return fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "status must be 4xx or 5xx",
            );
        }
        let mut answer = Vec::new();
        handshake::HandshakeError {
            status,
            reason: handshake::status_text(status),
        }
        .write_response(&mut answer);
        copy_out(&answer, out, cap, written)
    })
}

/// A client's upgrade request in flight. Opaque; not thread-safe.
pub struct rws_client_handshake {
    handshake: ClientHandshake,
    protocol: Option<CString>,
}

impl Boxed for rws_client_handshake {}

/// Writes an upgrade request for `path` on `host` (the Host header value,
/// with `:port` when not 80) with a fresh random key into `out`, offering
/// `protocol_count` subprotocols from `protocols` (may be NULL when 0).
/// Returns the handshake state to check the answer with (free with
/// `rws_client_handshake_free`), or NULL on failure (bad arguments, or `cap`
/// too small: `*written` then holds the size needed; see `rws_last_error_message`).
/// Thread-safe.
///
/// # Safety
/// `host`, `path` C strings; `protocols` `protocol_count` C strings; `out` `cap`
/// writable bytes; `written` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_client_handshake_new(
    host: *const c_char,
    path: *const c_char,
    protocols: *const *const c_char,
    protocol_count: usize,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> *mut rws_client_handshake {
    guard(std::ptr::null_mut(), || {
        if written.is_null() {
            fail(rws_result::RWS_ERR_NULL, "written is NULL");
            return std::ptr::null_mut();
        }
        // SAFETY: per the contract above.
        let (Ok(host), Ok(path)) = (unsafe { c_str(host) }, unsafe { c_str(path) }) else {
            return std::ptr::null_mut();
        };
        let mut offered = Vec::with_capacity(protocol_count);
        if protocol_count > 0 {
            if protocols.is_null() {
                fail(rws_result::RWS_ERR_NULL, "protocols is NULL");
                return std::ptr::null_mut();
            }
            for i in 0..protocol_count {
                // SAFETY: `protocols` holds `protocol_count` C strings per the contract.
                match unsafe { c_str(*protocols.add(i)) } {
                    Ok(p) => offered.push(p),
                    Err(_) => return std::ptr::null_mut(),
                }
            }
        }
        let mut request = Vec::new();
        let handshake =
            match ClientHandshake::write_request(&mut request, host, path, &offered, &[]) {
                Ok(h) => h,
                Err(e) => {
                    fail(rws_result::RWS_ERR_INVALID_ARGUMENT, e.to_string());
                    return std::ptr::null_mut();
                }
            };
        if copy_out(&request, out, cap, written) != rws_result::RWS_OK {
            return std::ptr::null_mut();
        }
        handle::into_c(rws_client_handshake {
            handshake,
            protocol: None,
        })
    })
}

/// Checks the server's answer in `len` bytes at `data`: `RWS_OK` (then
/// `*consumed` is the answer's length; bytes after it are frames),
/// `RWS_NEED_MORE`, or `RWS_ERR_HANDSHAKE` with the server's status in
/// `*status` (or 0 when the answer was malformed or failed a check).
/// Any thread, one call at a time per handshake.
///
/// # Safety
/// `h` live; `data` `len` readable bytes; `consumed`, `status` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_client_handshake_check(
    h: *mut rws_client_handshake,
    data: *const u8,
    len: usize,
    consumed: *mut usize,
    status: *mut u16,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let h = try_mut!(h);
        check_null!(consumed, status);
        let data = slice_arg!(data, len);
        match h.handshake.parse_response(data, DEFAULT_MAX_HEAD) {
            Ok(None) => rws_result::RWS_NEED_MORE,
            Ok(Some((response, n))) => {
                h.protocol = response.protocol.map(|p| cstring(p.as_bytes()));
                // SAFETY: writable per the contract.
                unsafe {
                    consumed.write(n);
                    status.write(101);
                }
                rws_result::RWS_OK
            }
            Err(e) => {
                let code = if let ClientHandshakeError::Status(s) = e {
                    s
                } else {
                    0
                };
                // SAFETY: writable per the contract.
                unsafe { status.write(code) };
                fail(rws_result::RWS_ERR_HANDSHAKE, e.to_string())
            }
        }
    })
}

/// The subprotocol the server chose (after `RWS_OK` from the check), or NULL.
/// Any thread, one call at a time per handshake.
///
/// # Safety
/// `h` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rws_client_handshake_protocol(
    h: *const rws_client_handshake,
) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract above.
        let Some(h) = (unsafe { handle::as_ref(h) }) else {
            return std::ptr::null();
        };
        h.protocol.as_ref().map_or(std::ptr::null(), |p| p.as_ptr())
    })
}

/// Frees a client handshake. NULL is a no-op.
/// Any thread, not concurrently with another call on `h`.
///
/// # Safety
/// `h` NULL or from `rws_client_handshake_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rws_client_handshake_free(h: *mut rws_client_handshake) {
    // SAFETY: per the contract, `h` is NULL or live, and freed once.
    guard((), || unsafe { handle::free(h) });
}
