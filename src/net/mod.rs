//! The mio event loop: sockets, readiness, timers and threads. No protocol
//! rule lives here; `proto` decides, this module moves bytes.

pub mod broker;
mod buffered;
pub mod client;
pub mod config;
pub mod engine;
pub mod flush;
pub mod handle;
pub mod handler;
pub mod pool;
pub mod stats;
pub mod sys;
pub mod timer;
pub mod tls;
pub mod topics;
pub mod transport;
mod worker;

pub use broker::{BrokerConfig, BrokerStats};
pub use client::{ClientOptions, WsUrl};
pub use config::{
    BackpressurePolicy, Config, DeflateConfig, Endpoint, Limits, Timeouts, TlsListen,
};
pub use engine::Engine;
pub use handle::{Handle, HandleError};
pub use handler::{Conn, ConnId, Handler, Message, OpenInfo, Upgrade, UpgradeRequest, MAX_THREADS};
pub use stats::ConnStats;
pub use tls::{TlsAcceptor, TlsClientOptions, TlsConnector, TlsError};
