//! Allocation on the hot path, counted by a global allocator: a warmed-up
//! connection receives and echoes small messages without allocating per
//! message, nor does the batched C ABI queue, and a broadcast allocates per
//! message, not per subscriber.
//!
//! A single test function runs every case in sequence: the counter is
//! process-wide, so nothing else may run beside it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use rocwebsocket::net::{Config, Message};
use rocwebsocket::proto::frame::{encode_frame, OpCode};
use rocwebsocket::proto::{ConnConfig, Connection, Event, Role};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// `count` masked 20-byte binary frames, as a client sends them.
fn client_frames(count: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    for i in 0..count {
        let payload = [(i % 251) as u8; 20];
        encode_frame(
            &mut wire,
            true,
            OpCode::Binary,
            &payload,
            Some([1, 2, 3, 4]),
        );
    }
    wire
}

/// The sans-IO core alone: decode 10,000 frames fed in 4 KiB reads.
fn sans_io_receive() {
    let wire = client_frames(10_000);
    let mut conn = Connection::new(Role::Server, ConnConfig::default());
    conn.read_space().reserve(64 * 1024);
    let run = |conn: &mut Connection| {
        let mut messages = 0;
        for chunk in wire.chunks(4096) {
            conn.read_space().extend_from_slice(chunk);
            while let Some(event) = conn.next_event() {
                assert!(matches!(event, Event::Binary(ref b) if b.len() == 20));
                messages += 1;
            }
        }
        messages
    };
    assert_eq!(run(&mut conn), 10_000); // warm-up
    let before = allocations();
    assert_eq!(run(&mut conn), 10_000);
    let per_message = (allocations() - before) as f64 / 10_000.0;
    println!("sans-IO receive: {per_message:.4} allocations per message");
    assert!(per_message < 0.01, "{per_message} allocations per message");
}

/// The whole engine: one connection, 100 messages in flight, echoed.
fn engine_echo() {
    let (engine, addr, _seen) = echo_engine(Config::default());
    let client = TestClient::connect(addr, "/");
    let mut stream: TcpStream = client.stream;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let batch = client_frames(100);
    // Each echo is an unmasked 20-byte frame: 2 header bytes + 20.
    let mut echoes = vec![0u8; 100 * 22];
    let mut round = |stream: &mut TcpStream| {
        stream.write_all(&batch).unwrap();
        stream.read_exact(&mut echoes).unwrap();
    };
    for _ in 0..50 {
        round(&mut stream); // warm-up: pools, slab, channel blocks
    }
    let before = allocations();
    for _ in 0..200 {
        round(&mut stream);
    }
    let per_message = (allocations() - before) as f64 / 20_000.0;
    println!("engine echo: {per_message:.4} allocations per message");
    assert!(per_message < 0.01, "{per_message} allocations per message");
    drop(stream);
    engine.stop(Duration::from_secs(1));
}

/// The batched C ABI engine: messages queue as columns and are taken with
/// `rws_engine_poll_batch`, without allocating once the columns have grown.
fn batched_queue() {
    use rocwebsocket::ffi::*;
    let listen = [c"127.0.0.1:0".as_ptr()];
    // SAFETY: the FFI contract: a config from rws_engine_config_init, a
    // listen list that outlives the start call, the engine freed once.
    let engine = unsafe {
        let mut config = std::mem::zeroed::<rws_engine_config>();
        rws_engine_config_init(&mut config);
        config.listen = listen.as_ptr();
        config.listen_count = 1;
        config.threads = 1;
        rws_engine_start_batched(&config)
    };
    assert!(!engine.is_null());
    // SAFETY: a live engine.
    let port = unsafe { rws_engine_port(engine) };
    let client = TestClient::connect(([127, 0, 0, 1], port).into(), "/");
    let mut stream: TcpStream = client.stream;
    let frames = client_frames(100);
    let mut batch = std::mem::MaybeUninit::<rws_event_batch>::uninit();
    let mut round = |stream: &mut TcpStream| {
        stream.write_all(&frames).unwrap();
        let mut got = 0;
        while got < 100 {
            // SAFETY: a live engine and a writable batch.
            let batch = unsafe {
                rws_engine_poll_batch(engine, 4096, 1000, batch.as_mut_ptr());
                batch.assume_init_ref()
            };
            for i in 0..batch.count {
                // SAFETY: `count` entries per column, valid until the next poll.
                got += usize::from(unsafe { *batch.types.add(i) } == 2); // BINARY
            }
        }
    };
    for _ in 0..50 {
        round(&mut stream); // warm-up: the columns grow to their working size
    }
    let before = allocations();
    for _ in 0..200 {
        round(&mut stream);
    }
    let per_message = (allocations() - before) as f64 / 20_000.0;
    println!("batched C ABI queue: {per_message:.4} allocations per message");
    assert!(per_message < 0.01, "{per_message} allocations per message");
    drop(stream);
    // SAFETY: from rws_engine_start_batched, freed once.
    unsafe { rws_engine_free(engine) };
}

/// Allocations per broadcast message with `n` subscribers.
fn broadcast_allocations(n: usize) -> f64 {
    let (engine, addr, _seen) = echo_engine(Config::default());
    let mut subscribers: Vec<TcpStream> = (0..n)
        .map(|_| {
            let c = TestClient::connect(addr, "/");
            c.stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            c.stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200)); // every on_open ran
    let message = Message::Binary(bytes::Bytes::from_static(&[7u8; 64]));
    let mut frame = vec![0u8; 2 + 64];
    let mut round = |subscribers: &mut Vec<TcpStream>| {
        engine.handle().broadcast(&message).unwrap();
        for s in subscribers.iter_mut() {
            s.read_exact(&mut frame).unwrap();
        }
    };
    for _ in 0..20 {
        round(&mut subscribers);
    }
    let before = allocations();
    for _ in 0..200 {
        round(&mut subscribers);
    }
    let per_message = (allocations() - before) as f64 / 200.0;
    println!("broadcast to {n}: {per_message:.2} allocations per message");
    drop(subscribers);
    engine.stop(Duration::from_secs(1));
    per_message
}

/// A broadcast is encoded once and shared: its allocations do not grow with
/// the number of subscribers.
fn broadcast() {
    let few = broadcast_allocations(10);
    let many = broadcast_allocations(200);
    assert!(
        many - few < 1.0,
        "{few} allocations with 10 subscribers, {many} with 200"
    );
    assert!(many < 3.0, "{many} allocations per broadcast");
}

/// Counts messages and never replies.
struct Sink(std::sync::Arc<AtomicU64>);

impl rocwebsocket::net::Handler for Sink {
    fn on_message(&mut self, _conn: &mut rocwebsocket::net::Conn<'_>, _message: Message) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Many connections (more than a thread's pools keep) send bursts to a
/// handler that does not reply: no write buffer is taken (and so none is
/// allocated) for connections that only receive.
fn receive_only_burst() {
    const CONNS: usize = 200;
    const FRAMES: usize = 50;
    let received = std::sync::Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let config = Config {
        listen: vec![rocwebsocket::net::Endpoint::Tcp(([127, 0, 0, 1], 0).into())],
        threads: 1,
        ..Config::default()
    };
    let engine =
        rocwebsocket::net::Engine::start(config, move |_, _| Sink(counter.clone())).unwrap();
    let addr = engine.local_addr().unwrap();
    let mut streams: Vec<TcpStream> = (0..CONNS)
        .map(|_| TestClient::connect(addr, "/").stream)
        .collect();
    let burst = client_frames(FRAMES);
    let mut expected = 0;
    let mut round = |streams: &mut Vec<TcpStream>| {
        for s in streams.iter_mut() {
            s.write_all(&burst).unwrap();
        }
        expected += (CONNS * FRAMES) as u64;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while received.load(Ordering::Relaxed) < expected {
            assert!(std::time::Instant::now() < deadline, "messages lost");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    for _ in 0..5 {
        round(&mut streams); // warm-up
    }
    let before = allocations();
    for _ in 0..20 {
        round(&mut streams);
    }
    let per_message = (allocations() - before) as f64 / (20 * CONNS * FRAMES) as f64;
    println!("receive-only burst: {per_message:.4} allocations per message");
    assert!(per_message < 0.01, "{per_message} allocations per message");
    drop(streams);
    engine.stop(Duration::from_secs(1));
}

#[test]
fn hot_paths_do_not_allocate_per_message() {
    sans_io_receive();
    engine_echo();
    receive_only_burst();
    batched_queue();
    broadcast();
}
