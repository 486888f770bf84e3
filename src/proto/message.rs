//! What a connection hands to the application: messages and control events.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

use super::close::CloseFrame;
use super::error::ProtocolError;

/// Bytes that are known to be valid UTF-8: a text message's payload.
///
/// Cheap to clone (a reference count), zero-copy from the read buffer.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps bytes already validated as UTF-8.
    ///
    /// Crate-private: only code that ran the validator may build one.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// Validates `bytes` and wraps them.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, ProtocolError> {
        crate::simd::utf8::validate(&bytes).map_err(|_| ProtocolError::InvalidUtf8)?;
        Ok(Utf8Bytes(bytes))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor validated the bytes as UTF-8, and `Bytes` is immutable.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Gives up the UTF-8 guarantee and returns the bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s.into_bytes()))
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened on a connection, in the order the bytes said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole text message.
    Text(Utf8Bytes),
    /// A whole binary message.
    Binary(Bytes),
    /// A ping arrived; the pong was already queued.
    Ping(Bytes),
    /// A pong arrived.
    Pong(Bytes),
    /// The peer's close frame arrived; the answer (if one was owed) is queued.
    Close(CloseFrame),
    /// The peer broke the protocol: a close frame with `error.close_code()`
    /// was queued and no further input is read.
    Error(ProtocolError),
}
