//! Sending through an engine from any thread: messages, pings, closes,
//! broadcast and publish, subscriptions, tags, pausing and resuming reads.

use std::ffi::c_char;

use bytes::Bytes;

use super::super::frame::{RWS_OPCODE_BINARY, RWS_OPCODE_PING, RWS_OPCODE_PONG, RWS_OPCODE_TEXT};
use super::super::handle::try_ref;
use super::super::{close_reason, fail, guard, rws_result, slice_arg, str_arg};
use super::rws_engine;
use crate::net::{ConnId, HandleError, Message};
use crate::proto::{CloseCode, Utf8Bytes};

pub(super) fn handle_result(r: Result<(), HandleError>) -> rws_result {
    match r {
        Ok(()) => rws_result::RWS_OK,
        Err(HandleError::Stopped) => fail(rws_result::RWS_ERR_STOPPED, "the engine has stopped"),
        Err(HandleError::UnknownConnection) => {
            fail(rws_result::RWS_ERR_UNKNOWN_CONNECTION, "unknown connection")
        }
        Err(e) => fail(rws_result::RWS_ERR_INVALID_ARGUMENT, e.to_string()),
    }
}

pub(super) fn message(opcode: u8, data: &[u8]) -> Result<Message, rws_result> {
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
        let topic = str_arg!(topic);
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
        let topic = str_arg!(topic);
        if subscribe {
            handle_result(e.handle.subscribe(ConnId(conn), topic))
        } else {
            handle_result(e.handle.unsubscribe(ConnId(conn), topic))
        }
    })
}

/// Stops reading from `conn`, from any thread (see `rws_ctx_pause_reading`).
/// Asynchronous like `rws_engine_send`. It stays paused until
/// `rws_engine_resume_reading`: a batched engine's own resumes
/// (`max_queued_bytes`) leave it paused.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_pause_reading(e: *const rws_engine, conn: u64) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        set_reading(e, ConnId(conn), false)
    })
}

/// Resumes reading from `conn`, from any thread; a no-op for a connection
/// that is not paused. A batched engine also resumes the connections it
/// paused itself (`max_queued_bytes`) when a poll takes the queue, but not
/// those paused by `rws_engine_pause_reading`.
///
/// # Safety
/// `e` live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_resume_reading(e: *const rws_engine, conn: u64) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        set_reading(e, ConnId(conn), true)
    })
}

/// Pauses or resumes `id`; on a batched engine, noted by its queue first.
fn set_reading(e: &rws_engine, id: ConnId, reading: bool) -> rws_result {
    let command = || {
        if reading {
            e.handle.resume_reading(id)
        } else {
            e.handle.pause_reading(id)
        }
    };
    handle_result(match &e.queue {
        Some(queue) => queue.set_app_paused(id, !reading, command),
        None => command(),
    })
}
