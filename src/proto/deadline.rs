//! A connection's deadlines: opening handshake, idle, keepalive ping and its
//! pong, and the closing handshake.
//!
//! The core reads no clock: the I/O layer passes `now` in as a [`Tick`] and
//! asks for the next deadline ([`Connection::next_deadline`]); when that time
//! has passed it calls [`Connection::on_timeout`], which queues what the rule
//! says (a keepalive ping, an idle close) or tells it to drop the transport.
//!
//! [`Connection::next_deadline`]: super::Connection::next_deadline
//! [`Connection::on_timeout`]: super::Connection::on_timeout

use std::num::NonZeroU64;
use std::ops::Add;
use std::time::Duration;

/// A point in time: milliseconds on a monotonic clock the caller owns, plus
/// one (so that `Option<Tick>` takes 8 bytes). Only differences matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tick(NonZeroU64);

impl Tick {
    /// The tick `ms` milliseconds after the clock's start.
    pub fn from_millis(ms: u64) -> Tick {
        Tick(NonZeroU64::MIN.saturating_add(ms))
    }

    /// Milliseconds since the clock's start.
    pub fn as_millis(self) -> u64 {
        self.0.get() - 1
    }

    /// How long from `self` until `later` (zero if it is not later).
    pub fn until(self, later: Tick) -> Duration {
        Duration::from_millis(later.0.get().saturating_sub(self.0.get()))
    }
}

impl Add<Duration> for Tick {
    type Output = Tick;
    fn add(self, d: Duration) -> Tick {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Tick(self.0.saturating_add(ms))
    }
}

/// How long each stage may last; `None` turns a deadline off. One value
/// serves every connection of an event loop, so connections do not carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the start of the opening handshake (accept or connect) to its end.
    pub handshake: Option<Duration>,
    /// Longest time without any received byte before closing with 1001.
    pub idle: Option<Duration>,
    /// Send a ping after this long without received bytes.
    pub ping_interval: Option<Duration>,
    /// After such a ping, how long to wait for any received byte before
    /// dropping the connection (reported as 1006).
    pub pong_timeout: Duration,
    /// From the start of the closing handshake (or of an HTTP refusal) to
    /// dropping the transport.
    pub close: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            handshake: Some(Duration::from_secs(10)),
            idle: None,
            // Peers that vanish without a FIN (a cable pulled, a NAT entry
            // dropped) are found within 40 s; a ping costs 2-6 bytes.
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(10),
            close: Duration::from_secs(5),
        }
    }
}

/// Why [`Connection::on_timeout`](super::Connection::on_timeout) says the
/// transport must be dropped now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// The opening handshake did not finish in time.
    Handshake,
    /// No byte arrived within the pong timeout after a keepalive ping: the
    /// peer is gone (1006).
    Pong,
    /// The closing handshake (or the transport's end after it, or an HTTP
    /// refusal) did not finish in time.
    Close,
}

/// The timing state of one connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The opening handshake is under way since `since` (`None` until the
    /// I/O layer first passes a time in).
    Handshake { since: Option<Tick> },
    /// Frames flow. `last_rx` is when a byte last arrived (`None`: not yet
    /// stamped), `ping_sent` when a keepalive ping went out unanswered.
    /// `suspended` while the application paused reading: silence then proves
    /// nothing about the peer, so idle and pong deadlines wait.
    Open {
        last_rx: Option<Tick>,
        ping_sent: Option<Tick>,
        suspended: bool,
    },
    /// Closing (close frame sent or received, HTTP refusal written, or the
    /// transport finishing) since `since`.
    Closing { since: Option<Tick> },
}

impl Stage {
    /// Fills in any time not yet known with `now`: a transition made by a
    /// call that takes no time (a close, a received close frame) counts
    /// from the first time the I/O layer passes one in.
    pub(crate) fn stamp(&mut self, now: Tick) {
        match self {
            Stage::Handshake { since } | Stage::Closing { since } => {
                since.get_or_insert(now);
            }
            Stage::Open { last_rx, .. } => {
                last_rx.get_or_insert(now);
            }
        }
    }

    /// The next deadline of this stage (after [`stamp`](Self::stamp)).
    pub(crate) fn deadline(&self, t: &Timeouts) -> Option<Tick> {
        match *self {
            Stage::Handshake { since } => Some(since? + t.handshake?),
            Stage::Closing { since } => Some(since? + t.close),
            Stage::Open {
                suspended: true, ..
            } => None,
            Stage::Open {
                last_rx, ping_sent, ..
            } => {
                let last_rx = last_rx?;
                let idle = t.idle.map(|d| last_rx + d);
                let ping = match ping_sent {
                    Some(sent) => Some(sent + t.pong_timeout),
                    None => t.ping_interval.map(|d| last_rx + d),
                };
                match (idle, ping) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_order_add_and_measure() {
        let now = Tick::from_millis(1000);
        let later = now + Duration::from_millis(250);
        assert!(later > now);
        assert_eq!(now.until(later), Duration::from_millis(250));
        assert_eq!(later.until(now), Duration::ZERO);
        assert_eq!(later.as_millis(), 1250);
        assert_eq!(std::mem::size_of::<Option<Tick>>(), 8);
    }

    #[test]
    fn stages_pick_their_deadline() {
        let t = Timeouts {
            handshake: Some(Duration::from_millis(100)),
            idle: Some(Duration::from_millis(900)),
            ping_interval: Some(Duration::from_millis(300)),
            pong_timeout: Duration::from_millis(50),
            close: Duration::from_millis(70),
        };
        let now = Tick::from_millis(10);
        let mut s = Stage::Handshake { since: None };
        assert_eq!(s.deadline(&t), None, "no time known yet");
        s.stamp(now);
        assert_eq!(s.deadline(&t), Some(now + Duration::from_millis(100)));
        let mut open = Stage::Open {
            last_rx: None,
            ping_sent: None,
            suspended: false,
        };
        open.stamp(now);
        assert_eq!(open.deadline(&t), Some(now + Duration::from_millis(300)));
        let pinged = Stage::Open {
            last_rx: Some(now),
            ping_sent: Some(now + Duration::from_millis(300)),
            suspended: false,
        };
        assert_eq!(pinged.deadline(&t), Some(now + Duration::from_millis(350)));
        let paused = Stage::Open {
            last_rx: Some(now),
            ping_sent: None,
            suspended: true,
        };
        assert_eq!(paused.deadline(&t), None);
        let closing = Stage::Closing { since: Some(now) };
        assert_eq!(closing.deadline(&t), Some(now + Duration::from_millis(70)));
        let no_handshake_limit = Timeouts {
            handshake: None,
            ..t
        };
        let hs = Stage::Handshake { since: Some(now) };
        assert_eq!(hs.deadline(&no_handshake_limit), None);
    }
}
