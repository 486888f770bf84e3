//! The codec layer of the C ABI, for hosts that run their own event loop:
//! unmasking, UTF-8 validation, frame headers, close codes and the sans-IO
//! connection object.

use std::ffi::c_char;

use bytes::Bytes;

use super::{check_null, close_reason, fail, guard, rws_result, slice_arg};
use crate::proto::close::CloseCode;
use crate::proto::frame::{self, OpCode, Role};
use crate::proto::{ConnConfig, Connection, Event, SendError};
use crate::simd::utf8::Utf8Validator;
use crate::simd::SimdLevel;

// ---- close codes ----

/// 1000: normal closure.
pub const RWS_CLOSE_NORMAL: u16 = 1000;
/// 1001: going away (shutdown, navigation).
pub const RWS_CLOSE_GOING_AWAY: u16 = 1001;
/// 1002: protocol error.
pub const RWS_CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// 1003: unsupported data.
pub const RWS_CLOSE_UNSUPPORTED_DATA: u16 = 1003;
/// 1005: local only: the close frame had no code.
pub const RWS_CLOSE_NO_STATUS: u16 = 1005;
/// 1006: local only: the connection ended without a closing handshake.
pub const RWS_CLOSE_ABNORMAL: u16 = 1006;
/// 1007: invalid payload data (bad UTF-8).
pub const RWS_CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// 1008: policy violation.
pub const RWS_CLOSE_POLICY_VIOLATION: u16 = 1008;
/// 1009: message too big.
pub const RWS_CLOSE_TOO_BIG: u16 = 1009;
/// 1010: mandatory extension missing.
pub const RWS_CLOSE_MANDATORY_EXTENSION: u16 = 1010;
/// 1011: internal server error.
pub const RWS_CLOSE_INTERNAL_ERROR: u16 = 1011;
/// 1012: service restart (IANA).
pub const RWS_CLOSE_SERVICE_RESTART: u16 = 1012;
/// 1013: try again later (IANA).
pub const RWS_CLOSE_TRY_AGAIN_LATER: u16 = 1013;
/// 1014: bad gateway (IANA).
pub const RWS_CLOSE_BAD_GATEWAY: u16 = 1014;
/// 1015: local only: TLS handshake failure.
pub const RWS_CLOSE_TLS_HANDSHAKE: u16 = 1015;

/// Frame opcode: continuation.
pub const RWS_OPCODE_CONTINUATION: u8 = 0x0;
/// Frame opcode: text.
pub const RWS_OPCODE_TEXT: u8 = 0x1;
/// Frame opcode: binary.
pub const RWS_OPCODE_BINARY: u8 = 0x2;
/// Frame opcode: close.
pub const RWS_OPCODE_CLOSE: u8 = 0x8;
/// Frame opcode: ping.
pub const RWS_OPCODE_PING: u8 = 0x9;
/// Frame opcode: pong.
pub const RWS_OPCODE_PONG: u8 = 0xA;

/// The longest frame header in bytes.
pub const RWS_MAX_HEADER_LEN: usize = 14;

/// A close code's name ("normal closure", "message too big", "private
/// application code", "invalid", ...): static, NUL-terminated, never NULL.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn rws_close_code_name(code: u16) -> *const c_char {
    guard(c"invalid".as_ptr(), || {
        let name: &'static std::ffi::CStr = match CloseCode(code).name() {
            "normal closure" => c"normal closure",
            "going away" => c"going away",
            "protocol error" => c"protocol error",
            "unsupported data" => c"unsupported data",
            "reserved" => c"reserved",
            "no status received" => c"no status received",
            "abnormal closure" => c"abnormal closure",
            "invalid frame payload data" => c"invalid frame payload data",
            "policy violation" => c"policy violation",
            "message too big" => c"message too big",
            "mandatory extension" => c"mandatory extension",
            "internal error" => c"internal error",
            "service restart" => c"service restart",
            "try again later" => c"try again later",
            "bad gateway" => c"bad gateway",
            "TLS handshake failure" => c"TLS handshake failure",
            "registered application code" => c"registered application code",
            "private application code" => c"private application code",
            _ => c"invalid",
        };
        name.as_ptr()
    })
}

/// Whether `code` may be sent in (and accepted from) a close frame: 1000-1003,
/// 1007-1014 and 3000-4999. Thread-safe.
#[no_mangle]
pub extern "C" fn rws_close_code_is_sendable(code: u16) -> bool {
    CloseCode(code).is_sendable()
}

// ---- SIMD ----

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

// ---- UTF-8 ----

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

/// A new validator, or NULL if out of memory. Free with `rws_utf8_validator_free`.
#[no_mangle]
pub extern "C" fn rws_utf8_validator_new() -> *mut rws_utf8_validator {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(rws_utf8_validator(Utf8Validator::new())))
    })
}

/// Frees a validator. NULL is a no-op.
///
/// # Safety
/// `v` must be NULL or from `rws_utf8_validator_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rws_utf8_validator_free(v: *mut rws_utf8_validator) {
    if !v.is_null() {
        // SAFETY: per the contract, `v` came from Box::into_raw and is freed once.
        guard((), || drop(unsafe { Box::from_raw(v) }));
    }
}

/// Feeds the next chunk. `RWS_ERR_UTF8` as soon as the bytes seen so far can
/// no longer be valid (even mid code point); `RWS_OK` otherwise, including
/// when a code point is still incomplete at the chunk's end.
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
        check_null!(v);
        // SAFETY: per the contract above.
        let v = unsafe { &mut *v };
        let data = slice_arg!(data, len);
        match v.0.feed(data) {
            Ok(()) => rws_result::RWS_OK,
            Err(e) => fail(rws_result::RWS_ERR_UTF8, e.to_string()),
        }
    })
}

/// Ends the text: `RWS_ERR_UTF8` if a code point is left incomplete. The
/// validator is reset either way and may be reused.
///
/// # Safety
/// `v` from `rws_utf8_validator_new`.
#[no_mangle]
pub unsafe extern "C" fn rws_utf8_validator_finish(v: *mut rws_utf8_validator) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(v);
        // SAFETY: per the contract above.
        let v = unsafe { &mut *v };
        let result = v.0.finish();
        v.0.reset();
        match result {
            Ok(()) => rws_result::RWS_OK,
            Err(e) => fail(rws_result::RWS_ERR_UTF8, e.to_string()),
        }
    })
}

// ---- frame headers ----

/// Which end of a connection this is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rws_role {
    /// Receives masked frames, sends unmasked ones.
    RWS_ROLE_SERVER = 0,
    /// Receives unmasked frames, sends masked ones.
    RWS_ROLE_CLIENT = 1,
}

/// An `rws_role` value from C, checked.
fn role(r: u32) -> Result<Role, rws_result> {
    match r {
        0 => Ok(Role::Server),
        1 => Ok(Role::Client),
        _ => Err(fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "role must be RWS_ROLE_SERVER or RWS_ROLE_CLIENT",
        )),
    }
}

/// A parsed frame header.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rws_frame_header {
    /// The FIN bit.
    pub fin: bool,
    /// RSV1..RSV3 as 0b0RRR.
    pub rsv: u8,
    /// The opcode (`RWS_OPCODE_*`).
    pub opcode: u8,
    /// Whether a masking key is present.
    pub masked: bool,
    /// The masking key (zero when not masked).
    pub mask: [u8; 4],
    /// The announced payload length (not yet checked against any limit).
    pub payload_len: u64,
    /// The header's own length, 2 to 14.
    pub header_len: u32,
}

/// Parses a frame header from the first `len` bytes at `data`, as received by
/// `receiver` (an `rws_role`: masking rules depend on it), with `allowed_rsv` the RSV bits
/// negotiated extensions allow (0 without extensions).
///
/// Returns `RWS_OK` and fills `*out`; `RWS_NEED_MORE` when `data` holds only a
/// valid prefix; `RWS_ERR_PROTOCOL` with the close code to fail with in
/// `*close_code` (may be NULL). Reads nothing past `len`. Thread-safe.
///
/// # Safety
/// `data` points to `len` readable bytes; `out` to a writable header.
#[no_mangle]
pub unsafe extern "C" fn rws_frame_parse_header(
    data: *const u8,
    len: usize,
    receiver: u32,
    allowed_rsv: u8,
    out: *mut rws_frame_header,
    close_code: *mut u16,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(out);
        let data = slice_arg!(data, len);
        let receiver = match role(receiver) {
            Ok(r) => r,
            Err(e) => return e,
        };
        match frame::parse_header(data, receiver, allowed_rsv) {
            Ok(None) => rws_result::RWS_NEED_MORE,
            Ok(Some(h)) => {
                let header = rws_frame_header {
                    fin: h.fin,
                    rsv: h.rsv,
                    opcode: h.opcode as u8,
                    masked: h.mask.is_some(),
                    mask: h.mask.unwrap_or_default(),
                    payload_len: h.payload_len,
                    header_len: h.header_len as u32,
                };
                // SAFETY: `out` is non-NULL and writable per the contract.
                unsafe { out.write(header) };
                rws_result::RWS_OK
            }
            Err(e) => {
                if !close_code.is_null() {
                    // SAFETY: non-NULL `close_code` is writable per the contract.
                    unsafe { close_code.write(e.close_code().0) };
                }
                fail(rws_result::RWS_ERR_PROTOCOL, e.to_string())
            }
        }
    })
}

/// Writes a frame header into `out` (room for `RWS_MAX_HEADER_LEN` bytes) and
/// stores its length in `*written`. `mask` is a 4-byte key for client frames,
/// or NULL for server frames (masking the payload is the caller's job:
/// `rws_mask`). Thread-safe.
///
/// # Safety
/// `out` must have 14 writable bytes; `mask` NULL or 4 readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_frame_encode_header(
    out: *mut u8,
    fin: bool,
    opcode: u8,
    mask: *const u8,
    payload_len: u64,
    written: *mut usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(out, written);
        let Ok(opcode) = OpCode::from_u8(opcode) else {
            return fail(rws_result::RWS_ERR_INVALID_ARGUMENT, "reserved opcode");
        };
        if opcode.is_control() && (payload_len > 125 || !fin) {
            return fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "control frames are final and at most 125 bytes",
            );
        }
        if payload_len >> 63 != 0 {
            return fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "payload length over 2^63 - 1",
            );
        }
        // SAFETY: non-NULL `mask` has 4 readable bytes per the contract.
        let key = (!mask.is_null()).then(|| unsafe { *mask.cast::<[u8; 4]>() });
        let mut header = [0u8; frame::MAX_HEADER_LEN];
        let n = frame::encode_header(&mut header, fin, 0, opcode, key, payload_len);
        // SAFETY: `out` has 14 writable bytes and `written` is writable, per the contract.
        unsafe {
            std::ptr::copy_nonoverlapping(header.as_ptr(), out, n);
            written.write(n);
        }
        rws_result::RWS_OK
    })
}

// ---- the sans-IO connection ----

/// What happened.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rws_event_type {
    /// No event (the slot is unused).
    RWS_EVENT_NONE = 0,
    /// A whole text message (valid UTF-8; not NUL-terminated).
    RWS_EVENT_TEXT = 1,
    /// A whole binary message.
    RWS_EVENT_BINARY = 2,
    /// A ping arrived; the pong was queued automatically.
    RWS_EVENT_PING = 3,
    /// A pong arrived.
    RWS_EVENT_PONG = 4,
    /// The connection closed (engine) or the peer's close frame arrived
    /// (codec); `close_code` and the reason in `data`/`len`.
    RWS_EVENT_CLOSE = 5,
    /// The peer broke the protocol; `close_code` is what the connection was
    /// failed with, the reason in `data`/`len`.
    RWS_EVENT_ERROR = 6,
    /// A connection opened (engine): `data`/`len` hold the request path
    /// (server) or the URL path (client); `tag` is the connect tag.
    RWS_EVENT_OPEN = 7,
    /// The write queue of a connection emptied after being blocked (engine).
    RWS_EVENT_DRAIN = 8,
    /// A client connection tagged `tag` failed before it opened (engine); the
    /// reason in `data`/`len`.
    RWS_EVENT_CONNECT_ERROR = 9,
}

impl rws_event_type {
    /// The type stored as `value` (as in `rws_event_batch::types`); NONE for
    /// anything unknown.
    pub(crate) fn from_u8(value: u8) -> rws_event_type {
        use rws_event_type::*;
        [
            RWS_EVENT_NONE,
            RWS_EVENT_TEXT,
            RWS_EVENT_BINARY,
            RWS_EVENT_PING,
            RWS_EVENT_PONG,
            RWS_EVENT_CLOSE,
            RWS_EVENT_ERROR,
            RWS_EVENT_OPEN,
            RWS_EVENT_DRAIN,
            RWS_EVENT_CONNECT_ERROR,
        ]
        .get(usize::from(value))
        .copied()
        .unwrap_or(RWS_EVENT_NONE)
    }
}

/// One event. `data` points to `len` bytes owned by the library: for the codec,
/// valid until the next `rws_conn_next_event` or `rws_conn_free` on the same
/// connection; for the engine, as documented on the function that filled it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rws_event {
    /// What happened.
    pub type_: rws_event_type,
    /// The close code for CLOSE and ERROR events, else 0.
    pub close_code: u16,
    /// The connection (engine events; 0 for the codec).
    pub conn: u64,
    /// The tag given to `rws_engine_connect` (client connections), else 0.
    pub tag: u64,
    /// The payload, path or reason (may be NULL when `len` is 0).
    pub data: *const u8,
    /// Its length in bytes.
    pub len: usize,
}

impl Default for rws_event {
    fn default() -> Self {
        rws_event {
            type_: rws_event_type::RWS_EVENT_NONE,
            close_code: 0,
            conn: 0,
            tag: 0,
            data: std::ptr::null(),
            len: 0,
        }
    }
}

/// Limits of a connection; zero fields take the defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rws_conn_config {
    /// Largest frame payload before failing with 1009 (default 16 MiB).
    pub max_frame_size: u64,
    /// Largest message before failing with 1009 (default 64 MiB).
    pub max_message_size: u64,
}

pub(crate) fn conn_config(c: &rws_conn_config) -> ConnConfig {
    let d = ConnConfig::default();
    let pick = |v: u64, default: usize| {
        if v == 0 {
            default
        } else {
            usize::try_from(v).unwrap_or(usize::MAX)
        }
    };
    ConnConfig {
        max_frame_size: pick(c.max_frame_size, d.max_frame_size),
        max_message_size: pick(c.max_message_size, d.max_message_size),
        allowed_rsv: 0,
    }
}

/// A WebSocket connection after its handshake, without I/O: feed it received
/// bytes, take events, queue messages, write out what it queued. Opaque. Not
/// thread-safe: use one connection from one thread at a time.
pub struct rws_conn {
    conn: Connection,
    /// Keeps the last event's bytes alive for the caller.
    held: Bytes,
}

/// A new connection for `role_` (an `rws_role`), with `config` (NULL for defaults). NULL on
/// allocation failure. Free with `rws_conn_free`.
///
/// # Safety
/// `config` must be NULL or point to a readable `rws_conn_config`.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_new(role_: u32, config: *const rws_conn_config) -> *mut rws_conn {
    guard(std::ptr::null_mut(), || {
        // SAFETY: non-NULL `config` is readable per the contract.
        let config = if config.is_null() {
            rws_conn_config::default()
        } else {
            unsafe { *config }
        };
        let Ok(role_) = role(role_) else {
            return std::ptr::null_mut();
        };
        let conn = Connection::new(role_, conn_config(&config));
        Box::into_raw(Box::new(rws_conn {
            conn,
            held: Bytes::new(),
        }))
    })
}

/// Frees a connection and every byte it held. NULL is a no-op.
///
/// # Safety
/// `c` must be NULL or from `rws_conn_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_free(c: *mut rws_conn) {
    if !c.is_null() {
        // SAFETY: per the contract, `c` came from Box::into_raw and is freed once.
        guard((), || drop(unsafe { Box::from_raw(c) }));
    }
}

/// Copies `len` received bytes into the connection (then call
/// `rws_conn_next_event` until it returns `RWS_NONE`).
///
/// # Safety
/// `c` from `rws_conn_new`; `data` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_feed(
    c: *mut rws_conn,
    data: *const u8,
    len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(c);
        // SAFETY: per the contract above.
        let c = unsafe { &mut *c };
        let data = slice_arg!(data, len);
        c.conn.feed(data);
        rws_result::RWS_OK
    })
}

fn fill_event(held: &mut Bytes, out: &mut rws_event, event: Event) {
    let (type_, code, bytes) = match event {
        Event::Text(t) => (rws_event_type::RWS_EVENT_TEXT, 0, t.into_bytes()),
        Event::Binary(b) => (rws_event_type::RWS_EVENT_BINARY, 0, b),
        Event::Ping(b) => (rws_event_type::RWS_EVENT_PING, 0, b),
        Event::Pong(b) => (rws_event_type::RWS_EVENT_PONG, 0, b),
        Event::Close(f) => (rws_event_type::RWS_EVENT_CLOSE, f.code.0, f.reason),
        Event::Error(e) => (
            rws_event_type::RWS_EVENT_ERROR,
            e.close_code().0,
            Bytes::from(e.to_string()),
        ),
    };
    *held = bytes;
    *out = rws_event {
        type_,
        close_code: code,
        conn: 0,
        tag: 0,
        data: held.as_ptr(),
        len: held.len(),
    };
}

/// Decodes the next event into `*out`: `RWS_OK`, or `RWS_NONE` when more
/// bytes are needed (or input is no longer read after a close or an error).
/// The event's `data` stays valid until the next call on this connection.
///
/// # Safety
/// `c` from `rws_conn_new`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_next_event(c: *mut rws_conn, out: *mut rws_event) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(c, out);
        // SAFETY: per the contract above.
        let (c, out) = unsafe { (&mut *c, &mut *out) };
        match c.conn.next_event() {
            Some(event) => {
                fill_event(&mut c.held, out, event);
                rws_result::RWS_OK
            }
            None => {
                c.held = Bytes::new();
                *out = rws_event::default();
                rws_result::RWS_NONE
            }
        }
    })
}

fn send_result(r: Result<(), SendError>) -> rws_result {
    match r {
        Ok(()) => rws_result::RWS_OK,
        Err(SendError::Closing) => fail(
            rws_result::RWS_ERR_CLOSING,
            "a close frame was already sent",
        ),
        Err(e) => fail(rws_result::RWS_ERR_INVALID_ARGUMENT, e.to_string()),
    }
}

/// Queues a message: `opcode` is `RWS_OPCODE_TEXT` (the bytes must be UTF-8,
/// checked) or `RWS_OPCODE_BINARY`; or a ping/pong (at most 125 bytes). The
/// bytes are copied.
///
/// # Safety
/// `c` from `rws_conn_new`; `data` points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_send(
    c: *mut rws_conn,
    opcode: u8,
    data: *const u8,
    len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(c);
        // SAFETY: per the contract above.
        let c = unsafe { &mut *c };
        let data = slice_arg!(data, len);
        send_on(&mut c.conn, opcode, data)
    })
}

pub(crate) fn send_on(conn: &mut Connection, opcode: u8, data: &[u8]) -> rws_result {
    match opcode {
        RWS_OPCODE_TEXT => match std::str::from_utf8(data) {
            Ok(text) => send_result(conn.send_text(text)),
            Err(_) => fail(rws_result::RWS_ERR_UTF8, "text message is not UTF-8"),
        },
        RWS_OPCODE_BINARY => send_result(conn.send_binary(data)),
        RWS_OPCODE_PING => send_result(conn.send_ping(data)),
        RWS_OPCODE_PONG => send_result(conn.send_pong(data)),
        _ => fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "opcode must be text, binary, ping or pong",
        ),
    }
}

/// Starts the closing handshake with `code` (one that may be sent) and a
/// reason of at most 123 bytes of UTF-8 (`reason` may be NULL when
/// `reason_len` is 0).
///
/// # Safety
/// `c` from `rws_conn_new`; `reason` points to `reason_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_close(
    c: *mut rws_conn,
    code: u16,
    reason: *const u8,
    reason_len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(c);
        // SAFETY: per the contract above.
        let (c, reason) = unsafe { (&mut *c, close_reason(reason, reason_len)) };
        let reason = match reason {
            Ok(r) => r,
            Err(e) => return e,
        };
        send_result(c.conn.close(CloseCode(code), reason))
    })
}

/// Points `*data`/`*len` at the first run of bytes waiting to be written
/// (`*len` is 0 when nothing waits). The pointer stays valid until the next
/// call that changes the connection. After writing `n` bytes of it, call
/// `rws_conn_consume_output(c, n)`.
///
/// # Safety
/// `c` from `rws_conn_new`; `data` and `len` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_pending_output(
    c: *const rws_conn,
    data: *mut *const u8,
    len: *mut usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(c, data, len);
        // SAFETY: per the contract above.
        unsafe {
            let chunk = (*c).conn.output_chunk();
            data.write(chunk.as_ptr());
            len.write(chunk.len());
        }
        rws_result::RWS_OK
    })
}

/// Marks `n` queued bytes as written (clamped to what is queued).
///
/// # Safety
/// `c` from `rws_conn_new`.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_consume_output(c: *mut rws_conn, n: usize) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(c);
        // SAFETY: per the contract above.
        unsafe { (*c).conn.advance_output(n) };
        rws_result::RWS_OK
    })
}

/// Bytes queued and not yet consumed; 0 for NULL.
///
/// # Safety
/// `c` NULL or from `rws_conn_new`.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_buffered_amount(c: *const rws_conn) -> usize {
    // SAFETY: per the contract above.
    guard(0, || {
        if c.is_null() {
            0
        } else {
            unsafe { (*c).conn.buffered_amount() }
        }
    })
}

/// Whether the transport should now be closed: the closing handshake is over
/// (or the connection failed) and all output was consumed. False for NULL.
///
/// # Safety
/// `c` NULL or from `rws_conn_new`.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_should_close(c: *const rws_conn) -> bool {
    // SAFETY: per the contract above.
    guard(false, || {
        !c.is_null() && unsafe { (*c).conn.should_close_transport() }
    })
}
