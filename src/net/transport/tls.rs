//! A TLS session over a plain socket, moving bytes the way the event loop
//! wants them: reads fill the connection's (pooled) read buffer with
//! plaintext, writes take the write queue's slices at once.
//!
//! Reads take up to 64 KiB of ciphertext per system call into a per-thread
//! scratch buffer (rustls would read 4 KiB at a time) and feed it to rustls,
//! which decrypts in place; the plaintext is copied once into the read
//! buffer. Writes hand every queued slice to rustls in one call, which
//! packs them into records of up to 16 KiB, then send every pending record
//! with one vectored `write`.

use std::cell::RefCell;
use std::io::{self, BufRead, IoSlice, Read, Write};

use crate::proto::conn::ReadSpace;
use rustls::Connection;

use super::Stream;
use crate::net::tls::tls_io_error;

/// Ciphertext bytes asked of one read(2).
const CHUNK: usize = 64 * 1024;

thread_local! {
    /// Ciphertext between the socket and rustls; empty between calls.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A TLS session and its socket (never itself TLS).
pub struct TlsStream {
    pub(super) sock: Stream,
    tls: Connection,
    /// The socket reported end of stream.
    eof: bool,
    /// The peer sent its close_notify.
    peer_closed: bool,
    /// We queued our close_notify.
    closing: bool,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("sock", &self.sock)
            .field("handshaking", &self.tls.is_handshaking())
            .finish()
    }
}

/// The plain socket as `Read + Write` for rustls.
struct Sock<'a>(&'a mut Stream);

impl Read for Sock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Sock<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_vectored(&[IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsStream {
    pub(super) fn new(sock: Stream, tls: Connection) -> TlsStream {
        TlsStream {
            sock,
            tls,
            eof: false,
            peer_closed: false,
            closing: false,
        }
    }

    /// Decrypts what rustls holds; on a TLS error, tries to send the alert.
    fn process(&mut self) -> io::Result<()> {
        match self.tls.process_new_packets() {
            Ok(state) => {
                self.peer_closed |= state.peer_has_closed();
                Ok(())
            }
            Err(e) => {
                let _ = self.tls.write_tls(&mut Sock(&mut self.sock));
                Err(tls_io_error(io::ErrorKind::InvalidData, e))
            }
        }
    }

    /// Moves the decrypted bytes into `buf`; how many.
    fn drain_plaintext(&mut self, buf: &mut ReadSpace<'_>) -> usize {
        let mut total = 0;
        loop {
            let mut reader = self.tls.reader();
            let n = match reader.fill_buf() {
                Ok(chunk) if !chunk.is_empty() => {
                    buf.extend_from_slice(chunk);
                    chunk.len()
                }
                _ => return total,
            };
            reader.consume(n);
            total += n;
        }
    }

    /// Reads ciphertext until the socket would block (or `max` plaintext
    /// bytes arrived), answering the handshake on the way. `Ok(0)`: the peer
    /// closed cleanly (close_notify). End of stream without close_notify,
    /// mid-record or mid-handshake, is a TLS error.
    pub(super) fn read_into(&mut self, buf: &mut ReadSpace<'_>, max: usize) -> io::Result<usize> {
        let mut total = self.drain_plaintext(buf);
        while total < max && !self.eof && !self.peer_closed {
            let got = SCRATCH.with_borrow_mut(|scratch| -> io::Result<usize> {
                if scratch.len() < CHUNK {
                    scratch.resize(CHUNK, 0);
                }
                let n = self.sock.read(&mut scratch[..])?;
                if n == 0 {
                    self.eof = true;
                    self.tls.read_tls(&mut io::empty())?;
                    self.process()?;
                    total += self.drain_plaintext(buf);
                    return Ok(0);
                }
                let mut rest = &scratch[..n];
                while !rest.is_empty() {
                    if self.tls.read_tls(&mut rest)? == 0 {
                        break; // after close_notify nothing more is taken
                    }
                    self.process()?;
                    total += self.drain_plaintext(buf);
                }
                Ok(n)
            });
            match got {
                Ok(n) if n < CHUNK && total > 0 => break, // the socket is drained
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // Handshake answers, alerts, key updates: out now (a blocked socket
        // keeps them for `flush_pending` when it turns writable).
        match self.flush_pending() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if total > 0 {
            return Ok(total);
        }
        if self.peer_closed {
            return Ok(0);
        }
        if self.eof {
            let what = if self.tls.is_handshaking() {
                "the peer closed the connection during the handshake"
            } else {
                "the peer closed the connection without a close_notify (truncated, possibly mid-record)"
            };
            return Err(tls_io_error(io::ErrorKind::UnexpectedEof, what));
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// Encrypts every slice (as few records as rustls allows: up to 16 KiB
    /// each) and sends all pending records in one vectored write. Returns
    /// the plaintext bytes taken; those are the session's to send from now.
    pub(super) fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // Records still waiting go first; if they cannot, take nothing more.
        self.flush_pending()?;
        let taken = self.tls.writer().write_vectored(bufs)?;
        match self.flush_pending() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if taken == 0 && bufs.iter().any(|b| !b.is_empty()) {
            // rustls's buffer is full (only before the handshake finishes).
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    /// Whether records (handshake, alerts, data, close_notify) wait to be sent.
    pub(super) fn wants_write(&self) -> bool {
        self.tls.wants_write()
    }

    /// Sends pending records: `Ok(())` when none is left, `WouldBlock` when
    /// the socket is full.
    pub(super) fn flush_pending(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut Sock(&mut self.sock)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Queues our close_notify and tries to send it (and anything before it).
    pub(super) fn send_close_notify(&mut self) {
        if !self.closing {
            self.closing = true;
            self.tls.send_close_notify();
        }
        let _ = self.flush_pending();
    }

    /// Whether the TLS handshake is still going on.
    pub(super) fn is_handshaking(&self) -> bool {
        self.tls.is_handshaking()
    }
}
