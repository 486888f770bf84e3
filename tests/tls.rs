//! wss:// end to end: the engine as TLS server and client, with a CA and
//! certificates made at run time (rcgen), and raw rustls peers that misbehave.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rocwebsocket::net::tls::spki_sha256;
use rocwebsocket::net::{
    ClientOptions, Config, Conn, ConnId, Endpoint, Engine, Handler, Message, OpenInfo, TlsAcceptor,
    TlsClientOptions, TlsConnector, TlsError, TlsListen,
};
use rocwebsocket::proto::CloseCode;

const T: Duration = Duration::from_secs(20);

// ---- certificates ----

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    cert_der: Vec<u8>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn pem(&self) -> Vec<u8> {
        self.cert.pem().into_bytes()
    }

    fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, |_| {})
    }

    fn leaf_with(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        edit(&mut params);
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
        }
    }
}

impl Leaf {
    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).unwrap()
    }
}

fn trusting(ca: &Ca) -> TlsConnector {
    TlsConnector::new(&TlsClientOptions {
        ca_pem: Some(ca.pem()),
        ..TlsClientOptions::default()
    })
    .unwrap()
}

// ---- engines ----

struct Echo;
impl Handler for Echo {
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        let _ = conn.send(message);
    }
}

/// What the recording handler saw.
#[derive(Debug)]
enum Seen {
    Open(ConnId, OpenInfo),
    Message(ConnId, Message),
    Close(ConnId, u16, String),
    ConnectError(u64, String, Option<String>),
}

struct Recorder(Sender<Seen>);
impl Handler for Recorder {
    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        let _ = self.0.send(Seen::Open(conn.id(), info));
    }
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        let _ = self.0.send(Seen::Message(conn.id(), message));
    }
    fn on_close(&mut self, id: ConnId, code: CloseCode, reason: &str) {
        let _ = self.0.send(Seen::Close(id, code.0, reason.to_owned()));
    }
    fn on_connect_error(&mut self, tag: u64, error: &std::io::Error) {
        let tls = TlsError::of(error).map(|t| {
            assert_eq!(t.close_code(), CloseCode::TLS_HANDSHAKE);
            t.reason().to_owned()
        });
        let _ = self.0.send(Seen::ConnectError(tag, error.to_string(), tls));
    }
}

fn local() -> Endpoint {
    Endpoint::Tcp(([127, 0, 0, 1], 0).into())
}

/// An echo server with a plain and a TLS listener: (engine, ws addr, wss addr).
fn tls_echo(acceptor: TlsAcceptor, config: Config) -> (Engine, SocketAddr, SocketAddr) {
    let config = Config {
        listen: vec![local()],
        listen_tls: vec![TlsListen {
            endpoint: local(),
            acceptor,
        }],
        threads: 1,
        ..config
    };
    let engine = Engine::start(config, |_, _| Echo).unwrap();
    let plain = engine.local_addr().unwrap();
    let tls = engine.local_tls_addr().unwrap();
    assert_ne!(plain, tls);
    (engine, plain, tls)
}

/// A client-only engine whose handler reports into a channel.
fn recorder(config: Config) -> (Engine, Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let engine = Engine::start(
        Config {
            threads: 1,
            ..config
        },
        move |_, _| Recorder(tx.clone()),
    )
    .unwrap();
    (engine, rx)
}

fn next(rx: &Receiver<Seen>) -> Seen {
    rx.recv_timeout(T).expect("an event in time")
}

fn connect(engine: &Engine, url: &str, options: ClientOptions) {
    engine.handle().connect(url, options).unwrap();
}

fn with_tls(connector: TlsConnector) -> ClientOptions {
    ClientOptions {
        tls: Some(connector),
        ..ClientOptions::default()
    }
}

/// Connects and waits for the open: the connection id.
fn open(engine: &Engine, rx: &Receiver<Seen>, url: &str, options: ClientOptions) -> ConnId {
    connect(engine, url, options);
    match next(rx) {
        Seen::Open(id, info) => {
            assert!(info.is_client);
            id
        }
        other => panic!("expected an open, got {other:?}"),
    }
}

fn echo_round(engine: &Engine, rx: &Receiver<Seen>, id: ConnId, message: Message) {
    engine.handle().send(id, message.clone()).unwrap();
    match next(rx) {
        Seen::Message(got_id, got) => {
            assert_eq!(got_id, id);
            assert_eq!(got, message, "echo of {} bytes", message.as_bytes().len());
        }
        other => panic!("expected the echo, got {other:?}"),
    }
}

/// The TLS reason of a failed connect.
fn connect_failure(rx: &Receiver<Seen>) -> String {
    match next(rx) {
        Seen::ConnectError(_, text, Some(reason)) => {
            assert_eq!(text, reason);
            reason
        }
        other => panic!("expected a TLS connect error, got {other:?}"),
    }
}

// ---- the tests ----

#[test]
fn echo_of_every_size_over_tls() {
    let ca = Ca::new("test CA");
    let (server, _, addr) = tls_echo(ca.leaf(&["localhost"]).acceptor(), Config::default());
    let (client, rx) = recorder(Config::default());
    let url = format!("wss://localhost:{}/echo", addr.port());
    let id = open(&client, &rx, &url, with_tls(trusting(&ca)));
    for len in [
        1usize,
        125,
        126,
        1000,
        16_383,
        16_384,
        16_385,
        65_535,
        65_536,
        200_000,
        1 << 20,
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        echo_round(&client, &rx, id, Message::Binary(data.into()));
        let text: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        echo_round(&client, &rx, id, Message::Text(text.into()));
    }
    // Many messages queued at once: one write's worth of records, in order.
    for i in 0..500u32 {
        let m = Message::Binary(i.to_be_bytes().to_vec().into());
        client.handle().send(id, m).unwrap();
    }
    for i in 0..500u32 {
        match next(&rx) {
            Seen::Message(_, m) => assert_eq!(m.as_bytes(), i.to_be_bytes()),
            other => panic!("{other:?}"),
        }
    }
    client
        .handle()
        .close(id, CloseCode::NORMAL, "done")
        .unwrap();
    match next(&rx) {
        Seen::Close(got, 1000, _) => assert_eq!(got, id),
        other => panic!("expected a clean close, got {other:?}"),
    }
    client.stop(Duration::from_secs(1));
    server.stop(Duration::from_secs(1));
}

#[test]
fn plain_and_tls_listeners_in_one_engine() {
    let ca = Ca::new("test CA");
    let (server, plain, tls) = tls_echo(ca.leaf(&["127.0.0.1"]).acceptor(), Config::default());
    let (client, rx) = recorder(Config::default());
    let a = open(
        &client,
        &rx,
        &format!("ws://{plain}/"),
        ClientOptions::default(),
    );
    let b = open(
        &client,
        &rx,
        &format!("wss://{tls}/"),
        with_tls(trusting(&ca)),
    );
    echo_round(&client, &rx, a, Message::Text("plain".into()));
    echo_round(&client, &rx, b, Message::Text("tls".into()));
    // The TLS port does not speak plain WebSocket, and the reverse.
    connect(
        &client,
        &format!("ws://{tls}/"),
        ClientOptions {
            tag: 7,
            ..ClientOptions::default()
        },
    );
    match next(&rx) {
        Seen::ConnectError(7, _, None) => {}
        other => panic!("plain client on the TLS port: {other:?}"),
    }
    connect(
        &client,
        &format!("wss://{plain}/"),
        ClientOptions {
            tag: 8,
            ..with_tls(trusting(&ca))
        },
    );
    match next(&rx) {
        Seen::ConnectError(8, _, Some(reason)) => assert!(reason.starts_with("TLS: "), "{reason}"),
        other => panic!("TLS client on the plain port: {other:?}"),
    }
    client.stop(Duration::from_secs(1));
    server.stop(Duration::from_secs(1));
}

#[test]
fn client_rejects_untrusted_expired_and_misnamed_certificates() {
    let ca = Ca::new("test CA");
    let other = Ca::new("someone else");
    let (client, rx) = recorder(Config::default());

    let (server, _, addr) = tls_echo(ca.leaf(&["localhost"]).acceptor(), Config::default());
    let url = format!("wss://localhost:{}/", addr.port());
    connect(&client, &url, with_tls(trusting(&other)));
    let reason = connect_failure(&rx);
    assert!(reason.contains("UnknownIssuer"), "untrusted CA: {reason}");
    // The system store does not know the test CA either.
    connect(&client, &url, ClientOptions::default());
    match next(&rx) {
        Seen::ConnectError(_, text, _) => assert!(
            text.contains("UnknownIssuer") || text.contains("system CA"),
            "system roots: {text}"
        ),
        other => panic!("{other:?}"),
    }
    // A wrong name: the certificate is for localhost.
    let options = ClientOptions {
        server_name: Some("example.org".into()),
        ..with_tls(trusting(&ca))
    };
    connect(&client, &url, options);
    let reason = connect_failure(&rx);
    assert!(
        reason.contains("NotValidForName") || reason.contains("not valid for name"),
        "wrong name: {reason}"
    );
    server.stop(Duration::from_secs(1));

    let expired = ca.leaf_with(&["localhost"], |p| {
        p.not_before = rcgen::date_time_ymd(2001, 1, 1);
        p.not_after = rcgen::date_time_ymd(2002, 1, 1);
    });
    let (server, _, addr) = tls_echo(expired.acceptor(), Config::default());
    connect(
        &client,
        &format!("wss://localhost:{}/", addr.port()),
        with_tls(trusting(&ca)),
    );
    let reason = connect_failure(&rx);
    assert!(
        reason.to_lowercase().contains("expired"),
        "expired: {reason}"
    );
    // Only under the dangerous option does it pass.
    let danger = TlsConnector::new(&TlsClientOptions {
        danger_accept_invalid_certs: true,
        ..TlsClientOptions::default()
    })
    .unwrap();
    let url = format!("wss://localhost:{}/", addr.port());
    let id = open(&client, &rx, &url, with_tls(danger));
    echo_round(&client, &rx, id, Message::Text("anyway".into()));
    server.stop(Duration::from_secs(1));
    client.stop(Duration::from_secs(1));
}

#[test]
fn pinning_the_server_key() {
    let ca = Ca::new("test CA");
    let leaf = ca.leaf(&["localhost"]);
    let (server, _, addr) = tls_echo(leaf.acceptor(), Config::default());
    let (client, rx) = recorder(Config::default());
    let url = format!("wss://localhost:{}/", addr.port());
    let pinned = |pin: [u8; 32]| {
        with_tls(
            TlsConnector::new(&TlsClientOptions {
                ca_pem: Some(ca.pem()),
                pinned_spki_sha256: vec![pin],
                ..TlsClientOptions::default()
            })
            .unwrap(),
        )
    };
    let right = spki_sha256(&leaf.cert_der).unwrap();
    let id = open(&client, &rx, &url, pinned(right));
    echo_round(&client, &rx, id, Message::Text("pinned".into()));
    let wrong = spki_sha256(&ca.leaf(&["localhost"]).cert_der).unwrap();
    assert_ne!(right, wrong);
    connect(&client, &url, pinned(wrong));
    let reason = connect_failure(&rx);
    assert!(reason.contains("pinned"), "{reason}");
    client.stop(Duration::from_secs(1));
    server.stop(Duration::from_secs(1));
}

#[test]
fn certificate_swapped_while_a_connection_is_open() {
    let old_ca = Ca::new("old CA");
    let new_ca = Ca::new("new CA");
    let acceptor = old_ca.leaf(&["localhost"]).acceptor();
    let (server, _, addr) = tls_echo(acceptor.clone(), Config::default());
    let (client, rx) = recorder(Config::default());
    let url = format!("wss://localhost:{}/", addr.port());
    let old = open(&client, &rx, &url, with_tls(trusting(&old_ca)));

    let fresh = new_ca.leaf(&["localhost"]);
    acceptor
        .set_cert_pem(fresh.cert_pem.as_bytes(), fresh.key_pem.as_bytes())
        .unwrap();
    // A bad replacement is refused and changes nothing.
    assert!(acceptor
        .set_cert_pem(b"nonsense", fresh.key_pem.as_bytes())
        .is_err());

    echo_round(&client, &rx, old, Message::Text("still here".into()));
    connect(&client, &url, with_tls(trusting(&old_ca)));
    let reason = connect_failure(&rx);
    assert!(reason.contains("UnknownIssuer"), "{reason}");
    let new = open(&client, &rx, &url, with_tls(trusting(&new_ca)));
    echo_round(&client, &rx, new, Message::Text("new cert".into()));
    echo_round(&client, &rx, old, Message::Text("old one too".into()));

    // A second name by SNI, with its own certificate.
    let third_ca = Ca::new("third CA");
    let named = third_ca.leaf(&["other.test"]);
    acceptor
        .set_sni_cert_pem(
            "Other.Test",
            named.cert_pem.as_bytes(),
            named.key_pem.as_bytes(),
        )
        .unwrap();
    let by_name = ClientOptions {
        server_name: Some("other.test".into()),
        ..with_tls(trusting(&third_ca))
    };
    let sni = open(&client, &rx, &url, by_name);
    echo_round(&client, &rx, sni, Message::Text("by SNI".into()));
    assert!(acceptor.remove_sni_cert("other.test"));
    assert!(!acceptor.remove_sni_cert("other.test"));
    client.stop(Duration::from_secs(1));
    server.stop(Duration::from_secs(1));
}

#[test]
fn mutual_tls() {
    let ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let leaf = ca.leaf(&["localhost"]);
    let acceptor = TlsAcceptor::with_client_auth_pem(
        leaf.cert_pem.as_bytes(),
        leaf.key_pem.as_bytes(),
        &client_ca.pem(),
    )
    .unwrap();
    assert!(acceptor.requires_client_cert());
    let (server, _, addr) = tls_echo(acceptor, Config::default());
    let (client, rx) = recorder(Config::default());
    let url = format!("wss://localhost:{}/", addr.port());

    connect(&client, &url, with_tls(trusting(&ca)));
    let reason = connect_failure(&rx);
    assert!(
        reason.contains("CertificateRequired") || reason.contains("alert"),
        "{reason}"
    );

    let stranger = Ca::new("stranger").leaf(&["client"]);
    let show = |leaf: &Leaf| {
        with_tls(
            TlsConnector::new(&TlsClientOptions {
                ca_pem: Some(ca.pem()),
                client_cert_pem: Some(leaf.cert_pem.clone().into_bytes()),
                client_key_pem: Some(leaf.key_pem.clone().into_bytes()),
                ..TlsClientOptions::default()
            })
            .unwrap(),
        )
    };
    connect(&client, &url, show(&stranger));
    let reason = connect_failure(&rx);
    assert!(reason.contains("alert"), "{reason}");

    let id = open(&client, &rx, &url, show(&client_ca.leaf(&["client"])));
    echo_round(&client, &rx, id, Message::Binary(vec![7; 70_000].into()));
    client.stop(Duration::from_secs(1));
    server.stop(Duration::from_secs(1));
}

#[test]
fn handshake_timeouts_both_ways() {
    let ca = Ca::new("test CA");
    let mut config = Config::default();
    config.timeouts.handshake = Some(Duration::from_millis(300));

    // Server: a client that connects and says nothing is dropped.
    let (server, _, addr) = tls_echo(ca.leaf(&["localhost"]).acceptor(), config.clone());
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(T)).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let n = raw.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a word");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    server.stop(Duration::from_secs(1));

    // Client: a server that accepts and never answers the ClientHello.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let (client, rx) = recorder(config);
    connect(
        &client,
        &format!("wss://localhost:{port}/"),
        with_tls(trusting(&ca)),
    );
    let (_held, _) = silent.accept().unwrap();
    let reason = connect_failure(&rx);
    assert!(reason.contains("timed out"), "{reason}");
    client.stop(Duration::from_secs(1));
}

// ---- raw rustls peers ----

fn rustls_client_config(ca: &Ca) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            ca.cert.der().to_vec(),
        ))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

const UPGRADE: &str =
    "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Reads an HTTP head from a blocking stream.
fn read_head(s: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "head cut short");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// A masked client frame.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8, 1, 2, 3, 4];
    f.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]),
    );
    f
}

#[test]
fn server_reports_1015_when_the_peer_drops_mid_record_and_sends_close_notify() {
    let ca = Ca::new("test CA");
    let (tx, rx) = mpsc::channel();
    let config = Config {
        listen_tls: vec![TlsListen {
            endpoint: local(),
            acceptor: ca.leaf(&["localhost"]).acceptor(),
        }],
        threads: 1,
        ..Config::default()
    };
    let server = Engine::start(config, move |_, _| Recorder(tx.clone())).unwrap();
    let addr = server.local_tls_addr().unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();

    // 1. A peer that sends half a record and goes away: 1015, reason says so.
    let mut session =
        rustls::ClientConnection::new(rustls_client_config(&ca), name.clone()).unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(T)).unwrap();
    {
        let mut tls = rustls::Stream::new(&mut session, &mut sock);
        tls.write_all(UPGRADE.as_bytes()).unwrap();
        assert!(read_head(&mut tls).starts_with("HTTP/1.1 101"));
    }
    let id = match next(&rx) {
        Seen::Open(id, _) => id,
        other => panic!("{other:?}"),
    };
    session
        .writer()
        .write_all(&client_frame(0x1, b"never whole"))
        .unwrap();
    let mut record = Vec::new();
    session.write_tls(&mut record).unwrap();
    sock.write_all(&record[..record.len() / 2]).unwrap();
    drop(sock);
    match next(&rx) {
        Seen::Close(got, 1015, reason) => {
            assert_eq!(got, id);
            assert!(reason.contains("close_notify"), "{reason}");
        }
        other => panic!("expected 1015, got {other:?}"),
    }

    // 2. A clean WebSocket close: the server answers, then sends close_notify.
    let mut session = rustls::ClientConnection::new(rustls_client_config(&ca), name).unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(T)).unwrap();
    let mut tls = rustls::Stream::new(&mut session, &mut sock);
    tls.write_all(UPGRADE.as_bytes()).unwrap();
    assert!(read_head(&mut tls).starts_with("HTTP/1.1 101"));
    assert!(matches!(next(&rx), Seen::Open(..)));
    tls.write_all(&client_frame(0x8, &[0x03, 0xe8])).unwrap();
    let mut rest = Vec::new();
    // read_to_end fails with UnexpectedEof unless close_notify arrived.
    tls.read_to_end(&mut rest)
        .expect("the server's close_notify");
    assert_eq!(
        rest,
        [0x88, 0x02, 0x03, 0xe8],
        "the close echo, then the end"
    );
    match next(&rx) {
        Seen::Close(_, 1000, _) => {}
        other => panic!("{other:?}"),
    }
    server.stop(Duration::from_secs(1));
}

#[test]
fn client_reports_1015_when_the_server_drops_mid_record() {
    let ca = Ca::new("test CA");
    let leaf = ca.leaf(&["localhost"]);
    let acceptor_config = {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = vec![rustls::pki_types::CertificateDer::from(
            leaf.cert_der.clone(),
        )];
        use rustls::pki_types::pem::PemObject;
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        )
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(T)).unwrap();
        let mut session = rustls::ServerConnection::new(acceptor_config).unwrap();
        let head = read_head(&mut rustls::Stream::new(&mut session, &mut sock));
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .to_owned();
        let accept = rocwebsocket::proto::handshake::accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        rustls::Stream::new(&mut session, &mut sock)
            .write_all(response.as_bytes())
            .unwrap();
        session
            .writer()
            .write_all(&[0x81, 5, b'h', b'e', b'l', b'l', b'o'])
            .unwrap();
        let mut record = Vec::new();
        session.write_tls(&mut record).unwrap();
        sock.write_all(&record[..record.len() - 3]).unwrap();
    });
    let (client, rx) = recorder(Config::default());
    let id = open(
        &client,
        &rx,
        &format!("wss://localhost:{port}/"),
        with_tls(trusting(&ca)),
    );
    match next(&rx) {
        Seen::Close(got, 1015, reason) => {
            assert_eq!(got, id);
            assert!(reason.starts_with("TLS: "), "{reason}");
        }
        other => panic!("expected 1015, got {other:?}"),
    }
    peer.join().unwrap();
    client.stop(Duration::from_secs(1));
}
