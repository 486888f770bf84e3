//! Frame headers: `parse_header` on every prefix of arbitrary bytes against
//! the byte-by-byte reference decoder, for both roles and any allowed RSV
//! bits; `encode_header`/`encode_frame` of arbitrary fields read back by the
//! reference.

use rocwebsocket::proto::frame::{self, OpCode, MAX_HEADER_LEN};
use rocwebsocket::proto::Role;

use super::input::Input;
use super::reference::{self, RefHeader, RefOutcome};

/// The real parser's answer in the reference's terms.
fn real(buf: &[u8], role: Role, rsv: u8) -> RefOutcome {
    match frame::parse_header(buf, role, rsv) {
        Ok(None) => RefOutcome::NeedMore,
        Ok(Some(h)) => RefOutcome::Header(RefHeader {
            fin: h.fin,
            rsv: h.rsv,
            opcode: h.opcode as u8,
            mask: h.mask,
            payload_len: h.payload_len,
            header_len: h.header_len,
        }),
        Err(e) => RefOutcome::Error(e),
    }
}

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.u8();
    let allowed_rsv = (mode >> 1) & 0x7;
    // Parse: every prefix, both roles.
    let bytes = input.bytes(24);
    for role in [Role::Server, Role::Client] {
        for end in 0..=bytes.len() {
            let buf = &bytes[..end];
            let want = reference::parse_header(buf, role, allowed_rsv);
            let got = real(buf, role, allowed_rsv);
            assert_eq!(
                got, want,
                "parse_header({buf:02x?}, {role:?}, rsv {allowed_rsv})"
            );
            if let RefOutcome::Header(h) = got {
                assert!((2..=MAX_HEADER_LEN).contains(&h.header_len));
                assert!(h.header_len <= end);
            }
        }
    }

    // Encode: arbitrary fields, read back by the reference.
    let fin = mode & 1 != 0;
    let op_nibble = input.u8() & 0x0F;
    let Ok(opcode) = OpCode::from_u8(op_nibble) else {
        assert!(!reference::opcode_defined(op_nibble));
        return;
    };
    let rsv = input.u8() & 0x7;
    let mask = input.bool().then(|| {
        let k = input.u32();
        k.to_be_bytes()
    });
    let len = match input.u8() % 4 {
        0 => u64::from(input.u8()),
        1 => u64::from(input.u16()),
        2 => input.u64() >> 1,                // below 2^63
        _ => 123 + u64::from(input.u8() % 8), // around the 7-bit and control limits
    };
    let mut header = [0u8; MAX_HEADER_LEN];
    let n = frame::encode_header(&mut header, fin, rsv, opcode, mask, len);
    assert_eq!(n, frame::header_len(len, mask.is_some()));
    let receiver = if mask.is_some() {
        Role::Server
    } else {
        Role::Client
    };
    let read = reference::parse_header(&header[..n], receiver, 0x7);
    let control = opcode.is_control();
    if control && !fin {
        assert_eq!(
            read,
            RefOutcome::Error(rocwebsocket::proto::ProtocolError::FragmentedControlFrame)
        );
    } else if control && len > 125 {
        assert_eq!(
            read,
            RefOutcome::Error(rocwebsocket::proto::ProtocolError::ControlFrameTooLong)
        );
    } else {
        let want = RefHeader {
            fin,
            rsv,
            opcode: op_nibble,
            mask,
            payload_len: len,
            header_len: n,
        };
        assert_eq!(read, RefOutcome::Header(want), "encode_header round trip");
        assert_eq!(real(&header[..n], receiver, 0x7), read);
    }

    // A whole frame with a payload, masked in place by the encoder.
    if (control && (!fin || len > 125)) || len > 1 << 16 {
        return;
    }
    let payload: Vec<u8> = (0..len as usize)
        .map(|i| (i as u8).wrapping_mul(31))
        .collect();
    let mut out = vec![0xEE; (len % 7) as usize]; // bytes before must stay
    let before = out.clone();
    frame::encode_frame(&mut out, fin, opcode, &payload, mask);
    assert_eq!(&out[..before.len()], &before[..]);
    let frames = &out[before.len()..];
    let RefOutcome::Header(h) = reference::parse_header(frames, receiver, 0) else {
        panic!("encode_frame wrote no readable header");
    };
    assert_eq!(h.payload_len, len);
    assert_eq!(frames.len(), h.header_len + payload.len());
    let mut body = frames[h.header_len..].to_vec();
    if let Some(key) = h.mask {
        for (i, b) in body.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    assert_eq!(body, payload, "encode_frame payload");
}
