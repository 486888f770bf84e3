//! Events as C sees them, from the codec and from engines.

/// What happened.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rws_event_type {
    /// No event (the slot is unused).
    RWS_EVENT_NONE = 0,
    /// A whole text message (valid UTF-8; not NUL-terminated).
    RWS_EVENT_TEXT = 1,
    /// A whole binary message.
    RWS_EVENT_BINARY = 2,
    /// A ping arrived; the pong was queued automatically.
    RWS_EVENT_PING = 3,
    /// A pong arrived.
    RWS_EVENT_PONG = 4,
    /// The connection closed (engine) or the peer's close frame arrived
    /// (codec); `close_code` and the reason in `data`/`len`.
    RWS_EVENT_CLOSE = 5,
    /// The peer broke the protocol; `close_code` is what the connection was
    /// failed with, the reason in `data`/`len`.
    RWS_EVENT_ERROR = 6,
    /// A connection opened (engine): `data`/`len` hold the request path
    /// (server) or the URL path (client); `tag` is the connect tag.
    RWS_EVENT_OPEN = 7,
    /// The write queue of a connection emptied after being blocked (engine).
    RWS_EVENT_DRAIN = 8,
    /// A client connection tagged `tag` failed before it opened (engine); the
    /// reason in `data`/`len`.
    RWS_EVENT_CONNECT_ERROR = 9,
}

impl rws_event_type {
    /// The type stored as `value` (as in `rws_event_batch::types`); NONE for
    /// anything unknown.
    pub(crate) fn from_u8(value: u8) -> rws_event_type {
        use rws_event_type::*;
        [
            RWS_EVENT_NONE,
            RWS_EVENT_TEXT,
            RWS_EVENT_BINARY,
            RWS_EVENT_PING,
            RWS_EVENT_PONG,
            RWS_EVENT_CLOSE,
            RWS_EVENT_ERROR,
            RWS_EVENT_OPEN,
            RWS_EVENT_DRAIN,
            RWS_EVENT_CONNECT_ERROR,
        ]
        .get(usize::from(value))
        .copied()
        .unwrap_or(RWS_EVENT_NONE)
    }
}

/// One event. `data` points to `len` bytes owned by the library: for the codec,
/// valid until the next `rws_conn_next_event` or `rws_conn_free` on the same
/// connection; for the engine, as documented on the function that filled it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rws_event {
    /// What happened.
    pub type_: rws_event_type,
    /// The close code for CLOSE and ERROR events, else 0.
    pub close_code: u16,
    /// The connection (engine events; 0 for the codec).
    pub conn: u64,
    /// The tag given to `rws_engine_connect` (client connections), else 0.
    pub tag: u64,
    /// The payload, path or reason (may be NULL when `len` is 0).
    pub data: *const u8,
    /// Its length in bytes.
    pub len: usize,
}

impl Default for rws_event {
    fn default() -> Self {
        rws_event {
            type_: rws_event_type::RWS_EVENT_NONE,
            close_code: 0,
            conn: 0,
            tag: 0,
            data: std::ptr::null(),
            len: 0,
        }
    }
}
