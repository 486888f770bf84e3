//! Engine settings for C: `rws_engine_config`, its defaults and its checks.

use std::ffi::c_char;
use std::time::Duration;

use super::super::conn::{conn_config, rws_conn_config};
use super::super::deflate::{deflate_config, rws_deflate_config};
use super::super::tls::{acceptor, rws_tls_server};
use super::super::{c_str, check_null, fail, guard, rws_result};
use crate::net::{BackpressurePolicy, BrokerConfig, Config, Endpoint, TlsListen};

/// What happens to a connection whose unsent bytes pass `max_buffered`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rws_backpressure {
    /// Close it with 1008.
    RWS_BACKPRESSURE_DROP = 0,
    /// Keep it; the application is told (a DRAIN event follows when it empties).
    RWS_BACKPRESSURE_NOTIFY = 1,
}

/// A timeout value that turns the timeout off (0 means "the default").
pub const RWS_TIMEOUT_NEVER: u32 = u32::MAX;

/// A size limit value that means "no limit" (0 means "the default").
pub const RWS_NO_LIMIT: u64 = u64::MAX;

/// Engine settings. Initialise with `rws_engine_config_init`, then change
/// fields; a field left 0 (a zeroed struct included) takes its default, so
/// no value of 0 ever means "drop everything" or "never time out". Turn a
/// timeout off with `RWS_TIMEOUT_NEVER` and lift a byte limit with
/// `RWS_NO_LIMIT`. Strings are copied by `rws_engine_start*`; they need not
/// outlive the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rws_engine_config {
    /// Addresses to listen on: `127.0.0.1:9001`, `[::1]:9001`, `unix:/path`.
    /// NULL with `listen_count` 0 for a client-only engine.
    pub listen: *const *const c_char,
    /// Entries in `listen`.
    pub listen_count: usize,
    /// Event-loop threads (at most 1024); 0: one per core.
    pub threads: u32,
    /// Most simultaneous connections (503 beyond); 0: no limit.
    pub max_connections: u32,
    /// Frame and message limits (1009 beyond); 0: 16 MiB frames and messages.
    pub conn: rws_conn_config,
    /// Most unsent bytes per connection before `backpressure` applies; 0: 64 MiB.
    pub max_buffered: u64,
    /// What happens past `max_buffered` (an `rws_backpressure` value).
    pub backpressure: u32,
    /// Milliseconds to finish the opening handshake; 0: 10 s.
    pub handshake_timeout_ms: u32,
    /// Milliseconds without received bytes before closing with 1001; 0: off.
    pub idle_timeout_ms: u32,
    /// Milliseconds without received bytes before a keepalive ping; 0: 30 s.
    pub ping_interval_ms: u32,
    /// Milliseconds to wait for any byte after that ping before the
    /// connection is dropped (CLOSE 1006); 0: 10 s.
    pub pong_timeout_ms: u32,
    /// Milliseconds for the closing handshake before the socket is shut; 0: 5 s.
    pub close_timeout_ms: u32,
    /// Subprotocols supported, in preference order (may be NULL when 0): the
    /// server side chooses among them. They do not apply to client
    /// connections (`rws_engine_connect` offers no subprotocol).
    pub protocols: *const *const c_char,
    /// Entries in `protocols`.
    pub protocol_count: usize,
    /// Batched engines: untaken event bytes past which the connections that
    /// deliver more stop being read until the host polls (TCP flow control
    /// then slows their peers); 0: 64 MiB. No event is ever dropped.
    pub max_queued_bytes: u64,
    /// Connections in the opening handshake per thread, past which the one
    /// waiting longest is dropped (slowloris); 0: 1024; `UINT32_MAX`: no limit.
    pub max_handshaking: u32,
    /// TCP keepalive: seconds idle before the kernel probes; 0: 60;
    /// `RWS_TIMEOUT_NEVER`: the system's setting.
    pub tcp_keepalive_s: u32,
    /// Unsent bytes past which a connection is not read until its peer reads
    /// them below `write_low_watermark` (TCP then pushes back on a peer that
    /// sends but never reads); 0: 1 MiB; `RWS_NO_LIMIT`: off.
    pub write_high_watermark: u64,
    /// Where reading resumes; 0: 256 KiB.
    pub write_low_watermark: u64,
    /// Addresses to listen on with TLS (`wss://`), beside `listen`: same
    /// forms. They need `tls_server`.
    pub tls_listen: *const *const c_char,
    /// Entries in `tls_listen`.
    pub tls_listen_count: usize,
    /// The certificates the `tls_listen` addresses serve (NULL when there
    /// are none). The engine takes a share: it may be freed after start.
    pub tls_server: *const rws_tls_server,
    /// Batched engines: when true, every upgrade request is reported as an
    /// UPGRADE event and waits for `rws_engine_accept_upgrade` or
    /// `rws_engine_reject_upgrade` (the origin check and subprotocol choice
    /// of hosts that poll); false: accepted at once with `protocols`'
    /// preference. Callback engines decide in `on_upgrade` instead.
    pub decide_upgrades: bool,
    /// A broker that carries topics to and from other nodes:
    /// `redis://[user:password@]host:port`, `rediss://...` (TLS), or
    /// `unix:///path`; NULL: topics stay on this engine. With one,
    /// `rws_engine_publish` also reaches the subscribers of every other
    /// engine on the same broker (see `rws_engine_broker_stats`).
    pub broker_url: *const c_char,
    /// Publishes waiting for the broker before more are dropped (and
    /// counted); 0: 65,536.
    pub broker_max_queued: u32,
    /// permessage-deflate (RFC 7692); all zero: off.
    pub deflate: rws_deflate_config,
}

/// Untaken event bytes of a batched engine before reading pauses: 64 MiB.
const DEFAULT_MAX_QUEUED_BYTES: u64 = 64 << 20;

/// Fills `config` with the defaults, each spelled out: no listener, one
/// thread per core, 16 MiB frames and messages, 64 MiB buffered then
/// drop, handshake 10 s, keepalive ping after 30 s of silence with a 10 s
/// pong deadline, close 5 s, no idle timeout, 64 MiB queued events (batched
/// engines), 1024 handshakes per thread, TCP keepalive after 60 s, reading
/// paused past 1 MiB unsent until 256 KiB. Thread-safe.
///
/// # Safety
/// `config` points to writable memory for one `rws_engine_config`.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_config_init(config: *mut rws_engine_config) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(config);
        let d = Config::default();
        let ms = |t: Option<Duration>| t.map_or(RWS_TIMEOUT_NEVER, |t| t.as_millis() as u32);
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
            idle_timeout_ms: ms(d.timeouts.idle),
            ping_interval_ms: ms(d.timeouts.ping_interval),
            pong_timeout_ms: d.timeouts.pong_timeout.as_millis() as u32,
            close_timeout_ms: d.timeouts.close.as_millis() as u32,
            protocols: std::ptr::null(),
            protocol_count: 0,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            max_handshaking: d.limits.max_handshaking as u32,
            tcp_keepalive_s: d.tcp_keepalive.map_or(0, |t| t.as_secs() as u32),
            write_high_watermark: d.limits.write_high_watermark as u64,
            write_low_watermark: d.limits.write_low_watermark as u64,
            tls_listen: std::ptr::null(),
            tls_listen_count: 0,
            tls_server: std::ptr::null(),
            decide_upgrades: false,
            broker_url: std::ptr::null(),
            broker_max_queued: 0,
            deflate: rws_deflate_config::default(),
        };
        // SAFETY: `config` is writable per the contract.
        unsafe { config.write(value) };
        rws_result::RWS_OK
    })
}

/// The untaken-event cap of a batched engine (0: the default; `RWS_NO_LIMIT`: none).
pub(super) fn max_queued_bytes(c: &rws_engine_config) -> usize {
    match c.max_queued_bytes {
        0 => DEFAULT_MAX_QUEUED_BYTES as usize,
        RWS_NO_LIMIT => 0,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    }
}
/// # Safety
/// `list` holds `count` C strings (or is NULL with count 0).
pub(super) unsafe fn strings(
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
    let d = Config::default();
    config.threads = c.threads as usize;
    config.limits.max_connections = c.max_connections as usize;
    config.limits.conn = conn_config(&c.conn);
    let bytes = |v: u64, default: usize| match v {
        0 => default,
        v => usize::try_from(v).unwrap_or(usize::MAX),
    };
    config.limits.max_buffered = bytes(c.max_buffered, d.limits.max_buffered);
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
    // 0: the default; RWS_TIMEOUT_NEVER: off.
    let ms = |v: u32, default: Option<Duration>| match v {
        0 => default,
        RWS_TIMEOUT_NEVER => None,
        v => Some(Duration::from_millis(v.into())),
    };
    let t = &d.timeouts;
    config.timeouts.handshake = ms(c.handshake_timeout_ms, t.handshake);
    config.timeouts.idle = ms(c.idle_timeout_ms, t.idle);
    config.timeouts.ping_interval = ms(c.ping_interval_ms, t.ping_interval);
    // These two cannot be off: a connection must end some time.
    let at_least = |v: u32, default: Duration| match v {
        0 | RWS_TIMEOUT_NEVER => default,
        v => Duration::from_millis(v.into()),
    };
    config.timeouts.pong_timeout = at_least(c.pong_timeout_ms, t.pong_timeout);
    config.timeouts.close = at_least(c.close_timeout_ms, t.close);
    config.limits.max_handshaking = match c.max_handshaking {
        0 => d.limits.max_handshaking,
        u32::MAX => 0,
        n => n as usize,
    };
    config.tcp_keepalive = match c.tcp_keepalive_s {
        0 => d.tcp_keepalive,
        RWS_TIMEOUT_NEVER => None,
        s => Some(Duration::from_secs(s.into())),
    };
    let high = bytes(c.write_high_watermark, d.limits.write_high_watermark);
    let low = bytes(c.write_low_watermark, d.limits.write_low_watermark);
    if c.write_high_watermark == RWS_NO_LIMIT {
        config.limits.write_high_watermark = 0; // off
    } else if low > high {
        return Err(fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "write_low_watermark above write_high_watermark",
        ));
    } else {
        config.limits.write_high_watermark = high;
        config.limits.write_low_watermark = low;
    }
    if !c.broker_url.is_null() {
        // SAFETY: a C string per the contract.
        let url = unsafe { c_str(c.broker_url) }?;
        let mut broker = BrokerConfig::new(url);
        if c.broker_max_queued > 0 {
            broker.max_queued = c.broker_max_queued as usize;
        }
        broker
            .check_url()
            .map_err(|e| fail(rws_result::RWS_ERR_INVALID_ARGUMENT, e.to_string()))?;
        config.broker = Some(broker);
    }
    config.deflate = deflate_config(&c.deflate).ok_or_else(|| {
        fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "deflate: window_bits 9-15, mem_level 1-9, level 1-9, peer_window_bits 8-15",
        )
    })?;
    // Engines report PING and PONG events (the pong to a ping is automatic).
    config.deliver_control_frames = true;
    Ok(config)
}
