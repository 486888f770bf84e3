//! Batched engines: taking queued events as structs or as columns, and the
//! wake-up file descriptor.

use std::ops::Range;
use std::sync::TryLockError;

use super::super::event::{rws_event, rws_event_type};
use super::super::handle::{self, try_ref};
use super::super::{check_null, fail, guard, rws_result};
use super::queue::Packed;
use super::rws_engine;

/// Takes up to `max` events from a batched engine's queue, then hands the
/// batch and the range to `f`; refused while another thread is polling.
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
    let mut taken = match e.taken.try_lock() {
        Ok(taken) => taken,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => {
            return Err(fail(
                rws_result::RWS_ERR_INVALID_ARGUMENT,
                "another thread is polling this engine: poll from one thread at a time",
            ))
        }
    };
    let range = queue.take(&mut taken, max, timeout_ms, &e.handle);
    if range.is_empty() && timeout_ms < 0 && e.handle.is_stopped() {
        // A loop of blocking polls ends here instead of spinning on empty
        // results. (Stop and poll never overlap, per the contract, so every
        // event of the stop was queued and has been taken.)
        return Err(fail(
            rws_result::RWS_ERR_STOPPED,
            "the engine has stopped and every event was taken",
        ));
    }
    Ok(f(&taken.events, range))
}

/// Moves up to `max` queued events into `events` and stores how many in
/// `*count`, waiting up to `timeout_ms` for the first (0: do not wait; -1: wait
/// without limit). The wait blocks (a condition variable; it rechecks for a
/// stop every 100 ms), it does not spin.
///
/// Returns `RWS_OK` with `*count` > 0 when events came; `RWS_OK` with
/// `*count` 0 when the timeout passed with nothing queued (timeout 0: nothing
/// was queued), also on a stopped engine; with timeout -1 on a stopped engine
/// whose every event was taken, `RWS_ERR_STOPPED` (`*count` 0), so a loop of
/// blocking polls ends. `RWS_ERR_INVALID_ARGUMENT` for an engine started with
/// callbacks.
///
/// Event `data` stays valid until the next poll on this engine (from any
/// thread) or `rws_engine_free`. Poll from one thread at a time (any
/// thread, one after another): a poll while another thread's poll is
/// running returns `RWS_ERR_INVALID_ARGUMENT` at once, touching nothing.
/// Not concurrently with `rws_engine_stop`/`rws_engine_free`.
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
        let e = try_ref!(e);
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
    /// `count` connection tags (as `rws_event.tag`).
    pub tags: *const u64,
    /// `count + 1` offsets into `data`.
    pub offsets: *const u64,
    /// The bytes of every event, back to back.
    pub data: *const u8,
}

/// Takes up to `max` queued events as one `rws_event_batch` (columns rather
/// than structs), waiting and returning like `rws_engine_poll_events`;
/// `out->count` is 0 when none came (and on any failure). Same threads rule
/// (see `rws_engine_poll_events`).
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
        let e = try_ref!(e);
        check_null!(out);
        let empty = rws_event_batch {
            count: 0,
            types: std::ptr::null(),
            close_codes: std::ptr::null(),
            conns: std::ptr::null(),
            tags: std::ptr::null(),
            offsets: std::ptr::null(),
            data: std::ptr::null(),
        };
        // SAFETY: writable per the contract.
        unsafe { out.write(empty) };
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
/// close it. A wake-up may find nothing (`*count` 0): another poll may have
/// taken the events first, or they were taken after the descriptor was
/// signalled; poll again when it is next readable. Thread-safe.
///
/// # Safety
/// `e` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_event_fd(e: *const rws_engine) -> i32 {
    guard(-1, || {
        // SAFETY: per the contract above.
        let e = unsafe { handle::as_ref(e) };
        e.and_then(|e| e.queue.as_ref()).map_or(-1, |q| q.wake.fd())
    })
}
