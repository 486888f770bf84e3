//! What an application implements to use the event loop, and what it gets.

use std::io;

use bytes::Bytes;

use super::handle::Handle;
use super::pool::Pools;
use super::topics::Topics;
use crate::proto::handshake::Request;
use crate::proto::{CloseCode, Connection, OpCode, SendError, Utf8Bytes};

/// Identifies one connection across the whole engine. Stable for the
/// connection's life and never names another connection: the thread (10
/// bits), the slot on that thread (22 bits) and the slot's generation (32
/// bits), which goes up each time the slot is reused; a slot is retired
/// rather than let its generation wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The most event-loop threads an engine runs: the thread index has 10 bits.
pub const MAX_THREADS: usize = 1 << 10;

impl ConnId {
    pub(crate) fn new(worker: usize, slot: usize, generation: u32) -> ConnId {
        debug_assert!(worker < MAX_THREADS && slot < super::worker::MAX_SLOTS);
        ConnId(((worker as u64) << 54) | ((slot as u64) << 32) | u64::from(generation))
    }

    /// The event-loop thread that owns the connection.
    pub fn worker(self) -> usize {
        (self.0 >> 54) as usize
    }

    pub(crate) fn slot(self) -> usize {
        ((self.0 >> 32) & 0x3F_FFFF) as usize
    }

    pub(crate) fn generation(self) -> u32 {
        self.0 as u32
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}.{}", self.worker(), self.slot(), self.generation())
    }
}

/// A whole data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// UTF-8 text.
    Text(Utf8Bytes),
    /// Binary data.
    Binary(Bytes),
}

impl Message {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The frame opcode this message is sent with.
    pub fn opcode(&self) -> OpCode {
        match self {
            Message::Text(_) => OpCode::Text,
            Message::Binary(_) => OpCode::Binary,
        }
    }

    /// Queues this message on `ws` (text without validating it again).
    pub(crate) fn send_on(self, ws: &mut Connection) -> Result<(), SendError> {
        match self {
            Message::Text(t) => ws.send_utf8(t),
            Message::Binary(b) => ws.send_bytes(OpCode::Binary, b),
        }
    }
}

/// The handler's answer to an upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// Accept, choosing a subprotocol (one the client offered) and adding headers.
    Accept {
        /// The chosen subprotocol, or `None`.
        protocol: Option<String>,
        /// Extra response headers.
        headers: Vec<(String, String)>,
    },
    /// Refuse with this HTTP status (for example 401, 403, 404) and body.
    Reject {
        /// The status code.
        status: u16,
        /// The plain-text body.
        body: String,
    },
}

/// An upgrade request as the event loop sees it: the connection it would
/// become, the parsed request and its raw head, and the peer's address.
#[derive(Debug, Clone, Copy)]
pub struct UpgradeRequest<'a> {
    /// The id the connection keeps if accepted (answer a deferred decision with it).
    pub id: ConnId,
    /// The parsed request.
    pub request: &'a Request,
    /// The request head as received, request line to the blank line included.
    pub head: &'a [u8],
    /// The peer's address, printable.
    pub peer: &'a str,
    /// The subprotocol the configuration prefers among those offered.
    pub protocol: Option<&'a str>,
}

/// What is known about a connection when it opens.
#[derive(Debug, Clone, Default)]
pub struct OpenInfo {
    /// The request path (server side) or the path connected to (client side).
    pub path: String,
    /// The request headers (server side) or the response headers (client side).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The subprotocol agreed on, if any.
    pub protocol: Option<String>,
    /// The peer's address, printable.
    pub peer: String,
    /// For client connections, the tag given to `connect`; 0 for server ones.
    pub tag: u64,
    /// Whether this end is the client.
    pub is_client: bool,
}

impl OpenInfo {
    /// The first header with this name (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// The application's side of the event loop. One handler per event-loop
/// thread; every method runs on that thread, so a handler needs no locks for
/// its own state. Methods should return quickly: the loop waits for them.
pub trait Handler: Send + 'static {
    /// An upgrade request arrived. The default accepts it with the subprotocol
    /// the configuration prefers (already chosen in `protocol`).
    fn on_upgrade(&mut self, request: &Request, protocol: Option<&str>) -> Upgrade {
        let _ = request;
        Upgrade::Accept {
            protocol: protocol.map(str::to_owned),
            headers: Vec::new(),
        }
    }

    /// [`on_upgrade`](Self::on_upgrade) with the connection's id, raw head and
    /// peer; the loop calls this one, which by default forwards to
    /// `on_upgrade`. `None` defers the decision: the connection waits (reading
    /// nothing more, the handshake timeout still running) until
    /// [`Handle::decide_upgrade`] answers for `request.id`.
    fn on_upgrade_request(&mut self, request: UpgradeRequest<'_>) -> Option<Upgrade> {
        Some(self.on_upgrade(request.request, request.protocol))
    }

    /// A connection opened (server: after the 101 was queued; client: after
    /// the server's 101 was checked).
    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        let _ = (conn, info);
    }

    /// A whole message arrived.
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message);

    /// A ping arrived (only with `deliver_control_frames`); the pong is automatic.
    fn on_ping(&mut self, conn: &mut Conn<'_>, payload: Bytes) {
        let _ = (conn, payload);
    }

    /// A pong arrived (only with `deliver_control_frames`).
    fn on_pong(&mut self, conn: &mut Conn<'_>, payload: Bytes) {
        let _ = (conn, payload);
    }

    /// The connection is gone. `code` is the peer's close code, the code we
    /// failed it with (1002, 1007, 1008, 1009), or 1006 when no closing
    /// handshake finished. Called once for every connection that opened.
    fn on_close(&mut self, id: ConnId, code: CloseCode, reason: &str) {
        let _ = (id, code, reason);
    }

    /// [`on_close`](Self::on_close) with the connection's last
    /// [tag](Conn::tag); the loop calls this one, which by default forwards
    /// to `on_close`.
    fn on_close_tagged(&mut self, id: ConnId, tag: u64, code: CloseCode, reason: &str) {
        let _ = tag;
        self.on_close(id, code, reason);
    }

    /// The connection's write queue emptied after a write could not finish.
    fn on_drain(&mut self, conn: &mut Conn<'_>) {
        let _ = conn;
    }

    /// The write queue passed `max_buffered` (with `BackpressurePolicy::Notify`).
    fn on_backpressure(&mut self, conn: &mut Conn<'_>, buffered: usize) {
        let _ = (conn, buffered);
    }

    /// A client connection tagged `tag` failed before it opened.
    fn on_connect_error(&mut self, tag: u64, error: &io::Error) {
        let _ = (tag, error);
    }

    /// Called once per event-loop wake-up, after every event it brought was
    /// delivered and before queued writes go out: the place to flush work
    /// gathered across messages and connections (one hand-off per wake-up
    /// instead of one per message).
    fn on_wakeup_end(&mut self) {}
}

/// One connection, lent to a handler method: send, close, subscribe.
pub struct Conn<'a> {
    pub(crate) id: ConnId,
    pub(crate) ws: &'a mut Connection,
    /// The thread's pools: a write buffer is lent only when this connection
    /// sends, so receive-only connections take none.
    pub(crate) pools: &'a mut Pools,
    pub(crate) topics: &'a mut Topics,
    pub(crate) subscriptions: &'a mut super::topics::SubscriptionList,
    pub(crate) read_paused: &'a mut bool,
    pub(crate) tag: &'a mut u64,
    pub(crate) handle: &'a Handle,
}

impl Conn<'_> {
    /// This connection's id, usable from any thread through a [`Handle`].
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The connection, with a pooled write buffer lent for what is about
    /// to be queued.
    fn for_sending(&mut self) -> &mut Connection {
        self.pools.lend_for_writing(self.ws);
        self.ws
    }

    /// The connection's tag: a number of the application's choosing (for
    /// example a pointer to its state), given to `connect` for clients
    /// ([`ClientOptions::tag`](super::ClientOptions)), 0 for server
    /// connections until [`set_tag`](Self::set_tag).
    pub fn tag(&self) -> u64 {
        *self.tag
    }

    /// Sets the tag reported with this connection's later events (and its
    /// close, through [`Handler::on_close_tagged`]).
    pub fn set_tag(&mut self, tag: u64) {
        *self.tag = tag;
    }

    /// Queues a message; large server payloads are queued without a copy.
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        message.send_on(self.for_sending())
    }

    /// Queues a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.for_sending().send_text(text)
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.for_sending().send_binary(data)
    }

    /// Queues a ping (at most 125 bytes).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.for_sending().send_ping(payload)
    }

    /// Starts the closing handshake.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.for_sending().close(code, reason)
    }

    /// Bytes queued and not yet written to the socket.
    pub fn buffered_amount(&self) -> usize {
        self.ws.buffered_amount()
    }

    /// Stops reading from this connection's socket after the events already
    /// read (see [`Handle::pause_reading`]); resume with
    /// [`Handle::resume_reading`].
    pub fn pause_reading(&mut self) {
        *self.read_paused = true;
        // Silence proves nothing while we do not read: liveness deadlines wait.
        self.ws.suspend_liveness();
    }

    /// Whether reading is paused.
    pub fn is_reading_paused(&self) -> bool {
        *self.read_paused
    }

    /// Subscribes this connection to `topic` (see [`Handle::publish`]).
    pub fn subscribe(&mut self, topic: &str) {
        if self.subscriptions.iter().any(|t| &**t == topic) {
            return;
        }
        let topic = self.topics.subscribe(topic, self.id);
        self.subscriptions.push(topic);
    }

    /// Unsubscribes this connection from `topic`.
    pub fn unsubscribe(&mut self, topic: &str) {
        if let Some(topic) = self.subscriptions.remove(topic) {
            self.topics.unsubscribe(&topic, self.id);
        }
    }

    /// The underlying sans-IO connection (for layers such as the C ABI that
    /// speak in opcodes).
    pub fn connection_mut(&mut self) -> &mut Connection {
        self.for_sending()
    }

    /// A handle for sending from anywhere (other connections, other threads).
    pub fn handle(&self) -> &Handle {
        self.handle
    }
}
