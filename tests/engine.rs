//! The mio engine over loopback: echo, limits, timers, shutdown, scale.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use rocwebsocket::net::{
    BackpressurePolicy, ClientOptions, Config, Conn, ConnId, Endpoint, Engine, Handler, Message,
    OpenInfo,
};
use rocwebsocket::proto::{CloseCode, CloseFrame, Event, OpCode, Utf8Bytes};

const T: Duration = Duration::from_secs(20);

fn close_code(event: Option<Event>) -> Option<u16> {
    match event {
        Some(Event::Close(CloseFrame { code, .. })) => Some(code.0),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[test]
fn echo_at_every_length_form() {
    let (engine, addr, _seen) = echo_engine(Config::default());
    let mut c = tcp_client_with_timeout(addr, "/echo");
    for len in [0usize, 125, 126, 65535, 65536, 16 << 20] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        c.send_binary(&data);
        assert_eq!(
            c.next_message(),
            Some(Event::Binary(Bytes::from(data))),
            "binary {len}"
        );
        let text: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        c.send_text(&text);
        assert_eq!(
            c.next_message(),
            Some(Event::Text(Utf8Bytes::from(text))),
            "text {len}"
        );
    }
    engine.stop(Duration::from_secs(1));
}

/// A burst of small messages that arrives in one read, more than the
/// per-wake-up event budget (1024): the rest must follow without a new
/// readiness edge (it stalled at exactly 1024 when the socket was drained).
#[test]
fn a_burst_past_the_event_budget_is_delivered_in_full() {
    let (engine, addr, _seen) = echo_engine(Config::default());
    let mut c = tcp_client_with_timeout(addr, "/burst");
    let n = 5000;
    for i in 0..n {
        c.ws.send_text(&i.to_string()).unwrap();
    }
    c.flush(); // all of it in one go: about 40 KB, one read on the server
    for i in 0..n {
        assert_eq!(
            c.next_message(),
            Some(Event::Text(Utf8Bytes::from(i.to_string()))),
            "message {i}"
        );
    }
    engine.stop(Duration::from_secs(1));
}

#[test]
fn fragmented_messages_and_pings_from_the_peer() {
    let (engine, addr, _seen) = echo_engine(Config::default());
    let mut c = tcp_client_with_timeout(addr, "/");
    c.ws.send_fragment(OpCode::Text, "frag".as_bytes(), false)
        .unwrap();
    c.ws.send_ping(b"are you there").unwrap();
    c.ws.send_fragment(OpCode::Continuation, "ment".as_bytes(), false)
        .unwrap();
    c.ws.send_fragment(OpCode::Continuation, "ed €".as_bytes(), true)
        .unwrap();
    c.flush();
    assert_eq!(
        c.next_event(),
        Some(Event::Pong(Bytes::from_static(b"are you there")))
    );
    assert_eq!(
        c.next_event(),
        Some(Event::Text(Utf8Bytes::from("fragmented €")))
    );
    engine.stop(Duration::from_secs(1));
}

#[test]
fn invalid_utf8_closes_with_1007_and_is_reported() {
    let (engine, addr, seen) = echo_engine(Config::default());
    let mut c = tcp_client_with_timeout(addr, "/");
    c.send_raw_frame(0x1, b"ok \xF4\x90\x80\x80");
    assert_eq!(close_code(c.next_event()), Some(1007));
    assert!(c.read_until_eof(), "server closes the TCP connection");
    let closed = wait_for(&seen, T, |s| matches!(s, Seen::Close(..)));
    assert!(matches!(closed, Seen::Close(_, 1007, _)), "{closed:?}");
    engine.stop(Duration::from_secs(1));
}

#[test]
fn clean_close_reports_the_peer_code() {
    let (engine, addr, seen) = echo_engine(Config::default());
    let mut c = tcp_client_with_timeout(addr, "/");
    c.ws.close(CloseCode(4000), "bye").unwrap();
    c.flush();
    assert_eq!(close_code(c.next_event()), Some(4000));
    assert!(c.read_until_eof());
    let closed = wait_for(&seen, T, |s| matches!(s, Seen::Close(..)));
    assert_eq!(
        closed,
        Seen::Close(
            match closed {
                Seen::Close(id, ..) => id,
                _ => unreachable!(),
            },
            4000,
            "bye".into()
        )
    );
    engine.stop(Duration::from_secs(1));
}

#[test]
fn bad_upgrades_get_http_errors() {
    let (engine, addr, _seen) = echo_engine(Config::default());
    let r = raw_http(
        addr,
        upgrade_request("/", "Sec-WebSocket-Version: 8\r\n").as_bytes(),
    );
    assert!(r.starts_with("HTTP/1.1 426 "), "{r}");
    assert!(r.contains("Sec-WebSocket-Version: 13\r\n"), "{r}");
    let r = raw_http(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    let r = raw_http(addr, b"NOT HTTP AT ALL\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    let r = raw_http(
        addr,
        upgrade_request("/", &format!("X-Big: {}\r\n", "a".repeat(10_000))).as_bytes(),
    );
    assert!(r.starts_with("HTTP/1.1 431 "), "{r}");
    engine.stop(Duration::from_secs(1));
}

#[test]
fn the_handler_may_reject_an_upgrade() {
    struct Gate;
    impl Handler for Gate {
        fn on_upgrade(
            &mut self,
            req: &rocwebsocket::proto::handshake::Request,
            protocol: Option<&str>,
        ) -> rocwebsocket::net::Upgrade {
            if req.header("authorization") == Some("secret") {
                rocwebsocket::net::Upgrade::Accept {
                    protocol: protocol.map(Into::into),
                    headers: vec![("X-Hello".into(), "1".into())],
                }
            } else {
                rocwebsocket::net::Upgrade::Reject {
                    status: 401,
                    body: "who are you".into(),
                }
            }
        }
        fn on_message(&mut self, _: &mut Conn<'_>, _: Message) {}
    }
    let config = Config {
        listen: vec![Endpoint::Tcp(([127, 0, 0, 1], 0).into())],
        threads: 1,
        protocols: vec!["v2".into()],
        ..Config::default()
    };
    let engine = Engine::start(config, |_, _| Gate).unwrap();
    let addr = engine.local_addr().unwrap();
    let r = raw_http(
        addr,
        upgrade_request("/", "Sec-WebSocket-Version: 13\r\n").as_bytes(),
    );
    assert!(
        r.starts_with("HTTP/1.1 401 ") && r.ends_with("who are you"),
        "{r}"
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(upgrade_request("/", "Sec-WebSocket-Version: 13\r\nAuthorization: secret\r\nSec-WebSocket-Protocol: v1, v2\r\n").as_bytes()).unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Protocol: v2\r\n") && head.contains("X-Hello: 1\r\n"),
        "{head}"
    );
    engine.stop(Duration::from_secs(1));
}

#[test]
fn handshake_timeout_drops_slowloris() {
    let mut config = Config::default();
    config.timeouts.handshake = Some(Duration::from_millis(300));
    let (engine, addr, _seen) = echo_engine(config);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap(); // never finished
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "dropped without a response");
    assert!(start.elapsed() < Duration::from_secs(5));
    engine.stop(Duration::from_secs(1));
}

#[test]
fn idle_timeout_closes_with_1001() {
    let mut config = Config::default();
    config.timeouts.idle = Some(Duration::from_millis(300));
    let (engine, addr, seen) = echo_engine(config);
    let mut c = tcp_client_with_timeout(addr, "/");
    assert_eq!(close_code(c.next_event()), Some(1001));
    assert!(c.read_until_eof());
    assert!(matches!(
        wait_for(&seen, T, |s| matches!(s, Seen::Close(..))),
        Seen::Close(_, 1001, _)
    ));
    engine.stop(Duration::from_secs(1));
}

#[test]
fn automatic_pings_and_pong_timeout() {
    let mut config = Config::default();
    config.timeouts.ping_interval = Some(Duration::from_millis(200));
    config.timeouts.pong_timeout = Duration::from_millis(300);
    let (engine, addr, seen) = echo_engine(config);
    // A live client answers the pings (on its own thread) and stays.
    let mut live = tcp_client_with_timeout(addr, "/live");
    let live = std::thread::spawn(move || {
        let start = Instant::now();
        let mut pings = 0;
        while start.elapsed() < Duration::from_millis(1500) {
            if let Some(Event::Ping(p)) = live.next_event() {
                assert!(p.is_empty());
                pings += 1;
            }
        }
        live.send_text("still here");
        assert_eq!(
            live.next_message(),
            Some(Event::Text(Utf8Bytes::from("still here")))
        );
        pings
    });
    // A dead one (never reads, so never answers) is dropped and reported as 1006.
    let _dead = TestClient::connect(addr, "/dead");
    let dead_id = match wait_for(&seen, T, |s| matches!(s, Seen::Open(_, p) if p == "/dead")) {
        Seen::Open(id, _) => id,
        _ => unreachable!(),
    };
    let closed = wait_for(
        &seen,
        T,
        |s| matches!(s, Seen::Close(id, ..) if *id == dead_id),
    );
    assert!(matches!(closed, Seen::Close(_, 1006, _)), "{closed:?}");
    let pings = live.join().unwrap();
    assert!(
        pings >= 3,
        "only {pings} pings in 1.5 s at a 200 ms interval"
    );
    engine.stop(Duration::from_secs(1));
}

#[test]
fn close_handshake_timeout_reports_1006() {
    let mut config = Config::default();
    config.timeouts.close = Duration::from_millis(300);
    let (engine, addr, seen) = echo_engine(config);
    let _silent = TestClient::connect(addr, "/");
    let id = match wait_for(&seen, T, |s| matches!(s, Seen::Open(..))) {
        Seen::Open(id, _) => id,
        _ => unreachable!(),
    };
    assert_eq!(
        engine
            .handle()
            .close(id, CloseCode::NORMAL, &"x".repeat(124)),
        Err(rocwebsocket::net::HandleError::ReasonTooLong)
    );
    engine.handle().close(id, CloseCode::NORMAL, "bye").unwrap();
    let start = Instant::now();
    let closed = wait_for(&seen, T, |s| matches!(s, Seen::Close(..)));
    assert!(matches!(closed, Seen::Close(_, 1006, _)), "{closed:?}");
    assert!(start.elapsed() >= Duration::from_millis(250));
    engine.stop(Duration::from_secs(1));
}

#[test]
fn connection_cap_answers_503() {
    let mut config = Config::default();
    config.limits.max_connections = 2;
    let (engine, addr, seen) = echo_engine(config);
    let _a = TestClient::connect(addr, "/");
    let _b = TestClient::connect(addr, "/");
    let r = raw_http(
        addr,
        upgrade_request("/", "Sec-WebSocket-Version: 13\r\n").as_bytes(),
    );
    assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
    drop(_a);
    wait_for(&seen, T, |s| matches!(s, Seen::Close(..)));
    let mut c = tcp_client_with_timeout(addr, "/");
    c.send_text("room again");
    assert_eq!(
        c.next_message(),
        Some(Event::Text(Utf8Bytes::from("room again")))
    );
    engine.stop(Duration::from_secs(1));
}

/// Pushes 64 KiB messages to every connection that sends "flood".
struct Flooder;
impl Handler for Flooder {
    fn on_message(&mut self, conn: &mut Conn<'_>, _: Message) {
        let chunk = Bytes::from(vec![0u8; 64 * 1024]);
        while conn.send(Message::Binary(chunk.clone())).is_ok()
            && conn.buffered_amount() < (8 << 20)
        {}
    }
    fn on_drain(&mut self, conn: &mut Conn<'_>) {
        let chunk = Bytes::from(vec![0u8; 64 * 1024]);
        while conn.buffered_amount() < (8 << 20)
            && conn.send(Message::Binary(chunk.clone())).is_ok()
        {}
    }
    fn on_close(&mut self, _: ConnId, code: CloseCode, _: &str) {
        CLOSES.lock().unwrap().push(code.0);
    }
}
static CLOSES: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());

#[test]
fn slow_reader_is_dropped_with_1008() {
    let mut config = Config {
        listen: vec![Endpoint::Tcp(([127, 0, 0, 1], 0).into())],
        threads: 1,
        ..Config::default()
    };
    config.limits.max_buffered = 1 << 20;
    config.limits.backpressure = BackpressurePolicy::Drop;
    config.timeouts.close = Duration::from_millis(300);
    let engine = Engine::start(config, |_, _| Flooder).unwrap();
    let mut c = tcp_client_with_timeout(engine.local_addr().unwrap(), "/");
    c.send_text("flood");
    // Never read: the server must give up on us rather than buffer without end.
    let deadline = Instant::now() + T;
    while !CLOSES.lock().unwrap().contains(&1008) {
        assert!(Instant::now() < deadline, "slow reader not dropped");
        std::thread::sleep(Duration::from_millis(20));
    }
    engine.stop(Duration::from_secs(1));
}

#[test]
fn backpressure_can_be_left_to_the_application() {
    let mut config = Config::default();
    config.limits.max_buffered = 1 << 20;
    config.limits.backpressure = BackpressurePolicy::Notify;
    // Flow control off: it would stop reading this client (which does not
    // read its echoes) before the queue passed the cap (see abuse tests).
    config.limits.write_high_watermark = 0;
    let (engine, addr, seen) = echo_engine(config);
    let mut c = tcp_client_with_timeout(addr, "/");
    // Send far more than the cap without reading the echoes.
    let big = vec![7u8; 1 << 20];
    for _ in 0..12 {
        c.send_binary(&big);
    }
    let s = wait_for(&seen, T, |s| matches!(s, Seen::Backpressure(..)));
    assert!(matches!(s, Seen::Backpressure(_, n) if n > 1 << 20));
    for _ in 0..12 {
        assert_eq!(
            c.next_message(),
            Some(Event::Binary(Bytes::from(big.clone())))
        );
    }
    engine.stop(Duration::from_secs(1));
}

#[test]
fn graceful_shutdown_sends_1001_to_everyone() {
    let (engine, addr, seen) = echo_engine(Config {
        threads: 2,
        ..Config::default()
    });
    let mut clients: Vec<_> = (0..10)
        .map(|_| tcp_client_with_timeout(addr, "/"))
        .collect();
    for _ in 0..10 {
        wait_for(&seen, T, |s| matches!(s, Seen::Open(..)));
    }
    let handle = engine.handle().clone();
    let stopper = std::thread::spawn(move || engine.stop(Duration::from_secs(5)));
    for c in &mut clients {
        assert_eq!(close_code(c.next_event()), Some(1001));
        c.flush(); // our echo of the close frame
        assert!(c.read_until_eof());
    }
    stopper.join().unwrap();
    assert!(handle.is_stopped());
    assert_eq!(handle.connection_count(), 0, "nothing leaks");
    let codes: Vec<u16> = seen
        .try_iter()
        .filter_map(|s| match s {
            Seen::Close(_, c, _) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![1001; 10]);
}

#[test]
fn ipv6_and_unix_sockets() {
    let path = std::env::temp_dir().join(format!("rocws-test-{}.sock", std::process::id()));
    let mut config = Config {
        threads: 2,
        ..Config::default()
    };
    config.listen.push(Endpoint::Unix(path.clone()));
    let v6 = "[::1]:0".parse().unwrap();
    let have_v6 = std::net::TcpListener::bind(v6).is_ok();
    if have_v6 {
        config.listen.push(Endpoint::Tcp(v6));
    }
    let (engine, _, _seen) = echo_engine(config);
    let stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    let mut c = TestClient::handshake(stream, "/unix");
    c.send_text("over unix");
    assert_eq!(
        c.next_message(),
        Some(Event::Text(Utf8Bytes::from("over unix")))
    );
    if have_v6 {
        let addr = engine.local_endpoints().iter().find_map(|e| match e {
            Endpoint::Tcp(a) if a.is_ipv6() => Some(*a),
            _ => None,
        });
        let mut c = tcp_client_with_timeout(addr.unwrap(), "/v6");
        c.send_text("over v6");
        assert_eq!(
            c.next_message(),
            Some(Event::Text(Utf8Bytes::from("over v6")))
        );
    } else {
        eprintln!("note: no IPv6 loopback here; only the Unix socket was checked");
    }
    engine.stop(Duration::from_secs(1));
    let _ = std::fs::remove_file(path);
}

/// Client side of the scale test: sends 100 numbered messages per connection
/// (pipelined), checks every echo in order, then closes.
struct Counter {
    per_conn: usize,
    next: std::collections::HashMap<ConnId, usize>,
    done: Arc<AtomicUsize>,
    errors: mpsc::Sender<String>,
}

impl Handler for Counter {
    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        assert!(info.is_client);
        self.next.insert(conn.id(), 0);
        for i in 0..self.per_conn {
            conn.send_text(&format!("{}:{i}", info.tag)).unwrap();
        }
    }
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        let expected = self.next.get_mut(&conn.id()).unwrap();
        let Message::Text(t) = message else {
            return drop(self.errors.send("binary".into()));
        };
        let i: usize = t.rsplit(':').next().unwrap().parse().unwrap();
        if i != *expected {
            let _ = self.errors.send(format!("expected {expected}, got {t}"));
        }
        *expected += 1;
        if *expected == self.per_conn {
            self.done.fetch_add(1, Ordering::SeqCst);
            let _ = conn.close(CloseCode::NORMAL, "");
        }
    }
    fn on_connect_error(&mut self, tag: u64, error: &std::io::Error) {
        let _ = self.errors.send(format!("connect {tag}: {error}"));
    }
}

#[test]
fn a_thousand_clients_echo_a_hundred_messages_each() {
    raise_fd_limit();
    let (server, addr, _seen) = echo_engine(Config {
        threads: 2,
        ..Config::default()
    });
    let done = Arc::new(AtomicUsize::new(0));
    let (etx, erx) = mpsc::channel();
    let client_config = Config {
        threads: 2,
        ..Config::default()
    };
    let d = done.clone();
    let clients = Engine::start(client_config, move |_, _| Counter {
        per_conn: 100,
        next: Default::default(),
        done: d.clone(),
        errors: etx.clone(),
    })
    .unwrap();
    let url = format!("ws://{addr}/scale");
    for tag in 0..1000u64 {
        clients
            .handle()
            .connect(
                &url,
                ClientOptions {
                    tag,
                    ..ClientOptions::default()
                },
            )
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.load(Ordering::SeqCst) < 1000 {
        if let Ok(e) = erx.try_recv() {
            panic!("{e}");
        }
        assert!(
            Instant::now() < deadline,
            "only {} of 1000 finished",
            done.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(erx.try_recv().is_err());
    clients.stop(Duration::from_secs(5));
    server.stop(Duration::from_secs(5));
}

/// Echoes, and pauses reading after a message saying "pause".
struct PausingEcho {
    paused: mpsc::Sender<ConnId>,
}

impl Handler for PausingEcho {
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        if message.as_bytes() == b"pause" {
            conn.pause_reading();
            assert!(conn.is_reading_paused());
            let _ = self.paused.send(conn.id());
        }
        let _ = conn.send(message);
    }
}

#[test]
fn paused_reading_holds_messages_back_and_suspends_the_idle_timeout() {
    let mut config = Config {
        listen: vec![Endpoint::Tcp(([127, 0, 0, 1], 0).into())],
        threads: 1,
        ..Config::default()
    };
    config.timeouts.idle = Some(Duration::from_millis(200));
    let (tx, paused) = mpsc::channel();
    let engine = Engine::start(config, move |_, _| PausingEcho { paused: tx.clone() }).unwrap();
    let mut c = tcp_client_with_timeout(engine.local_addr().unwrap(), "/");
    c.send_text("pause");
    let id = paused.recv_timeout(T).unwrap();
    assert_eq!(c.next_message(), Some(Event::Text("pause".into())));
    // Sent separately so that they cannot share the read that brought "pause".
    for i in 0..3 {
        c.send_text(&format!("held {i}"));
    }
    // Three idle timeouts pass: no echo (nothing is read) and no idle close.
    c.stream
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    assert_eq!(c.next_event(), None, "a paused connection was read");
    c.stream.set_read_timeout(Some(T)).unwrap();
    engine.handle().resume_reading(id).unwrap();
    for i in 0..3 {
        assert_eq!(
            c.next_message(),
            Some(Event::Text(format!("held {i}").into()))
        );
    }
    // Deadlines run again once resumed: the idle timeout now closes it.
    assert_eq!(close_code(c.next_message()), Some(1001));
    engine.stop(Duration::from_secs(1));
}

#[test]
fn more_threads_than_connection_ids_can_name_are_refused() {
    let config = Config {
        threads: rocwebsocket::net::MAX_THREADS + 1,
        ..Config::default()
    };
    match Engine::start(config, |_, _| PausingEcho {
        paused: mpsc::channel().0,
    }) {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput),
        Ok(_) => panic!("an engine with more threads than ids can name started"),
    }
}
