//! UTF-8 validation throughput: `Utf8Validator` and `validate` against
//! `std::str::from_utf8`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rocwebsocket::simd::utf8::{validate, Utf8Validator};

/// Deterministic text of at most `max` bytes, mixing 2-byte (Greek), 3-byte
/// (CJK) and 4-byte (emoji) characters with some spaces.
fn multibyte_text(max: usize) -> Vec<u8> {
    let mut s = String::new();
    let mut x: u32 = 0x1234_5678;
    loop {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let c = match x % 8 {
            0 => ' ',
            1..=3 => char::from_u32(0x3B1 + x / 8 % 25).unwrap_or('α'),
            4..=6 => char::from_u32(0x4E00 + x / 8 % 0x5000).unwrap_or('中'),
            _ => char::from_u32(0x1F600 + x / 8 % 0x50).unwrap_or('😀'),
        };
        if s.len() + c.len_utf8() > max {
            return s.into_bytes();
        }
        s.push(c);
    }
}

fn ascii_text(len: usize) -> Vec<u8> {
    let words = b"the quick brown fox jumps over the lazy dog 0123456789 ";
    words.iter().copied().cycle().take(len).collect()
}

fn bench_utf8(c: &mut Criterion) {
    let inputs = [
        ("ascii_64k", ascii_text(64 * 1024)),
        ("multibyte_64k", multibyte_text(64 * 1024)),
        ("ascii_100b", ascii_text(100)),
        ("multibyte_100b", multibyte_text(100)),
    ];
    for (name, data) in &inputs {
        assert!(std::str::from_utf8(data).is_ok());
        let mut group = c.benchmark_group(format!("utf8/{name}"));
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(BenchmarkId::from_parameter("std"), |b| {
            b.iter(|| std::str::from_utf8(black_box(data)).is_ok())
        });
        group.bench_function(BenchmarkId::from_parameter("validate"), |b| {
            b.iter(|| validate(black_box(data)).is_ok())
        });
        group.bench_function(BenchmarkId::from_parameter("validator"), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(data)).is_ok() && v.finish().is_ok()
            })
        });
        if data.len() > 4096 {
            // Chunks of 4093 bytes: boundaries fall inside code points.
            group.bench_function(BenchmarkId::from_parameter("validator_4093b_chunks"), |b| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    black_box(data).chunks(4093).all(|c| v.feed(c).is_ok()) && v.finish().is_ok()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_utf8);
criterion_main!(benches);
