//! The few platform-specific calls of the crate, in one place.
//!
//! Linux is the supported and tested platform. Other Unix systems build with
//! the fallbacks here (a non-blocking pipe where Linux has an eventfd); other
//! systems are refused at compile time rather than failing at run time.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

#[cfg(not(unix))]
compile_error!("rocwebsocket supports Unix systems only (tested on Linux)");

/// A file descriptor that a host can watch (epoll, select, asyncio's
/// `add_reader`): readable after [`signal`](Self::signal) until
/// [`clear`](Self::clear). An eventfd on Linux, a pipe elsewhere.
#[derive(Debug)]
pub struct WakeFd {
    read: RawFd,
    write: RawFd,
}

impl WakeFd {
    /// A new, non-blocking, close-on-exec wake-up descriptor.
    #[cfg(target_os = "linux")]
    pub fn new() -> io::Result<WakeFd> {
        // SAFETY: a plain system call; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(WakeFd {
            read: fd,
            write: fd,
        })
    }

    /// A new, non-blocking, close-on-exec wake-up descriptor.
    #[cfg(not(target_os = "linux"))]
    pub fn new() -> io::Result<WakeFd> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        for fd in fds {
            // SAFETY: plain fcntl calls on descriptors we own.
            unsafe {
                libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        Ok(WakeFd {
            read: fds[0],
            write: fds[1],
        })
    }

    /// The descriptor to watch for readability.
    pub fn fd(&self) -> RawFd {
        self.read
    }

    /// Makes the descriptor readable (a no-op if it already is).
    pub fn signal(&self) {
        let one: u64 = 1;
        // An eventfd takes 8 bytes; a pipe any: a full pipe is readable anyway.
        let len = if self.read == self.write { 8 } else { 1 };
        // SAFETY: writing `len <= 8` bytes from a local to our own descriptor.
        unsafe { libc::write(self.write, (&one as *const u64).cast(), len) };
    }

    /// Makes the descriptor unreadable until the next signal.
    pub fn clear(&self) {
        let mut sink = [0u8; 64];
        loop {
            // SAFETY: reading into a local buffer from our own non-blocking descriptor.
            let n = unsafe { libc::read(self.read, sink.as_mut_ptr().cast(), sink.len()) };
            // An eventfd is emptied by one read; a pipe may hold more bytes.
            if n <= 0 || self.read == self.write {
                return;
            }
        }
    }
}

impl Drop for WakeFd {
    fn drop(&mut self) {
        // SAFETY: closing descriptors this object owns, once each.
        unsafe {
            libc::close(self.read);
            if self.write != self.read {
                libc::close(self.write);
            }
        }
    }
}

/// Turns TCP keepalive on for `socket`: the kernel probes after `idle`
/// without traffic, then every 10 s, and fails the socket when the peer is
/// gone (socket2 spells the option for each system).
pub fn set_tcp_keepalive(socket: &impl AsFd, idle: Duration) -> io::Result<()> {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(Duration::from_secs(10));
    socket2::SockRef::from(socket).set_tcp_keepalive(&keepalive)
}

/// Socket options of a client connection, set before it connects (so a
/// receive buffer also shapes the window scale offered in the SYN). `None`
/// leaves the system's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// `SO_RCVBUF` in bytes (Linux doubles it for its bookkeeping).
    pub recv_buffer: Option<usize>,
    /// `SO_SNDBUF` in bytes (likewise doubled).
    pub send_buffer: Option<usize>,
    /// `SO_PRIORITY`: the queueing priority of this socket's packets (0-6
    /// without `CAP_NET_ADMIN`).
    pub priority: Option<u32>,
    /// `IP_TOS` (IPv4) or `IPV6_TCLASS` (IPv6): the DSCP/ECN byte.
    pub tos: Option<u32>,
}

impl SocketOptions {
    /// Whether any option is set.
    pub fn is_set(&self) -> bool {
        *self != SocketOptions::default()
    }

    /// Sets the chosen options on `socket` (of the address family `ipv6`).
    pub fn apply(&self, socket: &impl AsFd, ipv6: bool) -> io::Result<()> {
        let s = socket2::SockRef::from(socket);
        if let Some(n) = self.recv_buffer {
            s.set_recv_buffer_size(n)?;
        }
        if let Some(n) = self.send_buffer {
            s.set_send_buffer_size(n)?;
        }
        // TOS first: Linux derives a priority from IP_TOS, which an explicit
        // SO_PRIORITY then overrides.
        if let Some(tos) = self.tos {
            if ipv6 {
                s.set_tclass_v6(tos)?;
            } else {
                s.set_tos(tos)?;
            }
        }
        if let Some(p) = self.priority {
            let value = libc::c_int::try_from(p)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "priority too large"))?;
            // SAFETY: a valid descriptor and a c_int option value of the right size.
            let r = unsafe {
                libc::setsockopt(
                    socket.as_fd().as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_PRIORITY,
                    (&value as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// A non-blocking TCP connect to `addr` with these options set first.
    pub(crate) fn connect(&self, addr: std::net::SocketAddr) -> io::Result<mio::net::TcpStream> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        socket.set_cloexec(true)?;
        self.apply(&socket, addr.is_ipv6())?;
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        Ok(mio::net::TcpStream::from_std(socket.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_options_are_set_before_connecting() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let options = SocketOptions {
            recv_buffer: Some(256 << 10),
            send_buffer: Some(128 << 10),
            priority: Some(5),
            tos: Some(0x10),
        };
        let stream = options.connect(listener.local_addr().unwrap()).unwrap();
        let s = socket2::SockRef::from(&stream);
        assert!(s.recv_buffer_size().unwrap() >= 256 << 10);
        assert!(s.send_buffer_size().unwrap() >= 128 << 10);
        assert_eq!(s.tos().unwrap(), 0x10);
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid descriptor, and room for a c_int.
        let r = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PRIORITY,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!((r, value), (0, 5));
        assert!(!SocketOptions::default().is_set() && options.is_set());
    }

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    #[test]
    fn signal_and_clear() {
        let w = WakeFd::new().unwrap();
        assert!(!readable(w.fd()));
        w.signal();
        w.signal();
        assert!(readable(w.fd()));
        w.clear();
        assert!(!readable(w.fd()));
    }
}
