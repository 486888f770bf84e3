//! What the peer servers and feed clients share: argument parsing, a
//! per-thread message counter, CPU time, and the RESULT line `rocws bench` prints.

use std::cell::Cell;
use std::time::Duration;

/// `[--broadcast] [ADDR]` (default 127.0.0.1:9001): where to listen, and
/// whether to relay every message to every client instead of echoing it.
pub fn server_args() -> (String, bool) {
    let mut addr = "127.0.0.1:9001".to_owned();
    let mut broadcast = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--broadcast" => broadcast = true,
            _ => addr = a,
        }
    }
    (addr, broadcast)
}

/// A feed client's options: `URL [--conns N] [--warmup SECS] [--duration SECS]`.
pub struct FeedArgs {
    pub url: String,
    pub conns: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

pub fn feed_args() -> FeedArgs {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut f = FeedArgs {
        url: "ws://127.0.0.1:9001/".to_owned(),
        conns: 1,
        warmup: Duration::from_secs(2),
        duration: Duration::from_secs(10),
    };
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        let secs = |v: &str| Duration::from_secs_f64(v.parse().expect("seconds"));
        match args[i].as_str() {
            "--conns" => f.conns = v.parse().expect("--conns N"),
            "--warmup" => f.warmup = secs(&v),
            "--duration" => f.duration = secs(&v),
            url => {
                f.url = url.to_owned();
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    f
}

thread_local! {
    static MESSAGES: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

/// Counts one received message (single-threaded runtimes: no atomics needed).
pub fn count(len: usize) {
    MESSAGES.with(|m| m.set(m.get() + 1));
    BYTES.with(|b| b.set(b.get() + len as u64));
}

/// Messages and bytes counted so far on this thread.
pub fn counted() -> (u64, u64) {
    (MESSAGES.with(Cell::get), BYTES.with(Cell::get))
}

/// CPU time (user + system) of this process, in microseconds.
pub fn cpu_us() -> u64 {
    // SAFETY: a zeroed rusage is a valid out-parameter that getrusage fills.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

/// Waits out the warm-up, measures the window, prints the RESULT line (the
/// same keys as `rocws bench --mode feed`). Runs on the runtime's thread.
pub async fn measure_feed(args: &FeedArgs, conns: usize) {
    tokio::time::sleep(args.warmup).await;
    let (m0, b0) = counted();
    let c0 = cpu_us();
    tokio::time::sleep(args.duration).await;
    let (m1, b1) = counted();
    let c1 = cpu_us();
    let secs = args.duration.as_secs_f64();
    let msgs = m1 - m0;
    let cpu = (c1 - c0) as f64;
    println!(
        "RESULT mode=feed conns={conns} secs={secs:.3} msgs={msgs} msgs_per_sec={:.0} \
         mb_per_sec={:.3} errors=0 client_cpu_us_per_msg={:.4} client_cpu_pct={:.1}",
        msgs as f64 / secs,
        (b1 - b0) as f64 / secs / 1e6,
        cpu / msgs.max(1) as f64,
        cpu / 1e6 / secs * 100.0,
    );
}
