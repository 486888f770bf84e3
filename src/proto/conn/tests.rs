use super::*;
use crate::proto::close::CloseFrame;
use bytes::Bytes;

pub(super) fn server() -> Connection {
    Connection::new(Role::Server, ConnConfig::default())
}

fn client() -> Connection {
    Connection::new(Role::Client, ConnConfig::default())
}

/// A frame as a client would send it (masked), with explicit header bits.
fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut out = vec![b0];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

pub(super) fn output(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut slices = [IoSlice::new(&[]); 16];
    let n = conn.io_slices(&mut slices);
    for s in &slices[..n] {
        out.extend_from_slice(s);
    }
    conn.advance_output(out.len());
    out
}

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.next_event()).collect()
}

/// Feeds `bytes` to `conn` in chunks of `step` and collects every event.
fn feed_in_steps(conn: &mut Connection, bytes: &[u8], step: usize) -> Vec<Event> {
    let mut all = Vec::new();
    for chunk in bytes.chunks(step.max(1)) {
        conn.feed(chunk);
        all.extend(events(conn));
    }
    all
}

/// The close frame a server wrote, parsed back.
fn server_close_code(out: &[u8]) -> Option<u16> {
    let h = frame::parse_header(out, Role::Client, 0).ok()??;
    (h.opcode == OpCode::Close && h.payload_len >= 2)
        .then(|| u16::from_be_bytes([out[h.header_len], out[h.header_len + 1]]))
}

fn expect_failure(bytes: &[u8], error: ProtocolError) {
    for step in [1, 3, bytes.len()] {
        let mut s = server();
        let evs = feed_in_steps(&mut s, bytes, step);
        assert_eq!(
            evs.last(),
            Some(&Event::Error(error)),
            "step {step}: {evs:?}"
        );
        let out = output(&mut s);
        assert_eq!(
            server_close_code(&out),
            Some(error.close_code().0),
            "step {step}"
        );
        assert!(s.should_close_transport());
        assert_eq!(s.send_text("x"), Err(SendError::Closing));
    }
}

#[test]
fn text_and_binary_at_every_split() {
    let text = "héllo wörld ✓ 🎉".repeat(20);
    let mut stream = client_frame(0x81, text.as_bytes());
    stream.extend(client_frame(0x82, &[0, 1, 2, 255]));
    stream.extend(client_frame(0x81, b""));
    for step in 1..=stream.len() {
        let mut s = server();
        let evs = feed_in_steps(&mut s, &stream, step);
        assert_eq!(
            evs,
            vec![
                Event::Text(Utf8Bytes::from(text.clone())),
                Event::Binary(Bytes::from_static(&[0, 1, 2, 255])),
                Event::Text(Utf8Bytes::from("")),
            ],
            "step {step}"
        );
    }
}

#[test]
fn length_forms_round_trip() {
    for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut c = client();
        c.send_binary(&payload).unwrap();
        let wire = output(&mut c);
        let mut s = server();
        s.feed(&wire);
        assert_eq!(
            events(&mut s),
            vec![Event::Binary(Bytes::from(payload.clone()))]
        );
        s.send_binary(&payload).unwrap();
        let back = output(&mut s);
        c.feed(&back);
        assert_eq!(
            events(&mut c),
            vec![Event::Binary(Bytes::from(payload))],
            "len {len}"
        );
    }
}

#[test]
fn whole_frames_are_zero_copy() {
    let mut s = server();
    let wire = client_frame(0x82, &[7u8; 1000]);
    s.read_space().extend_from_slice(&wire);
    let base = s.input().as_ptr() as usize;
    let Some(Event::Binary(payload)) = s.next_event() else {
        panic!("no message")
    };
    let at = payload.as_ptr() as usize;
    assert!(at >= base && at < base + wire.len(), "payload was copied");
}

#[test]
fn fragments_with_interleaved_control_frames() {
    let mut stream = client_frame(0x01, "frag".as_bytes());
    stream.extend(client_frame(0x89, b"ping!"));
    stream.extend(client_frame(0x00, " mént".as_bytes()));
    stream.extend(client_frame(0x8A, b"pong"));
    stream.extend(client_frame(0x80, "ed".as_bytes()));
    for step in [1, 2, 5, stream.len()] {
        let mut s = server();
        let evs = feed_in_steps(&mut s, &stream, step);
        assert_eq!(
            evs,
            vec![
                Event::Ping(Bytes::from_static(b"ping!")),
                Event::Pong(Bytes::from_static(b"pong")),
                Event::Text(Utf8Bytes::from("frag ménted")),
            ]
        );
        // The automatic pong, unmasked, same payload.
        assert_eq!(output(&mut s), [&[0x8A, 5][..], b"ping!"].concat());
    }
}

#[test]
fn a_code_point_split_across_fragments_is_accepted() {
    let euro = "€".as_bytes();
    let mut stream = client_frame(0x01, &euro[..1]);
    stream.extend(client_frame(0x00, &euro[1..2]));
    stream.extend(client_frame(0x80, &euro[2..]));
    let mut s = server();
    assert_eq!(
        feed_in_steps(&mut s, &stream, 1),
        vec![Event::Text(Utf8Bytes::from("€"))]
    );
}

#[test]
fn protocol_errors_fail_with_1002() {
    expect_failure(&client_frame(0x83, b""), ProtocolError::ReservedOpcode(3));
    expect_failure(&client_frame(0x8B, b""), ProtocolError::ReservedOpcode(0xB));
    expect_failure(
        &client_frame(0xC1, b"x"),
        ProtocolError::ReservedBits(0b100),
    );
    expect_failure(
        &client_frame(0x89, &[0; 126]),
        ProtocolError::ControlFrameTooLong,
    );
    expect_failure(
        &client_frame(0x09, b""),
        ProtocolError::FragmentedControlFrame,
    );
    expect_failure(
        &client_frame(0x80, b"x"),
        ProtocolError::UnexpectedContinuation,
    );
    let mut open_then_new = client_frame(0x01, b"a");
    open_then_new.extend(client_frame(0x81, b"b"));
    expect_failure(&open_then_new, ProtocolError::ExpectedContinuation);
    expect_failure(&[0x81, 0x01, b'a'], ProtocolError::UnmaskedClientFrame);
    let mut top = vec![0x82, 0xFF];
    top.extend_from_slice(&(1u64 << 63).to_be_bytes());
    expect_failure(&top, ProtocolError::LengthTopBitSet);
}

#[test]
fn a_client_rejects_masked_frames() {
    let mut c = client();
    c.feed(&client_frame(0x81, b"hi"));
    assert_eq!(
        events(&mut c),
        vec![Event::Error(ProtocolError::MaskedServerFrame)]
    );
}

#[test]
fn sizes_are_checked_before_buffering() {
    // A header claiming 2^62 bytes: 1009, and nothing reserved for it.
    let mut huge = vec![0x82, 0xFF];
    huge.extend_from_slice(&(1u64 << 62).to_be_bytes());
    huge.extend_from_slice(&[1, 2, 3, 4]);
    expect_failure(&huge, ProtocolError::FrameTooLarge);
    let mut s = server();
    s.feed(&huge);
    let _ = events(&mut s);
    assert!(s.input_capacity() < 1024);

    let config = ConnConfig {
        max_frame_size: 100,
        max_message_size: 150,
        allowed_rsv: 0,
    };
    let mut s = Connection::new(Role::Server, config);
    s.feed(&client_frame(0x82, &[0; 101])[..14]);
    assert_eq!(
        events(&mut s),
        vec![Event::Error(ProtocolError::FrameTooLarge)]
    );

    let mut s = Connection::new(Role::Server, config);
    let mut frags = client_frame(0x02, &[0; 100]);
    frags.extend(client_frame(0x80, &[0; 51]));
    s.feed(&frags);
    assert_eq!(
        events(&mut s),
        vec![Event::Error(ProtocolError::MessageTooLarge)]
    );
    assert_eq!(server_close_code(&output(&mut s)), Some(1009));
}

#[test]
fn invalid_utf8_fails_fast_inside_a_frame() {
    // A 1000-byte text frame whose 6th byte proves it invalid: the error must
    // come as soon as those bytes arrive, long before the frame is complete.
    let mut payload = b"hello\xFF".to_vec();
    payload.resize(1000, b'a');
    let wire = client_frame(0x81, &payload);
    let mut s = server();
    s.feed(&wire[..8 + 6]);
    assert_eq!(
        events(&mut s),
        vec![Event::Error(ProtocolError::InvalidUtf8)]
    );
    assert_eq!(server_close_code(&output(&mut s)), Some(1007));

    // Inside a fragmented message: the second fragment proves it.
    let mut stream = client_frame(0x01, "κόσμε".as_bytes());
    stream.extend(client_frame(0x00, b"\xED\xA0\x80"));
    let mut s = server();
    assert_eq!(
        feed_in_steps(&mut s, &stream, 1),
        vec![Event::Error(ProtocolError::InvalidUtf8)]
    );

    // Truncated at the end of the message.
    expect_failure(
        &client_frame(0x81, b"ok\xE2\x82"),
        ProtocolError::InvalidUtf8,
    );
}

#[test]
fn peer_initiated_close_is_echoed() {
    let mut s = server();
    s.feed(&client_frame(0x88, b"\x03\xe8bye"));
    let evs = events(&mut s);
    assert_eq!(
        evs,
        vec![Event::Close(CloseFrame {
            code: CloseCode::NORMAL,
            reason: Bytes::from_static(b"bye")
        })]
    );
    assert_eq!(
        s.close_state(),
        CloseState::Closed {
            local_first: false,
            peer_code: CloseCode::NORMAL
        }
    );
    assert!(!s.should_close_transport(), "the echo is not written yet");
    assert_eq!(output(&mut s), [0x88, 2, 0x03, 0xe8]);
    assert!(s.should_close_transport());
    assert_eq!(s.send_text("late"), Err(SendError::Closing));
    // Bytes after the close are ignored.
    s.feed(&client_frame(0x81, b"ignored"));
    assert_eq!(s.next_event(), None);
}

#[test]
fn empty_close_is_echoed_empty() {
    let mut s = server();
    s.feed(&client_frame(0x88, b""));
    assert_eq!(
        events(&mut s),
        vec![Event::Close(CloseFrame {
            code: CloseCode::NO_STATUS,
            reason: Bytes::new()
        })]
    );
    assert_eq!(output(&mut s), [0x88, 0]);
}

#[test]
fn locally_initiated_close_waits_for_the_peer() {
    let mut s = server();
    s.close(CloseCode::GOING_AWAY, "restart").unwrap();
    assert_eq!(
        s.close_state(),
        CloseState::LocalClosing(CloseCode::GOING_AWAY)
    );
    assert_eq!(
        output(&mut s),
        [&[0x88, 9, 0x03, 0xe9][..], b"restart"].concat()
    );
    assert!(!s.should_close_transport());
    // Data still arriving before the peer's close is delivered; pings are not answered.
    let mut stream = client_frame(0x81, b"late");
    stream.extend(client_frame(0x89, b""));
    stream.extend(client_frame(0x88, b"\x03\xe9"));
    s.feed(&stream);
    let evs = events(&mut s);
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[0], Event::Text(Utf8Bytes::from("late")));
    assert_eq!(
        s.close_state(),
        CloseState::Closed {
            local_first: true,
            peer_code: CloseCode(1001)
        }
    );
    assert!(output(&mut s).is_empty());
    assert!(s.should_close_transport());
}

#[test]
fn bad_close_frames() {
    expect_failure(
        &client_frame(0x88, b"\x03"),
        ProtocolError::InvalidClosePayload,
    );
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        expect_failure(
            &client_frame(0x88, &code.to_be_bytes()),
            ProtocolError::InvalidCloseCode(code),
        );
    }
    expect_failure(
        &client_frame(0x88, b"\x03\xe8\xff"),
        ProtocolError::InvalidUtf8,
    );
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ] {
        let mut s = server();
        s.feed(&client_frame(0x88, &code.to_be_bytes()));
        assert!(matches!(events(&mut s)[..], [Event::Close(ref f)] if f.code.0 == code));
    }
}

#[test]
fn send_side_checks() {
    let mut s = server();
    assert_eq!(s.send_ping(&[0; 126]), Err(SendError::ControlTooLong));
    assert_eq!(
        s.close(CloseCode::NO_STATUS, ""),
        Err(SendError::InvalidCloseCode(1005))
    );
    assert_eq!(
        s.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(SendError::ReasonTooLong)
    );
    let mut c = client();
    assert_eq!(
        c.send_shared(Bytes::from_static(b"\x81\x00")),
        Err(SendError::SharedFrameNeedsServer)
    );
}

#[test]
fn client_frames_are_masked_with_fresh_keys() {
    let mut c = client();
    c.send_text("same").unwrap();
    c.send_text("same").unwrap();
    let wire = output(&mut c);
    let h1 = frame::parse_header(&wire, Role::Server, 0)
        .unwrap()
        .unwrap();
    let h2 = frame::parse_header(&wire[10..], Role::Server, 0)
        .unwrap()
        .unwrap();
    assert!(h1.mask.is_some() && h2.mask.is_some());
    let mut s = server();
    s.feed(&wire);
    assert_eq!(events(&mut s).len(), 2);
}

#[test]
fn shared_and_large_payloads_keep_order() {
    let mut s = server();
    let shared = encode_shared_frame(OpCode::Text, b"tick").unwrap();
    s.send_text("a").unwrap();
    s.send_shared(shared.clone()).unwrap();
    s.send_bytes(OpCode::Binary, Bytes::from(vec![9u8; 5000]))
        .unwrap();
    s.send_text("b").unwrap();
    let wire = output(&mut s);
    let mut c = client();
    c.feed(&wire);
    assert_eq!(
        events(&mut c),
        vec![
            Event::Text(Utf8Bytes::from("a")),
            Event::Text(Utf8Bytes::from("tick")),
            Event::Binary(Bytes::from(vec![9u8; 5000])),
            Event::Text(Utf8Bytes::from("b")),
        ]
    );
}

#[test]
fn fragmented_sends() {
    let mut c = client();
    c.send_fragment(OpCode::Text, b"he", false).unwrap();
    c.send_ping(b"p").unwrap();
    c.send_fragment(OpCode::Continuation, b"llo", true).unwrap();
    let wire = output(&mut c);
    let mut s = server();
    s.feed(&wire);
    assert_eq!(
        events(&mut s),
        vec![
            Event::Ping(Bytes::from_static(b"p")),
            Event::Text(Utf8Bytes::from("hello"))
        ]
    );
}

// ---- issue 12, item 7: the read buffer is append-only ----

/// Before, `read_buffer()` lent `&mut BytesMut`: after half of a text frame
/// was unmasked and validated, safe code could overwrite those bytes and get
/// a `Utf8Bytes` holding invalid UTF-8. Now held bytes are only readable
/// (`input()` is `&[u8]`) and `read_space()` can only append.
#[test]
fn read_space_only_appends_after_validated_bytes() {
    let text = "héllo wörld, ünïcode";
    let wire = client_frame(0x81, text.as_bytes());
    let mut s = server();
    let half = wire.len() / 2;
    s.read_space().extend_from_slice(&wire[..half]);
    assert_eq!(s.next_event(), None);
    let held = s.input().to_vec();
    {
        let mut space = s.read_space();
        assert_eq!(space.len(), held.len());
        space.reserve(wire.len() - half);
        let rest = &wire[half..];
        let spare = space.spare_capacity_mut();
        for (dst, src) in spare.iter_mut().zip(rest) {
            dst.write(*src);
        }
        // SAFETY: the loop above initialised `rest.len()` bytes of spare capacity.
        unsafe { space.commit(rest.len()) };
    }
    assert_eq!(&s.input()[..held.len()], &held[..], "held bytes unchanged");
    assert_eq!(events(&mut s), vec![Event::Text(Utf8Bytes::from(text))]);
}

#[test]
fn discard_input_drops_a_head_but_never_a_partly_decoded_frame() {
    let mut s = server();
    let mut wire = b"GET / HTTP/1.1\r\n\r\n".to_vec();
    let head = wire.len();
    wire.extend_from_slice(&client_frame(0x82, b"abc"));
    s.feed(&wire);
    assert!(s.discard_input(head));
    assert_eq!(
        events(&mut s),
        vec![Event::Binary(Bytes::from_static(b"abc"))]
    );
    let frame = client_frame(0x81, b"partial text");
    s.feed(&frame[..10]);
    assert_eq!(s.next_event(), None);
    assert!(!s.discard_input(1), "a frame is being decoded");
    s.feed(&frame[10..]);
    assert_eq!(
        events(&mut s),
        vec![Event::Text(Utf8Bytes::from("partial text"))]
    );
}

// ---- issue 12, item 7: the send API refuses frames RFC 6455 forbids ----

#[test]
fn control_frames_over_125_bytes_are_refused_on_every_path() {
    let big = Bytes::from(vec![0u8; 126]);
    for conn in [server(), client()] {
        let mut c = conn;
        assert_eq!(c.send_ping(&big), Err(SendError::ControlTooLong));
        assert_eq!(c.send_pong(&big), Err(SendError::ControlTooLong));
        assert_eq!(
            c.send_bytes(OpCode::Ping, big.clone()),
            Err(SendError::ControlTooLong)
        );
        assert_eq!(
            c.send_bytes(OpCode::Pong, big.clone()),
            Err(SendError::ControlTooLong)
        );
        assert_eq!(
            c.send_fragment(OpCode::Ping, &big, true),
            Err(SendError::ControlTooLong)
        );
        assert_eq!(c.buffered_amount(), 0);
        // 125 bytes is fine.
        c.send_bytes(OpCode::Ping, big.slice(..125)).unwrap();
    }
    assert_eq!(
        encode_shared_frame(OpCode::Ping, &big),
        Err(SendError::ControlTooLong)
    );
}

#[test]
fn close_and_continuation_are_not_whole_messages() {
    let mut s = server();
    assert_eq!(
        s.send_bytes(OpCode::Close, Bytes::from_static(&[0x03, 0xED])),
        Err(SendError::UseClose)
    );
    assert_eq!(
        s.send_bytes(OpCode::Continuation, Bytes::from_static(b"x")),
        Err(SendError::NoMessageInProgress)
    );
    assert_eq!(
        encode_shared_frame(OpCode::Close, b""),
        Err(SendError::UseClose)
    );
    assert_eq!(
        s.send_fragment(OpCode::Close, &[0x03, 0xE8], true),
        Err(SendError::UseClose)
    );
    assert_eq!(s.buffered_amount(), 0);
    assert_eq!(s.close_state(), CloseState::Open);
}

#[test]
fn fragmented_control_frames_are_refused() {
    let mut s = server();
    for op in [OpCode::Ping, OpCode::Pong, OpCode::Close] {
        assert_eq!(
            s.send_fragment(op, b"", false),
            Err(SendError::FragmentedControl)
        );
    }
    assert_eq!(s.buffered_amount(), 0);
}

#[test]
fn fragments_follow_the_message_rules() {
    let mut s = server();
    assert_eq!(
        s.send_fragment(OpCode::Continuation, b"x", true),
        Err(SendError::NoMessageInProgress)
    );
    s.send_fragment(OpCode::Binary, b"ab", false).unwrap();
    // No new message, whole or fragmented, until this one ends.
    assert_eq!(
        s.send_fragment(OpCode::Text, b"x", true),
        Err(SendError::MessageInProgress)
    );
    assert_eq!(s.send_text("x"), Err(SendError::MessageInProgress));
    assert_eq!(s.send_binary(b"x"), Err(SendError::MessageInProgress));
    assert_eq!(
        s.send_bytes(OpCode::Binary, Bytes::from(vec![1u8; 5000])),
        Err(SendError::MessageInProgress)
    );
    assert_eq!(
        s.send_shared(encode_shared_frame(OpCode::Binary, b"b").unwrap()),
        Err(SendError::MessageInProgress)
    );
    // Control frames may come between fragments.
    s.send_ping(b"p").unwrap();
    s.send_fragment(OpCode::Continuation, b"cd", true).unwrap();
    s.send_text("after").unwrap();
    // The peer sees: binary "abcd", then text "after" (and the ping).
    let mut c = client();
    c.feed(&output(&mut s));
    assert_eq!(
        events(&mut c),
        vec![
            Event::Ping(Bytes::from_static(b"p")),
            Event::Binary(Bytes::from_static(b"abcd")),
            Event::Text(Utf8Bytes::from("after")),
        ]
    );
}

#[test]
fn text_fragments_are_validated_across_calls() {
    let mut s = server();
    assert_eq!(
        s.send_fragment(OpCode::Text, b"ok \xFF", false),
        Err(SendError::NotUtf8)
    );
    assert_eq!(s.buffered_amount(), 0);
    // "é" split over two fragments is fine.
    s.send_fragment(OpCode::Text, b"caf\xC3", false).unwrap();
    let queued = s.buffered_amount();
    // A continuation that breaks the code point is refused; the message stays open.
    assert_eq!(
        s.send_fragment(OpCode::Continuation, b"A", false),
        Err(SendError::NotUtf8)
    );
    assert_eq!(s.buffered_amount(), queued);
    s.send_fragment(OpCode::Continuation, b"\xA9 ", false)
        .unwrap();
    // Ending inside a code point is refused too.
    assert_eq!(
        s.send_fragment(OpCode::Continuation, b"\xE2\x82", true),
        Err(SendError::NotUtf8)
    );
    s.send_fragment(OpCode::Continuation, b"\xE2\x82\xAC", true)
        .unwrap();
    // Whole text through send_bytes is validated as well.
    assert_eq!(
        s.send_bytes(OpCode::Text, Bytes::from_static(b"\xC3")),
        Err(SendError::NotUtf8)
    );
    assert_eq!(
        encode_shared_frame(OpCode::Text, b"\xC3("),
        Err(SendError::NotUtf8)
    );
    let mut c = client();
    c.feed(&output(&mut s));
    assert_eq!(events(&mut c), vec![Event::Text(Utf8Bytes::from("café €"))]);
}

// ---- issue 12, item 2: pong coalescing (RFC 6455 §5.5.3) ----

/// 100k pings read while nothing is written: one pong is queued (the
/// latest), not 100k.
#[test]
fn a_ping_flood_queues_one_pong() {
    for make in [server as fn() -> Connection, client] {
        let mut c = make();
        let role = c.role();
        let mut wire = Vec::new();
        for i in 0..100_000u32 {
            let payload = i.to_be_bytes();
            if role == Role::Server {
                wire.extend_from_slice(&client_frame(0x89, &payload));
            } else {
                wire.extend_from_slice(&[0x89, 4]);
                wire.extend_from_slice(&payload);
            }
        }
        for chunk in wire.chunks(64 * 1024) {
            c.feed(chunk);
            while c.next_event().is_some() {}
        }
        // At most PONGS_KEPT pongs wait: the first pings are answered one for
        // one (Autobahn 2.10), then the last pong follows the latest ping.
        let one_pong = if role == Role::Server { 2 + 4 } else { 6 + 4 };
        let kept = usize::from(PONGS_KEPT);
        assert_eq!(c.buffered_amount(), kept * one_pong, "{role:?}");
        let out = output(&mut c);
        let peer_role = if role == Role::Server {
            Role::Client
        } else {
            Role::Server
        };
        let mut peer = Connection::new(peer_role, ConnConfig::default());
        peer.feed(&out);
        let mut expected: Vec<Event> = (0..kept as u32 - 1)
            .map(|i| Event::Pong(Bytes::copy_from_slice(&i.to_be_bytes())))
            .collect();
        expected.push(Event::Pong(Bytes::copy_from_slice(
            &99_999u32.to_be_bytes(),
        )));
        assert_eq!(events(&mut peer), expected);
    }
}

#[test]
fn a_burst_of_pings_gets_a_pong_each() {
    // Autobahn 2.10: ten pings in one read, ten pongs with their payloads.
    let mut s = server();
    let mut wire = Vec::new();
    for i in 0..10u8 {
        wire.extend_from_slice(&client_frame(0x89, &[i; 3]));
    }
    s.feed(&wire);
    while s.next_event().is_some() {}
    let out = output(&mut s);
    let mut peer = client();
    peer.feed(&out);
    let expected: Vec<Event> = (0..10u8)
        .map(|i| Event::Pong(Bytes::copy_from_slice(&[i; 3])))
        .collect();
    assert_eq!(events(&mut peer), expected);
}

#[test]
fn a_pong_keeps_its_place_once_data_follows_or_writing_began() {
    let mut s = server();
    s.feed(&client_frame(0x89, b"1"));
    let _ = events(&mut s);
    s.send_text("data").unwrap();
    s.feed(&client_frame(0x89, b"2"));
    let _ = events(&mut s);
    // Pong "1" was settled by the text after it; pong "2" is pending.
    // Write everything but the last byte of pong "2".
    let total = s.buffered_amount();
    s.advance_output(total - 1);
    s.feed(&client_frame(0x89, b"3"));
    let _ = events(&mut s);
    // Pong "2" was partly written: "3" queues after it, not instead of it.
    // What is left: the last byte of pong "2", then pong "3".
    let mut rest = vec![];
    let mut slices = [IoSlice::new(&[]); 8];
    let n = s.io_slices(&mut slices);
    for sl in &slices[..n] {
        rest.extend_from_slice(sl);
    }
    assert_eq!(rest, [b'2', 0x8A, 1, b'3']);
    let mut c = client();
    let mut s2 = server();
    s2.feed(&client_frame(0x89, b"1"));
    let _ = events(&mut s2);
    s2.send_text("data").unwrap();
    c.feed(&output(&mut s2));
    assert_eq!(
        events(&mut c),
        vec![
            Event::Pong(Bytes::from_static(b"1")),
            Event::Text(Utf8Bytes::from("data"))
        ]
    );
}
