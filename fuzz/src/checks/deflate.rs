//! Target `deflate`: permessage-deflate's negotiation and inflation.
//!
//! The first byte picks the check:
//! - 0: the rest is a `Sec-WebSocket-Extensions` offer. Whatever the server
//!   accepts must be an answer the client (which offered a valueless
//!   `client_max_window_bits`) accepts, with the same parameters; nothing panics.
//! - 1: the rest is a client's compressed message (RSV1). Inflating it never
//!   produces more than the limit plus one step; what inflates, compressed
//!   again by the server and inflated by a client, comes back identical.
//! - else: the rest is a message sent both ways over a negotiated pair
//!   (context takeover, then none); it arrives unchanged.

use rocwebsocket::proto::deflate::{
    client_check, server_accept, DeflateConfig, DeflateParams, Session,
};
use rocwebsocket::proto::frame::{encode_header, MAX_HEADER_LEN};
use rocwebsocket::proto::{ConnConfig, Connection, Event, OpCode, Role};

/// The message limit of check 1: small, so bombs reach it fast.
const LIMIT: usize = 4096;
/// The most an inflate step may pass the limit by (the codec's step).
const STEP: usize = 16 << 10;

pub fn check(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which {
        0 => negotiation(rest),
        1 => inflation(rest),
        _ => round_trip(rest),
    }
}

fn negotiation(offer: &[u8]) {
    let offer = String::from_utf8_lossy(offer);
    let config = DeflateConfig::default();
    let Some((params, answer)) = server_accept([offer.as_ref()], &config) else {
        return;
    };
    let client = client_check([answer.as_str()], &config)
        .unwrap_or_else(|e| panic!("our answer {answer:?} to {offer:?} refused: {e:?}"))
        .unwrap_or_else(|| panic!("our answer {answer:?} not taken"));
    assert_eq!(
        client.server_no_context_takeover, params.server_no_context_takeover,
        "{answer}"
    );
    assert_eq!(
        client.client_no_context_takeover, params.client_no_context_takeover,
        "{answer}"
    );
    assert!(params.server_max_window_bits <= config.window_bits);
}

fn pair(params: DeflateParams, limit: usize) -> (Connection, Connection) {
    let config = DeflateConfig::default();
    let conn = ConnConfig {
        max_message_size: limit,
        ..ConnConfig::default()
    };
    let mut server = Connection::new(Role::Server, conn);
    let mut client = Connection::new(Role::Client, conn);
    server.enable_deflate(Session::new(Role::Server, params, &config));
    client.enable_deflate(Session::new(Role::Client, params, &config));
    (server, client)
}

fn params(no_context_takeover: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: no_context_takeover,
        client_no_context_takeover: no_context_takeover,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    }
}

fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.buffered_amount() > 0 {
        let chunk = conn.output_chunk().to_vec();
        conn.advance_output(chunk.len());
        out.extend(chunk);
    }
    out
}

fn inflation(compressed: &[u8]) {
    let (mut server, mut client) = pair(params(false), LIMIT);
    // A masked binary frame with RSV1 (key 0: the payload as given).
    let mut header = [0u8; MAX_HEADER_LEN];
    let n = encode_header(
        &mut header,
        true,
        0b100,
        OpCode::Binary,
        Some([0; 4]),
        compressed.len() as u64,
    );
    let mut frame = header[..n].to_vec();
    frame.extend_from_slice(compressed);
    server.feed(&frame);
    let message = match server.next_event() {
        Some(Event::Binary(b)) => b,
        Some(Event::Error(e)) => {
            let code = e.close_code().0;
            assert!(code == 1007 || code == 1009, "{e:?}");
            return;
        }
        other => panic!("unexpected {other:?}"),
    };
    assert!(message.len() <= LIMIT + STEP);
    server.send_binary(&message).unwrap();
    client.feed(&drain(&mut server));
    match client.next_event() {
        Some(Event::Binary(b)) => assert_eq!(b, message),
        other => panic!("echo lost: {other:?}"),
    }
}

fn round_trip(message: &[u8]) {
    for no_context_takeover in [false, true] {
        let (mut server, mut client) = pair(params(no_context_takeover), 1 << 20);
        for _ in 0..2 {
            server.send_binary(message).unwrap();
            client.feed(&drain(&mut server));
            match client.next_event() {
                Some(Event::Binary(b)) => assert_eq!(&b[..], message),
                other => panic!("to client: {other:?}"),
            }
            client.send_binary(message).unwrap();
            server.feed(&drain(&mut client));
            match server.next_event() {
                Some(Event::Binary(b)) => assert_eq!(&b[..], message),
                other => panic!("to server: {other:?}"),
            }
        }
    }
}
