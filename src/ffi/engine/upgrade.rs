//! Upgrade decisions from C: the `rws_upgrade` object lent to a callback
//! engine's `on_upgrade`, the batched engine's answers to UPGRADE events, and
//! the buffered amount of a connection asked from any thread.

use std::ffi::c_char;

use super::super::handle::{self, try_lent, try_ref, Lent};
use super::super::{c_str, check_null, fail, guard, rws_result, slice_arg};
use super::rws_engine;
use super::send::handle_result;
use crate::net::{ConnId, HandleError, Upgrade, UpgradeRequest};
use crate::proto::handshake;

/// An upgrade request lent to the `on_upgrade` callback, valid only during
/// it: read the request with the `rws_upgrade_*` getters, decide with
/// `rws_upgrade_accept`, `rws_upgrade_add_header` or `rws_upgrade_reject`.
/// A callback that decides nothing accepts with the configured subprotocol
/// preference.
pub struct rws_upgrade<'a> {
    request: UpgradeRequest<'a>,
    protocol: Option<String>,
    headers: Vec<(String, String)>,
    reject: Option<(u16, String)>,
}

impl Lent for rws_upgrade<'_> {}

impl<'a> rws_upgrade<'a> {
    pub(super) fn new(request: UpgradeRequest<'a>) -> rws_upgrade<'a> {
        rws_upgrade {
            protocol: request.protocol.map(str::to_owned),
            request,
            headers: Vec::new(),
            reject: None,
        }
    }

    /// The decision the callback made.
    pub(super) fn decision(self) -> Upgrade {
        match self.reject {
            Some((status, body)) => Upgrade::Reject { status, body },
            None => Upgrade::Accept {
                protocol: self.protocol,
                headers: self.headers,
            },
        }
    }
}

/// Writes `bytes`' length to `len` (if not NULL) and returns their address.
///
/// # Safety
/// `len` NULL or writable.
unsafe fn out_bytes(bytes: &[u8], len: *mut usize) -> *const u8 {
    if !len.is_null() {
        // SAFETY: per the contract, a non-NULL `len` is writable.
        unsafe { len.write(bytes.len()) };
    }
    bytes.as_ptr()
}

/// The callback's upgrade object, or None (NULL).
///
/// # Safety
/// `up` NULL or the one passed to the running callback.
unsafe fn lent<'a>(up: *mut rws_upgrade<'a>) -> Option<&'a mut rws_upgrade<'a>> {
    // SAFETY: per the contract above.
    unsafe { handle::lent_mut(up) }
}

/// The id the connection keeps if accepted (0 for NULL).
///
/// # Safety
/// `up` NULL or the one passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_conn(up: *mut rws_upgrade) -> u64 {
    // SAFETY: per the contract above.
    guard(0, || unsafe { lent(up) }.map_or(0, |u| u.request.id.0))
}

/// The request path (with its query), `*len` bytes, not NUL-terminated;
/// NULL for a NULL `up`. Valid during the callback.
///
/// # Safety
/// `up` NULL or the one passed to the running callback; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_path(up: *mut rws_upgrade, len: *mut usize) -> *const u8 {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract above.
        match unsafe { lent(up) } {
            // SAFETY: per the contract above.
            Some(u) => unsafe { out_bytes(u.request.request.path.as_bytes(), len) },
            None => std::ptr::null(),
        }
    })
}

/// The peer's address (`ip:port`, or `unix`), `*len` bytes, not
/// NUL-terminated; NULL for a NULL `up`. Valid during the callback.
///
/// # Safety
/// `up` NULL or the one passed to the running callback; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_peer(up: *mut rws_upgrade, len: *mut usize) -> *const u8 {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract above.
        match unsafe { lent(up) } {
            // SAFETY: per the contract above.
            Some(u) => unsafe { out_bytes(u.request.peer.as_bytes(), len) },
            None => std::ptr::null(),
        }
    })
}

/// The value of the first request header named `name` (case-insensitive;
/// `"Origin"` for the origin check), `*len` bytes, not NUL-terminated; NULL
/// when the request has no such header. Valid during the callback.
///
/// # Safety
/// `up` NULL or the one passed to the running callback; `name` a C string;
/// `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_header(
    up: *mut rws_upgrade,
    name: *const c_char,
    len: *mut usize,
) -> *const u8 {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract above.
        let (Some(u), Ok(name)) = (unsafe { lent(up) }, unsafe { c_str(name) }) else {
            return std::ptr::null();
        };
        let headers = &u.request.request.headers;
        match headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            // SAFETY: per the contract above.
            Some((_, v)) => unsafe { out_bytes(v, len) },
            None => std::ptr::null(),
        }
    })
}

/// Request headers, in arrival order (0 for NULL).
///
/// # Safety
/// `up` NULL or the one passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_header_count(up: *mut rws_upgrade) -> usize {
    guard(0, || {
        // SAFETY: per the contract above.
        unsafe { lent(up) }.map_or(0, |u| u.request.request.headers.len())
    })
}

/// Header `index` (below `rws_upgrade_header_count`): its name and value,
/// neither NUL-terminated, valid during the callback.
/// `RWS_ERR_INVALID_ARGUMENT` past the last one.
///
/// # Safety
/// `up` the one passed to the running callback; the four out-pointers writable.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_header_at(
    up: *mut rws_upgrade,
    index: usize,
    name: *mut *const u8,
    name_len: *mut usize,
    value: *mut *const u8,
    value_len: *mut usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(name, name_len, value, value_len);
        let u = try_lent!(up);
        let Some((n, v)) = u.request.request.headers.get(index) else {
            return fail(rws_result::RWS_ERR_INVALID_ARGUMENT, "no such header");
        };
        // SAFETY: the out-pointers are writable per the contract above.
        unsafe {
            name.write(out_bytes(n.as_bytes(), name_len));
            value.write(out_bytes(v, value_len));
        }
        rws_result::RWS_OK
    })
}

/// Subprotocols the client offered (`Sec-WebSocket-Protocol`), 0 for NULL.
///
/// # Safety
/// `up` NULL or the one passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_protocol_count(up: *mut rws_upgrade) -> usize {
    guard(0, || {
        // SAFETY: per the contract above.
        unsafe { lent(up) }.map_or(0, |u| u.request.request.protocols.len())
    })
}

/// Offered subprotocol `index`, `*len` bytes, not NUL-terminated; NULL past
/// the last. Valid during the callback.
///
/// # Safety
/// `up` NULL or the one passed to the running callback; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_protocol_at(
    up: *mut rws_upgrade,
    index: usize,
    len: *mut usize,
) -> *const u8 {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract above.
        match unsafe { lent(up) }.and_then(|u| u.request.request.protocols.get(index)) {
            // SAFETY: per the contract above.
            Some(p) => unsafe { out_bytes(p.as_bytes(), len) },
            None => std::ptr::null(),
        }
    })
}

/// Accepts the request with subprotocol `protocol` (one the client offered:
/// else `RWS_ERR_INVALID_ARGUMENT` and nothing changes), or with none for
/// NULL. Undoes an earlier `rws_upgrade_reject`.
///
/// # Safety
/// `up` the one passed to the running callback; `protocol` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_accept(
    up: *mut rws_upgrade,
    protocol: *const c_char,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let u = try_lent!(up);
        let protocol = if protocol.is_null() {
            None
        } else {
            // SAFETY: per the contract above.
            match unsafe { c_str(protocol) } {
                Ok(p) => Some(p),
                Err(e) => return e,
            }
        };
        if let Some(p) = protocol {
            if !u.request.request.protocols.iter().any(|o| o == p) {
                return fail(
                    rws_result::RWS_ERR_INVALID_ARGUMENT,
                    format!("subprotocol {p:?} was not offered"),
                );
            }
        }
        u.protocol = protocol.map(str::to_owned);
        u.reject = None;
        rws_result::RWS_OK
    })
}

/// The headers the 101 answer may not take from the host, or ones that
/// cannot be written: checked as the handshake would.
fn check_header(request: &handshake::Request, name: &str, value: &str) -> Result<(), rws_result> {
    let mut scratch = Vec::new();
    handshake::write_accept_response(&mut scratch, request, None, &[(name, value)])
        .map_err(|e| fail(rws_result::RWS_ERR_INVALID_ARGUMENT, e.to_string()))
}

/// Adds a header to the 101 answer (copied). `RWS_ERR_INVALID_ARGUMENT` for
/// one the handshake sets itself (`Upgrade`, `Connection`,
/// `Sec-WebSocket-Accept`, `-Protocol`, `-Extensions`) or that contains CR,
/// LF or other bytes a header may not.
///
/// # Safety
/// `up` the one passed to the running callback; `name` and `value` C strings.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_add_header(
    up: *mut rws_upgrade,
    name: *const c_char,
    value: *const c_char,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let u = try_lent!(up);
        // SAFETY: per the contract above.
        let (name, value) = match (unsafe { c_str(name) }, unsafe { c_str(value) }) {
            (Ok(n), Ok(v)) => (n, v),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        if let Err(e) = check_header(u.request.request, name, value) {
            return e;
        }
        u.headers.push((name.to_owned(), value.to_owned()));
        rws_result::RWS_OK
    })
}

/// A reject status and body from C: a 4xx or 5xx status, a UTF-8 body.
fn reject_args(status: u16, body: &[u8]) -> Result<(u16, String), rws_result> {
    if !(400..600).contains(&status) {
        return Err(fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "an upgrade is rejected with a 4xx or 5xx status",
        ));
    }
    match std::str::from_utf8(body) {
        Ok(b) => Ok((status, b.to_owned())),
        Err(_) => Err(fail(rws_result::RWS_ERR_UTF8, "body is not UTF-8")),
    }
}

/// Rejects the request: the client gets `status` (400 to 599, else
/// `RWS_ERR_INVALID_ARGUMENT`) with `body` (UTF-8 text, copied) and the
/// socket closes; no OPEN or CLOSE event follows.
///
/// # Safety
/// `up` the one passed to the running callback; `body` `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_upgrade_reject(
    up: *mut rws_upgrade,
    status: u16,
    body: *const u8,
    len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let u = try_lent!(up);
        let body = slice_arg!(body, len);
        match reject_args(status, body) {
            Ok(r) => {
                u.reject = Some(r);
                rws_result::RWS_OK
            }
            Err(e) => e,
        }
    })
}

fn decide_result(r: Result<(), HandleError>) -> rws_result {
    handle_result(r)
}

/// Batched engines with `decide_upgrades`: accepts the request of an
/// UPGRADE event, from any thread, with subprotocol `protocol` (NULL: none;
/// one the client offered, else the client gets 500) and `header_count`
/// extra response headers given as `headers[2*i]` (name) and
/// `headers[2*i+1]` (value), checked now (`RWS_ERR_INVALID_ARGUMENT` for a
/// reserved or malformed one). The OPEN event follows. Asynchronous like
/// `rws_engine_send`: a connection that timed out (the handshake timeout
/// runs while the host decides) or was answered already ignores it.
///
/// # Safety
/// `e` live; `protocol` NULL or a C string; `headers` `2 * header_count` C
/// strings (NULL when 0).
#[no_mangle]
pub unsafe extern "C" fn rws_engine_accept_upgrade(
    e: *const rws_engine,
    conn: u64,
    protocol: *const c_char,
    headers: *const *const c_char,
    header_count: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        let protocol = if protocol.is_null() {
            None
        } else {
            // SAFETY: per the contract above.
            match unsafe { c_str(protocol) } {
                Ok(p) => Some(p.to_owned()),
                Err(r) => return r,
            }
        };
        if header_count > 0 && headers.is_null() {
            return fail(rws_result::RWS_ERR_NULL, "headers is NULL");
        }
        // Headers are checked against no request in particular.
        let no_request = handshake::Request {
            path: String::new(),
            headers: Vec::new(),
            key: String::new(),
            protocols: Vec::new(),
            extensions: Vec::new(),
        };
        let mut extra = Vec::with_capacity(header_count);
        for i in 0..header_count {
            // SAFETY: `headers` holds `2 * header_count` C strings per the contract.
            let (name, value) = unsafe { (*headers.add(2 * i), *headers.add(2 * i + 1)) };
            // SAFETY: per the contract above.
            let (name, value) = match (unsafe { c_str(name) }, unsafe { c_str(value) }) {
                (Ok(n), Ok(v)) => (n, v),
                (Err(r), _) | (_, Err(r)) => return r,
            };
            if let Err(r) = check_header(&no_request, name, value) {
                return r;
            }
            extra.push((name.to_owned(), value.to_owned()));
        }
        let decision = Upgrade::Accept {
            protocol,
            headers: extra,
        };
        decide_result(e.handle.decide_upgrade(ConnId(conn), decision))
    })
}

/// Batched engines with `decide_upgrades`: rejects the request of an
/// UPGRADE event, from any thread, with `status` (400 to 599, else
/// `RWS_ERR_INVALID_ARGUMENT`) and `body` (UTF-8 text, copied); the socket
/// then closes, and no OPEN or CLOSE event follows. Asynchronous like
/// `rws_engine_accept_upgrade`.
///
/// # Safety
/// `e` live; `body` `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_reject_upgrade(
    e: *const rws_engine,
    conn: u64,
    status: u16,
    body: *const u8,
    len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        let body = slice_arg!(body, len);
        match reject_args(status, body) {
            Ok((status, body)) => {
                let decision = Upgrade::Reject { status, body };
                decide_result(e.handle.decide_upgrade(ConnId(conn), decision))
            }
            Err(r) => r,
        }
    })
}

/// Stores in `*out` the bytes queued on open connection `conn` and not yet
/// written, as its thread recorded them after its last write or send; from
/// any thread, at any time. `RWS_ERR_UNKNOWN_CONNECTION` for a connection
/// not open (not yet, or no longer).
///
/// # Safety
/// `e` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_buffered_amount(
    e: *const rws_engine,
    conn: u64,
    out: *mut usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(out);
        let e = try_ref!(e);
        match e.handle.buffered_amount(ConnId(conn)) {
            Ok(n) => {
                // SAFETY: `out` is writable per the contract above.
                unsafe { out.write(n) };
                rws_result::RWS_OK
            }
            Err(err) => handle_result(Err(err)),
        }
    })
}
