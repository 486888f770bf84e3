//! The frame codec of RFC 6455 §5.2: header parsing from any prefix of bytes,
//! and header/frame encoding for both roles.
//!
//! Parsing never allocates and never reads past what it was given: a header
//! that claims 2^62 bytes is just a number here; limits are checked by the
//! caller before a single payload byte is buffered.

use super::error::ProtocolError;

/// The longest frame header: 2 bytes + 8 bytes of length + 4 bytes of mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload a control frame may carry (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Which side of the connection this endpoint is; decides masking (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts connections: receives masked frames, sends unmasked ones.
    Server,
    /// Opens connections: receives unmasked frames, sends masked ones.
    Client,
}

/// A frame opcode (§5.2). Reserved opcodes are rejected by the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation = 0x0,
    /// 0x1: the first frame of a UTF-8 text message.
    Text = 0x1,
    /// 0x2: the first frame of a binary message.
    Binary = 0x2,
    /// 0x8: close.
    Close = 0x8,
    /// 0x9: ping.
    Ping = 0x9,
    /// 0xA: pong.
    Pong = 0xA,
}

impl OpCode {
    /// Decodes the low 4 bits of a frame's first byte.
    pub fn from_u8(op: u8) -> Result<OpCode, ProtocolError> {
        Ok(match op {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }

    /// Whether this is a control opcode (close, ping, pong).
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The FIN bit: this frame ends its message.
    pub fin: bool,
    /// The RSV1..RSV3 bits, as `0b0RRR` (RSV1 is `0b100`).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on client-to-server frames.
    pub mask: Option<[u8; 4]>,
    /// The payload length as announced (not yet checked against any limit).
    pub payload_len: u64,
    /// How many bytes the header itself took (2 to 14).
    pub header_len: usize,
}

/// Parses a frame header from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` is a valid prefix of a header that needs more
/// bytes. Checks everything that the header alone can prove wrong: reserved
/// opcodes, RSV bits outside `allowed_rsv`, control frames that are fragmented
/// or longer than 125 bytes, a 64-bit length with the top bit set, non-minimal
/// length encodings, and masking against `role` (the role of the *receiver*).
/// State-dependent rules (continuations, sizes) belong to the caller.
pub fn parse_header(
    buf: &[u8],
    role: Role,
    allowed_rsv: u8,
) -> Result<Option<FrameHeader>, ProtocolError> {
    let (b0, b1) = match buf {
        [b0, b1, ..] => (*b0, *b1),
        // Even one byte can be checked: fail fast on bad opcode/RSV bits.
        [b0] => {
            check_first_byte(*b0, allowed_rsv)?;
            return Ok(None);
        }
        [] => return Ok(None),
    };
    let (fin, rsv, opcode) = check_first_byte(b0, allowed_rsv)?;
    let masked = b1 & 0x80 != 0;
    match (role, masked) {
        (Role::Server, false) => return Err(ProtocolError::UnmaskedClientFrame),
        (Role::Client, true) => return Err(ProtocolError::MaskedServerFrame),
        _ => {}
    }
    let len7 = b1 & 0x7F;
    if opcode.is_control() && len7 > MAX_CONTROL_PAYLOAD as u8 {
        return Err(ProtocolError::ControlFrameTooLong);
    }
    let (payload_len, len_end) = match len7 {
        126 => {
            let Some(bytes) = buf.get(2..4) else {
                return Ok(None);
            };
            let len = u16::from_be_bytes([bytes[0], bytes[1]]) as u64;
            if len < 126 {
                return Err(ProtocolError::NonMinimalLength);
            }
            (len, 4)
        }
        127 => {
            let Some(bytes) = buf.get(2..10) else {
                // The top bit is in the first length byte: reject as soon as it arrives.
                if buf.len() > 2 && buf[2] & 0x80 != 0 {
                    return Err(ProtocolError::LengthTopBitSet);
                }
                // Six zero bytes leave at most 0xFFFF: no valid header starts so.
                if buf.len() >= 8 && buf[2..8] == [0; 6] {
                    return Err(ProtocolError::NonMinimalLength);
                }
                return Ok(None);
            };
            let mut be = [0u8; 8];
            be.copy_from_slice(bytes);
            let len = u64::from_be_bytes(be);
            if len & (1 << 63) != 0 {
                return Err(ProtocolError::LengthTopBitSet);
            }
            if len <= u16::MAX as u64 {
                return Err(ProtocolError::NonMinimalLength);
            }
            (len, 10)
        }
        short => (short as u64, 2),
    };
    let (mask, header_len) = if masked {
        let Some(key) = buf.get(len_end..len_end + 4) else {
            return Ok(None);
        };
        (Some([key[0], key[1], key[2], key[3]]), len_end + 4)
    } else {
        (None, len_end)
    };
    Ok(Some(FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len,
        header_len,
    }))
}

fn check_first_byte(b0: u8, allowed_rsv: u8) -> Result<(bool, u8, OpCode), ProtocolError> {
    let fin = b0 & 0x80 != 0;
    let rsv = (b0 >> 4) & 0x7;
    if rsv & !allowed_rsv != 0 {
        return Err(ProtocolError::ReservedBits(rsv));
    }
    let opcode = OpCode::from_u8(b0 & 0x0F)?;
    if opcode.is_control() && !fin {
        return Err(ProtocolError::FragmentedControlFrame);
    }
    Ok((fin, rsv, opcode))
}

/// Encodes a frame header into `dst` and returns how many bytes were written.
///
/// The header uses the minimal length encoding. `mask` is the key to announce
/// (client frames); masking the payload itself is the caller's job.
pub fn encode_header(
    dst: &mut [u8; MAX_HEADER_LEN],
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload_len: u64,
) -> usize {
    dst[0] = (u8::from(fin) << 7) | ((rsv & 0x7) << 4) | opcode as u8;
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut n = if payload_len < 126 {
        dst[1] = mask_bit | payload_len as u8;
        2
    } else if payload_len <= u16::MAX as u64 {
        dst[1] = mask_bit | 126;
        dst[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
        4
    } else {
        dst[1] = mask_bit | 127;
        dst[2..10].copy_from_slice(&payload_len.to_be_bytes());
        10
    };
    if let Some(key) = mask {
        dst[n..n + 4].copy_from_slice(&key);
        n += 4;
    }
    n
}

/// The header length a frame with this payload length and masking takes.
pub fn header_len(payload_len: u64, masked: bool) -> usize {
    let len = match payload_len {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    };
    len + if masked { 4 } else { 0 }
}

/// Appends a whole frame (header and payload, masked with `mask` if given) to `out`.
///
/// This is the one-shot encoder for callers that own a `Vec`; the connection
/// state machine encodes straight into its write queue.
pub fn encode_frame(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    let mut header = [0u8; MAX_HEADER_LEN];
    let n = encode_header(&mut header, fin, 0, opcode, mask, payload.len() as u64);
    out.reserve(n + payload.len());
    out.extend_from_slice(&header[..n]);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        crate::simd::mask::apply_mask(&mut out[start..], key, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_server(buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
        parse_header(buf, Role::Server, 0)
    }

    fn parse_client(buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
        parse_header(buf, Role::Client, 0)
    }

    // RFC 6455 §5.7, byte for byte.
    const RFC_UNMASKED_HELLO: &[u8] = &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const RFC_MASKED_HELLO: &[u8] = &[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    const RFC_FRAGMENT_1: &[u8] = &[0x01, 0x03, 0x48, 0x65, 0x6c];
    const RFC_FRAGMENT_2: &[u8] = &[0x80, 0x02, 0x6c, 0x6f];
    const RFC_UNMASKED_PING: &[u8] = &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const RFC_MASKED_PONG: &[u8] = &[
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    #[test]
    fn rfc_examples_encode_byte_for_byte() {
        let mut out = Vec::new();
        encode_frame(&mut out, true, OpCode::Text, b"Hello", None);
        assert_eq!(out, RFC_UNMASKED_HELLO);

        out.clear();
        encode_frame(
            &mut out,
            true,
            OpCode::Text,
            b"Hello",
            Some([0x37, 0xfa, 0x21, 0x3d]),
        );
        assert_eq!(out, RFC_MASKED_HELLO);

        out.clear();
        encode_frame(&mut out, false, OpCode::Text, b"Hel", None);
        encode_frame(&mut out, true, OpCode::Continuation, b"lo", None);
        assert_eq!(out, [RFC_FRAGMENT_1, RFC_FRAGMENT_2].concat());

        out.clear();
        encode_frame(&mut out, true, OpCode::Ping, b"Hello", None);
        assert_eq!(out, RFC_UNMASKED_PING);

        out.clear();
        encode_frame(
            &mut out,
            true,
            OpCode::Pong,
            b"Hello",
            Some([0x37, 0xfa, 0x21, 0x3d]),
        );
        assert_eq!(out, RFC_MASKED_PONG);

        // 256 bytes binary in a single unmasked frame: 0x82 0x7E 0x0100.
        out.clear();
        encode_frame(&mut out, true, OpCode::Binary, &[0u8; 256], None);
        assert_eq!(&out[..4], &[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(out.len(), 4 + 256);

        // 64 KiB binary in a single unmasked frame: 0x82 0x7F 0x0000000000010000.
        out.clear();
        encode_frame(&mut out, true, OpCode::Binary, &vec![0u8; 65536], None);
        assert_eq!(&out[..10], &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(out.len(), 10 + 65536);
    }

    #[test]
    fn rfc_examples_parse() {
        let h = parse_client(RFC_UNMASKED_HELLO).unwrap().unwrap();
        assert_eq!(
            h,
            FrameHeader {
                fin: true,
                rsv: 0,
                opcode: OpCode::Text,
                mask: None,
                payload_len: 5,
                header_len: 2
            }
        );
        let h = parse_server(RFC_MASKED_HELLO).unwrap().unwrap();
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!((h.payload_len, h.header_len), (5, 6));
        let h = parse_client(RFC_FRAGMENT_1).unwrap().unwrap();
        assert!(!h.fin);
        let h = parse_client(RFC_FRAGMENT_2).unwrap().unwrap();
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        assert_eq!(
            parse_client(RFC_UNMASKED_PING).unwrap().unwrap().opcode,
            OpCode::Ping
        );
        assert_eq!(
            parse_server(RFC_MASKED_PONG).unwrap().unwrap().opcode,
            OpCode::Pong
        );
    }

    #[test]
    fn every_prefix_of_a_header_asks_for_more() {
        for (payload_len, masked) in [(5u64, true), (300, true), (70_000, true), (300, false)] {
            let mut h = [0u8; MAX_HEADER_LEN];
            let key = masked.then_some([1, 2, 3, 4]);
            let n = encode_header(&mut h, true, 0, OpCode::Binary, key, payload_len);
            assert_eq!(n, header_len(payload_len, masked));
            let role = if masked { Role::Server } else { Role::Client };
            for cut in 0..n {
                assert_eq!(parse_header(&h[..cut], role, 0), Ok(None), "cut {cut}");
            }
            let parsed = parse_header(&h[..n], role, 0).unwrap().unwrap();
            assert_eq!(
                (parsed.payload_len, parsed.header_len, parsed.mask),
                (payload_len, n, key)
            );
        }
    }

    #[test]
    fn reserved_opcodes_are_rejected() {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                parse_server(&[0x80 | op]),
                Err(ProtocolError::ReservedOpcode(op))
            );
            assert_eq!(
                parse_server(&[0x80 | op, 0x80]),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn rsv_bits_need_negotiation() {
        for rsv in 1u8..8 {
            let b0 = 0x81 | (rsv << 4);
            assert_eq!(
                parse_server(&[b0, 0x80]),
                Err(ProtocolError::ReservedBits(rsv))
            );
        }
        // RSV1 allowed (as permessage-deflate will negotiate) parses.
        let h = parse_header(&[0xC1, 0x80, 0, 0, 0, 0], Role::Server, 0b100)
            .unwrap()
            .unwrap();
        assert_eq!(h.rsv, 0b100);
        assert_eq!(
            parse_header(&[0xA1, 0x80], Role::Server, 0b100),
            Err(ProtocolError::ReservedBits(0b010))
        );
    }

    #[test]
    fn control_frame_rules() {
        assert_eq!(
            parse_server(&[0x89, 0x80 | 126]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert_eq!(
            parse_server(&[0x88, 0x80 | 127]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert!(parse_server(&[0x89, 0x80 | 125, 0, 0, 0, 0])
            .unwrap()
            .is_some());
        assert_eq!(
            parse_server(&[0x09]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            parse_server(&[0x08, 0x80]),
            Err(ProtocolError::FragmentedControlFrame)
        );
    }

    #[test]
    fn masking_must_match_role() {
        assert_eq!(
            parse_server(&[0x81, 0x00]),
            Err(ProtocolError::UnmaskedClientFrame)
        );
        assert_eq!(
            parse_client(&[0x81, 0x80]),
            Err(ProtocolError::MaskedServerFrame)
        );
    }

    #[test]
    fn huge_lengths_are_numbers_not_allocations() {
        let mut h = vec![0x82, 0xFF];
        h.extend_from_slice(&(1u64 << 62).to_be_bytes());
        h.extend_from_slice(&[1, 2, 3, 4]);
        let parsed = parse_server(&h).unwrap().unwrap();
        assert_eq!(parsed.payload_len, 1 << 62);

        let mut top = vec![0x82, 0xFF];
        top.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert_eq!(parse_server(&top), Err(ProtocolError::LengthTopBitSet));
        // Rejected as soon as the first length byte shows it.
        assert_eq!(parse_server(&top[..3]), Err(ProtocolError::LengthTopBitSet));
    }

    #[test]
    fn non_minimal_lengths_are_rejected() {
        assert_eq!(
            parse_client(&[0x82, 126, 0, 125]),
            Err(ProtocolError::NonMinimalLength)
        );
        assert!(parse_client(&[0x82, 126, 0, 126]).unwrap().is_some());
        let mut h = vec![0x82, 127];
        h.extend_from_slice(&65535u64.to_be_bytes());
        assert_eq!(parse_client(&h), Err(ProtocolError::NonMinimalLength));
        // Found by the frame_header fuzz target: six zero bytes of a 64-bit
        // length already prove it non-minimal; `Ok(None)` there promised a
        // valid header to come.
        assert_eq!(parse_client(&h[..8]), Err(ProtocolError::NonMinimalLength));
        assert_eq!(parse_client(&h[..7]), Ok(None));
        assert_eq!(
            parse_client(&[0x82, 127, 0, 0, 0, 0, 0, 1]),
            Ok(None),
            "0x1_0000 and up is minimal"
        );
    }
}
