//! `rocws`: an echo/broadcast server, a line client, and an Autobahn client.
//!
//! ```text
//! rocws serve [--listen ADDR]... [--tls-cert FILE --tls-key FILE] [--threads N] [--broadcast [--broker URL]] [limits...]
//! rocws client URL [--protocol P]... [--header 'Name: value']... [--ca FILE] [limits...]
//! rocws autobahn-client [BASE_URL]
//! rocws bench [--url URL] [--mode echo|fanout|feed] [load options...]
//! ```

mod bench;
mod feed;
mod logger;
mod sim;
mod topics;

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use rocwebsocket::net::{
    BackpressurePolicy, ClientOptions, Config, Conn, ConnId, DeflateConfig, Endpoint, Engine,
    Handle, Handler, Message, OpenInfo, TlsAcceptor, TlsClientOptions, TlsConnector, TlsListen,
};
use rocwebsocket::proto::CloseCode;

const USAGE: &str = "usage:
  rocws serve [options]            echo server (default 127.0.0.1:9001)
      --listen ADDR                address to listen on, repeatable: 127.0.0.1:9001, [::1]:9001, unix:/path
      --threads N                  event-loop threads (default: one per core)
      --protocol P                 a supported subprotocol, repeatable, in preference order (browsers
                                   fail the handshake when they offer subprotocols and none is chosen)
      --broadcast                  relay every message to every client instead of echoing it; text
                                   messages `sub T`, `unsub T`, `pub T PAYLOAD` and `stats` are topic
                                   commands (see README, Topics across nodes)
      --broker URL                 with --broadcast: carry topics to and from the other nodes on this
                                   Redis broker (redis://[user:pass@]host:port, rediss:// for TLS)
      --no-deflate                 refuse permessage-deflate (accepted by default, RFC 7692)
      --deflate-window-bits N      compressor window, 9-15 bits (default 11)
      --deflate-mem-level N        compressor memory level, 1-9 (default 4)
      --deflate-threshold BYTES    send shorter messages uncompressed (default 64)
      --deflate-no-context-takeover
                                   reset the compressor after each message (no state kept)
      --feed RATE                  push 100-byte JSON-like text messages to every client:
                                   0 = as fast as each client reads, else RATE per second each
      --max-connections N          over it, new connections get 503 (default: no limit)
      --max-message BYTES          largest message, 1009 beyond (default 16 MiB)
      --max-frame BYTES            largest frame, 1009 beyond (default 16 MiB)
      --max-buffered BYTES         unsent bytes per connection before it is dropped with 1008 (default 64 MiB)
      --idle-timeout SECS          close connections silent this long with 1001 (default: off)
      --ping-interval SECS         ping connections silent this long; drop them if no answer in 10 s
                                   (default 30; 0 turns keepalive pings off)
      --handshake-timeout SECS     drop connections that do not finish the upgrade (default 10; 0: off)
      --tls-cert FILE --tls-key FILE
                                   serve wss:// with this PEM certificate chain and key: on the
                                   --tls-listen addresses, or else on every --listen address;
                                   SIGHUP reloads both files without dropping connections
      --tls-listen ADDR            a TLS address beside the plain --listen ones, repeatable
      --tls-sni NAME=CERT,KEY      another certificate for clients asking for NAME, repeatable
      --tls-client-ca FILE         mutual TLS: clients must show a certificate from this CA
  rocws client URL [options]       send stdin lines as text messages, print what comes back
      --protocol P                 offer a subprotocol, repeatable
      --header 'Name: value'       extra request header, repeatable
      --max-message BYTES          largest message accepted, 1009 beyond (default 16 MiB)
      --handshake-timeout SECS     give up connecting after this long (default 10; 0: off)
      --ping-interval SECS         ping when silent this long, drop if no answer in 10 s
                                   (default 30; 0: off)
      --no-deflate                 do not offer permessage-deflate (offered by default)
      --ca FILE                    wss://: trust these PEM CAs instead of the system's store
      --server-name NAME           wss://: the name to send (SNI) and check, if not the URL's host
      --pin-sha256 HEX             wss://: also require this SHA-256 of a chain certificate's
                                   public key (SubjectPublicKeyInfo), repeatable
      --cert FILE --key FILE       wss://: a client certificate (mutual TLS)
      --danger-accept-invalid-certs
                                   wss://: accept any certificate (tests only: no protection)
  rocws exchange-sim [options]     a local market-data exchange for feed-client tests (see sim.rs):
      --listen ADDR --tls-cert FILE --tls-key FILE --rate N --require-ping-ms N
      --server-ping-ms N --cut-after-ms N --notice-ms N --refuse-ms N
  rocws autobahn-client [BASE]     run the Autobahn fuzzingserver's cases (default ws://127.0.0.1:9002)
  any command: --log-level LEVEL   the library's log on stderr: off, error, warn (default), info, debug,
                                   trace (or RUST_LOG=LEVEL)
";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = logger::init(&mut args) {
        eprintln!("rocws: {e}");
        return ExitCode::FAILURE;
    }
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("client") => client(&args[1..]),
        Some("autobahn-client") => autobahn_client(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("exchange-sim") => sim::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}{}", bench::USAGE);
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rocws: {e}");
            ExitCode::FAILURE
        }
    }
}

fn value<'a>(args: &'a [String], i: &mut usize, flag: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i)
        .map(String::as_str)
        .ok_or_else(|| format!("{flag} needs a value"))
}

fn number<T: std::str::FromStr>(s: &str, flag: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("{flag}: not a number: {s}"))
}

/// Blocks SIGINT, SIGTERM and SIGHUP in every thread and returns a
/// receiver that gets each one that arrives (a thread waits for them with
/// sigwait, so no handler runs in signal context).
fn termination_signals() -> mpsc::Receiver<i32> {
    let (tx, rx) = mpsc::channel();
    // SAFETY: plain libc signal-set manipulation on a local, initialised set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || loop {
        let mut sig = 0;
        // SAFETY: `set` is a valid signal set and `sig` a valid out-pointer.
        if unsafe { libc::sigwait(&set, &mut sig) } == 0 && tx.send(sig).is_err() {
            return;
        }
    });
    rx
}

struct Echo {
    broadcast: bool,
}

impl Handler for Echo {
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        if self.broadcast {
            if !topics::run(conn, &message) {
                let _ = conn.handle().broadcast(&message);
            }
        } else {
            let _ = conn.send(message);
        }
    }
}

/// `rocws serve`'s TLS options.
#[derive(Default)]
struct TlsServeArgs {
    cert: Option<String>,
    key: Option<String>,
    listen: Vec<Endpoint>,
    sni: Vec<(String, String, String)>,
    client_ca: Option<String>,
}

impl TlsServeArgs {
    /// The acceptor, if certificates were given.
    fn acceptor(&self) -> Result<Option<TlsAcceptor>, String> {
        let (cert, key) = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => (c, k),
            (None, None) if self.sni.is_empty() && self.client_ca.is_none() => return Ok(None),
            _ => return Err("TLS needs both --tls-cert and --tls-key".into()),
        };
        let read = |path: &str| std::fs::read(path).map_err(|e| format!("{path}: {e}"));
        let acceptor = match &self.client_ca {
            None => TlsAcceptor::from_pem(&read(cert)?, &read(key)?),
            Some(ca) => TlsAcceptor::with_client_auth_pem(&read(cert)?, &read(key)?, &read(ca)?),
        }
        .map_err(|e| format!("{cert}, {key}: {e}"))?;
        for (name, cert, key) in &self.sni {
            acceptor
                .set_sni_cert_pem(name, &read(cert)?, &read(key)?)
                .map_err(|e| format!("--tls-sni {name}: {e}"))?;
        }
        Ok(Some(acceptor))
    }

    /// SIGHUP: the default certificate and the SNI ones are read again; on
    /// any error the old ones stay and the error is printed.
    fn reload(&self, acceptor: &TlsAcceptor) {
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return;
        };
        let mut result = acceptor.reload_pem_files(cert, key);
        for (name, cert, key) in &self.sni {
            if result.is_ok() {
                result = std::fs::read(cert)
                    .and_then(|c| std::fs::read(key).map(|k| (c, k)))
                    .and_then(|(c, k)| acceptor.set_sni_cert_pem(name, &c, &k));
            }
        }
        match result {
            Ok(()) => eprintln!("rocws: TLS certificates reloaded"),
            Err(e) => eprintln!("rocws: TLS reload failed, keeping the old certificates: {e}"),
        }
    }
}

fn serve(args: &[String]) -> Result<(), String> {
    let mut config = Config {
        // Browsers offer permessage-deflate; accept it unless told not to.
        deflate: DeflateConfig::default(),
        ..Config::default()
    };
    let mut tls = TlsServeArgs::default();
    let mut broadcast = false;
    let mut feed_rate = None;
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        match flag {
            "--listen" | "--addr" => {
                let v = value(args, &mut i, flag)?;
                config.listen.push(
                    v.parse::<Endpoint>()
                        .map_err(|e| format!("{flag} {v}: {e}"))?,
                );
            }
            "--threads" => config.threads = number(value(args, &mut i, flag)?, flag)?,
            "--protocol" => config.protocols.push(value(args, &mut i, flag)?.to_owned()),
            "--broadcast" => broadcast = true,
            "--broker" => {
                let url = value(args, &mut i, flag)?;
                config.broker = Some(rocwebsocket::net::BrokerConfig::new(url));
            }
            "--no-deflate" => config.deflate.enabled = false,
            "--deflate-window-bits" => {
                config.deflate.window_bits = number(value(args, &mut i, flag)?, flag)?
            }
            "--deflate-mem-level" => {
                config.deflate.mem_level = number(value(args, &mut i, flag)?, flag)?
            }
            "--deflate-threshold" => {
                config.deflate.threshold = number(value(args, &mut i, flag)?, flag)?
            }
            "--deflate-no-context-takeover" => config.deflate.no_context_takeover = true,
            "--feed" => feed_rate = Some(number::<f64>(value(args, &mut i, flag)?, flag)?),
            "--max-connections" => {
                config.limits.max_connections = number(value(args, &mut i, flag)?, flag)?
            }
            "--max-message" => {
                config.limits.conn.max_message_size = number(value(args, &mut i, flag)?, flag)?
            }
            "--max-frame" => {
                config.limits.conn.max_frame_size = number(value(args, &mut i, flag)?, flag)?
            }
            "--max-buffered" => {
                config.limits.max_buffered = number(value(args, &mut i, flag)?, flag)?
            }
            "--notify-backpressure" => config.limits.backpressure = BackpressurePolicy::Notify,
            "--idle-timeout" => {
                config.timeouts.idle = seconds_or_off(value(args, &mut i, flag)?, flag)?
            }
            "--ping-interval" => {
                config.timeouts.ping_interval = seconds_or_off(value(args, &mut i, flag)?, flag)?
            }
            "--handshake-timeout" => {
                config.timeouts.handshake = seconds_or_off(value(args, &mut i, flag)?, flag)?
            }
            "--tls-cert" => tls.cert = Some(value(args, &mut i, flag)?.to_owned()),
            "--tls-key" => tls.key = Some(value(args, &mut i, flag)?.to_owned()),
            "--tls-client-ca" => tls.client_ca = Some(value(args, &mut i, flag)?.to_owned()),
            "--tls-listen" => {
                let v = value(args, &mut i, flag)?;
                tls.listen.push(
                    v.parse::<Endpoint>()
                        .map_err(|e| format!("{flag} {v}: {e}"))?,
                );
            }
            "--tls-sni" => {
                let v = value(args, &mut i, flag)?;
                let parsed = v
                    .split_once('=')
                    .and_then(|(n, files)| files.split_once(',').map(|(c, k)| (n, c, k)));
                let (n, c, k) = parsed.ok_or("--tls-sni needs NAME=CERT,KEY")?;
                tls.sni.push((n.to_owned(), c.to_owned(), k.to_owned()));
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
        i += 1;
    }
    if config.broker.is_some() && !broadcast {
        return Err("--broker needs --broadcast (topics are broadcast mode's)".into());
    }
    let acceptor = tls.acceptor()?;
    if config.listen.is_empty() && (acceptor.is_none() || tls.listen.is_empty()) {
        config
            .listen
            .push(Endpoint::Tcp(([127, 0, 0, 1], 9001).into()));
    }
    if let Some(acceptor) = &acceptor {
        // TLS on the --tls-listen addresses, or else on every address.
        let tls_endpoints = if tls.listen.is_empty() {
            std::mem::take(&mut config.listen)
        } else {
            tls.listen.clone()
        };
        config.listen_tls = tls_endpoints
            .into_iter()
            .map(|endpoint| TlsListen {
                endpoint,
                acceptor: acceptor.clone(),
            })
            .collect();
    } else if !tls.listen.is_empty() {
        return Err("--tls-listen needs --tls-cert and --tls-key".into());
    }
    let plain_count = config.listen.len();
    let signals = termination_signals();
    let engine = match feed_rate {
        Some(rate) => feed::start(config, rate),
        None => Engine::start(config, |_, _| Echo { broadcast }),
    }
    .map_err(|e| format!("cannot start: {e}"))?;
    let addrs: Vec<String> = engine
        .local_endpoints()
        .iter()
        .enumerate()
        .map(|(i, e)| match i < plain_count {
            true => e.to_string(),
            false => format!("wss://{e}"),
        })
        .collect();
    eprintln!(
        "rocws: {} server listening on {} (Ctrl-C stops gracefully)",
        match (feed_rate, broadcast) {
            (Some(_), _) => "feed",
            (None, true) => "broadcast",
            (None, false) => "echo",
        },
        addrs.join(", ")
    );
    while let Ok(signal) = signals.recv() {
        if signal != libc::SIGHUP {
            break;
        }
        match &acceptor {
            Some(acceptor) => tls.reload(acceptor),
            None => eprintln!("rocws: SIGHUP ignored (no TLS certificates to reload)"),
        }
    }
    eprintln!("rocws: stopping (sending 1001 Going Away)");
    engine.stop(Duration::from_secs(5));
    Ok(())
}

enum ClientEvent {
    Open(ConnId),
    Closed(String),
}

struct LineClient {
    events: mpsc::Sender<ClientEvent>,
}

impl Handler for LineClient {
    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        if let Some(p) = &info.protocol {
            eprintln!("rocws: connected to {} (subprotocol {p})", info.peer);
        } else {
            eprintln!("rocws: connected to {}", info.peer);
        }
        let _ = self.events.send(ClientEvent::Open(conn.id()));
    }

    fn on_message(&mut self, _conn: &mut Conn<'_>, message: Message) {
        match message {
            Message::Text(t) => println!("{t}"),
            Message::Binary(b) => println!("<binary, {} bytes>", b.len()),
        }
    }

    fn on_close(&mut self, _id: ConnId, code: CloseCode, reason: &str) {
        let _ = self
            .events
            .send(ClientEvent::Closed(format!("closed: {code} {reason}")));
    }

    fn on_connect_error(&mut self, _tag: u64, error: &io::Error) {
        let _ = self
            .events
            .send(ClientEvent::Closed(format!("cannot connect: {error}")));
    }
}

fn client(args: &[String]) -> Result<(), String> {
    let mut url = None;
    let mut options = ClientOptions::default();
    let mut tls = TlsClientOptions::default();
    let mut tls_given = false;
    let mut deflate = true;
    let read = |path: &str| std::fs::read(path).map_err(|e| format!("{path}: {e}"));
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        match flag {
            "--protocol" => options
                .protocols
                .push(value(args, &mut i, flag)?.to_owned()),
            "--no-deflate" => deflate = false,
            "--header" => {
                let v = value(args, &mut i, flag)?;
                let (n, val) = v.split_once(':').ok_or("--header needs 'Name: value'")?;
                options
                    .headers
                    .push((n.trim().to_owned(), val.trim().to_owned()));
            }
            "--ca" => tls.ca_pem = Some(read(value(args, &mut i, flag)?)?),
            "--cert" => tls.client_cert_pem = Some(read(value(args, &mut i, flag)?)?),
            "--key" => tls.client_key_pem = Some(read(value(args, &mut i, flag)?)?),
            "--pin-sha256" => tls
                .pinned_spki_sha256
                .push(hex32(value(args, &mut i, flag)?)?),
            "--danger-accept-invalid-certs" => tls.danger_accept_invalid_certs = true,
            "--server-name" => options.server_name = Some(value(args, &mut i, flag)?.to_owned()),
            "--max-message" => {
                let limits = options.limits.get_or_insert_with(Default::default);
                limits.max_message_size = number(value(args, &mut i, flag)?, flag)?;
            }
            "--handshake-timeout" => {
                let timeouts = options.timeouts.get_or_insert_with(Default::default);
                timeouts.handshake = seconds_or_off(value(args, &mut i, flag)?, flag)?;
            }
            "--ping-interval" => {
                let timeouts = options.timeouts.get_or_insert_with(Default::default);
                timeouts.ping_interval = seconds_or_off(value(args, &mut i, flag)?, flag)?;
            }
            u if url.is_none() && !u.starts_with("--") => url = Some(u.to_owned()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
        if matches!(
            flag,
            "--ca" | "--cert" | "--key" | "--pin-sha256" | "--danger-accept-invalid-certs"
        ) {
            tls_given = true;
        }
        i += 1;
    }
    let url = url.ok_or(USAGE)?;
    if tls_given {
        options.tls = Some(TlsConnector::new(&tls).map_err(|e| e.to_string())?);
    }
    let (tx, rx) = mpsc::channel();
    let config = Config {
        threads: 1,
        deflate: if deflate {
            DeflateConfig::default()
        } else {
            DeflateConfig::disabled()
        },
        ..Config::default()
    };
    let engine = Engine::start(config, |_, _| LineClient { events: tx.clone() })
        .map_err(|e| e.to_string())?;
    let handle = engine.handle().clone();
    handle
        .connect(&url, options)
        .map_err(|e| format!("{url}: {e}"))?;
    let id = match rx.recv() {
        Ok(ClientEvent::Open(id)) => id,
        Ok(ClientEvent::Closed(why)) => {
            engine.stop(Duration::from_millis(100));
            return Err(why);
        }
        Err(_) => return Err("engine stopped".into()),
    };
    // Stdin lines go out from a thread of their own; the first close ends the program.
    let sender = handle.clone();
    let tx_stdin = tx.clone();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if sender.send_text(id, line).is_err() {
                return;
            }
        }
        let _ = sender.close(id, CloseCode::NORMAL, "");
        let _ = tx_stdin;
    });
    let outcome = loop {
        match rx.recv() {
            Ok(ClientEvent::Closed(why)) => break why,
            Ok(ClientEvent::Open(_)) => {}
            Err(_) => break "engine stopped".into(),
        }
    };
    eprintln!("rocws: {outcome}");
    engine.stop(Duration::from_millis(100));
    Ok(())
}

/// 64 hex digits (a SHA-256), colons allowed.
fn hex32(s: &str) -> Result<[u8; 32], String> {
    let digits: Vec<u8> = s.bytes().filter(|&b| b != b':').collect();
    let bad = || format!("not a SHA-256 in hex: {s}");
    if digits.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let text = std::str::from_utf8(pair).map_err(|_| bad())?;
        *o = u8::from_str_radix(text, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Runs the Autobahn fuzzingserver's cases one after the other, echoing
/// everything, then asks it to write its reports.
struct AutobahnClient {
    base: String,
    case_count: u64,
    next_case: u64,
    tags: HashMap<ConnId, u64>,
    handle: Handle,
    done: mpsc::Sender<Result<u64, String>>,
}

const TAG_COUNT: u64 = 0;
const TAG_REPORT: u64 = u64::MAX;

impl AutobahnClient {
    fn connect(&self, path: &str, tag: u64) {
        let url = format!("{}{path}", self.base);
        let options = ClientOptions {
            tag,
            ..ClientOptions::default()
        };
        if let Err(e) = self.handle.connect(&url, options) {
            let _ = self.done.send(Err(format!("{url}: {e}")));
        }
    }

    fn after(&mut self, tag: u64) {
        if tag == TAG_REPORT {
            let _ = self.done.send(Ok(self.case_count));
            return;
        }
        if tag != TAG_COUNT {
            self.next_case = tag + 1;
        }
        if self.next_case <= self.case_count {
            let path = format!("/runCase?case={}&agent=rocws", self.next_case);
            self.connect(&path, self.next_case);
        } else {
            self.connect("/updateReports?agent=rocws", TAG_REPORT);
        }
    }
}

impl Handler for AutobahnClient {
    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        self.tags.insert(conn.id(), info.tag);
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        match self.tags.get(&conn.id()) {
            Some(&TAG_COUNT) => {
                if let Message::Text(t) = &message {
                    self.case_count = t.trim().parse().unwrap_or(0);
                    self.next_case = 1;
                }
            }
            Some(&TAG_REPORT) => {}
            _ => {
                let _ = conn.send(message);
            }
        }
    }

    fn on_close(&mut self, id: ConnId, _code: CloseCode, _reason: &str) {
        if let Some(tag) = self.tags.remove(&id) {
            self.after(tag);
        }
    }

    fn on_connect_error(&mut self, tag: u64, error: &io::Error) {
        eprintln!("rocws: case {tag}: {error}");
        if tag == TAG_COUNT || tag == TAG_REPORT {
            let _ = self
                .done
                .send(Err(format!("cannot reach the fuzzingserver: {error}")));
        } else {
            self.after(tag);
        }
    }
}

fn autobahn_client(args: &[String]) -> Result<(), String> {
    let base = args
        .first()
        .map_or("ws://127.0.0.1:9002", String::as_str)
        .trim_end_matches('/')
        .to_owned();
    let (tx, rx) = mpsc::channel();
    let config = Config {
        threads: 1,
        // Sections 12 and 13 test permessage-deflate on the client side too.
        deflate: DeflateConfig::default(),
        ..Config::default()
    };
    let engine = Engine::start(config, |_, handle| AutobahnClient {
        base: base.clone(),
        case_count: 0,
        next_case: 1,
        tags: HashMap::new(),
        handle: handle.clone(),
        done: tx.clone(),
    })
    .map_err(|e| e.to_string())?;
    engine
        .handle()
        .connect(
            &format!("{base}/getCaseCount"),
            ClientOptions {
                tag: TAG_COUNT,
                ..ClientOptions::default()
            },
        )
        .map_err(|e| e.to_string())?;
    let result = rx.recv().map_err(|_| "engine stopped".to_owned())?;
    engine.stop(Duration::from_secs(1));
    let cases = result?;
    eprintln!("rocws: ran {cases} Autobahn cases");
    Ok(())
}

/// A duration in seconds for a timeout flag; 0 turns the timeout off.
fn seconds_or_off(text: &str, flag: &str) -> Result<Option<Duration>, String> {
    let secs: f64 = number(text, flag)?;
    if secs == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|_| format!("{flag}: not a number of seconds: {text}"))
}
