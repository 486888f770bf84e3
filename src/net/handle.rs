//! Sending from anywhere: a cloneable, thread-safe handle to every event-loop
//! thread of an engine. Each command travels over a channel to the thread
//! that owns the connection, which is woken once per batch of commands.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::Waker;

use super::client::ConnectRequest;
use super::handler::{ConnId, Message};
use crate::proto::conn::encode_shared_data;
use crate::proto::CloseCode;

/// Work for an event-loop thread, sent from any thread.
pub(crate) enum Command {
    Send(ConnId, Message),
    /// A ping (true) or an unsolicited pong (false), payload at most 125 bytes.
    Control(ConnId, bool, Bytes),
    /// A new tag for a connection's later events.
    SetTag(ConnId, u64),
    Close(ConnId, CloseCode, String),
    /// A frame encoded once, queued on every (or every subscribed) connection.
    Broadcast {
        frame: Bytes,
        topic: Option<Arc<str>>,
        except: Option<ConnId>,
    },
    Connect(Box<ConnectRequest>),
    /// Subscribe (true) or unsubscribe (false) a connection to a topic.
    Subscribe(ConnId, Arc<str>, bool),
    /// Pause (false) or resume (true) reading from a connection's socket.
    Reading(ConnId, bool),
    /// The answer to an upgrade request whose decision was deferred.
    Upgrade(ConnId, super::handler::Upgrade),
    Stop(Instant),
}

pub(crate) struct WorkerRemote {
    pub(crate) commands: Sender<Command>,
    pub(crate) waker: Waker,
    /// Set while a wake-up is pending, so a burst of commands wakes the loop once.
    pub(crate) woken: AtomicBool,
    /// Each open connection's unsent byte count, as its thread last saw it
    /// (stored after each flush and backpressure check; read by
    /// [`Handle::buffered_amount`]).
    pub(crate) buffered: super::buffered::BufferedTable,
}

pub(crate) struct Shared {
    pub(crate) workers: Vec<WorkerRemote>,
    pub(crate) connections: AtomicUsize,
    pub(crate) next_client_worker: AtomicUsize,
    pub(crate) stopped: AtomicBool,
}

/// Why a command could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandleError {
    /// The id names no thread of this engine.
    UnknownConnection,
    /// The engine has stopped.
    Stopped,
    /// A close code that may not be sent.
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes (it must fit a control frame).
    ReasonTooLong,
    /// A ping or pong payload over 125 bytes.
    ControlTooLong,
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandleError::UnknownConnection => f.write_str("unknown connection"),
            HandleError::Stopped => f.write_str("the engine has stopped"),
            HandleError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            HandleError::ReasonTooLong => f.write_str("close reason over 123 bytes"),
            HandleError::ControlTooLong => f.write_str("ping or pong payload over 125 bytes"),
        }
    }
}

impl std::error::Error for HandleError {}

/// A thread-safe handle to a running engine: send to a connection, close it,
/// broadcast, publish to a topic, connect, stop. Cheap to clone.
///
/// Commands are asynchronous: `Ok` means the command was handed to the
/// connection's thread, not that the bytes were written. A send to a
/// connection that has meanwhile closed is dropped silently.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("threads", &self.shared.workers.len())
            .finish()
    }
}

impl Handle {
    fn deliver(&self, worker: usize, command: Command) -> Result<(), HandleError> {
        if self.shared.stopped.load(Ordering::Acquire) {
            return Err(HandleError::Stopped);
        }
        let remote = self
            .shared
            .workers
            .get(worker)
            .ok_or(HandleError::UnknownConnection)?;
        remote
            .commands
            .send(command)
            .map_err(|_| HandleError::Stopped)?;
        if !remote.woken.swap(true, Ordering::AcqRel) {
            remote.waker.wake().map_err(|_| HandleError::Stopped)?;
        }
        Ok(())
    }

    /// Sends a message to one connection.
    pub fn send(&self, id: ConnId, message: Message) -> Result<(), HandleError> {
        self.deliver(id.worker(), Command::Send(id, message))
    }

    /// Sends a ping to one connection; its pong arrives as
    /// [`Handler::on_pong`](super::Handler::on_pong) when
    /// `deliver_control_frames` is set.
    pub fn ping(&self, id: ConnId, payload: &[u8]) -> Result<(), HandleError> {
        self.control(id, true, payload)
    }

    /// Sends an unsolicited pong (a one-way heartbeat) to one connection.
    pub fn pong(&self, id: ConnId, payload: &[u8]) -> Result<(), HandleError> {
        self.control(id, false, payload)
    }

    fn control(&self, id: ConnId, ping: bool, payload: &[u8]) -> Result<(), HandleError> {
        if payload.len() > 125 {
            return Err(HandleError::ControlTooLong);
        }
        let payload = Bytes::copy_from_slice(payload);
        self.deliver(id.worker(), Command::Control(id, ping, payload))
    }

    /// Gives a connection a new tag, reported with its later events (see
    /// [`Conn::set_tag`](super::Conn::set_tag)); events already delivered or
    /// queued keep the tag they had.
    pub fn set_tag(&self, id: ConnId, tag: u64) -> Result<(), HandleError> {
        self.deliver(id.worker(), Command::SetTag(id, tag))
    }

    /// Sends a text message to one connection.
    pub fn send_text(&self, id: ConnId, text: impl Into<String>) -> Result<(), HandleError> {
        self.send(id, Message::Text(text.into().into()))
    }

    /// Starts the closing handshake of one connection.
    pub fn close(&self, id: ConnId, code: CloseCode, reason: &str) -> Result<(), HandleError> {
        if !code.is_sendable() {
            return Err(HandleError::InvalidCloseCode(code.0));
        }
        // Checked here, where the caller hears about it: on the connection's
        // thread a refused close could only be dropped.
        if reason.len() > crate::proto::close::MAX_CLOSE_REASON {
            return Err(HandleError::ReasonTooLong);
        }
        self.deliver(id.worker(), Command::Close(id, code, reason.to_owned()))
    }

    fn fan_out(
        &self,
        message: &Message,
        topic: Option<&str>,
        except: Option<ConnId>,
    ) -> Result<(), HandleError> {
        // Encoded once; every thread and every connection shares these bytes.
        let frame = encode_shared_data(message.opcode(), message.as_bytes());
        let topic: Option<Arc<str>> = topic.map(Arc::from);
        for worker in 0..self.shared.workers.len() {
            let command = Command::Broadcast {
                frame: frame.clone(),
                topic: topic.clone(),
                except,
            };
            self.deliver(worker, command)?;
        }
        Ok(())
    }

    /// Sends one message to every open server-side connection.
    pub fn broadcast(&self, message: &Message) -> Result<(), HandleError> {
        self.fan_out(message, None, None)
    }

    /// Like [`broadcast`](Self::broadcast), skipping one connection (the sender, say).
    pub fn broadcast_except(&self, message: &Message, except: ConnId) -> Result<(), HandleError> {
        self.fan_out(message, None, Some(except))
    }

    /// Sends one message to every connection subscribed to `topic`.
    pub fn publish(&self, topic: &str, message: &Message) -> Result<(), HandleError> {
        self.fan_out(message, Some(topic), None)
    }

    /// Subscribes a connection to `topic` from any thread (within a handler,
    /// `Conn::subscribe` does it at once).
    pub fn subscribe(&self, id: ConnId, topic: &str) -> Result<(), HandleError> {
        self.deliver(id.worker(), Command::Subscribe(id, Arc::from(topic), true))
    }

    /// Unsubscribes a connection from `topic` from any thread.
    pub fn unsubscribe(&self, id: ConnId, topic: &str) -> Result<(), HandleError> {
        self.deliver(id.worker(), Command::Subscribe(id, Arc::from(topic), false))
    }

    /// Stops reading from a connection's socket: no more events from it until
    /// [`resume_reading`](Self::resume_reading). The peer then meets TCP flow
    /// control, so a consumer that falls behind slows its sender instead of
    /// buffering without bound. Events already read are still delivered; idle
    /// and pong deadlines are suspended while paused.
    pub fn pause_reading(&self, id: ConnId) -> Result<(), HandleError> {
        self.deliver(id.worker(), Command::Reading(id, false))
    }

    /// Resumes reading from a connection paused by [`pause_reading`](Self::pause_reading)
    /// or `Conn::pause_reading`.
    pub fn resume_reading(&self, id: ConnId) -> Result<(), HandleError> {
        self.deliver(id.worker(), Command::Reading(id, true))
    }

    /// Answers an upgrade request that
    /// [`Handler::on_upgrade_request`](super::Handler::on_upgrade_request)
    /// deferred: accept (the 101 is written and `on_open` follows) or reject
    /// (the status is written and the socket closed). Ignored for a
    /// connection not waiting for a decision (answered already, timed out).
    pub fn decide_upgrade(
        &self,
        id: ConnId,
        decision: super::handler::Upgrade,
    ) -> Result<(), HandleError> {
        self.deliver(id.worker(), Command::Upgrade(id, decision))
    }

    /// Opens a client connection to `url` (`ws://host[:port]/path` or
    /// `ws+unix:///socket/path`). Name resolution happens on the calling
    /// thread; the connection then lives on one of the engine's threads and
    /// reports to its handler: `on_open` (with `options.tag`) or `on_connect_error`.
    pub fn connect(&self, url: &str, options: super::client::ClientOptions) -> io::Result<()> {
        let request = ConnectRequest::resolve(url, options)?;
        let n = self.shared.workers.len();
        let worker = self
            .shared
            .next_client_worker
            .fetch_add(1, Ordering::Relaxed)
            % n;
        self.deliver(worker, Command::Connect(Box::new(request)))
            .map_err(|e| io::Error::new(io::ErrorKind::NotConnected, e))
    }

    /// Stops gracefully: listeners close, every open connection gets 1001
    /// Going Away, and the threads wait up to `grace` for the closing
    /// handshakes before closing what is left. Returns at once; join the
    /// engine (see `Server::join`) to wait.
    pub fn stop(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        for worker in 0..self.shared.workers.len() {
            let _ = self.deliver(worker, Command::Stop(deadline));
        }
        self.shared.stopped.store(true, Ordering::Release);
    }

    /// Bytes queued on an open connection and not yet written, as its thread
    /// last recorded them (after its last write or send): readable from any
    /// thread at any time. `UnknownConnection` for a connection not open.
    pub fn buffered_amount(&self, id: ConnId) -> Result<usize, HandleError> {
        let remote = self
            .shared
            .workers
            .get(id.worker())
            .ok_or(HandleError::UnknownConnection)?;
        remote
            .buffered
            .load(id.slot(), id.generation())
            .ok_or(HandleError::UnknownConnection)
    }

    /// Connections currently open or opening, across all threads.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Whether `stop` was called.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }
}
