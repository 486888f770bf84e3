//! Topics across nodes: a real `redis-server` and three `rocws serve
//! --broadcast --broker` nodes on loopback, with subscribers and publishers
//! on every node (clients speak the serve's text protocol: `sub T`, `pub T
//! PAYLOAD`, `stats`).
//!
//! Needs `redis-server` on the PATH: `bash scripts/test-cluster.sh` installs
//! it and runs these (`cargo test --release --test cluster`); not part of a
//! plain `cargo test`.

#[path = "../common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{tcp_client_with_timeout, TestClient};
use rocwebsocket::proto::Event;

const ROCWS: &str = env!("CARGO_BIN_EXE_rocws");
const TOPIC: &str = "ticks";
/// Messages per publisher and phase.
const N: u32 = 400;
/// Subscribers per node.
const SUBS: usize = 2;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (up to 30 s, then fails) until `ok` holds.
fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(port: u16) -> Proc {
    start_redis_with(port, &[], &format!("redis://127.0.0.1:{port}"))
}

/// A redis-server with `extra` arguments, up when `url` answers.
fn start_redis_with(port: u16, extra: &[&str], url: &str) -> Proc {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server on the PATH (scripts/test-cluster.sh installs it)");
    let p = Proc(child);
    wait_until("redis-server up", || numsub_at(url, TOPIC).is_some());
    p
}

/// Subscribers of `topic` at the broker (nodes, here), if it answers.
fn numsub(port: u16, topic: &str) -> Option<i64> {
    numsub_at(&format!("redis://127.0.0.1:{port}"), topic)
}

fn numsub_at(url: &str, topic: &str) -> Option<i64> {
    let client = redis::Client::open(url).ok()?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(1))
        .ok()?;
    let (_, n): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(topic)
        .query(&mut conn)
        .ok()?;
    Some(n)
}

struct Node {
    proc: Proc,
    addr: SocketAddr,
}

fn start_node(redis_port: u16) -> Node {
    start_node_at(&format!("redis://127.0.0.1:{redis_port}"))
}

fn start_node_at(broker: &str) -> Node {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(ROCWS)
        .args(["serve", "--broadcast", "--threads", "2"])
        .args(["--listen", &addr.to_string()])
        .args(["--broker", broker])
        .stderr(Stdio::null())
        .spawn()
        .expect("rocws");
    wait_until("rocws listening", || TcpStream::connect(addr).is_ok());
    Node {
        proc: Proc(child),
        addr,
    }
}

fn text(event: Option<Event>) -> String {
    match event {
        Some(Event::Text(t)) => t.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// The node's `stats` line as numbers (and connected as 0/1).
fn stats(addr: SocketAddr) -> HashMap<String, u64> {
    let mut c = tcp_client_with_timeout(addr, "/");
    c.send_text("stats");
    let line = text(c.next_message());
    line.split(' ')
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let n = match v {
                "true" => 1,
                "false" => 0,
                n => n.parse().unwrap(),
            };
            (k.to_owned(), n)
        })
        .collect()
}

/// A subscriber on its own thread: subscribed when this returns; collects
/// every message until it has seen `ends` end markers.
fn subscriber(addr: SocketAddr, ends: usize) -> JoinHandle<Vec<String>> {
    let (ready, is_ready) = mpsc::channel();
    let join = std::thread::spawn(move || {
        let mut c = tcp_client_with_timeout(addr, "/");
        c.send_text(&format!("sub {TOPIC}"));
        // Commands of one connection run in order: the reply means subscribed.
        c.send_text("stats");
        assert!(text(c.next_message()).starts_with("stats "));
        ready.send(()).unwrap();
        let mut got = Vec::new();
        let mut seen_ends = 0;
        while seen_ends < ends {
            let Some(event) = c.next_message() else {
                break; // its node died
            };
            let m = text(Some(event));
            if m.ends_with("-end") {
                seen_ends += 1;
            }
            got.push(m);
        }
        got
    });
    is_ready.recv().expect("subscriber ready");
    join
}

fn publisher(addr: SocketAddr) -> TestClient {
    tcp_client_with_timeout(addr, "/")
}

fn publish(p: &mut TestClient, node: usize, seqs: std::ops::Range<u32>) {
    for seq in seqs {
        p.send_text(&format!("pub {TOPIC} P{node}-{seq}"));
    }
}

/// Per publisher, the sequence numbers received, in arrival order.
fn by_publisher(got: &[String]) -> HashMap<usize, Vec<u32>> {
    let mut map: HashMap<usize, Vec<u32>> = HashMap::new();
    for m in got {
        let (node, seq) = m[1..].split_once('-').expect("P<node>-<seq>");
        if seq == "end" {
            continue;
        }
        map.entry(node.parse().unwrap())
            .or_default()
            .push(seq.parse().unwrap());
    }
    map
}

struct Cluster {
    redis: Option<Proc>,
    redis_port: u16,
    nodes: Vec<Node>,
}

fn cluster() -> Cluster {
    let redis_port = free_port();
    let redis = start_redis(redis_port);
    let nodes = (0..3).map(|_| start_node(redis_port)).collect();
    Cluster {
        redis: Some(redis),
        redis_port,
        nodes,
    }
}

impl Cluster {
    /// Subscribers on every node (`SUBS` each), once every node's interest
    /// has reached the broker.
    fn subscribe_all(&self, ends: usize) -> Vec<(usize, JoinHandle<Vec<String>>)> {
        let subs = self
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| (0..SUBS).map(move |_| (i, subscriber(n.addr, ends))))
            .collect();
        let port = self.redis_port;
        let want = self.nodes.len() as i64;
        wait_until("every node subscribed at the broker", || {
            numsub(port, TOPIC) == Some(want)
        });
        subs
    }
}

#[test]
fn every_subscriber_gets_every_message_once_in_order() {
    let c = cluster();
    let subs = c.subscribe_all(3);
    let mut pubs: Vec<TestClient> = c.nodes.iter().map(|n| publisher(n.addr)).collect();
    // Interleaved, so the nodes' streams cross at the broker.
    for chunk in 0..N / 50 {
        for (node, p) in pubs.iter_mut().enumerate() {
            publish(p, node, chunk * 50..(chunk + 1) * 50);
        }
    }
    for (node, p) in pubs.iter_mut().enumerate() {
        p.send_text(&format!("pub {TOPIC} P{node}-end"));
    }
    let all: Vec<u32> = (0..N).collect();
    for (at, s) in subs {
        let got = by_publisher(&s.join().unwrap());
        for node in 0..3 {
            assert_eq!(
                got.get(&node),
                Some(&all),
                "subscriber on node {at}, publisher on node {node}"
            );
        }
    }
    // Counters are bumped after the broker's answer and after the hand-over
    // to the loops: they may trail the deliveries.
    let each = u64::from(N) + 1;
    for n in &c.nodes {
        wait_until("counters", || {
            let s = stats(n.addr);
            s["published"] == each && s["received"] == 2 * each
        });
        assert_eq!(stats(n.addr)["dropped"], 0);
    }
}

#[test]
fn broker_restart_mid_stream_keeps_local_delivery_and_resubscribes() {
    let mut c = cluster();
    let subs = c.subscribe_all(3);
    let mut pubs: Vec<TestClient> = c.nodes.iter().map(|n| publisher(n.addr)).collect();
    for (node, p) in pubs.iter_mut().enumerate() {
        publish(p, node, 0..N);
    }
    // Everything so far reached the broker before it goes away.
    wait_until("first phase published", || {
        c.nodes
            .iter()
            .all(|n| stats(n.addr)["published"] == u64::from(N))
    });
    drop(c.redis.take());
    for (node, p) in pubs.iter_mut().enumerate() {
        publish(p, node, N..2 * N);
    }
    c.redis = Some(start_redis(c.redis_port));
    wait_until("nodes reconnected and subscribed again", || {
        numsub(c.redis_port, TOPIC) == Some(3)
            && c.nodes.iter().all(|n| stats(n.addr)["connected"] == 1)
    });
    for (node, p) in pubs.iter_mut().enumerate() {
        publish(p, node, 2 * N..3 * N);
        p.send_text(&format!("pub {TOPIC} P{node}-end"));
    }
    for (at, s) in subs {
        let got = by_publisher(&s.join().unwrap());
        for node in 0..3 {
            let seqs = &got[&node];
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "node {at} from {node}: a message twice or out of order"
            );
            let have = |r: std::ops::Range<u32>| r.clone().all(|s| seqs.binary_search(&s).is_ok());
            assert!(have(0..N), "node {at} from {node}: before the restart");
            assert!(have(2 * N..3 * N), "node {at} from {node}: after it");
            if node == at {
                assert!(
                    have(N..2 * N),
                    "node {at}: local delivery while the broker was away"
                );
            }
        }
    }
    for n in &c.nodes {
        let s = stats(n.addr);
        assert!(
            s["dropped"] >= 1,
            "publishes while away are dropped and counted: {s:?}"
        );
        assert!(s["reconnects"] >= 2, "both threads reconnected: {s:?}");
    }
}

#[test]
fn a_killed_node_leaves_the_broker_and_the_others_go_on() {
    let mut c = cluster();
    let subs = c.subscribe_all(2);
    let dead = c.nodes.pop().unwrap();
    let dead_subs = subs.iter().filter(|(at, _)| *at == 2).count();
    drop(dead.proc); // SIGKILL: no goodbye to the broker
    wait_until("the dead node's subscription gone", || {
        numsub(c.redis_port, TOPIC) == Some(2)
    });
    let mut pubs: Vec<TestClient> = c.nodes.iter().map(|n| publisher(n.addr)).collect();
    for (node, p) in pubs.iter_mut().enumerate() {
        publish(p, node, 0..N);
        p.send_text(&format!("pub {TOPIC} P{node}-end"));
    }
    let all: Vec<u32> = (0..N).collect();
    let mut checked = 0;
    for (at, s) in subs {
        if at == 2 {
            continue; // its socket died with the node
        }
        let got = by_publisher(&s.join().unwrap());
        for node in 0..2 {
            assert_eq!(got.get(&node), Some(&all), "node {at} from {node}");
        }
        checked += 1;
    }
    assert_eq!(checked + dead_subs, 3 * SUBS);
}

/// `redis://user:password@`: the link authenticates; a wrong password never
/// subscribes (and the node keeps serving its own subscribers).
#[test]
fn a_password_protected_broker_takes_the_url_credentials() {
    let port = free_port();
    let good = format!("redis://:s3cret@127.0.0.1:{port}");
    let _redis = start_redis_with(port, &["--requirepass", "s3cret"], &good);
    let a = start_node_at(&good);
    let b = start_node_at(&good);
    let wrong = start_node_at(&format!("redis://:nope@127.0.0.1:{port}"));
    let sub_b = subscriber(b.addr, 1);
    let sub_wrong = subscriber(wrong.addr, 1);
    wait_until("b subscribed at the broker", || {
        numsub_at(&good, TOPIC) == Some(1)
    });
    let mut p = publisher(a.addr);
    p.send_text(&format!("pub {TOPIC} P0-0"));
    p.send_text(&format!("pub {TOPIC} P0-end"));
    assert_eq!(sub_b.join().unwrap(), ["P0-0", "P0-end"]);
    let mut local = publisher(wrong.addr);
    local.send_text(&format!("pub {TOPIC} P9-end"));
    assert_eq!(sub_wrong.join().unwrap(), ["P9-end"], "local delivery only");
    assert_eq!(stats(wrong.addr)["connected"], 0);
}
