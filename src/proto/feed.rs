//! Rules of a market-data client, without I/O: when to reconnect (backoff
//! with jitter, a cap, an attempt limit, codes and statuses that mean "do
//! not retry", a per-host connect spacing), the application-level keepalive
//! (a payload every interval, its reply matched, a deadline), auto-replies
//! answered without the application, and round-trip times.
//!
//! Like [`deadline`](super::deadline), nothing here reads a clock or a
//! random source: the I/O layer passes `now` as a [`Tick`] (and
//! microseconds where a round-trip time is measured) and random bits in,
//! and asks when to be called back.

use std::collections::HashMap;
use std::time::Duration;

use super::Tick;

/// When and how often a client connection is opened again after it went
/// down (closed by the peer, failed, refused, or declared dead).
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// The delay before the first attempt after a drop.
    pub initial_delay: Duration,
    /// The largest delay (the cap of the exponential growth).
    pub max_delay: Duration,
    /// Each failed attempt multiplies the delay by this (at least 1).
    pub multiplier: f64,
    /// The share of each delay drawn at random (0 to 1): the delay is
    /// uniform in `[d * (1 - jitter), d]`, so clients cut together do not
    /// come back together.
    pub jitter: f64,
    /// Attempts after a drop before giving up; 0 means no limit.
    pub max_attempts: u32,
    /// Close codes from the peer after which no attempt is made.
    pub no_retry_close_codes: Vec<u16>,
    /// HTTP statuses refusing the upgrade after which no attempt is made
    /// (by default 401 and 403: the credentials will not improve).
    pub no_retry_statuses: Vec<u16>,
    /// Connects to one host are spaced at least this far apart (the
    /// exchange's connect rate limit); zero means no spacing.
    pub min_connect_interval: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts: 0,
            no_retry_close_codes: Vec::new(),
            no_retry_statuses: vec![401, 403],
            min_connect_interval: Duration::ZERO,
        }
    }
}

impl ReconnectPolicy {
    /// The delay before attempt `attempt` (1 for the first after a drop),
    /// with `random` (any 64 random bits) choosing the jitter.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let growth = self
            .multiplier
            .max(1.0)
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let cap = self.max_delay.as_secs_f64();
        let full = (self.initial_delay.as_secs_f64() * growth).min(cap);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let unit = (random >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        Duration::from_secs_f64(full * (1.0 - jitter * unit))
    }

    /// The bounds [`delay`](Self::delay) stays within for `attempt`.
    pub fn delay_bounds(&self, attempt: u32) -> (Duration, Duration) {
        let full = self.delay(attempt, 0);
        let jitter = self.jitter.clamp(0.0, 1.0);
        (full.mul_f64(1.0 - jitter), full)
    }
}

/// Why a client connection is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Down {
    /// It was open and closed with this code (1006 when it was dropped or
    /// declared dead by a keepalive).
    Closed(u16),
    /// The upgrade was refused with this HTTP status.
    Refused(u16),
    /// The connect failed otherwise (refused, unreachable, timed out, TLS).
    Failed,
    /// The application closed it or asked for no more attempts.
    ByApplication,
}

/// What to do after a connection went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Connect again at this time (before any per-host spacing).
    RetryAt(Tick),
    /// Stop: the reason is final or the attempts are used up.
    GiveUp,
}

/// What the application is told when a connection opens again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectInfo {
    /// The attempt that succeeded (1 for the first after the drop).
    pub attempt: u32,
    /// How long there was no open connection.
    pub down_for: Duration,
}

/// The reconnect state of one logical client connection across its
/// successive sockets.
#[derive(Debug, Clone, Default)]
pub struct Reconnect {
    attempt: u32,
    down_since: Option<Tick>,
    /// Whether it has been open at least once (a first connect that fails is
    /// retried too, and reported as a reconnect once it succeeds).
    stopped: bool,
}

impl Reconnect {
    /// The connection went down at `now` for `why`: when to try again.
    pub fn on_down(
        &mut self,
        policy: &ReconnectPolicy,
        why: Down,
        now: Tick,
        random: u64,
    ) -> Decision {
        let final_reason = match why {
            Down::ByApplication => true,
            Down::Closed(code) => policy.no_retry_close_codes.contains(&code),
            Down::Refused(status) => policy.no_retry_statuses.contains(&status),
            Down::Failed => false,
        };
        if self.stopped || final_reason {
            self.stopped = true;
            return Decision::GiveUp;
        }
        self.down_since.get_or_insert(now);
        if policy.max_attempts != 0 && self.attempt >= policy.max_attempts {
            self.stopped = true;
            return Decision::GiveUp;
        }
        self.attempt += 1;
        Decision::RetryAt(now + policy.delay(self.attempt, random))
    }

    /// The application asked for no more attempts.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether no more attempts will be made.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The connection opened at `now`: the attempt count starts again, and
    /// if it had been down, what to tell the application.
    pub fn on_open(&mut self, now: Tick) -> Option<ReconnectInfo> {
        let info = self.down_since.take().map(|since| ReconnectInfo {
            attempt: self.attempt,
            down_for: since.until(now),
        });
        self.attempt = 0;
        info
    }
}

/// Spaces connects to each host at least `interval` apart.
#[derive(Debug, Default)]
pub struct HostSpacing {
    last: HashMap<String, Tick>,
}

impl HostSpacing {
    /// The time, no earlier than `wanted`, at which a connect to `host` may
    /// start, and records it as that host's latest.
    pub fn reserve(&mut self, host: &str, interval: Duration, wanted: Tick) -> Tick {
        if interval.is_zero() {
            return wanted;
        }
        let at = match self.last.get(host) {
            Some(&last) => wanted.max(last + interval),
            None => wanted,
        };
        self.last.insert(host.to_owned(), at);
        at
    }
}

/// How an incoming message is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The whole message equals these bytes.
    Exact(Vec<u8>),
    /// The message starts with these bytes.
    Prefix(Vec<u8>),
}

impl Match {
    /// Whether `message` matches.
    pub fn matches(&self, message: &[u8]) -> bool {
        match self {
            Match::Exact(m) => message == m.as_slice(),
            Match::Prefix(p) => message.starts_with(p),
        }
    }
}

/// An application-level keepalive: `payload` every `interval`; the
/// connection is dead when no message matching `reply` arrives within
/// `deadline` of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppKeepalive {
    /// What to send (`{"op":"ping"}`, `ping`).
    pub payload: Vec<u8>,
    /// Send it as a binary message (else text, which must be UTF-8).
    pub binary: bool,
    /// Time between sends (from the previous send).
    pub interval: Duration,
    /// What the reply looks like. Matching replies are not delivered to
    /// the application.
    pub reply: Match,
    /// Time from a send to its reply before the connection is dead.
    pub deadline: Duration,
}

/// What the keepalive asks for at a timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepaliveAction {
    /// Nothing yet.
    Wait,
    /// Send the payload now.
    Send,
    /// No reply came in time: drop the connection (reported as 1006).
    Dead,
}

/// The keepalive state of one open connection.
#[derive(Debug, Clone, Copy)]
pub struct KeepaliveState {
    next_send: Tick,
    /// The oldest send not answered yet, and its time in microseconds.
    unanswered: Option<(Tick, u64)>,
}

impl KeepaliveState {
    /// The connection opened at `now`: the first payload goes out after
    /// one interval.
    pub fn opened(k: &AppKeepalive, now: Tick) -> KeepaliveState {
        KeepaliveState {
            next_send: now + k.interval,
            unanswered: None,
        }
    }

    /// The next time [`on_timeout`](Self::on_timeout) must run.
    pub fn next_deadline(&self, k: &AppKeepalive) -> Tick {
        match self.unanswered {
            Some((sent, _)) => self.next_send.min(sent + k.deadline),
            None => self.next_send,
        }
    }

    /// Called at or after the deadline; `now_us` stamps a send for the RTT.
    /// Sends go on every interval while a reply is awaited; the deadline
    /// counts from the oldest unanswered one.
    pub fn on_timeout(&mut self, k: &AppKeepalive, now: Tick, now_us: u64) -> KeepaliveAction {
        if self
            .unanswered
            .is_some_and(|(sent, _)| now >= sent + k.deadline)
        {
            return KeepaliveAction::Dead;
        }
        if now >= self.next_send {
            self.next_send = now + k.interval;
            self.unanswered.get_or_insert((now, now_us));
            return KeepaliveAction::Send;
        }
        KeepaliveAction::Wait
    }

    /// A message arrived: whether it is a reply (then it is consumed, and
    /// the round-trip time from the oldest unanswered send in microseconds
    /// is returned; 0 for a reply nothing awaited).
    pub fn on_message(&mut self, k: &AppKeepalive, message: &[u8], now_us: u64) -> Option<u64> {
        if !k.reply.matches(message) {
            return None;
        }
        Some(
            self.unanswered
                .take()
                .map_or(0, |(_, sent_us)| now_us.saturating_sub(sent_us)),
        )
    }
}

/// A message answered by the engine: an incoming text or binary message
/// that starts with `prefix`, ends with `suffix` and holds at most
/// `max_capture` bytes between them gets `reply_prefix`, those bytes, then
/// `reply_suffix` in return (the same opcode), and is not delivered.
/// `{"ping":` … `}` → `{"pong":` … `}` answers `{"ping":1700000000}` with
/// `{"pong":1700000000}`; with `max_capture` 0 the match is exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoReply {
    /// What the message starts with.
    pub prefix: Vec<u8>,
    /// What it ends with.
    pub suffix: Vec<u8>,
    /// Most bytes between them (copied into the reply).
    pub max_capture: usize,
    /// The reply's start.
    pub reply_prefix: Vec<u8>,
    /// The reply's end.
    pub reply_suffix: Vec<u8>,
}

impl AutoReply {
    /// The reply to `message`, if this rule matches it.
    pub fn answer(&self, message: &[u8]) -> Option<Vec<u8>> {
        let fixed = self.prefix.len() + self.suffix.len();
        if message.len() < fixed
            || message.len() - fixed > self.max_capture
            || !message.starts_with(&self.prefix)
            || !message.ends_with(&self.suffix)
        {
            return None;
        }
        let captured = &message[self.prefix.len()..message.len() - self.suffix.len()];
        let mut out =
            Vec::with_capacity(self.reply_prefix.len() + captured.len() + self.reply_suffix.len());
        out.extend_from_slice(&self.reply_prefix);
        out.extend_from_slice(captured);
        out.extend_from_slice(&self.reply_suffix);
        Some(out)
    }

    /// The answer of the first rule of `rules` that matches `message`.
    pub fn first(rules: &[AutoReply], message: &[u8]) -> Option<Vec<u8>> {
        rules.iter().find_map(|r| r.answer(message))
    }
}

/// Round-trip times in microseconds: the last, the smallest, and a moving
/// average (each sample weighs 1/8, as TCP's SRTT).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rtt {
    /// The latest sample (0: none yet).
    pub last_us: u64,
    /// The smallest sample (0: none yet).
    pub min_us: u64,
    /// The moving average (0: none yet).
    pub avg_us: u64,
    /// Samples taken.
    pub samples: u64,
}

impl Rtt {
    /// Adds a sample.
    pub fn record(&mut self, us: u64) {
        self.last_us = us;
        self.min_us = if self.samples == 0 {
            us
        } else {
            self.min_us.min(us)
        };
        self.avg_us = if self.samples == 0 {
            us
        } else {
            (self.avg_us * 7 + us) / 8
        };
        self.samples += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn backoff_grows_to_the_cap_within_jitter() {
        let p = ReconnectPolicy {
            initial_delay: ms(100),
            max_delay: ms(1000),
            multiplier: 2.0,
            jitter: 0.5,
            ..ReconnectPolicy::default()
        };
        assert_eq!(p.delay(1, 0), ms(100));
        assert_eq!(p.delay(2, 0), ms(200));
        assert_eq!(p.delay(4, 0), ms(800));
        assert_eq!(p.delay(5, 0), ms(1000));
        assert_eq!(p.delay(500, 0), ms(1000));
        assert_eq!(p.delay_bounds(3), (ms(200), ms(400)));
        for r in [1u64, u64::MAX / 3, u64::MAX] {
            let d = p.delay(3, r);
            assert!(d >= ms(200) && d <= ms(400), "{d:?}");
        }
        assert!(p.delay(3, u64::MAX) < ms(201));
    }

    #[test]
    fn reconnect_attempts_limits_and_final_reasons() {
        let p = ReconnectPolicy {
            max_attempts: 2,
            jitter: 0.0,
            no_retry_close_codes: vec![4001],
            ..ReconnectPolicy::default()
        };
        let t0 = Tick::from_millis(1000);
        let mut r = Reconnect::default();
        assert_eq!(
            r.on_down(&p, Down::Closed(1006), t0, 0),
            Decision::RetryAt(t0 + ms(100))
        );
        let t1 = t0 + ms(100);
        assert_eq!(
            r.on_down(&p, Down::Failed, t1, 0),
            Decision::RetryAt(t1 + ms(200))
        );
        assert_eq!(r.on_down(&p, Down::Failed, t1, 0), Decision::GiveUp);
        assert!(r.is_stopped());

        let mut r = Reconnect::default();
        assert!(matches!(
            r.on_down(&p, Down::Failed, t0, 0),
            Decision::RetryAt(_)
        ));
        let info = r.on_open(t0 + ms(350)).unwrap();
        assert_eq!((info.attempt, info.down_for), (1, ms(350)));
        assert_eq!(r.on_open(t0 + ms(400)), None, "reported once");
        // The count starts again after an open.
        assert_eq!(
            r.on_down(&p, Down::Closed(1001), t1, 0),
            Decision::RetryAt(t1 + ms(100))
        );
        for why in [
            Down::Closed(4001),
            Down::Refused(401),
            Down::Refused(403),
            Down::ByApplication,
        ] {
            let mut r = Reconnect::default();
            assert_eq!(r.on_down(&p, why, t0, 0), Decision::GiveUp, "{why:?}");
        }
        let mut r = Reconnect::default();
        assert!(matches!(
            r.on_down(&p, Down::Refused(429), t0, 0),
            Decision::RetryAt(_)
        ));
        r.stop();
        assert_eq!(r.on_down(&p, Down::Failed, t0, 0), Decision::GiveUp);
    }

    #[test]
    fn host_spacing() {
        let mut s = HostSpacing::default();
        let t = Tick::from_millis(0);
        assert_eq!(s.reserve("a", ms(500), t), t);
        assert_eq!(s.reserve("a", ms(500), t), t + ms(500));
        assert_eq!(s.reserve("a", ms(500), t + ms(100)), t + ms(1000));
        assert_eq!(s.reserve("b", ms(500), t), t);
        assert_eq!(s.reserve("a", ms(500), t + ms(5000)), t + ms(5000));
        assert_eq!(s.reserve("c", Duration::ZERO, t), t);
    }

    #[test]
    fn keepalive_sends_matches_and_declares_death() {
        let k = AppKeepalive {
            payload: b"{\"op\":\"ping\"}".to_vec(),
            binary: false,
            interval: ms(1000),
            reply: Match::Prefix(b"{\"op\":\"pong\"".to_vec()),
            deadline: ms(300),
        };
        let t0 = Tick::from_millis(0);
        let mut s = KeepaliveState::opened(&k, t0);
        assert_eq!(s.next_deadline(&k), t0 + ms(1000));
        assert_eq!(s.on_timeout(&k, t0 + ms(999), 0), KeepaliveAction::Wait);
        let t1 = t0 + ms(1000);
        assert_eq!(s.on_timeout(&k, t1, 5_000), KeepaliveAction::Send);
        assert_eq!(s.on_timeout(&k, t1, 5_000), KeepaliveAction::Wait);
        assert_eq!(s.next_deadline(&k), t1 + ms(300));
        assert_eq!(s.on_message(&k, b"{\"op\":\"data\"}", 6_000), None);
        assert_eq!(
            s.on_message(&k, b"{\"op\":\"pong\",\"t\":1}", 5_750),
            Some(750)
        );
        assert_eq!(s.next_deadline(&k), t1 + ms(1000));
        let t2 = t1 + ms(1000);
        assert_eq!(s.on_timeout(&k, t2, 0), KeepaliveAction::Send);
        assert_eq!(s.on_timeout(&k, t2 + ms(299), 0), KeepaliveAction::Wait);
        assert_eq!(s.on_timeout(&k, t2 + ms(300), 0), KeepaliveAction::Dead);
        // Shorter interval than deadline: sends go on, the oldest counts.
        let k2 = AppKeepalive {
            interval: ms(100),
            deadline: ms(250),
            ..k.clone()
        };
        let mut s = KeepaliveState::opened(&k2, t0);
        assert_eq!(s.on_timeout(&k2, t0 + ms(100), 0), KeepaliveAction::Send);
        assert_eq!(s.next_deadline(&k2), t0 + ms(200));
        assert_eq!(s.on_timeout(&k2, t0 + ms(200), 0), KeepaliveAction::Send);
        assert_eq!(s.next_deadline(&k2), t0 + ms(300));
        assert_eq!(s.on_timeout(&k2, t0 + ms(300), 0), KeepaliveAction::Send);
        assert_eq!(s.next_deadline(&k2), t0 + ms(350));
        assert_eq!(s.on_timeout(&k2, t0 + ms(350), 0), KeepaliveAction::Dead);
        assert!(Match::Exact(b"pong".to_vec()).matches(b"pong"));
        assert!(!Match::Exact(b"pong".to_vec()).matches(b"pong!"));
    }

    #[test]
    fn auto_replies() {
        let rules = [
            AutoReply {
                prefix: b"{\"ping\":".to_vec(),
                suffix: b"}".to_vec(),
                max_capture: 20,
                reply_prefix: b"{\"pong\":".to_vec(),
                reply_suffix: b"}".to_vec(),
            },
            AutoReply {
                prefix: b"ping".to_vec(),
                suffix: Vec::new(),
                max_capture: 0,
                reply_prefix: b"pong".to_vec(),
                reply_suffix: Vec::new(),
            },
        ];
        assert_eq!(
            AutoReply::first(&rules, b"{\"ping\":1700000000123}").as_deref(),
            Some(&b"{\"pong\":1700000000123}"[..])
        );
        assert_eq!(
            AutoReply::first(&rules, b"ping").as_deref(),
            Some(&b"pong"[..])
        );
        assert_eq!(AutoReply::first(&rules, b"pingpong"), None);
        assert_eq!(
            AutoReply::first(&rules, b"{\"ping\":}").as_deref(),
            Some(&b"{\"pong\":}"[..])
        );
        assert_eq!(AutoReply::first(&rules, b"{\"trade\":1}"), None);
        assert_eq!(
            AutoReply::first(&rules, b"{\"ping\":1234567890123456789012}"),
            None
        );
        assert_eq!(AutoReply::first(&rules, b"{\"ping\""), None);
    }

    #[test]
    fn rtt_statistics() {
        let mut r = Rtt::default();
        r.record(800);
        assert_eq!((r.last_us, r.min_us, r.avg_us), (800, 800, 800));
        r.record(400);
        assert_eq!(
            (r.last_us, r.min_us, r.avg_us, r.samples),
            (400, 400, 750, 2)
        );
        r.record(1600);
        assert_eq!((r.last_us, r.min_us), (1600, 400));
    }
}
