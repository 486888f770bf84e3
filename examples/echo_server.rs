//! An echo server with a chat-style broadcast path and a topic.
//!
//!     cargo run --release --example echo_server [ADDR]
//!
//! Every message is echoed; a text message starting with "all:" goes to every
//! client instead; clients that connect to /ticks also receive a "tick" each
//! second, published to the "ticks" topic from a plain thread.

use std::time::Duration;

use rocwebsocket::net::{Config, Conn, ConnId, Engine, Handler, Message, OpenInfo};
use rocwebsocket::proto::CloseCode;

struct Echo;

impl Handler for Echo {
    fn on_open(&mut self, conn: &mut Conn<'_>, info: OpenInfo) {
        println!("{} opened {} from {}", conn.id(), info.path, info.peer);
        if info.path == "/ticks" {
            conn.subscribe("ticks");
        }
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        match &message {
            Message::Text(text) if text.starts_with("all:") => {
                let _ = conn.handle().broadcast(&message);
            }
            _ => {
                let _ = conn.send(message);
            }
        }
    }

    fn on_close(&mut self, id: ConnId, code: CloseCode, reason: &str) {
        println!("{id} closed: {code} {reason}");
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let config = Config {
        listen: vec![addr.parse().expect("an address like 127.0.0.1:9001")],
        ..Config::default()
    };
    let engine = Engine::start(config, |_thread, _handle| Echo)?;
    println!("listening on {addr}");
    let handle = engine.handle().clone();
    std::thread::spawn(move || {
        for n in 0u64.. {
            std::thread::sleep(Duration::from_secs(1));
            if handle
                .publish("ticks", &Message::Text(format!("tick {n}").into()))
                .is_err()
            {
                return; // the engine stopped
            }
        }
    });
    engine.join();
    Ok(())
}
