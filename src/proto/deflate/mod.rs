//! permessage-deflate (RFC 7692): negotiation, the per-message transform,
//! bounded inflation, and the rules that keep both windows in step.
//!
//! The compressor and decompressor are zlib-rs's raw deflate. A direction
//! with context takeover keeps its state between messages (the peer's
//! window depends on it); one without borrows a state from a per-thread
//! pool for the length of one message, so an idle connection holds none.

mod codec;
pub mod negotiate;
mod pool;
mod shared;

pub(crate) use codec::compress_with_key;
pub use codec::Session;
pub use negotiate::{client_check, client_offer, server_accept, AnswerError, EXTENSION_NAME};
pub use shared::SharedMessage;

/// What one side will negotiate and how it compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Whether to offer (client) or accept (server) the extension at all.
    pub enabled: bool,
    /// Largest LZ77 window of this side's compressor, 9 to 15 bits;
    /// default 11 (2 KiB). JSON messages repeat within a few hundred bytes:
    /// on 100-300 B ticks the window of 11 bits sends 72.5 B per message
    /// where 15 bits sends 64.4 (benches/deflate.rs), for a quarter of the
    /// window buffers. zlib-rs keeps a hash table of fixed size (64 Ki
    /// entries) whatever the window, so a compressor kept for context
    /// takeover still costs about 150 KB per connection (benches/idle_memory.rs);
    /// `no_context_takeover` avoids holding one at all.
    pub window_bits: u8,
    /// zlib memory level of the compressor, 1 to 9 (its pending buffer);
    /// default 4.
    pub mem_level: u8,
    /// zlib compression level, 1 (fastest) to 9; default 1: market data
    /// compresses almost as well at 1 and costs half the CPU of level 6.
    pub level: u8,
    /// Messages shorter than this are sent uncompressed (and never touch
    /// the compressor); default 64 bytes.
    pub threshold: usize,
    /// Reset this side's compressor after each message (negotiated as
    /// `server_no_context_takeover` / `client_no_context_takeover` for this
    /// role): no compressor is held between messages, at some cost in ratio.
    pub no_context_takeover: bool,
    /// Window bits to ask of the peer's compressor (15: no limit asked).
    /// The server asks only when the client offered `client_max_window_bits`.
    pub peer_window_bits: u8,
    /// Ask the peer to reset its compressor after each message, so that this
    /// side holds no decompressor between messages.
    pub peer_no_context_takeover: bool,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            enabled: true,
            window_bits: 11,
            mem_level: 4,
            level: 1,
            threshold: 64,
            no_context_takeover: false,
            peer_window_bits: 15,
            peer_no_context_takeover: false,
        }
    }
}

impl DeflateConfig {
    /// Deflate refused (not offered, not accepted).
    pub fn disabled() -> Self {
        DeflateConfig {
            enabled: false,
            ..DeflateConfig::default()
        }
    }

    /// The configuration with every number brought into its valid range.
    pub fn clamped(mut self) -> Self {
        self.window_bits = self.window_bits.clamp(9, 15);
        self.mem_level = self.mem_level.clamp(1, 9);
        self.level = self.level.clamp(1, 9);
        self.peer_window_bits = self.peer_window_bits.clamp(8, 15);
        self
    }
}

/// The parameters in force once negotiated (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server's compressor window, in bits (15 when not limited).
    pub server_max_window_bits: u8,
    /// The client's compressor window, in bits (15 when not limited).
    pub client_max_window_bits: u8,
}

#[cfg(test)]
mod tests;
