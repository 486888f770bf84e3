//! Topics across nodes: a link from this engine to a Redis pub/sub broker.
//!
//! Two threads of their own speak to the broker through the `redis` crate's
//! blocking client, so the event loops never wait on it:
//!
//! - the publisher takes `(topic, message)` pairs from a bounded queue that
//!   [`Handle::publish`](super::Handle::publish) fills without blocking and
//!   sends them in order on one connection, pipelined in batches;
//! - the subscriber holds a connection in subscribe mode, follows this node's
//!   interest (a topic is subscribed at the broker while at least one local
//!   connection is subscribed to it) and hands each message it reads to the
//!   event loops as one frame, encoded once and shared, over the loops'
//!   ordinary command channel.
//!
//! Redis sends a publish to every subscribed connection, the publisher's own
//! node included; each message carries its node's id and a node drops its
//! own (its local subscribers had it at once). While the broker is away,
//! local delivery goes on, publishes are dropped and counted (see
//! [`BrokerStats::dropped`]), and both threads reconnect with backoff; the
//! subscriber then subscribes its topics again.

mod link;

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::{BufMut, Bytes, BytesMut};

use super::handle::Handle;
use super::handler::Message;

/// Where and how to reach the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// `redis://[user:password@]host:port` or `rediss://...` (TLS, checked
    /// against the system's roots); `unix:///path` also works.
    pub url: String,
    /// Publishes waiting for the publisher thread before further ones are
    /// dropped (and counted).
    pub max_queued: usize,
}

impl BrokerConfig {
    /// A broker at `url` with the default queue bound (65,536 messages).
    pub fn new(url: impl Into<String>) -> Self {
        BrokerConfig {
            url: url.into(),
            max_queued: 65_536,
        }
    }

    /// Whether the URL is one the link accepts (no connection is made).
    pub fn check_url(&self) -> io::Result<()> {
        link::client(&self.url).map(drop)
    }
}

/// Counters of a broker link, readable at any time through
/// [`Handle::broker_stats`](super::Handle::broker_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Messages sent to the broker.
    pub published: u64,
    /// Messages of other nodes received from the broker and delivered locally.
    pub received: u64,
    /// Publishes not sent: queue full, or the broker unreachable.
    pub dropped: u64,
    /// Connections (re)established after a loss, both threads together.
    pub reconnects: u64,
    /// Whether both threads are connected to the broker now.
    pub connected: bool,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    reconnects: AtomicU64,
    publisher_up: AtomicBool,
    subscriber_up: AtomicBool,
}

/// One publish on its way to the broker: the topic and the bytes on the
/// wire (node id, opcode, payload).
type Outgoing = (Arc<str>, Bytes);

/// A broker link whose threads have not started yet.
pub(crate) struct Unstarted {
    client: redis::Client,
    outgoing: std::sync::mpsc::Receiver<Outgoing>,
    link: Arc<BrokerLink>,
}

impl Unstarted {
    /// Starts the publisher and the subscriber thread.
    pub(crate) fn spawn(self, handle: &Handle) -> io::Result<Vec<JoinHandle<()>>> {
        link::spawn(self.client, self.link, self.outgoing, handle.clone())
    }
}

/// The part of a broker link the event loops and handles share.
pub(crate) struct BrokerLink {
    node: u64,
    publish: SyncSender<Outgoing>,
    /// Per topic, how many event-loop threads have local subscribers.
    interest: Mutex<HashMap<Arc<str>, usize>>,
    /// Set when `interest` changed since the subscriber last looked.
    interest_changed: AtomicBool,
    counters: Counters,
    stopped: AtomicBool,
}

impl BrokerLink {
    /// Parses the URL (a bad one fails the engine's start); the threads,
    /// which connect and retry on their own, start with [`Unstarted::spawn`]
    /// once the engine's handle exists.
    pub(crate) fn new(config: &BrokerConfig) -> io::Result<(Arc<BrokerLink>, Unstarted)> {
        let client = link::client(&config.url)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(config.max_queued.max(1));
        let link = Arc::new(BrokerLink {
            node: rand::RngCore::next_u64(
                &mut <rand::rngs::StdRng as rand::SeedableRng>::from_os_rng(),
            ),
            publish: tx,
            interest: Mutex::new(HashMap::new()),
            interest_changed: AtomicBool::new(false),
            counters: Counters::default(),
            stopped: AtomicBool::new(false),
        });
        let unstarted = Unstarted {
            client,
            outgoing: rx,
            link: link.clone(),
        };
        Ok((link, unstarted))
    }

    /// Queues a publish for the broker; never blocks (a full queue drops it).
    pub(crate) fn publish(&self, topic: &str, message: &Message) {
        let data = message.as_bytes();
        let mut wire = BytesMut::with_capacity(9 + data.len());
        wire.put_u64(self.node);
        wire.put_u8(message.opcode() as u8);
        wire.put_slice(data);
        match self.publish.try_send((Arc::from(topic), wire.freeze())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// One event-loop thread gained its first (`true`) or lost its last
    /// (`false`) subscriber of `topic`.
    pub(crate) fn interest(&self, topic: &Arc<str>, gained: bool) {
        let mut map = self.interest.lock().unwrap_or_else(|p| p.into_inner());
        if gained {
            *map.entry(topic.clone()).or_insert(0) += 1;
        } else if let Some(n) = map.get_mut(topic) {
            *n -= 1;
            if *n == 0 {
                map.remove(topic);
            }
        }
        self.interest_changed.store(true, Ordering::Release);
    }

    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    pub(crate) fn stats(&self) -> BrokerStats {
        let c = &self.counters;
        BrokerStats {
            published: c.published.load(Ordering::Relaxed),
            received: c.received.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            connected: c.publisher_up.load(Ordering::Relaxed)
                && c.subscriber_up.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_other_than_redis_are_refused_before_any_connection() {
        for bad in [
            "nats://127.0.0.1:4222",
            "http://x",
            "127.0.0.1:6379",
            "redis://[::1",
        ] {
            assert!(BrokerConfig::new(bad).check_url().is_err(), "{bad}");
        }
        for good in [
            "redis://127.0.0.1:1",
            "redis://u:p@h:6379",
            "rediss://h:6380",
        ] {
            assert!(BrokerConfig::new(good).check_url().is_ok(), "{good}");
        }
    }

    /// The node is interested in a topic while any thread has a subscriber.
    #[test]
    fn interest_counts_threads_and_flags_each_change() {
        let (link, _unstarted) =
            BrokerLink::new(&BrokerConfig::new("redis://127.0.0.1:1")).unwrap();
        let t: Arc<str> = Arc::from("ticks");
        let interested = |l: &BrokerLink| l.interest.lock().unwrap().contains_key("ticks");
        link.interest(&t, true);
        link.interest(&t, true);
        assert!(link.interest_changed.swap(false, Ordering::AcqRel));
        link.interest(&t, false);
        assert!(interested(&link), "one thread still has a subscriber");
        link.interest(&t, false);
        assert!(!interested(&link));
        assert!(link.interest_changed.load(Ordering::Acquire));
    }

    /// A full queue drops (and counts) instead of blocking the caller.
    #[test]
    fn publish_never_blocks_and_counts_what_it_drops() {
        let config = BrokerConfig {
            max_queued: 2,
            ..BrokerConfig::new("redis://127.0.0.1:1")
        };
        let (link, _unstarted) = BrokerLink::new(&config).unwrap();
        for _ in 0..5 {
            link.publish("t", &Message::Binary(Bytes::from_static(b"x")));
        }
        assert_eq!(link.stats().dropped, 3);
    }
}
