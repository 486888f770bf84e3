//! The engine through the C ABI: start a server and/or client engine from a
//! config struct, receive events by callback or in batches, and send, close,
//! broadcast, publish, connect and stop from any thread.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::handle::{self, try_ref, Boxed};
use super::{fail, guard, rws_result};
use crate::net::{Engine, Handle};
use callbacks::{rws_callbacks, CallbackHandler};
use config::{rws_engine_config, to_config};
pub(crate) use connect::connect_error_code;
use queue::{EventQueue, QueueHandler, Taken};

pub mod callbacks;
pub mod config;
pub mod connect;
pub mod options;
pub mod poll;
pub mod protocol;
mod queue;
pub mod send;
pub mod upgrade;

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
    /// What `rws_connect_options` fields left 0 take.
    defaults: options::EngineDefaults,
    /// The subprotocol of each open connection that has one.
    protocols: Arc<protocol::Protocols>,
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
    let defaults = options::EngineDefaults {
        timeouts: config.timeouts,
        limits: config.limits.conn,
    };
    let protocols = Arc::new(protocol::Protocols::default());
    let p = protocols.clone();
    let (engine, queue) = match callbacks {
        Some(callbacks) => (
            Engine::start(config, |_, _| CallbackHandler {
                callbacks,
                protocols: p.clone(),
            }),
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
            let decide = c.decide_upgrades;
            (
                Engine::start(config, |_, _| {
                    QueueHandler::new(q.clone(), decide, p.clone())
                }),
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
            defaults,
            protocols,
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
