//! `rocws bench --mode feed --engine`: the feed received through the `net`
//! engine's client side (a Handler on one event-loop thread) instead of the
//! bench's own loop, to compare what an application using the engine pays
//! per message with what other libraries' clients pay.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rocwebsocket::net::{ClientOptions, Config, Conn, Engine, Handler, Message, OpenInfo};
use rocwebsocket::proto::CloseCode;

/// Messages and payload bytes received, published with plain stores (one
/// writer: the event-loop thread) so counting costs no locked instruction.
#[derive(Default)]
pub struct Counts {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
}

struct Counter {
    counts: Arc<Counts>,
    messages: u64,
    bytes: u64,
    opened: mpsc::Sender<Result<(), String>>,
}

impl Handler for Counter {
    fn on_open(&mut self, _conn: &mut Conn<'_>, _info: OpenInfo) {
        let _ = self.opened.send(Ok(()));
    }

    fn on_message(&mut self, _conn: &mut Conn<'_>, message: Message) {
        self.messages += 1;
        self.bytes += message.as_bytes().len() as u64;
        self.counts.messages.store(self.messages, Ordering::Relaxed);
        self.counts.bytes.store(self.bytes, Ordering::Relaxed);
    }

    fn on_close(&mut self, _id: rocwebsocket::net::ConnId, code: CloseCode, _reason: &str) {
        if code != CloseCode::NORMAL && code != CloseCode::GOING_AWAY {
            self.counts.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_connect_error(&mut self, _tag: u64, error: &io::Error) {
        let _ = self.opened.send(Err(error.to_string()));
    }
}

/// A running engine client with `conns` connections open to `url`.
pub struct EngineFeed {
    engine: Engine,
    pub counts: Arc<Counts>,
}

impl EngineFeed {
    pub fn connect(url: &str, conns: usize) -> Result<EngineFeed, String> {
        let counts = Arc::new(Counts::default());
        let (tx, rx) = mpsc::channel();
        let config = Config {
            threads: 1,
            ..Config::default()
        };
        let engine = Engine::start(config, |_, _| Counter {
            counts: counts.clone(),
            messages: 0,
            bytes: 0,
            opened: tx.clone(),
        })
        .map_err(|e| e.to_string())?;
        for _ in 0..conns {
            engine
                .handle()
                .connect(url, ClientOptions::default())
                .map_err(|e| format!("{url}: {e}"))?;
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for _ in 0..conns {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("{url}: {e}")),
                Err(_) => return Err(format!("{url}: connections did not open in time")),
            }
        }
        Ok(EngineFeed { engine, counts })
    }

    /// Messages and bytes so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.counts.messages.load(Ordering::Relaxed),
            self.counts.bytes.load(Ordering::Relaxed),
        )
    }

    pub fn stop(self) {
        self.engine.stop(Duration::from_millis(500));
    }
}
