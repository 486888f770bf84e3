//! One event-loop thread: listeners, connections in slots, the deadline heap,
//! and the command channel. It moves bytes and applies no protocol rule
//! itself: every rule, deadlines included, lives in `proto`; this loop only
//! keeps the heap of the times connections asked for and calls them back.
//!
//! Per wake-up a connection reads until the socket is drained, decodes every
//! frame the reads brought and hands them to the handler, and only then
//! writes, once, everything the handler queued (vectored).

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UnixListener};
use mio::{Events, Interest, Poll, Token};

use super::client::ConnectRequest;
use super::config::Config;
use super::handle::{Command, Handle};
use super::handler::{Conn, ConnId, Handler};
use super::pool::Pools;
use super::timer::{Clock, Tick, Timers};
use super::tls::TlsAcceptor;
use super::topics::{SubscriptionList, Topics};
use super::transport::Stream;
use crate::proto::handshake::{self, ClientHandshake};
use crate::proto::{CloseCode, ConnConfig, Connection, Expired, Role, Timeouts};
use slots::Slots;
pub(crate) use slots::MAX_SLOTS;

mod commands;
mod connect;
mod feed;
mod opening;
mod read;
mod slots;
mod transport;
mod write;

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

/// Which resolved address a client connect is trying: its index (the next
/// ones are tried if it fails), or [`FINAL_ATTEMPT`]. A `u32`, not an enum,
/// so that the phase stays two words.
type Attempt = u32;

/// No other address may be tried (the request itself was refused).
const FINAL_ATTEMPT: Attempt = u32::MAX;

/// A client's opening handshake in flight: the key to check the answer
/// against, and the path to report on open.
struct ClientOpening {
    handshake: ClientHandshake,
    path: String,
}

enum Phase {
    /// Client: the TCP connect is in progress.
    Connecting(Box<ConnectRequest>, Attempt),
    /// Server: reading the upgrade request.
    ServerHandshake,
    /// Server: the request is read and parsed (its head still in the input,
    /// `consumed` bytes); the handler deferred the decision. Nothing more is
    /// read until `Handle::decide_upgrade` answers or the handshake times out.
    AwaitingUpgrade(Box<handshake::Request>, u32),
    /// Client: the request is sent, reading the answer.
    ClientHandshake(Box<ClientOpening>),
    /// WebSocket frames flow.
    Open,
    /// An HTTP error response is queued; the socket closes once it is written.
    Rejecting,
    /// Our side is done writing; reading until the peer closes or time runs out.
    Linger,
}

/// What the handler will be told when the connection goes.
enum Report {
    /// `on_open` never ran: nothing is owed.
    NotOpened,
    /// `on_close` is owed; with no close seen yet it says 1006.
    Owed,
    /// `on_close` is owed with the peer's close, or the code we failed it with.
    Closed(Box<CloseReport>),
}

/// A close code and reason kept for `on_close`.
struct CloseReport {
    code: CloseCode,
    reason: String,
}

impl Report {
    /// Records how the connection closed, if `on_close` is owed.
    fn record(&mut self, code: CloseCode, reason: impl Into<String>) {
        if !matches!(self, Report::NotOpened) {
            let reason = reason.into();
            *self = Report::Closed(Box::new(CloseReport { code, reason }));
        }
    }
}

struct Slot {
    stream: Stream,
    ws: Connection,
    /// The generation of the slot this connection holds (see `Slots`).
    generation: u32,
    phase: Phase,
    report: Report,
    /// Counted against `max_connections`.
    counted: bool,
    /// The deadline this connection has in the heap, if any.
    timer_at: Option<Tick>,
    dirty: bool,
    write_blocked: bool,
    /// The application paused reading (flow control): the socket is left unread.
    read_paused: bool,
    /// Our unsent bytes passed the high watermark: the socket is left unread
    /// until the peer reads enough of them (see `Limits::write_high_watermark`).
    flow_paused: bool,
    /// The read budget ran out with input left: queued for the next turn.
    backlogged: bool,
    over_limit: bool,
    subscriptions: SubscriptionList,
    tag: u64,
    /// Unsent bytes are published to other threads (open connections only;
    /// see `Handle::buffered_amount`).
    published: bool,
    /// This connection's own timers (`ClientOptions::timeouts`), else the engine's.
    timeouts: Option<Box<Timeouts>>,
    /// Reconnect, keepalive and auto-reply state of a feed client.
    feed: Option<Box<feed::Feed>>,
    /// The application closed it (no reconnect follows).
    closed_by_app: bool,
}

impl Slot {
    fn new(stream: Stream, role: Role, limits: ConnConfig, phase: Phase, now: Tick) -> Slot {
        let mut ws = Connection::new(role, limits);
        ws.handshake_started(now);
        Slot {
            stream,
            ws,
            generation: 0,
            phase,
            report: Report::NotOpened,
            counted: true,
            timer_at: None,
            dirty: false,
            write_blocked: false,
            read_paused: false,
            flow_paused: false,
            backlogged: false,
            over_limit: false,
            subscriptions: SubscriptionList::default(),
            tag: 0,
            published: false,
            timeouts: None,
            feed: None,
            closed_by_app: false,
        }
    }
}

/// The per-callback view of a connection handed to the handler.
fn lend_conn<'a>(
    id: ConnId,
    c: &'a mut Slot,
    topics: &'a mut Topics,
    pools: &'a mut Pools,
    handle: &'a Handle,
) -> Conn<'a> {
    Conn {
        id,
        ws: &mut c.ws,
        pools,
        topics,
        subscriptions: &mut c.subscriptions,
        read_paused: &mut c.read_paused,
        tag: &mut c.tag,
        handle,
        closed_by_app: &mut c.closed_by_app,
    }
}

pub(crate) struct Worker<H: Handler> {
    index: usize,
    poll: Poll,
    listeners: Vec<Listener>,
    conns: Slots<Slot>,
    handler: H,
    handle: Handle,
    commands: Receiver<Command>,
    timers: Timers,
    topics: Topics,
    dirty: Vec<usize>,
    /// Connections whose read budget ran out with input left.
    backlog: Vec<usize>,
    /// Listeners whose accept budget ran out with connections perhaps left.
    pending_accepts: Vec<usize>,
    /// Server connections in the opening handshake, oldest first (slot,
    /// generation; entries of connections that moved on are skipped).
    handshaking: VecDeque<(usize, u32)>,
    pools: Pools,
    config: Arc<Config>,
    stop_deadline: Option<Instant>,
    clock: Clock,
    now: Tick,
    /// Feed clients waiting to connect again.
    reconnects: feed::Reconnects,
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
        let topics = Topics::new(handle.shared.broker.clone());
        let mut worker = Worker {
            index,
            poll,
            listeners,
            conns: Slots::default(),
            handler,
            handle,
            commands,
            timers: Timers::default(),
            topics,
            dirty: Vec::new(),
            backlog: Vec::new(),
            pending_accepts: Vec::new(),
            handshaking: VecDeque::new(),
            pools: Pools::new(READ_SIZE, WRITE_BUFFER, POOL_KEEP),
            config,
            stop_deadline: None,
            clock: Clock::new(),
            now: Clock::new().now(),
            reconnects: feed::Reconnects::default(),
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
            let next = match (self.timers.next(), self.reconnects.next()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut timeout = next.map(|at| self.clock.until(self.now, at));
            if !self.backlog.is_empty() || !self.pending_accepts.is_empty() {
                timeout = Some(Duration::ZERO); // input is waiting: only look around
            }
            if let Some(deadline) = self.stop_deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("worker {}: poll failed, the thread stops: {e}", self.index);
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
            self.serve_backlog();
            self.fire_timers();
            self.pools.trim(self.now.as_millis());
            self.fire_reconnects();
            self.handler.on_wakeup_end();
            self.flush_dirty();
            if let Some(deadline) = self.stop_deadline {
                if self.conns.is_empty() {
                    break;
                }
                if Instant::now() >= deadline {
                    for slot in self.conns.keys() {
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
            Some(c) if id.worker() == self.index && c.generation == id.generation() => Some(slot),
            _ => None,
        }
    }

    fn insert(&mut self, slot: Slot, interest: Interest) -> Option<usize> {
        let counted = slot.counted;
        let registered = match self.conns.insert(slot) {
            Some((key, generation)) => {
                let c = &mut self.conns[key];
                c.generation = generation;
                let token = Token(CONN_BASE + key);
                match self
                    .poll
                    .registry()
                    .register(&mut c.stream, token, interest)
                {
                    Ok(()) => Ok(key),
                    Err(e) => {
                        self.conns.try_remove(key);
                        Err(e)
                    }
                }
            }
            None => Err(io::Error::other(
                "every connection slot of this thread is taken",
            )),
        };
        match registered {
            Ok(key) => {
                self.schedule(key);
                Some(key)
            }
            Err(e) => {
                log::warn!("worker {}: cannot add a connection: {e}", self.index);
                if counted {
                    self.handle
                        .shared
                        .connections
                        .fetch_sub(1, Ordering::Relaxed);
                }
                None
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
            Phase::Open => {
                self.read_frames(slot);
                // Its own replies go out now, in one write: holding them to
                // the end of the wake-up would keep a write buffer lent to
                // every connection served in it (up to the event budget).
                self.flush_if_dirty(slot);
            }
            Phase::Rejecting | Phase::Linger => self.read_discard(slot),
            // The rest waits for the decision (then `read_frames`).
            Phase::AwaitingUpgrade(..) => {}
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

    /// Lends a pooled read buffer to a connection about to read.
    fn lend_read_buffer(&mut self, slot: usize) {
        self.pools.lend_for_reading(&mut self.conns[slot].ws);
    }

    /// Lends a write buffer to a connection about to send, if it holds none.
    fn lend_write_buffer(&mut self, slot: usize) {
        self.pools.lend_for_writing(&mut self.conns[slot].ws);
    }

    /// Takes back whatever the connection no longer needs, so idle
    /// connections hold no buffer and no in-flight state.
    fn reclaim_buffers(&mut self, slot: usize) {
        self.pools.reclaim(&mut self.conns[slot].ws);
    }

    // ---- timers ----

    fn after_activity(&mut self, slot: usize) {
        self.check_backpressure(slot);
        if self.check_flow(slot) && !self.conns[slot].backlogged {
            // Drained below the low watermark: read again next turn (the
            // socket may hold input that brings no new readiness edge).
            self.conns[slot].backlogged = true;
            self.backlog.push(slot);
        }
        let c = &mut self.conns[slot];
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
        if let Some(f) = &self.conns[slot].feed {
            f.shared.store(&f.stats);
        }
        self.reclaim_buffers(slot);
        self.schedule(slot);
    }

    fn schedule(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        let timeouts = c.timeouts.as_deref().unwrap_or(&self.config.timeouts);
        let at = match (
            c.ws.next_deadline(self.now, timeouts),
            Self::feed_deadline(c),
        ) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return,
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
                .is_some_and(|c| c.generation == generation && c.feed.is_some())
            {
                self.feed_timer(slot);
            }
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
        let c = &mut self.conns[slot];
        // A keepalive ping may be queued: into a pooled state.
        self.pools.lend_in_flight(&mut c.ws);
        let timeouts = c.timeouts.as_deref().unwrap_or(&self.config.timeouts);
        match c.ws.on_timeout(self.now, timeouts) {
            None => self.after_activity(slot), // a ping or a close may be queued
            Some(Expired::Handshake)
                if matches!(c.phase, Phase::Connecting(..) | Phase::ClientHandshake(_)) =>
            {
                let e = c.stream.timed_out("opening handshake timed out");
                self.connect_failed(slot, e);
            }
            Some(Expired::Pong) => {
                c.report.record(CloseCode::ABNORMAL, "pong timeout");
                self.remove(slot);
            }
            // The peer never finished the closing handshake (1006, unless we
            // failed the connection with a code of our own), or the opening one.
            Some(Expired::Close | Expired::Handshake) => self.remove(slot),
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
        if c.published {
            self.handle.shared.workers[self.index].buffered.clear(slot);
        }
        for topic in c.subscriptions.iter() {
            self.topics.unsubscribe(topic, id);
        }
        let code = match c.report {
            Report::NotOpened => None,
            Report::Owed => {
                self.handler
                    .on_close_tagged(id, c.tag, CloseCode::ABNORMAL, "");
                Some(CloseCode::ABNORMAL)
            }
            Report::Closed(r) => {
                self.handler.on_close_tagged(id, c.tag, r.code, &r.reason);
                Some(r.code)
            }
        };
        if c.feed.is_some() {
            self.feed_removed(id);
        }
        if let (Some(feed), Some(code)) = (c.feed, code) {
            let why = if c.closed_by_app || feed.rotating {
                crate::proto::feed::Down::ByApplication
            } else {
                crate::proto::feed::Down::Closed(code.0)
            };
            self.feed_down(feed, why);
        }
    }
}

#[cfg(test)]
mod tests {
    /// What an idle connection costs in the slot table (plus 4 bytes of
    /// generation, 8 of published count and a timer entry): kept small
    /// on purpose, see docs/performance.md ("Idle connections").
    #[test]
    fn an_idle_connection_stays_small() {
        let slot = std::mem::size_of::<Option<super::Slot>>();
        let ws = std::mem::size_of::<crate::proto::Connection>();
        eprintln!("slot {slot} bytes, of which the protocol state {ws}");
        // Debug builds carry mio's 8-byte selector id in every socket.
        let bound = if cfg!(debug_assertions) { 208 } else { 200 };
        assert!(slot <= bound, "Slot grew to {slot} bytes");
    }
}
