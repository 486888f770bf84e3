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
    /// A ping arrived, its payload in `data`/`len`; the pong was queued
    /// automatically (codec and engines; callback engines call `on_control`).
    RWS_EVENT_PING = 3,
    /// A pong arrived, its payload in `data`/`len`: the answer to a ping sent
    /// with `rws_engine_send`/`rws_ctx_send`/`rws_conn_send` (opcode
    /// `RWS_OPCODE_PING`) or by `ping_interval_ms`, or a peer's unsolicited
    /// pong (codec and engines).
    RWS_EVENT_PONG = 4,
    /// The connection closed (engine) or the peer's close frame arrived
    /// (codec); `close_code` and the reason in `data`/`len`. A peer's close is
    /// answered automatically with the same code (an empty close frame when
    /// it had none) and no reason. For an engine, `close_code` is the peer's
    /// code, the one the engine failed the connection with (1002 protocol
    /// error, 1007 bad UTF-8, 1008 slow consumer, 1009 too big; the reason
    /// says why), or 1006 when no closing handshake finished.
    RWS_EVENT_CLOSE = 5,
    /// Codec only: the peer broke the protocol; `close_code` is what the
    /// connection was failed with, the reason in `data`/`len`. Engines report
    /// the same failure as the connection's CLOSE event with that code.
    RWS_EVENT_ERROR = 6,
    /// A connection opened (engine): `data`/`len` hold the request path
    /// (server) or the URL path (client); `tag` is the connect tag.
    RWS_EVENT_OPEN = 7,
    /// The write queue of a connection emptied after a write could not finish
    /// (the socket was full), while the connection is open (engine). Under
    /// either backpressure policy it follows such a blocked write; with
    /// `RWS_BACKPRESSURE_DROP` a connection past `max_buffered` is closed with
    /// 1008 instead and gets no DRAIN; with `RWS_BACKPRESSURE_NOTIFY` it stays
    /// open and DRAIN says when its queue emptied.
    RWS_EVENT_DRAIN = 8,
    /// A client connection tagged `tag` failed before it opened (engine); the
    /// reason in `data`/`len`, and `close_code` 1015 when TLS failed (a bad
    /// certificate, a handshake error or timeout), else 0.
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

/// One event. `data` points to `len` bytes owned by the library, not
/// NUL-terminated, valid until: the next `rws_conn_next_event` or
/// `rws_conn_free` on the same connection (codec); the callback returns
/// (callback engines); the next poll on the engine or `rws_engine_free`
/// (batched engines). Copy what must live longer.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rws_event {
    /// What happened.
    pub type_: rws_event_type,
    /// The close code for CLOSE and ERROR events, else 0.
    pub close_code: u16,
    /// The connection (engine events; 0 for the codec and CONNECT_ERROR).
    /// An engine never reuses an id: a slot's id changes with each
    /// connection it holds, and a slot is retired before its ids could repeat.
    pub conn: u64,
    /// The connection's tag, on every engine event of the connection (OPEN to
    /// CLOSE): the one given to `rws_engine_connect` (clients), or the last
    /// one set with `rws_ctx_set_tag` / `rws_engine_set_tag`; 0 until then
    /// (servers) and for the codec. A host may store a pointer to its own
    /// per-connection state here; the engine never reads it.
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
