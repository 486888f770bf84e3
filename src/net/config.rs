//! Settings of the event loop: addresses, threads, limits, timeouts.

use std::path::PathBuf;

use crate::proto::ConnConfig;
use std::time::Duration;

pub use crate::proto::deflate::DeflateConfig;
pub use crate::proto::Timeouts;

use super::tls::TlsAcceptor;

/// A listener that speaks TLS (`wss://`).
#[derive(Debug, Clone)]
pub struct TlsListen {
    /// Where to listen (TCP, or a Unix socket).
    pub endpoint: Endpoint,
    /// The certificates served (shared: a swap through any clone applies).
    pub acceptor: TlsAcceptor,
}

/// An address to listen on or connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP address (IPv4 or IPv6).
    Tcp(std::net::SocketAddr),
    /// A Unix domain socket path.
    Unix(PathBuf),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "{a}"),
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl std::str::FromStr for Endpoint {
    type Err = std::net::AddrParseError;
    /// `unix:/path` or `unix:///path` is a Unix socket; anything else a TCP address.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s
            .strip_prefix("unix://")
            .or_else(|| s.strip_prefix("unix:"))
        {
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        s.parse().map(Endpoint::Tcp)
    }
}

/// What to do with a connection whose unsent bytes exceed
/// [`Limits::max_buffered`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackpressurePolicy {
    /// Close it with 1008 (policy violation) and drop what was queued.
    Drop,
    /// Keep it, and tell the handler through `on_backpressure`; the
    /// application decides (stop sending, skip updates, close).
    Notify,
}

/// Resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Frame and message size limits (1009 beyond them).
    pub conn: ConnConfig,
    /// Most simultaneous connections across all threads; beyond it new ones
    /// get `503 Service Unavailable` and are closed. 0 means no limit.
    pub max_connections: usize,
    /// Most unsent bytes per connection before the backpressure policy applies.
    pub max_buffered: usize,
    /// What happens past `max_buffered`.
    pub backpressure: BackpressurePolicy,
    /// Largest request (or response) head of the opening handshake; 431 beyond.
    pub max_handshake: usize,
    /// Most connections still in the opening handshake per thread; past it
    /// the one waiting longest is dropped, so that slow or silent peers
    /// (slowloris) cannot crowd out new clients. 0 means no limit.
    pub max_handshaking: usize,
    /// Unsent bytes past which a connection stops being read until its peer
    /// reads enough for them to drain below `write_low_watermark`: a peer
    /// that sends but does not read meets TCP flow control instead of
    /// growing our memory. 0 turns this off (then only `max_buffered` acts).
    pub write_high_watermark: usize,
    /// Where reading resumes (see `write_high_watermark`).
    pub write_low_watermark: usize,
    /// Bytes one connection may read per wake-up before the loop serves the
    /// others (and its timers and commands); the rest is read on the next
    /// turn without waiting for new readiness.
    pub read_budget: usize,
    /// Events (messages, pings, pongs) one connection may deliver per
    /// wake-up: a flood of tiny frames (empty pings) is shared out fairly
    /// too, not only a flood of bytes.
    pub event_budget: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            conn: ConnConfig::default(),
            max_connections: 0,
            max_buffered: 64 << 20,
            backpressure: BackpressurePolicy::Drop,
            max_handshake: crate::proto::handshake::DEFAULT_MAX_HEAD,
            max_handshaking: 1024,
            write_high_watermark: 1 << 20,
            write_low_watermark: 256 << 10,
            read_budget: 64 << 10,
            event_budget: 1024,
        }
    }
}

/// Everything an event loop needs. The default listens nowhere (a client-only
/// engine), runs one thread per core, with default limits and timeouts,
/// which are chosen for the open internet: a handshake timeout, a keepalive
/// ping with a pong deadline, TCP keepalive, bounded handshakes and reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on (none for a client-only loop).
    pub listen: Vec<Endpoint>,
    /// Addresses to listen on with TLS (`wss://`), beside the plain ones.
    pub listen_tls: Vec<TlsListen>,
    /// Event-loop threads; 0 means one per core.
    pub threads: usize,
    /// Resource limits.
    pub limits: Limits,
    /// Timers.
    pub timeouts: Timeouts,
    /// Subprotocols the server supports, in its order of preference; the first
    /// one the client offered is chosen (the handler may override).
    pub protocols: Vec<String>,
    /// Deliver ping and pong events to the handler (pongs are always automatic).
    pub deliver_control_frames: bool,
    /// TCP keepalive probes after this long idle on TCP sockets (the kernel
    /// then finds peers that vanished without a FIN even when nothing is
    /// sent); `None` leaves the system's setting.
    pub tcp_keepalive: Option<Duration>,
    /// A broker that carries topics to and from other nodes (see
    /// [`Handle::publish`](super::Handle::publish)); `None` keeps topics local.
    pub broker: Option<super::broker::BrokerConfig>,
    /// permessage-deflate (RFC 7692): accepted from clients and offered to
    /// servers when enabled. Off by default: each connection that
    /// negotiates it with context takeover holds compressor state.
    pub deflate: DeflateConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Vec::new(),
            listen_tls: Vec::new(),
            threads: 0,
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            protocols: Vec::new(),
            deliver_control_frames: false,
            tcp_keepalive: Some(Duration::from_secs(60)),
            broker: None,
            deflate: DeflateConfig::disabled(),
        }
    }
}

impl Config {
    /// The number of threads to run: `threads`, or one per core when 0.
    pub fn thread_count(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}
