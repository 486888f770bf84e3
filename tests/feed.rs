//! The feed client (reconnect, application keepalive, auto-replies)
//! against `rocws exchange-sim`, as a process: reconnects after cuts and
//! refusals no sooner than the backoff allows and resubscribes; required
//! application pings and the exchange's own pings are answered by the
//! engine; a blackholed connection is declared dead by the keepalive (1006)
//! and replaced; closing by the application stops reconnecting.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use rocwebsocket::net::{ClientOptions, Config, Conn, ConnId, Engine, Handler, Message, OpenInfo};
use rocwebsocket::proto::feed::{AppKeepalive, AutoReply, Match, ReconnectInfo, ReconnectPolicy};
use rocwebsocket::proto::CloseCode;

const ROCWS: &str = env!("CARGO_BIN_EXE_rocws");
/// Longest wait for any one expected event (a failure, not a measurement).
const PATIENCE: Duration = Duration::from_secs(20);

struct Sim {
    child: Child,
    url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sim(args: &[&str]) -> Sim {
    let mut child = Command::new(ROCWS)
        .arg("exchange-sim")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("the simulator's address")
        .to_owned();
    assert!(url.starts_with("ws"), "{line}");
    Sim { child, url }
}

#[derive(Debug)]
enum Ev {
    Open(ConnId, Option<ReconnectInfo>),
    Replaces(ConnId, ConnId),
    Text(String),
    Data(u64),
    Close(CloseCode),
    ClosedConn(ConnId, CloseCode),
    ConnectError,
}

/// Subscribes on every open and reports everything.
struct Client {
    events: Sender<Ev>,
}

impl Handler for Client {
    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        let _ = conn.send_text(r#"{"op":"subscribe"}"#);
        if let Some(old) = info.replaces {
            let _ = self.events.send(Ev::Replaces(conn.id(), old));
        }
        let _ = self.events.send(Ev::Open(conn.id(), info.reconnect));
    }

    fn on_message(&mut self, _conn: &mut Conn<'_>, message: Message) {
        if let Message::Text(t) = message {
            if let Some(seq) = seq_of(t.as_str()) {
                let _ = self.events.send(Ev::Data(seq));
            }
            let _ = self.events.send(Ev::Text(t.as_str().to_owned()));
        }
    }

    fn on_close(&mut self, id: ConnId, code: CloseCode, _reason: &str) {
        let _ = self.events.send(Ev::ClosedConn(id, code));
        let _ = self.events.send(Ev::Close(code));
    }

    fn on_connect_error(&mut self, _tag: u64, _error: &std::io::Error) {
        let _ = self.events.send(Ev::ConnectError);
    }
}

fn client(url: &str, options: ClientOptions) -> (Engine, Receiver<Ev>) {
    let (tx, rx) = mpsc::channel();
    let config = Config {
        threads: 1,
        ..Config::default()
    };
    let engine = Engine::start(config, move |_, _| Client { events: tx.clone() }).unwrap();
    engine.handle().connect(url, options).unwrap();
    (engine, rx)
}

/// The next event that `pick` accepts, skipping the others.
fn wait<T>(rx: &Receiver<Ev>, mut pick: impl FnMut(Ev) -> Option<T>) -> T {
    loop {
        let ev = rx.recv_timeout(PATIENCE).expect("an event in time");
        if let Some(v) = pick(ev) {
            return v;
        }
    }
}

fn seq_of(text: &str) -> Option<u64> {
    text.strip_prefix(r#"{"seq":"#)?
        .strip_suffix('}')?
        .parse()
        .ok()
}

fn ping_rules() -> (AppKeepalive, AutoReply) {
    let keepalive = AppKeepalive {
        payload: br#"{"op":"ping"}"#.to_vec(),
        binary: false,
        interval: Duration::from_millis(100),
        reply: Match::Exact(br#"{"op":"pong"}"#.to_vec()),
        deadline: Duration::from_millis(400),
    };
    let auto = AutoReply {
        prefix: br#"{"ping":"#.to_vec(),
        suffix: b"}".to_vec(),
        max_capture: 20,
        reply_prefix: br#"{"pong":"#.to_vec(),
        reply_suffix: b"}".to_vec(),
    };
    (keepalive, auto)
}

#[test]
fn reconnects_after_cuts_and_refusals_within_backoff_and_resubscribes() {
    // Each connection is cut after 150-300 ms; upgrades are refused (429)
    // for 250 ms after each cut.
    let sim = sim(&[
        "--cut-after-ms",
        "300",
        "--notice-ms",
        "50",
        "--refuse-ms",
        "250",
    ]);
    let policy = ReconnectPolicy {
        initial_delay: Duration::from_millis(40),
        max_delay: Duration::from_millis(160),
        jitter: 0.5,
        ..ReconnectPolicy::default()
    };
    let options = ClientOptions {
        reconnect: Some(policy.clone()),
        ..ClientOptions::default()
    };
    let (engine, rx) = client(&sim.url, options);
    let first = wait(&rx, |e| match e {
        Ev::Open(_, info) => Some(info),
        _ => None,
    });
    assert!(first.is_none(), "a first open is no reconnect");
    for _ in 0..3 {
        // Data flows, then a maintenance notice, then the cut.
        wait(&rx, |e| match e {
            Ev::Text(t) => seq_of(&t),
            _ => None,
        });
        wait(&rx, |e| {
            matches!(&e, Ev::Text(t) if t.contains("maintenance")).then_some(())
        });
        let code = wait(&rx, |e| match e {
            Ev::Close(c) => Some(c),
            _ => None,
        });
        assert_eq!(code, CloseCode(1012));
        let info = wait(&rx, |e| match e {
            Ev::Open(_, info) => Some(info),
            Ev::ConnectError => panic!("the policy gave up"),
            _ => None,
        })
        .expect("an open after a drop is a reconnect");
        // Refused for 250 ms: attempts 1 (<= 40 ms) and 2 (<= 40 + 80 ms)
        // came too early; each attempt waited at least its lower bound.
        assert!(info.attempt >= 2, "{info:?}");
        let least: Duration = (1..=info.attempt).map(|a| policy.delay_bounds(a).0).sum();
        assert!(info.down_for >= least, "{info:?} < {least:?}");
        assert!(info.down_for >= Duration::from_millis(200), "{info:?}");
        // Resubscribed: numbered messages again.
        wait(&rx, |e| match e {
            Ev::Text(t) => seq_of(&t),
            _ => None,
        });
    }
    engine.stop(Duration::from_secs(1));
}

#[test]
fn required_pings_and_exchange_pings_are_answered_inside_the_engine() {
    // Closed with 4000 if no {"op":"ping"} for 300 ms; {"ping":T} every 50 ms.
    let sim = sim(&[
        "--require-ping-ms",
        "300",
        "--server-ping-ms",
        "50",
        "--rate",
        "50",
    ]);
    let (keepalive, auto) = ping_rules();
    let options = ClientOptions {
        keepalive: Some(keepalive),
        auto_replies: vec![auto],
        rtt_ping_interval: Some(Duration::from_millis(50)),
        ..ClientOptions::default()
    };
    let (engine, rx) = client(&sim.url, options);
    let id = wait(&rx, |e| match e {
        Ev::Open(id, _) => Some(id),
        _ => None,
    });
    // Ten times the required-ping period passes with the connection open.
    let mut last_seq = 0;
    while last_seq < 150 {
        match rx.recv_timeout(PATIENCE).expect("feed messages") {
            Ev::Text(t) => {
                assert!(!t.contains("ping") && !t.contains("pong"), "delivered: {t}");
                if let Some(s) = seq_of(&t) {
                    assert!(s > last_seq, "out of order: {s} after {last_seq}");
                    last_seq = s;
                }
            }
            Ev::Close(code) => panic!("closed with {code}"),
            _ => {}
        }
    }
    engine.handle().send_text(id, r#"{"op":"stats"}"#).unwrap();
    let pongs: u64 = wait(&rx, |e| match e {
        Ev::Text(t) => t
            .strip_prefix(r#"{"pongs":"#)?
            .strip_suffix('}')?
            .parse()
            .ok(),
        Ev::Close(code) => panic!("closed with {code}"),
        _ => None,
    });
    assert!(pongs >= 10, "{pongs} exchange pings answered");
    // Round-trip times of both kinds were measured.
    let stats = engine.handle().conn_stats(id).unwrap();
    assert!(stats.app_rtt.samples >= 3, "{stats:?}");
    assert!(stats.ws_rtt.samples >= 3, "{stats:?}");
    assert!(
        stats.app_rtt.min_us > 0
            && stats.app_rtt.min_us <= stats.app_rtt.avg_us.max(stats.app_rtt.last_us),
        "{stats:?}"
    );
    assert!(stats.ws_rtt.min_us > 0, "{stats:?}");
    assert!(
        stats.messages_in >= 150 && stats.bytes_in > stats.messages_in * 8,
        "{stats:?}"
    );
    assert!(stats.bytes_out > 0 && stats.reconnects == 0, "{stats:?}");
    engine.stop(Duration::from_secs(1));
}

#[test]
fn a_blackholed_connection_is_declared_dead_and_replaced() {
    let sim = sim(&[]);
    let (keepalive, _) = ping_rules();
    let options = ClientOptions {
        keepalive: Some(keepalive),
        reconnect: Some(ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            ..ReconnectPolicy::default()
        }),
        ..ClientOptions::default()
    };
    let (engine, rx) = client(&sim.url, options);
    let id = wait(&rx, |e| match e {
        Ev::Open(id, _) => Some(id),
        _ => None,
    });
    wait(&rx, |e| match e {
        Ev::Text(t) => seq_of(&t),
        _ => None,
    });
    // The simulator stops reading and writing this connection, without a FIN.
    engine
        .handle()
        .send_text(id, r#"{"op":"blackhole"}"#)
        .unwrap();
    // WebSocket keepalive pings are 30 s apart by default: only the
    // application keepalive (400 ms deadline) can end it within PATIENCE.
    let code = wait(&rx, |e| match e {
        Ev::Close(c) => Some(c),
        _ => None,
    });
    assert_eq!(code, CloseCode::ABNORMAL);
    let info = wait(&rx, |e| match e {
        Ev::Open(_, info) => Some(info),
        _ => None,
    });
    assert_eq!(info.map(|i| i.attempt), Some(1));
    engine.stop(Duration::from_secs(1));
}

#[test]
fn closing_by_the_application_stops_reconnecting() {
    let sim = sim(&[]);
    let options = ClientOptions {
        tag: 5,
        reconnect: Some(ReconnectPolicy {
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            ..ReconnectPolicy::default()
        }),
        ..ClientOptions::default()
    };
    let (engine, rx) = client(&sim.url, options.clone());
    let id = wait(&rx, |e| match e {
        Ev::Open(id, _) => Some(id),
        _ => None,
    });
    engine
        .handle()
        .close(id, CloseCode::NORMAL, "done")
        .unwrap();
    assert_eq!(
        wait(&rx, |e| match e {
            Ev::Close(c) => Some(c),
            _ => None,
        }),
        CloseCode::NORMAL
    );
    // A second client with the same policy connects and opens; by then the
    // first, had it been reconnecting after 1 ms, would have opened again.
    let (other, rx2) = client(&sim.url, options);
    wait(&rx2, |e| matches!(e, Ev::Open(..)).then_some(()));
    wait(&rx2, |e| match e {
        Ev::Text(t) => seq_of(&t),
        _ => None,
    });
    other.stop(Duration::from_secs(1));
    engine.stop(Duration::from_secs(1));
    let late: Vec<Ev> = rx.try_iter().collect();
    assert!(
        !late.iter().any(|e| matches!(e, Ev::Open(..))),
        "reopened after the application closed: {late:?}"
    );
}

#[test]
fn rotation_at_max_age_leaves_no_gap() {
    // 1000 numbered messages per second, the same numbers on every
    // subscribed connection; each connection replaced after 200 ms.
    let sim = sim(&["--rate", "1000"]);
    let options = ClientOptions {
        max_age: Some(Duration::from_millis(200)),
        // The subscription's acknowledgement, then the first numbered message.
        rotation_overlap: 2,
        // Connects made through socket2 with options set before the SYN.
        socket: rocwebsocket::net::sys::SocketOptions {
            recv_buffer: Some(1 << 20),
            tos: Some(0x10),
            ..Default::default()
        },
        ..ClientOptions::default()
    };
    let (engine, rx) = client(&sim.url, options);
    let mut current = wait(&rx, |e| match e {
        Ev::Open(id, _) => Some(id),
        _ => None,
    });
    let (mut seen, mut rotations) = (std::collections::BTreeSet::new(), 0);
    while rotations < 3 {
        match rx.recv_timeout(PATIENCE).expect("events") {
            Ev::Data(seq) => {
                seen.insert(seq);
            }
            Ev::Replaces(new, old) => {
                assert_eq!(old, current, "replaces the current connection");
                current = new;
            }
            Ev::ClosedConn(id, code) => {
                assert_ne!(id, current, "the replacement stays open");
                assert_eq!(code, CloseCode::NORMAL, "the old one is closed by us");
                rotations += 1;
            }
            _ => {}
        }
    }
    // A few more from the last connection, then no number may be missing.
    let mut more = 0;
    while more < 50 {
        if let Ev::Data(seq) = rx.recv_timeout(PATIENCE).expect("data") {
            seen.insert(seq);
            more += 1;
        }
    }
    let (first, last) = (*seen.first().unwrap(), *seen.last().unwrap());
    let missing: Vec<u64> = (first..=last).filter(|s| !seen.contains(s)).collect();
    assert!(missing.is_empty(), "missing across rotations: {missing:?}");
    assert!(last - first > 300, "{first}..{last}");
    engine.stop(Duration::from_secs(1));
}
