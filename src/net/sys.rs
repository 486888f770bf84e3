//! The few platform-specific calls of the crate, in one place.
//!
//! Linux is the supported and tested platform. Other Unix systems build with
//! the fallbacks here (a non-blocking pipe where Linux has an eventfd); other
//! systems are refused at compile time rather than failing at run time.

use std::io;
use std::os::fd::{AsFd, RawFd};
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

#[cfg(test)]
mod tests {
    use super::*;

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
