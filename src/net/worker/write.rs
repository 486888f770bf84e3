//! Writing on a worker: the per-wake-up list of connections with output,
//! one vectored write each, backpressure, and the end of a connection's
//! writing side.

use std::net::Shutdown;

use super::{lend_conn, Phase, Worker};
use crate::net::config::BackpressurePolicy;
use crate::net::flush::{write_queued, Written};
use crate::net::handler::{Conn, Handler};
use crate::proto::{CloseCode, CloseState};

impl<H: Handler> Worker<H> {
    // ---- writing ----

    pub(super) fn mark_dirty(&mut self, slot: usize) {
        if let Some(c) = self.conns.get_mut(slot) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(slot);
            }
        }
    }

    pub(super) fn flush_dirty(&mut self) {
        while !self.dirty.is_empty() {
            let dirty = std::mem::take(&mut self.dirty);
            for &slot in &dirty {
                self.flush_if_dirty(slot);
            }
            // Reuse the allocation unless flushing queued more (handlers in on_drain).
            if self.dirty.is_empty() {
                self.dirty = dirty;
                self.dirty.clear();
            }
        }
    }

    /// Flushes a connection marked dirty (once: it may have been flushed
    /// already since it was marked).
    pub(super) fn flush_if_dirty(&mut self, slot: usize) {
        if let Some(c) = self.conns.get_mut(slot) {
            if c.dirty {
                c.dirty = false;
                self.flush(slot);
            }
        }
    }

    pub(super) fn flush(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        if matches!(c.phase, Phase::Connecting(..)) {
            return;
        }
        let had_output = c.ws.buffered_amount() > 0 || c.stream.wants_write();
        match write_queued(&mut c.stream, &mut c.ws) {
            Ok(Written::All) => {}
            Ok(Written::Blocked) => c.write_blocked = true,
            Err(e) => {
                self.log_io_error(slot, "write", &e);
                return self.transport_failed(slot, e);
            }
        }
        let buffered = c.ws.buffered_amount();
        if c.published {
            self.handle.shared.workers[self.index]
                .buffered
                .store(slot, c.generation, buffered);
        }
        if buffered == 0 && c.write_blocked {
            c.write_blocked = false;
            c.over_limit = false;
            if matches!(c.phase, Phase::Open) && c.ws.close_state() == CloseState::Open {
                self.with_conn(slot, |h, conn| h.on_drain(conn));
            }
        }
        let Some(c) = self.conns.get(slot) else {
            return;
        };
        if c.ws.buffered_amount() == 0 && !c.stream.wants_write() && had_output {
            match c.phase {
                Phase::Rejecting => self.begin_linger(slot),
                Phase::Open if c.ws.should_close_transport() => self.begin_linger(slot),
                _ => {}
            }
        }
        if self.conns.contains(slot) {
            self.after_activity(slot);
        }
    }

    /// Applies the backpressure policy once a connection's queue passes the
    /// cap. Runs wherever sends land (after every activity), not only when a
    /// write is attempted: a peer that never reads never makes its socket
    /// writable again.
    pub(super) fn check_backpressure(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        let buffered = c.ws.buffered_amount();
        if c.published {
            self.handle.shared.workers[self.index]
                .buffered
                .store(slot, c.generation, buffered);
        }
        if buffered <= self.config.limits.max_buffered
            || c.over_limit
            || !matches!(c.phase, Phase::Open)
        {
            return;
        }
        c.over_limit = true;
        match self.config.limits.backpressure {
            BackpressurePolicy::Drop => {
                c.report
                    .record(CloseCode::POLICY_VIOLATION, "slow consumer");
                let _ = c.ws.close(CloseCode::POLICY_VIOLATION, "slow consumer");
            }
            BackpressurePolicy::Notify => {
                self.with_conn(slot, |h, conn| h.on_backpressure(conn, buffered));
            }
        }
    }

    pub(super) fn with_conn(&mut self, slot: usize, f: impl FnOnce(&mut H, &mut Conn<'_>)) {
        let id = self.id(slot);
        let c = &mut self.conns[slot];
        let mut conn = lend_conn(id, c, &mut self.topics, &mut self.pools, &self.handle);
        f(&mut self.handler, &mut conn);
    }

    /// Our side is finished: a server shuts its write side (it closes the TCP
    /// connection first, §7.1.1); a client waits for the server to close.
    pub(super) fn begin_linger(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        if c.ws.closes_transport_first() || matches!(c.phase, Phase::Rejecting) {
            let _ = c.stream.shutdown(Shutdown::Write);
        }
        c.phase = Phase::Linger;
        c.ws.transport_closing(self.now);
        c.timer_at = None;
        self.schedule(slot);
        // The peer may have closed already.
        self.read_discard(slot);
    }
}
