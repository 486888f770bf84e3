//! rocwebsocket: a fast, correct WebSocket (RFC 6455) engine.
//!
//! - [`proto`]: the sans-IO protocol core (frames, close rules, message
//!   assembly, handshake, the connection state machine). No I/O, no clock.
//! - [`simd`]: runtime-dispatched unmasking (AVX2/SSE2/NEON/scalar) and
//!   incremental UTF-8 validation over simdutf8.
#![deny(missing_docs)]

pub mod ffi;
pub mod net;
pub mod proto;
pub mod simd;
