//! Feed clients on a worker: reconnecting after a drop (the timing is
//! `proto::feed`'s), the application keepalive's sends and deadline, and
//! auto-replies. Only client connections given a reconnect policy, a
//! keepalive or auto-reply rules carry a [`Feed`]; the others pay one
//! `None` check per message.

use std::io;

use super::{Slot, Worker};
use crate::net::client::ConnectRequest;
use crate::net::handler::Handler;
use crate::net::pool::Pools;
use crate::net::stats::{ConnStats, SharedStats};
use crate::net::timer::Clock;
use crate::net::ConnId;
use crate::proto::feed::{
    AutoReply, Decision, Down, HostSpacing, KeepaliveAction, KeepaliveState, Reconnect,
    ReconnectInfo,
};
use crate::proto::{CloseCode, Tick};
use std::sync::Arc;

/// What a feed connection keeps across its successive sockets.
#[derive(Debug)]
pub(crate) struct Feed {
    /// What to connect to again (the addresses resolved at the first connect).
    pub(crate) request: Box<ConnectRequest>,
    pub(crate) reconnect: Reconnect,
    pub(crate) keepalive: Option<KeepaliveState>,
    /// When the next RTT ping goes out (open connections with `rtt_ping_interval`).
    pub(crate) next_rtt_ping: Option<Tick>,
    /// Counters and round-trip times, and their copy for other threads.
    pub(crate) stats: ConnStats,
    pub(crate) shared: Arc<SharedStats>,
    /// The HTTP status that refused the last upgrade, if one did.
    pub(crate) refused: Option<u16>,
    /// When to replace this connection (`max_age`).
    pub(crate) rotate_at: Option<Tick>,
    /// A replacement of this connection is opening.
    pub(crate) rotating: bool,
    /// The connection this one replaces, until it delivered
    /// `rotation_overlap` messages (counted in `overlap_seen`).
    pub(crate) replaces: Option<ConnId>,
    pub(crate) overlap_seen: u32,
}

/// The payload of an RTT ping: this tag, then the send time in microseconds.
const RTT_TAG: &[u8; 4] = b"rtt:";

impl Feed {
    /// A feed state for `request`, if its options ask for one.
    pub(crate) fn for_request(request: &ConnectRequest) -> Option<Box<Feed>> {
        let o = &request.options;
        if o.reconnect.is_none()
            && o.keepalive.is_none()
            && o.auto_replies.is_empty()
            && o.rtt_ping_interval.is_none()
            && o.max_age.is_none()
        {
            return None;
        }
        Some(Box::new(Feed {
            request: Box::new(request.clone()),
            reconnect: Reconnect::default(),
            keepalive: None,
            next_rtt_ping: None,
            stats: ConnStats::default(),
            shared: Arc::default(),
            refused: None,
            rotate_at: None,
            rotating: false,
            replaces: None,
            overlap_seen: 0,
        }))
    }
}

/// A reconnect waiting for its time.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) at: Tick,
    pub(crate) feed: Box<Feed>,
}

/// The reconnects of one worker: those waiting, and the per-host spacing.
#[derive(Debug, Default)]
pub(crate) struct Reconnects {
    pub(crate) pending: Vec<Pending>,
    pub(crate) spacing: HostSpacing,
}

impl Reconnects {
    /// The earliest pending reconnect.
    pub(crate) fn next(&self) -> Option<Tick> {
        self.pending.iter().map(|p| p.at).min()
    }
}

/// Random bits for the jitter: not for secrets, only to spread clients out.
fn random() -> u64 {
    let mut b = [0u8; 8];
    crate::proto::mask_key::fill_random(&mut b);
    u64::from_ne_bytes(b)
}

impl<H: Handler> Worker<H> {
    /// A feed connection went down: schedules its next attempt, or returns
    /// it when no attempt will be made.
    pub(super) fn feed_down(&mut self, mut feed: Box<Feed>, why: Down) -> Option<Box<Feed>> {
        // The keepalive belongs to the socket that went down.
        feed.keepalive = None;
        feed.next_rtt_ping = None;
        feed.rotate_at = None;
        feed.rotating = false;
        feed.replaces = None;
        let Some(policy) = feed.request.options.reconnect.as_ref() else {
            return Some(feed);
        };
        if self.stop_deadline.is_some() {
            return Some(feed);
        }
        match feed.reconnect.on_down(policy, why, self.now, random()) {
            Decision::GiveUp => Some(feed),
            Decision::RetryAt(at) => {
                let host = feed.request.url.host.clone();
                let at = self
                    .reconnects
                    .spacing
                    .reserve(&host, policy.min_connect_interval, at);
                log::info!(
                    "tag {}: reconnecting in {:?} ({why:?})",
                    feed.request.options.tag,
                    self.now.until(at)
                );
                self.reconnects.pending.push(Pending { at, feed });
                None
            }
        }
    }

    /// Starts the reconnects whose time has come.
    pub(super) fn fire_reconnects(&mut self) {
        if self.reconnects.pending.is_empty() {
            return;
        }
        let now = self.now;
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reconnects.pending)
            .into_iter()
            .partition(|p| p.at <= now);
        self.reconnects.pending = waiting;
        for p in due {
            let request = p.feed.request.clone();
            self.start_connect_with(request, 0, Some(p.feed));
        }
    }

    /// The application wants no more attempts for `tag`: pending ones are
    /// dropped, open ones will not be replaced.
    pub(super) fn stop_reconnecting(&mut self, tag: u64) {
        self.reconnects
            .pending
            .retain(|p| p.feed.request.options.tag != tag);
        for slot in self.conns.keys() {
            let c = &mut self.conns[slot];
            if c.tag == tag {
                if let Some(f) = &mut c.feed {
                    f.reconnect.stop();
                }
            }
        }
    }

    /// A client connection opened: the keepalive starts, and the
    /// application will hear whether this is a reconnect.
    pub(super) fn feed_opened(&mut self, slot: usize) -> Option<ReconnectInfo> {
        let now = self.now;
        let id = self.id(slot);
        let f = self.conns[slot].feed.as_mut()?;
        if let Some(k) = &f.request.options.keepalive {
            f.keepalive = Some(KeepaliveState::opened(k, now));
        }
        f.next_rtt_ping = f.request.options.rtt_ping_interval.map(|d| now + d);
        f.rotate_at = f.request.options.max_age.map(|d| now + d);
        f.refused = None;
        let info = f.reconnect.on_open(now);
        f.stats.reconnects += u64::from(info.is_some());
        f.shared.store(&f.stats);
        self.handle.shared.workers[self.index]
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, f.shared.clone());
        info
    }

    /// A feed connection is removed: its statistics are no longer published.
    pub(super) fn feed_removed(&mut self, id: crate::net::ConnId) {
        self.handle.shared.workers[self.index]
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// The keepalive's deadline, folded into the connection's.
    pub(super) fn feed_deadline(c: &Slot) -> Option<Tick> {
        let f = c.feed.as_ref()?;
        let keepalive = match (&f.keepalive, &f.request.options.keepalive) {
            (Some(state), Some(k)) => Some(state.next_deadline(k)),
            _ => None,
        };
        [keepalive, f.next_rtt_ping, f.rotate_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The keepalive's turn at a timer: send, or declare the connection dead.
    pub(super) fn feed_timer(&mut self, slot: usize) {
        let now = self.now;
        let now_us = self.clock.micros();
        let c = &mut self.conns[slot];
        let Some(f) = c.feed.as_mut() else { return };
        if f.rotate_at.is_some_and(|at| now >= at) {
            self.rotate(slot);
        }
        let c = &mut self.conns[slot];
        let Some(f) = c.feed.as_mut() else { return };
        if let (Some(at), Some(every)) = (f.next_rtt_ping, f.request.options.rtt_ping_interval) {
            if now >= at {
                f.next_rtt_ping = Some(now + every);
                let mut payload = [0u8; 12];
                payload[..4].copy_from_slice(RTT_TAG);
                payload[4..].copy_from_slice(&now_us.to_be_bytes());
                self.pools.lend_for_writing(&mut c.ws);
                if c.ws.send_ping(&payload).is_ok() {
                    self.mark_dirty(slot);
                }
            }
        }
        let c = &mut self.conns[slot];
        let Some(f) = c.feed.as_mut() else { return };
        let (Some(k), Some(state)) = (f.request.options.keepalive.as_ref(), f.keepalive.as_mut())
        else {
            return;
        };
        match state.on_timeout(k, now, now_us) {
            KeepaliveAction::Wait => {}
            KeepaliveAction::Send => {
                let payload = k.payload.clone();
                let binary = k.binary;
                self.lend_write_buffer(slot);
                let ws = &mut self.conns[slot].ws;
                let sent = if binary {
                    ws.send_binary(&payload)
                } else {
                    match std::str::from_utf8(&payload) {
                        Ok(text) => ws.send_text(text),
                        Err(_) => ws.send_binary(&payload),
                    }
                };
                if sent.is_ok() {
                    self.mark_dirty(slot);
                }
            }
            KeepaliveAction::Dead => {
                let c = &mut self.conns[slot];
                c.report.record(
                    CloseCode::ABNORMAL,
                    "application keepalive: no reply in time",
                );
                self.remove(slot);
            }
        }
    }

    /// Whether a received message is the keepalive's reply or answered by
    /// an auto-reply rule (then the application does not see it).
    pub(super) fn feed_consumes(
        c: &mut Slot,
        message: &[u8],
        binary: bool,
        pools: &mut Pools,
        clock: &Clock,
    ) -> bool {
        let Some(f) = c.feed.as_mut() else {
            return false;
        };
        f.stats.messages_in += 1;
        if let (Some(k), Some(state)) = (f.request.options.keepalive.as_ref(), f.keepalive.as_mut())
        {
            if let Some(rtt) = state.on_message(k, message, clock.micros()) {
                f.stats.app_rtt.record(rtt);
                return true;
            }
        }
        let Some(reply) = AutoReply::first(&f.request.options.auto_replies, message) else {
            return false;
        };
        pools.lend_for_writing(&mut c.ws);
        // A text message's reply is text only if the rule kept it UTF-8.
        let sent = match (binary, std::str::from_utf8(&reply)) {
            (false, Ok(text)) => c.ws.send_text(text),
            _ => c.ws.send_binary(&reply),
        };
        if let Err(e) = sent {
            log::debug!("auto-reply not sent: {e}");
        }
        true
    }

    /// Whether a pong answers one of our RTT pings (then it is recorded and
    /// not delivered).
    pub(super) fn feed_pong(c: &mut Slot, payload: &[u8], clock: &Clock) -> bool {
        let Some(f) = c.feed.as_mut() else {
            return false;
        };
        let Some(stamp) = payload.strip_prefix(RTT_TAG) else {
            return false;
        };
        let Ok(stamp) = <[u8; 8]>::try_from(stamp) else {
            return false;
        };
        let sent = u64::from_be_bytes(stamp);
        f.stats.ws_rtt.record(clock.micros().saturating_sub(sent));
        true
    }

    /// Opens a replacement of open feed connection `slot` (make-before-break).
    pub(super) fn rotate(&mut self, slot: usize) {
        let old = self.id(slot);
        let c = &mut self.conns[slot];
        if !matches!(c.phase, super::Phase::Open) {
            return;
        }
        let Some(f) = c.feed.as_mut() else { return };
        f.rotate_at = None;
        if f.rotating {
            return;
        }
        f.rotating = true;
        let request = f.request.clone();
        let Some(mut new) = Feed::for_request(&request) else {
            return;
        };
        new.replaces = Some(old);
        new.stats.reconnects = f.stats.reconnects;
        log::info!("connection {}: rotating", old.0);
        self.start_connect_with(request, 0, Some(new));
    }

    /// The replacement of `old` delivered its first message: `old` closes
    /// (1000) and will not be reconnected.
    pub(super) fn retire(&mut self, old: ConnId) {
        let Some(slot) = self.slot_of(old) else {
            return;
        };
        let c = &mut self.conns[slot];
        if let Some(f) = &mut c.feed {
            f.reconnect.stop();
        }
        c.closed_by_app = true;
        self.lend_write_buffer(slot);
        let c = &mut self.conns[slot];
        if c.ws.close(CloseCode::NORMAL, "rotated").is_ok() {
            self.after_activity(slot);
        }
    }

    /// A replacement failed to open: the old connection goes on and tries
    /// again later; without the old one, the replacement reconnects as any
    /// feed connection does. Whether it was a replacement.
    fn rotation_failed(&mut self, feed: &mut Box<Feed>) -> bool {
        let Some(old) = feed.replaces.take() else {
            return false;
        };
        let Some(slot) = self.slot_of(old) else {
            return false;
        };
        let now = self.now;
        let retry = feed
            .request
            .options
            .reconnect
            .as_ref()
            .map_or(std::time::Duration::from_secs(1), |p| p.initial_delay);
        if let Some(f) = &mut self.conns[slot].feed {
            f.rotating = false;
            f.rotate_at = Some(now + retry);
        }
        self.schedule(slot);
        true
    }

    /// A message of feed connection `c` reached the application: the
    /// connection it replaces, once enough did.
    pub(super) fn feed_delivered(c: &mut Slot) -> Option<ConnId> {
        let f = c.feed.as_mut()?;
        f.replaces?;
        f.overlap_seen += 1;
        if f.overlap_seen < f.request.options.rotation_overlap.max(1) {
            return None;
        }
        f.replaces.take()
    }

    /// A connect failed for good (all addresses tried, or refused):
    /// schedules a reconnect, or tells the application.
    pub(super) fn feed_connect_failed(
        &mut self,
        tag: u64,
        feed: Option<Box<Feed>>,
        error: &io::Error,
    ) {
        if let Some(mut feed) = feed {
            if self.rotation_failed(&mut feed) {
                log::info!("tag {tag}: a replacement failed: {error}");
                return;
            }
            let why = match feed.refused.take() {
                Some(status) => Down::Refused(status),
                None => Down::Failed,
            };
            log::info!("tag {tag}: connect failed: {error}");
            if self.feed_down(feed, why).is_none() {
                return;
            }
        }
        self.handler.on_connect_error(tag, error);
    }
}
