//! Close codes (RFC 6455 §7.4 and the IANA registry) and the closing handshake.

use std::ffi::CStr;
use std::fmt;

use bytes::Bytes;

use super::error::ProtocolError;

/// A WebSocket close status code.
///
/// Which codes may be sent and received follows RFC 6455 §7.4: 1000-1003,
/// 1007-1011, the IANA-registered 1012-1014 and 3000-4999 go on the wire;
/// 1004 is reserved; 1005, 1006 and 1015 are only ever reported locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1004: reserved, never sent or accepted.
    pub const RESERVED: CloseCode = CloseCode(1004);
    /// 1005: local only, the close frame carried no status code.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: local only, the connection ended without a close frame.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data was inconsistent with its type (bad UTF-8).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway got an invalid response upstream (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: local only, the TLS handshake failed.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may be put in a close frame (and so also accepted in one).
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// The code's name from the RFC or the IANA registry, or a range name.
    pub fn name(self) -> &'static str {
        // The table holds ASCII literals only, so this never falls back.
        self.name_cstr().to_str().unwrap_or("invalid")
    }

    /// [`name`](Self::name) as a NUL-terminated string: the one table of
    /// close-code names, which the C ABI hands out as it is.
    pub fn name_cstr(self) -> &'static CStr {
        match self.0 {
            1000 => c"normal closure",
            1001 => c"going away",
            1002 => c"protocol error",
            1003 => c"unsupported data",
            1004 => c"reserved",
            1005 => c"no status received",
            1006 => c"abnormal closure",
            1007 => c"invalid frame payload data",
            1008 => c"policy violation",
            1009 => c"message too big",
            1010 => c"mandatory extension",
            1011 => c"internal error",
            1012 => c"service restart",
            1013 => c"try again later",
            1014 => c"bad gateway",
            1015 => c"TLS handshake failure",
            3000..=3999 => c"registered application code",
            4000..=4999 => c"private application code",
            _ => c"invalid",
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

/// A close frame's content: its code (1005 when the frame had none) and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, valid UTF-8 (checked), possibly empty.
    pub reason: Bytes,
}

impl CloseFrame {
    /// The reason as text.
    pub fn reason_str(&self) -> &str {
        // The reason was validated when it was parsed or built.
        std::str::from_utf8(&self.reason).unwrap_or("")
    }
}

/// Parses a received close frame's payload (§5.5.1).
///
/// Empty means "no status" (1005). One byte, or a code that may not be sent,
/// is a protocol error (1002); a reason that is not UTF-8 is 1007.
pub fn parse_close_payload(payload: Bytes) -> Result<CloseFrame, ProtocolError> {
    match payload.len() {
        0 => Ok(CloseFrame {
            code: CloseCode::NO_STATUS,
            reason: Bytes::new(),
        }),
        1 => Err(ProtocolError::InvalidClosePayload),
        _ => {
            let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
            if !code.is_sendable() {
                return Err(ProtocolError::InvalidCloseCode(code.0));
            }
            crate::simd::utf8::validate(&payload[2..]).map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(CloseFrame {
                code,
                reason: payload.slice(2..),
            })
        }
    }
}

/// The longest close reason that fits a control frame after its 2-byte code.
pub const MAX_CLOSE_REASON: usize = 123;

/// Where a connection stands in the closing handshake (§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseState {
    /// No close frame sent or received.
    Open,
    /// We sent a close frame (with this code) and wait for the peer's.
    LocalClosing(CloseCode),
    /// The peer's close frame arrived; our answer is queued but may not be written yet.
    /// Counts as closed for the protocol: both frames have passed once output is flushed.
    Closed {
        /// Whether we sent the first close frame.
        local_first: bool,
        /// The code the peer sent (1005 when none).
        peer_code: CloseCode,
    },
}

impl CloseState {
    /// Whether a close frame was sent by us (data may no longer be sent).
    pub fn close_sent(self) -> bool {
        !matches!(self, CloseState::Open)
    }

    /// Whether both close frames have been exchanged (or queued, for ours).
    pub fn is_closed(self) -> bool {
        matches!(self, CloseState::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes_follow_the_table() {
        for code in 0u16..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode(code).is_sendable(), expected, "{code}");
        }
        for local_only in [1004, 1005, 1006, 1015, 0, 999, 1016, 2999, 5000] {
            assert!(!CloseCode(local_only).is_sendable());
        }
    }

    #[test]
    fn close_payloads() {
        assert_eq!(
            parse_close_payload(Bytes::new()).unwrap().code,
            CloseCode::NO_STATUS
        );
        assert_eq!(
            parse_close_payload(Bytes::from_static(&[0x03])),
            Err(ProtocolError::InvalidClosePayload)
        );
        let ok = parse_close_payload(Bytes::from_static(b"\x03\xe8bye")).unwrap();
        assert_eq!((ok.code, ok.reason_str()), (CloseCode::NORMAL, "bye"));
        for bad in [1004u16, 1005, 1006, 1015, 999, 2000, 5000, 65535] {
            let p = Bytes::copy_from_slice(&bad.to_be_bytes());
            assert_eq!(
                parse_close_payload(p),
                Err(ProtocolError::InvalidCloseCode(bad))
            );
        }
        let p =
            Bytes::from_static(b"\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80");
        assert_eq!(parse_close_payload(p), Err(ProtocolError::InvalidUtf8));
        assert_eq!(
            ProtocolError::InvalidUtf8.close_code(),
            CloseCode::INVALID_PAYLOAD,
            "bad reason closes with 1007"
        );
    }

    #[test]
    fn names() {
        assert_eq!(CloseCode::TOO_BIG.name(), "message too big");
        assert_eq!(CloseCode(4001).name(), "private application code");
        assert_eq!(CloseCode(1016).name(), "invalid");
        assert_eq!(CloseCode::NORMAL.to_string(), "1000 (normal closure)");
    }
}
