//! The byte streams under a WebSocket: plain TCP and Unix sockets, and TLS
//! over either. The event loop only sees this seam: reads give plaintext,
//! writes take plaintext, and [`Stream::wants_write`] says when TLS has
//! records of its own to send (handshake, alerts, close_notify).

mod tls;

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};

use crate::proto::conn::ReadSpace;
use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

pub use tls::TlsStream;

use crate::net::tls::{tls_io_error, TlsAcceptor, TlsConnector};

/// A connected, non-blocking byte stream.
#[derive(Debug)]
pub enum Stream {
    /// TCP over IPv4 or IPv6.
    Tcp(TcpStream),
    /// A Unix domain socket.
    Unix(UnixStream),
    /// TLS over a TCP or Unix socket.
    Tls(Box<TlsStream>),
}

impl Stream {
    /// The server side of a TLS session over an accepted socket.
    pub fn tls_server(sock: Stream, acceptor: &TlsAcceptor) -> io::Result<Stream> {
        let session = acceptor.session()?;
        Ok(Stream::Tls(Box::new(TlsStream::server(
            sock.into_plain()?,
            session,
        )?)))
    }

    /// The client side of a TLS session over a socket (connected or
    /// connecting), for `server_name` (SNI and certificate check).
    pub fn tls_client(
        sock: Stream,
        connector: &TlsConnector,
        server_name: &str,
    ) -> io::Result<Stream> {
        let session = connector.session(server_name)?;
        Ok(Stream::Tls(Box::new(TlsStream::client(
            sock.into_plain()?,
            session,
        )?)))
    }

    fn into_plain(self) -> io::Result<Stream> {
        match self {
            Stream::Tls(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TLS inside TLS is not supported",
            )),
            plain => Ok(plain),
        }
    }

    /// The socket under any TLS.
    fn plain(&self) -> &Stream {
        match self {
            Stream::Tls(t) => &t.sock,
            plain => plain,
        }
    }

    fn plain_mut(&mut self) -> &mut Stream {
        match self {
            Stream::Tls(t) => &mut t.sock,
            plain => plain,
        }
    }

    fn fd(&self) -> RawFd {
        match self.plain() {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tls(_) => -1,
        }
    }

    /// Whether this is a TLS stream.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// Whether the transport has bytes of its own to send (TLS records:
    /// handshake, alerts, close_notify, or data a full socket refused).
    /// The event loop flushes these even when its write queue is empty.
    pub fn wants_write(&self) -> bool {
        match self {
            Stream::Tls(t) => t.wants_write(),
            _ => false,
        }
    }

    /// Sends what [`Stream::wants_write`] reports: `Ok(())` once nothing is
    /// left, `WouldBlock` while the socket is full.
    pub fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(t) => t.flush_pending(),
            _ => Ok(()),
        }
    }

    /// The error a handshake deadline reports: a TLS failure (1015) while the
    /// TLS handshake has not finished, else `message`.
    pub fn timed_out(&self, message: &str) -> io::Error {
        match self {
            Stream::Tls(t) if t.is_handshaking() => {
                tls_io_error(io::ErrorKind::TimedOut, "the handshake timed out")
            }
            _ => io::Error::new(io::ErrorKind::TimedOut, message.to_owned()),
        }
    }

    /// Reads at most `max` bytes into the spare capacity of `buf`, growing it
    /// as needed, without zeroing memory first. `Ok(0)` is end of stream.
    ///
    /// Over TLS: plaintext, as much as the socket held (possibly more than
    /// `max`, never more than 64 KiB of ciphertext beyond it); `Ok(0)` only
    /// after the peer's close_notify.
    pub fn read_into(&mut self, buf: &mut ReadSpace<'_>, max: usize) -> io::Result<usize> {
        if let Stream::Tls(t) = self {
            return t.read_into(buf, max);
        }
        if buf.capacity() - buf.len() < max {
            buf.reserve(max);
        }
        let spare = buf.spare_capacity_mut();
        let want = spare.len().min(max.max(1));
        // SAFETY: `spare` is writable memory of at least `want` bytes owned by
        // `buf`; read(2) writes at most `want` bytes into it and reports how many.
        let n = unsafe { libc::read(self.fd(), spare.as_mut_ptr().cast(), want) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        // SAFETY: the kernel initialised exactly `n <= want` bytes of spare capacity.
        unsafe { buf.commit(n) };
        Ok(n)
    }

    /// Writes from several slices at once (a plain write for one slice).
    ///
    /// Over TLS: every slice is encrypted (in records of up to 16 KiB) and
    /// the records go out in one vectored write; the count is of plaintext
    /// bytes taken, some of which may still wait in the session
    /// ([`Stream::wants_write`]).
    pub fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if let [one] = bufs {
            return match self {
                Stream::Tcp(s) => s.write(one),
                Stream::Unix(s) => s.write(one),
                Stream::Tls(t) => t.write_vectored(bufs),
            };
        }
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
            Stream::Tls(t) => t.write_vectored(bufs),
        }
    }

    /// Reads into an initialised buffer (used to drain a closing socket).
    /// Over TLS these are the raw socket bytes: a lingering connection only
    /// waits for the peer's end of stream.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.plain_mut() {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(_) => Ok(0),
        }
    }

    /// Shuts down one or both directions. Over TLS, shutting the write side
    /// first sends close_notify (if the socket takes it now).
    pub fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        if let Stream::Tls(t) = self {
            if how != Shutdown::Read {
                t.send_close_notify();
            }
        }
        match self.plain() {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
            Stream::Tls(_) => Ok(()),
        }
    }

    /// Sets `TCP_NODELAY` (a no-op on Unix sockets).
    pub fn set_nodelay(&self) -> io::Result<()> {
        match self.plain() {
            Stream::Tcp(s) => s.set_nodelay(true),
            _ => Ok(()),
        }
    }

    /// The connect error, if a non-blocking connect failed.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self.plain() {
            Stream::Tcp(s) => s.take_error(),
            Stream::Unix(s) => s.take_error(),
            Stream::Tls(_) => Ok(None),
        }
    }

    /// Whether a non-blocking connect has completed.
    pub fn is_connected(&self) -> bool {
        match self.plain() {
            Stream::Tcp(s) => s.peer_addr().is_ok(),
            Stream::Unix(s) => s.peer_addr().is_ok(),
            Stream::Tls(_) => false,
        }
    }

    /// A printable peer address.
    pub fn peer(&self) -> String {
        match self.plain() {
            Stream::Tcp(s) => s.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
            _ => "unix".to_owned(),
        }
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self.plain_mut() {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
            Stream::Tls(_) => Err(io::ErrorKind::InvalidInput.into()),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self.plain_mut() {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
            Stream::Tls(_) => Err(io::ErrorKind::InvalidInput.into()),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self.plain_mut() {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
            Stream::Tls(_) => Err(io::ErrorKind::InvalidInput.into()),
        }
    }
}
