//! `rws_connect_options`: everything one client connection can be given,
//! in a struct that grows at its end (`struct_size` says how much of it the
//! caller knows), read into `net::ClientOptions`.

use std::ffi::c_char;
use std::time::Duration;

use super::super::conn::rws_conn_config;
use super::super::tls::{connector, rws_tls_client};
use super::super::{c_str, fail, rws_result};
use super::config::{strings, RWS_TIMEOUT_NEVER};
use crate::net::{ClientOptions, Timeouts};
use crate::proto::ConnConfig;

/// Options of one client connection, for `rws_engine_connect_opts`.
/// Zero-initialise it, set `struct_size` to `sizeof(rws_connect_options)`,
/// then set the fields wanted: a field left 0 or NULL takes its default
/// (the engine's setting for limits and timeouts), as `rws_engine_config`
/// does; `RWS_TIMEOUT_NEVER` turns a timeout off. Later versions of the
/// library only add fields at the end, so a program built against this
/// header keeps working with them. Everything is read or copied during the
/// call; nothing here needs to outlive it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rws_connect_options {
    /// `sizeof(rws_connect_options)` as the caller compiled it: the library
    /// reads that many bytes, treats fields past them as 0, and refuses
    /// (`RWS_ERR_INVALID_ARGUMENT`) a larger struct whose extra bytes are not
    /// all 0 (options it does not know). 0 is refused.
    pub struct_size: u32,
    /// Milliseconds from the start of the connect (TCP, TLS and the upgrade
    /// together) to the opened connection, per address tried; 0: the
    /// engine's `handshake_timeout_ms`. Past it: CONNECT_ERROR.
    pub handshake_timeout_ms: u32,
    /// Reported in this connection's events (`rws_event.tag`).
    pub tag: u64,
    /// Extra request headers (an API key, a cookie): `2 * header_count` C
    /// strings, name then value, or NULL when `header_count` is 0. Names are
    /// HTTP tokens; values hold no control character (else
    /// `RWS_ERR_INVALID_ARGUMENT`). Copied.
    pub headers: *const *const c_char,
    /// Name/value pairs in `headers`.
    pub header_count: usize,
    /// Subprotocols to offer (`Sec-WebSocket-Protocol`), in order of
    /// preference: `protocol_count` C strings, or NULL when 0. The server's
    /// choice is readable with `rws_engine_protocol` once open. Copied.
    pub protocols: *const *const c_char,
    /// Entries in `protocols`.
    pub protocol_count: usize,
    /// For `wss://`: which servers to trust (NULL: the system's store). A
    /// share is taken: it may be freed after the call.
    pub tls: *const rws_tls_client,
    /// For `wss://`: the name sent by SNI and checked against the
    /// certificate (NULL: the URL's host). Copied.
    pub server_name: *const c_char,
    /// Milliseconds without received bytes before closing with 1001; 0: the
    /// engine's `idle_timeout_ms`.
    pub idle_timeout_ms: u32,
    /// Milliseconds without received bytes before a WebSocket keepalive
    /// ping; 0: the engine's `ping_interval_ms`.
    pub ping_interval_ms: u32,
    /// Milliseconds to wait for any byte after that ping before the
    /// connection is dropped (CLOSE 1006); 0 or `RWS_TIMEOUT_NEVER`: the
    /// engine's `pong_timeout_ms`.
    pub pong_timeout_ms: u32,
    /// Milliseconds for the closing handshake; 0 or `RWS_TIMEOUT_NEVER`: the
    /// engine's `close_timeout_ms`.
    pub close_timeout_ms: u32,
    /// Frame and message size limits of this connection (CLOSE 1009 beyond
    /// them); a 0 field: the engine's limit.
    pub conn: rws_conn_config,
}

/// The engine's own settings, which fields left 0 take.
#[derive(Debug, Clone, Copy)]
pub(super) struct EngineDefaults {
    pub(super) timeouts: Timeouts,
    pub(super) limits: ConnConfig,
}

/// Reads `opts` (NULL: all defaults) into client options, filling what it
/// leaves 0 from `engine`.
///
/// # Safety
/// `opts` NULL or readable for `opts->struct_size` bytes, its lists and
/// strings valid per the struct's documentation.
pub(super) unsafe fn client_options(
    opts: *const rws_connect_options,
    engine: &EngineDefaults,
) -> Result<ClientOptions, rws_result> {
    if opts.is_null() {
        return Ok(ClientOptions::default());
    }
    // SAFETY: per the contract, at least the leading u32 is readable.
    let size = unsafe { opts.cast::<u32>().read_unaligned() } as usize;
    if size == 0 {
        return Err(fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "rws_connect_options.struct_size is 0 (set it to sizeof(rws_connect_options))",
        ));
    }
    let ours = std::mem::size_of::<rws_connect_options>();
    if size > ours {
        // SAFETY: per the contract, `size` bytes are readable.
        let tail = unsafe { std::slice::from_raw_parts(opts.cast::<u8>().add(ours), size - ours) };
        if tail.iter().any(|&b| b != 0) {
            return Err(fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "rws_connect_options sets options this library does not know",
            ));
        }
    }
    let mut c = std::mem::MaybeUninit::<rws_connect_options>::zeroed();
    // SAFETY: copies at most our size from `size` readable bytes into a
    // zeroed struct; all-zero is a valid value of every field (NULL
    // pointers, zero numbers), so a partly copied struct is valid too.
    let c = unsafe {
        std::ptr::copy_nonoverlapping(opts.cast::<u8>(), c.as_mut_ptr().cast(), size.min(ours));
        c.assume_init()
    };
    // SAFETY: per the contract, the lists hold their counts of C strings.
    let protocols = unsafe { strings(c.protocols, c.protocol_count, "protocols")? };
    let count = c.header_count.checked_mul(2).ok_or_else(|| {
        fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "header_count is too large",
        )
    })?;
    // SAFETY: per the contract, `headers` holds `2 * header_count` C strings.
    let flat = unsafe { strings(c.headers, count, "headers")? };
    let headers = flat
        .chunks_exact(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    let server_name = if c.server_name.is_null() {
        None
    } else {
        // SAFETY: per the contract, a C string.
        Some(unsafe { c_str(c.server_name) }?.to_owned())
    };
    let pick = |v: u64, base: usize| match v {
        0 => base,
        v => usize::try_from(v).unwrap_or(usize::MAX),
    };
    let limits = ConnConfig {
        max_frame_size: pick(c.conn.max_frame_size, engine.limits.max_frame_size),
        max_message_size: pick(c.conn.max_message_size, engine.limits.max_message_size),
        ..engine.limits
    };
    Ok(ClientOptions {
        protocols,
        headers,
        tag: c.tag,
        // SAFETY: per the contract, `tls` is NULL or live.
        tls: unsafe { connector(c.tls) },
        server_name,
        limits: (limits != engine.limits).then_some(limits),
        timeouts: timeouts(&c, &engine.timeouts),
    })
}

/// The timers `c` asks for over the engine's `base`, or `None` when it
/// leaves them all to the engine.
fn timeouts(c: &rws_connect_options, base: &Timeouts) -> Option<Timeouts> {
    let ms = |v: u32, base: Option<Duration>| match v {
        0 => base,
        RWS_TIMEOUT_NEVER => None,
        v => Some(Duration::from_millis(v.into())),
    };
    // These two cannot be off: a connection must end some time.
    let at_least = |v: u32, base: Duration| match v {
        0 | RWS_TIMEOUT_NEVER => base,
        v => Duration::from_millis(v.into()),
    };
    let t = Timeouts {
        handshake: ms(c.handshake_timeout_ms, base.handshake),
        idle: ms(c.idle_timeout_ms, base.idle),
        ping_interval: ms(c.ping_interval_ms, base.ping_interval),
        pong_timeout: at_least(c.pong_timeout_ms, base.pong_timeout),
        close: at_least(c.close_timeout_ms, base.close),
    };
    (t != *base).then_some(t)
}
