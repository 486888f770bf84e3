//! The engine through the C ABI: start a server and/or client engine from a
//! config struct, receive events by callback or in batches, and send, close,
//! broadcast, publish, connect and stop from any thread.

use std::ffi::{c_char, c_void};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::codec::{
    conn_config, rws_conn_config, rws_event, rws_event_type, send_on, RWS_OPCODE_BINARY,
    RWS_OPCODE_TEXT,
};
use super::queue::{EventQueue, Packed, QueueHandler, Taken};
use super::{c_str, check_null, close_reason, fail, guard, rws_result, slice_arg};
use crate::net::{
    BackpressurePolicy, ClientOptions, Config, Conn, ConnId, Endpoint, Engine, Handle, HandleError,
    Handler, Message, OpenInfo,
};
use crate::proto::{CloseCode, Utf8Bytes};

/// What happens to a connection whose unsent bytes pass `max_buffered`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rws_backpressure {
    /// Close it with 1008.
    RWS_BACKPRESSURE_DROP = 0,
    /// Keep it; the application is told (a DRAIN event follows when it empties).
    RWS_BACKPRESSURE_NOTIFY = 1,
}

/// Engine settings. Initialise with `rws_engine_config_init`, then change fields.
/// Strings are copied by `rws_engine_start*`; they need not outlive the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rws_engine_config {
    /// Addresses to listen on: "127.0.0.1:9001", "[::1]:9001", "unix:/path".
    /// NULL with `listen_count` 0 for a client-only engine.
    pub listen: *const *const c_char,
    /// Entries in `listen`.
    pub listen_count: usize,
    /// Event-loop threads; 0 means one per core.
    pub threads: u32,
    /// Most simultaneous connections (503 beyond); 0 means no limit.
    pub max_connections: u32,
    /// Frame and message limits (1009 beyond).
    pub conn: rws_conn_config,
    /// Most unsent bytes per connection before `backpressure` applies.
    pub max_buffered: u64,
    /// What happens past `max_buffered` (an `rws_backpressure` value).
    pub backpressure: u32,
    /// Milliseconds to finish the opening handshake; 0 disables.
    pub handshake_timeout_ms: u32,
    /// Milliseconds without received bytes before closing; 0 disables.
    pub idle_timeout_ms: u32,
    /// Milliseconds without received bytes before sending a ping; 0 disables.
    pub ping_interval_ms: u32,
    /// Milliseconds to wait for an answer to a ping before dropping.
    pub pong_timeout_ms: u32,
    /// Milliseconds for the closing handshake before the socket is shut.
    pub close_timeout_ms: u32,
    /// Subprotocols supported, in preference order (may be NULL when 0).
    pub protocols: *const *const c_char,
    /// Entries in `protocols`.
    pub protocol_count: usize,
    /// Batched engines: untaken event bytes past which the connections that
    /// deliver more stop being read until the host polls (TCP flow control
    /// then slows their peers); 0 means no cap. No event is ever dropped.
    pub max_queued_bytes: u64,
}

/// Untaken event bytes of a batched engine before reading pauses: 64 MiB.
const DEFAULT_MAX_QUEUED_BYTES: u64 = 64 << 20;

/// Fills `config` with the defaults: no listener, one thread per core, 16 MiB
/// frames, 64 MiB messages, 64 MiB buffered then drop, handshake 10 s, pong
/// 10 s, close 5 s, no idle timeout, no automatic ping, 64 MiB queued events
/// (batched engines). Thread-safe.
///
/// # Safety
/// `config` points to writable memory for one `rws_engine_config`.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_config_init(config: *mut rws_engine_config) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        check_null!(config);
        let d = Config::default();
        let ms = |t: Option<Duration>| t.map_or(0, |t| t.as_millis() as u32);
        let value = rws_engine_config {
            listen: std::ptr::null(),
            listen_count: 0,
            threads: 0,
            max_connections: 0,
            conn: rws_conn_config {
                max_frame_size: d.limits.conn.max_frame_size as u64,
                max_message_size: d.limits.conn.max_message_size as u64,
            },
            max_buffered: d.limits.max_buffered as u64,
            backpressure: rws_backpressure::RWS_BACKPRESSURE_DROP as u32,
            handshake_timeout_ms: ms(d.timeouts.handshake),
            idle_timeout_ms: 0,
            ping_interval_ms: 0,
            pong_timeout_ms: d.timeouts.pong_timeout.as_millis() as u32,
            close_timeout_ms: d.timeouts.close.as_millis() as u32,
            protocols: std::ptr::null(),
            protocol_count: 0,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
        };
        // SAFETY: `config` is writable per the contract.
        unsafe { config.write(value) };
        rws_result::RWS_OK
    })
}

/// # Safety
/// `list` holds `count` C strings (or is NULL with count 0).
unsafe fn strings(
    list: *const *const c_char,
    count: usize,
    what: &str,
) -> Result<Vec<String>, rws_result> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(fail(rws_result::RWS_ERR_NULL, format!("{what} is NULL")));
    }
    // SAFETY: `list` has `count` entries, each a C string, per the contract.
    (0..count)
        .map(|i| unsafe { c_str(*list.add(i)) }.map(str::to_owned))
        .collect()
}

/// # Safety
/// `c` is a valid config whose string lists follow its counts.
unsafe fn to_config(c: &rws_engine_config) -> Result<Config, rws_result> {
    let mut config = Config::default();
    // SAFETY: per the contract.
    for addr in unsafe { strings(c.listen, c.listen_count, "listen")? } {
        let endpoint = addr.parse::<Endpoint>().map_err(|e| {
            fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                format!("listen address {addr:?}: {e}"),
            )
        })?;
        config.listen.push(endpoint);
    }
    // SAFETY: per the contract.
    config.protocols = unsafe { strings(c.protocols, c.protocol_count, "protocols")? };
    config.threads = c.threads as usize;
    config.limits.max_connections = c.max_connections as usize;
    config.limits.conn = conn_config(&c.conn);
    config.limits.max_buffered = usize::try_from(c.max_buffered).unwrap_or(usize::MAX);
    config.limits.backpressure = match c.backpressure {
        0 => BackpressurePolicy::Drop,
        1 => BackpressurePolicy::Notify,
        _ => {
            return Err(fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "unknown backpressure policy",
            ))
        }
    };
    let ms = |v: u32| (v > 0).then(|| Duration::from_millis(v.into()));
    config.timeouts.handshake = ms(c.handshake_timeout_ms);
    config.timeouts.idle = ms(c.idle_timeout_ms);
    config.timeouts.ping_interval = ms(c.ping_interval_ms);
    config.timeouts.pong_timeout = Duration::from_millis(c.pong_timeout_ms.max(1).into());
    config.timeouts.close = Duration::from_millis(c.close_timeout_ms.max(1).into());
    Ok(config)
}

// ---- callbacks ----

/// The connection an engine callback is about, valid only during that
/// callback; use it to answer on the spot without a cross-thread hop.
pub struct rws_ctx<'a, 'b> {
    conn: &'a mut Conn<'b>,
}

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
    /// A connection opened (OPEN event: path in data/len, tag for clients).
    pub on_open: rws_callback,
    /// A whole message arrived (TEXT or BINARY event).
    pub on_message: rws_callback,
    /// A connection is gone (CLOSE event: code and reason).
    pub on_close: rws_callback,
    /// A write queue emptied after it was blocked (DRAIN event).
    pub on_drain: rws_callback,
    /// A client connection failed before opening (CONNECT_ERROR event).
    pub on_error: rws_callback,
}

struct CallbackHandler {
    callbacks: rws_callbacks,
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
        let ev = event(
            rws_event_type::RWS_EVENT_OPEN,
            conn.id(),
            info.tag,
            0,
            info.path.as_bytes(),
        );
        self.call(self.callbacks.on_open, Some(conn), &ev);
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        let (t, data) = message_event(&message);
        let ev = event(t, conn.id(), 0, 0, data);
        self.call(self.callbacks.on_message, Some(conn), &ev);
    }

    fn on_close(&mut self, id: ConnId, code: CloseCode, reason: &str) {
        let ev = event(
            rws_event_type::RWS_EVENT_CLOSE,
            id,
            0,
            code.0,
            reason.as_bytes(),
        );
        self.call(self.callbacks.on_close, None, &ev);
    }

    fn on_drain(&mut self, conn: &mut Conn<'_>) {
        let ev = event(rws_event_type::RWS_EVENT_DRAIN, conn.id(), 0, 0, &[]);
        self.call(self.callbacks.on_drain, Some(conn), &ev);
    }

    fn on_backpressure(&mut self, _conn: &mut Conn<'_>, _buffered: usize) {}

    fn on_connect_error(&mut self, tag: u64, error: &std::io::Error) {
        let text = error.to_string();
        let ev = event(
            rws_event_type::RWS_EVENT_CONNECT_ERROR,
            ConnId(0),
            tag,
            0,
            text.as_bytes(),
        );
        self.call(self.callbacks.on_error, None, &ev);
    }
}

macro_rules! ctx_mut {
    ($ctx:ident) => {{
        check_null!($ctx);
        // SAFETY: a non-NULL ctx is only ever handed out during a callback, per the contract.
        unsafe { &mut *$ctx }
    }};
}

/// The id of the callback's connection (0 for NULL).
///
/// # Safety
/// `ctx` NULL or the one passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn rws_ctx_conn(ctx: *mut rws_ctx) -> u64 {
    // SAFETY: per the contract above.
    guard(0, || {
        if ctx.is_null() {
            0
        } else {
            unsafe { (*ctx).conn.id().0 }
        }
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
        let ctx = ctx_mut!(ctx);
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
        let ctx = ctx_mut!(ctx);
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
        ctx_mut!(ctx).conn.pause_reading();
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
        let ctx = ctx_mut!(ctx);
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
    // SAFETY: per the contract above.
    guard(0, || {
        if ctx.is_null() {
            0
        } else {
            unsafe { (*ctx).conn.buffered_amount() }
        }
    })
}

// ---- batched events ----

// ---- the engine object ----

/// A running engine. Opaque. Every function taking a `const rws_engine *` is
/// thread-safe; `rws_engine_stop` and `rws_engine_free` must not race with
/// other calls on the same engine, nor run inside a callback.
pub struct rws_engine {
    engine: Mutex<Option<Engine>>,
    handle: Handle,
    port: u16,
    queue: Option<Arc<EventQueue>>,
    /// The batch handed out by polls: its bytes stay put until a poll swaps
    /// in the next one.
    taken: Mutex<Taken>,
}

/// # Safety
/// `config` readable; string lists valid.
unsafe fn start(
    config: *const rws_engine_config,
    callbacks: Option<rws_callbacks>,
) -> *mut rws_engine {
    if config.is_null() {
        fail(rws_result::RWS_ERR_NULL, "config is NULL");
        return std::ptr::null_mut();
    }
    // SAFETY: per the contract.
    let c = unsafe { &*config };
    // SAFETY: per the contract.
    let Ok(config) = (unsafe { to_config(c) }) else {
        return std::ptr::null_mut();
    };
    let (engine, queue) = match callbacks {
        Some(callbacks) => (
            Engine::start(config, |_, _| CallbackHandler { callbacks }),
            None,
        ),
        None => {
            let cap = usize::try_from(c.max_queued_bytes).unwrap_or(usize::MAX);
            let queue = match EventQueue::new(cap) {
                Ok(q) => Arc::new(q),
                Err(e) => {
                    fail(rws_result::RWS_ERR_IO, format!("eventfd: {e}"));
                    return std::ptr::null_mut();
                }
            };
            let q = queue.clone();
            (
                Engine::start(config, |_, _| QueueHandler::new(q.clone())),
                Some(queue),
            )
        }
    };
    match engine {
        Ok(engine) => Box::into_raw(Box::new(rws_engine {
            handle: engine.handle().clone(),
            port: engine.local_addr().map_or(0, |a| a.port()),
            engine: Mutex::new(Some(engine)),
            queue,
            taken: Mutex::new(Taken::default()),
        })),
        Err(e) => {
            fail(rws_result::RWS_ERR_IO, format!("cannot start: {e}"));
            std::ptr::null_mut()
        }
    }
}

/// Starts an engine that reports through `callbacks` (copied). Returns NULL on
/// failure (bad config, address in use: see `rws_last_error_message`). Free
/// with `rws_engine_free`.
///
/// # Safety
/// `config` and `callbacks` point to valid structs.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_start(
    config: *const rws_engine_config,
    callbacks: *const rws_callbacks,
) -> *mut rws_engine {
    guard(std::ptr::null_mut(), || {
        if callbacks.is_null() {
            fail(rws_result::RWS_ERR_NULL, "callbacks is NULL");
            return std::ptr::null_mut();
        }
        // SAFETY: per the contract above.
        unsafe { start(config, Some(*callbacks)) }
    })
}

/// Starts an engine whose events queue up for `rws_engine_poll_events` or
/// `rws_engine_poll_batch`: one call carries many events across the boundary
/// (for cgo, ctypes and other hosts where a callback per message is
/// expensive). Payloads are copied into the queue. Past
/// `config->max_queued_bytes` untaken bytes, connections that deliver more
/// stop being read until a poll takes the queue. NULL on failure.
///
/// # Safety
/// `config` points to a valid struct.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_start_batched(
    config: *const rws_engine_config,
) -> *mut rws_engine {
    // SAFETY: per the contract above.
    guard(std::ptr::null_mut(), || unsafe { start(config, None) })
}

macro_rules! engine_ref {
    ($e:ident) => {{
        check_null!($e);
        // SAFETY: a non-NULL engine pointer comes from rws_engine_start*, per the contract.
        unsafe { &*$e }
    }};
}

/// Takes up to `max` events from a batched engine's queue under the `taken`
/// lock, then hands the batch and the range to `f`.
fn poll_with<R>(
    e: &rws_engine,
    max: usize,
    timeout_ms: i32,
    f: impl FnOnce(&Packed, Range<usize>) -> R,
) -> Result<R, rws_result> {
    let Some(queue) = &e.queue else {
        return Err(fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "engine was started with callbacks",
        ));
    };
    let mut taken = e.taken.lock().unwrap_or_else(|p| p.into_inner());
    let range = queue.take(&mut taken, max, timeout_ms, &e.handle);
    Ok(f(&taken.events, range))
}

/// Moves up to `max` queued events into `events` and stores how many in
/// `*count`, waiting up to `timeout_ms` for the first (0: do not wait; -1: wait
/// without limit, or until the engine stops). Event `data` stays valid until
/// the next poll on this engine or `rws_engine_free`. Poll from one thread at
/// a time. `RWS_ERR_INVALID_ARGUMENT` for an engine started with callbacks.
///
/// # Safety
/// `e` live; `events` has room for `max` events; `count` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_poll_events(
    e: *const rws_engine,
    events: *mut rws_event,
    max: usize,
    timeout_ms: i32,
    count: *mut usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        check_null!(count);
        // SAFETY: writable per the contract.
        unsafe { count.write(0) };
        if max > 0 {
            check_null!(events);
        }
        let fill = |p: &Packed, range: Range<usize>| {
            let n = range.len();
            for (k, i) in range.enumerate() {
                let data = p.bytes(i);
                let out = rws_event {
                    type_: rws_event_type::from_u8(p.types[i]),
                    close_code: p.close_codes[i],
                    conn: p.conns[i],
                    tag: p.tags[i],
                    data: data.as_ptr(),
                    len: data.len(),
                };
                // SAFETY: `events` has room for `max >= n` entries per the contract.
                unsafe { events.add(k).write(out) };
            }
            n
        };
        match poll_with(e, max, timeout_ms, fill) {
            Ok(n) => {
                // SAFETY: writable per the contract.
                unsafe { count.write(n) };
                rws_result::RWS_OK
            }
            Err(r) => r,
        }
    })
}

/// Events taken by `rws_engine_poll_batch`, as columns: event `i` (`i <
/// count`) is `types[i]` (an `rws_event_type`), `conns[i]`, `tags[i]`,
/// `close_codes[i]`, and its bytes (payload, path, reason or error text) are
/// `data[offsets[i]]` up to `data[offsets[i + 1]]`. Offsets are absolute
/// positions in `data` and need not start at 0. Every pointer is owned by the
/// engine and stays valid until the next poll on this engine or
/// `rws_engine_free`. One C call and a few array views serve a whole batch,
/// which suits hosts where touching a C struct per event is slow (ctypes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rws_event_batch {
    /// Events in the batch.
    pub count: usize,
    /// `count` event types, one byte each.
    pub types: *const u8,
    /// `count` close codes (CLOSE events; else 0).
    pub close_codes: *const u16,
    /// `count` connection ids.
    pub conns: *const u64,
    /// `count` client tags (OPEN and CONNECT_ERROR events of client connections; else 0).
    pub tags: *const u64,
    /// `count + 1` offsets into `data`.
    pub offsets: *const u64,
    /// The bytes of every event, back to back.
    pub data: *const u8,
}

/// Takes up to `max` queued events as one `rws_event_batch` (columns rather
/// than structs), waiting like `rws_engine_poll_events`; `out->count` is 0
/// when none came. Poll from one thread at a time.
///
/// # Safety
/// `e` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_poll_batch(
    e: *const rws_engine,
    max: usize,
    timeout_ms: i32,
    out: *mut rws_event_batch,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        check_null!(out);
        let view = |p: &Packed, range: Range<usize>| rws_event_batch {
            count: range.len(),
            types: p.types[range.start..].as_ptr(),
            close_codes: p.close_codes[range.start..].as_ptr(),
            conns: p.conns[range.start..].as_ptr(),
            tags: p.tags[range.start..].as_ptr(),
            offsets: p.offsets[range.start..].as_ptr(),
            data: p.data.as_ptr(),
        };
        match poll_with(e, max, timeout_ms, view) {
            Ok(batch) => {
                // SAFETY: writable per the contract.
                unsafe { out.write(batch) };
                rws_result::RWS_OK
            }
            Err(r) => r,
        }
    })
}

/// A file descriptor that is readable while events wait in a batched engine
/// (watch it with epoll/select/asyncio's add_reader, then poll with timeout
/// 0); -1 for an engine with callbacks or NULL. Owned by the engine: do not
/// close it.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_event_fd(e: *const rws_engine) -> i32 {
    guard(-1, || {
        if e.is_null() {
            return -1;
        }
        // SAFETY: per the contract above.
        unsafe { (*e).queue.as_ref().map_or(-1, |q| q.fd) }
    })
}

/// The TCP port of the first TCP listener (useful with port 0), or 0.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_port(e: *const rws_engine) -> u16 {
    // SAFETY: per the contract above.
    guard(0, || if e.is_null() { 0 } else { unsafe { (*e).port } })
}

fn handle_result(r: Result<(), HandleError>) -> rws_result {
    match r {
        Ok(()) => rws_result::RWS_OK,
        Err(HandleError::Stopped) => fail(rws_result::RWS_ERR_STOPPED, "the engine has stopped"),
        Err(HandleError::UnknownConnection) => {
            fail(rws_result::RWS_ERR_UNKNOWN_CONNECTION, "unknown connection")
        }
        Err(e) => fail(rws_result::RWS_ERR_INVALID_ARGUMENT, e.to_string()),
    }
}

fn message(opcode: u8, data: &[u8]) -> Result<Message, rws_result> {
    match opcode {
        RWS_OPCODE_TEXT => match std::str::from_utf8(data) {
            Ok(t) => Ok(Message::Text(Utf8Bytes::from(t.to_owned()))),
            Err(_) => Err(fail(rws_result::RWS_ERR_UTF8, "text message is not UTF-8")),
        },
        RWS_OPCODE_BINARY => Ok(Message::Binary(Bytes::copy_from_slice(data))),
        _ => Err(fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "opcode must be RWS_OPCODE_TEXT or RWS_OPCODE_BINARY",
        )),
    }
}

/// Sends a message (copied) to connection `conn` from any thread. `RWS_OK`
/// means handed to the connection's thread; a connection that closed
/// meanwhile drops it silently.
///
/// # Safety
/// `e` live; `data` `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_send(
    e: *const rws_engine,
    conn: u64,
    opcode: u8,
    data: *const u8,
    len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        let data = slice_arg!(data, len);
        match message(opcode, data) {
            Ok(m) => handle_result(e.handle.send(ConnId(conn), m)),
            Err(r) => r,
        }
    })
}

/// Starts the closing handshake of `conn` from any thread.
///
/// # Safety
/// `e` live; `reason` `reason_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_close(
    e: *const rws_engine,
    conn: u64,
    code: u16,
    reason: *const u8,
    reason_len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        // SAFETY: per the contract above.
        let reason = match unsafe { close_reason(reason, reason_len) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        handle_result(e.handle.close(ConnId(conn), CloseCode(code), reason))
    })
}

/// Sends one message to every open server-side connection; the frame is
/// encoded once and shared. Thread-safe.
///
/// # Safety
/// `e` live; `data` `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_broadcast(
    e: *const rws_engine,
    opcode: u8,
    data: *const u8,
    len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        let data = slice_arg!(data, len);
        match message(opcode, data) {
            Ok(m) => handle_result(e.handle.broadcast(&m)),
            Err(r) => r,
        }
    })
}

/// Sends one message to every connection subscribed to `topic` (encoded once).
///
/// # Safety
/// `e` live; `topic` a C string; `data` `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_publish(
    e: *const rws_engine,
    topic: *const c_char,
    opcode: u8,
    data: *const u8,
    len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        // SAFETY: per the contract above.
        let topic = match unsafe { c_str(topic) } {
            Ok(t) => t,
            Err(r) => return r,
        };
        let data = slice_arg!(data, len);
        match message(opcode, data) {
            Ok(m) => handle_result(e.handle.publish(topic, &m)),
            Err(r) => r,
        }
    })
}

/// Subscribes (`subscribe` true) or unsubscribes connection `conn` to `topic`
/// from any thread.
///
/// # Safety
/// `e` live; `topic` a C string.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_subscribe(
    e: *const rws_engine,
    conn: u64,
    topic: *const c_char,
    subscribe: bool,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        // SAFETY: per the contract above.
        let topic = match unsafe { c_str(topic) } {
            Ok(t) => t,
            Err(r) => return r,
        };
        if subscribe {
            handle_result(e.handle.subscribe(ConnId(conn), topic))
        } else {
            handle_result(e.handle.unsubscribe(ConnId(conn), topic))
        }
    })
}

/// Opens a client connection to `url` (`ws://host:port/path` or
/// `ws+unix:///path`), reported later by an OPEN or CONNECT_ERROR event
/// carrying `tag`. Name resolution happens on the calling thread. Thread-safe.
///
/// # Safety
/// `e` live; `url` a C string.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_connect(
    e: *const rws_engine,
    url: *const c_char,
    tag: u64,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        // SAFETY: per the contract above.
        let url = match unsafe { c_str(url) } {
            Ok(u) => u,
            Err(r) => return r,
        };
        match e.handle.connect(
            url,
            ClientOptions {
                tag,
                ..ClientOptions::default()
            },
        ) {
            Ok(()) => rws_result::RWS_OK,
            Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => {
                fail(rws_result::RWS_ERR_INVALID_ARGUMENT, err.to_string())
            }
            Err(err) => fail(rws_result::RWS_ERR_IO, err.to_string()),
        }
    })
}

/// Stops reading from `conn`, from any thread (see `rws_ctx_pause_reading`).
/// Asynchronous like `rws_engine_send`.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_pause_reading(e: *const rws_engine, conn: u64) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        handle_result(e.handle.pause_reading(ConnId(conn)))
    })
}

/// Resumes reading from `conn`, from any thread; a no-op for a connection
/// that is not paused. A batched engine resumes the connections it paused
/// itself (`max_queued_bytes`) when a poll takes the queue.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_resume_reading(e: *const rws_engine, conn: u64) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        handle_result(e.handle.resume_reading(ConnId(conn)))
    })
}

/// Connections open or opening across all threads (0 for NULL).
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_connection_count(e: *const rws_engine) -> usize {
    // SAFETY: per the contract above.
    guard(0, || {
        if e.is_null() {
            0
        } else {
            unsafe { (*e).handle.connection_count() }
        }
    })
}

/// Stops gracefully: listeners close, every open connection gets 1001 Going
/// Away, closing handshakes get up to `grace_ms`, the rest are closed; returns
/// when every thread has finished (each connection's CLOSE was reported).
/// Calling it again is fine. Must not be called from a callback.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_stop(e: *const rws_engine, grace_ms: u32) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = engine_ref!(e);
        if std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("rocws-loop-"))
        {
            return fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "rws_engine_stop called from an engine callback",
            );
        }
        let engine = e.engine.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(engine) = engine {
            engine.stop(Duration::from_millis(grace_ms.into()));
        }
        if let Some(q) = &e.queue {
            q.wake_all();
        }
        rws_result::RWS_OK
    })
}

/// Stops the engine (grace of 1 s) if it still runs and frees it, with every
/// event payload it handed out. NULL is a no-op. Must not be called from a
/// callback.
///
/// # Safety
/// `e` NULL or from `rws_engine_start*`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_free(e: *mut rws_engine) {
    if e.is_null() {
        return;
    }
    guard((), || {
        // SAFETY: per the contract above.
        unsafe { rws_engine_stop(e, 1000) };
        // SAFETY: `e` came from Box::into_raw and is freed once, per the contract.
        drop(unsafe { Box::from_raw(e) });
    })
}
