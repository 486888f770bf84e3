//! `rocws exchange-sim`: a local stand-in for a market-data exchange, for
//! the feed client's tests and examples. It behaves as exchanges do:
//!
//! - `{"op":"subscribe"}` starts numbered messages `{"seq":N}`: one stream
//!   advancing at `--rate` per second, the same numbers on every subscribed
//!   connection (so a client sees whether it missed any, and two connections
//!   overlap as two subscriptions to an exchange do);
//! - `{"op":"ping"}` is answered `{"op":"pong"}`; with `--require-ping-ms`
//!   a connection silent in that way for longer is closed with 4000;
//! - with `--server-ping-ms` it sends `{"ping":T}` and counts the right
//!   `{"pong":T}` answers (`{"op":"stats"}` returns `{"pongs":K}`);
//! - with `--cut-after-ms` each connection is cut (1012) after a random
//!   time in [N/2, N], announced by `{"event":"maintenance"}` `--notice-ms`
//!   before; after each cut, upgrades are refused with 429 for `--refuse-ms`;
//! - `{"op":"blackhole"}` makes it stop reading and writing that
//!   connection without closing it (a peer gone without a FIN).
//!
//! It prints `rocws: exchange simulator listening on ADDR` on stderr.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocwebsocket::net::{
    Config, Conn, ConnId, Engine, Handle, Handler, Message, OpenInfo, TlsAcceptor, TlsListen,
    Upgrade,
};
use rocwebsocket::proto::handshake::Request;
use rocwebsocket::proto::CloseCode;

#[derive(Debug, Clone, Copy, Default)]
struct Settings {
    rate: f64,
    require_ping: Option<Duration>,
    server_ping: Option<Duration>,
    cut_after: Option<Duration>,
    notice: Duration,
    refuse: Duration,
}

struct Client {
    opened: Instant,
    last_ping: Instant,
    /// The next stream number this connection gets, once subscribed.
    next_seq: Option<u64>,
    blackholed: bool,
    cut_at: Option<Instant>,
    noticed: bool,
    /// The last server ping and the value it carried (milliseconds since
    /// open), while unanswered.
    last_server_ping: Instant,
    awaiting: Option<u128>,
}

#[derive(Default)]
struct State {
    clients: HashMap<ConnId, Client>,
    refuse_until: Option<Instant>,
    /// When the stream started (number 1).
    start: Option<Instant>,
    pongs: u64,
    random: u64,
}

impl State {
    /// The stream's latest number at `now`.
    fn position(&mut self, rate: f64, now: Instant) -> u64 {
        let start = *self.start.get_or_insert(now);
        (now.duration_since(start).as_secs_f64() * rate) as u64
    }

    fn next_random(&mut self) -> u64 {
        // xorshift: only to spread cuts out.
        let mut x = self.random | 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random = x;
        x
    }
}

struct Sim {
    state: Arc<Mutex<State>>,
    settings: Settings,
    handle: Handle,
}

impl Handler for Sim {
    fn on_upgrade(&mut self, _request: &Request, protocol: Option<&str>) -> Upgrade {
        let state = self.state.lock().unwrap();
        if state.refuse_until.is_some_and(|t| Instant::now() < t) {
            return Upgrade::Reject {
                status: 429,
                body: "too many requests: the exchange is restarting".into(),
            };
        }
        Upgrade::Accept {
            protocol: protocol.map(str::to_owned),
            headers: Vec::new(),
        }
    }

    fn on_open(&mut self, conn: &mut Conn<'_>, _info: OpenInfo) {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        let cut_at = self.settings.cut_after.map(|d| {
            let half = d / 2;
            let spread = state.next_random() % (half.as_millis() as u64 + 1);
            now + half + Duration::from_millis(spread)
        });
        state.clients.insert(
            conn.id(),
            Client {
                opened: now,
                last_ping: now,
                next_seq: None,
                blackholed: false,
                cut_at,
                noticed: false,
                last_server_ping: now,
                awaiting: None,
            },
        );
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        let Message::Text(text) = message else { return };
        let mut state = self.state.lock().unwrap();
        let pongs = state.pongs;
        let position = state.position(self.settings.rate, Instant::now());
        let Some(c) = state.clients.get_mut(&conn.id()) else {
            return;
        };
        if c.blackholed {
            return;
        }
        let text = text.as_str();
        if text == r#"{"op":"subscribe"}"# {
            c.next_seq.get_or_insert(position + 1);
            let _ = conn.send_text(r#"{"event":"subscribed"}"#);
        } else if text == r#"{"op":"ping"}"# {
            c.last_ping = Instant::now();
            let _ = conn.send_text(r#"{"op":"pong"}"#);
        } else if text == r#"{"op":"stats"}"# {
            let _ = conn.send_text(&format!(r#"{{"pongs":{pongs}}}"#));
        } else if text == r#"{"op":"blackhole"}"# {
            c.blackholed = true;
            conn.pause_reading();
        } else if let Some(rest) = text.strip_prefix(r#"{"pong":"#) {
            let answer = rest.strip_suffix('}').and_then(|n| n.parse::<u128>().ok());
            if answer.is_some() && answer == c.awaiting {
                c.awaiting = None;
                state.pongs += 1;
            }
        }
    }

    fn on_close(&mut self, id: ConnId, _code: CloseCode, _reason: &str) {
        self.state.lock().unwrap().clients.remove(&id);
    }
}

impl Sim {
    /// One turn of the ticker: feeds, pings, deadlines and cuts.
    fn tick(&self) {
        let now = Instant::now();
        let s = self.settings;
        let mut state = self.state.lock().unwrap();
        let mut closes = Vec::new();
        let mut sends = Vec::new();
        let ids: Vec<ConnId> = state.clients.keys().copied().collect();
        for id in ids {
            let c = &state.clients[&id];
            if c.blackholed {
                continue;
            }
            if s.require_ping.is_some_and(|d| now > c.last_ping + d) {
                closes.push((id, CloseCode(4000), "application ping required"));
                continue;
            }
            if let Some(cut) = c.cut_at {
                if now >= cut {
                    closes.push((id, CloseCode(1012), "maintenance"));
                    continue;
                }
                if !c.noticed && now + s.notice >= cut {
                    sends.push((id, r#"{"event":"maintenance"}"#.to_owned()));
                    state.clients.get_mut(&id).unwrap().noticed = true;
                }
            }
            if let Some(every) = s.server_ping {
                let c = state.clients.get_mut(&id).unwrap();
                if c.awaiting.is_some() && now > c.last_server_ping + every * 10 {
                    closes.push((id, CloseCode(4001), "pong required"));
                    continue;
                }
                if c.awaiting.is_none() && now >= c.last_server_ping + every {
                    let t = now.duration_since(c.opened).as_millis();
                    sends.push((id, format!(r#"{{"ping":{t}}}"#)));
                    c.awaiting = Some(t);
                    c.last_server_ping = now;
                }
            }
            let position = state.position(s.rate, now);
            let c = state.clients.get_mut(&id).unwrap();
            if let Some(next) = c.next_seq {
                // At most 1000 per turn: a stalled ticker catches up gradually.
                let last = position.min(next + 999);
                for seq in next..=last {
                    sends.push((id, format!(r#"{{"seq":{seq}}}"#)));
                }
                c.next_seq = Some(next.max(last + 1));
            }
        }
        if !closes.is_empty() && !s.refuse.is_zero() {
            state.refuse_until = Some(now + s.refuse);
        }
        drop(state);
        for (id, text) in sends {
            let _ = self.handle.send_text(id, text);
        }
        for (id, code, reason) in closes {
            self.state.lock().unwrap().clients.remove(&id);
            let _ = self.handle.close(id, code, reason);
        }
    }
}

fn millis(text: &str, flag: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("{flag}: not a number of milliseconds: {text}"))
}

/// Runs the simulator until SIGINT/SIGTERM.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut settings = Settings {
        rate: 100.0,
        ..Settings::default()
    };
    let mut listen = None;
    let (mut cert, mut key) = (None, None);
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let v = || {
            args.get(i + 1)
                .cloned()
                .ok_or(format!("{flag} needs a value"))
        };
        match flag {
            "--listen" => listen = Some(v()?),
            "--tls-cert" => cert = Some(v()?),
            "--tls-key" => key = Some(v()?),
            "--rate" => settings.rate = v()?.parse().map_err(|_| "--rate: not a number")?,
            "--require-ping-ms" => settings.require_ping = Some(millis(&v()?, flag)?),
            "--server-ping-ms" => settings.server_ping = Some(millis(&v()?, flag)?),
            "--cut-after-ms" => settings.cut_after = Some(millis(&v()?, flag)?),
            "--notice-ms" => settings.notice = millis(&v()?, flag)?,
            "--refuse-ms" => settings.refuse = millis(&v()?, flag)?,
            other => return Err(format!("exchange-sim: unknown option {other}")),
        }
        i += 2;
    }
    let endpoint = listen
        .as_deref()
        .unwrap_or("127.0.0.1:0")
        .parse()
        .map_err(|e| format!("--listen: {e}"))?;
    let mut config = Config {
        threads: 1,
        ..Config::default()
    };
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some(TlsAcceptor::from_pem_files(&c, &k)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    match tls {
        Some(acceptor) => config.listen_tls.push(TlsListen {
            endpoint,
            acceptor: acceptor.map_err(|e| e.to_string())?,
        }),
        None => config.listen.push(endpoint),
    }
    let state = Arc::new(Mutex::new(State {
        random: 0x9E37_79B9_7F4A_7C15,
        ..State::default()
    }));
    let st = state.clone();
    let engine = Engine::start(config, move |_, handle| Sim {
        state: st.clone(),
        settings,
        handle: handle.clone(),
    })
    .map_err(|e| format!("cannot start: {e}"))?;
    let ticker = Sim {
        state,
        settings,
        handle: engine.handle().clone(),
    };
    let scheme = if engine.local_tls_addr().is_some() {
        "wss"
    } else {
        "ws"
    };
    let addr = engine
        .local_tls_addr()
        .or(engine.local_addr())
        .ok_or("no address")?;
    eprintln!("rocws: exchange simulator listening on {scheme}://{addr}/");
    let signals = super::termination_signals();
    loop {
        if signals.try_recv().is_ok() {
            break;
        }
        ticker.tick();
        std::thread::sleep(Duration::from_millis(5));
    }
    engine.stop(Duration::from_secs(1));
    Ok(())
}
