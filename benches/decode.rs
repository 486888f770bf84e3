//! Decoding throughput of the sans-IO core: a 1 MiB buffer of small masked
//! text frames (as a server receives them) through parse + unmask + UTF-8
//! validation, reported in messages per second (criterion "elements").
//!
//!     cargo bench --bench decode
//!
//! Sizes: 20-byte and 100-byte JSON-like payloads (the market-data case) and
//! 1 KiB. Each iteration feeds the whole buffer in 64 KiB reads, as the
//! event loop does, and drops every message.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rocwebsocket::proto::frame::{encode_frame, OpCode};
use rocwebsocket::proto::{ConnConfig, Connection, Event, Role};

/// Masked text frames of `size` bytes until about 1 MiB; returns the bytes and the count.
fn frames(size: usize) -> (Vec<u8>, u64) {
    let template =
        r#"{"s":"BTCUSDT","p":"64123.50","q":"0.0125","t":1732000000000,"side":"buy","pad":""#;
    let mut payload: Vec<u8> = template.bytes().cycle().take(size).collect();
    if let Some(last) = payload.last_mut() {
        *last = b'}';
    }
    let mut wire = Vec::with_capacity((1 << 20) + 4096);
    let mut count = 0;
    let mut key = 0x9E37_79B9u32;
    while wire.len() < 1 << 20 {
        key = key.rotate_left(5) ^ 0x5bd1_e995;
        encode_frame(
            &mut wire,
            true,
            OpCode::Text,
            &payload,
            Some(key.to_le_bytes()),
        );
        count += 1;
    }
    (wire, count)
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_1MiB_masked_text");
    for size in [20usize, 100, 1024] {
        let (wire, count) = frames(size);
        group.throughput(Throughput::Elements(count));
        let mut conn = Connection::new(Role::Server, ConnConfig::default());
        conn.read_space().reserve(128 * 1024);
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{size}B")),
            &wire,
            |b, wire| {
                b.iter(|| {
                    let mut n = 0u64;
                    for chunk in wire.chunks(64 * 1024) {
                        conn.read_space().extend_from_slice(chunk);
                        while let Some(event) = conn.next_event() {
                            debug_assert!(matches!(event, Event::Text(_)));
                            n += 1;
                        }
                    }
                    assert_eq!(n, count);
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
