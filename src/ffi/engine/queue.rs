//! The event queue behind batched engines (`rws_engine_start_batched`).
//!
//! Each event-loop thread appends messages to a packed, struct-of-arrays
//! batch of its own (one growing column per field, payloads copied into one
//! byte arena), so queuing a message takes no lock and allocates nothing
//! once the columns have grown, and holds no engine read buffer. Once per
//! wake-up (and before any other kind of event, to keep the order) the
//! thread moves its batch into the shared one under one lock: a swap when the
//! consumer has taken everything. The consumer swaps the whole shared batch
//! out in one locked step and is served from it in slices while the threads
//! fill the other: double buffering. A byte cap pauses reading from the
//! connections that deliver past it, and the consumer's swap resumes them, so
//! a slow consumer slows its peers through TCP flow control instead of
//! growing memory without bound. A connection the application paused itself
//! (`rws_engine_pause_reading`) stays paused through that swap.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::super::event::rws_event_type;
use super::callbacks::message_event;
use crate::net::sys::WakeFd;
use crate::net::{Conn, ConnId, Handle, Handler, Message, OpenInfo, Upgrade, UpgradeRequest};
use crate::proto::CloseCode;

/// Events as columns: event `i` is `types[i]`, `conns[i]`, ... and its bytes
/// (payload, path, reason or error text) are `data[offsets[i]..offsets[i + 1]]`.
#[derive(Debug)]
pub(super) struct Packed {
    pub(super) types: Vec<u8>,
    pub(super) close_codes: Vec<u16>,
    pub(super) conns: Vec<u64>,
    pub(super) tags: Vec<u64>,
    /// One more entry than there are events; `offsets[0] == 0`.
    pub(super) offsets: Vec<u64>,
    pub(super) data: Vec<u8>,
}

/// Columns past this size shrink back when a batch used under an eighth of them.
const SHRINK_ABOVE: usize = 8 << 20;

impl Default for Packed {
    fn default() -> Self {
        Packed {
            types: Vec::new(),
            close_codes: Vec::new(),
            conns: Vec::new(),
            tags: Vec::new(),
            offsets: vec![0],
            data: Vec::new(),
        }
    }
}

impl Packed {
    pub(super) fn len(&self) -> usize {
        self.types.len()
    }

    fn push(&mut self, type_: rws_event_type, conn: u64, tag: u64, code: u16, bytes: &[u8]) {
        self.types.push(type_ as u8);
        self.close_codes.push(code);
        self.conns.push(conn);
        self.tags.push(tag);
        self.data.extend_from_slice(bytes);
        self.offsets.push(self.data.len() as u64);
    }

    /// Empties the columns, keeping their memory unless a burst left far
    /// more than the last batch needed.
    fn clear(&mut self) {
        let used = self.data.len();
        if self.data.capacity() > SHRINK_ABOVE && used < self.data.capacity() / 8 {
            self.data.shrink_to(used * 2);
        }
        let n = self.len();
        if self.types.capacity() > SHRINK_ABOVE / 8 && n < self.types.capacity() / 8 {
            self.types.shrink_to(n * 2);
            self.close_codes.shrink_to(n * 2);
            self.conns.shrink_to(n * 2);
            self.tags.shrink_to(n * 2);
            self.offsets.shrink_to(n * 2 + 1);
        }
        self.types.clear();
        self.close_codes.clear();
        self.conns.clear();
        self.tags.clear();
        self.offsets.truncate(1);
        self.data.clear();
    }

    /// Moves every event of `other` to the end of `self`, leaving `other` empty.
    fn append(&mut self, other: &mut Packed) {
        if self.len() == 0 {
            std::mem::swap(self, other);
            return;
        }
        let shift = self.data.len() as u64;
        self.types.append(&mut other.types);
        self.close_codes.append(&mut other.close_codes);
        self.conns.append(&mut other.conns);
        self.tags.append(&mut other.tags);
        self.offsets
            .extend(other.offsets[1..].iter().map(|&o| o + shift));
        other.offsets.truncate(1);
        self.data.append(&mut other.data);
    }

    /// Event `i`'s bytes.
    pub(super) fn bytes(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// The producer's side, under the queue's lock.
#[derive(Default)]
struct Pending {
    events: Packed,
    /// Connections paused because the queue passed its cap.
    paused: Vec<ConnId>,
    /// Open connections the application paused (`rws_engine_pause_reading`)
    /// and has not resumed: a swap leaves them paused.
    app_paused: HashSet<u64>,
    /// Connections whose OPEN was queued and CLOSE not yet: only these enter
    /// `app_paused`, so that pausing unknown ids cannot grow it.
    open: HashSet<u64>,
}

/// Events waiting for the consumer, with an eventfd that is readable while
/// any wait (for hosts that watch file descriptors).
pub(super) struct EventQueue {
    pending: Mutex<Pending>,
    ready: Condvar,
    pub(super) wake: WakeFd,
    /// Queued payload bytes past which pushing connections pause; 0: no cap.
    max_bytes: usize,
    /// The shared batch's bytes, readable without the lock.
    pending_bytes: AtomicUsize,
}

/// The consumer's side: the batch swapped out last, served in slices.
#[derive(Default)]
pub(super) struct Taken {
    pub(super) events: Packed,
    next: usize,
}

impl EventQueue {
    pub(super) fn new(max_bytes: usize) -> std::io::Result<EventQueue> {
        Ok(EventQueue {
            wake: WakeFd::new()?,
            pending: Mutex::new(Pending::default()),
            ready: Condvar::new(),
            max_bytes,
            pending_bytes: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn signal(&self) {
        self.wake.signal();
    }

    fn unsignal(&self) {
        self.wake.clear();
    }

    /// Moves a thread's local events (and the connections it paused) into
    /// the shared batch, waking the consumer if that was empty.
    fn publish(&self, local: &mut Packed, paused: &mut Vec<ConnId>) {
        if local.len() == 0 && paused.is_empty() {
            return;
        }
        let mut pending = self.lock();
        let was_empty = pending.events.len() == 0;
        pending.events.append(local);
        pending.paused.append(paused);
        self.pending_bytes
            .store(pending.events.data.len(), Ordering::Relaxed);
        drop(pending);
        if was_empty {
            self.signal();
            self.ready.notify_one();
        }
    }

    /// Hands out the next at most `max` events: the rest of the batch taken
    /// before, else the pending batch, waiting up to `timeout_ms` (0: not at
    /// all; negative: until an event comes or the engine stops) for one.
    /// Returns indices into `taken.events`; the bytes of every event handed
    /// out stay put until a later call swaps in a new batch.
    pub(super) fn take(
        &self,
        taken: &mut Taken,
        max: usize,
        timeout_ms: i32,
        handle: &Handle,
    ) -> Range<usize> {
        if taken.next >= taken.events.len() {
            self.swap_in(taken, timeout_ms, handle);
        }
        let start = taken.next;
        let end = start.saturating_add(max).min(taken.events.len());
        taken.next = end;
        if end < taken.events.len() {
            self.signal(); // more to take: keep the descriptor readable
        }
        start..end
    }

    fn swap_in(&self, taken: &mut Taken, timeout_ms: i32, handle: &Handle) {
        // Reset the wake-up fd first, so an event pushed meanwhile re-arms it.
        self.unsignal();
        taken.events.clear();
        taken.next = 0;
        let mut pending = self.lock();
        if pending.events.len() == 0 && timeout_ms != 0 {
            let deadline =
                (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
            // Wake now and then to notice a stop, which pushes nothing when
            // no connection is open.
            const SLICE: Duration = Duration::from_millis(100);
            while pending.events.len() == 0 && !handle.is_stopped() {
                let wait = deadline.map_or(SLICE, |d| {
                    d.saturating_duration_since(Instant::now()).min(SLICE)
                });
                if wait.is_zero() {
                    break;
                }
                pending = self
                    .ready
                    .wait_timeout(pending, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
        std::mem::swap(&mut pending.events, &mut taken.events);
        self.pending_bytes.store(0, Ordering::Relaxed);
        // The queue is empty again: let the paused connections read, but
        // those the application paused. Under the lock, so that an
        // application's pause (see `set_app_paused`) reaches the connection
        // after this resume, not before it.
        let paused = std::mem::take(&mut pending.paused);
        for id in paused {
            if !pending.app_paused.contains(&id.0) {
                let _ = handle.resume_reading(id);
            }
        }
    }

    /// Notes that the application paused (`paused`) or resumed a connection
    /// and runs `command`, the pause or resume itself, under the same lock
    /// as a swap's resumes, so that the two keep their order.
    pub(super) fn set_app_paused<R>(
        &self,
        id: ConnId,
        paused: bool,
        command: impl FnOnce() -> R,
    ) -> R {
        let mut pending = self.lock();
        if !paused {
            pending.app_paused.remove(&id.0);
        } else if pending.open.contains(&id.0) {
            pending.app_paused.insert(id.0);
        }
        command()
    }

    /// Tracks which connections are open (see `Pending::open`).
    fn set_open(&self, id: ConnId, open: bool) {
        let mut pending = self.lock();
        if open {
            pending.open.insert(id.0);
        } else {
            pending.open.remove(&id.0);
            pending.app_paused.remove(&id.0);
        }
    }
}

/// One event-loop thread's producer: messages gather in `local` and reach
/// the shared queue once per wake-up.
pub(super) struct QueueHandler {
    queue: Arc<EventQueue>,
    local: Packed,
    paused: Vec<ConnId>,
    /// Upgrade requests become UPGRADE events awaiting the host's answer.
    decide_upgrades: bool,
    /// Where open connections' subprotocols are kept for `rws_engine_protocol`.
    protocols: Arc<super::protocol::Protocols>,
}

impl QueueHandler {
    pub(super) fn new(
        queue: Arc<EventQueue>,
        decide_upgrades: bool,
        protocols: Arc<super::protocol::Protocols>,
    ) -> QueueHandler {
        QueueHandler {
            queue,
            local: Packed::default(),
            paused: Vec::new(),
            decide_upgrades,
            protocols,
        }
    }

    /// Queues an event other than a message, after the messages before it.
    fn push_now(&mut self, type_: rws_event_type, id: ConnId, tag: u64, code: u16, bytes: &[u8]) {
        self.local.push(type_, id.0, tag, code, bytes);
        self.queue.publish(&mut self.local, &mut self.paused);
    }
}

impl Handler for QueueHandler {
    fn on_upgrade_request(&mut self, request: UpgradeRequest<'_>) -> Option<Upgrade> {
        if !self.decide_upgrades {
            return Some(self.on_upgrade(request.request, request.protocol));
        }
        let t = rws_event_type::RWS_EVENT_UPGRADE;
        self.push_now(t, request.id, 0, 0, request.head);
        None
    }

    fn on_backpressure(&mut self, conn: &mut Conn<'_>, buffered: usize) {
        let t = rws_event_type::RWS_EVENT_BACKPRESSURE;
        let amount = (buffered as u64).to_ne_bytes();
        self.push_now(t, conn.id(), conn.tag(), 0, &amount);
    }

    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        // Known as open before the application can see it.
        self.queue.set_open(conn.id(), true);
        self.protocols.opened(conn.id(), info.protocol.as_deref());
        let path = info.path.as_bytes();
        self.push_now(
            rws_event_type::RWS_EVENT_OPEN,
            conn.id(),
            conn.tag(),
            0,
            path,
        );
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        let (t, data) = message_event(&message);
        self.local.push(t, conn.id().0, conn.tag(), 0, data);
        let max = self.queue.max_bytes;
        if max != 0
            && !conn.is_reading_paused()
            && self.local.data.len() + self.queue.pending_bytes.load(Ordering::Relaxed) > max
        {
            // This message is queued all the same: nothing is ever dropped.
            conn.pause_reading();
            self.paused.push(conn.id());
        }
    }

    fn on_ping(&mut self, conn: &mut Conn<'_>, payload: Bytes) {
        let t = rws_event_type::RWS_EVENT_PING;
        self.local.push(t, conn.id().0, conn.tag(), 0, &payload);
    }

    fn on_pong(&mut self, conn: &mut Conn<'_>, payload: Bytes) {
        let t = rws_event_type::RWS_EVENT_PONG;
        self.local.push(t, conn.id().0, conn.tag(), 0, &payload);
    }

    fn on_close_tagged(&mut self, id: ConnId, tag: u64, code: CloseCode, reason: &str) {
        let t = rws_event_type::RWS_EVENT_CLOSE;
        // Forgotten before the host can see the CLOSE event.
        self.protocols.closed(id);
        self.push_now(t, id, tag, code.0, reason.as_bytes());
        self.queue.set_open(id, false);
    }

    fn on_drain(&mut self, conn: &mut Conn<'_>) {
        let t = rws_event_type::RWS_EVENT_DRAIN;
        self.push_now(t, conn.id(), conn.tag(), 0, &[]);
    }

    fn on_connect_error(&mut self, tag: u64, error: &std::io::Error) {
        let text = error.to_string();
        let t = rws_event_type::RWS_EVENT_CONNECT_ERROR;
        let code = super::connect_error_code(error);
        self.push_now(t, ConnId(0), tag, code, text.as_bytes());
    }

    fn on_wakeup_end(&mut self) {
        self.queue.publish(&mut self.local, &mut self.paused);
    }
}

impl EventQueue {
    /// Wakes a poll waiting for events (the engine stopped).
    pub(super) fn wake_all(&self) {
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_columns_line_up_and_clear_keeps_the_offset_origin() {
        let mut p = Packed::default();
        p.push(rws_event_type::RWS_EVENT_TEXT, 7, 0, 0, b"hello");
        p.push(rws_event_type::RWS_EVENT_CLOSE, 7, 0, 1000, b"");
        p.push(rws_event_type::RWS_EVENT_BINARY, 9, 3, 0, &[1, 2, 3]);
        assert_eq!(p.len(), 3);
        assert_eq!(p.offsets, [0, 5, 5, 8]);
        assert_eq!(p.bytes(0), b"hello");
        assert_eq!(p.bytes(1), b"");
        assert_eq!(p.bytes(2), [1, 2, 3]);
        assert_eq!(p.close_codes[1], 1000);
        assert_eq!((p.conns[2], p.tags[2]), (9, 3));
        p.clear();
        assert_eq!((p.len(), p.offsets.as_slice()), (0, &[0u64][..]));
        p.push(rws_event_type::RWS_EVENT_TEXT, 1, 0, 0, b"x");
        assert_eq!(p.bytes(0), b"x");
    }

    #[test]
    fn append_rebases_offsets_and_empties_the_source() {
        let mut a = Packed::default();
        let mut b = Packed::default();
        b.push(rws_event_type::RWS_EVENT_TEXT, 1, 0, 0, b"ab");
        a.append(&mut b); // into an empty batch: a swap
        assert_eq!(
            (a.len(), b.len(), b.offsets.as_slice()),
            (1, 0, &[0u64][..])
        );
        b.push(rws_event_type::RWS_EVENT_BINARY, 2, 0, 0, b"cde");
        b.push(rws_event_type::RWS_EVENT_CLOSE, 2, 0, 1001, b"f");
        a.append(&mut b);
        assert_eq!(a.offsets, [0, 2, 5, 6]);
        assert_eq!(
            (a.bytes(0), a.bytes(1), a.bytes(2)),
            (&b"ab"[..], &b"cde"[..], &b"f"[..])
        );
        assert_eq!(
            (a.conns.as_slice(), a.close_codes[2]),
            (&[1u64, 2, 2][..], 1001)
        );
        assert_eq!(
            (b.len(), b.data.len(), b.offsets.as_slice()),
            (0, 0, &[0u64][..])
        );
    }

    #[test]
    fn clear_gives_back_memory_after_a_burst() {
        let mut p = Packed::default();
        let big = vec![0u8; SHRINK_ABOVE * 2];
        p.push(rws_event_type::RWS_EVENT_BINARY, 1, 0, 0, &big);
        p.clear();
        p.push(rws_event_type::RWS_EVENT_BINARY, 1, 0, 0, b"small");
        p.clear();
        assert!(p.data.capacity() < SHRINK_ABOVE, "{}", p.data.capacity());
    }
}
