//! Two connected `proto::Connection`s, a server and a client, driven by an
//! arbitrary sequence of API calls, against a model of what each call must do:
//!
//! - every call's result is the model's: sends after our close frame are
//!   refused with `Closing`, pings/pongs over 125 bytes with
//!   `ControlTooLong`, codes RFC 6455 forbids with `InvalidCloseCode`, reasons
//!   over 123 bytes with `ReasonTooLong`, shared frames on a client with
//!   `SharedFrameNeedsServer`, a whole message inside a fragmented one with
//!   `MessageInProgress`, a stray continuation with `NoMessageInProgress`, a
//!   fragmented ping with `FragmentedControl`, a close through `send_bytes`
//!   with `UseClose`, text that cannot become UTF-8 with `NotUtf8`;
//! - output is delivered in arbitrary partial writes (`output_chunk` or
//!   `io_slices`), and every message, ping, pong (automatic ones included)
//!   and close arrives intact and in order, with no error;
//! - at the end, once all output is delivered, every expected event arrived,
//!   and if either side started the closing handshake both sides are closed
//!   and ready to shut the transport.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::Bytes;
use rocwebsocket::proto::conn::{encode_shared_frame, PONGS_KEPT};
use rocwebsocket::proto::{CloseCode, ConnConfig, Connection, OpCode, Role, SendError};

use super::input::Input;
use super::reference::{close_code_sendable, Ev};

struct Side {
    conn: Connection,
    /// What this side must receive next, in order.
    expect: VecDeque<Ev>,
    /// The model's view: a close frame was queued by this side.
    close_sent: bool,
    /// A fragmented message in progress: (text?, all its bytes, bytes sent).
    fragment: Option<(bool, Vec<u8>, usize)>,
    /// Length of an automatic pong at the end of the output, none of it
    /// written yet: past `PONGS_KEPT` the next ping's answer replaces it (§5.5.3).
    pong_pending: Option<usize>,
    /// Automatic pongs queued since this side's output was last written:
    /// under `PONGS_KEPT` each ping gets its own pong.
    pongs_unwritten: u8,
}

impl Side {
    fn new(role: Role) -> Side {
        Side {
            conn: Connection::new(role, ConnConfig::default()),
            expect: VecDeque::new(),
            close_sent: false,
            fragment: None,
            pong_pending: None,
            pongs_unwritten: 0,
        }
    }

    /// The result a send must have when the call is otherwise valid.
    fn open(&self) -> Result<(), SendError> {
        if self.close_sent {
            Err(SendError::Closing)
        } else {
            Ok(())
        }
    }

    /// What a new whole message must get while a fragmented one is open.
    fn no_fragment(&self) -> Result<(), SendError> {
        if self.fragment.is_some() {
            Err(SendError::MessageInProgress)
        } else {
            Ok(())
        }
    }
}

/// Calls RFC 6455 forbids, each refused with its own error and changing
/// nothing (the peer's expectations stay as they were).
fn forbidden(side: &mut Side, input: &mut Input<'_>) {
    let open = side.open();
    let (r, want) = match input.u8() % 7 {
        0 => {
            // With a message open a continuation is allowed (op 5 sends those).
            if side.fragment.is_some() {
                return;
            }
            (
                side.conn
                    .send_fragment(OpCode::Continuation, b"x", input.bool()),
                Err(SendError::NoMessageInProgress),
            )
        }
        1 => {
            if side.fragment.is_none() {
                return;
            }
            (
                side.conn.send_fragment(OpCode::Binary, b"y", true),
                Err(SendError::MessageInProgress),
            )
        }
        2 => (
            side.conn.send_fragment(OpCode::Ping, b"p", false),
            Err(SendError::FragmentedControl),
        ),
        3 => (
            side.conn
                .send_bytes(OpCode::Close, Bytes::from_static(b"\x03\xe8")),
            Err(SendError::UseClose),
        ),
        4 => (
            side.conn
                .send_bytes(OpCode::Continuation, Bytes::from_static(b"c")),
            Err(SendError::NoMessageInProgress),
        ),
        5 => (
            side.conn
                .send_bytes(OpCode::Text, Bytes::from_static(b"a\xff")),
            Err(SendError::NotUtf8),
        ),
        _ => {
            // A text fragment that no continuation can make UTF-8.
            if side.fragment.is_some() {
                return;
            }
            (
                side.conn.send_fragment(OpCode::Text, b"\xc3\x28", false),
                Err(SendError::NotUtf8),
            )
        }
    };
    // A closed side refuses everything with Closing first.
    assert_eq!(r, open.and(want));
}

fn text_from(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Moves up to `max` bytes of `from`'s output to `to` and checks the events.
fn deliver(sides: &mut [Side; 2], from: usize, max: usize, use_slices: bool) {
    let mut moved = Vec::new();
    {
        let conn = &sides[from].conn;
        if use_slices {
            let mut slices = [IoSlice::new(&[]); 4];
            let n = conn.io_slices(&mut slices);
            for s in &slices[..n] {
                let take = s.len().min(max - moved.len());
                moved.extend_from_slice(&s[..take]);
            }
        } else {
            let chunk = conn.output_chunk();
            moved.extend_from_slice(&chunk[..chunk.len().min(max)]);
        }
    }
    let before = sides[from].conn.buffered_amount();
    sides[from].conn.advance_output(moved.len());
    if !moved.is_empty() {
        sides[from].pongs_unwritten = 0;
    }
    assert_eq!(sides[from].conn.buffered_amount(), before - moved.len());
    if let Some(len) = sides[from].pong_pending {
        if moved.len() > before - len {
            sides[from].pong_pending = None; // part of it is on the wire
        }
    }
    if moved.is_empty() {
        return;
    }
    let (a, b) = sides.split_at_mut(1);
    let (sender, receiver) = if from == 0 {
        (&mut a[0], &mut b[0])
    } else {
        (&mut b[0], &mut a[0])
    };
    if receiver.conn.accepts_input() {
        receiver.conn.feed(&moved);
    } else {
        // Only the close frame exchange can leave bytes for a closed peer,
        // and a closed peer has already seen the close frame.
        panic!("{} bytes for a peer that no longer reads", moved.len());
    }
    while let Some(e) = receiver.conn.next_event() {
        let ev = Ev::from_event(e);
        let want = receiver.expect.pop_front();
        assert_eq!(
            Some(&ev),
            want.as_ref(),
            "event on the {:?}",
            receiver.conn.role()
        );
        match ev {
            Ev::Ping(p) if !receiver.close_sent => {
                let len = p.len()
                    + if receiver.conn.role() == Role::Client {
                        6
                    } else {
                        2
                    };
                if receiver.pongs_unwritten < PONGS_KEPT {
                    // Answered one for one: the previous pong stays.
                    receiver.pongs_unwritten += 1;
                    receiver.pong_pending = None;
                }
                if receiver.pong_pending.is_some() {
                    let last = sender.expect.back_mut();
                    assert!(matches!(last, Some(Ev::Pong(_))), "pending pong not last");
                    *last.unwrap() = Ev::Pong(p);
                } else {
                    sender.expect.push_back(Ev::Pong(p));
                }
                receiver.pong_pending = Some(len);
            }
            Ev::Close(code, _) if !receiver.close_sent => {
                receiver.close_sent = true;
                receiver.fragment = None;
                receiver.pong_pending = None;
                sender.expect.push_back(Ev::Close(code, Vec::new()));
            }
            _ => {}
        }
        assert_eq!(
            receiver.conn.close_state().close_sent(),
            receiver.close_sent
        );
    }
}

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let mut sides = [Side::new(Role::Server), Side::new(Role::Client)];
    let mut ops = 0;
    while !input.is_empty() && ops < 256 {
        ops += 1;
        let op = input.u8();
        let who = usize::from(op >> 7);
        let peer = 1 - who;
        let queued_before = sides[who].conn.buffered_amount();
        match op & 0x0F {
            0 | 1 => {
                // Whole text or binary message (not while a fragmented one is open:
                // the caller's contract).
                let len = usize::from(input.u8());
                let bytes = input.bytes(len);
                let side = &mut sides[who];
                let (r, ev) = if op & 0x0F == 0 {
                    let text = text_from(bytes);
                    (side.conn.send_text(&text), Ev::Text(text.into_bytes()))
                } else {
                    (side.conn.send_binary(bytes), Ev::Binary(bytes.to_vec()))
                };
                assert_eq!(r, side.open().and(side.no_fragment()));
                if r.is_ok() {
                    sides[peer].expect.push_back(ev);
                }
            }
            2 => {
                // A large message by reference (shared by a server when >= 4 KiB).
                let len = usize::from(input.u16()) % 10_000;
                let fill = input.u8() & 0x7F;
                let payload: Vec<u8> = (0..len).map(|i| fill ^ (i as u8 & 0x3F)).collect();
                let text = input.bool();
                let opcode = if text { OpCode::Text } else { OpCode::Binary };
                let r = sides[who]
                    .conn
                    .send_bytes(opcode, Bytes::from(payload.clone()));
                assert_eq!(r, sides[who].open().and(sides[who].no_fragment()));
                if r.is_ok() {
                    let ev = if text {
                        Ev::Text(payload)
                    } else {
                        Ev::Binary(payload)
                    };
                    sides[peer].expect.push_back(ev);
                }
            }
            3 | 4 => {
                let len = usize::from(input.u8());
                let bytes = input.bytes(len).to_vec();
                let ping = op & 0x0F == 3;
                let side = &mut sides[who];
                let r = if ping {
                    side.conn.send_ping(&bytes)
                } else {
                    side.conn.send_pong(&bytes)
                };
                let too_long = if bytes.len() > 125 {
                    Err(SendError::ControlTooLong)
                } else {
                    Ok(())
                };
                let want = side.open().and(too_long);
                assert_eq!(r, want);
                if r.is_ok() {
                    let ev = if ping {
                        Ev::Ping(bytes)
                    } else {
                        Ev::Pong(bytes)
                    };
                    sides[peer].expect.push_back(ev);
                }
            }
            5 => {
                // The next fragment of a message, starting one if none is open;
                // `fin` sends the rest and ends it.
                let take = usize::from(input.u8());
                let fin = input.bool();
                let side = &mut sides[who];
                let (text, all, sent, first) = match side.fragment.take() {
                    Some((text, all, sent)) => (text, all, sent, false),
                    None => {
                        let text = input.bool();
                        let len = usize::from(input.u8());
                        let bytes = input.bytes(len);
                        let all = if text {
                            text_from(bytes).into_bytes()
                        } else {
                            bytes.to_vec()
                        };
                        (text, all, 0, true)
                    }
                };
                let n = if fin {
                    all.len() - sent
                } else {
                    take.min(all.len() - sent)
                };
                let opcode = match (first, text) {
                    (false, _) => OpCode::Continuation,
                    (true, true) => OpCode::Text,
                    (true, false) => OpCode::Binary,
                };
                let r = side.conn.send_fragment(opcode, &all[sent..sent + n], fin);
                assert_eq!(r, side.open());
                if r.is_err() {
                    continue;
                }
                if fin {
                    let ev = if text { Ev::Text(all) } else { Ev::Binary(all) };
                    sides[peer].expect.push_back(ev);
                } else {
                    side.fragment = Some((text, all, sent + n));
                }
            }
            6 => {
                let code = match input.u8() % 4 {
                    0 => 1000 + input.u16() % 20,
                    1 => 3000 + input.u16() % 2000,
                    2 => input.u16(),
                    _ => [1000, 1001, 1004, 1005, 1006, 1015, 1016, 2999, 5000]
                        [usize::from(input.u8()) % 9],
                };
                let len = usize::from(input.u8());
                let reason = text_from(input.bytes(len));
                let side = &mut sides[who];
                let r = side.conn.close(CloseCode(code), &reason);
                let want = side.open().and_then(|()| {
                    if !close_code_sendable(code) {
                        Err(SendError::InvalidCloseCode(code))
                    } else if reason.len() > 123 {
                        Err(SendError::ReasonTooLong)
                    } else {
                        Ok(())
                    }
                });
                assert_eq!(r, want, "close({code}, {} bytes)", reason.len());
                if r.is_ok() {
                    side.close_sent = true;
                    side.fragment = None;
                    sides[peer]
                        .expect
                        .push_back(Ev::Close(code, reason.into_bytes()));
                }
            }
            7 => {
                let len = usize::from(input.u8());
                let payload = input.bytes(len).to_vec();
                let frame = encode_shared_frame(OpCode::Binary, &payload).unwrap();
                let side = &mut sides[who];
                let r = side.conn.send_shared(frame);
                let role = if side.conn.role() == Role::Client {
                    Err(SendError::SharedFrameNeedsServer)
                } else {
                    Ok(())
                };
                let want = side.open().and(role).and(side.no_fragment());
                assert_eq!(r, want);
                if r.is_ok() {
                    sides[peer].expect.push_back(Ev::Binary(payload));
                }
            }
            15 => forbidden(&mut sides[who], &mut input),
            8..=13 => {
                let max = usize::from(input.u16()) + 1;
                deliver(&mut sides, who, max, op & 1 == 0);
            }
            _ => {
                for from in [who, 1 - who] {
                    deliver(&mut sides, from, usize::MAX, false);
                }
            }
        }
        // Anything this side queued settles its pending pong.
        if !(8..=14).contains(&(op & 0x0F)) && sides[who].conn.buffered_amount() > queued_before {
            sides[who].pong_pending = None;
        }
        for side in &sides {
            assert_eq!(side.conn.close_state().close_sent(), side.close_sent);
        }
    }
    // Finish any open fragmented message, then deliver everything.
    for who in 0..2 {
        if let Some((text, all, sent)) = sides[who].fragment.take() {
            if !sides[who].close_sent {
                let r = sides[who]
                    .conn
                    .send_fragment(OpCode::Continuation, &all[sent..], true);
                assert_eq!(r, Ok(()));
                sides[who].pong_pending = None;
                let ev = if text { Ev::Text(all) } else { Ev::Binary(all) };
                sides[1 - who].expect.push_back(ev);
            }
        }
    }
    loop {
        let pending = sides[0].conn.buffered_amount() + sides[1].conn.buffered_amount();
        if pending == 0 {
            break;
        }
        deliver(&mut sides, 0, usize::MAX, true);
        deliver(&mut sides, 1, usize::MAX, false);
    }
    for side in &sides {
        assert!(
            side.expect.is_empty(),
            "{:?} never received {:?}",
            side.conn.role(),
            side.expect
        );
        assert!(side.conn.failure().is_none());
    }
    let closing = sides[0].close_sent || sides[1].close_sent;
    for side in &sides {
        if closing {
            assert!(
                side.conn.close_state().is_closed(),
                "{:?} not closed",
                side.conn.role()
            );
            assert!(side.conn.should_close_transport());
        } else {
            assert!(side.conn.accepts_input());
        }
    }
}
