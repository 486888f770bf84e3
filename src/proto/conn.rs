//! The connection state machine: bytes in, events out; messages in, bytes out.
//!
//! Decoding works in place on the read buffer: a frame's payload is unmasked
//! and (for text) validated as its bytes arrive, so invalid UTF-8 fails the
//! connection as soon as the bytes that prove it are read, even in the middle
//! of a frame. A whole frame becomes a zero-copy `Bytes` split off the read
//! buffer; only fragmented messages are copied, into one assembly buffer.

use std::fmt;
use std::io::IoSlice;
use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};

use super::close::{parse_close_payload, CloseCode, CloseState, MAX_CLOSE_REASON};
use super::deadline::{Expired, Stage, Tick, Timeouts};
use super::error::ProtocolError;
use super::frame::{self, FrameHeader, OpCode, Role, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use super::mask_key::next_mask_key;
use super::message::{Event, Utf8Bytes};
use super::outbuf::OutQueue;
use crate::simd::mask::apply_mask;
use crate::simd::utf8::Utf8Validator;

/// Payloads at least this long are queued by reference, not copied, when the
/// connection does not mask (server role).
const SHARE_PAYLOAD_MIN: usize = 4096;

/// Limits and switches of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnConfig {
    /// Largest payload of a single frame; larger ones fail with 1009 before
    /// any of their payload is buffered.
    pub max_frame_size: usize,
    /// Largest message (all fragments together); larger ones fail with 1009.
    pub max_message_size: usize,
    /// RSV bits that negotiated extensions allow (`0b0RRR`); 0 without extensions.
    pub allowed_rsv: u8,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            allowed_rsv: 0,
        }
    }
}

/// Why a send was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// A close frame was already sent: no more frames may follow it.
    Closing,
    /// A control frame payload over 125 bytes.
    ControlTooLong,
    /// A close code that may not be sent (1004-1006, 1015, out of range).
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes.
    ReasonTooLong,
    /// A pre-encoded shared frame on a client connection, which must mask each frame.
    SharedFrameNeedsServer,
    /// A text payload (or text fragment) that is not valid UTF-8; at the end
    /// of a text message, one that stops inside a code point.
    NotUtf8,
    /// A control frame (ping, pong, close) without the FIN bit (RFC 6455 §5.5).
    FragmentedControl,
    /// A close frame through a generic send: use [`Connection::close`], which
    /// checks the code and keeps the closing handshake's state.
    UseClose,
    /// A continuation frame with no fragmented message open.
    NoMessageInProgress,
    /// A new message while a fragmented one is still open (§5.4: fragments
    /// of different messages may not be interleaved).
    MessageInProgress,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closing => f.write_str("a close frame was already sent"),
            SendError::ControlTooLong => f.write_str("control frame payload over 125 bytes"),
            SendError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            SendError::ReasonTooLong => f.write_str("close reason over 123 bytes"),
            SendError::SharedFrameNeedsServer => {
                f.write_str("shared frames are unmasked: server connections only")
            }
            SendError::NotUtf8 => f.write_str("text payload is not valid UTF-8"),
            SendError::FragmentedControl => f.write_str("control frames cannot be fragmented"),
            SendError::UseClose => f.write_str("close frames are sent with close()"),
            SendError::NoMessageInProgress => {
                f.write_str("continuation frame with no fragmented message open")
            }
            SendError::MessageInProgress => {
                f.write_str("a fragmented message is still open: finish it first")
            }
        }
    }
}

impl std::error::Error for SendError {}

/// Encodes one unmasked frame once, for sending to many server connections
/// with [`Connection::send_shared`] (a broadcast shares these bytes).
///
/// Refuses what a lone frame may not be: a close frame (use
/// [`Connection::close`]), a continuation, a control payload over 125 bytes,
/// text that is not UTF-8.
pub fn encode_shared_frame(opcode: OpCode, payload: &[u8]) -> Result<Bytes, SendError> {
    check_whole_message(opcode, payload)?;
    Ok(encode_shared_data(opcode, payload))
}

/// [`encode_shared_frame`] without the checks, for payloads known to be a
/// valid message (a `net::Message`: binary, or text already validated).
pub(crate) fn encode_shared_data(opcode: OpCode, payload: &[u8]) -> Bytes {
    let mut out =
        Vec::with_capacity(frame::header_len(payload.len() as u64, false) + payload.len());
    frame::encode_frame(&mut out, true, opcode, payload, None);
    Bytes::from(out)
}

/// The rules for a single-frame message with `opcode` and `payload`.
fn check_whole_message(opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
    match opcode {
        OpCode::Text => crate::simd::utf8::validate(payload).map_err(|_| SendError::NotUtf8),
        OpCode::Binary => Ok(()),
        OpCode::Ping | OpCode::Pong if payload.len() > MAX_CONTROL_PAYLOAD => {
            Err(SendError::ControlTooLong)
        }
        OpCode::Ping | OpCode::Pong => Ok(()),
        OpCode::Close => Err(SendError::UseClose),
        OpCode::Continuation => Err(SendError::NoMessageInProgress),
    }
}

/// Append-only access to a connection's read buffer, from
/// [`Connection::read_space`]: received bytes go after those already held,
/// and nothing already held can be changed (part of it may be unmasked and
/// validated as UTF-8 already, which a text message's `as_str` relies on).
#[derive(Debug)]
pub struct ReadSpace<'a> {
    buf: &'a mut BytesMut,
}

impl ReadSpace<'_> {
    /// Bytes held (received, not yet handed out as events).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes that fit without growing the buffer.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Makes room for at least `additional` more bytes.
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Appends a copy of `bytes`.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The uninitialised room after the held bytes, to receive into (for
    /// example with read(2)); then [`commit`](Self::commit) what was written.
    pub fn spare_capacity_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        self.buf.spare_capacity_mut()
    }

    /// Marks the first `n` bytes of [`spare_capacity_mut`](Self::spare_capacity_mut)
    /// as received.
    ///
    /// # Safety
    /// Those `n` bytes must have been initialised, and `n` may not exceed
    /// the spare capacity.
    pub unsafe fn commit(&mut self, n: usize) {
        debug_assert!(n <= self.buf.capacity() - self.buf.len());
        // SAFETY: the caller initialised `n` bytes of spare capacity.
        unsafe { self.buf.set_len(self.buf.len() + n) };
    }
}

/// The frame being received: its header and how much of its payload was
/// already unmasked (and validated, for text).
#[derive(Debug, Clone, Copy)]
struct PartialFrame {
    header: FrameHeader,
    processed: usize,
    is_text: bool,
}

/// One WebSocket connection after the opening handshake, without I/O.
///
/// Feed received bytes with [`read_space`](Self::read_space) or
/// [`feed`](Self::feed), take events with [`next_event`](Self::next_event),
/// queue messages with the `send_*` methods and write out what
/// [`io_slices`](Self::io_slices) shows, then [`advance_output`](Self::advance_output).
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: ConnConfig,
    rbuf: BytesMut,
    out: OutQueue,
    current: Option<PartialFrame>,
    /// Opcode of the fragmented message being assembled, if any.
    fragmented: Option<OpCode>,
    /// Its bytes so far; boxed so that connections that never see a
    /// fragmented message carry one pointer, not a buffer header.
    fragments: Option<Box<BytesMut>>,
    utf8: Utf8Validator,
    /// Opcode of the fragmented message this side is sending, if one is open.
    sending: Option<OpCode>,
    /// Validates a text message sent in fragments, across `send_fragment` calls.
    send_utf8: Utf8Validator,
    close: CloseState,
    failed: Option<ProtocolError>,
    /// Where the connection's life stands, for its deadlines.
    stage: Stage,
}

impl Connection {
    /// A connection in the open state for `role` (the opening handshake is
    /// done, or [`handshake_started`](Self::handshake_started) says otherwise).
    pub fn new(role: Role, config: ConnConfig) -> Self {
        Connection {
            role,
            config,
            rbuf: BytesMut::new(),
            out: OutQueue::new(),
            current: None,
            fragmented: None,
            fragments: None,
            utf8: Utf8Validator::new(),
            sending: None,
            send_utf8: Utf8Validator::new(),
            close: CloseState::Open,
            failed: None,
            stage: Stage::Open {
                last_rx: None,
                ping_sent: None,
                suspended: false,
            },
        }
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits in force.
    pub fn config(&self) -> &ConnConfig {
        &self.config
    }

    /// Room to append received bytes (for example by reading a socket into
    /// its spare capacity); then call [`next_event`](Self::next_event).
    /// Append-only: bytes already held may be unmasked and validated.
    pub fn read_space(&mut self) -> ReadSpace<'_> {
        ReadSpace {
            buf: &mut self.rbuf,
        }
    }

    /// The bytes held and not yet handed out as events, read-only (before the
    /// first frame: an HTTP head the caller parses itself).
    pub fn input(&self) -> &[u8] {
        &self.rbuf
    }

    /// Capacity of the read buffer (0 when it holds none, see
    /// [`take_idle_read_buffer`](Self::take_idle_read_buffer)).
    pub fn input_capacity(&self) -> usize {
        self.rbuf.capacity()
    }

    /// Drops the first `n` held bytes (all of them when `n` is larger), which
    /// the caller consumed itself: the HTTP head that precedes the frames.
    ///
    /// Only between frames: once a frame is partly decoded its held bytes
    /// cannot shift, so this drops nothing and returns false.
    pub fn discard_input(&mut self, n: usize) -> bool {
        if self.current.is_some() {
            return false;
        }
        self.rbuf.advance(n.min(self.rbuf.len()));
        true
    }

    /// Copies received bytes into the read buffer. They prove the peer
    /// alive: the idle and keepalive deadlines restart from the next time
    /// passed to [`next_deadline`](Self::next_deadline) or
    /// [`on_timeout`](Self::on_timeout).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.accepts_input() {
            self.rbuf.extend_from_slice(bytes);
            if let Stage::Open {
                last_rx, ping_sent, ..
            } = &mut self.stage
            {
                *last_rx = None;
                *ping_sent = None;
            }
        }
    }

    /// Bytes of the current frame still missing (0 when between frames):
    /// a hint for how much to read next.
    pub fn bytes_wanted(&self) -> usize {
        match self.current {
            Some(p) => {
                let total = p.header.header_len + p.header.payload_len as usize;
                total.saturating_sub(self.rbuf.len())
            }
            None => 0,
        }
    }

    /// Whether received bytes are still of use (false once the connection
    /// failed or the closing handshake finished).
    pub fn accepts_input(&self) -> bool {
        self.failed.is_none() && !self.close.is_closed()
    }

    /// Where the closing handshake stands.
    pub fn close_state(&self) -> CloseState {
        self.close
    }

    /// The error the connection was failed with, if any.
    pub fn failure(&self) -> Option<ProtocolError> {
        self.failed
    }

    /// Whether the transport should now be shut: the closing handshake is over
    /// (or the connection failed) and every queued byte was written.
    pub fn should_close_transport(&self) -> bool {
        !self.accepts_input() && self.out.is_empty()
    }

    /// Decodes the next event from the bytes received so far.
    ///
    /// `None` means "feed me more bytes" (or that input is no longer read).
    /// A protocol violation yields [`Event::Error`] once, after which a close
    /// frame with the matching code is queued and all input is discarded.
    pub fn next_event(&mut self) -> Option<Event> {
        if !self.accepts_input() {
            return None;
        }
        match self.decode() {
            Ok(event) => event,
            Err(error) => {
                self.fail(error);
                Some(Event::Error(error))
            }
        }
    }

    fn fail(&mut self, error: ProtocolError) {
        self.failed = Some(error);
        if !self.close.close_sent() {
            let code = error.close_code();
            self.queue_close_frame(Some(code), error.reason().as_bytes());
            self.close = CloseState::LocalClosing(code);
        }
        self.rbuf = BytesMut::new();
        self.fragments = None;
        self.current = None;
    }

    fn decode(&mut self) -> Result<Option<Event>, ProtocolError> {
        loop {
            let mut partial = match self.current {
                Some(p) => p,
                None => {
                    let Some(header) =
                        frame::parse_header(&self.rbuf, self.role, self.config.allowed_rsv)?
                    else {
                        return Ok(None);
                    };
                    let is_text = self.start_frame(&header)?;
                    PartialFrame {
                        header,
                        processed: 0,
                        is_text,
                    }
                }
            };
            let h = partial.header;
            // Checked against max_frame_size in start_frame, so it fits usize.
            let len = h.payload_len as usize;
            let available = (self.rbuf.len() - h.header_len).min(len);
            if available > partial.processed {
                let new =
                    &mut self.rbuf[h.header_len + partial.processed..h.header_len + available];
                if let Some(key) = h.mask {
                    apply_mask(new, key, partial.processed);
                }
                if partial.is_text {
                    self.utf8
                        .feed(new)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                partial.processed = available;
            }
            if available < len {
                // The I/O layer sizes its reads from `bytes_wanted`: reserving
                // the whole frame here would let a bare header claim memory.
                self.current = Some(partial);
                return Ok(None);
            }
            self.current = None;
            self.rbuf.advance(h.header_len);
            let payload = self.rbuf.split_to(len);
            if let Some(event) = self.finish_frame(&h, payload)? {
                return Ok(Some(event));
            }
        }
    }

    /// Applies the rules that depend on state to a new frame's header; returns
    /// whether its payload is text to validate.
    fn start_frame(&mut self, h: &FrameHeader) -> Result<bool, ProtocolError> {
        if h.payload_len > self.config.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge);
        }
        let is_text = match h.opcode {
            OpCode::Continuation => match self.fragmented {
                None => return Err(ProtocolError::UnexpectedContinuation),
                Some(kind) => kind == OpCode::Text,
            },
            OpCode::Text | OpCode::Binary => {
                if self.fragmented.is_some() {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                if h.opcode == OpCode::Text {
                    self.utf8.reset();
                }
                h.opcode == OpCode::Text
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => false,
        };
        if !h.opcode.is_control()
            && self.fragments.as_ref().map_or(0, |f| f.len()) as u64 + h.payload_len
                > self.config.max_message_size as u64
        {
            return Err(ProtocolError::MessageTooLarge);
        }
        Ok(is_text)
    }

    fn finish_frame(
        &mut self,
        h: &FrameHeader,
        payload: BytesMut,
    ) -> Result<Option<Event>, ProtocolError> {
        let event = match h.opcode {
            OpCode::Text | OpCode::Binary if h.fin => self.message_event(h.opcode, payload)?,
            OpCode::Text | OpCode::Binary => {
                self.fragmented = Some(h.opcode);
                self.fragments
                    .get_or_insert_with(Box::default)
                    .extend_from_slice(&payload);
                return Ok(None);
            }
            OpCode::Continuation => {
                let fragments = self.fragments.get_or_insert_with(Box::default);
                fragments.extend_from_slice(&payload);
                if !h.fin {
                    return Ok(None);
                }
                let kind = self.fragmented.take().unwrap_or(OpCode::Binary);
                // The whole message leaves; the assembly buffer goes with it.
                let whole = *self.fragments.take().unwrap_or_default();
                self.message_event(kind, whole)?
            }
            OpCode::Ping => {
                if !self.close.close_sent() {
                    self.queue_auto_pong(&payload);
                }
                Event::Ping(payload.freeze())
            }
            OpCode::Pong => Event::Pong(payload.freeze()),
            OpCode::Close => {
                let frame = parse_close_payload(payload.freeze())?;
                self.close = match self.close {
                    CloseState::Open => {
                        // Echo the peer's code (none if it sent none), per §5.5.1.
                        let echo = (frame.code != CloseCode::NO_STATUS).then_some(frame.code);
                        self.queue_close_frame(echo, b"");
                        CloseState::Closed {
                            local_first: false,
                            peer_code: frame.code,
                        }
                    }
                    CloseState::LocalClosing(_) | CloseState::Closed { .. } => CloseState::Closed {
                        local_first: true,
                        peer_code: frame.code,
                    },
                };
                self.rbuf = BytesMut::new();
                Event::Close(frame)
            }
        };
        Ok(Some(event))
    }

    fn message_event(&mut self, kind: OpCode, payload: BytesMut) -> Result<Event, ProtocolError> {
        if kind == OpCode::Text {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(Event::Text(Utf8Bytes::from_validated(payload.freeze())))
        } else {
            Ok(Event::Binary(payload.freeze()))
        }
    }

    // ---- deadlines ----

    /// The opening handshake (accept or connect) began at `now`: until
    /// [`handshake_finished`](Self::handshake_finished), the handshake
    /// deadline applies.
    pub fn handshake_started(&mut self, now: Tick) {
        self.stage = Stage::Handshake { since: Some(now) };
    }

    /// The opening handshake finished at `now`: idle and keepalive deadlines
    /// start counting.
    pub fn handshake_finished(&mut self, now: Tick) {
        self.stage = Stage::Open {
            last_rx: Some(now),
            ping_sent: None,
            suspended: false,
        };
    }

    /// Bytes arrived from the peer at `now`: it is alive, so the idle and
    /// keepalive deadlines restart (any byte answers a keepalive ping).
    pub fn bytes_received(&mut self, now: Tick) {
        if let Stage::Open {
            last_rx, ping_sent, ..
        } = &mut self.stage
        {
            *last_rx = Some(now);
            *ping_sent = None;
        }
    }

    /// Suspends the idle and pong deadlines while the application does not
    /// read: silence then proves nothing about the peer.
    pub fn suspend_liveness(&mut self) {
        if let Stage::Open { suspended, .. } = &mut self.stage {
            *suspended = true;
        }
    }

    /// Resumes the idle and pong deadlines, counting from `now`.
    pub fn resume_liveness(&mut self, now: Tick) {
        if let Stage::Open {
            last_rx,
            ping_sent,
            suspended,
        } = &mut self.stage
        {
            if *suspended {
                *last_rx = Some(now);
                *ping_sent = None;
                *suspended = false;
            }
        }
    }

    /// The transport is finishing from `now` (an HTTP refusal is being
    /// written, or this side of the closing handshake is done and the peer's
    /// end of the stream is awaited): the close timeout runs from now.
    pub fn transport_closing(&mut self, now: Tick) {
        self.stage = Stage::Closing { since: Some(now) };
    }

    /// Whether this end closes the TCP connection first once the closing
    /// handshake is over: the server does (RFC 6455 §7.1.1), so that the
    /// TIME_WAIT state stays with it; a client waits for the server's FIN.
    pub fn closes_transport_first(&self) -> bool {
        self.role == Role::Server
    }

    /// Moves an open stage to closing once a close frame went either way.
    fn sync_stage(&mut self, now: Tick) {
        if matches!(self.stage, Stage::Open { .. })
            && (self.close != CloseState::Open || self.failed.is_some())
        {
            self.stage = Stage::Closing { since: Some(now) };
        }
        self.stage.stamp(now);
    }

    /// When this connection next needs [`on_timeout`](Self::on_timeout), under
    /// `timeouts`; `None` when no deadline runs. Changes since the last call
    /// that took no time (a close sent or received) count from `now`.
    pub fn next_deadline(&mut self, now: Tick, timeouts: &Timeouts) -> Option<Tick> {
        self.sync_stage(now);
        self.stage.deadline(timeouts)
    }

    /// Applies whatever deadline passed by `now`: queues a keepalive ping, or
    /// starts the closing handshake with 1001 after the idle timeout (write
    /// out what is then queued), or returns why the transport must be
    /// dropped now without more ado. Calling it early does nothing.
    pub fn on_timeout(&mut self, now: Tick, timeouts: &Timeouts) -> Option<Expired> {
        self.sync_stage(now);
        let due = self.stage.deadline(timeouts).is_some_and(|at| at <= now);
        if !due {
            return None;
        }
        match self.stage {
            Stage::Handshake { .. } => Some(Expired::Handshake),
            Stage::Closing { .. } => Some(Expired::Close),
            Stage::Open {
                last_rx, ping_sent, ..
            } => {
                let last_rx = last_rx.unwrap_or(now);
                if ping_sent.is_some_and(|sent| sent + timeouts.pong_timeout <= now) {
                    return Some(Expired::Pong);
                }
                if timeouts.idle.is_some_and(|d| last_rx + d <= now) {
                    let _ = self.close(CloseCode::GOING_AWAY, "idle timeout");
                    self.sync_stage(now);
                    return None;
                }
                let ping_due = timeouts.ping_interval.is_some_and(|d| last_rx + d <= now);
                if ping_sent.is_none() && ping_due && self.send_ping(b"").is_ok() {
                    if let Stage::Open { ping_sent, .. } = &mut self.stage {
                        *ping_sent = Some(now);
                    }
                }
                None
            }
        }
    }

    // ---- sending ----

    /// Queues a text message (one frame).
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(OpCode::Text, text.as_bytes())
    }

    /// Queues a binary message (one frame).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(OpCode::Binary, data)
    }

    /// Queues a whole message (or a ping or pong) whose payload is already in
    /// `Bytes`: a server connection queues a large payload by reference
    /// instead of copying it. Text is validated (see [`send_utf8`](Self::send_utf8)
    /// to skip that); a close frame is refused (use [`close`](Self::close)),
    /// so is a continuation (use [`send_fragment`](Self::send_fragment)).
    pub fn send_bytes(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), SendError> {
        self.check_open()?;
        check_whole_message(opcode, &payload)?;
        if opcode.is_control() {
            return self.send_control(opcode, &payload);
        }
        self.queue_data(opcode, payload)
    }

    /// Queues a text message already known to be UTF-8, as
    /// [`send_bytes`](Self::send_bytes) does without validating again.
    pub fn send_utf8(&mut self, text: Utf8Bytes) -> Result<(), SendError> {
        self.check_open()?;
        self.queue_data(OpCode::Text, text.into_bytes())
    }

    fn queue_data(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), SendError> {
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        if self.role == Role::Server && payload.len() >= SHARE_PAYLOAD_MIN {
            let mut header = [0u8; MAX_HEADER_LEN];
            let n = frame::encode_header(&mut header, true, 0, opcode, None, payload.len() as u64);
            self.out.extend_from_slice(&header[..n]);
            self.out.push_shared(payload);
        } else {
            self.queue_frame(opcode, &payload);
        }
        Ok(())
    }

    /// Queues one frame of a fragmented message: `opcode` is `Text` or
    /// `Binary` for the first frame and `Continuation` after; `fin` ends it.
    /// Ping and pong (with `fin`) may come between the fragments.
    ///
    /// Refuses what RFC 6455 forbids: a control frame without `fin`
    /// ([`SendError::FragmentedControl`]), a continuation with no message
    /// open, a new message while one is open (whole messages from the other
    /// `send_*` methods too), a text fragment that makes the message invalid
    /// UTF-8 (checked across fragments; at `fin` the text must be complete).
    /// A refused fragment changes nothing: the message stays as it was.
    pub fn send_fragment(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        self.check_open()?;
        if opcode.is_control() {
            if !fin {
                return Err(SendError::FragmentedControl);
            }
            check_whole_message(opcode, payload)?;
            return self.send_control(opcode, payload);
        }
        let kind = match (opcode, self.sending) {
            (OpCode::Continuation, Some(kind)) => kind,
            (OpCode::Continuation, None) => return Err(SendError::NoMessageInProgress),
            (_, Some(_)) => return Err(SendError::MessageInProgress),
            (kind, None) => kind,
        };
        let mut utf8 = if opcode == OpCode::Continuation {
            self.send_utf8
        } else {
            Utf8Validator::new()
        };
        if kind == OpCode::Text {
            utf8.feed(payload).map_err(|_| SendError::NotUtf8)?;
            if fin {
                utf8.finish().map_err(|_| SendError::NotUtf8)?;
            }
        }
        self.encode_frame(opcode, payload, fin);
        self.sending = (!fin).then_some(kind);
        self.send_utf8 = utf8;
        Ok(())
    }

    fn send_message(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.queue_frame(opcode, payload);
        Ok(())
    }

    /// Queues a frame encoded once by [`encode_shared_frame`], sharing its
    /// bytes with every other connection it is queued on. Server role only.
    pub fn send_shared(&mut self, frame: Bytes) -> Result<(), SendError> {
        self.check_open()?;
        if self.role == Role::Client {
            return Err(SendError::SharedFrameNeedsServer);
        }
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.out.push_shared(frame);
        Ok(())
    }

    /// Queues a ping with up to 125 bytes of payload.
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong (a heartbeat) with up to 125 bytes of payload.
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload)
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong);
        }
        self.queue_frame(opcode, payload);
        Ok(())
    }

    /// Starts the closing handshake with `code` and a reason of at most 123 bytes.
    ///
    /// If the peer's close frame already arrived, the answer was sent
    /// automatically and this returns [`SendError::Closing`].
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.check_open()?;
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(SendError::ReasonTooLong);
        }
        self.queue_close_frame(Some(code), reason.as_bytes());
        self.close = CloseState::LocalClosing(code);
        Ok(())
    }

    fn check_open(&self) -> Result<(), SendError> {
        if self.close.close_sent() || self.failed.is_some() {
            Err(SendError::Closing)
        } else {
            Ok(())
        }
    }

    fn queue_close_frame(&mut self, code: Option<CloseCode>, reason: &[u8]) {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let n = match code {
            Some(code) => {
                let reason = &reason[..reason.len().min(MAX_CLOSE_REASON)];
                payload[..2].copy_from_slice(&code.0.to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason);
                2 + reason.len()
            }
            None => 0,
        };
        self.queue_frame(OpCode::Close, &payload[..n]);
    }

    /// Queues the answer to a ping, replacing a pong still waiting unwritten
    /// at the end of the queue (RFC 6455 §5.5.3: the latest ping is enough).
    fn queue_auto_pong(&mut self, payload: &[u8]) {
        // A ping that reached this point passed the 125-byte control rule.
        let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
        let mask = (self.role == Role::Client).then(next_mask_key);
        let mut header = [0u8; MAX_HEADER_LEN];
        let n = frame::encode_header(
            &mut header,
            true,
            0,
            OpCode::Pong,
            mask,
            payload.len() as u64,
        );
        let mut frame = [0u8; MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD];
        frame[..n].copy_from_slice(&header[..n]);
        frame[n..n + payload.len()].copy_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut frame[n..n + payload.len()], key, 0);
        }
        self.out.set_pong(&frame[..n + payload.len()]);
    }

    fn queue_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        self.encode_frame(opcode, payload, true);
    }

    /// Encodes one frame straight into the write queue, masking in place for clients.
    fn encode_frame(&mut self, opcode: OpCode, payload: &[u8], fin: bool) {
        let mask = (self.role == Role::Client).then(next_mask_key);
        let mut header = [0u8; MAX_HEADER_LEN];
        let n = frame::encode_header(&mut header, fin, 0, opcode, mask, payload.len() as u64);
        self.out.append_with(|buf| {
            buf.reserve(n + payload.len());
            buf.extend_from_slice(&header[..n]);
            let start = buf.len();
            buf.extend_from_slice(payload);
            if let Some(key) = mask {
                apply_mask(&mut buf[start..], key, 0);
            }
        });
    }

    /// Queues raw bytes ahead of any frame: the opening handshake's request or
    /// response, written through the same queue as the frames that follow it.
    pub fn queue_handshake_bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    // ---- output ----

    /// Bytes queued for the transport.
    pub fn buffered_amount(&self) -> usize {
        self.out.len()
    }

    /// Fills `dst` with the queued bytes, in order, for a vectored write.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.out.io_slices(dst)
    }

    /// The first contiguous run of queued bytes.
    pub fn output_chunk(&self) -> &[u8] {
        self.out.first_chunk()
    }

    /// Marks `n` queued bytes as written.
    pub fn advance_output(&mut self, n: usize) {
        self.out.advance(n);
    }

    /// Takes back the read buffer when it holds no unprocessed bytes, so an
    /// idle connection holds none; a pool can lend it to the next reader.
    pub fn take_idle_read_buffer(&mut self) -> Option<BytesMut> {
        if self.rbuf.is_empty() && self.current.is_none() && self.rbuf.capacity() > 0 {
            Some(std::mem::take(&mut self.rbuf))
        } else {
            None
        }
    }

    /// Lends an empty buffer to read into, when the connection holds none.
    pub fn lend_read_buffer(&mut self, buf: BytesMut) {
        if self.rbuf.capacity() == 0 && self.rbuf.is_empty() {
            self.rbuf = buf;
            self.rbuf.clear();
        }
    }

    /// Takes back the write buffer when nothing is queued (see [`OutQueue`]).
    pub fn take_idle_write_buffer(&mut self) -> Option<BytesMut> {
        self.out.take_idle_buffer()
    }

    /// Whether the connection holds a buffer to encode frames into (without
    /// one, the first frame queued allocates it).
    pub fn holds_write_buffer(&self) -> bool {
        self.out.has_buffer()
    }

    /// Lends an empty buffer for encoding frames into, when the connection holds none.
    pub fn lend_write_buffer(&mut self, buf: BytesMut) {
        self.out.lend_buffer(buf);
    }
}

#[cfg(test)]
mod tests;
