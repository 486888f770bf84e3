//! The two threads of a broker link: the publisher and the subscriber.

use std::collections::HashSet;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{BrokerLink, Outgoing};
use crate::net::handle::Handle;
use crate::proto::conn::encode_shared_data;
use crate::proto::OpCode;

/// How long the subscriber waits for a message before it looks at interest
/// changes and the stop flag: the longest a new topic waits for its
/// SUBSCRIBE (the blocking client reads or writes, not both at once).
const SUBSCRIBER_TICK: Duration = Duration::from_millis(5);
/// How often the publisher looks at the stop flag while idle.
const PUBLISHER_TICK: Duration = Duration::from_millis(100);
/// Publishes sent in one pipeline (one write, one read of the replies).
const BATCH: usize = 256;
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Connect, write and reply timeouts: a broker that stops answering is treated as gone.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// The URL without its credentials, for messages and logs.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

/// Parses the URL into a client (no connection yet).
pub(super) fn client(url: &str) -> io::Result<redis::Client> {
    if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://"))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "broker URL {:?}: only redis://, rediss:// and unix:// are supported",
                redacted(url)
            ),
        ));
    }
    redis::Client::open(url).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("broker URL {:?}: {e}", redacted(url)),
        )
    })
}

pub(super) fn spawn(
    client: redis::Client,
    link: Arc<BrokerLink>,
    outgoing: Receiver<Outgoing>,
    handle: Handle,
) -> io::Result<Vec<JoinHandle<()>>> {
    let (c, l) = (client.clone(), link.clone());
    let publisher = std::thread::Builder::new()
        .name("rocws-broker-pub".into())
        .spawn(move || publisher(c, l, outgoing))?;
    let subscriber = std::thread::Builder::new()
        .name("rocws-broker-sub".into())
        .spawn(move || subscriber(client, link, handle))?;
    Ok(vec![publisher, subscriber])
}

fn connect(client: &redis::Client) -> redis::RedisResult<redis::Connection> {
    let conn = client.get_connection_with_timeout(IO_TIMEOUT)?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(conn)
}

/// Doubles up to the cap.
fn next_backoff(b: Duration) -> Duration {
    (b * 2).min(BACKOFF_MAX)
}

/// Sends queued publishes in order; while the broker is unreachable, drops
/// (and counts) what arrives until the next attempt.
fn publisher(client: redis::Client, link: Arc<BrokerLink>, outgoing: Receiver<Outgoing>) {
    let counters = &link.counters;
    let mut conn: Option<redis::Connection> = None;
    let mut backoff = BACKOFF_FIRST;
    let mut retry_at = Instant::now();
    let mut batch: Vec<Outgoing> = Vec::with_capacity(BATCH);
    let mut ever_connected = false;
    while !link.stopped.load(Ordering::Acquire) {
        if conn.is_none() && Instant::now() >= retry_at {
            match connect(&client) {
                Ok(c) => {
                    if ever_connected {
                        counters.reconnects.fetch_add(1, Ordering::Relaxed);
                        log::info!("broker: publisher reconnected");
                    }
                    ever_connected = true;
                    backoff = BACKOFF_FIRST;
                    conn = Some(c);
                    counters.publisher_up.store(true, Ordering::Relaxed);
                }
                Err(e) => {
                    log::warn!(
                        "broker: publisher cannot connect ({e}); publishes are dropped until it \
                         can ({} so far); next try in {backoff:?}",
                        counters.dropped.load(Ordering::Relaxed)
                    );
                    retry_at = Instant::now() + backoff;
                    backoff = next_backoff(backoff);
                }
            }
        }
        match outgoing.recv_timeout(PUBLISHER_TICK) {
            Ok(first) => batch.push(first),
            Err(RecvTimeoutError::Timeout) => {
                // Idle: a PING finds a lost broker now rather than at the
                // next publish, so that publish does not fail too.
                if let Some(c) = conn.as_mut() {
                    if let Err(e) = redis::cmd("PING").exec(c) {
                        log::warn!(
                            "broker: publisher lost the broker ({e}); reconnecting in {backoff:?}"
                        );
                        conn = None;
                        retry_at = Instant::now() + backoff;
                        backoff = next_backoff(backoff);
                    }
                }
                counters
                    .publisher_up
                    .store(conn.is_some(), Ordering::Relaxed);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while batch.len() < BATCH {
            match outgoing.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let Some(c) = conn.as_mut() else {
            counters.dropped.fetch_add(n, Ordering::Relaxed);
            batch.clear();
            continue;
        };
        let mut pipe = redis::pipe();
        for (topic, wire) in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(&*topic).arg(&wire[..]).ignore();
        }
        match pipe.exec(c) {
            Ok(()) => {
                counters.published.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                // What the broker took before the loss is unknown: counted as dropped.
                counters.dropped.fetch_add(n, Ordering::Relaxed);
                log::warn!(
                    "broker: publish failed ({e}); {n} messages dropped ({} so far); \
                     reconnecting in {backoff:?}",
                    counters.dropped.load(Ordering::Relaxed)
                );
                conn = None;
                retry_at = Instant::now() + backoff;
                backoff = next_backoff(backoff);
            }
        }
        counters
            .publisher_up
            .store(conn.is_some(), Ordering::Relaxed);
    }
}

/// Follows the node's interest at the broker and delivers what it reads.
fn subscriber(client: redis::Client, link: Arc<BrokerLink>, handle: Handle) {
    let mut backoff = BACKOFF_FIRST;
    let mut ever_connected = false;
    while !link.stopped.load(Ordering::Acquire) {
        let mut conn = match connect(&client) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("broker: subscriber cannot connect ({e}); next try in {backoff:?}");
                sleep_unless_stopped(&link, backoff);
                backoff = next_backoff(backoff);
                continue;
            }
        };
        if ever_connected {
            link.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            log::info!("broker: subscriber reconnected; subscribing its topics again");
        }
        ever_connected = true;
        backoff = BACKOFF_FIRST;
        link.counters.subscriber_up.store(true, Ordering::Relaxed);
        // A fresh connection has no subscriptions: everything is a change.
        link.interest_changed.store(true, Ordering::Release);
        let e = serve(&mut conn, &link, &handle);
        link.counters.subscriber_up.store(false, Ordering::Relaxed);
        if let Err(e) = e {
            log::warn!(
                "broker: subscriber lost the broker ({e}); local delivery goes on; \
                 reconnecting in {backoff:?}"
            );
            sleep_unless_stopped(&link, backoff);
            backoff = next_backoff(backoff);
        }
    }
}

fn sleep_unless_stopped(link: &BrokerLink, d: Duration) {
    let until = Instant::now() + d;
    while !link.stopped.load(Ordering::Acquire) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(PUBLISHER_TICK));
    }
}

/// One connection's life: Ok when stopping, Err when the broker went away.
fn serve(
    conn: &mut redis::Connection,
    link: &BrokerLink,
    handle: &Handle,
) -> redis::RedisResult<()> {
    let mut subscribed: HashSet<Arc<str>> = HashSet::new();
    let mut pubsub = conn.as_pubsub();
    pubsub.set_read_timeout(Some(SUBSCRIBER_TICK))?;
    while !link.stopped.load(Ordering::Acquire) {
        if link.interest_changed.swap(false, Ordering::AcqRel) {
            let (add, remove) = {
                let map = link.interest.lock().unwrap_or_else(|p| p.into_inner());
                let add: Vec<Arc<str>> = map
                    .keys()
                    .filter(|t| !subscribed.contains(*t))
                    .cloned()
                    .collect();
                let remove: Vec<Arc<str>> = subscribed
                    .iter()
                    .filter(|t| !map.contains_key(*t))
                    .cloned()
                    .collect();
                (add, remove)
            };
            // The replies get the I/O timeout, not the tick: a busy broker
            // that answers in more than a tick has not gone away.
            pubsub.set_read_timeout(Some(IO_TIMEOUT))?;
            if !add.is_empty() {
                let names: Vec<&str> = add.iter().map(|t| &**t).collect();
                pubsub.subscribe(&names)?;
                subscribed.extend(add);
            }
            if !remove.is_empty() {
                let names: Vec<&str> = remove.iter().map(|t| &**t).collect();
                pubsub.unsubscribe(&names)?;
                for t in remove {
                    subscribed.remove(&t);
                }
            }
            pubsub.set_read_timeout(Some(SUBSCRIBER_TICK))?;
        }
        let msg = match pubsub.get_message() {
            Ok(m) => m,
            Err(e) if e.is_timeout() => continue,
            Err(e) => return Err(e),
        };
        deliver(
            link,
            handle,
            msg.get_channel_name(),
            msg.get_payload_bytes(),
        );
    }
    Ok(())
}

/// Encodes a message of another node once and queues the frame on every
/// event loop's subscribers of its topic.
fn deliver(link: &BrokerLink, handle: &Handle, topic: &str, wire: &[u8]) {
    if wire.len() < 9 {
        log::debug!("broker: message on {topic:?} without a node header dropped");
        return;
    }
    let node = u64::from_be_bytes(wire[..8].try_into().expect("8 bytes"));
    if node == link.node {
        return; // our own publish; local subscribers had it at once
    }
    let payload = &wire[9..];
    let opcode = match wire[8] {
        1 if simdutf8::basic::from_utf8(payload).is_ok() => OpCode::Text,
        2 => OpCode::Binary,
        other => {
            log::debug!("broker: message on {topic:?} with opcode {other} (or bad UTF-8) dropped");
            return;
        }
    };
    let frame: Bytes = encode_shared_data(opcode, payload);
    if handle.fan_out_frame(frame, Some(topic), None).is_ok() {
        link.counters.received.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_stay_out_of_messages() {
        assert_eq!(
            super::redacted("redis://u:secret@h:6379/0"),
            "redis://***@h:6379/0"
        );
        assert_eq!(super::redacted("redis://h:6379"), "redis://h:6379");
        let e = super::client("nats://u:secret@h:4222").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
