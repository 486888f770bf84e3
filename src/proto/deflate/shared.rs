//! One message for many server connections (a broadcast or a publish):
//! the plain frame is shared by all of them, and a compressed copy is made
//! at most once per compressor setting for the connections that reset their
//! compressor after each message (their output depends on the message only).
//! A connection with context takeover compresses with its own state.

use bytes::Bytes;

use super::pool::CompressorKey;
use crate::proto::frame::{self, OpCode, Role, MAX_HEADER_LEN};

/// A message encoded once for many server connections; see
/// [`Connection::send_shared_message`](crate::proto::Connection::send_shared_message).
#[derive(Debug)]
pub struct SharedMessage {
    frame: Bytes,
    opcode: OpCode,
    payload: Bytes,
    /// Compressed frames by compressor setting (`None`: did not shrink).
    compressed: Vec<(CompressorKey, Option<Bytes>)>,
    compressions: usize,
}

impl SharedMessage {
    /// Wraps a frame from [`encode_shared_frame`](crate::proto::conn::encode_shared_frame)
    /// (one unmasked final text or binary frame); `None` for anything else.
    pub fn new(frame: Bytes) -> Option<Self> {
        let h = frame::parse_header(&frame, Role::Client, 0).ok()??;
        let end = h.header_len + usize::try_from(h.payload_len).ok()?;
        if !h.fin || !matches!(h.opcode, OpCode::Text | OpCode::Binary) || end != frame.len() {
            return None;
        }
        Some(SharedMessage {
            payload: frame.slice(h.header_len..end),
            opcode: h.opcode,
            frame,
            compressed: Vec::new(),
            compressions: 0,
        })
    }

    /// The plain frame, as every connection without deflate gets it.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// The message's opcode.
    pub fn opcode(&self) -> OpCode {
        self.opcode
    }

    /// The message's payload (a view into the frame).
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// How many times the message was compressed for sharing.
    pub fn compressions(&self) -> usize {
        self.compressions
    }

    /// The compressed frame for connections with compressor `key` and no
    /// context takeover, made on first use; `None` when it does not shrink.
    pub(crate) fn compressed_frame(&mut self, key: CompressorKey) -> Option<Bytes> {
        if let Some((_, f)) = self.compressed.iter().find(|(k, _)| *k == key) {
            return f.clone();
        }
        self.compressions += 1;
        let frame = super::compress_with_key(key, &self.payload).map(|c| {
            let mut header = [0u8; MAX_HEADER_LEN];
            let n =
                frame::encode_header(&mut header, true, 0b100, self.opcode, None, c.len() as u64);
            let mut out = Vec::with_capacity(n + c.len());
            out.extend_from_slice(&header[..n]);
            out.extend_from_slice(&c);
            Bytes::from(out)
        });
        self.compressed.push((key, frame.clone()));
        frame
    }
}
