//! Reading on a worker: each connection's fair share of reads and events
//! per wake-up, the backlog of those with input left, flow control by the
//! write watermarks, pausing, and draining finished connections.

use std::io;

use super::{lend_conn, Phase, Slot, Worker, READ_SIZE, READ_SIZE_MAX};
use crate::net::handler::{Handler, Message};
use crate::proto::{CloseState, Event};

impl<H: Handler> Worker<H> {
    /// Reads once into the connection's buffer. `Ok(None)`: would block.
    pub(super) fn read_once(&mut self, slot: usize, want: usize) -> io::Result<Option<usize>> {
        let c = &mut self.conns[slot];
        loop {
            return match c.stream.read_into(&mut c.ws.read_space(), want) {
                Ok(n) => Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
        }
    }

    /// Whether the socket is left unread: paused by the application or by
    /// flow control. A closing connection reads on: the peer's close frame
    /// is awaited.
    pub(super) fn reading_stopped(c: &Slot) -> bool {
        (c.read_paused || c.flow_paused) && c.ws.close_state() == CloseState::Open
    }

    /// Reads and delivers what a connection sent, within its fair share
    /// per wake-up: `read_budget` bytes and `event_budget` events. Input
    /// left undecoded or unread waits for the next turn (the connection goes
    /// on the backlog, so no new readiness edge is needed).
    pub(super) fn read_frames(&mut self, slot: usize) {
        let limits = &self.config.limits;
        let (byte_budget, event_budget) = (limits.read_budget.max(1), limits.event_budget.max(1));
        let (mut read, mut events, mut drained) = (0, 0, false);
        loop {
            if Self::reading_stopped(&self.conns[slot]) {
                break;
            }
            // What earlier reads brought is delivered before more is read.
            events += self.dispatch(slot, event_budget - events);
            if !self.conns.contains(slot) {
                return;
            }
            if !matches!(self.conns[slot].phase, Phase::Open) {
                break;
            }
            // The budget is checked before `drained`: a drained socket can
            // still leave decoded-but-undelivered frames past the event
            // budget, and with no new readiness edge only the backlog brings
            // them (else a burst of small messages stalls at the budget).
            if events >= event_budget || read >= byte_budget {
                // Fair share used: the others, timers and commands go first.
                let c = &mut self.conns[slot];
                if !c.backlogged {
                    c.backlogged = true;
                    self.backlog.push(slot);
                }
                break;
            }
            if drained {
                break;
            }
            self.lend_read_buffer(slot);
            let c = &mut self.conns[slot];
            if !c.ws.accepts_input() {
                return self.read_discard(slot);
            }
            let want =
                c.ws.bytes_wanted()
                    .clamp(READ_SIZE, READ_SIZE_MAX)
                    .min(byte_budget - read)
                    .max(1);
            match self.read_once(slot, want) {
                Ok(None) => break,
                Ok(Some(0)) => {
                    // The peer went away without finishing the closing handshake.
                    return self.remove(slot);
                }
                Err(e) => return self.transport_failed(slot, e),
                Ok(Some(n)) => {
                    read += n;
                    if let Some(f) = &mut self.conns[slot].feed {
                        f.stats.bytes_in += n as u64;
                    }
                    // A short read drained the socket: deliver, then stop.
                    drained = n < want;
                    self.conns[slot].ws.bytes_received(self.now);
                    // Apply flow control between reads, not only after them.
                    self.check_flow(slot);
                }
            }
        }
        if self.conns.contains(slot) {
            self.after_activity(slot);
        }
    }

    /// Reads on for the connections whose budget ran out last turn.
    pub(super) fn serve_backlog(&mut self) {
        for index in std::mem::take(&mut self.pending_accepts) {
            self.accept(index);
        }
        let backlog = std::mem::take(&mut self.backlog);
        for slot in backlog {
            if let Some(c) = self.conns.get_mut(slot) {
                if c.backlogged {
                    c.backlogged = false;
                    self.on_readable(slot);
                }
            }
        }
    }

    /// Stops reading a connection whose unsent bytes passed the high
    /// watermark, and starts again once they drained below the low one.
    /// Returns whether reading should resume now.
    pub(super) fn check_flow(&mut self, slot: usize) -> bool {
        let limits = &self.config.limits;
        let c = &mut self.conns[slot];
        if limits.write_high_watermark == 0 {
            return false;
        }
        let buffered = c.ws.buffered_amount();
        if !c.flow_paused && buffered > limits.write_high_watermark {
            c.flow_paused = true;
        } else if c.flow_paused && buffered <= limits.write_low_watermark {
            c.flow_paused = false;
            return true;
        }
        false
    }

    /// Pauses or resumes reading. A resumed connection reads at once: its
    /// socket may hold bytes that will bring no new readiness edge.
    pub(super) fn set_reading(&mut self, slot: usize, reading: bool) {
        let now = self.now;
        let c = &mut self.conns[slot];
        let paused = !reading;
        if c.read_paused == paused {
            return; // already so
        }
        c.read_paused = paused;
        // Silence proves nothing while we do not read: liveness deadlines wait.
        if paused {
            c.ws.suspend_liveness();
        } else {
            c.ws.resume_liveness(now);
        }
        if reading && matches!(c.phase, Phase::Open) {
            self.read_frames(slot);
        } else {
            self.schedule(slot);
        }
    }

    /// Hands every decoded event to the handler.
    /// Hands decoded events to the handler, at most `max`; how many.
    pub(super) fn dispatch(&mut self, slot: usize, max: usize) -> usize {
        let id = self.id(slot);
        let deliver_control = self.config.deliver_control_frames;
        let c = &mut self.conns[slot];
        let mut delivered = 0;
        // A rotation's old connection, to close once the new one delivered data.
        let mut retire = None;
        while delivered < max {
            let Some(event) = c.ws.next_event() else {
                break;
            };
            delivered += 1;
            if c.feed.is_some() {
                let consumed = match &event {
                    Event::Text(t) => {
                        Self::feed_consumes(c, t.as_bytes(), false, &mut self.pools, &self.clock)
                    }
                    Event::Binary(b) => {
                        Self::feed_consumes(c, b, true, &mut self.pools, &self.clock)
                    }
                    Event::Pong(p) => Self::feed_pong(c, p, &self.clock),
                    _ => false,
                };
                if consumed {
                    continue;
                }
                if matches!(event, Event::Text(_) | Event::Binary(_)) {
                    retire = retire.or(Self::feed_delivered(c));
                }
            }
            let mut conn = lend_conn(id, c, &mut self.topics, &mut self.pools, &self.handle);
            match event {
                Event::Text(text) => self.handler.on_message(&mut conn, Message::Text(text)),
                Event::Binary(data) => self.handler.on_message(&mut conn, Message::Binary(data)),
                Event::Ping(p) if deliver_control => self.handler.on_ping(&mut conn, p),
                Event::Pong(p) if deliver_control => self.handler.on_pong(&mut conn, p),
                Event::Ping(_) | Event::Pong(_) => {}
                Event::Close(frame) => c.report.record(frame.code, frame.reason_str()),
                Event::Error(error) => {
                    // Once per connection: a failed connection decodes nothing more.
                    log::info!(
                        "connection {}: failed with {}: {error}",
                        id.0,
                        error.close_code().0
                    );
                    c.report.record(error.close_code(), error.to_string());
                }
            }
        }
        if let Some(old) = retire {
            self.retire(old);
        }
        delivered
    }

    /// Logs the socket error that ends a connection (once: it is removed next).
    pub(super) fn log_io_error(&self, slot: usize, op: &str, e: &io::Error) {
        if self.conns.contains(slot) {
            log::info!("connection {}: {op} failed: {e}", self.id(slot).0);
        }
    }

    /// Reads and drops what a finished connection still sends (so that
    /// closing does not reset the connection under our close frame), within
    /// the read budget per wake-up: a peer that keeps sending after the
    /// close gets its fair share and no more, until the close timeout.
    pub(super) fn read_discard(&mut self, slot: usize) {
        let mut scratch = [0u8; 16 << 10];
        let mut budget = self.config.limits.read_budget.max(1);
        loop {
            if budget == 0 {
                let c = &mut self.conns[slot];
                if !c.backlogged {
                    c.backlogged = true;
                    self.backlog.push(slot);
                }
                return;
            }
            let c = &mut self.conns[slot];
            let want = budget.min(scratch.len());
            match c.stream.read(&mut scratch[..want]) {
                Ok(0) => return self.remove(slot), // The peer closed its side: done.
                Ok(n) => budget -= n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.remove(slot),
            }
        }
    }
}
