//! The connection's side of its deadlines (see `proto::deadline`): stage
//! changes as bytes arrive, reading pauses and the close begins, and the
//! `next_deadline` / `on_timeout` pair the I/O layer drives.

use super::Connection;
use crate::proto::close::{CloseCode, CloseState};
use crate::proto::deadline::{Expired, Stage, Tick, Timeouts};
use crate::proto::frame::Role;

impl Connection {
    /// The opening handshake (accept or connect) began at `now`: until
    /// [`handshake_finished`](Self::handshake_finished), the handshake
    /// deadline applies.
    pub fn handshake_started(&mut self, now: Tick) {
        self.stage = Stage::Handshake { since: Some(now) };
    }

    /// The opening handshake finished at `now`: idle and keepalive deadlines
    /// start counting.
    pub fn handshake_finished(&mut self, now: Tick) {
        self.stage = Stage::Open {
            last_rx: Some(now),
            ping_sent: None,
            suspended: false,
        };
    }

    /// Bytes arrived from the peer at `now`: it is alive, so the idle and
    /// keepalive deadlines restart (any byte answers a keepalive ping).
    pub fn bytes_received(&mut self, now: Tick) {
        if let Stage::Open {
            last_rx, ping_sent, ..
        } = &mut self.stage
        {
            *last_rx = Some(now);
            *ping_sent = None;
        }
    }

    /// Suspends the idle and pong deadlines while the application does not
    /// read: silence then proves nothing about the peer.
    pub fn suspend_liveness(&mut self) {
        if let Stage::Open { suspended, .. } = &mut self.stage {
            *suspended = true;
        }
    }

    /// Resumes the idle and pong deadlines, counting from `now`.
    pub fn resume_liveness(&mut self, now: Tick) {
        if let Stage::Open {
            last_rx,
            ping_sent,
            suspended,
        } = &mut self.stage
        {
            if *suspended {
                *last_rx = Some(now);
                *ping_sent = None;
                *suspended = false;
            }
        }
    }

    /// The transport is finishing from `now` (an HTTP refusal is being
    /// written, or this side of the closing handshake is done and the peer's
    /// end of the stream is awaited): the close timeout runs from now.
    pub fn transport_closing(&mut self, now: Tick) {
        self.stage = Stage::Closing { since: Some(now) };
    }

    /// Whether this end closes the TCP connection first once the closing
    /// handshake is over: the server does (RFC 6455 §7.1.1), so that the
    /// TIME_WAIT state stays with it; a client waits for the server's FIN.
    pub fn closes_transport_first(&self) -> bool {
        self.role == Role::Server
    }

    /// Moves an open stage to closing once a close frame went either way.
    fn sync_stage(&mut self, now: Tick) {
        if matches!(self.stage, Stage::Open { .. })
            && (self.close != CloseState::Open || self.failed.is_some())
        {
            self.stage = Stage::Closing { since: Some(now) };
        }
        self.stage.stamp(now);
    }

    /// When this connection next needs [`on_timeout`](Self::on_timeout), under
    /// `timeouts`; `None` when no deadline runs. Changes since the last call
    /// that took no time (a close sent or received) count from `now`.
    pub fn next_deadline(&mut self, now: Tick, timeouts: &Timeouts) -> Option<Tick> {
        self.sync_stage(now);
        self.stage.deadline(timeouts)
    }

    /// Applies whatever deadline passed by `now`: queues a keepalive ping, or
    /// starts the closing handshake with 1001 after the idle timeout (write
    /// out what is then queued), or returns why the transport must be
    /// dropped now without more ado. Calling it early does nothing.
    pub fn on_timeout(&mut self, now: Tick, timeouts: &Timeouts) -> Option<Expired> {
        self.sync_stage(now);
        let due = self.stage.deadline(timeouts).is_some_and(|at| at <= now);
        if !due {
            return None;
        }
        match self.stage {
            Stage::Handshake { .. } => Some(Expired::Handshake),
            Stage::Closing { .. } => Some(Expired::Close),
            Stage::Open {
                last_rx, ping_sent, ..
            } => {
                let last_rx = last_rx.unwrap_or(now);
                if ping_sent.is_some_and(|sent| sent + timeouts.pong_timeout <= now) {
                    return Some(Expired::Pong);
                }
                if timeouts.idle.is_some_and(|d| last_rx + d <= now) {
                    let _ = self.close(CloseCode::GOING_AWAY, "idle timeout");
                    self.sync_stage(now);
                    return None;
                }
                let ping_due = timeouts.ping_interval.is_some_and(|d| last_rx + d <= now);
                if ping_sent.is_none() && ping_due && self.send_ping(b"").is_ok() {
                    if let Stage::Open { ping_sent, .. } = &mut self.stage {
                        *ping_sent = Some(now);
                    }
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{output, server};
    use super::*;

    fn ms(n: u64) -> Tick {
        Tick::from_millis(n)
    }

    fn keepalive() -> Timeouts {
        use std::time::Duration;
        Timeouts {
            handshake: Some(Duration::from_millis(100)),
            idle: Some(Duration::from_millis(1000)),
            ping_interval: Some(Duration::from_millis(200)),
            pong_timeout: Duration::from_millis(50),
            close: Duration::from_millis(70),
        }
    }

    #[test]
    fn keepalive_ping_then_pong_timeout() {
        let t = keepalive();
        let mut c = server();
        c.handshake_finished(ms(0));
        assert_eq!(c.next_deadline(ms(0), &t), Some(ms(200)));
        assert_eq!(c.on_timeout(ms(199), &t), None, "early: nothing");
        assert!(output(&mut c).is_empty());
        assert_eq!(c.on_timeout(ms(200), &t), None);
        assert_eq!(output(&mut c), vec![0x89, 0x00], "a keepalive ping");
        assert_eq!(
            c.next_deadline(ms(200), &t),
            Some(ms(250)),
            "the pong deadline"
        );
        assert_eq!(c.on_timeout(ms(250), &t), Some(Expired::Pong));
    }

    #[test]
    fn any_received_byte_answers_the_keepalive() {
        let t = keepalive();
        let mut c = server();
        c.handshake_finished(ms(0));
        c.on_timeout(ms(200), &t);
        output(&mut c);
        c.bytes_received(ms(220));
        assert_eq!(c.next_deadline(ms(220), &t), Some(ms(420)));
        assert_eq!(c.on_timeout(ms(250), &t), None);
    }

    #[test]
    fn idle_timeout_starts_the_closing_handshake_then_the_close_timeout() {
        let t = Timeouts {
            ping_interval: None,
            ..keepalive()
        };
        let mut c = server();
        c.handshake_finished(ms(0));
        assert_eq!(c.next_deadline(ms(0), &t), Some(ms(1000)));
        assert_eq!(c.on_timeout(ms(1000), &t), None);
        let out = output(&mut c);
        assert_eq!(&out[..4], &[0x88, 14, 0x03, 0xE9], "close 1001");
        assert_eq!(&out[4..], b"idle timeout");
        assert_eq!(c.next_deadline(ms(1000), &t), Some(ms(1070)));
        assert_eq!(c.on_timeout(ms(1070), &t), Some(Expired::Close));
    }

    #[test]
    fn a_close_counts_from_the_next_time_passed_in() {
        let t = keepalive();
        let mut c = server();
        c.handshake_finished(ms(0));
        c.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(c.next_deadline(ms(30), &t), Some(ms(100)));
    }

    #[test]
    fn handshake_deadline_and_suspended_liveness() {
        let t = keepalive();
        let mut c = server();
        c.handshake_started(ms(5));
        assert_eq!(c.next_deadline(ms(5), &t), Some(ms(105)));
        assert_eq!(c.on_timeout(ms(105), &t), Some(Expired::Handshake));
        let mut c = server();
        c.handshake_finished(ms(0));
        c.suspend_liveness();
        assert_eq!(
            c.next_deadline(ms(10), &t),
            None,
            "paused: silence proves nothing"
        );
        assert_eq!(c.on_timeout(ms(5000), &t), None);
        c.resume_liveness(ms(5000));
        assert_eq!(
            c.next_deadline(ms(5000), &t),
            Some(ms(5200)),
            "restarted from now"
        );
    }
}
