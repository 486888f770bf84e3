//! The per-message transform of one connection: compress what it sends,
//! inflate what it receives, each bounded and each keeping its window in
//! step with the peer's.

use std::mem::MaybeUninit;

use bytes::BytesMut;
use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush, Status};

use super::pool::{self, CompressorKey};
use super::{DeflateConfig, DeflateParams};
use crate::proto::error::ProtocolError;
use crate::proto::frame::Role;
use crate::simd::utf8::Utf8Validator;

/// The empty stored block that ends a sync flush; RFC 7692 §7.2.1 strips it
/// from the sender's output and §7.2.2 appends it before inflating.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Most bytes inflated in one step: the overshoot past the message limit
/// is at most this.
const CHUNK: usize = 16 << 10;

/// Deflate state of one connection.
pub struct Session {
    key: CompressorKey,
    threshold: usize,
    /// This side resets its compressor after each message.
    send_reset: bool,
    /// The peer resets its compressor after each message: ours is not needed between them.
    recv_reset: bool,
    recv_window_bits: u8,
    compressor: Option<Box<Deflate>>,
    inflater: Option<Box<Inflate>>,
    /// Whether the message being received is compressed (RSV1 on its first frame).
    receiving: bool,
    /// Whether the fragmented message being sent is compressed.
    sending: bool,
    /// Compression of the messages sent next (off on request).
    enabled: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("key", &self.key)
            .field("send_reset", &self.send_reset)
            .field("recv_reset", &self.recv_reset)
            .field("holds_compressor", &self.compressor.is_some())
            .field("holds_inflater", &self.inflater.is_some())
            .finish()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Whatever is held goes back to this thread's pool, reset.
        if let Some(c) = self.compressor.take() {
            pool::give_compressor(self.key, c);
        }
        if let Some(i) = self.inflater.take() {
            pool::give_inflater(i);
        }
    }
}

impl Session {
    /// The transform for `role` under the negotiated `params`, compressing
    /// as `config` says within what was negotiated.
    pub fn new(role: Role, params: DeflateParams, config: &DeflateConfig) -> Self {
        let config = config.clamped();
        let (own_bits, own_reset, peer_bits, peer_reset) = match role {
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
        };
        Session {
            key: CompressorKey {
                level: config.level,
                window_bits: own_bits.min(config.window_bits).clamp(9, 15),
                mem_level: config.mem_level,
            },
            threshold: config.threshold,
            send_reset: own_reset || config.no_context_takeover,
            recv_reset: peer_reset,
            recv_window_bits: peer_bits.clamp(8, 15),
            compressor: None,
            inflater: None,
            receiving: false,
            sending: false,
            enabled: true,
        }
    }

    /// Turns compression of the messages sent next on or off; a message sent
    /// uncompressed never touches the compressor.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
    }

    /// Whether a state is held between messages (for memory accounting).
    pub fn holds_state(&self) -> bool {
        self.compressor.is_some() || self.inflater.is_some()
    }

    /// Whether messages of `len` bytes are compressed now.
    pub fn wants(&self, len: usize) -> bool {
        self.enabled && len >= self.threshold
    }

    /// Compresses a whole message: `None` when it goes uncompressed
    /// (a compressor without context takeover whose output did not shrink:
    /// it is reset, so sending the original keeps both sides in step). With
    /// context takeover the output is always sent, shrunk or not, since the
    /// window already holds the message.
    pub fn compress_message(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let mut state = self.compressor.take().unwrap_or_else(|| self.borrow());
        let mut out = Vec::new();
        deflate_into(&mut state, payload, &mut out);
        strip_tail(&mut out);
        self.release(state);
        if self.send_reset && out.len() >= payload.len() {
            return None;
        }
        Some(out)
    }

    /// Starts or continues a compressed fragmented message: whether it is
    /// compressed is decided at its first fragment (`first`).
    pub fn fragment_compressed(&mut self, first: bool) -> bool {
        if first {
            self.sending = self.enabled;
        }
        self.sending
    }

    /// Compresses one fragment of a compressed message; at `fin` the
    /// message ends (and the compressor is released when it resets).
    pub fn compress_fragment(&mut self, payload: &[u8], fin: bool) -> Vec<u8> {
        let mut state = self.compressor.take().unwrap_or_else(|| self.borrow());
        let mut out = Vec::new();
        deflate_into(&mut state, payload, &mut out);
        if fin {
            strip_tail(&mut out);
            self.release(state);
            self.sending = false;
        } else {
            self.compressor = Some(state);
        }
        out
    }

    fn borrow(&self) -> Box<Deflate> {
        if self.send_reset {
            pool::take_compressor(self.key)
        } else {
            self.key.build()
        }
    }

    /// Keeps the compressor (context takeover) or gives it back to the pool.
    fn release(&mut self, state: Box<Deflate>) {
        if self.send_reset {
            pool::give_compressor(self.key, state);
        } else {
            self.compressor = Some(state);
        }
    }

    /// Notes the first frame of a received message: whether it is compressed.
    pub fn start_message(&mut self, compressed: bool) {
        self.receiving = compressed;
    }

    /// Whether the message being received is compressed.
    pub fn receiving(&self) -> bool {
        self.receiving
    }

    /// Inflates one frame's payload of a compressed message into `out`,
    /// failing with 1009 as soon as `out` passes `limit` (at most one chunk
    /// past it is ever produced) and with 1007 on bad deflate data. Text is
    /// fed to `utf8` as it is produced, so bad UTF-8 fails early.
    pub fn inflate(
        &mut self,
        payload: &[u8],
        fin: bool,
        out: &mut BytesMut,
        limit: usize,
        mut utf8: Option<&mut Utf8Validator>,
    ) -> Result<(), ProtocolError> {
        let mut state = match self.inflater.take() {
            Some(s) => s,
            None if self.recv_reset => pool::take_inflater(self.recv_window_bits),
            None => Box::new(Inflate::new(false, self.recv_window_bits)),
        };
        let mut result = inflate_into(&mut state, payload, out, limit, utf8.as_deref_mut());
        if result.is_ok() && fin {
            result = inflate_into(&mut state, &TAIL, out, limit, utf8);
        }
        // On error the connection fails: the state is dropped, worth nothing now.
        result?;
        if fin && self.recv_reset {
            pool::give_inflater(state);
        } else {
            self.inflater = Some(state);
        }
        if fin {
            self.receiving = false;
        }
        Ok(())
    }
}

/// Compresses `input` with a sync flush, appending to `out`.
fn deflate_into(state: &mut Deflate, input: &[u8], out: &mut Vec<u8>) {
    let mut input = input;
    out.reserve(input.len() / 2 + 64);
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let spare: &mut [MaybeUninit<u8>] = out.spare_capacity_mut();
        let room = spare.len();
        let (in_before, out_before) = (state.total_in(), state.total_out());
        let status = state.compress_uninit(input, spare, DeflateFlush::SyncFlush);
        let used_in = (state.total_in() - in_before) as usize;
        let produced = (state.total_out() - out_before) as usize;
        // SAFETY: the compressor initialised `produced` bytes of the spare capacity.
        unsafe { out.set_len(out.len() + produced) };
        input = &input[used_in..];
        // A sync flush is complete once all input is taken and the output
        // did not fill the room given (zlib's documented contract).
        match status {
            Ok(Status::BufError) | Err(_) => break,
            _ if input.is_empty() && produced < room => break,
            _ => {}
        }
    }
}

/// Drops the sync flush's empty stored block from the end (§7.2.1).
fn strip_tail(out: &mut Vec<u8>) {
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
}

/// Inflates `input` into `out` in steps of at most [`CHUNK`], checking the
/// limit and UTF-8 after each step.
fn inflate_into(
    state: &mut Inflate,
    mut input: &[u8],
    out: &mut BytesMut,
    limit: usize,
    mut utf8: Option<&mut Utf8Validator>,
) -> Result<(), ProtocolError> {
    loop {
        // Room for this step: about four times the input (JSON inflates
        // 3-10x), at most a chunk, and never more than the limit allows
        // plus one byte to detect passing it.
        let allowed = (limit + 1).saturating_sub(out.len()).max(1);
        let step = (input.len() * 4).clamp(256, CHUNK).min(allowed);
        out.reserve(step);
        let spare = &mut out.spare_capacity_mut()[..step];
        let (in_before, out_before) = (state.total_in(), state.total_out());
        let status = state.decompress_uninit(input, spare, InflateFlush::SyncFlush);
        let used_in = (state.total_in() - in_before) as usize;
        let produced = (state.total_out() - out_before) as usize;
        let start = out.len();
        // SAFETY: the decompressor initialised `produced` bytes of the spare capacity.
        unsafe { out.set_len(start + produced) };
        input = &input[used_in..];
        if let Some(v) = utf8.as_deref_mut() {
            v.feed(&out[start..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if out.len() > limit {
            return Err(ProtocolError::MessageTooLarge);
        }
        match status {
            Err(_) => return Err(ProtocolError::InvalidCompressedData),
            Ok(Status::StreamEnd) => {
                // The peer ended the deflate stream (BFINAL): only our
                // appended tail may follow; the next message starts a new stream.
                if !input.is_empty() && input != TAIL {
                    return Err(ProtocolError::InvalidCompressedData);
                }
                state.reset(false);
                return Ok(());
            }
            Ok(Status::BufError) => return Ok(()),
            Ok(Status::Ok) if input.is_empty() && produced < step => return Ok(()),
            Ok(Status::Ok) => {}
        }
    }
}

impl Session {
    /// Whether this side resets its compressor after each message: its
    /// compressed messages can then be shared with other such connections.
    pub fn shares_compressor(&self) -> bool {
        self.send_reset
    }

    pub(crate) fn compressor_key(&self) -> CompressorKey {
        self.key
    }
}

/// Compresses one whole message with a pooled compressor for `key`:
/// `None` when it does not shrink.
pub(crate) fn compress_with_key(key: CompressorKey, payload: &[u8]) -> Option<Vec<u8>> {
    let mut state = pool::take_compressor(key);
    let mut out = Vec::new();
    deflate_into(&mut state, payload, &mut out);
    strip_tail(&mut out);
    pool::give_compressor(key, state);
    (out.len() < payload.len()).then_some(out)
}
