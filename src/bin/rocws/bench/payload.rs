//! What the load generator puts in its messages, and how it checks them.
//!
//! Every message starts with two numbers of 8 bytes each (in echo mode a
//! sequence number and the connection's index, in fan-out mode a sequence
//! number and the send time), then a filler that depends only on the byte's
//! position. Binary messages carry the numbers little-endian; text messages
//! carry them as 8 characters of 6 bits each (48 bits, enough for 2^48
//! messages or 78 hours of nanoseconds), so that text stays ASCII.

/// Bytes the two numbers take at the start of a message.
pub const HEADER_LEN: usize = 16;

/// 64 ASCII characters, one per 6-bit digit.
const DIGITS: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

/// Writes `value` as 8 bytes at the start of `out`: little-endian for
/// binary, 8 six-bit ASCII digits (low digit first) for text.
pub fn put_u64(out: &mut [u8], value: u64, text: bool) {
    if text {
        for (i, b) in out[..8].iter_mut().enumerate() {
            *b = DIGITS[((value >> (6 * i)) & 63) as usize];
        }
    } else {
        out[..8].copy_from_slice(&value.to_le_bytes());
    }
}

/// Reads back what [`put_u64`] wrote; `None` if a text digit is not one of ours.
pub fn get_u64(bytes: &[u8], text: bool) -> Option<u64> {
    let bytes = bytes.get(..8)?;
    if !text {
        return Some(u64::from_le_bytes(bytes.try_into().ok()?));
    }
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        value |= u64::from(digit) << (6 * i);
    }
    Some(value)
}

/// A message-sized buffer whose filler is already in place: only the header
/// changes from one message to the next, so sending copies nothing extra.
pub struct Template {
    /// A prefix the message is sent with (`pub TOPIC `), then the message.
    bytes: Vec<u8>,
    /// Where the message starts in `bytes`.
    off: usize,
    text: bool,
}

impl Template {
    /// A template of `size` bytes (the header is cut short when `size` is
    /// under [`HEADER_LEN`]).
    pub fn new(size: usize, text: bool) -> Template {
        let bytes = (0..size)
            .map(|i| {
                if i < HEADER_LEN {
                    b'.'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        Template {
            bytes,
            off: 0,
            text,
        }
    }

    /// Sends go out as `prefix` then the message (a topic command of
    /// `rocws serve --broadcast`, whose subscribers get the message alone).
    pub fn with_prefix(mut self, prefix: &[u8]) -> Template {
        self.bytes.splice(0..0, prefix.iter().copied());
        self.off = prefix.len();
        self
    }

    /// The message with `a` and `b` as its two numbers.
    pub fn fill(&mut self, a: u64, b: u64) -> &[u8] {
        let mut header = [0u8; HEADER_LEN];
        put_u64(&mut header[..8], a, self.text);
        put_u64(&mut header[8..], b, self.text);
        let body = &mut self.bytes[self.off..];
        let n = body.len().min(HEADER_LEN);
        body[..n].copy_from_slice(&header[..n]);
        &self.bytes
    }

    /// Whether `payload` is exactly the message [`fill`](Self::fill) makes from `a` and `b`.
    pub fn matches(&mut self, payload: &[u8], a: u64, b: u64) -> bool {
        let off = self.off;
        payload.len() == self.bytes.len() - off && payload == &self.fill(a, b)[off..]
    }

    /// Whether `payload` has the right length and filler (its header is not checked).
    pub fn filler_matches(&self, payload: &[u8]) -> bool {
        let body = &self.bytes[self.off..];
        let n = body.len().min(HEADER_LEN);
        payload.len() == body.len() && payload[n..] == body[n..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_in_both_encodings() {
        for text in [false, true] {
            for v in [0u64, 1, 63, 64, 4095, 1 << 40, (1 << 48) - 1] {
                let mut b = [0u8; 8];
                put_u64(&mut b, v, text);
                assert_eq!(get_u64(&b, text), Some(v));
                if text {
                    assert!(b.is_ascii());
                }
            }
        }
    }

    #[test]
    fn templates_check_what_they_make() {
        let mut t = Template::new(40, true);
        let m = t.fill(7, 9).to_vec();
        assert!(std::str::from_utf8(&m).is_ok());
        assert!(t.matches(&m, 7, 9));
        assert!(!t.matches(&m, 8, 9));
        assert!(t.filler_matches(&m));
        assert!(!t.filler_matches(&m[..39]));
        let mut short = Template::new(5, false);
        let m = short.fill(1, 2).to_vec();
        assert_eq!(m.len(), 5);
        assert!(short.matches(&m, 1, 2));
    }
}
