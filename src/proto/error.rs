//! Protocol errors: every way a peer can break RFC 6455, each tied to the
//! close code that the connection is failed with.

use std::fmt;

use super::close::CloseCode;

/// A violation of RFC 6455 (or of a configured limit) found in incoming bytes.
///
/// Each variant maps to the close code sent when the connection is failed:
/// see [`ProtocolError::close_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// An opcode reserved by RFC 6455 §5.2 (0x3-0x7, 0xB-0xF).
    ReservedOpcode(u8),
    /// An RSV bit set that no negotiated extension defines (the bits as 0b0RRR).
    ReservedBits(u8),
    /// A control frame with a payload over 125 bytes (§5.5).
    ControlFrameTooLong,
    /// A control frame without the FIN bit (§5.5).
    FragmentedControlFrame,
    /// A 64-bit payload length with the most significant bit set (§5.2).
    LengthTopBitSet,
    /// A payload length not in its minimal encoding (§5.2).
    NonMinimalLength,
    /// A client frame without a mask (§5.1): only a server sees this.
    UnmaskedClientFrame,
    /// A server frame with a mask (§5.1): only a client sees this.
    MaskedServerFrame,
    /// A continuation frame with no fragmented message open.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is still open.
    ExpectedContinuation,
    /// A frame longer than the configured maximum frame size.
    FrameTooLarge,
    /// A message longer than the configured maximum message size.
    MessageTooLarge,
    /// A text message (or close reason) that is not valid UTF-8.
    InvalidUtf8,
    /// A close frame with a one-byte payload (§5.5.1).
    InvalidClosePayload,
    /// A close frame carrying a code that may not be sent on the wire (§7.4).
    InvalidCloseCode(u16),
    /// A compressed message (permessage-deflate) whose data does not inflate.
    InvalidCompressedData,
}

impl ProtocolError {
    /// The close code the connection is failed with for this error:
    /// 1007 for bad UTF-8 or bad compressed data, 1009 for size limits, 1002 for everything else.
    pub fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::FrameTooLarge | ProtocolError::MessageTooLarge => CloseCode::TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short reason phrase, suitable for the close frame sent to the peer.
    pub fn reason(self) -> &'static str {
        match self {
            ProtocolError::ReservedOpcode(_) => "reserved opcode",
            ProtocolError::ReservedBits(_) => "reserved bits set",
            ProtocolError::ControlFrameTooLong => "control frame too long",
            ProtocolError::FragmentedControlFrame => "fragmented control frame",
            ProtocolError::LengthTopBitSet => "64-bit length with top bit set",
            ProtocolError::NonMinimalLength => "non-minimal length encoding",
            ProtocolError::UnmaskedClientFrame => "client frame not masked",
            ProtocolError::MaskedServerFrame => "server frame masked",
            ProtocolError::UnexpectedContinuation => "continuation with no message open",
            ProtocolError::ExpectedContinuation => "data frame inside fragmented message",
            ProtocolError::FrameTooLarge => "frame too large",
            ProtocolError::MessageTooLarge => "message too large",
            ProtocolError::InvalidUtf8 => "invalid UTF-8",
            ProtocolError::InvalidClosePayload => "invalid close payload",
            ProtocolError::InvalidCloseCode(_) => "invalid close code",
            ProtocolError::InvalidCompressedData => "invalid compressed data",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::ReservedBits(bits) => write!(f, "reserved bits set: {bits:#05b}"),
            ProtocolError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for ProtocolError {}
