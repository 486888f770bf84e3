//! A client that sends a few messages, prints the echoes, and closes.
//!
//!     cargo run --release --example client [ws://127.0.0.1:9001/]
//!
//! The handler runs on the engine's thread; the main thread waits on a channel.

use std::sync::mpsc;
use std::time::Duration;

use rocwebsocket::net::{ClientOptions, Config, Conn, ConnId, Engine, Handler, Message, OpenInfo};
use rocwebsocket::proto::CloseCode;

struct Client {
    remaining: usize,
    done: mpsc::Sender<String>,
}

impl Handler for Client {
    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        println!("connected to {} (protocol {:?})", info.peer, info.protocol);
        for i in 0..self.remaining {
            let _ = conn.send_text(&format!("hello {i}"));
        }
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        println!("received {message:?}");
        self.remaining -= 1;
        if self.remaining == 0 {
            let _ = conn.close(CloseCode::NORMAL, "done");
        }
    }

    fn on_close(&mut self, _id: ConnId, code: CloseCode, reason: &str) {
        let _ = self.done.send(format!("closed: {code} {reason}"));
    }

    fn on_connect_error(&mut self, _tag: u64, error: &std::io::Error) {
        let _ = self.done.send(format!("connect failed: {error}"));
    }
}

fn main() -> std::io::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".into());
    let (tx, rx) = mpsc::channel();
    // No listener: a client-only engine with one event-loop thread.
    let config = Config {
        threads: 1,
        ..Config::default()
    };
    let engine = Engine::start(config, |_, _| Client {
        remaining: 3,
        done: tx.clone(),
    })?;
    engine.handle().connect(&url, ClientOptions::default())?;
    let outcome = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| "timed out".into());
    println!("{outcome}");
    engine.stop(Duration::from_secs(1));
    Ok(())
}
