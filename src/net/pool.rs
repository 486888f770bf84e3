//! Buffers lent to connections while they have bytes in flight, so that an
//! idle connection holds no buffer and a busy one allocates none per message.

use bytes::BytesMut;

use crate::proto::{Connection, InFlight};

/// Free buffers of one event-loop thread.
#[derive(Debug)]
pub struct BufferPool {
    free: Vec<BytesMut>,
    size: usize,
    keep: usize,
}

/// Buffers that grew past this (a huge message went through) are not kept.
const KEEP_MAX_CAPACITY: usize = 1 << 20;

impl BufferPool {
    /// A pool of buffers of `size` bytes, keeping at most `keep` free ones.
    pub fn new(size: usize, keep: usize) -> Self {
        BufferPool {
            free: Vec::new(),
            size,
            keep,
        }
    }

    /// A free buffer, or a new one.
    pub fn take(&mut self) -> BytesMut {
        self.free
            .pop()
            .unwrap_or_else(|| BytesMut::with_capacity(self.size))
    }

    /// Returns a buffer. Its storage is reused in place when nothing else
    /// still refers to it (messages handed out may still hold parts of it);
    /// otherwise this handle is dropped and the storage goes with its last user.
    pub fn give(&mut self, mut buf: BytesMut) {
        buf.clear();
        if self.free.len() < self.keep
            && buf.capacity() <= KEEP_MAX_CAPACITY
            && buf.try_reclaim(self.size)
        {
            self.free.push(buf);
        }
    }
}

/// A free in-flight state kept this long unused is freed.
const IN_FLIGHT_IDLE_MS: u64 = 1000;

/// What one event-loop thread lends its connections while they have bytes
/// in flight: read buffers, write buffers and the in-flight state that holds
/// them ([`InFlight`]), so that an idle connection holds none of them.
///
/// In-flight states are kept as long as they are in use: a fan-out that
/// touches every connection each tick takes them all back each tick without
/// allocating. Those that stayed free for a whole second are freed, so a
/// burst leaves no lasting cost.
#[derive(Debug)]
pub(crate) struct Pools {
    read: BufferPool,
    write: BufferPool,
    in_flight: Vec<InFlight>,
    /// The fewest free states since `since`: that many were never needed.
    least_free: usize,
    since: u64,
}

impl Pools {
    /// Pools of read buffers of `read_size` and write buffers of
    /// `write_size` bytes, keeping at most `keep` free buffers of each.
    pub(crate) fn new(read_size: usize, write_size: usize, keep: usize) -> Self {
        Pools {
            read: BufferPool::new(read_size, keep),
            write: BufferPool::new(write_size, keep),
            in_flight: Vec::new(),
            least_free: 0,
            since: 0,
        }
    }

    /// Lends an in-flight state, if the connection holds none.
    pub(crate) fn lend_in_flight(&mut self, ws: &mut Connection) {
        if !ws.holds_in_flight() {
            ws.lend_in_flight(self.in_flight.pop().unwrap_or_default());
            self.least_free = self.least_free.min(self.in_flight.len());
        }
    }

    /// Lends what a connection about to read needs.
    pub(crate) fn lend_for_reading(&mut self, ws: &mut Connection) {
        self.lend_in_flight(ws);
        if ws.input_capacity() == 0 {
            ws.lend_read_buffer(self.read.take());
        }
    }

    /// Lends what a connection about to queue output needs.
    pub(crate) fn lend_for_writing(&mut self, ws: &mut Connection) {
        self.lend_in_flight(ws);
        if !ws.holds_write_buffer() {
            ws.lend_write_buffer(self.write.take());
        }
    }

    /// Takes back whatever the connection no longer needs.
    pub(crate) fn reclaim(&mut self, ws: &mut Connection) {
        if !ws.holds_in_flight() {
            return;
        }
        if let Some(buf) = ws.take_idle_read_buffer() {
            self.read.give(buf);
        }
        if let Some(buf) = ws.take_idle_write_buffer() {
            self.write.give(buf);
        }
        if let Some(state) = ws.take_idle_in_flight() {
            self.in_flight.push(state);
        }
    }

    /// Frees the in-flight states that stayed unused for a second (`now` in
    /// milliseconds of any monotonic clock).
    pub(crate) fn trim(&mut self, now_ms: u64) {
        if now_ms.saturating_sub(self.since) < IN_FLIGHT_IDLE_MS {
            return;
        }
        let unused = self.least_free.min(self.in_flight.len());
        self.in_flight.truncate(self.in_flight.len() - unused);
        if self.in_flight.is_empty() {
            self.in_flight = Vec::new();
        }
        self.least_free = self.in_flight.len();
        self.since = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ConnConfig, Role};

    #[test]
    fn idle_connections_hand_back_what_they_were_lent() {
        let mut pools = Pools::new(1024, 512, 4);
        let mut ws = Connection::new(Role::Server, ConnConfig::default());
        pools.lend_for_writing(&mut ws);
        assert!(ws.holds_in_flight() && ws.holds_write_buffer());
        ws.send_text("hello").unwrap();
        pools.reclaim(&mut ws);
        assert!(ws.holds_in_flight(), "output is queued: nothing comes back");
        let n = ws.buffered_amount();
        ws.advance_output(n);
        pools.reclaim(&mut ws);
        assert!(!ws.holds_in_flight() && !ws.holds_write_buffer());
        assert_eq!((pools.in_flight.len(), pools.write.free.len()), (1, 1));
        pools.lend_for_reading(&mut ws);
        assert_eq!(pools.in_flight.len(), 0, "the kept state is lent again");
        assert!(ws.input_capacity() >= 1024);
    }

    #[test]
    fn states_unused_for_a_second_are_freed() {
        let mut pools = Pools::new(64, 64, 4);
        let mut conns: Vec<Connection> = (0..10)
            .map(|_| Connection::new(Role::Server, ConnConfig::default()))
            .collect();
        for ws in &mut conns {
            pools.lend_in_flight(ws);
        }
        for ws in &mut conns[..] {
            pools.reclaim(ws);
        }
        assert_eq!(pools.in_flight.len(), 10);
        pools.trim(1000);
        // Three in use again through the next second: seven were not needed.
        for ws in &mut conns[..3] {
            pools.lend_in_flight(ws);
        }
        pools.trim(1500);
        assert_eq!(pools.in_flight.len(), 7, "not a second yet");
        pools.trim(2000);
        assert_eq!(pools.in_flight.len(), 0, "seven unused for a second");
        for ws in &mut conns[..3] {
            pools.reclaim(ws);
        }
        assert_eq!(pools.in_flight.len(), 3);
    }
}
