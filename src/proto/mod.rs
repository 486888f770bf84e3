//! The sans-IO RFC 6455 protocol: no sockets, no clock, no threads.
//!
//! Bytes go in, events come out; messages go in, bytes come out. The same
//! code drives the mio event loop, the C ABI and any foreign event loop.

pub mod close;
pub mod conn;
pub mod deadline;
pub mod deflate;
pub mod error;
pub mod feed;
pub mod frame;
pub mod handshake;
pub mod mask_key;
pub mod message;
pub mod outbuf;

pub use close::{CloseCode, CloseFrame, CloseState};
pub use conn::{ConnConfig, Connection, InFlight, SendError};
pub use deadline::{Expired, Tick, Timeouts};
pub use error::ProtocolError;
pub use frame::{FrameHeader, OpCode, Role};
pub use message::{Event, Utf8Bytes};
