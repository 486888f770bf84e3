//! Engines that report through C callbacks, and the per-callback `rws_ctx`.

use std::ffi::{c_char, c_void};

use super::super::conn::send_on;
use super::super::event::{rws_event, rws_event_type};
use super::super::handle::{self, try_lent, Lent};
use super::super::{c_str, close_reason, fail, guard, rws_result, slice_arg};
use bytes::Bytes;

use super::upgrade::rws_upgrade;
use crate::net::{Conn, ConnId, Handler, Message, OpenInfo, Upgrade, UpgradeRequest};
use crate::proto::CloseCode;

/// The connection an engine callback is about, valid only during that
/// callback; use it to answer on the spot without a cross-thread hop.
pub struct rws_ctx<'a, 'b> {
    conn: &'a mut Conn<'b>,
}

impl Lent for rws_ctx<'_, '_> {}

/// An engine callback: `ctx` is NULL for CLOSE and CONNECT_ERROR events (the
/// connection is gone); `event` and its `data` are valid only during the call.
pub type rws_callback =
    Option<unsafe extern "C" fn(user: *mut c_void, ctx: *mut rws_ctx, event: *const rws_event)>;

/// Callbacks for `rws_engine_start`. Any may be NULL. They run on the engine's
/// threads, concurrently when it has more than one: `user` must then be safe
/// to use from several threads (or run one thread). A callback must not call
/// `rws_engine_stop` or `rws_engine_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rws_callbacks {
    /// Passed back to every callback.
    pub user: *mut c_void,
    /// A connection opened (OPEN event: path in data/len, tag for clients;
    /// call `rws_ctx_set_tag` here to tag every later event).
    pub on_open: rws_callback,
    /// A whole message arrived (TEXT or BINARY event).
    pub on_message: rws_callback,
    /// A connection is gone (CLOSE event: code and reason).
    pub on_close: rws_callback,
    /// A write queue emptied after it was blocked (DRAIN event).
    pub on_drain: rws_callback,
    /// A client connection failed before opening (CONNECT_ERROR event).
    pub on_error: rws_callback,
    /// A ping or a pong arrived (PING or PONG event, payload in data/len; the
    /// pong answering a ping was already queued).
    pub on_control: rws_callback,
    /// An upgrade request arrived (server side), before any answer: read it
    /// and decide through `upgrade` (see `rws_upgrade`). NULL: accept with
    /// the config's subprotocol preference.
    pub on_upgrade: rws_upgrade_callback,
    /// With `RWS_BACKPRESSURE_NOTIFY`: the connection's unsent bytes passed
    /// `max_buffered` (BACKPRESSURE event, the amount as a `uint64_t` in
    /// data); `on_drain` says when the queue emptied.
    pub on_backpressure: rws_callback,
}

/// The upgrade callback: `upgrade` is lent for the call only.
pub type rws_upgrade_callback =
    Option<unsafe extern "C" fn(user: *mut c_void, upgrade: *mut rws_upgrade)>;

pub(super) struct CallbackHandler {
    pub(super) callbacks: rws_callbacks,
    /// Where open connections' subprotocols are kept for `rws_engine_protocol`.
    pub(super) protocols: std::sync::Arc<super::protocol::Protocols>,
}

// SAFETY: the header tells the C caller that callbacks and `user` are used
// from the engine's threads; that is the contract they accepted.
unsafe impl Send for CallbackHandler {}

fn event(type_: rws_event_type, conn: ConnId, tag: u64, code: u16, data: &[u8]) -> rws_event {
    rws_event {
        type_,
        close_code: code,
        conn: conn.0,
        tag,
        data: data.as_ptr(),
        len: data.len(),
    }
}

/// A message's event type and payload.
pub(super) fn message_event(message: &Message) -> (rws_event_type, &[u8]) {
    match message {
        Message::Text(t) => (rws_event_type::RWS_EVENT_TEXT, t.as_bytes()),
        Message::Binary(b) => (rws_event_type::RWS_EVENT_BINARY, b),
    }
}

impl CallbackHandler {
    fn call(&self, cb: rws_callback, conn: Option<&mut Conn<'_>>, ev: &rws_event) {
        let Some(f) = cb else { return };
        let mut ctx;
        let ctx_ptr = match conn {
            Some(conn) => {
                ctx = rws_ctx { conn };
                (&mut ctx as *mut rws_ctx).cast()
            }
            None => std::ptr::null_mut(),
        };
        // SAFETY: a C function pointer given by the host with this signature;
        // `ctx` and `ev` live for the duration of the call.
        unsafe { f(self.callbacks.user, ctx_ptr, ev) };
    }
}

impl Handler for CallbackHandler {
    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        self.protocols.opened(conn.id(), info.protocol.as_deref());
        let ev = event(
            rws_event_type::RWS_EVENT_OPEN,
            conn.id(),
            conn.tag(),
            0,
            info.path.as_bytes(),
        );
        self.call(self.callbacks.on_open, Some(conn), &ev);
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        let (t, data) = message_event(&message);
        let ev = event(t, conn.id(), conn.tag(), 0, data);
        self.call(self.callbacks.on_message, Some(conn), &ev);
    }

    fn on_ping(&mut self, conn: &mut Conn<'_>, payload: Bytes) {
        let ev = event(
            rws_event_type::RWS_EVENT_PING,
            conn.id(),
            conn.tag(),
            0,
            &payload,
        );
        self.call(self.callbacks.on_control, Some(conn), &ev);
    }

    fn on_pong(&mut self, conn: &mut Conn<'_>, payload: Bytes) {
        let ev = event(
            rws_event_type::RWS_EVENT_PONG,
            conn.id(),
            conn.tag(),
            0,
            &payload,
        );
        self.call(self.callbacks.on_control, Some(conn), &ev);
    }

    fn on_close_tagged(&mut self, id: ConnId, tag: u64, code: CloseCode, reason: &str) {
        self.protocols.closed(id);
        let ev = event(
            rws_event_type::RWS_EVENT_CLOSE,
            id,
            tag,
            code.0,
            reason.as_bytes(),
        );
        self.call(self.callbacks.on_close, None, &ev);
    }

    fn on_drain(&mut self, conn: &mut Conn<'_>) {
        let ev = event(
            rws_event_type::RWS_EVENT_DRAIN,
            conn.id(),
            conn.tag(),
            0,
            &[],
        );
        self.call(self.callbacks.on_drain, Some(conn), &ev);
    }

    fn on_backpressure(&mut self, conn: &mut Conn<'_>, buffered: usize) {
        let amount = (buffered as u64).to_ne_bytes();
        let t = rws_event_type::RWS_EVENT_BACKPRESSURE;
        let ev = event(t, conn.id(), conn.tag(), 0, &amount);
        self.call(self.callbacks.on_backpressure, Some(conn), &ev);
    }

    fn on_upgrade_request(&mut self, request: UpgradeRequest<'_>) -> Option<Upgrade> {
        let Some(f) = self.callbacks.on_upgrade else {
            return Some(self.on_upgrade(request.request, request.protocol));
        };
        let mut up = rws_upgrade::new(request);
        // SAFETY: a C function pointer given by the host with this
        // signature; `up` lives for the duration of the call.
        unsafe { f(self.callbacks.user, &mut up) };
        Some(up.decision())
    }

    fn on_connect_error(&mut self, tag: u64, error: &std::io::Error) {
        let text = error.to_string();
        let ev = event(
            rws_event_type::RWS_EVENT_CONNECT_ERROR,
            ConnId(0),
            tag,
            super::connect_error_code(error),
            text.as_bytes(),
        );
        self.call(self.callbacks.on_error, None, &ev);
    }
}

/// The tag of the callback's connection (0 for NULL): the one given to
/// `rws_engine_connect`, or set by `rws_ctx_set_tag` / `rws_engine_set_tag`;
/// 0 for a server connection never tagged. Call it only inside the callback.
///
/// # Safety
/// `ctx` NULL or the one passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn rws_ctx_tag(ctx: *mut rws_ctx) -> u64 {
    guard(0, || {
        // SAFETY: per the contract above.
        unsafe { handle::lent_mut(ctx) }.map_or(0, |c| c.conn.tag())
    })
}

/// Sets the callback's connection's tag (a number or a pointer cast to
/// `uint64_t`, the host's per-connection state): every later event of the
/// connection carries it in `rws_event.tag`, its CLOSE included. Set it in
/// the OPEN callback and no event of the connection lacks it. The engine never
/// reads or frees what it points to. Call it only inside the callback.
///
/// # Safety
/// `ctx` the one passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn rws_ctx_set_tag(ctx: *mut rws_ctx, tag: u64) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let ctx = try_lent!(ctx);
        ctx.conn.set_tag(tag);
        rws_result::RWS_OK
    })
}

/// The id of the callback's connection (0 for NULL).
///
/// # Safety
/// `ctx` NULL or the one passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn rws_ctx_conn(ctx: *mut rws_ctx) -> u64 {
    guard(0, || {
        // SAFETY: per the contract above.
        unsafe { handle::lent_mut(ctx) }.map_or(0, |c| c.conn.id().0)
    })
}

/// Queues a message (or ping/pong) on the callback's connection, copying
/// `data`; written after the callback returns, batched with others.
///
/// # Safety
/// `ctx` the one passed to the running callback; `data` `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_ctx_send(
    ctx: *mut rws_ctx,
    opcode: u8,
    data: *const u8,
    len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let ctx = try_lent!(ctx);
        let data = slice_arg!(data, len);
        send_on(ctx.conn.connection_mut(), opcode, data)
    })
}

/// Starts the closing handshake of the callback's connection.
///
/// # Safety
/// `ctx` the one passed to the running callback; `reason` `reason_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_ctx_close(
    ctx: *mut rws_ctx,
    code: u16,
    reason: *const u8,
    reason_len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let ctx = try_lent!(ctx);
        // SAFETY: per the contract above.
        let reason = match unsafe { close_reason(reason, reason_len) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        match ctx.conn.close(CloseCode(code), reason) {
            Ok(()) => rws_result::RWS_OK,
            Err(crate::proto::SendError::Closing) => {
                fail(rws_result::RWS_ERR_CLOSING, "already closing")
            }
            Err(e) => fail(rws_result::RWS_ERR_INVALID_ARGUMENT, e.to_string()),
        }
    })
}

/// Stops reading from the callback's connection after the events already
/// read, until `rws_engine_resume_reading`: the peer then meets TCP flow
/// control. Idle and pong deadlines wait while paused.
///
/// # Safety
/// `ctx` the one passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn rws_ctx_pause_reading(ctx: *mut rws_ctx) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        try_lent!(ctx).conn.pause_reading();
        rws_result::RWS_OK
    })
}

/// Subscribes the callback's connection to `topic`.
///
/// # Safety
/// `ctx` the one passed to the running callback; `topic` a C string.
#[no_mangle]
pub unsafe extern "C" fn rws_ctx_subscribe(ctx: *mut rws_ctx, topic: *const c_char) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let ctx = try_lent!(ctx);
        // SAFETY: per the contract above.
        match unsafe { c_str(topic) } {
            Ok(t) => {
                ctx.conn.subscribe(t);
                rws_result::RWS_OK
            }
            Err(e) => e,
        }
    })
}

/// Bytes queued on the callback's connection and not yet written (0 for NULL).
///
/// # Safety
/// `ctx` NULL or the one passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn rws_ctx_buffered_amount(ctx: *mut rws_ctx) -> usize {
    guard(0, || {
        // SAFETY: per the contract above.
        unsafe { handle::lent_mut(ctx) }.map_or(0, |c| c.conn.buffered_amount())
    })
}
