//! WebSocket peers in plain `std::net` (blocking sockets with timeouts), so
//! that neither the attackers nor the well-behaved client depend on the
//! engine under test.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The masking key every frame of these peers uses (any key is valid).
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The opening request (RFC 6455 §1.3's key).
pub fn upgrade_request() -> &'static [u8] {
    b"GET /abuse HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
      Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

/// A masked frame's header announcing `len` payload bytes (mask key included).
pub fn masked_header(b0: u8, len: u64) -> Vec<u8> {
    let mut out = vec![b0];
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(&KEY);
    out
}

/// A whole masked frame.
pub fn masked_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = masked_header(b0, payload.len() as u64);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

/// A TCP connection to `addr` with both timeouts set.
pub fn tcp(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// A frame from the server (unmasked).
#[derive(Debug)]
pub struct Frame {
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// A client that has finished the opening handshake.
pub struct RawClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    /// Connects and upgrades; every step within `timeout`.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<RawClient> {
        let mut stream = tcp(addr, timeout)?;
        stream.write_all(upgrade_request())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed in handshake",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        if !buf.starts_with(b"HTTP/1.1 101 ") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            return Err(io::Error::other(format!("upgrade refused: {head}")));
        }
        buf.drain(..end);
        Ok(RawClient { stream, buf })
    }

    /// Sends one masked frame.
    pub fn send(&mut self, b0: u8, payload: &[u8]) -> io::Result<()> {
        self.stream.write_all(&masked_frame(b0, payload))
    }

    /// Reads the next frame, waiting at most until `deadline`.
    pub fn read_frame(&mut self, deadline: Instant) -> io::Result<Frame> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some((frame, used)) = parse_server_frame(&self.buf)? {
                self.buf.drain(..used);
                return Ok(frame);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no frame in time"));
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed")),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the next data frame, skipping pings and pongs (not answered:
    /// another thread may be writing); a close frame is an error carrying
    /// its code.
    pub fn read_data(&mut self, deadline: Instant) -> io::Result<Vec<u8>> {
        loop {
            let f = self.read_frame(deadline)?;
            match f.opcode {
                0x1 | 0x2 => return Ok(f.payload),
                0x9 => {}
                0xA => {}
                0x8 => {
                    let code = f.payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                    return Err(io::Error::other(format!("server closed: {code:?}")));
                }
                op => return Err(io::Error::other(format!("unexpected opcode {op:#x}"))),
            }
        }
    }
}

/// One whole unmasked frame at the start of `buf`, and its length on the wire.
fn parse_server_frame(buf: &[u8]) -> io::Result<Option<(Frame, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[1] & 0x80 != 0 {
        return Err(io::Error::other("server frame masked"));
    }
    let (len, at) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().unwrap()), 10),
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    if len > 64 << 20 {
        return Err(io::Error::other(format!("server frame of {len} bytes")));
    }
    let end = at + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    let frame = Frame {
        opcode: buf[0] & 0x0F,
        payload: buf[at..end].to_vec(),
    };
    Ok(Some((frame, end)))
}

/// What the well-behaved client saw during an attack.
#[derive(Debug, Default)]
pub struct EchoStats {
    pub sent: u64,
    pub received: u64,
    pub rtts: Vec<Duration>,
    /// The first thing that went wrong (lost, out of order, wrong bytes,
    /// closed), if anything did; the client stops there.
    pub error: Option<String>,
}

impl EchoStats {
    /// The `q` quantile (0..=1) of the round trips, by rank.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.rtts.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.rtts.clone();
        sorted.sort_unstable();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

/// The payload of echo number `seq`: the number, then bytes derived from it.
fn echo_payload(seq: u64) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.extend((0..24u64).map(|i| (seq.wrapping_mul(31).wrapping_add(i * 7)) as u8));
    p
}

/// Sends numbered binary messages at a fixed rate (one every `interval`,
/// whatever the echoes do: a stalled server cannot hide its stall by
/// slowing the client down) until `until`, and checks every echo on this
/// thread: arrived within `patience` of its sending, in order, byte for
/// byte. The round trip is from each message's send to its echo.
pub fn echo_paced(
    c: &mut RawClient,
    until: Instant,
    interval: Duration,
    patience: Duration,
) -> EchoStats {
    let mut stats = EchoStats::default();
    let mut writer = match c.stream.try_clone() {
        Ok(w) => w,
        Err(e) => {
            stats.error = Some(format!("cannot clone the socket: {e}"));
            return stats;
        }
    };
    let sent_at: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let writer_done = Arc::new(AtomicBool::new(false));
    let (times, done) = (sent_at.clone(), writer_done.clone());
    let writer = std::thread::spawn(move || {
        let _ = writer.set_write_timeout(Some(patience));
        let mut next = Instant::now();
        let mut seq = 0u64;
        let mut error = None;
        while next < until {
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            let frame = masked_frame(0x82, &echo_payload(seq));
            let at = Instant::now();
            if let Err(e) = writer.write_all(&frame) {
                error = Some(format!("send of echo {seq} failed: {e}"));
                break;
            }
            times.lock().unwrap().push(at);
            seq += 1;
            next += interval;
        }
        done.store(true, Ordering::Release);
        error
    });
    loop {
        let finished = writer_done.load(Ordering::Acquire);
        let (sent, first_unanswered) = {
            let t = sent_at.lock().unwrap();
            (t.len() as u64, t.get(stats.received as usize).copied())
        };
        if finished && stats.received == sent {
            break;
        }
        let deadline = match first_unanswered {
            Some(at) => at + patience,
            None => Instant::now() + interval * 2,
        };
        let seq = stats.received;
        match c.read_data(deadline) {
            Ok(got) => {
                let arrived = Instant::now();
                // The echo may beat the writer's bookkeeping by a hair.
                let at = loop {
                    if let Some(&at) = sent_at.lock().unwrap().get(seq as usize) {
                        break at;
                    }
                    std::thread::yield_now();
                };
                if got != echo_payload(seq) {
                    let other = got
                        .get(..8)
                        .map(|b| u64::from_be_bytes(b.try_into().unwrap()));
                    stats.error = Some(format!(
                        "echo {seq}: got {} bytes, sequence {other:?}",
                        got.len()
                    ));
                    break;
                }
                stats.rtts.push(arrived - at);
                stats.received += 1;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                if first_unanswered.is_some() && Instant::now() >= deadline {
                    stats.error = Some(format!("echo {seq} lost: none within {patience:?}"));
                    break;
                }
            }
            Err(e) => {
                stats.error = Some(format!("echo {seq} lost: {e}"));
                break;
            }
        }
    }
    let write_error = writer
        .join()
        .unwrap_or_else(|_| Some("writer panicked".into()));
    stats.sent = sent_at.lock().unwrap().len() as u64;
    if stats.error.is_none() {
        stats.error = write_error;
    }
    stats
}

/// Writes `frames` (whole frames, so a wrap-around lands on a frame
/// boundary) over and over until `deadline`, never reading. Returns bytes
/// written and, if the connection failed, why.
pub fn write_until(s: &mut TcpStream, frames: &[u8], deadline: Instant) -> (u64, Option<String>) {
    let _ = s.set_write_timeout(Some(Duration::from_millis(50)));
    let mut at = 0;
    let mut total = 0u64;
    while Instant::now() < deadline {
        match s.write(&frames[at..]) {
            Ok(0) => return (total, Some("write returned 0".into())),
            Ok(n) => {
                total += n as u64;
                at = (at + n) % frames.len();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return (total, Some(e.to_string())),
        }
    }
    (total, None)
}

/// Sends `bytes` to the end, half-closes, and reads everything the server
/// answers until it closes (or `timeout` passes).
pub fn request_and_read(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let mut s = tcp(addr, timeout)?;
    s.write_all(bytes)?;
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}
