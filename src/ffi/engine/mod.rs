//! The engine through the C ABI: start a server and/or client engine from a
//! config struct, receive events by callback or in batches, and send, close,
//! broadcast, publish, connect and stop from any thread.

use std::ffi::c_char;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::frame::{RWS_OPCODE_BINARY, RWS_OPCODE_PING, RWS_OPCODE_PONG, RWS_OPCODE_TEXT};
use super::handle::{self, try_ref, Boxed};
use super::tls::{connector, rws_tls_client};
use super::{c_str, close_reason, fail, guard, rws_result, slice_arg};
use crate::net::{ClientOptions, ConnId, Engine, Handle, HandleError, Message};
use crate::proto::{CloseCode, Utf8Bytes};
use callbacks::{rws_callbacks, CallbackHandler};
use config::{rws_engine_config, to_config};
use queue::{EventQueue, QueueHandler, Taken};

pub mod callbacks;
pub mod config;
pub mod poll;
mod queue;

/// A running engine. Opaque. Every function taking a `const rws_engine *` is
/// thread-safe; `rws_engine_stop` and `rws_engine_free` must not race with
/// other calls on the same engine, nor run inside a callback.
pub struct rws_engine {
    engine: Mutex<Option<Engine>>,
    handle: Handle,
    port: u16,
    tls_port: u16,
    queue: Option<Arc<EventQueue>>,
    /// The batch handed out by polls: its bytes stay put until a poll swaps
    /// in the next one.
    /// The batch polls hand out. One poll at a time: a second thread that
    /// polls meanwhile is refused rather than made to recycle these bytes
    /// under the first.
    taken: Mutex<Taken>,
}

impl Boxed for rws_engine {}

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
            let cap = config::max_queued_bytes(c);
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
        Ok(engine) => handle::into_c(rws_engine {
            handle: engine.handle().clone(),
            port: engine.local_addr().map_or(0, |a| a.port()),
            tls_port: engine.local_tls_addr().map_or(0, |a| a.port()),
            engine: Mutex::new(Some(engine)),
            queue,
            taken: Mutex::new(Taken::default()),
        }),
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

/// The TCP port of the first TCP listener (useful with port 0), or 0.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_port(e: *const rws_engine) -> u16 {
    // SAFETY: per the contract above.
    guard(0, || unsafe { handle::as_ref(e) }.map_or(0, |e| e.port))
}

/// The port of the first TCP address of `tls_listen` (useful with port 0),
/// or 0 (none, or NULL). Thread-safe.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_tls_port(e: *const rws_engine) -> u16 {
    // SAFETY: per the contract above.
    guard(0, || unsafe { handle::as_ref(e) }.map_or(0, |e| e.tls_port))
}

/// The `close_code` of a CONNECT_ERROR event: 1015 for a TLS failure, else 0.
fn connect_error_code(error: &std::io::Error) -> u16 {
    crate::net::TlsError::of(error).map_or(0, |t| t.close_code().0)
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
        // The SIMD validator, then the one copy every message needs to cross
        // threads (the same as BINARY's).
        RWS_OPCODE_TEXT => match crate::simd::utf8::validate(data) {
            Ok(()) => Ok(Message::Text(Utf8Bytes::from_validated(
                Bytes::copy_from_slice(data),
            ))),
            Err(_) => Err(fail(rws_result::RWS_ERR_UTF8, "text message is not UTF-8")),
        },
        RWS_OPCODE_BINARY => Ok(Message::Binary(Bytes::copy_from_slice(data))),
        _ => Err(fail(
            rws_result::RWS_ERR_INVALID_ARGUMENT,
            "opcode must be RWS_OPCODE_TEXT or RWS_OPCODE_BINARY",
        )),
    }
}

/// Sends a message (copied once) to connection `conn`, from any thread
/// (callbacks included). `opcode`: `RWS_OPCODE_TEXT` (the bytes are checked
/// as UTF-8 first: `RWS_ERR_UTF8`), `RWS_OPCODE_BINARY`, or `RWS_OPCODE_PING`
/// / `RWS_OPCODE_PONG` with at most 125 bytes (a PONG event answers a ping).
/// `RWS_OK` means handed to the connection's thread; a connection that
/// closed meanwhile drops it silently. `RWS_ERR_UNKNOWN_CONNECTION` for an
/// id of no thread of this engine, `RWS_ERR_STOPPED` once it stopped.
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
        let e = try_ref!(e);
        let data = slice_arg!(data, len);
        let id = ConnId(conn);
        match opcode {
            RWS_OPCODE_PING => handle_result(e.handle.ping(id, data)),
            RWS_OPCODE_PONG => handle_result(e.handle.pong(id, data)),
            _ => match message(opcode, data) {
                Ok(m) => handle_result(e.handle.send(id, m)),
                Err(r) => r,
            },
        }
    })
}

/// Sets the tag of connection `conn` from any thread, asynchronously like
/// `rws_engine_send`: events the engine reports after its thread applies it
/// carry the new tag; events already reported or queued (a batched engine may
/// queue messages right behind OPEN) keep the old one, so a batched host
/// that tags on OPEN still meets tag 0 on such events and must look those up
/// by `conn` (callback engines have no such gap: `rws_ctx_set_tag` in the
/// OPEN callback). `RWS_ERR_UNKNOWN_CONNECTION` for an id of no thread of
/// this engine; a closed connection ignores it.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_set_tag(
    e: *const rws_engine,
    conn: u64,
    tag: u64,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        handle_result(e.handle.set_tag(ConnId(conn), tag))
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
        let e = try_ref!(e);
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
        let e = try_ref!(e);
        let data = slice_arg!(data, len);
        match message(opcode, data) {
            Ok(m) => handle_result(e.handle.broadcast(&m)),
            Err(r) => r,
        }
    })
}

/// Sends one message to every connection subscribed to `topic` (encoded once).
/// Thread-safe: any thread, callbacks included.
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
        let e = try_ref!(e);
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
        let e = try_ref!(e);
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

/// Opens a client connection to `url` (`ws://host:port/path`,
/// `ws+unix:///path`, or `wss://...` checked against the system's trust
/// store), reported later by an OPEN or CONNECT_ERROR event carrying `tag`.
/// Name resolution happens on the calling thread. Thread-safe.
///
/// # Safety
/// `e` live; `url` a C string.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_connect(
    e: *const rws_engine,
    url: *const c_char,
    tag: u64,
) -> rws_result {
    // SAFETY: the same contract, with no TLS options.
    unsafe { rws_engine_connect_tls(e, url, tag, std::ptr::null(), std::ptr::null()) }
}

/// Like `rws_engine_connect`, for `wss://` with options: `tls` says which
/// servers to trust (NULL: the system's store); `server_name` is the name
/// sent by SNI and checked against the certificate (NULL: the URL's host).
/// A TLS failure before the connection opens is a CONNECT_ERROR event with
/// `close_code` 1015 and the TLS error as its text; one after it opened is a
/// CLOSE event with 1015 (never sent on the wire). Thread-safe.
///
/// # Safety
/// `e` live; `url` a C string; `tls` NULL or live; `server_name` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_connect_tls(
    e: *const rws_engine,
    url: *const c_char,
    tag: u64,
    tls: *const rws_tls_client,
    server_name: *const c_char,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        // SAFETY: per the contract above.
        let url = match unsafe { c_str(url) } {
            Ok(u) => u,
            Err(r) => return r,
        };
        let server_name = if server_name.is_null() {
            None
        } else {
            // SAFETY: per the contract above.
            match unsafe { c_str(server_name) } {
                Ok(s) => Some(s.to_owned()),
                Err(r) => return r,
            }
        };
        let options = ClientOptions {
            tag,
            // SAFETY: per the contract above, `tls` is NULL or live.
            tls: unsafe { connector(tls) },
            server_name,
            ..ClientOptions::default()
        };
        match e.handle.connect(url, options) {
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
        let e = try_ref!(e);
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
        let e = try_ref!(e);
        handle_result(e.handle.resume_reading(ConnId(conn)))
    })
}

/// Connections open or opening across all threads (0 for NULL).
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_connection_count(e: *const rws_engine) -> usize {
    guard(0, || {
        // SAFETY: per the contract above.
        unsafe { handle::as_ref(e) }.map_or(0, |e| e.handle.connection_count())
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
        let e = try_ref!(e);
        if on_engine_thread() {
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

/// Whether the caller runs on an engine's event-loop thread (in a callback),
/// where stopping or freeing an engine would wait for itself.
fn on_engine_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("rocws-loop-"))
}

/// Stops the engine (grace of 1 s) if it still runs and frees it, with every
/// event payload it handed out. NULL is a no-op. Called from a callback it
/// does nothing and records `RWS_ERR_INVALID_ARGUMENT` (the engine's threads
/// still run: free it from another thread once the callback returned).
///
/// # Safety
/// `e` NULL or from `rws_engine_start*`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_free(e: *mut rws_engine) {
    if e.is_null() {
        return;
    }
    guard((), || {
        if on_engine_thread() {
            fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "rws_engine_free called from an engine callback: not freed",
            );
            return;
        }
        // SAFETY: per the contract above.
        unsafe { rws_engine_stop(e, 1000) };
        // SAFETY: `e` is live and freed once, per the contract.
        unsafe { handle::free(e) };
    })
}
