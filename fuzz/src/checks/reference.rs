//! References written here, independent of the code under test: a
//! byte-by-byte frame header decoder, a frame stream reader for what a
//! connection writes, SHA-1 and base64 for the handshake's accept value, and
//! the close code rules of RFC 6455 §7.4.

use rocwebsocket::proto::{Event, ProtocolError, Role};

/// A frame header as the reference reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefHeader {
    /// FIN bit.
    pub fin: bool,
    /// RSV bits as 0b0RRR.
    pub rsv: u8,
    /// Opcode nibble.
    pub opcode: u8,
    /// Masking key, if the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Announced payload length.
    pub payload_len: u64,
    /// Header length in bytes.
    pub header_len: usize,
}

/// What the reference makes of a prefix of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefOutcome {
    /// Every byte so far is a valid start of some header: more are needed.
    NeedMore,
    /// A whole header.
    Header(RefHeader),
    /// No header starts with these bytes; the error the first byte that
    /// proves it stands for.
    Error(ProtocolError),
}

/// Whether an opcode nibble is defined by RFC 6455 (§5.2).
pub fn opcode_defined(op: u8) -> bool {
    matches!(op, 0x0 | 0x1 | 0x2 | 0x8 | 0x9 | 0xA)
}

/// Decodes a frame header one byte at a time, as received by `receiver` with
/// `allowed_rsv` RSV bits allowed, reporting an error at the first byte after
/// which no valid header can follow.
pub fn parse_header(buf: &[u8], receiver: Role, allowed_rsv: u8) -> RefOutcome {
    let mut h = RefHeader {
        fin: false,
        rsv: 0,
        opcode: 0,
        mask: None,
        payload_len: 0,
        header_len: 2,
    };
    let mut ext = 0usize; // extended length bytes
    let mut masked = false;
    let mut key = [0u8; 4];
    for (i, &b) in buf.iter().enumerate() {
        if i == 0 {
            h.fin = b & 0x80 != 0;
            h.rsv = (b >> 4) & 0x7;
            h.opcode = b & 0x0F;
            if h.rsv & !allowed_rsv != 0 {
                return RefOutcome::Error(ProtocolError::ReservedBits(h.rsv));
            }
            if !opcode_defined(h.opcode) {
                return RefOutcome::Error(ProtocolError::ReservedOpcode(h.opcode));
            }
            if h.opcode >= 0x8 && !h.fin {
                return RefOutcome::Error(ProtocolError::FragmentedControlFrame);
            }
        } else if i == 1 {
            masked = b & 0x80 != 0;
            if receiver == Role::Server && !masked {
                return RefOutcome::Error(ProtocolError::UnmaskedClientFrame);
            }
            if receiver == Role::Client && masked {
                return RefOutcome::Error(ProtocolError::MaskedServerFrame);
            }
            let len7 = b & 0x7F;
            if h.opcode >= 0x8 && len7 > 125 {
                return RefOutcome::Error(ProtocolError::ControlFrameTooLong);
            }
            ext = match len7 {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            if ext == 0 {
                h.payload_len = u64::from(len7);
            }
            h.header_len = 2 + ext + if masked { 4 } else { 0 };
        } else if i < 2 + ext {
            h.payload_len = (h.payload_len << 8) | u64::from(b);
            let seen = i - 1; // length bytes seen so far
            if ext == 8 && seen == 1 && b & 0x80 != 0 {
                return RefOutcome::Error(ProtocolError::LengthTopBitSet);
            }
            // Six zero bytes of a 64-bit length leave at most 0xFFFF: not minimal.
            if ext == 8 && seen == 6 && h.payload_len == 0 {
                return RefOutcome::Error(ProtocolError::NonMinimalLength);
            }
            if seen == ext {
                let min = if ext == 2 { 126 } else { 0x1_0000 };
                if h.payload_len < min {
                    return RefOutcome::Error(ProtocolError::NonMinimalLength);
                }
            }
        } else {
            key[i - 2 - ext] = b;
        }
        if i >= 1 && i + 1 == h.header_len {
            h.mask = masked.then_some(key);
            return RefOutcome::Header(h);
        }
    }
    RefOutcome::NeedMore
}

/// One frame read back from a connection's output, payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefFrame {
    /// FIN bit.
    pub fin: bool,
    /// Opcode nibble.
    pub opcode: u8,
    /// Unmasked payload.
    pub payload: Vec<u8>,
}

/// Reads everything a connection of role `sender` wrote as the peer would:
/// whole frames only, masked exactly when the sender is a client, no RSV
/// bits, control frames final and short, close payloads valid, fragments in
/// order, text valid UTF-8, and nothing after a close frame.
pub fn read_output(bytes: &[u8], sender: Role) -> Result<Vec<RefFrame>, String> {
    let receiver = match sender {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut frames = Vec::new();
    let mut rest = bytes;
    let mut open: Option<(u8, Vec<u8>)> = None;
    let mut closed = false;
    while !rest.is_empty() {
        if closed {
            return Err(format!("{} bytes after the close frame", rest.len()));
        }
        let h = match parse_header(rest, receiver, 0) {
            RefOutcome::Header(h) => h,
            RefOutcome::NeedMore => return Err("output ends inside a frame header".into()),
            RefOutcome::Error(e) => return Err(format!("output frame header: {e:?}")),
        };
        let len = usize::try_from(h.payload_len).map_err(|_| "huge frame".to_string())?;
        if rest.len() < h.header_len + len {
            return Err("output ends inside a frame payload".into());
        }
        let mut payload = rest[h.header_len..h.header_len + len].to_vec();
        if let Some(key) = h.mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        rest = &rest[h.header_len + len..];
        match h.opcode {
            0x0 => {
                let Some((kind, mut acc)) = open.take() else {
                    return Err("continuation without a fragmented message".into());
                };
                acc.extend_from_slice(&payload);
                if h.fin {
                    if kind == 0x1 && std::str::from_utf8(&acc).is_err() {
                        return Err("fragmented text is not UTF-8".into());
                    }
                } else {
                    open = Some((kind, acc));
                }
            }
            0x1 | 0x2 => {
                if open.is_some() {
                    return Err("new message inside a fragmented one".into());
                }
                if h.fin {
                    if h.opcode == 0x1 && std::str::from_utf8(&payload).is_err() {
                        return Err("text frame is not UTF-8".into());
                    }
                } else {
                    open = Some((h.opcode, payload.clone()));
                }
            }
            0x8 => {
                close_payload(&payload)?;
                closed = true;
            }
            _ => {}
        }
        frames.push(RefFrame {
            fin: h.fin,
            opcode: h.opcode,
            payload,
        });
    }
    Ok(frames)
}

/// Checks a close frame payload: empty, or a sendable code and a UTF-8 reason.
pub fn close_payload(p: &[u8]) -> Result<Option<u16>, String> {
    match p.len() {
        0 => Ok(None),
        1 => Err("one-byte close payload".into()),
        _ => {
            let code = u16::from_be_bytes([p[0], p[1]]);
            if !close_code_sendable(code) {
                return Err(format!("close code {code} may not be sent"));
            }
            if p.len() > 125 {
                return Err("close payload over 125 bytes".into());
            }
            std::str::from_utf8(&p[2..]).map_err(|_| "close reason is not UTF-8".to_string())?;
            Ok(Some(code))
        }
    }
}

/// RFC 6455 §7.4 and the IANA registry: codes an endpoint may put in a close
/// frame. 1004-1006 and 1015 are reserved or local-only, 1016-2999 are for
/// future RFCs, 3000-4999 for libraries and applications.
pub fn close_code_sendable(code: u16) -> bool {
    (1000..=1003).contains(&code) || (1007..=1014).contains(&code) || (3000..=4999).contains(&code)
}

/// An event in a comparable, owned form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// Text message bytes.
    Text(Vec<u8>),
    /// Binary message bytes.
    Binary(Vec<u8>),
    /// Ping payload.
    Ping(Vec<u8>),
    /// Pong payload.
    Pong(Vec<u8>),
    /// Close code and reason.
    Close(u16, Vec<u8>),
    /// Protocol error.
    Error(ProtocolError),
}

impl Ev {
    /// Converts an event, checking that text really is UTF-8.
    pub fn from_event(e: Event) -> Ev {
        match e {
            Event::Text(t) => {
                assert!(
                    std::str::from_utf8(t.as_bytes()).is_ok(),
                    "text event is not UTF-8"
                );
                Ev::Text(t.as_bytes().to_vec())
            }
            Event::Binary(b) => Ev::Binary(b.to_vec()),
            Event::Ping(b) => Ev::Ping(b.to_vec()),
            Event::Pong(b) => Ev::Pong(b.to_vec()),
            Event::Close(f) => {
                assert!(
                    std::str::from_utf8(&f.reason).is_ok(),
                    "close reason is not UTF-8"
                );
                Ev::Close(f.code.0, f.reason.to_vec())
            }
            Event::Error(e) => Ev::Error(e),
        }
    }

    /// Whether nothing may follow this event.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Ev::Close(..) | Ev::Error(_))
    }
}

/// SHA-1 (FIPS 180-4), straight from the definition.
pub fn sha1(message: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut padded = message.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend_from_slice(&((message.len() as u64).wrapping_mul(8)).to_be_bytes());
    for block in padded.chunks(64) {
        let mut w = [0u32; 80];
        for t in 0..16 {
            w[t] = u32::from_be_bytes([
                block[4 * t],
                block[4 * t + 1],
                block[4 * t + 2],
                block[4 * t + 3],
            ]);
        }
        for t in 16..80 {
            w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (t, &wt) in w.iter().enumerate() {
            let (f, k) = match t {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let temp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(wt);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = temp;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard padded base64; `None` for anything else.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 4 != 0 {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let quads = text.len() / 4;
    for (qi, q) in text.chunks(4).enumerate() {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && qi + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // Canonical: the bits dropped by padding must be zero.
        let keep = 3 - pad;
        if pad > 0 && n & ((1 << (8 * pad as u32)) - 1) != 0 {
            return None;
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Some(out)
}

/// The `Sec-WebSocket-Accept` value for `key` (RFC 6455 §4.2.2), by the
/// reference SHA-1 and base64.
pub fn accept_value(key: &[u8]) -> String {
    let mut m = key.to_vec();
    m.extend_from_slice(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64(&sha1(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_value(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(base64_decode(b"Zm9vYg==").unwrap(), b"foob");
    }
}
