//! Engine settings for C: `rws_engine_config`, its defaults and its checks.

use std::ffi::c_char;
use std::time::Duration;

use super::super::conn::{conn_config, rws_conn_config};
use super::super::tls::{acceptor, rws_tls_server};
use super::super::{c_str, check_null, fail, guard, rws_result};
use crate::net::{BackpressurePolicy, Config, Endpoint, TlsListen};

/// What happens to a connection whose unsent bytes pass `max_buffered`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rws_backpressure {
    /// Close it with 1008.
    RWS_BACKPRESSURE_DROP = 0,
    /// Keep it; the application is told (a DRAIN event follows when it empties).
    RWS_BACKPRESSURE_NOTIFY = 1,
}

/// Engine settings. Initialise with `rws_engine_config_init`, then change fields.
/// Strings are copied by `rws_engine_start*`; they need not outlive the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rws_engine_config {
    /// Addresses to listen on: "127.0.0.1:9001", "[::1]:9001", "unix:/path".
    /// NULL with `listen_count` 0 for a client-only engine.
    pub listen: *const *const c_char,
    /// Entries in `listen`.
    pub listen_count: usize,
    /// Event-loop threads; 0 means one per core.
    pub threads: u32,
    /// Most simultaneous connections (503 beyond); 0 means no limit.
    pub max_connections: u32,
    /// Frame and message limits (1009 beyond).
    pub conn: rws_conn_config,
    /// Most unsent bytes per connection before `backpressure` applies.
    pub max_buffered: u64,
    /// What happens past `max_buffered` (an `rws_backpressure` value).
    pub backpressure: u32,
    /// Milliseconds to finish the opening handshake; 0 disables.
    pub handshake_timeout_ms: u32,
    /// Milliseconds without received bytes before closing; 0 disables.
    pub idle_timeout_ms: u32,
    /// Milliseconds without received bytes before sending a ping; 0 disables.
    pub ping_interval_ms: u32,
    /// Milliseconds to wait for an answer to a ping before dropping.
    pub pong_timeout_ms: u32,
    /// Milliseconds for the closing handshake before the socket is shut.
    pub close_timeout_ms: u32,
    /// Subprotocols supported, in preference order (may be NULL when 0).
    pub protocols: *const *const c_char,
    /// Entries in `protocols`.
    pub protocol_count: usize,
    /// Batched engines: untaken event bytes past which the connections that
    /// deliver more stop being read until the host polls (TCP flow control
    /// then slows their peers); 0 means no cap. No event is ever dropped.
    pub max_queued_bytes: u64,
    /// Addresses to listen on with TLS (`wss://`), beside `listen`: same
    /// forms. They need `tls_server`.
    pub tls_listen: *const *const c_char,
    /// Entries in `tls_listen`.
    pub tls_listen_count: usize,
    /// The certificates the `tls_listen` addresses serve (NULL when there
    /// are none). The engine takes a share: it may be freed after start.
    pub tls_server: *const rws_tls_server,
}

/// Untaken event bytes of a batched engine before reading pauses: 64 MiB.
const DEFAULT_MAX_QUEUED_BYTES: u64 = 64 << 20;

/// Fills `config` with the defaults: no listener, one thread per core, 16 MiB
/// frames, 64 MiB messages, 64 MiB buffered then drop, handshake 10 s, pong
/// 10 s, close 5 s, no idle timeout, no automatic ping, 64 MiB queued events
/// (batched engines). Thread-safe.
///
/// # Safety
/// `config` points to writable memory for one `rws_engine_config`.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_config_init(config: *mut rws_engine_config) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(config);
        let d = Config::default();
        let ms = |t: Option<Duration>| t.map_or(0, |t| t.as_millis() as u32);
        let value = rws_engine_config {
            listen: std::ptr::null(),
            listen_count: 0,
            threads: 0,
            max_connections: 0,
            conn: rws_conn_config {
                max_frame_size: d.limits.conn.max_frame_size as u64,
                max_message_size: d.limits.conn.max_message_size as u64,
            },
            max_buffered: d.limits.max_buffered as u64,
            backpressure: rws_backpressure::RWS_BACKPRESSURE_DROP as u32,
            handshake_timeout_ms: ms(d.timeouts.handshake),
            idle_timeout_ms: 0,
            ping_interval_ms: 0,
            pong_timeout_ms: d.timeouts.pong_timeout.as_millis() as u32,
            close_timeout_ms: d.timeouts.close.as_millis() as u32,
            protocols: std::ptr::null(),
            protocol_count: 0,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            tls_listen: std::ptr::null(),
            tls_listen_count: 0,
            tls_server: std::ptr::null(),
        };
        // SAFETY: `config` is writable per the contract.
        unsafe { config.write(value) };
        rws_result::RWS_OK
    })
}

/// # Safety
/// `list` holds `count` C strings (or is NULL with count 0).
unsafe fn strings(
    list: *const *const c_char,
    count: usize,
    what: &str,
) -> Result<Vec<String>, rws_result> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(fail(rws_result::RWS_ERR_NULL, format!("{what} is NULL")));
    }
    // SAFETY: `list` has `count` entries, each a C string, per the contract.
    (0..count)
        .map(|i| unsafe { c_str(*list.add(i)) }.map(str::to_owned))
        .collect()
}

/// # Safety
/// `c` is a valid config whose string lists follow its counts, and whose
/// `tls_server` is NULL or live.
pub(super) unsafe fn to_config(c: &rws_engine_config) -> Result<Config, rws_result> {
    let mut config = Config::default();
    // SAFETY: per the contract.
    for addr in unsafe { strings(c.listen, c.listen_count, "listen")? } {
        let endpoint = addr.parse::<Endpoint>().map_err(|e| {
            fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                format!("listen address {addr:?}: {e}"),
            )
        })?;
        config.listen.push(endpoint);
    }
    // SAFETY: per the contract.
    let tls_listen = unsafe { strings(c.tls_listen, c.tls_listen_count, "tls_listen")? };
    if !tls_listen.is_empty() {
        // SAFETY: per the contract, `tls_server` is NULL or live.
        let Some(acceptor) = (unsafe { acceptor(c.tls_server) }) else {
            return Err(fail(
                rws_result::RWS_ERR_NULL,
                "tls_listen needs tls_server",
            ));
        };
        for addr in tls_listen {
            let endpoint = addr.parse::<Endpoint>().map_err(|e| {
                fail(
                    rws_result::RWS_ERR_INVALID_ARGUMENT,
                    format!("tls_listen address {addr:?}: {e}"),
                )
            })?;
            config.listen_tls.push(TlsListen {
                endpoint,
                acceptor: acceptor.clone(),
            });
        }
    }
    // SAFETY: per the contract.
    config.protocols = unsafe { strings(c.protocols, c.protocol_count, "protocols")? };
    config.threads = c.threads as usize;
    config.limits.max_connections = c.max_connections as usize;
    config.limits.conn = conn_config(&c.conn);
    config.limits.max_buffered = usize::try_from(c.max_buffered).unwrap_or(usize::MAX);
    config.limits.backpressure = match c.backpressure {
        0 => BackpressurePolicy::Drop,
        1 => BackpressurePolicy::Notify,
        _ => {
            return Err(fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "unknown backpressure policy",
            ))
        }
    };
    let ms = |v: u32| (v > 0).then(|| Duration::from_millis(v.into()));
    config.timeouts.handshake = ms(c.handshake_timeout_ms);
    config.timeouts.idle = ms(c.idle_timeout_ms);
    config.timeouts.ping_interval = ms(c.ping_interval_ms);
    config.timeouts.pong_timeout = Duration::from_millis(c.pong_timeout_ms.max(1).into());
    config.timeouts.close = Duration::from_millis(c.close_timeout_ms.max(1).into());
    Ok(config)
}
