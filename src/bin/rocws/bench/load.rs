//! One load thread: its own mio loop over its share of the connections,
//! built on the sans-IO `proto::Connection` (client role) and nothing of the
//! `net` engine but its `Stream`.
//!
//! Per wake-up: every ready socket is read until it runs dry (64 KiB reads
//! into the connection's own buffer), every decoded message is checked and
//! timed, new messages are queued, and then each connection with output gets
//! one vectored write. Once running, no message allocates: payloads are
//! slices of the read buffer, send timestamps live in a ring per connection
//! indexed by sequence number, and sends are encoded from one template.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token, Waker};
use rocwebsocket::net::flush::{write_queued, Written};
use rocwebsocket::net::transport::Stream;
use rocwebsocket::proto::deflate::{DeflateConfig, Session};
use rocwebsocket::proto::handshake::{ClientHandshake, DEFAULT_MAX_HEAD};
use rocwebsocket::proto::{CloseCode, ConnConfig, Connection, Event, OpCode, Role};

use super::payload::{get_u64, Template};

/// Bytes asked of each read(2).
const READ_SIZE: usize = 64 * 1024;
/// Sends in flight per connection in `--rate` mode before that connection is skipped.
pub const RATE_RING: usize = 4096;
/// How long connecting and upgrading every connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the closing handshakes may take at the end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
const WAKER: Token = Token(usize::MAX);

/// What the load does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every connection sends and checks the echo.
    Echo,
    /// Connection 0 publishes; every connection (itself included) receives.
    Fanout,
    /// Connections only receive what the server pushes.
    Feed,
}

/// Where to connect.
#[derive(Debug, Clone)]
pub enum Target {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket path.
    Unix(PathBuf),
}

/// The run, as every thread sees it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub mode: Mode,
    pub target: Target,
    pub host: String,
    pub path: String,
    pub conns: usize,
    pub threads: usize,
    pub size: usize,
    pub depth: usize,
    /// Total messages per second (echo: over all connections; fan-out: published).
    pub rate: Option<f64>,
    /// Echo: the total number of messages to send, then stop (`--messages`).
    pub messages: Option<u64>,
    pub text: bool,
    pub warmup: Duration,
    pub duration: Duration,
    /// CPUs to pin thread `i` to (`pin[i % len]`), when more than one is given.
    pub pin_threads: Vec<usize>,
    /// `wss://`: the client configuration and the server name to check.
    pub tls: Option<(rocwebsocket::net::TlsConnector, String)>,
    /// More servers (nodes of one cluster): connection `i` goes to
    /// `[target, more_targets..][i % n]`.
    pub more_targets: Vec<Target>,
    /// Fan-out through a topic of `rocws serve --broadcast`: every
    /// connection sends `sub TOPIC` once open, the publisher `pub TOPIC ...`.
    pub topic: Option<String>,
    /// Offer permessage-deflate (with the default settings) and require it.
    pub deflate: bool,
}

/// What the threads and the main thread share.
pub struct Shared {
    /// Every thread has its connections open (or failed).
    pub ready: Barrier,
    /// The main thread has set `start`.
    pub go: Barrier,
    pub start: Mutex<Option<Instant>>,
    /// The origin of the nanosecond clock that fan-out messages carry.
    pub base: Instant,
    pub failure: Mutex<Option<String>>,
    pub abort: AtomicBool,
    /// Load threads still running their window, and the signal when one ends.
    running: Mutex<usize>,
    finished: Condvar,
    /// Fan-out: receptions of each message in flight, by sequence number.
    pub fanout_counts: Box<[AtomicU32]>,
    /// Fan-out: receivers still connected.
    pub fanout_alive: AtomicU32,
    /// Fan-out: wakes the publisher's thread when a message reached everyone.
    pub publisher_waker: Mutex<Option<Arc<Waker>>>,
    /// `pub TOPIC ` for `--topic`.
    pub pub_prefix: Vec<u8>,
}

impl Shared {
    pub fn new(plan: &Plan) -> Shared {
        let ring = fanout_ring(plan);
        Shared {
            ready: Barrier::new(plan.threads + 1),
            go: Barrier::new(plan.threads + 1),
            start: Mutex::new(None),
            base: Instant::now(),
            failure: Mutex::new(None),
            abort: AtomicBool::new(false),
            running: Mutex::new(plan.threads),
            finished: Condvar::new(),
            fanout_counts: (0..ring).map(|_| AtomicU32::new(0)).collect(),
            fanout_alive: AtomicU32::new(plan.conns as u32),
            publisher_waker: Mutex::new(None),
            pub_prefix: plan
                .topic
                .as_ref()
                .map_or_else(Vec::new, |t| format!("pub {t} ").into_bytes()),
        }
    }

    fn fail(&self, why: String) {
        let mut f = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        f.get_or_insert(why);
        self.abort.store(true, Ordering::Release);
    }

    /// A load thread is done with its window (or failed).
    fn finish(&self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        *running = running.saturating_sub(1);
        self.finished.notify_all();
    }

    /// Blocks until every load thread is done with its window.
    pub fn wait_finished(&self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        while *running > 0 {
            running = self
                .finished
                .wait(running)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

fn fanout_ring(plan: &Plan) -> usize {
    if plan.mode == Mode::Fanout && plan.rate.is_none() {
        plan.depth.next_power_of_two()
    } else {
        1
    }
}

/// What one thread measured inside the window (errors: over the whole run).
pub struct Tally {
    pub messages: u64,
    pub bytes: u64,
    pub errors: u64,
    /// Messages `--rate` could not send because a connection had too many in flight.
    pub skipped: u64,
    /// Round trip (echo) or publish-to-receive (fan-out) time, nanoseconds.
    pub latency: Histogram<u64>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            messages: 0,
            bytes: 0,
            errors: 0,
            skipped: 0,
            latency: Histogram::new_with_bounds(1, 60_000_000_000, 3)
                .expect("static histogram bounds are valid"),
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.messages += other.messages;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.skipped += other.skipped;
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }
}

struct Peer {
    /// The connection's index over the whole run (0 is the fan-out publisher).
    index: u64,
    stream: Stream,
    ws: Connection,
    handshake: Option<ClientHandshake>,
    connected: bool,
    open: bool,
    closed: bool,
    /// Sequence number of the next message to send.
    sent: u64,
    /// Sequence number of the next message expected.
    received: u64,
    /// Messages this connection sends in all (`--messages`; else unlimited).
    quota: u64,
    /// Send times (ns since `base`) by `seq & (len - 1)`; echo only.
    stamps: Box<[u64]>,
    dirty: bool,
    blocked: bool,
}

/// One thread's loop and state.
struct Load<'a> {
    plan: &'a Plan,
    shared: &'a Shared,
    thread: usize,
    poll: Poll,
    peers: Vec<Peer>,
    dirty: Vec<usize>,
    template: Template,
    tally: Tally,
    /// Now, in ns since `base`, read once per wake-up.
    now_ns: u64,
    in_window: bool,
    sending: bool,
    /// Echo with `--depth`: the first `depth` messages of every connection went out.
    primed: bool,
    /// Fan-out publisher: messages every receiver has seen.
    completed: u64,
    /// `--rate`: messages issued since start, and the connection next in turn.
    issued: u64,
    cursor: usize,
    /// `--messages`: echoes this thread still expects, and its connections closed so far.
    remaining: u64,
    lost_peers: usize,
}

/// Runs thread `thread` of the plan to the end and returns what it measured.
pub fn run(plan: &Plan, shared: &Shared, thread: usize) -> Tally {
    if plan.pin_threads.len() > 1 {
        if let Err(e) = super::pin_to(plan.pin_threads[thread % plan.pin_threads.len()]) {
            shared.fail(format!("cannot pin thread {thread}: {e}"));
        }
    }
    let mut load = match Load::connect(plan, shared, thread) {
        Ok(load) => load,
        Err(e) => {
            shared.fail(e);
            shared.ready.wait();
            shared.go.wait();
            shared.finish();
            return Tally::new();
        }
    };
    if let Err(e) = load.handshake_all() {
        shared.fail(e);
    }
    if plan.topic.is_some() {
        // Time for the subscriptions to reach the other nodes' brokers links
        // before the first publish (a later one would see a gap).
        std::thread::sleep(Duration::from_secs(1));
    }
    shared.ready.wait();
    shared.go.wait();
    if shared.abort.load(Ordering::Acquire) {
        shared.finish();
        return load.tally;
    }
    let start = shared
        .start
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .expect("the main thread sets the start before the go barrier");
    if let Err(e) = load.measure(start) {
        shared.fail(e);
    }
    // Before the closing handshakes, so a --messages window ends with the last echo.
    shared.finish();
    load.close_all();
    load.tally
}

impl<'a> Load<'a> {
    fn connect(plan: &'a Plan, shared: &'a Shared, thread: usize) -> Result<Load<'a>, String> {
        let poll = Poll::new().map_err(|e| format!("epoll: {e}"))?;
        let indices: Vec<u64> = (thread..plan.conns)
            .step_by(plan.threads)
            .map(|i| i as u64)
            .collect();
        if thread == 0 && plan.mode == Mode::Fanout {
            let waker = Waker::new(poll.registry(), WAKER).map_err(|e| format!("waker: {e}"))?;
            *shared
                .publisher_waker
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(waker));
        }
        let ring = match (plan.mode, plan.rate) {
            (Mode::Echo, Some(_)) => RATE_RING,
            (Mode::Echo, None) => plan.depth.next_power_of_two(),
            _ => 0,
        };
        // `--messages N`: N / conns each, and one more for the first N % conns.
        let quota = |index: u64| match plan.messages {
            Some(n) => n / plan.conns as u64 + u64::from(index < n % plan.conns as u64),
            None => u64::MAX,
        };
        let remaining = indices
            .iter()
            .map(|&i| quota(i))
            .fold(0u64, u64::saturating_add);
        let mut peers = Vec::with_capacity(indices.len());
        for (k, &index) in indices.iter().enumerate() {
            let at = index as usize % (1 + plan.more_targets.len());
            let target = match at {
                0 => &plan.target,
                n => &plan.more_targets[n - 1],
            };
            let mut stream = match target {
                Target::Tcp(addr) => {
                    let s = mio::net::TcpStream::connect(*addr)
                        .map_err(|e| format!("connect {addr}: {e}"))?;
                    // Small messages go out at once, as every server under test does too.
                    s.set_nodelay(true)
                        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
                    Stream::Tcp(s)
                }
                Target::Unix(path) => {
                    let s = mio::net::UnixStream::connect(path)
                        .map_err(|e| format!("connect {}: {e}", path.display()))?;
                    Stream::Unix(s)
                }
            };
            if let Some((connector, name)) = &plan.tls {
                stream =
                    Stream::tls_client(stream, connector, name).map_err(|e| format!("TLS: {e}"))?;
            }
            poll.registry()
                .register(
                    &mut stream,
                    Token(k),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| format!("epoll: {e}"))?;
            let mut request = Vec::with_capacity(256);
            let deflate = if plan.deflate {
                DeflateConfig::default()
            } else {
                DeflateConfig::disabled()
            };
            let handshake = ClientHandshake::write_request_with_deflate(
                &mut request,
                &plan.host,
                &plan.path,
                &[],
                &[],
                &deflate,
            )
            .map_err(|e| e.to_string())?;
            let mut ws = Connection::new(Role::Client, ConnConfig::default());
            ws.queue_handshake_bytes(&request);
            peers.push(Peer {
                index,
                stream,
                ws,
                handshake: Some(handshake),
                connected: false,
                open: false,
                closed: false,
                sent: 0,
                received: 0,
                quota: quota(index),
                stamps: vec![0; ring].into_boxed_slice(),
                dirty: false,
                blocked: false,
            });
        }
        Ok(Load {
            plan,
            shared,
            thread,
            poll,
            dirty: Vec::with_capacity(peers.len()),
            peers,
            template: Template::new(plan.size, plan.text).with_prefix(
                plan.topic
                    .as_ref()
                    .map_or(&b""[..], |_| &shared.pub_prefix[..]),
            ),
            tally: Tally::new(),
            now_ns: 0,
            in_window: false,
            sending: false,
            primed: false,
            completed: 0,
            issued: 0,
            cursor: 0,
            remaining,
            lost_peers: 0,
        })
    }

    fn clock(&mut self) -> Instant {
        let now = Instant::now();
        self.now_ns = now.duration_since(self.shared.base).as_nanos() as u64;
        now
    }

    /// Connects and upgrades every connection of this thread.
    fn handshake_all(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let mut events = Events::with_capacity(1024);
        while self.peers.iter().any(|p| !p.open) {
            if self.shared.abort.load(Ordering::Acquire) {
                return Ok(());
            }
            let now = self.clock();
            if now >= deadline {
                let n = self.peers.iter().filter(|p| !p.open).count();
                return Err(format!(
                    "{n} connections did not open within {CONNECT_TIMEOUT:?}"
                ));
            }
            self.poll
                .poll(&mut events, Some(Duration::from_millis(100)))
                .map_err(|e| format!("epoll: {e}"))?;
            self.clock();
            self.dispatch(&events)?;
            self.flush_dirty();
            if let Some(p) = self.peers.iter().find(|p| p.closed) {
                return Err(format!("connection {} closed while opening", p.index));
            }
        }
        Ok(())
    }

    /// The warm-up and the measured window, from `start`.
    fn measure(&mut self, start: Instant) -> Result<(), String> {
        let warm_end = start + self.plan.warmup;
        let end = warm_end + self.plan.duration;
        let start_ns = start.duration_since(self.shared.base).as_nanos() as u64;
        let mut events = Events::with_capacity(1024);
        self.sending = self.plan.mode != Mode::Feed;
        self.clock();
        self.send_due(start_ns);
        self.flush_dirty();
        loop {
            let now = Instant::now();
            if now >= end || self.shared.abort.load(Ordering::Acquire) {
                return Ok(());
            }
            if self.plan.messages.is_some() {
                if self.remaining == 0 {
                    return Ok(());
                }
                if self.lost_peers > 0 {
                    return Err(format!(
                        "{} connections closed before their echoes came back",
                        self.lost_peers
                    ));
                }
            }
            let boundary = if now < warm_end { warm_end } else { end };
            let mut timeout = boundary - now;
            if self.plan.rate.is_some() {
                timeout = timeout.min(Duration::from_millis(1));
            }
            self.poll
                .poll(&mut events, Some(timeout))
                .map_err(|e| format!("epoll: {e}"))?;
            let now = self.clock();
            self.in_window = now >= warm_end && now < end;
            self.dispatch(&events)?;
            self.send_due(start_ns);
            self.flush_dirty();
        }
    }

    /// Sends a close frame on every open connection and waits a little for the answers.
    fn close_all(&mut self) {
        self.sending = false;
        self.in_window = false;
        for k in 0..self.peers.len() {
            let p = &mut self.peers[k];
            if p.open && !p.closed && p.ws.close(CloseCode::NORMAL, "").is_ok() {
                self.mark_dirty(k);
            }
        }
        self.flush_dirty();
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        let mut events = Events::with_capacity(1024);
        while self.peers.iter().any(|p| !p.closed) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if self.poll.poll(&mut events, Some(deadline - now)).is_err() {
                break;
            }
            self.clock();
            if self.dispatch(&events).is_err() {
                break;
            }
            self.flush_dirty();
        }
    }

    fn dispatch(&mut self, events: &Events) -> Result<(), String> {
        for event in events {
            if event.token() == WAKER {
                continue;
            }
            let k = event.token().0;
            if self.peers[k].closed {
                continue;
            }
            if event.is_writable() {
                let p = &mut self.peers[k];
                if !p.connected {
                    if let Ok(Some(e)) | Err(e) = p.stream.take_error() {
                        return Err(format!("connect: {e}"));
                    }
                    p.connected = p.stream.is_connected();
                }
                if p.connected {
                    p.blocked = false;
                    if p.ws.buffered_amount() > 0 {
                        self.mark_dirty(k);
                    }
                }
            }
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                self.read(k)?;
            }
        }
        Ok(())
    }

    fn mark_dirty(&mut self, k: usize) {
        let p = &mut self.peers[k];
        if !p.dirty {
            p.dirty = true;
            self.dirty.push(k);
        }
    }

    /// Reads connection `k` until the socket runs dry, handling what arrives.
    fn read(&mut self, k: usize) -> Result<(), String> {
        loop {
            let p = &mut self.peers[k];
            let want = p.ws.bytes_wanted().max(READ_SIZE);
            match p.stream.read_into(&mut p.ws.read_space(), want) {
                Ok(0) => {
                    self.lost(k);
                    return Ok(());
                }
                Ok(n) => {
                    self.received(k)?;
                    if n < want || self.peers[k].closed {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.lost(k);
                    return Ok(());
                }
            }
        }
    }

    /// The connection ended; an error unless we were closing it.
    fn lost(&mut self, k: usize) {
        let p = &mut self.peers[k];
        if p.closed {
            return;
        }
        p.closed = true;
        self.lost_peers += 1;
        let expected = p.open && p.ws.close_state() != rocwebsocket::proto::CloseState::Open;
        let _ = self.poll.registry().deregister(&mut p.stream);
        if !expected {
            self.tally.errors += 1;
        }
        if p.open && self.plan.mode == Mode::Fanout {
            self.shared.fanout_alive.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn received(&mut self, k: usize) -> Result<(), String> {
        if self.peers[k].handshake.is_some() && !self.finish_handshake(k)? {
            return Ok(());
        }
        while let Some(event) = self.peers[k].ws.next_event() {
            match event {
                Event::Binary(b) => self.on_message(k, &b, OpCode::Binary),
                Event::Text(t) => self.on_message(k, t.as_bytes(), OpCode::Text),
                Event::Ping(_) => self.mark_dirty(k),
                Event::Pong(_) => {}
                Event::Close(_) | Event::Error(_) => {
                    if self.sending || self.peers[k].ws.failure().is_some() {
                        self.tally.errors += 1;
                    }
                    self.mark_dirty(k);
                }
            }
        }
        if self.sending && self.plan.mode == Mode::Echo && self.plan.rate.is_none() {
            self.top_up(k);
        }
        Ok(())
    }

    /// Checks the server's answer to the upgrade; false while it is incomplete.
    fn finish_handshake(&mut self, k: usize) -> Result<bool, String> {
        let p = &mut self.peers[k];
        let Some(hs) = &p.handshake else {
            return Ok(true);
        };
        match hs.parse_response(p.ws.input(), DEFAULT_MAX_HEAD) {
            Ok(None) => Ok(false),
            Ok(Some((response, consumed))) => {
                p.ws.discard_input(consumed);
                match response.deflate {
                    Some(params) => p.ws.enable_deflate(Session::new(
                        Role::Client,
                        params,
                        &DeflateConfig::default(),
                    )),
                    None if self.plan.deflate => {
                        return Err("upgrade: the server did not accept permessage-deflate".into())
                    }
                    None => {}
                }
                p.handshake = None;
                p.open = true;
                if let Some(topic) = &self.plan.topic {
                    p.ws.send_text(&format!("sub {topic}"))
                        .map_err(|e| format!("sub: {e:?}"))?;
                    self.mark_dirty(k);
                }
                Ok(true)
            }
            Err(e) => Err(format!("upgrade refused: {e}")),
        }
    }

    fn on_message(&mut self, k: usize, payload: &[u8], opcode: OpCode) {
        let text = opcode == OpCode::Text;
        let wrong_kind = self.plan.mode != Mode::Feed && text != self.plan.text;
        match self.plan.mode {
            Mode::Echo => self.on_echo(k, payload, wrong_kind),
            Mode::Fanout => self.on_fanout(k, payload, wrong_kind),
            Mode::Feed => {
                if payload.is_empty() {
                    self.tally.errors += 1;
                }
            }
        }
        if self.in_window {
            self.tally.messages += 1;
            self.tally.bytes += payload.len() as u64;
        }
    }

    fn on_echo(&mut self, k: usize, payload: &[u8], wrong_kind: bool) {
        let p = &mut self.peers[k];
        let seq = p.received;
        if seq >= p.sent {
            self.tally.errors += 1;
            return;
        }
        p.received += 1;
        self.remaining = self.remaining.saturating_sub(1);
        let sent_at = p.stamps[seq as usize & (p.stamps.len() - 1)];
        if wrong_kind || !self.template.matches(payload, seq, p.index) {
            self.tally.errors += 1;
        }
        if self.in_window {
            self.tally
                .latency
                .saturating_record(self.now_ns.saturating_sub(sent_at).max(1));
        }
    }

    fn on_fanout(&mut self, k: usize, payload: &[u8], wrong_kind: bool) {
        let p = &mut self.peers[k];
        let expected = p.received;
        p.received += 1;
        let seq = get_u64(payload, self.plan.text);
        let sent_at = payload.get(8..).and_then(|b| get_u64(b, self.plan.text));
        let (Some(seq), Some(sent_at)) = (seq, sent_at) else {
            self.tally.errors += 1;
            return;
        };
        if wrong_kind || seq != expected || !self.template.filler_matches(payload) {
            self.tally.errors += 1;
        }
        if self.in_window {
            self.tally
                .latency
                .saturating_record(self.now_ns.saturating_sub(sent_at).max(1));
        }
        if self.plan.rate.is_none() {
            let counts = &self.shared.fanout_counts;
            let reached =
                counts[seq as usize & (counts.len() - 1)].fetch_add(1, Ordering::AcqRel) + 1;
            if self.thread != 0 && reached >= self.shared.fanout_alive.load(Ordering::Acquire) {
                let waker = self
                    .shared
                    .publisher_waker
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                if let Some(w) = waker {
                    let _ = w.wake();
                }
            }
        }
    }

    /// Echo with `--depth`: keeps `depth` messages in flight on connection `k`.
    fn top_up(&mut self, k: usize) {
        let depth = self.plan.depth as u64;
        let mut queued = false;
        let p = &mut self.peers[k];
        while p.open && p.sent - p.received < depth && p.sent < p.quota {
            if !send_seq(p, &mut self.template, self.now_ns, self.plan.text) {
                break;
            }
            queued = true;
        }
        if queued {
            self.mark_dirty(k);
        }
    }

    /// Queues whatever is due now: echo `--depth` at the start, `--rate`
    /// sends on schedule, and the fan-out publisher's next messages.
    fn send_due(&mut self, start_ns: u64) {
        if !self.sending {
            return;
        }
        match (self.plan.mode, self.plan.rate) {
            (Mode::Echo, None) if !self.primed => {
                self.primed = true;
                for k in 0..self.peers.len() {
                    self.top_up(k);
                }
            }
            (Mode::Echo, Some(rate)) => self.send_rate(start_ns, rate, false),
            (Mode::Fanout, Some(rate)) if self.thread == 0 => self.send_rate(start_ns, rate, true),
            (Mode::Fanout, None) if self.thread == 0 => self.publish_depth(),
            _ => {}
        }
    }

    /// `--rate`: issues the messages due since `start_ns`, round-robin over
    /// this thread's connections (or from the publisher alone), each stamped
    /// with the time it was due, so a late send counts in its latency.
    fn send_rate(&mut self, start_ns: u64, rate: f64, publisher_only: bool) {
        let share = if publisher_only {
            rate
        } else {
            rate * self.peers.len() as f64 / self.plan.conns as f64
        };
        let elapsed = self.now_ns.saturating_sub(start_ns) as f64 / 1e9;
        let due = (elapsed * share) as u64;
        let n = if publisher_only { 1 } else { self.peers.len() };
        let mut misses = 0;
        while self.issued < due {
            let due_at = start_ns + (self.issued as f64 * 1e9 / share) as u64;
            let k = self.cursor;
            self.cursor = (self.cursor + 1) % n;
            let p = &mut self.peers[k];
            let room = p.stamps.is_empty() || ((p.sent - p.received) as usize) < p.stamps.len();
            if p.open && !p.closed && room {
                let stamp = if self.plan.mode == Mode::Fanout {
                    self.now_ns
                } else {
                    due_at
                };
                if send_seq(p, &mut self.template, stamp, self.plan.text) {
                    self.issued += 1;
                    misses = 0;
                    self.mark_dirty(k);
                    continue;
                }
            }
            misses += 1;
            if misses >= n {
                // Every connection is full: the schedule is lost, not queued up.
                self.tally.skipped += due - self.issued;
                self.issued = due;
            }
        }
    }

    /// Fan-out without `--rate`: at most `depth` messages not yet seen by every receiver.
    fn publish_depth(&mut self) {
        let counts = &self.shared.fanout_counts;
        let mask = counts.len() - 1;
        let alive = self.shared.fanout_alive.load(Ordering::Acquire);
        let publisher = &mut self.peers[0];
        while self.completed < publisher.sent
            && counts[self.completed as usize & mask].load(Ordering::Acquire) >= alive
        {
            counts[self.completed as usize & mask].store(0, Ordering::Release);
            self.completed += 1;
        }
        let mut queued = false;
        while publisher.open
            && !publisher.closed
            && publisher.sent - self.completed < self.plan.depth as u64
        {
            if !send_seq(publisher, &mut self.template, self.now_ns, self.plan.text) {
                break;
            }
            queued = true;
        }
        if queued {
            self.mark_dirty(0);
        }
    }

    /// One vectored write per connection with output (more only if a write was partial).
    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &k in &dirty {
            self.peers[k].dirty = false;
            if let Err(e) = self.flush(k) {
                if !self.peers[k].closed && self.sending {
                    eprintln!("rocws bench: connection {}: {e}", self.peers[k].index);
                }
                self.lost(k);
            }
        }
        dirty.clear();
        self.dirty = dirty;
    }

    fn flush(&mut self, k: usize) -> io::Result<()> {
        let p = &mut self.peers[k];
        if p.closed || !p.connected || p.blocked {
            return Ok(());
        }
        if write_queued(&mut p.stream, &mut p.ws)? == Written::Blocked {
            p.blocked = true;
        }
        if p.ws.should_close_transport() && p.ws.close_state().is_closed() {
            let p = &mut self.peers[k];
            p.closed = true;
            self.lost_peers += 1;
            let _ = self.poll.registry().deregister(&mut p.stream);
        }
        Ok(())
    }
}

/// Queues the next message of connection `p`, stamped `stamp` (echo: kept in
/// the ring; fan-out: carried in the message). False if it may not send.
fn send_seq(p: &mut Peer, template: &mut Template, stamp: u64, text: bool) -> bool {
    let seq = p.sent;
    let second = if p.stamps.is_empty() {
        stamp
    } else {
        p.stamps[seq as usize & (p.stamps.len() - 1)] = stamp;
        p.index
    };
    let message = template.fill(seq, second);
    let opcode = if text { OpCode::Text } else { OpCode::Binary };
    // A fragment with fin set is a whole message; the template is ASCII for text.
    if p.ws.send_fragment(opcode, message, true).is_err() {
        return false;
    }
    p.sent += 1;
    true
}
