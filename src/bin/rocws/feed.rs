//! `rocws serve --feed RATE`: pushes market-data-like text messages of 100
//! bytes (`{"s":"BTCUSDT","p":"...","q":"...","t":...,"n":...}` padded with
//! spaces) to every connected client: the server side of `rocws bench --mode feed`.
//!
//! `--feed 0` pushes as fast as each client takes them, with backpressure:
//! a connection's queue is filled up to `FILL_CAP` and refilled when the
//! engine reports it drained (`on_drain`). `on_drain` only fires after a
//! write could not finish, so a client that keeps up would never trigger it;
//! each fill therefore ends with a ping, and its pong refills too (whichever
//! comes first; a refill only tops up to the cap).
//!
//! `--feed RATE` (messages per second) broadcasts from a ticker thread
//! instead: every client gets RATE messages per second, encoded once each.

use std::collections::HashSet;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rocwebsocket::net::{Config, Conn, ConnId, Engine, Handle, Handler, Message, OpenInfo};

/// Bytes in every feed message.
pub const MESSAGE_LEN: usize = 100;
/// Distinct messages, sent in turn.
const VARIANTS: usize = 4096;
/// Queued bytes per connection a fill stops at.
const FILL_CAP: usize = 512 << 10;

/// `VARIANTS` messages of `MESSAGE_LEN` bytes each, back to back, all ASCII.
fn make_messages() -> String {
    let mut all = String::with_capacity(VARIANTS * MESSAGE_LEN);
    for n in 0..VARIANTS {
        let price = 6_400_000 + (n * 7919) % 100_000;
        let qty = 1 + (n * 104_729) % 99_999;
        let mut m = format!(
            r#"{{"s":"BTCUSDT","p":"{}.{:02}","q":"0.{qty:05}","t":{},"n":{n}"#,
            price / 100,
            price % 100,
            1_700_000_000_000u64 + n as u64,
        );
        while m.len() < MESSAGE_LEN - 1 {
            m.push(' ');
        }
        m.push('}');
        debug_assert_eq!(m.len(), MESSAGE_LEN);
        all.push_str(&m);
    }
    all
}

/// The feed handler of one event-loop thread.
struct Feed {
    messages: Arc<str>,
    next: usize,
    /// Fill each connection as fast as it drains (`--feed 0`).
    fill: bool,
    /// Connections with a fill's ping not yet answered.
    pinging: HashSet<ConnId>,
}

impl Feed {
    fn message(&mut self) -> &str {
        let at = self.next * MESSAGE_LEN;
        self.next = (self.next + 1) % VARIANTS;
        &self.messages[at..at + MESSAGE_LEN]
    }

    fn refill(&mut self, conn: &mut Conn<'_>) {
        while conn.buffered_amount() < FILL_CAP {
            if conn.send_text(self.message()).is_err() {
                return;
            }
        }
        if self.pinging.insert(conn.id()) && conn.send_ping(b"feed").is_err() {
            self.pinging.remove(&conn.id());
        }
    }
}

impl Handler for Feed {
    fn on_open(&mut self, conn: &mut Conn<'_>, _info: OpenInfo) {
        if self.fill {
            self.refill(conn);
        }
    }

    fn on_message(&mut self, _conn: &mut Conn<'_>, _message: Message) {}

    fn on_pong(&mut self, conn: &mut Conn<'_>, _payload: Bytes) {
        self.pinging.remove(&conn.id());
        if self.fill {
            self.refill(conn);
        }
    }

    fn on_drain(&mut self, conn: &mut Conn<'_>) {
        if self.fill {
            self.refill(conn);
        }
    }

    fn on_close(&mut self, id: ConnId, _code: rocwebsocket::proto::CloseCode, _reason: &str) {
        self.pinging.remove(&id);
    }
}

/// Starts an engine that feeds its clients: as fast as they take it
/// (`rate` 0) or `rate` messages per second each.
pub fn start(mut config: Config, rate: f64) -> io::Result<Engine> {
    config.deliver_control_frames = true;
    let messages: Arc<str> = make_messages().into();
    let fill = rate <= 0.0;
    let engine = Engine::start(config, |_, _| Feed {
        messages: messages.clone(),
        next: 0,
        fill,
        pinging: HashSet::new(),
    })?;
    if !fill {
        let handle = engine.handle().clone();
        let mut ticker = Feed {
            messages,
            next: 0,
            fill: false,
            pinging: HashSet::new(),
        };
        std::thread::Builder::new()
            .name("feed-ticker".into())
            .spawn(move || tick(&handle, &mut ticker, rate))?;
    }
    Ok(engine)
}

/// Broadcasts `rate` messages per second, in bursts every millisecond, until the engine stops.
fn tick(handle: &Handle, feed: &mut Feed, rate: f64) {
    let start = Instant::now();
    let mut sent = 0u64;
    while !handle.is_stopped() {
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while sent < due {
            let text = feed.message().to_owned();
            if handle.broadcast(&Message::Text(text.into())).is_err() {
                return;
            }
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_are_json_of_the_stated_length() {
        let all = super::make_messages();
        assert_eq!(all.len(), super::VARIANTS * super::MESSAGE_LEN);
        let first = &all[..super::MESSAGE_LEN];
        assert!(first.starts_with(r#"{"s":"BTCUSDT","p":""#), "{first}");
        assert!(first.ends_with('}'));
    }
}
