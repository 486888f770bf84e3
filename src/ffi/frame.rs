//! Frame headers for C: opcodes, roles, parsing and encoding a header.

use super::{check_null, fail, guard, rws_result, slice_arg};
use crate::proto::frame::{self, OpCode, Role};

/// Frame opcode: continuation.
pub const RWS_OPCODE_CONTINUATION: u8 = 0x0;
/// Frame opcode: text.
pub const RWS_OPCODE_TEXT: u8 = 0x1;
/// Frame opcode: binary.
pub const RWS_OPCODE_BINARY: u8 = 0x2;
/// Frame opcode: close.
pub const RWS_OPCODE_CLOSE: u8 = 0x8;
/// Frame opcode: ping.
pub const RWS_OPCODE_PING: u8 = 0x9;
/// Frame opcode: pong.
pub const RWS_OPCODE_PONG: u8 = 0xA;

/// The longest frame header in bytes.
pub const RWS_MAX_HEADER_LEN: usize = 14;

/// Which end of a connection this is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rws_role {
    /// Receives masked frames, sends unmasked ones.
    RWS_ROLE_SERVER = 0,
    /// Receives unmasked frames, sends masked ones.
    RWS_ROLE_CLIENT = 1,
}

/// An `rws_role` value from C, checked.
pub(crate) fn role(r: u32) -> Result<Role, rws_result> {
    match r {
        0 => Ok(Role::Server),
        1 => Ok(Role::Client),
        _ => Err(fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "role must be RWS_ROLE_SERVER or RWS_ROLE_CLIENT",
        )),
    }
}

/// A parsed frame header.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rws_frame_header {
    /// The FIN bit.
    pub fin: bool,
    /// RSV1..RSV3 as 0b0RRR.
    pub rsv: u8,
    /// The opcode (`RWS_OPCODE_*`).
    pub opcode: u8,
    /// Whether a masking key is present.
    pub masked: bool,
    /// The masking key (zero when not masked).
    pub mask: [u8; 4],
    /// The announced payload length (not yet checked against any limit).
    pub payload_len: u64,
    /// The header's own length, 2 to 14.
    pub header_len: u32,
}

/// Parses a frame header from the first `len` bytes at `data`, as received by
/// `receiver` (an `rws_role`: masking rules depend on it), with `allowed_rsv` the RSV bits
/// negotiated extensions allow (0 without extensions).
///
/// Returns `RWS_OK` and fills `*out`; `RWS_NEED_MORE` when `data` holds only a
/// valid prefix; `RWS_ERR_PROTOCOL` with the close code to fail with in
/// `*close_code` (may be NULL). Reads nothing past `len`. Thread-safe.
///
/// # Safety
/// `data` points to `len` readable bytes; `out` to a writable header.
#[no_mangle]
pub unsafe extern "C" fn rws_frame_parse_header(
    data: *const u8,
    len: usize,
    receiver: u32,
    allowed_rsv: u8,
    out: *mut rws_frame_header,
    close_code: *mut u16,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(out);
        let data = slice_arg!(data, len);
        let receiver = match role(receiver) {
            Ok(r) => r,
            Err(e) => return e,
        };
        match frame::parse_header(data, receiver, allowed_rsv) {
            Ok(None) => rws_result::RWS_NEED_MORE,
            Ok(Some(h)) => {
                let header = rws_frame_header {
                    fin: h.fin,
                    rsv: h.rsv,
                    opcode: h.opcode as u8,
                    masked: h.mask.is_some(),
                    mask: h.mask.unwrap_or_default(),
                    payload_len: h.payload_len,
                    header_len: h.header_len as u32,
                };
                // SAFETY: `out` is non-NULL and writable per the contract.
                unsafe { out.write(header) };
                rws_result::RWS_OK
            }
            Err(e) => {
                if !close_code.is_null() {
                    // SAFETY: non-NULL `close_code` is writable per the contract.
                    unsafe { close_code.write(e.close_code().0) };
                }
                fail(rws_result::RWS_ERR_PROTOCOL, e.to_string())
            }
        }
    })
}

/// Writes a frame header into `out` (room for `RWS_MAX_HEADER_LEN` bytes) and
/// stores its length in `*written`. `mask` is a 4-byte key for client frames,
/// or NULL for server frames (masking the payload is the caller's job:
/// `rws_mask`). Thread-safe.
///
/// # Safety
/// `out` must have 14 writable bytes; `mask` NULL or 4 readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_frame_encode_header(
    out: *mut u8,
    fin: bool,
    opcode: u8,
    mask: *const u8,
    payload_len: u64,
    written: *mut usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(out, written);
        let Ok(opcode) = OpCode::from_u8(opcode) else {
            return fail(rws_result::RWS_ERR_INVALID_ARGUMENT, "reserved opcode");
        };
        if opcode.is_control() && (payload_len > 125 || !fin) {
            return fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "control frames are final and at most 125 bytes",
            );
        }
        if payload_len >> 63 != 0 {
            return fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "payload length over 2^63 - 1",
            );
        }
        // SAFETY: non-NULL `mask` has 4 readable bytes per the contract.
        let key = (!mask.is_null()).then(|| unsafe { *mask.cast::<[u8; 4]>() });
        let mut header = [0u8; frame::MAX_HEADER_LEN];
        let n = frame::encode_header(&mut header, fin, 0, opcode, key, payload_len);
        // SAFETY: `out` has 14 writable bytes and `written` is writable, per the contract.
        unsafe {
            std::ptr::copy_nonoverlapping(header.as_ptr(), out, n);
            written.write(n);
        }
        rws_result::RWS_OK
    })
}
