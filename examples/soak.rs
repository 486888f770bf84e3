//! Soak client for `rocws serve` (echo): N connections for a given time,
//! messages of random sizes, text and binary, some fragmented, pings between
//! them; every echo is checked against the checksum, length and kind of the
//! message it answers, in order. Prints messages sent, received, lost and
//! corrupt, and the server's resident memory at start, peak and end.
//!
//! ```sh
//! bash scripts/soak.sh 1000 60          # starts the server, runs this, stops it
//! cargo run --release --example soak -- --addr 127.0.0.1:9001 --conns 1000 --secs 60 --server-pid PID
//! ```
//!
//! Options: `--addr HOST:PORT`, `--conns N` (1000), `--secs S` (60),
//! `--max-size BYTES` (65536), `--window N` (messages in flight per
//! connection, 4), `--seed N`, `--server-pid PID` (to read its RSS from
//! /proc). Exits 1 if any message was lost or corrupt or a connection failed.
//! One thread, non-blocking sockets (mio) and the crate's sans-IO core.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocwebsocket::proto::handshake::{ClientHandshake, DEFAULT_MAX_HEAD};
use rocwebsocket::proto::{ConnConfig, Connection, Event, OpCode, Role};

struct Options {
    addr: SocketAddr,
    conns: usize,
    secs: f64,
    max_size: usize,
    window: usize,
    seed: u64,
    server_pid: Option<u32>,
}

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        addr: "127.0.0.1:9001".parse().unwrap(),
        conns: 1000,
        secs: 60.0,
        max_size: 64 * 1024,
        window: 4,
        seed: 0x50a6,
        server_pid: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let value = args
            .get(i + 1)
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {value}");
        match flag {
            "--addr" => o.addr = value.parse().map_err(|_| format!("bad address {value}"))?,
            "--conns" => o.conns = value.parse().map_err(bad)?,
            "--secs" => o.secs = value.parse().map_err(|_| format!("bad seconds {value}"))?,
            "--max-size" => o.max_size = value.parse().map_err(bad)?,
            "--window" => o.window = value.parse::<usize>().map_err(bad)?.max(1),
            "--seed" => o.seed = value.parse().map_err(|_| format!("bad seed {value}"))?,
            "--server-pid" => o.server_pid = Some(value.parse().map_err(|_| "bad pid")?),
            other => return Err(format!("unknown option {other}")),
        }
        i += 2;
    }
    Ok(o)
}

/// FNV-1a, 64 bits: enough to tell a changed payload from the one sent.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// VmRSS of `pid` in bytes (0 if unknown).
fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// What an echo must match.
struct Expected {
    sum: u64,
    len: usize,
    text: bool,
}

#[derive(PartialEq, Eq)]
enum State {
    Handshaking,
    Open,
    Closing,
    Done,
}

struct Peer {
    stream: TcpStream,
    ws: Connection,
    handshake: Option<ClientHandshake>,
    state: State,
    expect: VecDeque<Expected>,
    writable: bool,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    received: u64,
    corrupt: u64,
    fragmented: u64,
    pings: u64,
    pongs: u64,
    bytes: u64,
    errors: u64,
}

struct Soak {
    o: Options,
    poll: Poll,
    peers: Vec<Peer>,
    rng: StdRng,
    t: Tally,
    sending: bool,
}

impl Soak {
    fn fail(&mut self, k: usize, why: String) {
        if self.peers[k].state != State::Done {
            if self.t.errors < 10 {
                eprintln!("soak: connection {k}: {why}");
            }
            self.t.errors += 1;
            self.peers[k].state = State::Done;
            let _ = self.poll.registry().deregister(&mut self.peers[k].stream);
        }
    }

    /// Queues one random message (maybe fragmented, maybe with a ping).
    fn send_one(&mut self, k: usize) {
        let bits = self
            .rng
            .random_range(0..=usize::BITS - self.o.max_size.leading_zeros());
        let len = self
            .rng
            .random_range(0..=(1usize << bits).min(self.o.max_size));
        let text = self.rng.random_bool(0.5);
        let payload: Vec<u8> = if text {
            (0..len)
                .map(|_| self.rng.random_range(b' '..=b'~'))
                .collect()
        } else {
            let mut p = vec![0u8; len];
            self.rng.fill(&mut p[..]);
            p
        };
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        let fragments = if len >= 2 && self.rng.random_bool(0.25) {
            self.rng.random_range(2..=len.min(8))
        } else {
            1
        };
        let ping = self.rng.random_bool(0.1);
        let ping_payload: Vec<u8> = (0..self.rng.random_range(0..=125))
            .map(|i| i as u8)
            .collect();
        let p = &mut self.peers[k];
        let result = if fragments == 1 {
            let r = match opcode {
                OpCode::Text => {
                    p.ws.send_text(std::str::from_utf8(&payload).expect("ASCII"))
                }
                _ => p.ws.send_binary(&payload),
            };
            if ping {
                let _ = p.ws.send_ping(&ping_payload);
            }
            r
        } else {
            let mut cuts: Vec<usize> = (0..fragments - 1)
                .map(|_| self.rng.random_range(1..len))
                .collect();
            cuts.sort_unstable();
            cuts.push(len);
            let mut from = 0;
            let mut r = Ok(());
            for (i, &to) in cuts.iter().enumerate() {
                let op = if i == 0 { opcode } else { OpCode::Continuation };
                r = r.and_then(|()| p.ws.send_fragment(op, &payload[from..to], to == len));
                if ping && i == 0 {
                    // A control frame between fragments is allowed (§5.4).
                    let _ = p.ws.send_ping(&ping_payload);
                }
                from = to;
            }
            self.t.fragmented += 1;
            r
        };
        if let Err(e) = result {
            return self.fail(k, format!("send refused: {e}"));
        }
        self.peers[k].expect.push_back(Expected {
            sum: checksum(&payload),
            len,
            text,
        });
        self.t.sent += 1;
        self.t.bytes += len as u64;
        if ping {
            self.t.pings += 1;
        }
    }

    fn flush(&mut self, k: usize) {
        let p = &mut self.peers[k];
        if !p.writable || p.state == State::Done {
            return;
        }
        while p.ws.buffered_amount() > 0 {
            let mut slices = [IoSlice::new(&[]); 64];
            let n = p.ws.io_slices(&mut slices);
            match p.stream.write_vectored(&slices[..n]) {
                Ok(0) => return self.fail(k, "write returned 0".into()),
                Ok(w) => p.ws.advance_output(w),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    p.writable = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(k, format!("write: {e}")),
            }
        }
        if p.state == State::Closing && p.ws.should_close_transport() {
            p.state = State::Done;
            let _ = self.poll.registry().deregister(&mut p.stream);
        }
    }

    fn read(&mut self, k: usize) {
        let mut buf = [0u8; 64 * 1024];
        loop {
            let p = &mut self.peers[k];
            if p.state == State::Done {
                return;
            }
            match p.stream.read(&mut buf) {
                Ok(0) => {
                    if p.state == State::Closing {
                        p.state = State::Done;
                        let _ = self.poll.registry().deregister(&mut p.stream);
                        return;
                    }
                    return self.fail(k, "the server closed the connection".into());
                }
                Ok(n) => {
                    p.ws.feed(&buf[..n]);
                    self.process(k);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(k, format!("read: {e}")),
            }
        }
    }

    fn process(&mut self, k: usize) {
        if let Some(hs) = &self.peers[k].handshake {
            let p = &self.peers[k];
            match hs.parse_response(p.ws.input(), DEFAULT_MAX_HEAD) {
                Ok(None) => return,
                Ok(Some((_, consumed))) => {
                    let p = &mut self.peers[k];
                    p.ws.discard_input(consumed);
                    p.handshake = None;
                    p.state = State::Open;
                }
                Err(e) => return self.fail(k, format!("upgrade refused: {e}")),
            }
        }
        while let Some(event) = self.peers[k].ws.next_event() {
            let (payload, text) = match event {
                Event::Text(t) => (t.into_bytes(), true),
                Event::Binary(b) => (b, false),
                Event::Pong(_) => {
                    self.t.pongs += 1;
                    continue;
                }
                Event::Ping(_) => continue,
                Event::Close(frame) => {
                    if self.peers[k].state != State::Closing {
                        return self.fail(k, format!("server closed with {}", frame.code.0));
                    }
                    continue;
                }
                Event::Error(e) => return self.fail(k, format!("protocol error: {e}")),
            };
            match self.peers[k].expect.pop_front() {
                Some(x)
                    if x.len == payload.len() && x.text == text && x.sum == checksum(&payload) =>
                {
                    self.t.received += 1;
                }
                Some(x) => {
                    self.t.corrupt += 1;
                    if self.t.corrupt <= 10 {
                        eprintln!(
                            "soak: connection {k}: echo of {} bytes ({}) does not match the {} bytes ({}) sent",
                            payload.len(),
                            if text { "text" } else { "binary" },
                            x.len,
                            if x.text { "text" } else { "binary" }
                        );
                    }
                }
                None => {
                    self.t.corrupt += 1;
                    eprintln!("soak: connection {k}: an echo nothing was sent for");
                }
            }
        }
    }

    fn top_up(&mut self) {
        for k in 0..self.peers.len() {
            if self.sending && self.peers[k].state == State::Open {
                while self.peers[k].expect.len() < self.o.window {
                    self.send_one(k);
                    if self.peers[k].state != State::Open {
                        break;
                    }
                }
            }
            if self.peers[k].ws.buffered_amount() > 0 {
                self.flush(k);
            }
        }
    }

    fn in_flight(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| p.state == State::Open)
            .map(|p| p.expect.len())
            .sum()
    }

    fn lost(&self) -> u64 {
        self.t.sent - self.t.received - self.t.corrupt
    }
}

fn main() -> ExitCode {
    let o = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    match run(o) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(o: Options) -> Result<bool, String> {
    let poll = Poll::new().map_err(|e| format!("epoll: {e}"))?;
    let rss = |o: &Options| o.server_pid.map_or(0, rss_of);
    let rss_start = rss(&o);
    let mut rss_peak = rss_start;
    let mut peers = Vec::with_capacity(o.conns);
    for k in 0..o.conns {
        let mut stream =
            TcpStream::connect(o.addr).map_err(|e| format!("connect {}: {e}", o.addr))?;
        poll.registry()
            .register(
                &mut stream,
                Token(k),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| format!("epoll: {e}"))?;
        let mut request = Vec::new();
        let hs =
            ClientHandshake::write_request(&mut request, &o.addr.to_string(), "/soak", &[], &[])
                .map_err(|e| e.to_string())?;
        let mut ws = Connection::new(Role::Client, ConnConfig::default());
        ws.queue_handshake_bytes(&request);
        peers.push(Peer {
            stream,
            ws,
            handshake: Some(hs),
            state: State::Handshaking,
            expect: VecDeque::new(),
            writable: false,
        });
    }
    let rng = StdRng::seed_from_u64(o.seed);
    let mut s = Soak {
        poll,
        peers,
        rng,
        t: Tally::default(),
        sending: true,
        o,
    };
    eprintln!(
        "soak: {} connections for {} s against {} (messages up to {} bytes, {} in flight each)",
        s.o.conns, s.o.secs, s.o.addr, s.o.max_size, s.o.window
    );
    let start = Instant::now();
    let stop_sending = start + Duration::from_secs_f64(s.o.secs);
    let mut drain_until = None;
    let mut next_report = start + Duration::from_secs(1);
    let mut events = Events::with_capacity(1024);
    loop {
        s.poll
            .poll(&mut events, Some(Duration::from_millis(10)))
            .map_err(|e| format!("epoll: {e}"))?;
        for ev in events.iter() {
            let k = ev.token().0;
            if ev.is_writable() {
                s.peers[k].writable = true;
            }
            if ev.is_readable() || ev.is_read_closed() {
                s.read(k);
            }
            if ev.is_writable() {
                s.flush(k);
            }
        }
        s.top_up();
        let now = Instant::now();
        if now >= next_report {
            let r = rss(&s.o);
            rss_peak = rss_peak.max(r);
            let open = s.peers.iter().filter(|p| p.state == State::Open).count();
            eprintln!(
                "soak: {:>4.0} s: {open} open, sent {}, received {}, in flight {}, server RSS {} MiB",
                (now - start).as_secs_f64(),
                s.t.sent,
                s.t.received,
                s.in_flight(),
                r >> 20
            );
            next_report += Duration::from_secs(1);
        }
        if s.sending && now >= stop_sending {
            s.sending = false;
            drain_until = Some(now + Duration::from_secs(10));
        }
        if let Some(until) = drain_until {
            if s.in_flight() == 0 || now >= until {
                break;
            }
        }
    }
    // The closing handshake on every connection, for at most 3 s.
    for k in 0..s.peers.len() {
        if s.peers[k].state == State::Open {
            let _ = s.peers[k]
                .ws
                .close(rocwebsocket::proto::CloseCode::NORMAL, "");
            s.peers[k].state = State::Closing;
            s.flush(k);
        }
    }
    let close_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < close_until && s.peers.iter().any(|p| p.state == State::Closing) {
        s.poll
            .poll(&mut events, Some(Duration::from_millis(10)))
            .map_err(|e| format!("epoll: {e}"))?;
        for ev in events.iter() {
            let k = ev.token().0;
            if ev.is_writable() {
                s.peers[k].writable = true;
                s.flush(k);
            }
            if ev.is_readable() || ev.is_read_closed() {
                s.read(k);
            }
        }
    }
    let unclosed = s.peers.iter().filter(|p| p.state == State::Closing).count();
    // Let the server let go of what it freed before the last reading.
    std::thread::sleep(Duration::from_millis(500));
    let rss_end = rss(&s.o);
    rss_peak = rss_peak.max(rss_end);
    let t = &s.t;
    let lost = s.lost();
    println!(
        "messages sent {}, received {}, lost {lost}, corrupt {} ({} fragmented; {} MiB of payload each way)",
        t.sent,
        t.received,
        t.corrupt,
        t.fragmented,
        t.bytes >> 20
    );
    println!(
        "pings sent {}, pongs received {} (pongs may be coalesced), connection errors {}, not closed cleanly {unclosed}",
        t.pings, t.pongs, t.errors
    );
    if s.o.server_pid.is_some() {
        println!(
            "server RSS: start {:.1} MiB, peak {:.1} MiB, end {:.1} MiB",
            rss_start as f64 / 1048576.0,
            rss_peak as f64 / 1048576.0,
            rss_end as f64 / 1048576.0
        );
    }
    Ok(lost == 0 && t.corrupt == 0 && t.errors == 0)
}
