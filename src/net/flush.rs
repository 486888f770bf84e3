//! Writing a connection's queued bytes to its stream: the one write path of
//! the event loop, shared with the `rocws bench` load generator.

use std::io::{self, IoSlice};

use super::transport::Stream;
use crate::proto::Connection;

/// Slices gathered for one vectored write.
const WRITE_SLICES: usize = 64;

/// How writing out a connection's queue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Every queued byte was written.
    All,
    /// The socket would block with bytes still queued: write again when it
    /// turns writable.
    Blocked,
}

/// Writes `ws`'s queued bytes to `stream`, vectored, until the queue is empty
/// or the socket would block, then whatever the transport holds of its own
/// (TLS records: handshake, alerts, close_notify). An error (or a
/// zero-length write) means the transport is gone.
pub fn write_queued(stream: &mut Stream, ws: &mut Connection) -> io::Result<Written> {
    while ws.buffered_amount() > 0 {
        let first = ws.output_chunk();
        let result = if first.len() == ws.buffered_amount() {
            // One contiguous run (the usual case): no slice array to fill.
            stream.write_vectored(&[IoSlice::new(first)])
        } else {
            let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
            let n = ws.io_slices(&mut slices);
            stream.write_vectored(&slices[..n])
        };
        match result {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => ws.advance_output(written),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Written::Blocked),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    match stream.flush_pending() {
        Ok(()) => Ok(Written::All),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Written::Blocked),
        Err(e) => Err(e),
    }
}
