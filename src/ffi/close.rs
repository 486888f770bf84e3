//! Close codes (RFC 6455 §7.4 and the IANA registry) for C: constants, names.

use std::ffi::c_char;

use super::guard;
use crate::proto::close::CloseCode;

/// 1000: normal closure.
pub const RWS_CLOSE_NORMAL: u16 = 1000;
/// 1001: going away (shutdown, navigation).
pub const RWS_CLOSE_GOING_AWAY: u16 = 1001;
/// 1002: protocol error.
pub const RWS_CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// 1003: unsupported data.
pub const RWS_CLOSE_UNSUPPORTED_DATA: u16 = 1003;
/// 1005: local only: the close frame had no code.
pub const RWS_CLOSE_NO_STATUS: u16 = 1005;
/// 1006: local only: the connection ended without a closing handshake.
pub const RWS_CLOSE_ABNORMAL: u16 = 1006;
/// 1007: invalid payload data (bad UTF-8).
pub const RWS_CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// 1008: policy violation.
pub const RWS_CLOSE_POLICY_VIOLATION: u16 = 1008;
/// 1009: message too big.
pub const RWS_CLOSE_TOO_BIG: u16 = 1009;
/// 1010: mandatory extension missing.
pub const RWS_CLOSE_MANDATORY_EXTENSION: u16 = 1010;
/// 1011: internal server error.
pub const RWS_CLOSE_INTERNAL_ERROR: u16 = 1011;
/// 1012: service restart (IANA).
pub const RWS_CLOSE_SERVICE_RESTART: u16 = 1012;
/// 1013: try again later (IANA).
pub const RWS_CLOSE_TRY_AGAIN_LATER: u16 = 1013;
/// 1014: bad gateway (IANA).
pub const RWS_CLOSE_BAD_GATEWAY: u16 = 1014;
/// 1015: local only: TLS handshake failure.
pub const RWS_CLOSE_TLS_HANDSHAKE: u16 = 1015;

/// A close code's name ("normal closure", "message too big", "private
/// application code", "invalid", ...): static, NUL-terminated, never NULL.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn rws_close_code_name(code: u16) -> *const c_char {
    guard(c"invalid".as_ptr(), || CloseCode(code).name_cstr().as_ptr())
}

/// Whether `code` may be sent in (and accepted from) a close frame: 1000-1003,
/// 1007-1014 and 3000-4999. Thread-safe.
#[no_mangle]
pub extern "C" fn rws_close_code_is_sendable(code: u16) -> bool {
    CloseCode(code).is_sendable()
}
