//! Helpers for the loopback tests: a blocking client built on the sans-IO
//! core, and an echo engine that reports what its handler saw.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rocwebsocket::net::{Config, Conn, ConnId, Endpoint, Engine, Handler, Message, OpenInfo};
use rocwebsocket::proto::handshake::{ClientHandshake, DEFAULT_MAX_HEAD};
use rocwebsocket::proto::{CloseCode, ConnConfig, Connection, Event, Role};

/// What the server-side handler saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Open(ConnId, String),
    Close(ConnId, u16, String),
    Backpressure(ConnId, usize),
}

/// Echoes every message and reports opens and closes.
pub struct EchoHandler {
    pub seen: mpsc::Sender<Seen>,
}

impl Handler for EchoHandler {
    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        let _ = self.seen.send(Seen::Open(conn.id(), info.path));
    }
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        let _ = conn.send(message);
    }
    fn on_close(&mut self, id: ConnId, code: CloseCode, reason: &str) {
        let _ = self.seen.send(Seen::Close(id, code.0, reason.to_owned()));
    }
    fn on_backpressure(&mut self, conn: &mut Conn<'_>, buffered: usize) {
        let _ = self.seen.send(Seen::Backpressure(conn.id(), buffered));
    }
}

/// An echo engine on an ephemeral loopback port.
pub fn echo_engine(mut config: Config) -> (Engine, SocketAddr, mpsc::Receiver<Seen>) {
    if config.listen.is_empty() {
        config
            .listen
            .push(Endpoint::Tcp(([127, 0, 0, 1], 0).into()));
    }
    if config.threads == 0 {
        config.threads = 1;
    }
    let (tx, rx) = mpsc::channel();
    let engine =
        Engine::start(config, |_, _| EchoHandler { seen: tx.clone() }).expect("engine starts");
    let addr = engine
        .local_addr()
        .unwrap_or_else(|| ([127, 0, 0, 1], 0).into());
    (engine, addr, rx)
}

/// Waits for the next thing the handler saw that matches `pred`.
pub fn wait_for(
    rx: &mpsc::Receiver<Seen>,
    timeout: Duration,
    pred: impl Fn(&Seen) -> bool,
) -> Seen {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(s) if pred(&s) => return s,
            Ok(_) => {}
            Err(_) => panic!("nothing matching within {timeout:?}"),
        }
    }
}

/// A blocking WebSocket client over any stream, driving `proto::Connection`.
pub struct TestClient<S: Read + Write = TcpStream> {
    pub stream: S,
    pub ws: Connection,
}

/// Sends a raw HTTP request and returns the whole response head and body read until close.
pub fn raw_http(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

impl TestClient<TcpStream> {
    pub fn connect(addr: SocketAddr, path: &str) -> TestClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        TestClient::handshake(stream, path)
    }
}

impl<S: Read + Write> TestClient<S> {
    pub fn handshake(mut stream: S, path: &str) -> TestClient<S> {
        let mut req = Vec::new();
        let hs = ClientHandshake::write_request(&mut req, "localhost", path, &[], &[]).unwrap();
        stream.write_all(&req).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let consumed = loop {
            let n = stream.read(&mut chunk).expect("read response");
            assert!(n > 0, "closed during handshake");
            buf.extend_from_slice(&chunk[..n]);
            if let Some((_, consumed)) = hs.parse_response(&buf, DEFAULT_MAX_HEAD).expect("101") {
                break consumed;
            }
        };
        let config = ConnConfig {
            max_frame_size: 64 << 20,
            max_message_size: 64 << 20,
            allowed_rsv: 0,
        };
        let mut ws = Connection::new(Role::Client, config);
        ws.feed(&buf[consumed..]);
        TestClient { stream, ws }
    }

    pub fn flush(&mut self) {
        while self.ws.buffered_amount() > 0 {
            let chunk = self.ws.output_chunk().to_vec();
            self.stream.write_all(&chunk).expect("write");
            self.ws.advance_output(chunk.len());
        }
    }

    /// Writes one final, masked frame with `opcode` and any payload, even
    /// one the send API refuses (invalid UTF-8 as text): for testing the peer.
    pub fn send_raw_frame(&mut self, opcode: u8, payload: &[u8]) {
        self.flush();
        let key = [0x5a, 0x17, 0xc3, 0x81];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&key);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        self.stream.write_all(&frame).expect("write");
    }

    pub fn send_text(&mut self, text: &str) {
        self.ws.send_text(text).unwrap();
        self.flush();
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.ws.send_binary(data).unwrap();
        self.flush();
    }

    /// The next event; `None` when the stream ends first. Answers pings.
    pub fn next_event(&mut self) -> Option<Event> {
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            if let Some(event) = self.ws.next_event() {
                self.flush();
                return Some(event);
            }
            let n = match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => n,
            };
            self.ws.feed(&chunk[..n]);
        }
    }

    /// The next data event, skipping pings and pongs.
    pub fn next_message(&mut self) -> Option<Event> {
        loop {
            match self.next_event()? {
                Event::Ping(_) | Event::Pong(_) => {}
                other => return Some(other),
            }
        }
    }

    /// Reads until the stream closes; true if it did.
    pub fn read_until_eof(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.ws.feed(&chunk[..n]),
                Err(_) => return false,
            }
        }
    }
}

pub fn tcp_client_with_timeout(addr: SocketAddr, path: &str) -> TestClient {
    let c = TestClient::connect(addr, path);
    c.stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    c
}

/// Raises the open-file limit to its hard maximum (for tests with many sockets).
pub fn raise_fd_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        lim.rlim_cur
    }
}
