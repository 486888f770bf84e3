use bytes::BytesMut;
use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush, MZStatus};

use super::*;
use crate::proto::conn::{ConnConfig, Connection};
use crate::proto::deflate::SharedMessage;
use crate::proto::frame::{self, OpCode, Role};
use crate::proto::message::Event;
use crate::proto::ProtocolError;
use crate::simd::utf8::Utf8Validator;

fn cfg() -> DeflateConfig {
    DeflateConfig::default()
}

fn accept(offers: &[&str]) -> Option<(DeflateParams, String)> {
    server_accept(offers.iter().copied(), &cfg())
}

#[test]
fn server_answers_the_first_offer_it_can_honour() {
    let (p, answer) = accept(&["permessage-deflate"]).unwrap();
    assert_eq!(answer, "permessage-deflate");
    assert_eq!(p.server_max_window_bits, 11);
    assert!(!p.server_no_context_takeover && !p.client_no_context_takeover);

    // Valueless client_max_window_bits: the client accepts any limit; none asked.
    let (_, answer) = accept(&["permessage-deflate; client_max_window_bits"]).unwrap();
    assert_eq!(answer, "permessage-deflate");
    let asking = DeflateConfig {
        peer_window_bits: 10,
        ..cfg()
    };
    let (p, answer) =
        server_accept(["permessage-deflate; client_max_window_bits"], &asking).unwrap();
    assert_eq!(answer, "permessage-deflate; client_max_window_bits=10");
    assert_eq!(p.client_max_window_bits, 10);

    // Every parameter, quoted values included.
    let (p, answer) = accept(&[
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=\"9\"; client_max_window_bits=12",
    ])
    .unwrap();
    assert_eq!(
        answer,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=9; client_max_window_bits=12"
    );
    assert_eq!(
        p,
        DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: 12,
        }
    );
    // 8 is honoured (zlib's 9-bit raw window never reaches past 250 bytes).
    let (p, _) = accept(&["permessage-deflate; server_max_window_bits=8"]).unwrap();
    assert_eq!(p.server_max_window_bits, 8);
}

#[test]
fn malformed_offers_are_declined_and_the_next_tried() {
    for bad in [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; foo",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage-deflate;",
        "permessage-deflate x",
    ] {
        assert_eq!(accept(&[bad]), None, "{bad}");
        // In one header after a comma (an unclosed quote runs to the end
        // of its header), and in a second header.
        if !bad.contains('"') {
            let (p, _) = accept(&[&format!(
                "{bad}, permessage-deflate; client_no_context_takeover"
            )])
            .unwrap_or_else(|| panic!("{bad}"));
            assert!(p.client_no_context_takeover, "{bad}");
        }
        let (p, _) = accept(&[
            bad,
            "x-other, permessage-deflate; server_no_context_takeover",
        ])
        .unwrap_or_else(|| panic!("{bad}"));
        assert!(p.server_no_context_takeover, "{bad}");
    }
    assert_eq!(accept(&["x-webkit-deflate-frame", ""]), None);
    assert_eq!(
        server_accept(["permessage-deflate"], &DeflateConfig::disabled()),
        None
    );
}

#[test]
fn client_checks_the_answer_against_its_offer() {
    let offer = client_offer(&cfg()).unwrap();
    assert_eq!(offer, "permessage-deflate; client_max_window_bits");
    let p = client_check(["permessage-deflate; client_max_window_bits=9"], &cfg())
        .unwrap()
        .unwrap();
    assert_eq!(p.client_max_window_bits, 9);
    assert_eq!(p.server_max_window_bits, 15);
    assert_eq!(client_check(Vec::<&str>::new(), &cfg()), Ok(None));
    assert_eq!(client_check([""], &cfg()), Ok(None));
    for (answer, error) in [
        ("x-other", AnswerError::NotOffered),
        (
            "permessage-deflate, permessage-deflate",
            AnswerError::Repeated,
        ),
        (
            "permessage-deflate; client_max_window_bits",
            AnswerError::BadParameters,
        ),
        (
            "permessage-deflate; server_max_window_bits=16",
            AnswerError::BadParameters,
        ),
        ("permessage-deflate; foo=1", AnswerError::BadParameters),
        ("permessage-deflate; x=\"", AnswerError::BadParameters),
    ] {
        assert_eq!(client_check([answer], &cfg()), Err(error), "{answer}");
    }
    assert_eq!(
        client_check(["permessage-deflate"], &DeflateConfig::disabled()),
        Err(AnswerError::NotOffered)
    );
    let limited = DeflateConfig {
        peer_window_bits: 10,
        ..cfg()
    };
    assert!(client_offer(&limited)
        .unwrap()
        .contains("server_max_window_bits=10"));
    assert_eq!(
        client_check(["permessage-deflate; server_max_window_bits=12"], &limited),
        Err(AnswerError::BadParameters)
    );
}

/// A connected pair with deflate negotiated from `offer` under `config`.
fn pair(offer: &str, config: &DeflateConfig) -> (Connection, Connection) {
    let (params, answer) = server_accept([offer], config).unwrap();
    let client_params = client_check([answer.as_str()], config).unwrap().unwrap();
    let mut server = Connection::new(Role::Server, ConnConfig::default());
    let mut client = Connection::new(Role::Client, ConnConfig::default());
    server.enable_deflate(Session::new(Role::Server, params, config));
    client.enable_deflate(Session::new(Role::Client, client_params, config));
    (server, client)
}

fn drain(from: &mut Connection) -> Vec<u8> {
    let out = from.output_chunk().to_vec();
    let mut all = out.clone();
    from.advance_output(out.len());
    while from.buffered_amount() > 0 {
        let more = from.output_chunk().to_vec();
        from.advance_output(more.len());
        all.extend(more);
    }
    all
}

fn deliver(from: &mut Connection, to: &mut Connection) -> Vec<Event> {
    let bytes = drain(from);
    to.feed(&bytes);
    std::iter::from_fn(|| to.next_event()).collect()
}

fn tick(i: usize) -> String {
    format!(
        "{{\"type\":\"tick\",\"symbol\":\"BTC-USD\",\"seq\":{i},\"price\":\"{}.{:02}\",\"size\":\"0.{:04}\",\"side\":\"{}\"}}",
        40000 + i % 97,
        i % 100,
        i % 9973,
        if i % 2 == 0 { "buy" } else { "sell" }
    )
}

#[test]
fn mixed_messages_round_trip_both_ways_with_and_without_context_takeover() {
    for offer in [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
    ] {
        let (mut server, mut client) = pair(offer, &cfg());
        for i in 0..600 {
            let text = tick(i);
            let (a, b) = if i % 2 == 0 {
                (&mut server, &mut client)
            } else {
                (&mut client, &mut server)
            };
            match i % 6 {
                0 => a.send_text(&text).unwrap(),
                1 => a.send_binary(&vec![(i % 251) as u8; i % 300]).unwrap(),
                2 => {
                    a.set_compression(false);
                    a.send_text(&text).unwrap();
                    a.set_compression(true);
                }
                3 => {
                    let (x, y) = text.as_bytes().split_at(text.len() / 2);
                    a.send_fragment(OpCode::Text, x, false).unwrap();
                    a.send_ping(b"p").unwrap();
                    a.send_fragment(OpCode::Continuation, y, true).unwrap();
                }
                4 => a.send_text("short").unwrap(),
                _ => a
                    .send_binary(&(0..5000).map(|n| (n * 7 % 256) as u8).collect::<Vec<_>>())
                    .unwrap(),
            }
            let events: Vec<_> = deliver(a, b)
                .into_iter()
                .filter(|e| !matches!(e, Event::Ping(_)))
                .collect();
            assert_eq!(events.len(), 1, "{offer} message {i}: {events:?}");
            match (&events[0], i % 6) {
                (Event::Text(t), 0 | 2 | 3) => assert_eq!(t.as_str(), text),
                (Event::Binary(b), 1) => assert_eq!(&b[..], &vec![(i % 251) as u8; i % 300][..]),
                (Event::Text(t), 4) => assert_eq!(t.as_str(), "short"),
                (Event::Binary(b), 5) => assert_eq!(b.len(), 5000),
                (e, k) => panic!("{offer} message {i} kind {k}: {e:?}"),
            }
            deliver(b, a); // the pongs
        }
    }
}

/// The first frame header in `bytes` as its receiver (`role`) parses it.
fn first_header(bytes: &[u8], role: Role) -> frame::FrameHeader {
    frame::parse_header(bytes, role, 0b111).unwrap().unwrap()
}

#[test]
fn rsv1_marks_compressed_messages_only() {
    let (mut server, _) = pair("permessage-deflate", &cfg());
    server.send_text(&tick(1)).unwrap();
    assert_eq!(first_header(&drain(&mut server), Role::Client).rsv, 0b100);
    server.send_text("tiny").unwrap(); // below the threshold
    assert_eq!(first_header(&drain(&mut server), Role::Client).rsv, 0);
    server.send_ping(b"x").unwrap();
    assert_eq!(first_header(&drain(&mut server), Role::Client).rsv, 0);
    server
        .send_fragment(OpCode::Text, tick(2).as_bytes(), false)
        .unwrap();
    assert_eq!(first_header(&drain(&mut server), Role::Client).rsv, 0b100);
    server
        .send_fragment(OpCode::Continuation, b"x", true)
        .unwrap();
    assert_eq!(first_header(&drain(&mut server), Role::Client).rsv, 0);
}

/// A masked client frame with the given first byte.
fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let key = [1, 2, 3, 4];
    out.push(b0);
    let len = payload.len();
    assert!(len < 126);
    out.push(0x80 | len as u8);
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn failure_of(conn: &mut Connection, bytes: &[u8]) -> Option<ProtocolError> {
    conn.feed(bytes);
    std::iter::from_fn(|| conn.next_event()).for_each(drop);
    conn.failure()
}

#[test]
fn rsv1_on_control_continuation_or_without_the_extension_is_1002() {
    let deflated = raw_deflate(b"hello hello hello");
    for bytes in [
        masked(0xC9, b"x"),                                         // ping with RSV1
        [masked(0x41, &deflated[..3]), masked(0xC0, b"")].concat(), // RSV1 on a continuation
    ] {
        let (mut server, _) = pair("permessage-deflate", &cfg());
        let error = failure_of(&mut server, &bytes).unwrap();
        assert!(matches!(error, ProtocolError::ReservedBits(_)), "{error:?}");
        assert_eq!(error.close_code().0, 1002);
    }
    let mut plain = Connection::new(Role::Server, ConnConfig::default());
    let error = failure_of(&mut plain, &masked(0xC1, &deflated)).unwrap();
    assert_eq!(error.close_code().0, 1002);
    // The same frame is a message once negotiated.
    let (mut server, _) = pair("permessage-deflate", &cfg());
    server.feed(&masked(0xC1, &deflated));
    match server.next_event() {
        Some(Event::Text(t)) => assert_eq!(t.as_str(), "hello hello hello"),
        other => panic!("{other:?}"),
    }
}

/// Raw deflate with a sync flush and the tail stripped, by miniz_oxide:
/// an implementation independent of the one under test.
fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut c = CompressorOxide::default();
    c.set_format_and_level(DataFormat::Raw, 6);
    let mut out = vec![0u8; data.len() * 2 + 64];
    let r = miniz_oxide::deflate::stream::deflate(&mut c, data, &mut out, MZFlush::Sync);
    out.truncate(r.bytes_written);
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

#[test]
fn a_deflate_bomb_stops_at_the_limit_with_1009() {
    let bomb = raw_deflate(&vec![b'a'; 8 << 20]);
    assert!(bomb.len() < 16 << 10, "{}", bomb.len());
    let params = server_accept(["permessage-deflate"], &cfg()).unwrap().0;
    let mut session = Session::new(Role::Server, params, &cfg());
    let mut out = BytesMut::new();
    let limit = 1 << 20;
    let error = session
        .inflate(&bomb, true, &mut out, limit, None)
        .unwrap_err();
    assert_eq!(error, ProtocolError::MessageTooLarge);
    assert!(out.len() <= limit + (16 << 10), "{}", out.len());
    assert!(out.capacity() <= 2 * limit, "{}", out.capacity());

    // Through a connection: 1009, with a small frame.
    let config = ConnConfig {
        max_message_size: limit,
        ..ConnConfig::default()
    };
    let mut server = Connection::new(Role::Server, config);
    server.enable_deflate(Session::new(Role::Server, params, &cfg()));
    let mut frame = Vec::new();
    let key = [9, 8, 7, 6];
    let mut header = [0u8; 14];
    let n = frame::encode_header(
        &mut header,
        true,
        0b100,
        OpCode::Binary,
        Some(key),
        bomb.len() as u64,
    );
    frame.extend_from_slice(&header[..n]);
    frame.extend(bomb.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    let error = failure_of(&mut server, &frame).unwrap();
    assert_eq!(error.close_code().0, 1009);
}

#[test]
fn bad_deflate_data_and_bad_utf8_fail_with_1007() {
    let (mut server, _) = pair("permessage-deflate", &cfg());
    // Block type 3 is reserved: invalid deflate data.
    let error = failure_of(&mut server, &masked(0xC2, &[0xff, 0xff, 0xff])).unwrap();
    assert_eq!(error, ProtocolError::InvalidCompressedData);
    assert_eq!(error.close_code().0, 1007);

    // Invalid UTF-8 in the first fragment of a compressed text message
    // fails before the message ends.
    let (mut server, _) = pair("permessage-deflate", &cfg());
    let bad = raw_deflate(b"valid so far \xff\xfe then not");
    let error = failure_of(&mut server, &masked(0x41, &bad)).unwrap();
    assert_eq!(error, ProtocolError::InvalidUtf8);
    assert_eq!(error.close_code().0, 1007);
}

#[test]
fn no_context_takeover_holds_no_state_between_messages() {
    let (mut server, mut client) = pair(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        &cfg(),
    );
    for i in 0..10 {
        server.send_text(&tick(i)).unwrap();
        client.send_text(&tick(i)).unwrap();
        assert_eq!(deliver(&mut server, &mut client).len(), 1);
        assert_eq!(deliver(&mut client, &mut server).len(), 1);
        assert!(!server.deflate().unwrap().holds_state());
        assert!(!client.deflate().unwrap().holds_state());
    }
    let (mut server, mut client) = pair("permessage-deflate", &cfg());
    server.send_text(&tick(1)).unwrap();
    deliver(&mut server, &mut client);
    assert!(server.deflate().unwrap().holds_state());
    assert!(client.deflate().unwrap().holds_state());
}

/// A context-keeping peer written with miniz_oxide: our server's output
/// over thousands of mixed messages (compressed, below the threshold,
/// compression off, fragmented) inflates with one window kept throughout,
/// and its compressed messages inflate in our server.
#[test]
fn a_context_keeping_peer_stays_in_step_over_thousands_of_messages() {
    let (mut server, _) = pair("permessage-deflate", &cfg());
    let mut peer_inflate = InflateState::new_boxed(DataFormat::Raw);
    let mut peer_deflate = CompressorOxide::default();
    peer_deflate.set_format_and_level(DataFormat::Raw, 1);
    for i in 0..3000 {
        let text = tick(i);
        match i % 4 {
            0 | 1 => server.send_text(&text).unwrap(),
            2 => {
                server.set_compression(false);
                server.send_text(&text).unwrap();
                server.set_compression(true);
            }
            _ => {
                let (x, y) = text.as_bytes().split_at(40);
                server.send_fragment(OpCode::Text, x, false).unwrap();
                server.send_fragment(OpCode::Continuation, y, true).unwrap();
            }
        }
        // Decode the server's frames as the peer, inflating with its kept window.
        let wire = drain(&mut server);
        let mut at = 0;
        let mut payload = Vec::new();
        let mut compressed = false;
        while at < wire.len() {
            let h = first_header(&wire[at..], Role::Client);
            if h.opcode != OpCode::Continuation {
                compressed = h.rsv == 0b100;
            }
            let body = &wire[at + h.header_len..at + h.header_len + h.payload_len as usize];
            payload.extend_from_slice(body);
            at += h.header_len + h.payload_len as usize;
        }
        let message = if compressed {
            payload.extend_from_slice(&[0, 0, 0xff, 0xff]);
            let mut out = vec![0u8; 4096];
            let r = miniz_oxide::inflate::stream::inflate(
                &mut peer_inflate,
                &payload,
                &mut out,
                MZFlush::Sync,
            );
            assert!(
                matches!(r.status, Ok(MZStatus::Ok)),
                "message {i}: {:?}",
                r.status
            );
            out.truncate(r.bytes_written);
            out
        } else {
            payload
        };
        assert_eq!(message, text.as_bytes(), "message {i}");
        assert_eq!(compressed, i % 4 != 2, "message {i}");

        // And the other way: the peer compresses with its kept window.
        let mut out = vec![0u8; 4096];
        let r = miniz_oxide::deflate::stream::deflate(
            &mut peer_deflate,
            text.as_bytes(),
            &mut out,
            MZFlush::Sync,
        );
        out.truncate(r.bytes_written - 4);
        server.feed(&masked_long(0xC1, &out));
        match server.next_event() {
            Some(Event::Text(t)) => assert_eq!(t.as_str(), text, "message {i}"),
            other => panic!("message {i}: {other:?}"),
        }
    }
}

fn masked_long(b0: u8, payload: &[u8]) -> Vec<u8> {
    let key = [5, 6, 7, 8];
    let mut header = [0u8; 14];
    let n = frame::encode_header(
        &mut header,
        b0 & 0x80 != 0,
        (b0 >> 4) & 7,
        OpCode::Text,
        Some(key),
        payload.len() as u64,
    );
    let mut out = header[..n].to_vec();
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

#[test]
fn utf8_validator_is_fed_inflated_text() {
    let params = server_accept(["permessage-deflate"], &cfg()).unwrap().0;
    let mut session = Session::new(Role::Server, params, &cfg());
    let mut v = Utf8Validator::new();
    let mut out = BytesMut::new();
    let data = "héllo wörld ".repeat(100);
    session
        .inflate(
            &raw_deflate(data.as_bytes()),
            true,
            &mut out,
            1 << 20,
            Some(&mut v),
        )
        .unwrap();
    assert!(v.finish().is_ok());
    assert_eq!(&out[..], data.as_bytes());
}

#[test]
fn a_shared_message_is_compressed_once_for_all_connections_without_context_takeover() {
    let text = tick(7).repeat(3);
    let frame = crate::proto::conn::encode_shared_frame(OpCode::Text, text.as_bytes()).unwrap();
    let mut message = SharedMessage::new(frame).unwrap();
    let mut pairs: Vec<_> = (0..5)
        .map(|_| pair("permessage-deflate; server_no_context_takeover", &cfg()))
        .chain((0..2).map(|_| pair("permessage-deflate", &cfg())))
        .collect();
    let mut plain_server = Connection::new(Role::Server, ConnConfig::default());
    plain_server.send_shared_message(&mut message).unwrap();
    assert_eq!(first_header(&drain(&mut plain_server), Role::Client).rsv, 0);
    for (server, client) in &mut pairs {
        server.send_shared_message(&mut message).unwrap();
        let wire = drain(server);
        assert_eq!(first_header(&wire, Role::Client).rsv, 0b100);
        client.feed(&wire);
        match client.next_event() {
            Some(Event::Text(t)) => assert_eq!(t.as_str(), text),
            other => panic!("{other:?}"),
        }
    }
    // Once for the five without context takeover; the two with it used their own.
    assert_eq!(message.compressions(), 1);
}
