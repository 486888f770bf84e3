//! Feed clients through the C ABI: the reconnect, keepalive and auto-reply
//! fields of `rws_connect_options` read into `proto::feed`'s rules, and the
//! calls about a feed connection (stop reconnecting, reconnect info).

use std::time::Duration;

use super::super::handle::{self, try_ref};
use super::super::{bytes, fail, guard, rws_result};
use super::config::RWS_TIMEOUT_NEVER;
use super::options::{rws_auto_reply, rws_connect_options};
use super::rws_engine;
use crate::proto::feed::{AppKeepalive, AutoReply, Match, ReconnectPolicy};

/// # Safety
/// `ptr` readable for `len` items, or NULL with `len` 0.
unsafe fn list<T: Copy>(ptr: *const T, len: usize, what: &str) -> Result<Vec<T>, rws_result> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(fail(rws_result::RWS_ERR_NULL, format!("{what} is NULL")));
    }
    // SAFETY: per the contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec())
}

/// # Safety
/// As for [`bytes`].
unsafe fn owned(ptr: *const u8, len: usize, what: &str) -> Result<Vec<u8>, rws_result> {
    // SAFETY: per the contract.
    match unsafe { bytes(ptr, len) } {
        Some(b) => Ok(b.to_vec()),
        None => Err(fail(rws_result::RWS_ERR_NULL, format!("{what} is NULL"))),
    }
}

fn ms(v: u32, default: u64) -> Duration {
    Duration::from_millis(if v == 0 { default } else { v.into() })
}

/// # Safety
/// The code lists of `c` hold their counts.
pub(super) unsafe fn reconnect_policy(
    c: &rws_connect_options,
) -> Result<Option<ReconnectPolicy>, rws_result> {
    if c.reconnect == 0 {
        return Ok(None);
    }
    let d = ReconnectPolicy::default();
    let jitter = match c.reconnect_jitter_percent {
        0 => d.jitter,
        RWS_TIMEOUT_NEVER => 0.0,
        p if p <= 100 => f64::from(p) / 100.0,
        _ => {
            return Err(fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "reconnect_jitter_percent above 100",
            ))
        }
    };
    let multiplier = match c.reconnect_multiplier {
        0.0 => d.multiplier,
        m if m >= 1.0 && m.is_finite() => m,
        _ => {
            return Err(fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "reconnect_multiplier below 1",
            ))
        }
    };
    let initial = ms(c.reconnect_initial_ms, 100);
    let max = ms(c.reconnect_max_ms, 30_000).max(initial);
    // SAFETY: per the contract.
    let codes = unsafe {
        list(
            c.no_retry_close_codes,
            c.no_retry_close_code_count,
            "no_retry_close_codes",
        )?
    };
    // SAFETY: per the contract.
    let statuses = unsafe {
        list(
            c.no_retry_statuses,
            c.no_retry_status_count,
            "no_retry_statuses",
        )?
    };
    Ok(Some(ReconnectPolicy {
        initial_delay: initial,
        max_delay: max,
        multiplier,
        jitter,
        max_attempts: c.reconnect_max_attempts,
        no_retry_close_codes: codes,
        no_retry_statuses: if c.no_retry_status_count == 0 {
            d.no_retry_statuses
        } else {
            statuses
        },
        min_connect_interval: Duration::from_millis(c.reconnect_min_interval_ms.into()),
    }))
}

/// # Safety
/// The keepalive byte fields of `c` hold their lengths.
pub(super) unsafe fn keepalive(
    c: &rws_connect_options,
) -> Result<Option<AppKeepalive>, rws_result> {
    if c.keepalive_payload.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract.
    let payload = unsafe {
        owned(
            c.keepalive_payload,
            c.keepalive_payload_len,
            "keepalive_payload",
        )?
    };
    if c.keepalive_reply.is_null() {
        return Err(fail(
            rws_result::RWS_ERR_NULL,
            "keepalive_reply is NULL (keepalive_payload is set)",
        ));
    }
    // SAFETY: per the contract.
    let reply = unsafe { owned(c.keepalive_reply, c.keepalive_reply_len, "keepalive_reply")? };
    let binary = c.keepalive_binary != 0;
    if !binary && std::str::from_utf8(&payload).is_err() {
        return Err(fail(
            rws_result::RWS_ERR_UTF8,
            "keepalive_payload is not UTF-8 (set keepalive_binary)",
        ));
    }
    Ok(Some(AppKeepalive {
        payload,
        binary,
        interval: ms(c.keepalive_interval_ms, 20_000),
        reply: if c.keepalive_reply_prefix != 0 {
            Match::Prefix(reply)
        } else {
            Match::Exact(reply)
        },
        deadline: ms(c.keepalive_deadline_ms, 10_000),
    }))
}

/// # Safety
/// `c.auto_replies` holds `c.auto_reply_count` rules, each with valid bytes.
pub(super) unsafe fn auto_replies(c: &rws_connect_options) -> Result<Vec<AutoReply>, rws_result> {
    // SAFETY: per the contract.
    let rules: Vec<rws_auto_reply> =
        unsafe { list(c.auto_replies, c.auto_reply_count, "auto_replies")? };
    rules
        .iter()
        .map(|r| {
            // SAFETY: per the contract, each pair is readable.
            unsafe {
                Ok(AutoReply {
                    prefix: owned(r.prefix, r.prefix_len, "auto_reply prefix")?,
                    suffix: owned(r.suffix, r.suffix_len, "auto_reply suffix")?,
                    max_capture: r.max_capture,
                    reply_prefix: owned(r.reply_prefix, r.reply_prefix_len, "reply_prefix")?,
                    reply_suffix: owned(r.reply_suffix, r.reply_suffix_len, "reply_suffix")?,
                })
            }
        })
        .collect()
}

/// Stops reconnecting the client connections tagged `tag`: a reconnect
/// waiting for its time is dropped (no event follows), an open connection
/// will not be replaced when it goes down. `rws_engine_close` on a
/// connection does the same for it. Errors: `RWS_ERR_NULL`,
/// `RWS_ERR_STOPPED`. Thread-safe.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_stop_reconnecting(
    e: *const rws_engine,
    tag: u64,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        match e.handle.stop_reconnecting(tag) {
            Ok(()) => rws_result::RWS_OK,
            Err(_) => fail(rws_result::RWS_ERR_STOPPED, "the engine is stopped"),
        }
    })
}

/// Whether open connection `conn` is a reconnect (a connection with
/// `reconnect` set that opened again after going down): true with the
/// attempt that succeeded (1 for the first after the drop) in `*attempt`
/// and the milliseconds without an open connection in `*down_ms`; false
/// (both left alone) for a first open, an unknown or closed connection, or
/// NULL `e`. `attempt` and `down_ms` may be NULL. Valid from the OPEN event
/// to the CLOSE event. Thread-safe; callable from callbacks.
///
/// # Safety
/// `e` NULL or live; `attempt`, `down_ms` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_reconnect_info(
    e: *const rws_engine,
    conn: u64,
    attempt: *mut u32,
    down_ms: *mut u64,
) -> bool {
    guard(false, || {
        // SAFETY: per the contract above.
        let Some(e) = (unsafe { handle::as_ref(e) }) else {
            return false;
        };
        let Some(info) = e.protocols.get(conn).and_then(|f| f.reconnect) else {
            return false;
        };
        // SAFETY: NULL or writable, per the contract above.
        unsafe {
            if !attempt.is_null() {
                *attempt = info.attempt;
            }
            if !down_ms.is_null() {
                *down_ms = u64::try_from(info.down_for.as_millis()).unwrap_or(u64::MAX);
            }
        }
        true
    })
}

/// Statistics of a feed client connection (one whose `rws_connect_options`
/// set `reconnect`, a keepalive, auto-replies or `rtt_ping_interval_ms`),
/// as its thread last recorded them. Byte counts are of WebSocket frames;
/// round-trip times in microseconds (0 until measured; the average is a
/// moving one, each sample weighing 1/8).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rws_conn_stats {
    /// Set by the caller to `sizeof(rws_conn_stats)`: the library writes
    /// no more than that (fields are only ever added at the end).
    pub struct_size: u32,
    /// Messages received (those answered or consumed by the engine included).
    pub messages_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes written to the socket.
    pub bytes_out: u64,
    /// Times the connection opened again after going down.
    pub reconnects: u64,
    /// Latest RTT of the WebSocket RTT pings.
    pub ws_rtt_last_us: u64,
    /// Smallest.
    pub ws_rtt_min_us: u64,
    /// Moving average.
    pub ws_rtt_avg_us: u64,
    /// Samples taken.
    pub ws_rtt_samples: u64,
    /// Latest RTT of the application keepalive.
    pub app_rtt_last_us: u64,
    /// Smallest.
    pub app_rtt_min_us: u64,
    /// Moving average.
    pub app_rtt_avg_us: u64,
    /// Samples taken.
    pub app_rtt_samples: u64,
}

/// Fills `out` with the statistics of open feed connection `conn`.
/// Errors: `RWS_ERR_NULL`, `RWS_ERR_INVALID_ARGUMENT` (`out->struct_size`
/// 0), `RWS_ERR_UNKNOWN_CONNECTION` (not open, or not a feed connection).
/// Thread-safe; callable from callbacks.
///
/// # Safety
/// `e` live; `out` writable for `out->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_conn_stats(
    e: *const rws_engine,
    conn: u64,
    out: *mut rws_conn_stats,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        if out.is_null() {
            return fail(rws_result::RWS_ERR_NULL, "out is NULL");
        }
        // SAFETY: per the contract, at least the leading u32 is readable.
        let size = unsafe { out.cast::<u32>().read_unaligned() } as usize;
        if size == 0 {
            return fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "rws_conn_stats.struct_size is 0 (set it to sizeof(rws_conn_stats))",
            );
        }
        let Ok(s) = e.handle.conn_stats(crate::net::ConnId(conn)) else {
            return fail(
                rws_result::RWS_ERR_UNKNOWN_CONNECTION,
                "not an open feed connection",
            );
        };
        let ours = std::mem::size_of::<rws_conn_stats>();
        let value = rws_conn_stats {
            struct_size: size.min(ours) as u32,
            messages_in: s.messages_in,
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            reconnects: s.reconnects,
            ws_rtt_last_us: s.ws_rtt.last_us,
            ws_rtt_min_us: s.ws_rtt.min_us,
            ws_rtt_avg_us: s.ws_rtt.avg_us,
            ws_rtt_samples: s.ws_rtt.samples,
            app_rtt_last_us: s.app_rtt.last_us,
            app_rtt_min_us: s.app_rtt.min_us,
            app_rtt_avg_us: s.app_rtt.avg_us,
            app_rtt_samples: s.app_rtt.samples,
        };
        // SAFETY: `out` is writable for `size` bytes, per the contract; at
        // most our struct's size is written.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&value as *const rws_conn_stats).cast::<u8>(),
                out.cast::<u8>(),
                size.min(ours),
            )
        };
        rws_result::RWS_OK
    })
}

/// Replaces open feed connection `conn` without a gap, as `max_age_ms`
/// does; nothing happens for other connections or while a replacement is
/// already opening. Errors: `RWS_ERR_NULL`, `RWS_ERR_STOPPED`. Thread-safe.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_rotate(e: *const rws_engine, conn: u64) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        match e.handle.rotate(crate::net::ConnId(conn)) {
            Ok(()) => rws_result::RWS_OK,
            Err(_) => fail(rws_result::RWS_ERR_STOPPED, "the engine is stopped"),
        }
    })
}

/// The connection that open connection `conn` replaces (a rotation: see
/// `max_age_ms`), or 0. Valid from the OPEN event to the CLOSE event.
/// Thread-safe; callable from callbacks.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_replaces(e: *const rws_engine, conn: u64) -> u64 {
    guard(0, || {
        // SAFETY: per the contract above.
        let Some(e) = (unsafe { handle::as_ref(e) }) else {
            return 0;
        };
        e.protocols
            .get(conn)
            .and_then(|f| f.replaces)
            .map_or(0, |id| id.0)
    })
}
