//! rocwebsocket: a fast, correct WebSocket (RFC 6455) engine.
//!
//! - [`proto`]: the sans-IO protocol core (frames, close rules, message
//!   assembly, handshake, the connection state machine). No I/O, no clock.
//! - [`simd`]: runtime-dispatched unmasking (AVX2/SSE2/NEON/scalar) and
//!   incremental UTF-8 validation over simdutf8.
//! - [`net`]: the mio event loop that serves and connects (sockets,
//!   readiness, threads, the deadline heap, buffer pools).
//! - [`ffi`]: the C ABI (`include/rocwebsocket.h`), one module per C object.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod ffi;
pub mod net;
pub mod proto;
pub mod simd;
