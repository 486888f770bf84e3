//! The deflate crate choice, measured on a market-data stream: 20,000 JSON
//! ticks of 100-300 bytes, each compressed as one permessage-deflate message
//! (sync flush, context kept across messages) and inflated back. Prints CPU
//! per message and the ratio for zlib-rs (the crate in use) and
//! miniz_oxide; asserts nothing.
//!
//!     cargo bench --bench deflate

use std::hint::black_box;
use std::time::Instant;

use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush};
use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Inflate, InflateFlush};

fn ticks(n: usize) -> Vec<String> {
    let mut state = 0x2545_f491_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|i| {
            let extra = "x".repeat((next() % 120) as usize);
            format!(
                "{{\"type\":\"ticker\",\"sequence\":{},\"product_id\":\"{}\",\"price\":\"{}.{:02}\",\"best_bid\":\"{}.{:02}\",\"best_ask\":\"{}.{:02}\",\"side\":\"{}\",\"time\":\"2026-12-03T19:{:02}:{:02}.{:06}Z\",\"trade_id\":{},\"last_size\":\"0.{:08}\",\"note\":\"{extra}\"}}",
                100_000_000 + i,
                ["BTC-USD", "ETH-USD", "SOL-USD"][i % 3],
                40_000 + next() % 500, next() % 100,
                40_000 + next() % 500, next() % 100,
                40_000 + next() % 500, next() % 100,
                if next() % 2 == 0 { "buy" } else { "sell" },
                (i / 60) % 60, i % 60, next() % 1_000_000,
                5_000_000 + i,
                next() % 100_000_000,
            )
        })
        .collect()
}

fn report(name: &str, msgs: &[String], wire: usize, compress_ns: f64, inflate_ns: f64) {
    let plain: usize = msgs.iter().map(String::len).sum();
    println!(
        "{name:<38} {:>6.0} ns/msg deflate {:>6.0} ns/msg inflate  {:>5.1} B/msg  ratio {:.2}",
        compress_ns,
        inflate_ns,
        wire as f64 / msgs.len() as f64,
        plain as f64 / wire as f64
    );
}

fn zlib_rs(msgs: &[String], level: i32, window_bits: i32, mem_level: i32) {
    let name = format!("zlib-rs level {level} window {window_bits} mem {mem_level}");
    let mut c = Deflate::new_with_config(DeflateConfig {
        level,
        window_bits: -window_bits,
        mem_level,
        ..DeflateConfig::default()
    });
    let mut out = vec![0u8; 4096];
    let mut frames = Vec::with_capacity(msgs.len());
    let t = Instant::now();
    for m in msgs {
        let before = c.total_out();
        c.compress(m.as_bytes(), &mut out, DeflateFlush::SyncFlush)
            .unwrap();
        let n = (c.total_out() - before) as usize;
        frames.push(out[..n - 4].to_vec());
    }
    let compress = t.elapsed().as_nanos() as f64 / msgs.len() as f64;
    let wire = frames.iter().map(Vec::len).sum();
    let mut d = Inflate::new(false, 15);
    let t = Instant::now();
    for f in &mut frames {
        f.extend_from_slice(&[0, 0, 0xff, 0xff]);
        d.decompress(f, &mut out, InflateFlush::SyncFlush).unwrap();
        black_box(&out);
    }
    let inflate = t.elapsed().as_nanos() as f64 / msgs.len() as f64;
    report(&name, msgs, wire, compress, inflate);
}

fn miniz(msgs: &[String], level: u8) {
    let mut c = CompressorOxide::default();
    c.set_format_and_level(DataFormat::Raw, level);
    let mut out = vec![0u8; 4096];
    let mut frames = Vec::with_capacity(msgs.len());
    let t = Instant::now();
    for m in msgs {
        let r =
            miniz_oxide::deflate::stream::deflate(&mut c, m.as_bytes(), &mut out, MZFlush::Sync);
        frames.push(out[..r.bytes_written - 4].to_vec());
    }
    let compress = t.elapsed().as_nanos() as f64 / msgs.len() as f64;
    let wire = frames.iter().map(Vec::len).sum();
    let mut d = InflateState::new_boxed(DataFormat::Raw);
    let t = Instant::now();
    for f in &mut frames {
        f.extend_from_slice(&[0, 0, 0xff, 0xff]);
        miniz_oxide::inflate::stream::inflate(&mut d, f, &mut out, MZFlush::Sync);
        black_box(&out);
    }
    let inflate = t.elapsed().as_nanos() as f64 / msgs.len() as f64;
    report(
        &format!("miniz_oxide level {level} window 15 (fixed)"),
        msgs,
        wire,
        compress,
        inflate,
    );
}

fn main() {
    let msgs = ticks(20_000);
    let avg = msgs.iter().map(String::len).sum::<usize>() as f64 / msgs.len() as f64;
    println!(
        "{} JSON ticks, {avg:.0} B on average, context takeover, one sync flush each",
        msgs.len()
    );
    for _ in 0..2 {
        // The second round is the one to read (caches and allocator warm).
        zlib_rs(&msgs, 1, 11, 4);
        zlib_rs(&msgs, 1, 15, 8);
        zlib_rs(&msgs, 6, 11, 4);
        zlib_rs(&msgs, 6, 15, 8);
        miniz(&msgs, 1);
        miniz(&msgs, 6);
        println!();
    }
}
