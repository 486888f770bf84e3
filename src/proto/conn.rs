//! The connection state machine: bytes in, events out; messages in, bytes out.
//!
//! Decoding works in place on the read buffer: a frame's payload is unmasked
//! and (for text) validated as its bytes arrive, so invalid UTF-8 fails the
//! connection as soon as the bytes that prove it are read, even in the middle
//! of a frame. A whole frame becomes a zero-copy `Bytes` split off the read
//! buffer; only fragmented messages are copied, into one assembly buffer.

use std::io::IoSlice;
use std::mem::MaybeUninit;

use bytes::{Buf, BytesMut};

use super::close::{parse_close_payload, CloseCode, CloseState};
use super::deadline::Stage;
use super::deflate::Session;
use super::error::ProtocolError;
use super::frame::{self, FrameHeader, OpCode, Role};
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
            // 16 MiB: what one peer can make a server hold for a message
            // sent in tiny fragments; Autobahn's largest case (9.x) is 16 MiB.
            max_message_size: 16 << 20,
            allowed_rsv: 0,
        }
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

/// What a connection holds only while bytes are in flight: the read buffer,
/// the frame being decoded and the write queue.
///
/// An idle connection hands it back ([`Connection::take_idle_in_flight`]) and
/// then costs a pointer for it; an event loop keeps the boxes in a pool and
/// lends one back before reading or sending
/// ([`Connection::lend_in_flight`]). A connection that is lent none makes its
/// own on first use and keeps it.
#[derive(Debug, Default)]
pub struct InFlight(Box<InFlightState>);

#[derive(Debug, Default)]
struct InFlightState {
    rbuf: BytesMut,
    out: OutQueue,
    current: Option<PartialFrame>,
}

impl InFlight {
    /// A new, empty state (allocates).
    pub fn new() -> Self {
        InFlight::default()
    }
}

/// The in-flight state of `io`, made on first use.
fn in_flight(io: &mut Option<InFlight>) -> &mut InFlightState {
    &mut io.get_or_insert_with(InFlight::default).0
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
    /// The read buffer, frame being decoded and write queue; `None` while
    /// idle (see [`InFlight`]).
    io: Option<InFlight>,
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
    /// Pongs queued since output was last written: up to `PONGS_KEPT`
    /// each ping gets its own answer, past it they are coalesced.
    pongs_unwritten: u8,
    /// permessage-deflate, when negotiated; boxed so connections without
    /// it carry one pointer.
    deflate: Option<Box<Session>>,
}

/// RSV1: "compressed message" under permessage-deflate (RFC 7692 §6).
const RSV1: u8 = 0b100;

/// The most pongs that wait unwritten: until then each ping gets its own
/// answer, after it the last pong is replaced by the latest ping's (RFC 6455
/// §5.5.3: the latest ping is enough), so a ping flood costs a bounded
/// queue. Autobahn 2.10 sends 10 pings at once and wants 10 pongs.
pub const PONGS_KEPT: u8 = 16;

impl Connection {
    /// A connection in the open state for `role` (the opening handshake is
    /// done, or [`handshake_started`](Self::handshake_started) says otherwise).
    pub fn new(role: Role, config: ConnConfig) -> Self {
        Connection {
            role,
            config,
            io: None,
            fragmented: None,
            fragments: None,
            utf8: Utf8Validator::new(),
            sending: None,
            send_utf8: Utf8Validator::new(),
            close: CloseState::Open,
            failed: None,
            pongs_unwritten: 0,
            deflate: None,
            stage: Stage::Open {
                last_rx: None,
                ping_sent: None,
                suspended: false,
            },
        }
    }

    /// Turns on permessage-deflate as negotiated in the opening handshake:
    /// RSV1 becomes allowed on the first frame of a data message.
    pub fn enable_deflate(&mut self, session: Session) {
        self.config.allowed_rsv |= RSV1;
        self.deflate = Some(Box::new(session));
    }

    /// The deflate state, when negotiated.
    pub fn deflate(&self) -> Option<&Session> {
        self.deflate.as_deref()
    }

    /// Compression of the messages sent next on or off (on by default once
    /// negotiated); a no-op without deflate.
    pub fn set_compression(&mut self, on: bool) {
        if let Some(d) = &mut self.deflate {
            d.set_enabled(on);
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
            buf: &mut in_flight(&mut self.io).rbuf,
        }
    }

    /// The bytes held and not yet handed out as events, read-only (before the
    /// first frame: an HTTP head the caller parses itself).
    pub fn input(&self) -> &[u8] {
        self.io.as_ref().map_or(&[], |io| &io.0.rbuf)
    }

    /// Capacity of the read buffer (0 when it holds none, see
    /// [`take_idle_read_buffer`](Self::take_idle_read_buffer)).
    pub fn input_capacity(&self) -> usize {
        self.io.as_ref().map_or(0, |io| io.0.rbuf.capacity())
    }

    /// Drops the first `n` held bytes (all of them when `n` is larger), which
    /// the caller consumed itself: the HTTP head that precedes the frames.
    ///
    /// Only between frames: once a frame is partly decoded its held bytes
    /// cannot shift, so this drops nothing and returns false.
    pub fn discard_input(&mut self, n: usize) -> bool {
        let Some(io) = self.io.as_mut() else {
            return true;
        };
        if io.0.current.is_some() {
            return false;
        }
        io.0.rbuf.advance(n.min(io.0.rbuf.len()));
        true
    }

    /// Copies received bytes into the read buffer. They prove the peer
    /// alive: the idle and keepalive deadlines restart from the next time
    /// passed to [`next_deadline`](Self::next_deadline) or
    /// [`on_timeout`](Self::on_timeout).
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.accepts_input() {
            in_flight(&mut self.io).rbuf.extend_from_slice(bytes);
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
        let Some(io) = self.io.as_ref() else {
            return 0;
        };
        match io.0.current {
            Some(p) => {
                let total = p.header.header_len + p.header.payload_len as usize;
                total.saturating_sub(io.0.rbuf.len())
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
        !self.accepts_input() && self.buffered_amount() == 0
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
        if let Some(io) = self.io.as_mut() {
            io.0.rbuf = BytesMut::new();
            io.0.current = None;
        }
        self.fragments = None;
    }

    fn decode(&mut self) -> Result<Option<Event>, ProtocolError> {
        loop {
            // Nothing in flight: nothing to decode (and nothing to allocate).
            let Some(InFlight(io)) = self.io.as_mut() else {
                return Ok(None);
            };
            let mut partial = match io.current {
                Some(p) => p,
                None => {
                    let Some(header) =
                        frame::parse_header(&io.rbuf, self.role, self.config.allowed_rsv)?
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
            let io = in_flight(&mut self.io);
            // Checked against max_frame_size in start_frame, so it fits usize.
            let len = h.payload_len as usize;
            let available = (io.rbuf.len() - h.header_len).min(len);
            if available > partial.processed {
                let new = &mut io.rbuf[h.header_len + partial.processed..h.header_len + available];
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
                io.current = Some(partial);
                return Ok(None);
            }
            io.current = None;
            io.rbuf.advance(h.header_len);
            let payload = io.rbuf.split_to(len);
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
        if h.rsv & RSV1 != 0 && !matches!(h.opcode, OpCode::Text | OpCode::Binary) {
            // §6.1: only the first frame of a data message says "compressed".
            return Err(ProtocolError::ReservedBits(h.rsv));
        }
        let is_text = match h.opcode {
            OpCode::Continuation => match self.fragmented {
                None => return Err(ProtocolError::UnexpectedContinuation),
                Some(kind) => kind == OpCode::Text && !self.receiving_compressed(),
            },
            OpCode::Text | OpCode::Binary => {
                if self.fragmented.is_some() {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                if h.opcode == OpCode::Text {
                    self.utf8.reset();
                }
                let compressed = h.rsv & RSV1 != 0;
                if let Some(d) = &mut self.deflate {
                    d.start_message(compressed);
                }
                // Compressed text is validated as it inflates, not raw.
                h.opcode == OpCode::Text && !compressed
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
            OpCode::Text | OpCode::Binary | OpCode::Continuation if self.receiving_compressed() => {
                let kind = match h.opcode {
                    OpCode::Continuation => self.fragmented.unwrap_or(OpCode::Binary),
                    kind => kind,
                };
                return self.inflate_frame(kind, h.fin, &payload);
            }
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
                if let Some(io) = self.io.as_mut() {
                    io.0.rbuf = BytesMut::new();
                }
                Event::Close(frame)
            }
        };
        Ok(Some(event))
    }

    fn receiving_compressed(&self) -> bool {
        self.deflate.as_ref().is_some_and(|d| d.receiving())
    }

    /// Inflates one frame of a compressed message: into a fresh buffer for
    /// a one-frame message, into the assembly buffer for a fragmented one.
    fn inflate_frame(
        &mut self,
        kind: OpCode,
        fin: bool,
        payload: &[u8],
    ) -> Result<Option<Event>, ProtocolError> {
        let limit = self.config.max_message_size;
        let mut out = match self.fragments.take() {
            Some(f) => *f,
            None => BytesMut::new(),
        };
        let utf8 = (kind == OpCode::Text).then_some(&mut self.utf8);
        let Some(d) = self.deflate.as_deref_mut() else {
            return Err(ProtocolError::ReservedBits(RSV1));
        };
        d.inflate(payload, fin, &mut out, limit, utf8)?;
        if !fin {
            self.fragmented = Some(kind);
            self.fragments = Some(Box::new(out));
            return Ok(None);
        }
        self.fragmented = None;
        self.message_event(kind, out).map(Some)
    }

    fn message_event(&mut self, kind: OpCode, payload: BytesMut) -> Result<Event, ProtocolError> {
        if kind == OpCode::Text {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(Event::Text(Utf8Bytes::from_validated(payload.freeze())))
        } else {
            Ok(Event::Binary(payload.freeze()))
        }
    }

    // ---- output ----

    /// Bytes queued for the transport.
    pub fn buffered_amount(&self) -> usize {
        self.io.as_ref().map_or(0, |io| io.0.out.len())
    }

    /// Fills `dst` with the queued bytes, in order, for a vectored write.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.io.as_ref().map_or(0, |io| io.0.out.io_slices(dst))
    }

    /// The first contiguous run of queued bytes.
    pub fn output_chunk(&self) -> &[u8] {
        self.io.as_ref().map_or(&[], |io| io.0.out.first_chunk())
    }

    /// Marks `n` queued bytes as written.
    pub fn advance_output(&mut self, n: usize) {
        if let Some(io) = self.io.as_mut() {
            io.0.out.advance(n);
        }
        if n > 0 {
            self.pongs_unwritten = 0;
        }
    }

    /// Takes back the read buffer when it holds no unprocessed bytes, so an
    /// idle connection holds none; a pool can lend it to the next reader.
    pub fn take_idle_read_buffer(&mut self) -> Option<BytesMut> {
        // Even with no capacity left in its view: a buffer consumed to its end
        // still holds its allocation.
        let io = &mut self.io.as_mut()?.0;
        if io.rbuf.is_empty() && io.current.is_none() {
            Some(std::mem::take(&mut io.rbuf))
        } else {
            None
        }
    }

    /// Lends an empty buffer to read into, when the connection holds none.
    pub fn lend_read_buffer(&mut self, buf: BytesMut) {
        let io = in_flight(&mut self.io);
        if io.rbuf.capacity() == 0 && io.rbuf.is_empty() {
            io.rbuf = buf;
            io.rbuf.clear();
        }
    }

    /// Takes back the write buffer when nothing is queued (see [`OutQueue`]).
    pub fn take_idle_write_buffer(&mut self) -> Option<BytesMut> {
        self.io.as_mut()?.0.out.take_idle_buffer()
    }

    /// Whether the connection holds a buffer to encode frames into (without
    /// one, the first frame queued allocates it).
    pub fn holds_write_buffer(&self) -> bool {
        self.io.as_ref().is_some_and(|io| io.0.out.has_buffer())
    }

    /// Lends an empty buffer for encoding frames into, when the connection holds none.
    pub fn lend_write_buffer(&mut self, buf: BytesMut) {
        in_flight(&mut self.io).out.lend_buffer(buf);
    }

    /// Whether the connection holds its in-flight state (see [`InFlight`]).
    pub fn holds_in_flight(&self) -> bool {
        self.io.is_some()
    }

    /// Lends an in-flight state, when the connection holds none (otherwise
    /// `state` is dropped). Lend one before reading or sending, so that the
    /// connection does not allocate its own.
    pub fn lend_in_flight(&mut self, state: InFlight) {
        if self.io.is_none() {
            self.io = Some(state);
        }
    }

    /// Takes back the in-flight state when nothing is in flight: no input
    /// held, no frame half-decoded, no output queued. The buffers it holds go
    /// with it: take them first with
    /// [`take_idle_read_buffer`](Self::take_idle_read_buffer) and
    /// [`take_idle_write_buffer`](Self::take_idle_write_buffer) to pool
    /// them apart.
    pub fn take_idle_in_flight(&mut self) -> Option<InFlight> {
        let io = &self.io.as_ref()?.0;
        if io.rbuf.is_empty() && io.current.is_none() && io.out.is_empty() {
            self.io.take()
        } else {
            None
        }
    }

    /// The write queue, made on first use.
    fn out(&mut self) -> &mut OutQueue {
        &mut in_flight(&mut self.io).out
    }
}

mod send;
mod timers;

pub(crate) use send::encode_shared_data;
pub use send::{encode_shared_frame, SendError};

#[cfg(test)]
mod tests;
