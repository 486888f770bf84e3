//! Masking throughput per SIMD level, against `copy_from_slice` (the memory
//! ceiling) and the byte-by-byte reference.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rocwebsocket::simd::mask::{apply_mask, apply_mask_at, apply_mask_reference};
use rocwebsocket::simd::{is_supported, SimdLevel};

const SIZES: [usize; 5] = [16, 125, 1024, 16 * 1024, 1024 * 1024];
const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

fn bench_mask(c: &mut Criterion) {
    for size in SIZES {
        let mut group = c.benchmark_group(format!("mask/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
        for level in SimdLevel::ALL.into_iter().filter(|&l| is_supported(l)) {
            group.bench_function(BenchmarkId::from_parameter(level.name()), |b| {
                b.iter(|| apply_mask_at(level, black_box(&mut buf[..]), KEY, black_box(1)))
            });
        }
        group.bench_function(BenchmarkId::from_parameter("dispatch"), |b| {
            b.iter(|| apply_mask(black_box(&mut buf[..]), KEY, black_box(1)))
        });
        group.bench_function(BenchmarkId::from_parameter("copy_from_slice"), |b| {
            let src = buf.clone();
            let mut dst = vec![0u8; size];
            b.iter(|| black_box(&mut dst[..]).copy_from_slice(black_box(&src[..])))
        });
        group.bench_function(BenchmarkId::from_parameter("reference"), |b| {
            b.iter(|| apply_mask_reference(black_box(&mut buf[..]), KEY, black_box(1)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench_mask);
criterion_main!(benches);
