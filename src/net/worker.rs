//! One event-loop thread: listeners, connections in a slab, timers, and the
//! command channel. It moves bytes and applies no protocol rule itself: every
//! rule lives in `proto`.
//!
//! Per wake-up a connection reads until the socket is drained, decodes every
//! frame the reads brought and hands them to the handler, and only then
//! writes, once, everything the handler queued (vectored).

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use bytes::Buf;
use mio::net::{TcpListener, UnixListener};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::client::ConnectRequest;
use super::config::{BackpressurePolicy, Config};
use super::handle::{Command, Handle};
use super::handler::{Conn, ConnId, Handler, Message, OpenInfo, Upgrade};
use super::pool::BufferPool;
use super::timer::{Clock, Tick, Timers};
use super::tls::TlsAcceptor;
use super::topics::Topics;
use super::transport::Stream;
use crate::proto::handshake::{self, ClientHandshake, HandshakeError};
use crate::proto::{CloseCode, CloseState, Connection, Event, Role};

mod commands;
mod connect;
mod transport;

pub(crate) const WAKER: Token = Token(usize::MAX);
/// Tokens below this are listeners; connection tokens are `CONN_BASE + slot`.
const CONN_BASE: usize = 1 << 16;
/// Bytes asked of one read(2) call.
const READ_SIZE: usize = 64 * 1024;
/// Largest single read while a big frame is arriving.
const READ_SIZE_MAX: usize = 1 << 20;
/// Free buffers kept for reuse by this thread (per kind).
const POOL_KEEP: usize = 64;
/// Initial size of a lent write buffer.
const WRITE_BUFFER: usize = 16 * 1024;

pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
    /// TLS over a TCP or Unix listener: accepted sockets get a TLS session.
    Tls(Box<Listener>, TlsAcceptor),
}

impl Listener {
    fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
            Listener::Tls(l, acceptor) => Stream::tls_server(l.accept()?, acceptor),
        }
    }

    fn socket(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Listener::Tcp(l) => l,
            Listener::Unix(l) => l,
            Listener::Tls(l, _) => l.socket(),
        }
    }

    fn deregister(&mut self, poll: &Poll) {
        let _ = poll.registry().deregister(self.socket());
    }
}

enum Phase {
    /// Client: the TCP connect is in progress; the index of the address tried.
    Connecting(Box<ConnectRequest>, usize),
    /// Server: reading the upgrade request.
    ServerHandshake,
    /// Client: the request is sent, reading the answer.
    ClientHandshake(Box<(ClientHandshake, String)>),
    /// WebSocket frames flow.
    Open,
    /// An HTTP error response is queued; the socket closes once it is written.
    Rejecting,
    /// Our side is done writing; reading until the peer closes or time runs out.
    Linger,
}

struct Slot {
    stream: Stream,
    ws: Connection,
    generation: u32,
    phase: Phase,
    /// `on_open` ran, so `on_close` is owed.
    opened: bool,
    /// Counted against `max_connections`.
    counted: bool,
    started: Tick,
    last_rx: Tick,
    ping_sent: Option<Tick>,
    closing_since: Option<Tick>,
    timer_at: Option<Tick>,
    dirty: bool,
    write_blocked: bool,
    /// The application paused reading (flow control): the socket is left unread.
    read_paused: bool,
    over_limit: bool,
    subscriptions: Vec<Arc<str>>,
    /// What `on_close` will say: the peer's close, or the code we failed it with.
    report: Option<Box<(CloseCode, String)>>,
    tag: u64,
}

impl Slot {
    fn new(stream: Stream, role: Role, config: &Config, phase: Phase, now: Tick) -> Slot {
        Slot {
            stream,
            ws: Connection::new(role, config.limits.conn),
            generation: 0,
            phase,
            opened: false,
            counted: true,
            started: now,
            last_rx: now,
            ping_sent: None,
            closing_since: None,
            timer_at: None,
            dirty: false,
            write_blocked: false,
            read_paused: false,
            over_limit: false,
            subscriptions: Vec::new(),
            report: None,
            tag: 0,
        }
    }

    fn deadline(&self, config: &Config) -> Option<Tick> {
        let t = &config.timeouts;
        match self.phase {
            Phase::Connecting(..) | Phase::ServerHandshake | Phase::ClientHandshake(_) => {
                t.handshake.map(|d| self.started + d)
            }
            Phase::Rejecting | Phase::Linger => {
                Some(self.closing_since.unwrap_or(self.started) + t.close)
            }
            Phase::Open => {
                if let Some(since) = self.closing_since {
                    return Some(since + t.close);
                }
                if self.read_paused {
                    // Nothing is read, so silence proves nothing about the peer.
                    return None;
                }
                let idle = t.idle.map(|d| self.last_rx + d);
                let ping = match self.ping_sent {
                    Some(sent) => Some(sent + t.pong_timeout),
                    None => t.ping_interval.map(|d| self.last_rx + d),
                };
                match (idle, ping) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }
}

/// The per-callback view of a connection handed to the handler.
fn lend_conn<'a>(
    id: ConnId,
    c: &'a mut Slot,
    topics: &'a mut Topics,
    handle: &'a Handle,
) -> Conn<'a> {
    Conn {
        id,
        ws: &mut c.ws,
        topics,
        subscriptions: &mut c.subscriptions,
        read_paused: &mut c.read_paused,
        handle,
    }
}

pub(crate) struct Worker<H: Handler> {
    index: usize,
    poll: Poll,
    listeners: Vec<Listener>,
    conns: Slab<Slot>,
    handler: H,
    handle: Handle,
    commands: Receiver<Command>,
    timers: Timers,
    topics: Topics,
    dirty: Vec<usize>,
    read_pool: BufferPool,
    write_pool: BufferPool,
    config: Arc<Config>,
    stop_deadline: Option<Instant>,
    next_generation: u32,
    clock: Clock,
    now: Tick,
}

impl<H: Handler> Worker<H> {
    pub(crate) fn new(
        index: usize,
        poll: Poll,
        listeners: Vec<Listener>,
        handler: H,
        handle: Handle,
        commands: Receiver<Command>,
        config: Arc<Config>,
    ) -> io::Result<Self> {
        let mut worker = Worker {
            index,
            poll,
            listeners,
            conns: Slab::new(),
            handler,
            handle,
            commands,
            timers: Timers::default(),
            topics: Topics::default(),
            dirty: Vec::new(),
            read_pool: BufferPool::new(READ_SIZE, POOL_KEEP),
            write_pool: BufferPool::new(WRITE_BUFFER, POOL_KEEP),
            config,
            stop_deadline: None,
            next_generation: 0,
            clock: Clock::new(),
            now: Clock::new().now(),
        };
        for (i, l) in worker.listeners.iter_mut().enumerate() {
            let registry = worker.poll.registry();
            registry.register(l.socket(), Token(i), Interest::READABLE)?;
        }
        Ok(worker)
    }

    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            self.now = self.clock.now();
            let mut timeout = self.timers.next().map(|at| self.clock.until(self.now, at));
            if let Some(deadline) = self.stop_deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    eprintln!("rocws worker {}: poll failed: {e}", self.index);
                    break;
                }
            }
            self.now = self.clock.now();
            for event in events.iter() {
                match event.token() {
                    WAKER => self.run_commands(),
                    Token(t) if t < CONN_BASE => self.accept(t),
                    Token(t) => {
                        let slot = t - CONN_BASE;
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.on_readable(slot);
                        }
                        if event.is_writable() {
                            self.on_writable(slot);
                        }
                    }
                }
            }
            self.fire_timers();
            self.handler.on_wakeup_end();
            self.flush_dirty();
            if let Some(deadline) = self.stop_deadline {
                if self.conns.is_empty() {
                    break;
                }
                if Instant::now() >= deadline {
                    let slots: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
                    for slot in slots {
                        self.remove(slot);
                    }
                    break;
                }
            }
        }
    }

    fn id(&self, slot: usize) -> ConnId {
        ConnId::new(self.index, slot, self.conns[slot].generation)
    }

    fn slot_of(&self, id: ConnId) -> Option<usize> {
        let slot = id.slot();
        match self.conns.get(slot) {
            Some(c)
                if id.worker() == self.index && (c.generation & 0xFF_FFFF) == id.generation() =>
            {
                Some(slot)
            }
            _ => None,
        }
    }

    fn insert(&mut self, mut slot: Slot, interest: Interest) -> Option<usize> {
        self.next_generation = self.next_generation.wrapping_add(1);
        slot.generation = self.next_generation;
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut slot.stream, Token(CONN_BASE + key), interest)
        {
            eprintln!("rocws: register failed: {e}");
            if slot.counted {
                self.handle
                    .shared
                    .connections
                    .fetch_sub(1, Ordering::Relaxed);
            }
            return None;
        }
        entry.insert(slot);
        self.schedule(key);
        Some(key)
    }

    // ---- accepting ----

    fn accept(&mut self, index: usize) {
        loop {
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            let stream = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: leave the rest in the backlog for now.
                    eprintln!("rocws: accept failed: {e}");
                    return;
                }
            };
            let _ = stream.set_nodelay();
            let max = self.config.limits.max_connections;
            let count = self
                .handle
                .shared
                .connections
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            let mut slot = Slot::new(
                stream,
                Role::Server,
                &self.config,
                Phase::ServerHandshake,
                self.now,
            );
            if max > 0 && count > max {
                self.handle
                    .shared
                    .connections
                    .fetch_sub(1, Ordering::Relaxed);
                slot.counted = false;
                let mut out = Vec::new();
                HandshakeError {
                    status: 503,
                    reason: "too many connections",
                }
                .write_response(&mut out);
                slot.ws.queue_handshake_bytes(&out);
                slot.phase = Phase::Rejecting;
                slot.closing_since = Some(self.now);
            }
            let rejecting = matches!(slot.phase, Phase::Rejecting);
            if let Some(key) = self.insert(slot, Interest::READABLE | Interest::WRITABLE) {
                if rejecting {
                    self.mark_dirty(key);
                }
            }
        }
    }

    // ---- reading ----

    fn on_readable(&mut self, slot: usize) {
        let Some(c) = self.conns.get(slot) else {
            return;
        };
        match c.phase {
            Phase::Connecting(..) => self.finish_connect(slot),
            Phase::ServerHandshake | Phase::ClientHandshake(_) => self.read_handshake(slot),
            Phase::Open => self.read_frames(slot),
            Phase::Rejecting | Phase::Linger => self.read_discard(slot),
        }
    }

    fn on_writable(&mut self, slot: usize) {
        let Some(c) = self.conns.get(slot) else {
            return;
        };
        if matches!(c.phase, Phase::Connecting(..)) {
            self.finish_connect(slot);
        } else if c.ws.buffered_amount() > 0 || c.stream.wants_write() {
            self.mark_dirty(slot);
        }
    }

    /// Lends pooled buffers to a connection about to read and send.
    fn lend_buffers(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        if c.ws.read_buffer().capacity() == 0 {
            c.ws.lend_read_buffer(self.read_pool.take());
        }
        self.lend_write_buffer(slot);
    }

    /// Lends a write buffer to a connection about to send, if it holds none.
    fn lend_write_buffer(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        if c.ws.buffered_amount() == 0 {
            c.ws.lend_write_buffer(self.write_pool.take());
        }
    }

    /// Takes back whatever buffers the connection no longer needs, so idle
    /// connections hold none.
    fn reclaim_buffers(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        if let Some(buf) = c.ws.take_idle_read_buffer() {
            self.read_pool.give(buf);
        }
        if let Some(buf) = c.ws.take_idle_write_buffer() {
            self.write_pool.give(buf);
        }
    }

    /// Reads once into the connection's buffer. `Ok(None)`: would block.
    fn read_once(&mut self, slot: usize, want: usize) -> io::Result<Option<usize>> {
        let c = &mut self.conns[slot];
        loop {
            return match c.stream.read_into(c.ws.read_buffer(), want) {
                Ok(n) => Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
        }
    }

    fn read_frames(&mut self, slot: usize) {
        loop {
            // A closing connection reads on: the peer's close frame is awaited.
            let c = &self.conns[slot];
            if c.read_paused && c.ws.close_state() == CloseState::Open {
                break;
            }
            self.lend_buffers(slot);
            let c = &mut self.conns[slot];
            let want = c.ws.bytes_wanted().clamp(READ_SIZE, READ_SIZE_MAX);
            if !c.ws.accepts_input() {
                return self.read_discard(slot);
            }
            match self.read_once(slot, want) {
                Ok(None) => break,
                Ok(Some(0)) => {
                    // The peer went away without finishing the closing handshake.
                    return self.remove(slot);
                }
                Err(e) => return self.transport_failed(slot, e),
                Ok(Some(n)) => {
                    let c = &mut self.conns[slot];
                    c.last_rx = self.now;
                    c.ping_sent = None;
                    self.dispatch(slot);
                    if !self.conns.contains(slot) || n < want {
                        break;
                    }
                    if !matches!(self.conns[slot].phase, Phase::Open) {
                        break;
                    }
                }
            }
        }
        if self.conns.contains(slot) {
            self.after_activity(slot);
        }
    }

    /// Pauses or resumes reading. A resumed connection reads at once: its
    /// socket may hold bytes that will bring no new readiness edge.
    pub(super) fn set_reading(&mut self, slot: usize, reading: bool) {
        let now = self.now;
        let c = &mut self.conns[slot];
        let paused = !reading;
        if c.read_paused == paused {
            return; // already so
        }
        c.read_paused = paused;
        if reading && matches!(c.phase, Phase::Open) {
            // The deadlines restart from now rather than from the last read.
            c.last_rx = now;
            c.ping_sent = None;
            self.read_frames(slot);
        } else {
            self.schedule(slot);
        }
    }

    /// Hands every decoded event to the handler.
    fn dispatch(&mut self, slot: usize) {
        let id = self.id(slot);
        let deliver_control = self.config.deliver_control_frames;
        let c = &mut self.conns[slot];
        while let Some(event) = c.ws.next_event() {
            let mut conn = lend_conn(id, c, &mut self.topics, &self.handle);
            match event {
                Event::Text(text) => self.handler.on_message(&mut conn, Message::Text(text)),
                Event::Binary(data) => self.handler.on_message(&mut conn, Message::Binary(data)),
                Event::Ping(p) if deliver_control => self.handler.on_ping(&mut conn, p),
                Event::Pong(p) if deliver_control => self.handler.on_pong(&mut conn, p),
                Event::Ping(_) | Event::Pong(_) => {}
                Event::Close(frame) => {
                    c.report = Some(Box::new((frame.code, frame.reason_str().to_owned())));
                }
                Event::Error(error) => {
                    c.report = Some(Box::new((error.close_code(), error.to_string())));
                }
            }
        }
    }

    fn read_handshake(&mut self, slot: usize) {
        loop {
            let max_head = self.config.limits.max_handshake;
            if self.conns[slot].ws.read_buffer().capacity() == 0 {
                let buf = self.read_pool.take();
                self.conns[slot].ws.lend_read_buffer(buf);
            }
            let have = self.conns[slot].ws.read_buffer().len();
            // Read at most one byte past the limit: enough to prove it was passed.
            let want = (max_head + 1).saturating_sub(have).max(1);
            match self.read_once(slot, want) {
                Ok(None) => return,
                Ok(Some(0)) => return self.remove(slot),
                Err(e) => return self.transport_failed(slot, e),
                Ok(Some(_)) => {}
            }
            let c = &mut self.conns[slot];
            c.last_rx = self.now;
            let done = match &c.phase {
                Phase::ServerHandshake => {
                    match handshake::parse_request(c.ws.read_buffer(), max_head) {
                        Ok(None) => false,
                        Ok(Some((request, consumed))) => {
                            self.accept_upgrade(slot, request, consumed);
                            true
                        }
                        Err(error) => {
                            let mut out = Vec::new();
                            error.write_response(&mut out);
                            self.reject(slot, &out);
                            true
                        }
                    }
                }
                Phase::ClientHandshake(hs) => {
                    let (hs, path) = &**hs;
                    match hs.parse_response(c.ws.read_buffer(), max_head) {
                        Ok(None) => false,
                        Ok(Some((response, consumed))) => {
                            c.ws.read_buffer().advance(consumed);
                            let info = OpenInfo {
                                path: path.clone(),
                                headers: response.headers,
                                protocol: response.protocol,
                                peer: c.stream.peer(),
                                tag: c.tag,
                                is_client: true,
                            };
                            self.open(slot, info);
                            true
                        }
                        Err(error) => {
                            let error =
                                io::Error::new(io::ErrorKind::ConnectionRefused, error.to_string());
                            self.connect_failed(slot, error);
                            return;
                        }
                    }
                }
                _ => true,
            };
            if done {
                break;
            }
        }
        if !self.conns.contains(slot) {
            return;
        }
        if matches!(self.conns[slot].phase, Phase::Open) {
            // The handshake read may have stopped at its size cap with frames
            // still in the socket: readiness is edge-triggered, so drain now.
            self.read_frames(slot);
        } else {
            self.after_activity(slot);
        }
    }

    fn accept_upgrade(&mut self, slot: usize, request: handshake::Request, consumed: usize) {
        let preferred = {
            let supported: Vec<&str> = self.config.protocols.iter().map(String::as_str).collect();
            request.select_protocol(&supported)
        };
        let mut out = Vec::new();
        match self.handler.on_upgrade(&request, preferred) {
            Upgrade::Accept { protocol, headers } => {
                let extra: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                if let Err(e) = handshake::write_accept_response(
                    &mut out,
                    &request,
                    protocol.as_deref(),
                    &extra,
                ) {
                    eprintln!("rocws: handler's upgrade answer refused: {e}");
                    HandshakeError {
                        status: 500,
                        reason: "bad upgrade answer",
                    }
                    .write_response(&mut out);
                    return self.reject(slot, &out);
                }
                let c = &mut self.conns[slot];
                c.ws.queue_handshake_bytes(&out);
                c.ws.read_buffer().advance(consumed);
                let info = OpenInfo {
                    path: request.path,
                    headers: request.headers,
                    protocol,
                    peer: c.stream.peer(),
                    tag: 0,
                    is_client: false,
                };
                self.open(slot, info);
            }
            Upgrade::Reject { status, body } => {
                let status = if (400..600).contains(&status) {
                    status
                } else {
                    403
                };
                let _ = handshake::write_status_response(&mut out, status, &[], body.as_bytes());
                self.reject(slot, &out);
            }
        }
    }

    fn open(&mut self, slot: usize, info: OpenInfo) {
        self.lend_write_buffer(slot);
        let id = self.id(slot);
        let c = &mut self.conns[slot];
        c.phase = Phase::Open;
        c.opened = true;
        c.last_rx = self.now;
        let mut conn = lend_conn(id, c, &mut self.topics, &self.handle);
        self.handler.on_open(&mut conn, info);
        // Frames that arrived with the handshake.
        self.dispatch(slot);
        self.mark_dirty(slot);
    }

    fn reject(&mut self, slot: usize, response: &[u8]) {
        let c = &mut self.conns[slot];
        c.ws.read_buffer().clear();
        c.ws.queue_handshake_bytes(response);
        c.phase = Phase::Rejecting;
        c.closing_since = Some(self.now);
        self.mark_dirty(slot);
    }

    fn read_discard(&mut self, slot: usize) {
        let mut scratch = [0u8; 4096];
        loop {
            let c = &mut self.conns[slot];
            match c.stream.read(&mut scratch) {
                Ok(0) => return self.remove(slot), // The peer closed its side: done.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.remove(slot),
            }
        }
    }

    // ---- writing ----

    fn mark_dirty(&mut self, slot: usize) {
        if let Some(c) = self.conns.get_mut(slot) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(slot);
            }
        }
    }

    fn flush_dirty(&mut self) {
        while !self.dirty.is_empty() {
            let dirty = std::mem::take(&mut self.dirty);
            for &slot in &dirty {
                if let Some(c) = self.conns.get_mut(slot) {
                    c.dirty = false;
                    self.flush(slot);
                }
            }
            // Reuse the allocation unless flushing queued more (handlers in on_drain).
            if self.dirty.is_empty() {
                self.dirty = dirty;
                self.dirty.clear();
            }
        }
    }

    fn flush(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        if matches!(c.phase, Phase::Connecting(..)) {
            return;
        }
        let had_output = c.ws.buffered_amount() > 0 || c.stream.wants_write();
        while c.ws.buffered_amount() > 0 {
            let mut slices = [IoSlice::new(&[]); 64];
            let n = c.ws.io_slices(&mut slices);
            match c.stream.write_vectored(&slices[..n]) {
                Ok(0) => return self.remove(slot),
                Ok(written) => c.ws.advance_output(written),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    c.write_blocked = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.transport_failed(slot, e),
            }
        }
        if !c.write_blocked && c.stream.wants_write() {
            // TLS records of its own (handshake, alerts, close_notify).
            match c.stream.flush_pending() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.write_blocked = true,
                Err(e) => return self.transport_failed(slot, e),
            }
        }
        let buffered = c.ws.buffered_amount();
        if buffered == 0 && c.write_blocked {
            c.write_blocked = false;
            c.over_limit = false;
            if c.opened && matches!(c.phase, Phase::Open) && c.ws.close_state() == CloseState::Open
            {
                self.with_conn(slot, |h, conn| h.on_drain(conn));
            }
        }
        let Some(c) = self.conns.get(slot) else {
            return;
        };
        if c.ws.buffered_amount() == 0 && !c.stream.wants_write() && had_output {
            match c.phase {
                Phase::Rejecting => self.begin_linger(slot),
                Phase::Open if c.ws.should_close_transport() => self.begin_linger(slot),
                _ => {}
            }
        }
        if self.conns.contains(slot) {
            self.after_activity(slot);
        }
    }

    /// Applies the backpressure policy once a connection's queue passes the
    /// cap. Runs wherever sends land (after every activity), not only when a
    /// write is attempted: a peer that never reads never makes its socket
    /// writable again.
    fn check_backpressure(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        let buffered = c.ws.buffered_amount();
        if buffered <= self.config.limits.max_buffered
            || c.over_limit
            || !matches!(c.phase, Phase::Open)
        {
            return;
        }
        c.over_limit = true;
        match self.config.limits.backpressure {
            BackpressurePolicy::Drop => {
                c.report = Some(Box::new((
                    CloseCode::POLICY_VIOLATION,
                    "slow consumer".to_owned(),
                )));
                let _ = c.ws.close(CloseCode::POLICY_VIOLATION, "slow consumer");
            }
            BackpressurePolicy::Notify => {
                self.with_conn(slot, |h, conn| h.on_backpressure(conn, buffered));
            }
        }
    }

    fn with_conn(&mut self, slot: usize, f: impl FnOnce(&mut H, &mut Conn<'_>)) {
        self.lend_write_buffer(slot);
        let id = self.id(slot);
        let c = &mut self.conns[slot];
        let mut conn = lend_conn(id, c, &mut self.topics, &self.handle);
        f(&mut self.handler, &mut conn);
    }

    /// Our side is finished: a server shuts its write side (it closes the TCP
    /// connection first, §7.1.1); a client waits for the server to close.
    fn begin_linger(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        if c.ws.role() == Role::Server || matches!(c.phase, Phase::Rejecting) {
            let _ = c.stream.shutdown(Shutdown::Write);
        }
        c.phase = Phase::Linger;
        c.closing_since = Some(self.now);
        c.timer_at = None;
        self.schedule(slot);
        // The peer may have closed already.
        self.read_discard(slot);
    }

    // ---- timers ----

    fn after_activity(&mut self, slot: usize) {
        self.check_backpressure(slot);
        let c = &mut self.conns[slot];
        if matches!(c.phase, Phase::Open)
            && c.ws.close_state() != CloseState::Open
            && c.closing_since.is_none()
        {
            c.closing_since = Some(self.now);
        }
        // A blocked socket is retried when it turns writable, not before.
        if (c.ws.buffered_amount() > 0 || c.stream.wants_write()) && !c.dirty && !c.write_blocked {
            self.mark_dirty(slot);
        }
        if matches!(self.conns[slot].phase, Phase::Open)
            && self.conns[slot].ws.should_close_transport()
            && !self.conns[slot].stream.wants_write()
        {
            return self.begin_linger(slot);
        }
        self.reclaim_buffers(slot);
        self.schedule(slot);
    }

    fn schedule(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        let Some(at) = c.deadline(&self.config) else {
            return;
        };
        if c.timer_at.is_none_or(|queued| at < queued) {
            c.timer_at = Some(at);
            self.timers.push(at, slot, c.generation);
        }
    }

    fn fire_timers(&mut self) {
        while let Some((at, slot, generation)) = self.timers.pop_due(self.now) {
            let Some(c) = self.conns.get_mut(slot) else {
                continue;
            };
            if c.generation != generation || c.timer_at != Some(at) {
                continue;
            }
            c.timer_at = None;
            self.on_timer(slot);
            if self
                .conns
                .get(slot)
                .is_some_and(|c| c.generation == generation)
            {
                self.schedule(slot);
            }
        }
    }

    fn on_timer(&mut self, slot: usize) {
        let now = self.now;
        let config = self.config.clone();
        let t = &config.timeouts;
        let c = &mut self.conns[slot];
        match c.phase {
            Phase::Connecting(..) | Phase::ClientHandshake(_) => {
                if c.deadline(&config).is_some_and(|d| d <= now) {
                    let e = c.stream.timed_out("opening handshake timed out");
                    self.connect_failed(slot, e);
                }
            }
            Phase::ServerHandshake | Phase::Rejecting | Phase::Linger => {
                if c.deadline(&config).is_some_and(|d| d <= now) {
                    self.remove(slot);
                }
            }
            Phase::Open => {
                if let Some(since) = c.closing_since {
                    if since + t.close <= now {
                        // The peer never finished the closing handshake: 1006,
                        // unless we failed the connection with a code of our own.
                        self.remove(slot);
                    }
                    return;
                }
                if c.read_paused {
                    return; // deadlines suspended: see Slot::deadline
                }
                if let Some(sent) = c.ping_sent {
                    if sent + t.pong_timeout <= now {
                        c.report = Some(Box::new((CloseCode::ABNORMAL, "pong timeout".to_owned())));
                        return self.remove(slot);
                    }
                }
                if t.idle.is_some_and(|d| c.last_rx + d <= now) {
                    let _ = c.ws.close(CloseCode::GOING_AWAY, "idle timeout");
                    self.after_activity(slot);
                    return;
                }
                if c.ping_sent.is_none() && t.ping_interval.is_some_and(|d| c.last_rx + d <= now) {
                    let _ = c.ws.send_ping(b"");
                    c.ping_sent = Some(now);
                    self.mark_dirty(slot);
                }
            }
        }
    }

    // ---- removal ----

    /// Closes the socket and forgets the connection, telling the handler.
    fn remove(&mut self, slot: usize) {
        if matches!(
            self.conns.get(slot).map(|c| &c.phase),
            Some(Phase::Connecting(..) | Phase::ClientHandshake(_))
        ) {
            let e = io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed before the handshake finished",
            );
            return self.connect_failed(slot, e);
        }
        let Some(mut c) = self.conns.try_remove(slot) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        if c.counted {
            self.handle
                .shared
                .connections
                .fetch_sub(1, Ordering::Relaxed);
        }
        let id = ConnId::new(self.index, slot, c.generation);
        for topic in &c.subscriptions {
            self.topics.unsubscribe(topic, id);
        }
        if c.opened {
            let (code, reason) = c
                .report
                .take()
                .map_or((CloseCode::ABNORMAL, String::new()), |r| *r);
            self.handler.on_close(id, code, &reason);
        }
    }
}
