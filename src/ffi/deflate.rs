//! permessage-deflate settings (RFC 7692) as C sees them: part of
//! `rws_engine_config`, zero meaning "off" or "the default".

use crate::proto::deflate::DeflateConfig;

/// permessage-deflate of an engine: offered on its client connections and
/// accepted on its server connections when `enabled`. All zero (what
/// `rws_engine_config_init` leaves) is off; other zero fields take the defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rws_deflate_config {
    /// Negotiate permessage-deflate at all.
    pub enabled: bool,
    /// Reset this side's compressor after each message: no compressor state
    /// is kept between messages, at some cost in ratio.
    pub no_context_takeover: bool,
    /// Ask the peer to reset its compressor after each message, so that
    /// this side keeps no decompressor between messages.
    pub peer_no_context_takeover: bool,
    /// Compressor window, 9 to 15 bits; 0: 11.
    pub window_bits: u8,
    /// Compressor memory level, 1 to 9; 0: 4.
    pub mem_level: u8,
    /// Window to ask of the peer's compressor, 8 to 15 bits; 0: 15 (none asked).
    pub peer_window_bits: u8,
    /// zlib level, 1 to 9; 0: 1.
    pub level: u8,
    /// Messages shorter than this many bytes go uncompressed; 0: 64.
    pub threshold: u32,
}

/// The engine's setting for `c`; `None` when a field is out of range.
pub(crate) fn deflate_config(c: &rws_deflate_config) -> Option<DeflateConfig> {
    let d = DeflateConfig::default();
    let pick = |v: u8, default: u8, range: std::ops::RangeInclusive<u8>| match v {
        0 => Some(default),
        v if range.contains(&v) => Some(v),
        _ => None,
    };
    Some(DeflateConfig {
        enabled: c.enabled,
        window_bits: pick(c.window_bits, d.window_bits, 9..=15)?,
        mem_level: pick(c.mem_level, d.mem_level, 1..=9)?,
        level: pick(c.level, d.level, 1..=9)?,
        threshold: match c.threshold {
            0 => d.threshold,
            n => n as usize,
        },
        no_context_takeover: c.no_context_takeover,
        peer_window_bits: pick(c.peer_window_bits, d.peer_window_bits, 8..=15)?,
        peer_no_context_takeover: c.peer_no_context_takeover,
    })
}
