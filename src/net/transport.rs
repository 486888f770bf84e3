//! The byte streams under a WebSocket: plain TCP and Unix sockets today, a
//! TLS stream later. The event loop only sees this seam.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

use crate::proto::conn::ReadSpace;

/// A connected, non-blocking byte stream.
#[derive(Debug)]
pub enum Stream {
    /// TCP over IPv4 or IPv6.
    Tcp(TcpStream),
    /// A Unix domain socket.
    Unix(UnixStream),
}

impl Stream {
    fn fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    /// Reads at most `max` bytes into the spare capacity of `buf`, growing it
    /// as needed, without zeroing memory first. `Ok(0)` is end of stream.
    pub fn read_into(&mut self, buf: &mut ReadSpace<'_>, max: usize) -> io::Result<usize> {
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
    pub fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if let [one] = bufs {
            return match self {
                Stream::Tcp(s) => s.write(one),
                Stream::Unix(s) => s.write(one),
            };
        }
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
        }
    }

    /// Reads into an initialised buffer (used to drain a closing socket).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    /// Shuts down one or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    /// Sets `TCP_NODELAY` (a no-op on Unix sockets).
    pub fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nodelay(true),
            Stream::Unix(_) => Ok(()),
        }
    }

    /// The connect error, if a non-blocking connect failed.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            Stream::Unix(s) => s.take_error(),
        }
    }

    /// Whether a non-blocking connect has completed.
    pub fn is_connected(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.peer_addr().is_ok(),
            Stream::Unix(s) => s.peer_addr().is_ok(),
        }
    }

    /// A printable peer address.
    pub fn peer(&self) -> String {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
            Stream::Unix(_) => "unix".to_owned(),
        }
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
        }
    }
}
