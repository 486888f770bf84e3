//! UTF-8 validation for text messages, over `simdutf8`.
//!
//! [`validate`] checks a whole buffer at once. [`Utf8Validator`] checks a
//! message that arrives in pieces (frames, or partial reads of a frame) and
//! fails fast: [`Utf8Validator::feed`] returns an error as soon as the bytes
//! seen so far cannot be the start of any valid UTF-8 text, even if the
//! offending code point is not complete yet (`F4 90`, `ED A0`, `E0 80`, a lone
//! `C0`, `F5`, a stray continuation byte...). This is what RFC 6455 §8.1
//! asks of an endpoint ("fail the connection as soon as possible").
// Kept compatible with Rust 1.63 (see `scripts/check-neon.sh`).

use std::fmt;

/// A UTF-8 validation failure.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Utf8Error {
    /// The bytes contain a sequence that is not valid UTF-8 whatever follows
    /// (bad lead byte, stray continuation, overlong form, surrogate, value
    /// above U+10FFFF, or a code point cut short by a byte that cannot
    /// continue it).
    Invalid,
    /// The text ends in the middle of a code point: returned by
    /// [`Utf8Validator::finish`] (and [`validate`]) when the bytes so far are
    /// a valid prefix but the last code point is incomplete.
    Incomplete,
}

impl Utf8Error {
    /// Whether this is [`Utf8Error::Incomplete`].
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Utf8Error::Incomplete)
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Utf8Error::Invalid => f.write_str("invalid UTF-8 sequence"),
            Utf8Error::Incomplete => f.write_str("incomplete UTF-8 sequence at end of text"),
        }
    }
}

impl std::error::Error for Utf8Error {}

/// Validates `bytes` as complete UTF-8 text.
///
/// Uses `simdutf8`'s fastest checker (after a word-wise ASCII check for
/// inputs under 256 bytes); only on failure is the input scanned
/// again to tell [`Utf8Error::Incomplete`] (valid text cut short at the end)
/// from [`Utf8Error::Invalid`].
pub fn validate(bytes: &[u8]) -> Result<(), Utf8Error> {
    if is_valid_fast(bytes) {
        return Ok(());
    }
    match simdutf8::compat::from_utf8(bytes) {
        Ok(_) => Ok(()),
        Err(e) if e.error_len().is_none() => Err(Utf8Error::Incomplete),
        Err(_) => Err(Utf8Error::Invalid),
    }
}

/// Inputs shorter than this are first checked for pure ASCII a word at a
/// time: for short messages that is several times cheaper than simdutf8's
/// setup and tail handling.
const SHORT_ASCII_MAX: usize = 256;

/// Whether `bytes` is complete, valid UTF-8 (yes/no only).
#[inline]
fn is_valid_fast(bytes: &[u8]) -> bool {
    (bytes.len() < SHORT_ASCII_MAX && is_ascii_words(bytes))
        || simdutf8::basic::from_utf8(bytes).is_ok()
}

/// Whether every byte is ASCII, ORing 8-byte words (no early exit: meant for
/// short inputs, where a branch per word costs more than it saves).
#[inline]
fn is_ascii_words(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut acc = 0u64;
    for w in &mut words {
        acc |= u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
    }
    let mut rest = 0u8;
    for &b in words.remainder() {
        rest |= b;
    }
    acc & 0x8080_8080_8080_8080 == 0 && rest < 0x80
}

/// Marks a validator that has seen invalid input (in `Utf8Validator::len`).
const FAILED: u8 = u8::MAX;

/// Incremental, fail-fast UTF-8 validator for a message split over several
/// chunks.
///
/// It holds no heap memory: only the up to 3 bytes of a code point that a
/// chunk ended in the middle of. Feed every chunk with [`feed`](Self::feed)
/// and call [`finish`](Self::finish) at the end of the message.
///
/// ```
/// # use rocwebsocket::simd::utf8::Utf8Validator;
/// let mut v = Utf8Validator::new();
/// v.feed(b"caf\xC3").unwrap(); // "é" cut in two
/// v.feed(b"\xA9!").unwrap();
/// v.finish().unwrap();
/// assert!(v.feed(b"\xF4\x90").is_err()); // above U+10FFFF: fails at once
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Utf8Validator {
    /// Bytes of the pending incomplete code point (`len` of them are used).
    pending: [u8; 3],
    /// Number of pending bytes (0..=3), or `FAILED`.
    len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Utf8Validator {
            pending: [0; 3],
            len: 0,
        }
    }

    /// Forgets all state, ready for a new message.
    pub fn reset(&mut self) {
        *self = Utf8Validator::new();
    }

    /// Whether the bytes fed so far end in the middle of a code point (they
    /// are valid so far, but [`finish`](Self::finish) would now fail).
    pub fn is_incomplete(&self) -> bool {
        self.len != 0 && self.len != FAILED
    }

    /// Validates the next `chunk` of the message, continuing any code point
    /// the previous chunk ended in the middle of.
    ///
    /// Returns `Ok(())` if all bytes so far are valid UTF-8, possibly ending
    /// with an incomplete but so-far-valid code point, and
    /// `Err(Utf8Error::Invalid)` as soon as they cannot be completed into
    /// valid UTF-8. After an error the validator stays failed (every call
    /// returns the error) until [`reset`](Self::reset).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        match self.feed_inner(chunk) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.len = FAILED;
                Err(e)
            }
        }
    }

    fn feed_inner(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if self.len == FAILED {
            return Err(Utf8Error::Invalid);
        }
        let mut rest = chunk;
        if self.len != 0 {
            // Complete the pending code point with the chunk's first bytes.
            let have = usize::from(self.len);
            let need = sequence_len(self.pending[0]).saturating_sub(have);
            let take = need.min(rest.len());
            let mut cp = [0u8; 4];
            cp[..have].copy_from_slice(&self.pending[..have]);
            cp[have..have + take].copy_from_slice(&rest[..take]);
            let n = have + take;
            match core::str::from_utf8(&cp[..n]) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => {
                    // Still incomplete: the whole chunk was consumed.
                    self.pending[..n].copy_from_slice(&cp[..n]);
                    self.len = n as u8;
                    return Ok(());
                }
                Err(_) => return Err(Utf8Error::Invalid),
            }
            rest = &rest[take..];
            self.len = 0;
        }
        // Split off a trailing lead byte plus continuations that is shorter
        // than its sequence: the only place an incomplete code point can be.
        let split = incomplete_tail_start(rest);
        let (body, tail) = rest.split_at(split);
        // `body` is followed by `tail` (starting with a lead byte) or is the
        // end of the chunk: a sequence cut short at its end is never valid,
        // so the fast checker's plain yes/no is exactly the answer.
        if !is_valid_fast(body) {
            return Err(Utf8Error::Invalid);
        }
        if !tail.is_empty() {
            match core::str::from_utf8(tail) {
                // Cannot happen (tail is shorter than its sequence); harmless.
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => {
                    self.pending[..tail.len()].copy_from_slice(tail);
                    self.len = tail.len() as u8;
                }
                Err(_) => return Err(Utf8Error::Invalid),
            }
        }
        Ok(())
    }

    /// Ends the message: `Err(Utf8Error::Incomplete)` if it stopped in the
    /// middle of a code point, `Err(Utf8Error::Invalid)` if an earlier
    /// [`feed`](Self::feed) failed, else `Ok(())`.
    ///
    /// The validator is reset afterwards, ready for the next message.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let r = match self.len {
            0 => Ok(()),
            FAILED => Err(Utf8Error::Invalid),
            _ => Err(Utf8Error::Incomplete),
        };
        self.reset();
        r
    }
}

/// Length of the UTF-8 sequence that lead byte `b` announces; 1 for ASCII and
/// for bytes that cannot start a multi-byte sequence (those are checked
/// elsewhere).
#[inline(always)]
fn sequence_len(b: u8) -> usize {
    match b {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// Index where a trailing, too-short multi-byte sequence starts (its lead
/// byte is among the last 3 bytes and announces more bytes than remain), or
/// `bytes.len()` if there is none.
#[inline(always)]
fn incomplete_tail_start(bytes: &[u8]) -> usize {
    let len = bytes.len();
    let lowest = len.saturating_sub(3);
    let mut i = len;
    while i > lowest {
        i -= 1;
        let b = bytes[i];
        if b & 0xC0 != 0x80 {
            // The last non-continuation byte: a lead byte or ASCII.
            return if sequence_len(b) > len - i { i } else { len };
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference verdict for a whole stream.
    fn std_ok(bytes: &[u8]) -> bool {
        std::str::from_utf8(bytes).is_ok()
    }

    /// Whether some extension of `prefix` is valid UTF-8.
    fn viable(prefix: &[u8]) -> bool {
        match std::str::from_utf8(prefix) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        }
    }

    /// Smallest `p` such that `bytes[..p]` is not viable (the byte at index
    /// `p - 1` is the one that proves invalidity), if any.
    fn first_doomed(bytes: &[u8]) -> Option<usize> {
        (1..=bytes.len()).find(|&p| !viable(&bytes[..p]))
    }

    /// Feeds `bytes` cut at `cuts` (sorted positions) and checks verdict and
    /// fail-fast timing against std.
    fn check_split(bytes: &[u8], cuts: &[usize]) {
        let doomed = first_doomed(bytes);
        let mut v = Utf8Validator::new();
        let mut start = 0;
        let mut bounds: Vec<usize> = cuts.to_vec();
        bounds.push(bytes.len());
        for &end in &bounds {
            let r = v.feed(&bytes[start..end]);
            // The chunk is the one that must fail iff it contains byte p-1.
            let must_fail = match doomed {
                Some(p) => (start..end).contains(&(p - 1)),
                None => false,
            };
            assert_eq!(
                r.is_err(),
                must_fail,
                "input {:02X?} cuts {:?} chunk {}..{} doomed {:?}",
                bytes,
                cuts,
                start,
                end,
                doomed
            );
            assert_eq!(v.is_incomplete(), r.is_ok() && !std_ok(&bytes[..end]));
            if r.is_err() {
                assert_eq!(r, Err(Utf8Error::Invalid));
                assert_eq!(v.feed(b"a"), Err(Utf8Error::Invalid), "not sticky");
                assert!(!std_ok(bytes));
                assert_eq!(v.finish(), Err(Utf8Error::Invalid));
                return;
            }
            start = end;
        }
        assert!(doomed.is_none());
        let fin = v.finish();
        assert_eq!(
            fin.is_ok(),
            std_ok(bytes),
            "input {:02X?} cuts {:?}",
            bytes,
            cuts
        );
        if fin.is_err() {
            assert_eq!(fin, Err(Utf8Error::Incomplete));
        }
        assert_eq!(v, Utf8Validator::new(), "finish must reset");
    }

    fn check_validate(bytes: &[u8]) {
        let r = validate(bytes);
        assert_eq!(r.is_ok(), std_ok(bytes), "{:02X?}", bytes);
        if let Err(e) = r {
            let std_e = std::str::from_utf8(bytes).unwrap_err();
            assert_eq!(e.is_incomplete(), std_e.error_len().is_none());
        }
    }

    /// Valid pieces and every kind of invalid sequence.
    fn pieces() -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"a".to_vec(),
            b"Hello, world".to_vec(),
            "\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}".into(),
            "\u{D7FF}\u{E000}\u{FFFD}".into(),
            "κόσμε 日本語 🎉😀".into(),
            "é".into(),
            "€".into(),
            "𝄞".into(),
        ];
        let invalid: &[&[u8]] = &[
            // Overlong forms.
            b"\xC0\x80",
            b"\xC1\xBF",
            b"\xE0\x80\x80",
            b"\xE0\x9F\xBF",
            b"\xF0\x80\x80\x80",
            b"\xF0\x8F\xBF\xBF",
            // Surrogates U+D800..U+DFFF.
            b"\xED\xA0\x80",
            b"\xED\xAF\xBF",
            b"\xED\xB0\x80",
            b"\xED\xBF\xBF",
            // Above U+10FFFF.
            b"\xF4\x90\x80\x80",
            b"\xF4\xBF\xBF\xBF",
            b"\xF5\x80\x80\x80",
            b"\xF7\xBF\xBF\xBF",
            b"\xF8\x88\x80\x80\x80",
            b"\xFC\x84\x80\x80\x80\x80",
            b"\xFE",
            b"\xFF",
            // Lone C0/C1.
            b"\xC0",
            b"\xC1",
            // Stray continuation bytes.
            b"\x80",
            b"\xBF",
            b"a\x80b",
            b"\xC3\xA9\xA9",
            // Truncated sequences (invalid mid-stream, incomplete at the end).
            b"\xC3",
            b"\xE2\x82",
            b"\xE2",
            b"\xF0\x9F\x98",
            b"\xF0\x9F",
            b"\xF0",
            b"\xF4\x8F\xBF",
            b"\xED\x9F",
            // Lead followed by a non-continuation.
            b"\xC3a",
            b"\xE2\x82a",
            b"\xF0\x9F\x98a",
            b"\xE2\xC3\xA9",
        ];
        v.extend(invalid.iter().map(|s| s.to_vec()));
        v
    }

    /// Streams built from pieces: each piece alone, surrounded, and pairs.
    fn corpus() -> Vec<Vec<u8>> {
        let p = pieces();
        let mut out = Vec::new();
        for a in &p {
            out.push(a.clone());
            let mut s = b"ab".to_vec();
            s.extend_from_slice(a);
            s.extend_from_slice("é日".as_bytes());
            out.push(s);
            for b in &p {
                let mut s = a.clone();
                s.extend_from_slice(b);
                out.push(s);
            }
        }
        out
    }

    #[test]
    fn single_split_and_bytewise() {
        for s in corpus() {
            check_validate(&s);
            check_split(&s, &[]);
            for i in 0..=s.len() {
                check_split(&s, &[i]);
            }
            let all: Vec<usize> = (1..s.len()).collect();
            check_split(&s, &all);
        }
    }

    #[test]
    fn double_split() {
        for s in corpus().into_iter().filter(|s| s.len() <= 24) {
            for i in 0..=s.len() {
                for j in i..=s.len() {
                    check_split(&s, &[i, j]);
                }
            }
        }
    }

    /// Long inputs so that simdutf8's SIMD blocks are used, with an error
    /// placed at many positions.
    #[test]
    fn long_inputs() {
        let text: String = "aé€😀κόσμε日本".chars().cycle().take(150).collect();
        let base = text.as_bytes().to_vec();
        check_validate(&base);
        for i in (0..=base.len()).step_by(7) {
            check_split(&base, &[i]);
        }
        let bad: &[&[u8]] = &[b"\xED\xA0\x80", b"\xF4\x90", b"\xC0", b"\x80", b"\xE2\x82a"];
        for b in bad {
            for pos in (0..base.len()).step_by(13) {
                let mut s = base[..pos].to_vec();
                s.extend_from_slice(b);
                s.extend_from_slice(&base[pos..]);
                check_validate(&s);
                for i in (0..=s.len()).step_by(5) {
                    check_split(&s, &[i]);
                }
                check_split(&s, &[pos, pos + 1]);
            }
        }
        // Long ASCII with a truncated code point at the very end.
        let mut s = vec![b'x'; 200];
        s.extend_from_slice(b"\xF0\x9F\x98");
        check_validate(&s);
        for i in 190..=s.len() {
            check_split(&s, &[i]);
        }
    }

    /// Pseudo-random streams over an alphabet of interesting bytes.
    #[test]
    fn random_streams() {
        let alphabet: &[u8] = &[
            b'a', 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
            0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF,
        ];
        let mut state = 0x1234_5678_9ABC_DEF1u64;
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 12) as usize;
            let mut x = state;
            let s: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.rotate_left(5).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    alphabet[(x >> 40) as usize % alphabet.len()]
                })
                .collect();
            check_validate(&s);
            for i in 0..=s.len() {
                check_split(&s, &[i]);
            }
            let all: Vec<usize> = (1..s.len()).collect();
            check_split(&s, &all);
        }
    }

    #[test]
    fn ascii_precheck_every_position() {
        for len in (0..=70).chain([127, 128, 129, 255, 256, 257]) {
            let mut s = vec![b'z'; len];
            assert!(is_ascii_words(&s));
            assert_eq!(validate(&s), Ok(()));
            for i in 0..len {
                s[i] = 0x80;
                assert!(!is_ascii_words(&s));
                assert_eq!(validate(&s), Err(Utf8Error::Invalid));
                s[i] = 0xC3;
                let want = if i + 1 == len {
                    Err(Utf8Error::Incomplete)
                } else {
                    Err(Utf8Error::Invalid)
                };
                assert_eq!(validate(&s), want);
                s[i] = b'z';
            }
        }
    }

    #[test]
    fn fail_fast_examples() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"ok \xF4"), Ok(()));
        assert!(v.is_incomplete());
        assert_eq!(v.feed(b"\x90"), Err(Utf8Error::Invalid));
        for bad in [&b"\xED\xA0"[..], b"\xE0\x80", b"\xC0", b"\xF5", b"\x80"] {
            let mut v = Utf8Validator::new();
            assert_eq!(v.feed(bad), Err(Utf8Error::Invalid), "{:02X?}", bad);
        }
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"\xE2\x82"), Ok(()));
        assert_eq!(v.finish(), Err(Utf8Error::Incomplete));
        assert!(!v.is_incomplete());
        assert_eq!(v.feed(b"fresh"), Ok(()));
        v.reset();
        assert_eq!(v.finish(), Ok(()));
        assert_eq!(validate(b"\xE2\x82"), Err(Utf8Error::Incomplete));
        assert_eq!(validate(b"\xE2\x82a"), Err(Utf8Error::Invalid));
        assert_eq!(validate("😀".as_bytes()), Ok(()));
        assert!(!Utf8Error::Invalid.to_string().is_empty());
        assert!(std::mem::size_of::<Utf8Validator>() <= 4);
    }
}
