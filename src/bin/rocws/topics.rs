//! `rocws serve --broadcast`'s topic commands, one per text message:
//!
//! ```text
//! sub TOPIC            subscribe this client to TOPIC
//! unsub TOPIC          unsubscribe it
//! pub TOPIC PAYLOAD    send PAYLOAD (the rest of the message) to TOPIC's subscribers,
//!                      on every node when the server has --broker
//! stats                reply "stats published=N received=N dropped=N reconnects=N connected=B"
//! ```
//!
//! Subscribers get PAYLOAD alone, as a text message. Any other message is
//! relayed to every client of this node, as without topics.

use rocwebsocket::net::{Conn, Message};

/// What one text message asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Sub(&'a str),
    Unsub(&'a str),
    Pub(&'a str, &'a str),
    Stats,
}

/// Reads a topic command; `None` for any other message.
pub fn parse(text: &str) -> Option<Command<'_>> {
    let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
    match verb {
        "sub" => topic_only(rest).map(Command::Sub),
        "unsub" => topic_only(rest).map(Command::Unsub),
        "pub" => {
            let (topic, payload) = rest.split_once(' ').unwrap_or((rest, ""));
            (!topic.is_empty()).then_some(Command::Pub(topic, payload))
        }
        "stats" if rest.is_empty() => Some(Command::Stats),
        _ => None,
    }
}

/// A single topic name (not empty, no space).
fn topic_only(rest: &str) -> Option<&str> {
    (!rest.is_empty() && !rest.contains(' ')).then_some(rest)
}

/// Runs `message` as a topic command; false when it is none.
pub fn run(conn: &mut Conn<'_>, message: &Message) -> bool {
    let Message::Text(text) = message else {
        return false;
    };
    match parse(text.as_str()) {
        Some(Command::Sub(topic)) => conn.subscribe(topic),
        Some(Command::Unsub(topic)) => conn.unsubscribe(topic),
        Some(Command::Pub(topic, payload)) => {
            let _ = conn
                .handle()
                .publish(topic, &Message::Text(payload.to_owned().into()));
        }
        Some(Command::Stats) => {
            let s = conn.handle().broker_stats().unwrap_or_default();
            let reply = format!(
                "stats published={} received={} dropped={} reconnects={} connected={}",
                s.published, s.received, s.dropped, s.reconnects, s.connected
            );
            let _ = conn.send(Message::Text(reply.into()));
        }
        None => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_anything_else_is_none() {
        assert_eq!(parse("sub a.b"), Some(Command::Sub("a.b")));
        assert_eq!(parse("unsub a"), Some(Command::Unsub("a")));
        assert_eq!(parse("pub a x y"), Some(Command::Pub("a", "x y")));
        assert_eq!(parse("pub a"), Some(Command::Pub("a", "")));
        assert_eq!(parse("stats"), Some(Command::Stats));
        for other in [
            "sub", "sub ", "sub a b", "pub", "pub  x", "hello", "stats x", "subs a",
        ] {
            assert_eq!(parse(other), None, "{other:?}");
        }
    }
}
