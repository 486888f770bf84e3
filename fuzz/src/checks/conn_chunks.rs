//! The connection state machine fed arbitrary bytes in arbitrary chunkings,
//! as server and as client, with default or tiny size limits.
//!
//! - the events are the same for every chunking (whole, byte by byte, and
//!   fuzzed chunk sizes through both `feed` and `read_space`);
//! - nothing is yielded after a close or an error, even when more bytes come;
//! - everything the connection writes reads back as valid frames (reference
//!   reader) and is what the events call for: pongs answering the pings in
//!   order, the last ping always answered (an answer not yet written may be
//!   replaced by a later one, RFC 6455 §5.5.3, so how many depends on how
//!   fast the writer drains), then one close frame (the peer's code echoed,
//!   or the error's code), then nothing.

use rocwebsocket::proto::{ConnConfig, Connection, Role};

use super::input::{Input, Rng};
use super::reference::{self, Ev, RefFrame};

/// How to cut the stream.
enum Chunking {
    Whole,
    Bytes,
    Random(u64, usize),
}

struct Run {
    events: Vec<Ev>,
    frames: Vec<RefFrame>,
}

fn drain(conn: &mut Connection, events: &mut Vec<Ev>) {
    while let Some(e) = conn.next_event() {
        let ev = Ev::from_event(e);
        if let Some(last) = events.last() {
            assert!(!last.is_terminal(), "{ev:?} yielded after {last:?}");
        }
        if ev.is_terminal() {
            assert!(!conn.accepts_input(), "input still accepted after {ev:?}");
        }
        events.push(ev);
    }
    if events.last().is_some_and(Ev::is_terminal) {
        assert_eq!(conn.bytes_wanted(), 0);
    }
}

fn run(role: Role, config: ConnConfig, stream: &[u8], chunking: &Chunking) -> Run {
    let mut conn = Connection::new(role, config);
    let mut events = Vec::new();
    let mut output = Vec::new();
    let mut pos = 0;
    let mut rng = match chunking {
        Chunking::Random(seed, _) => Rng::new(*seed),
        _ => Rng::new(0),
    };
    while pos < stream.len() {
        let n = match chunking {
            Chunking::Whole => stream.len(),
            Chunking::Bytes => 1,
            Chunking::Random(_, max) => rng.chunk(*max),
        }
        .min(stream.len() - pos);
        let chunk = &stream[pos..pos + n];
        if rng.next() & 1 == 0 {
            conn.feed(chunk);
        } else if conn.accepts_input() {
            conn.read_space().extend_from_slice(chunk);
        }
        pos += n;
        drain(&mut conn, &mut events);
        // Take some output as it appears (a writer that keeps up)...
        if rng.next() & 1 == 0 {
            take_output(&mut conn, &mut output, rng.next() as usize % 64);
        }
    }
    drain(&mut conn, &mut events);
    // ...then everything.
    take_output(&mut conn, &mut output, usize::MAX);
    if events.last().is_some_and(Ev::is_terminal) {
        // More bytes after the end change nothing.
        conn.feed(b"\x81\x85\x00\x00\x00\x00hello");
        assert!(conn.next_event().is_none(), "event after the end");
        assert!(conn.should_close_transport());
    }
    let frames = reference::read_output(&output, role)
        .unwrap_or_else(|e| panic!("{role:?} wrote invalid frames: {e}"));
    Run { events, frames }
}

fn take_output(conn: &mut Connection, out: &mut Vec<u8>, mut max: usize) {
    while max > 0 {
        let chunk = conn.output_chunk();
        if chunk.is_empty() {
            return;
        }
        let n = chunk.len().min(max);
        out.extend_from_slice(&chunk[..n]);
        conn.advance_output(n);
        max -= n;
    }
}

/// Checks what a run wrote against its events.
fn check_output(frames: &[RefFrame], events: &[Ev]) {
    let pings: Vec<&Vec<u8>> = events
        .iter()
        .filter_map(|e| match e {
            Ev::Ping(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut pongs = Vec::new();
    let mut closes = Vec::new();
    for f in frames {
        assert!(f.fin);
        match f.opcode {
            0xA => {
                assert!(closes.is_empty(), "pong after the close frame");
                pongs.push(&f.payload);
            }
            0x8 => closes.push((0x8, f.payload.clone())),
            op => panic!("unexpected frame with opcode {op:#x}"),
        }
    }
    // The pongs answer a subsequence of the pings, in order, ending with the last.
    let mut next = 0;
    for p in &pongs {
        match pings[next..].iter().position(|q| q == p) {
            Some(i) => next += i + 1,
            None => panic!("pong {p:?} answers no ping, in order: {pings:?}"),
        }
    }
    assert_eq!(pongs.last(), pings.last(), "the last ping is unanswered");
    assert_eq!(closes, expected_closes(events), "close frames");
}

/// The close frames the events call for.
fn expected_closes(events: &[Ev]) -> Vec<(u8, Vec<u8>)> {
    let mut want = Vec::new();
    for e in events {
        match e {
            Ev::Close(code, _) => {
                let payload = if *code == 1005 {
                    Vec::new()
                } else {
                    code.to_be_bytes().to_vec()
                };
                want.push((0x8, payload));
            }
            Ev::Error(err) => {
                let mut payload = err.close_code().0.to_be_bytes().to_vec();
                payload.extend_from_slice(err.reason().as_bytes());
                want.push((0x8, payload));
            }
            _ => {}
        }
    }
    want
}

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let role = if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let config = if flags & 2 != 0 {
        ConnConfig {
            max_frame_size: usize::from(input.u8()) * 4,
            max_message_size: usize::from(input.u16()),
            allowed_rsv: 0,
        }
    } else {
        ConnConfig::default()
    };
    let seed = input.u64();
    let stream = input.rest();

    let whole = run(role, config, stream, &Chunking::Whole);
    let mut chunkings = vec![
        Chunking::Random(seed, 7),
        Chunking::Random(seed.rotate_left(17), 200),
    ];
    if stream.len() <= 2048 {
        chunkings.push(Chunking::Bytes);
    }
    for chunking in &chunkings {
        let other = run(role, config, stream, chunking);
        assert_eq!(other.events, whole.events, "events depend on the chunking");
        check_output(&other.frames, &other.events);
    }
    check_output(&whole.frames, &whole.events);
}
