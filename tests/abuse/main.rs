//! Hostile peers against `rocws serve --threads 1` (issue 12, item 8).
//!
//! Run: `cargo test --release --test abuse` (about a minute; `scripts/test-all.sh`
//! runs it). It is not part of a plain `cargo test` (`test = false` in
//! Cargo.toml): the attacks are meant for the optimised server that users
//! run, and a debug build's own slowness would be measured instead.
//!
//! Each test starts the server in its own process (so that its resident
//! memory is its own), connects a well-behaved client, and runs one attack
//! for a few seconds while that client sends numbered messages at a fixed
//! rate (one every 2 ms) and checks each echo. Each asserts:
//! - the good client loses nothing: every echo arrives, in order, byte for byte;
//! - its p99 round trip during the attack is at most [`P99_BOUND`] (50 ms);
//! - the server's RSS grows by at most [`RSS_BOUND`] (64 MiB) over its value
//!   before the attack (peak sampled every 20 ms);
//! - after the attack, a new client connects, upgrades and gets echoes;
//! - what the attack itself should get (431 for a head over the limit,
//!   1009 for a 2^40-byte frame).
//!
//! The server runs with its default limits and timeouts: the defaults are
//! what faces the open internet. Tests take a lock so that one attack runs
//! at a time on this two-core machine.

mod peer;
mod server;

use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use peer::{
    masked_frame, masked_header, request_and_read, tcp, upgrade_request, write_until, RawClient,
};
use server::{one_at_a_time, sleep_until, RssPeak, Server};

/// The good client's p99 round trip must stay at or under this.
const P99_BOUND: Duration = Duration::from_millis(50);
/// The server's resident memory may grow by at most this during an attack.
const RSS_BOUND: u64 = 64 << 20;
/// How long each attack lasts.
const ATTACK: Duration = Duration::from_secs(3);
/// The good client sends one message this often (1,500 during an attack).
const INTERVAL: Duration = Duration::from_millis(2);
/// An echo later than this counts as lost.
const PATIENCE: Duration = Duration::from_secs(5);
/// Fewest round trips for a meaningful p99 (the 99th percentile of fewer
/// than 200 samples is one of the two slowest); the client sends at a fixed
/// rate, so fewer means the test machine itself starved it.
const MIN_SAMPLES: usize = 200;

/// What an attack reports: a summary for the log, and anything that went
/// wrong from its own point of view (a wrong status, a missing close code).
#[derive(Default)]
struct AttackReport {
    summary: String,
    failures: Vec<String>,
    /// Sockets the attack keeps open until the measurements are over.
    held: Vec<TcpStream>,
}

/// Runs `attack` (given the server's address and the attack's deadline)
/// beside the good client, then checks everything the module doc lists.
fn run(name: &str, attack: impl FnOnce(SocketAddr, Instant) -> AttackReport + Send + 'static) {
    let _lock = one_at_a_time();
    let server = Server::start();
    let addr = server.addr;
    let mut good = RawClient::connect(addr, Duration::from_secs(5)).expect("good client connects");
    let warm = peer::echo_paced(
        &mut good,
        Instant::now() + Duration::from_millis(200),
        INTERVAL,
        PATIENCE,
    );
    assert!(
        warm.error.is_none(),
        "{name}: warm-up failed: {:?}",
        warm.error
    );
    let rss_before = server.rss();
    let sampler = RssPeak::start(server.pid());

    let deadline = Instant::now() + ATTACK;
    let attacker = thread::spawn(move || attack(addr, deadline));
    let stats = peer::echo_paced(&mut good, deadline, INTERVAL, PATIENCE);
    let report = attacker.join().expect("attack thread");
    let rss_peak = sampler.finish().max(server.rss());
    drop(report.held);

    // A new client afterwards: upgrade and 20 echoes.
    let fresh = (|| -> Result<Duration, String> {
        let start = Instant::now();
        let mut c = RawClient::connect(addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        let until = Instant::now() + Duration::from_millis(40);
        let s = peer::echo_paced(&mut c, until, INTERVAL, Duration::from_secs(2));
        match s.error {
            Some(e) => Err(e),
            None => Ok(start.elapsed()),
        }
    })();

    let p50 = stats.quantile(0.5);
    let p99 = stats.quantile(0.99);
    let max = stats.quantile(1.0);
    let growth = rss_peak.saturating_sub(rss_before);
    eprintln!(
        "abuse {name}: {} | good client: {} sent, {} echoed, p50 {p50:?}, p99 {p99:?}, max {max:?} \
         | server RSS {} -> peak {} MiB (+{:.1} MiB) | new client: {:?}",
        report.summary,
        stats.sent,
        stats.received,
        rss_before >> 20,
        rss_peak >> 20,
        growth as f64 / (1 << 20) as f64,
        fresh,
    );
    let mut failures = report.failures;
    if let Some(e) = &stats.error {
        failures.push(format!("good client: {e}"));
    }
    if stats.received != stats.sent {
        failures.push(format!(
            "good client: {} of {} echoes arrived",
            stats.received, stats.sent
        ));
    }
    if stats.rtts.len() < MIN_SAMPLES {
        failures.push(format!(
            "good client: only {} round trips in {ATTACK:?} (at least {MIN_SAMPLES} wanted)",
            stats.rtts.len()
        ));
    }
    if p99 > P99_BOUND {
        failures.push(format!("good client p99 {p99:?} > {P99_BOUND:?}"));
    }
    if growth > RSS_BOUND {
        failures.push(format!(
            "server RSS grew by {} MiB (> {} MiB)",
            growth >> 20,
            RSS_BOUND >> 20
        ));
    }
    if let Err(e) = fresh {
        failures.push(format!("a new client after the attack failed: {e}"));
    }
    assert!(failures.is_empty(), "{name}: {}", failures.join("; "));
}

/// `n` upgraded connections, each writing `frames` in a loop until the
/// deadline and never reading.
fn flood(addr: SocketAddr, deadline: Instant, n: usize, frames: Vec<u8>) -> AttackReport {
    let frames = Arc::new(frames);
    let written = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (frames, written) = (frames.clone(), written.clone());
            thread::spawn(move || {
                let Ok(c) = RawClient::connect(addr, Duration::from_secs(5)) else {
                    return None;
                };
                let mut s = c.stream;
                let (bytes, _) = write_until(&mut s, &frames, deadline);
                written.fetch_add(bytes, Ordering::Relaxed);
                Some(s)
            })
        })
        .collect();
    let held: Vec<TcpStream> = threads
        .into_iter()
        .filter_map(|t| t.join().ok().flatten())
        .collect();
    let mut failures = Vec::new();
    if held.len() < n {
        failures.push(format!("only {} of {n} flooders connected", held.len()));
    }
    AttackReport {
        summary: format!(
            "{n} peers wrote {} MiB without reading",
            written.load(Ordering::Relaxed) >> 20
        ),
        failures,
        held,
    }
}

#[test]
fn echo_flood_from_peers_that_never_read() {
    run("echo flood", |addr, deadline| {
        let frames: Vec<u8> = (0..2000)
            .flat_map(|_| masked_frame(0x82, &[0x5a; 20]))
            .collect();
        flood(addr, deadline, 4, frames)
    });
}

#[test]
fn ping_flood_from_peers_that_never_read() {
    run("ping flood", |addr, deadline| {
        let frames: Vec<u8> = (0..4000).flat_map(|_| masked_frame(0x89, b"")).collect();
        flood(addr, deadline, 4, frames)
    });
}

#[test]
fn endless_one_byte_continuation_fragments() {
    run("1-byte fragments", |addr, deadline| {
        let Ok(c) = RawClient::connect(addr, Duration::from_secs(5)) else {
            return AttackReport {
                failures: vec!["attacker could not connect".into()],
                ..Default::default()
            };
        };
        let mut s = c.stream;
        let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
        // Binary, FIN clear: a message that never ends.
        let mut sent = 0;
        let mut err = std::io::Write::write_all(&mut s, &masked_frame(0x02, b"x"))
            .err()
            .map(|e| e.to_string());
        if err.is_none() {
            let cont: Vec<u8> = (0..4096).flat_map(|_| masked_frame(0x00, b"y")).collect();
            let (bytes, e) = write_until(&mut s, &cont, deadline);
            sent = bytes / 7;
            err = e;
        }
        AttackReport {
            summary: format!(
                "{sent} 1-byte continuation frames of one message sent{}",
                err.map(|e| format!(" (then: {e})")).unwrap_or_default()
            ),
            failures: vec![],
            held: vec![s],
        }
    });
}

#[test]
fn frame_header_announcing_2_pow_40_bytes_then_a_trickle() {
    run("2^40-byte frame", |addr, deadline| {
        let mut socks = Vec::new();
        let mut failures = Vec::new();
        for _ in 0..50 {
            match RawClient::connect(addr, Duration::from_secs(5)) {
                Ok(mut c) => {
                    let _ = std::io::Write::write_all(&mut c.stream, &masked_header(0x82, 1 << 40));
                    socks.push((c, None::<u16>, false));
                }
                Err(e) => failures.push(format!("attacker could not connect: {e}")),
            }
        }
        // One payload byte per socket every 100 ms, reading what comes back.
        while Instant::now() < deadline {
            for (c, code, gone) in socks.iter_mut().filter(|s| !s.2) {
                if std::io::Write::write_all(&mut c.stream, b"z").is_err() {
                    *gone = true;
                }
                match c.read_frame(Instant::now() + Duration::from_millis(1)) {
                    Ok(f) if f.opcode == 0x8 => {
                        *code = f.payload.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => *gone = true,
                }
            }
            thread::sleep(Duration::from_millis(100));
        }
        let with_1009 = socks.iter().filter(|s| s.1 == Some(1009)).count();
        if with_1009 < socks.len() {
            failures.push(format!(
                "{} of {} sockets got close 1009 (codes: {:?})",
                with_1009,
                socks.len(),
                socks.iter().map(|s| s.1).collect::<Vec<_>>()
            ));
        }
        AttackReport {
            summary: format!("{} sockets, {with_1009} closed with 1009", socks.len()),
            failures,
            held: socks.into_iter().map(|s| s.0.stream).collect(),
        }
    });
}

#[test]
fn slowloris_heads_one_byte_a_second() {
    const SOCKETS: usize = 2000;
    let limit = server::raise_fd_limit();
    assert!(
        limit >= 2 * SOCKETS as u64 + 200,
        "open-file limit {limit} too low for {SOCKETS} sockets on each side"
    );
    run("slowloris", |addr, deadline| {
        let mut socks = Vec::with_capacity(SOCKETS);
        let mut failures = Vec::new();
        for _ in 0..SOCKETS {
            match tcp(addr, Duration::from_millis(200)) {
                Ok(s) => socks.push(s),
                Err(e) => {
                    failures.push(format!("connect {} failed: {e}", socks.len()));
                    break;
                }
            }
        }
        let head = upgrade_request();
        let mut sent = 0;
        let mut dropped = 0;
        let mut alive = vec![true; socks.len()];
        while Instant::now() < deadline && sent < head.len() - 1 {
            let next_second = Instant::now() + Duration::from_secs(1);
            for (s, ok) in socks.iter_mut().zip(alive.iter_mut()) {
                if *ok && std::io::Write::write_all(s, &head[sent..sent + 1]).is_err() {
                    *ok = false;
                    dropped += 1;
                }
            }
            sent += 1;
            sleep_until(next_second.min(deadline));
        }
        AttackReport {
            summary: format!(
                "{} sockets sent {sent} head bytes each, 1 a second ({dropped} dropped by the server)",
                socks.len()
            ),
            failures,
            held: socks,
        }
    });
}

#[test]
fn request_heads_over_the_size_limit_get_431() {
    run("oversized heads", |addr, deadline| {
        let mut head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Filler: "
            .to_vec();
        head.extend(std::iter::repeat_n(b'a', 32 * 1024));
        head.extend_from_slice(b"\r\n\r\n");
        let (mut ok, mut n) = (0, 0);
        let mut failures = Vec::new();
        while Instant::now() < deadline {
            n += 1;
            match request_and_read(addr, &head, Duration::from_secs(2)) {
                Ok(resp) if resp.starts_with(b"HTTP/1.1 431 ") => ok += 1,
                Ok(resp) => {
                    let line = String::from_utf8_lossy(&resp[..resp.len().min(40)]).into_owned();
                    failures.push(format!("request {n}: answered {line:?}, not 431"));
                }
                Err(e) => failures.push(format!("request {n}: {e}")),
            }
            if failures.len() > 5 {
                break;
            }
        }
        AttackReport {
            summary: format!("{n} heads of 32 KiB, {ok} answered 431"),
            failures,
            held: vec![],
        }
    });
}

#[test]
fn peers_that_never_finish_the_closing_handshake() {
    run("unfinished close", |addr, deadline| {
        // Each breaks the protocol (a reserved opcode) so that the server sends
        // its close frame, then never reads it, never answers, and keeps sending.
        let mut socks = Vec::new();
        let mut failures = Vec::new();
        for _ in 0..200 {
            match RawClient::connect(addr, Duration::from_secs(5)) {
                Ok(mut c) => {
                    let _ = c.send(0x83, b"bad");
                    socks.push(c.stream);
                }
                Err(e) => failures.push(format!("attacker could not connect: {e}")),
            }
        }
        let junk: Vec<u8> = masked_frame(0x82, &[0xEE; 1024]);
        let mut bytes = 0u64;
        while Instant::now() < deadline {
            for s in &mut socks {
                let _ = s.set_write_timeout(Some(Duration::from_millis(5)));
                if std::io::Write::write_all(s, &junk).is_ok() {
                    bytes += junk.len() as u64;
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
        AttackReport {
            summary: format!(
                "{} peers failed the protocol and never closed, then sent {} KiB",
                socks.len(),
                bytes >> 10
            ),
            failures,
            held: socks,
        }
    });
}

#[test]
fn half_closed_sockets() {
    run("half-closed", |addr, deadline| {
        let mut socks = Vec::new();
        let mut failures = Vec::new();
        while Instant::now() < deadline && socks.len() < 1000 {
            match RawClient::connect(addr, Duration::from_secs(2)) {
                Ok(mut c) => {
                    let _ = c.send(0x82, &[7u8; 100]);
                    let _ = c.stream.shutdown(Shutdown::Write);
                    socks.push(c.stream);
                }
                Err(e) => {
                    failures.push(format!("connect {} failed: {e}", socks.len()));
                    break;
                }
            }
            thread::sleep(Duration::from_millis(2));
        }
        sleep_until(deadline);
        AttackReport {
            summary: format!(
                "{} peers sent a message, shut their writing side, never read",
                socks.len()
            ),
            failures,
            held: socks,
        }
    });
}

#[test]
fn tcp_resets_in_the_middle_of_a_frame() {
    run("resets mid-frame", |addr, deadline| {
        let mut n = 0u64;
        let mut failures = Vec::new();
        let mut partial = masked_header(0x82, 1000);
        partial.extend_from_slice(&[1u8; 500]);
        while Instant::now() < deadline {
            match tcp(addr, Duration::from_secs(2)) {
                Ok(mut s) => {
                    let mut first = upgrade_request().to_vec();
                    first.extend_from_slice(&partial);
                    let _ = std::io::Write::write_all(&mut s, &first);
                    // SO_LINGER 0: close sends RST instead of FIN.
                    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                    drop(s);
                    n += 1;
                }
                Err(e) => {
                    failures.push(format!("connect {n} failed: {e}"));
                    break;
                }
            }
        }
        AttackReport {
            summary: format!("{n} connections reset in the middle of a frame"),
            failures,
            held: vec![],
        }
    });
}

#[test]
fn connection_churn_at_full_speed() {
    run("churn", |addr, deadline| {
        let mut n = 0u64;
        let mut failures = Vec::new();
        let mut bytes = upgrade_request().to_vec();
        bytes.extend_from_slice(&masked_frame(0x82, b"churn"));
        while Instant::now() < deadline {
            match tcp(addr, Duration::from_secs(2)) {
                Ok(mut s) => {
                    let _ = std::io::Write::write_all(&mut s, &bytes);
                    drop(s);
                    n += 1;
                }
                Err(e) => {
                    failures.push(format!("connect {n} failed: {e}"));
                    break;
                }
            }
        }
        AttackReport {
            summary: format!("{n} connections opened, sent a message, closed"),
            failures,
            held: vec![],
        }
    });
}

/// The well-behaved client alone: the bounds hold without an attack (so a
/// failure above is the attack's doing, not the machine's).
#[test]
fn no_attack_baseline() {
    run("baseline", |_, deadline| {
        sleep_until(deadline);
        AttackReport {
            summary: "no attack".into(),
            ..Default::default()
        }
    });
}
