//! Resident memory per idle connection: opens 10,000 WebSocket connections
//! to a `rocws serve --threads 1` process and reads its VmRSS from /proc
//! before and after. Prints the figure; asserts nothing.
//!
//!     cargo bench --bench idle_memory [-- CONNECTIONS] [--echo]
//!
//! With `--echo`, each connection first sends one message and reads its
//! echo, then all go idle for two seconds: what a connection keeps after it
//! was busy (pools free what stays unused for a second).
//!
//! The kernel's socket memory is not in VmRSS: this is user-space memory only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server is running");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status")
}

fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

fn open(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 101"), "upgrade refused");
    s
}

fn start_server(port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_rocws"))
        .args([
            "serve",
            "--threads",
            "1",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("rocws starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find(|a| a.parse::<usize>().is_ok())
        .map_or(10_000, |a| a.parse().unwrap());
    raise_fd_limit();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut server = start_server(port);
    // Warm up: the slab, timer heap and pools reach their working shape.
    let warm: Vec<TcpStream> = (0..100).map(|_| open(addr)).collect();
    drop(warm);
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(server.id());
    let echo = std::env::args().any(|a| a == "--echo");
    let mut conns: Vec<TcpStream> = (0..count).map(|_| open(addr)).collect();
    if echo {
        // A masked 5-byte text frame ("hello", key 0) and its unmasked echo.
        let frame = [0x81, 0x85, 0, 0, 0, 0, b'h', b'e', b'l', b'l', b'o'];
        for s in &mut conns {
            s.write_all(&frame).unwrap();
        }
        for s in &mut conns {
            let mut back = [0u8; 7];
            s.read_exact(&mut back).unwrap();
            assert_eq!(&back[2..], b"hello", "echoed");
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    std::thread::sleep(Duration::from_secs(1));
    let after = rss_kib(server.id());
    let per_conn = (after.saturating_sub(before) * 1024) as f64 / count as f64;
    println!(
        "idle_memory: {count} idle connections{}: server VmRSS {before} KiB -> {after} KiB: {per_conn:.0} bytes per connection",
        if echo { " (after one echo each)" } else { "" }
    );
    drop(conns);
    let _ = server.kill();
    let _ = server.wait();
}
