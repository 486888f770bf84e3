//! The sans-IO connection (`rws_conn`) for hosts that run their own event
//! loop: feed received bytes, take events, queue messages, write what it queued.

use bytes::Bytes;

use super::event::{rws_event, rws_event_type};
use super::frame::{role, RWS_OPCODE_BINARY, RWS_OPCODE_PING, RWS_OPCODE_PONG, RWS_OPCODE_TEXT};
use super::handle::{self, try_mut, try_ref, Boxed};
use super::{check_null, close_reason, fail, guard, rws_result, slice_arg};
use crate::proto::close::CloseCode;
use crate::proto::{ConnConfig, Connection, Event, Expired, SendError, Tick, Timeouts};
use std::time::Duration;

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
    /// The deadlines `rws_conn_next_timeout` and `rws_conn_on_timeout` apply.
    timeouts: Timeouts,
}

impl Boxed for rws_conn {}

/// A new connection for `role_` (an `rws_role`), with `config` (NULL for defaults). NULL on
/// allocation failure. Free with `rws_conn_free`.
/// Thread-safe.
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
            // SAFETY: non-NULL `config` is readable per the contract.
            unsafe { *config }
        };
        let Ok(role_) = role(role_) else {
            return std::ptr::null_mut();
        };
        let conn = Connection::new(role_, conn_config(&config));
        handle::into_c(rws_conn {
            conn,
            held: Bytes::new(),
            timeouts: codec_timeouts(&rws_timeouts::default()),
        })
    })
}

/// Frees a connection and every byte it held. NULL is a no-op.
/// Any thread, not concurrently with another call on `c`.
///
/// # Safety
/// `c` must be NULL or from `rws_conn_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_free(c: *mut rws_conn) {
    // SAFETY: per the contract, `c` is NULL or a live connection freed once.
    guard((), || unsafe { handle::free(c) });
}

/// Copies `len` received bytes into the connection (then call
/// `rws_conn_next_event` until it returns `RWS_NONE`).
/// Any thread, one call at a time per connection.
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
        let c = try_mut!(c);
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
/// Any thread, one call at a time per connection.
///
/// # Safety
/// `c` from `rws_conn_new`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_next_event(c: *mut rws_conn, out: *mut rws_event) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let c = try_mut!(c);
        check_null!(out);
        // SAFETY: `out` is non-NULL and writable per the contract above.
        let out = unsafe { &mut *out };
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
/// Any thread, one call at a time per connection.
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
        let c = try_mut!(c);
        let data = slice_arg!(data, len);
        send_on(&mut c.conn, opcode, data)
    })
}

pub(crate) fn send_on(conn: &mut Connection, opcode: u8, data: &[u8]) -> rws_result {
    match opcode {
        RWS_OPCODE_TEXT => match crate::simd::utf8::validate(data) {
            // SAFETY: the SIMD validator just accepted `data` as UTF-8.
            Ok(()) => send_result(conn.send_text(unsafe { std::str::from_utf8_unchecked(data) })),
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
/// Any thread, one call at a time per connection.
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
        let c = try_mut!(c);
        // SAFETY: per the contract above.
        let reason = unsafe { close_reason(reason, reason_len) };
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
/// Any thread, one call at a time per connection.
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
        let c = try_ref!(c);
        check_null!(data, len);
        let chunk = c.conn.output_chunk();
        // SAFETY: `data` and `len` are non-NULL and writable per the contract above.
        unsafe {
            data.write(chunk.as_ptr());
            len.write(chunk.len());
        }
        rws_result::RWS_OK
    })
}

/// Marks `n` queued bytes as written (clamped to what is queued).
/// Any thread, one call at a time per connection.
///
/// # Safety
/// `c` from `rws_conn_new`.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_consume_output(c: *mut rws_conn, n: usize) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        try_mut!(c).conn.advance_output(n);
        rws_result::RWS_OK
    })
}

/// Bytes queued and not yet consumed; 0 for NULL.
/// Any thread, one call at a time per connection.
///
/// # Safety
/// `c` NULL or from `rws_conn_new`.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_buffered_amount(c: *const rws_conn) -> usize {
    guard(0, || {
        // SAFETY: per the contract above.
        unsafe { handle::as_ref(c) }.map_or(0, |c| c.conn.buffered_amount())
    })
}

/// Whether the transport should now be closed: the closing handshake is over
/// (or the connection failed) and all output was consumed. False for NULL.
/// Any thread, one call at a time per connection.
///
/// # Safety
/// `c` NULL or from `rws_conn_new`.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_should_close(c: *const rws_conn) -> bool {
    guard(false, || {
        // SAFETY: per the contract above.
        unsafe { handle::as_ref(c) }.is_some_and(|c| c.conn.should_close_transport())
    })
}

// ---- deadlines ----

/// The deadlines of a codec connection, in milliseconds. 0 turns the idle
/// timeout and the keepalive ping off, and gives the pong and close
/// timeouts their defaults (10 s, 5 s). The handshake timeout is not used
/// by the codec: its connections start after the handshake.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rws_timeouts {
    /// Close with 1001 after this long without a received byte; 0: never.
    pub idle_ms: u32,
    /// Send a ping after this long without a received byte; 0: never.
    pub ping_interval_ms: u32,
    /// After that ping, how long to wait for any byte before the connection
    /// is dead (`RWS_TIMED_OUT`); 0: 10 s.
    pub pong_timeout_ms: u32,
    /// From the start of the closing handshake to giving up on it
    /// (`RWS_TIMED_OUT`); 0: 5 s.
    pub close_ms: u32,
}

fn codec_timeouts(t: &rws_timeouts) -> Timeouts {
    let d = Timeouts::default();
    let on = |ms: u32| (ms > 0).then(|| Duration::from_millis(ms.into()));
    Timeouts {
        handshake: None,
        idle: on(t.idle_ms),
        ping_interval: on(t.ping_interval_ms),
        pong_timeout: on(t.pong_timeout_ms).unwrap_or(d.pong_timeout),
        close: on(t.close_ms).unwrap_or(d.close),
    }
}

/// Sets the connection's deadlines (NULL: the defaults, no idle timeout and
/// no keepalive ping). Then drive them with `rws_conn_next_timeout` and
/// `rws_conn_on_timeout`.
/// Any thread, one call at a time per connection.
///
/// # Safety
/// `c` from `rws_conn_new`; `timeouts` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_set_timeouts(
    c: *mut rws_conn,
    timeouts: *const rws_timeouts,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let c = try_mut!(c);
        // SAFETY: non-NULL `timeouts` is readable per the contract.
        let t = unsafe { timeouts.as_ref() }.copied().unwrap_or_default();
        c.timeouts = codec_timeouts(&t);
        rws_result::RWS_OK
    })
}

/// When the connection next needs `rws_conn_on_timeout`, as a time on the
/// caller's monotonic millisecond clock (`now_ms` is the current time on it,
/// any epoch, e.g. CLOCK_MONOTONIC in ms): `RWS_OK` with `*deadline_ms`
/// filled, or `RWS_NONE` when no deadline runs. Call it after every change
/// (bytes fed, messages sent, a close) to learn the new deadline; the
/// connection reads no clock itself.
/// Any thread, one call at a time per connection.
///
/// # Safety
/// `c` from `rws_conn_new`; `deadline_ms` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_next_timeout(
    c: *mut rws_conn,
    now_ms: u64,
    deadline_ms: *mut u64,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let c = try_mut!(c);
        check_null!(deadline_ms);
        match c.conn.next_deadline(Tick::from_millis(now_ms), &c.timeouts) {
            Some(at) => {
                // SAFETY: `deadline_ms` is non-NULL and writable per the contract.
                unsafe { deadline_ms.write(at.as_millis()) };
                rws_result::RWS_OK
            }
            None => rws_result::RWS_NONE,
        }
    })
}

/// Applies whatever deadline has passed at `now_ms`: queues a keepalive
/// ping, or starts the closing handshake with 1001 "idle timeout" (write out
/// the pending output), and returns `RWS_OK`; or returns `RWS_TIMED_OUT`
/// when the peer is gone (no pong within the pong timeout) or the closing
/// handshake did not finish in time: close the transport then and report
/// the connection closed with 1006. Early calls do nothing.
/// Any thread, one call at a time per connection.
///
/// # Safety
/// `c` from `rws_conn_new`.
#[no_mangle]
pub unsafe extern "C" fn rws_conn_on_timeout(c: *mut rws_conn, now_ms: u64) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let c = try_mut!(c);
        match c.conn.on_timeout(Tick::from_millis(now_ms), &c.timeouts) {
            None => rws_result::RWS_OK,
            Some(Expired::Pong) => {
                fail(rws_result::RWS_TIMED_OUT, "no pong after a keepalive ping")
            }
            Some(Expired::Close) => {
                fail(rws_result::RWS_TIMED_OUT, "the closing handshake timed out")
            }
            Some(Expired::Handshake) => {
                fail(rws_result::RWS_TIMED_OUT, "the opening handshake timed out")
            }
        }
    })
}
