//! Resident memory per idle connection: opens 10,000 WebSocket connections
//! to a `rocws serve --threads 1` process and reads its VmRSS from /proc
//! before and after. Prints the figure; asserts nothing.
//!
//!     cargo bench --bench idle_memory [-- CONNECTIONS] [plain|plain-echo|deflate|deflate-out|deflate-nct]
//!
//! `plain-echo` sends one message on each connection and reads its echo,
//! then waits two seconds: what a connection keeps after it was busy (the
//! pools free what stays unused for a second).
//! `deflate` negotiates permessage-deflate with context takeover both ways
//! and sends one compressed message each way per connection first (so the
//! server holds its compressor and decompressor, as a connection that has
//! talked does); `deflate-out` sends only a plain message (the echo is
//! compressed: the compressor alone); `deflate-nct` asks for no context takeover both ways (the
//! states then come from a per-thread pool only while a message is handled).
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

/// A JSON tick (under 126 bytes: one-byte frame lengths keep the client simple).
const TICK: &[u8] = br#"{"type":"ticker","seq":100000123,"product_id":"BTC-USD","price":"40123.45","bid":"40123.40","side":"buy"}"#;

/// A masked client frame with RSV bits `rsv` and opcode text.
fn client_frame(rsv: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [1u8, 2, 3, 4];
    let mut out = vec![0x81 | (rsv << 4), 0x80 | payload.len() as u8];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// TICK as the first message of a raw deflate stream (sync flush, tail stripped).
fn compressed_tick() -> Vec<u8> {
    let mut c = zlib_rs::Deflate::new(6, false, 15);
    let mut out = vec![0u8; 1024];
    c.compress(TICK, &mut out, zlib_rs::DeflateFlush::SyncFlush)
        .unwrap();
    let n = c.total_out() as usize;
    out.truncate(n - 4);
    out
}

fn open(addr: SocketAddr, mode: &str, deflated: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    let offer = match mode {
        "deflate" | "deflate-out" => {
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        }
        "deflate-nct" => "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n",
        _ => "",
    };
    s.write_all(
        format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 101"), "upgrade refused");
    if mode == "plain-echo" {
        // A masked 5-byte text frame ("hello", key 0) and its unmasked echo.
        s.write_all(&[0x81, 0x85, 0, 0, 0, 0, b'h', b'e', b'l', b'l', b'o'])
            .unwrap();
        let mut back = [0u8; 7];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back[2..], b"hello", "echoed");
    } else if mode != "plain" {
        let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
        assert!(head.contains("permessage-deflate"), "deflate not accepted");
        // One plain and one compressed message, each echoed compressed.
        s.write_all(&client_frame(0, TICK)).unwrap();
        // deflate-out: only the server's compressor is used, not its decompressor.
        let want = if mode == "deflate-out" { 1 } else { 2 };
        if want == 2 {
            s.write_all(&client_frame(0b100, deflated)).unwrap();
        }
        let mut got = 0;
        let mut frames = 0;
        while frames < want {
            let n = s.read(&mut buf[got..]).unwrap();
            assert!(n > 0, "server closed");
            got += n;
            // Count whole frames (server frames, lengths under 126).
            let mut at = 0;
            frames = 0;
            while at + 2 <= got && at + 2 + (buf[at + 1] & 0x7f) as usize <= got {
                at += 2 + (buf[at + 1] & 0x7f) as usize;
                frames += 1;
            }
        }
    }
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
    let mode = std::env::args()
        .skip(1)
        .find(|a| a.starts_with("plain") || a.starts_with("deflate"))
        .unwrap_or_else(|| "plain".into());
    let deflated = compressed_tick();
    raise_fd_limit();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut server = start_server(port);
    // Warm up: the slab, timer heap and pools reach their working shape.
    let warm: Vec<TcpStream> = (0..100).map(|_| open(addr, &mode, &deflated)).collect();
    drop(warm);
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(server.id());
    let conns: Vec<TcpStream> = (0..count).map(|_| open(addr, &mode, &deflated)).collect();
    if mode == "plain-echo" {
        std::thread::sleep(Duration::from_secs(2));
    }
    std::thread::sleep(Duration::from_secs(1));
    let after = rss_kib(server.id());
    let per_conn = (after.saturating_sub(before) * 1024) as f64 / count as f64;
    println!(
        "idle_memory ({mode}): {count} idle connections: server VmRSS {before} KiB -> {after} KiB: {per_conn:.0} bytes per connection"
    );
    drop(conns);
    let _ = server.kill();
    let _ = server.wait();
}
