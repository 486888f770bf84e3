//! Sending: messages, fragments, control frames and the close, each checked
//! against RFC 6455 before a byte is queued, and encoded straight into the
//! write queue (masked in place for clients).

use std::fmt;

use bytes::Bytes;

use super::{Connection, RSV1, SHARE_PAYLOAD_MIN};
use crate::proto::close::{CloseCode, CloseState, MAX_CLOSE_REASON};
use crate::proto::deflate::SharedMessage;
use crate::proto::frame::{self, OpCode, Role, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::proto::mask_key::next_mask_key;
use crate::proto::message::Utf8Bytes;
use crate::simd::mask::apply_mask;
use crate::simd::utf8::Utf8Validator;

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

impl Connection {
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
        if self.try_compressed(opcode, &payload) {
            return Ok(());
        }
        if self.role == Role::Server && payload.len() >= SHARE_PAYLOAD_MIN {
            let mut header = [0u8; MAX_HEADER_LEN];
            let n = frame::encode_header(&mut header, true, 0, opcode, None, payload.len() as u64);
            self.out().extend_from_slice(&header[..n]);
            self.out().push_shared(payload);
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
        let first = opcode != OpCode::Continuation;
        let compressed = match self.deflate.as_deref_mut() {
            Some(d) => d
                .fragment_compressed(first)
                .then(|| d.compress_fragment(payload, fin)),
            None => None,
        };
        match compressed {
            Some(c) => self.encode_frame(opcode, &c, fin, if first { RSV1 } else { 0 }),
            None => self.encode_frame(opcode, payload, fin, 0),
        }
        self.sending = (!fin).then_some(kind);
        self.send_utf8 = utf8;
        Ok(())
    }

    fn send_message(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        if !self.try_compressed(opcode, payload) {
            self.queue_frame(opcode, payload);
        }
        Ok(())
    }

    /// Sends a whole data message compressed when deflate is negotiated and
    /// the message is worth it; false when it is to go uncompressed (then
    /// the compressor was either not touched or reset, see
    /// [`Session::compress_message`](crate::proto::deflate::Session::compress_message)).
    fn try_compressed(&mut self, opcode: OpCode, payload: &[u8]) -> bool {
        let Some(d) = self.deflate.as_deref_mut() else {
            return false;
        };
        if !d.wants(payload.len()) {
            return false;
        }
        match d.compress_message(payload) {
            Some(compressed) => {
                self.encode_frame(opcode, &compressed, true, RSV1);
                true
            }
            None => false,
        }
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
        self.out().push_shared(frame);
        Ok(())
    }

    /// Queues a message shared with many server connections: the plain
    /// frame without deflate (or below its threshold, or with compression
    /// off), a compressed frame made once for all connections that reset
    /// their compressor after each message, and otherwise a compression with
    /// this connection's own state (its window needs the message). Server role only.
    pub fn send_shared_message(&mut self, message: &mut SharedMessage) -> Result<(), SendError> {
        self.check_open()?;
        if self.role == Role::Client {
            return Err(SendError::SharedFrameNeedsServer);
        }
        if self.sending.is_some() {
            return Err(SendError::MessageInProgress);
        }
        let Some(d) = self.deflate.as_deref() else {
            self.out().push_shared(message.frame().clone());
            return Ok(());
        };
        if !d.wants(message.payload().len()) {
            self.out().push_shared(message.frame().clone());
        } else if d.shares_compressor() {
            match message.compressed_frame(d.compressor_key()) {
                Some(frame) => self.out().push_shared(frame),
                None => self.out().push_shared(message.frame().clone()),
            }
        } else {
            let payload = message.payload().clone();
            if !self.try_compressed(message.opcode(), &payload) {
                self.out().push_shared(message.frame().clone());
            }
        }
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

    pub(super) fn queue_close_frame(&mut self, code: Option<CloseCode>, reason: &[u8]) {
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

    /// Queues the answer to a ping. Past `PONGS_KEPT` pongs unwritten, it
    /// replaces the pong still waiting at the end of the queue (RFC 6455
    /// §5.5.3: the latest ping is enough).
    pub(super) fn queue_auto_pong(&mut self, payload: &[u8]) {
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
        if self.pongs_unwritten < super::PONGS_KEPT {
            // Still answering one for one: the previous pong stays as it is.
            self.pongs_unwritten += 1;
            self.out().keep_pong();
        }
        self.out().set_pong(&frame[..n + payload.len()]);
    }

    pub(super) fn queue_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        self.encode_frame(opcode, payload, true, 0);
    }

    /// Encodes one frame straight into the write queue, masking in place for clients.
    fn encode_frame(&mut self, opcode: OpCode, payload: &[u8], fin: bool, rsv: u8) {
        let mask = (self.role == Role::Client).then(next_mask_key);
        let mut header = [0u8; MAX_HEADER_LEN];
        let n = frame::encode_header(&mut header, fin, rsv, opcode, mask, payload.len() as u64);
        self.out().append_with(|buf| {
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
        self.out().extend_from_slice(bytes);
    }
}
