//! `rocws bench`: a lean WebSocket load generator.
//!
//! It measures a server, so it must cost as little as it can: its own mio
//! loop (not the `net` engine) over `proto::Connection`, one vectored write
//! per connection per wake-up, 64 KiB reads, no allocation per message.
//! See `USAGE` for the modes; the last line printed is a `RESULT key=value ...`
//! line for scripts.
//!
//! The window: every connection opens and upgrades first, then the load runs
//! for `--warmup` seconds unmeasured and `--duration` seconds measured. Only
//! messages received inside the window count (and are timed); errors count
//! over the whole run. CPU time (server from `/proc/PID/stat`, this process
//! from `getrusage`) is sampled at the window's two ends.

mod engine_feed;
mod load;
mod payload;

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rocwebsocket::net::WsUrl;

use load::{Mode, Plan, Shared, Tally, Target};

pub const USAGE: &str =
    "  rocws bench [options]            load generator; prints a RESULT line at the end
      --url URL                    server to load (default ws://127.0.0.1:9001/)
      --mode echo|fanout|feed      echo: every connection sends, checks and times the echo (default)
                                   fanout: connection 0 publishes, every connection (itself too)
                                   receives; the server must relay to all (rocws serve --broadcast)
                                   feed: only receive what the server pushes (rocws serve --feed 0)
      --more-url URL               fanout: another node of the cluster, repeatable; connections are
                                   dealt round-robin over --url and these (the publisher on --url)
      --topic T                    fanout through topic T of rocws serve --broadcast [--broker]:
                                   every connection sends `sub T`, the publisher `pub T ...` (--text)
      --engine                     feed mode: receive through the net engine's client (one
                                   event-loop thread, a Handler) instead of the bench's own loop
      --conns N                    connections (default 100)
      --size BYTES                 message payload (default 20; fanout needs 16 or more)
      --depth D                    messages in flight per connection (default 1); in fanout mode,
                                   messages published and not yet received by every connection
      --rate MSGS_PER_SEC          a fixed total send rate instead of --depth (echo: over all
                                   connections; fanout: published); latency counts from the
                                   scheduled send time
      --text | --binary            message type (default binary)
      --deflate                    offer permessage-deflate (the server must accept it)
      --duration SECS              measured window (default 10); with --messages, a time limit
      --messages N                 echo with --depth: send exactly N messages in all (spread over
                                   the connections), no warm-up, and end when every echo is back;
                                   every message counts (for instruction counts per message)
      --warmup SECS                unmeasured load before it (default 2)
      --threads N                  load threads, connections dealt round-robin (default 1)
      --pin CPU[,CPU...]           pin the load threads (thread i to the i-th CPU of the list)
      --server-pid PID             report the server's CPU time per message from /proc/PID/stat
      --ca FILE                    wss://: trust these PEM CAs (default: the system's store)
      --server-name NAME           wss://: the name to send and check, if not the URL's host
      --danger-accept-invalid-certs
                                   wss://: accept any certificate (self-signed test servers)
      --tls-resume                 wss://: resume TLS sessions (default: every connection makes
                                   a full handshake)";

struct Options {
    url: String,
    plan: Plan,
    server_pid: Option<u32>,
    pin: Vec<usize>,
    engine: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut url = "ws://127.0.0.1:9001/".to_owned();
    let mut mode = Mode::Echo;
    let (mut conns, mut size, mut depth, mut threads) = (100usize, 20usize, 1usize, 1usize);
    let mut rate = None;
    let mut messages = None;
    let mut text = false;
    let mut deflate = false;
    let (mut duration, mut warmup) = (10.0f64, 2.0f64);
    let mut server_pid = None;
    let mut pin = Vec::new();
    let mut engine = false;
    let mut tls = rocwebsocket::net::TlsClientOptions {
        no_session_resumption: true,
        ..Default::default()
    };
    let mut server_name = None;
    let mut more_urls: Vec<String> = Vec::new();
    let mut topic = None;
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let mut next = || super::value(args, &mut i, flag);
        match flag {
            "--url" => url = next()?.to_owned(),
            "--more-url" => more_urls.push(next()?.to_owned()),
            "--topic" => topic = Some(next()?.to_owned()),
            "--mode" => {
                mode = match next()? {
                    "echo" => Mode::Echo,
                    "fanout" => Mode::Fanout,
                    "feed" => Mode::Feed,
                    other => return Err(format!("--mode: echo, fanout or feed, not {other}")),
                }
            }
            "--conns" => conns = super::number(next()?, flag)?,
            "--size" => size = super::number(next()?, flag)?,
            "--depth" => depth = super::number(next()?, flag)?,
            "--rate" => rate = Some(super::number::<f64>(next()?, flag)?),
            "--messages" => messages = Some(super::number::<u64>(next()?, flag)?),
            "--text" => text = true,
            "--deflate" => deflate = true,
            "--engine" => engine = true,
            "--binary" => text = false,
            "--duration" => duration = super::number(next()?, flag)?,
            "--warmup" => warmup = super::number(next()?, flag)?,
            "--threads" => threads = super::number(next()?, flag)?,
            "--server-pid" => server_pid = Some(super::number(next()?, flag)?),
            "--ca" => {
                let path = next()?;
                tls.ca_pem = Some(std::fs::read(path).map_err(|e| format!("{path}: {e}"))?);
            }
            "--server-name" => server_name = Some(next()?.to_owned()),
            "--danger-accept-invalid-certs" => tls.danger_accept_invalid_certs = true,
            "--tls-resume" => tls.no_session_resumption = false,
            "--pin" => {
                pin = next()?
                    .split(',')
                    .map(|c| super::number(c, flag))
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown option {other}\nusage:\n{USAGE}")),
        }
        i += 1;
    }
    if conns == 0 || depth == 0 || threads == 0 {
        return Err("--conns, --depth and --threads must be at least 1".into());
    }
    if rate.is_some_and(|r| r <= 0.0 || !r.is_finite()) {
        return Err("--rate must be a positive number".into());
    }
    if !(duration > 0.0 && duration.is_finite() && warmup >= 0.0 && warmup.is_finite()) {
        return Err("--duration must be positive and --warmup not negative".into());
    }
    if messages.is_some() && (mode != Mode::Echo || rate.is_some()) {
        return Err("--messages is for --mode echo with --depth, not --rate".into());
    }
    if messages == Some(0) {
        return Err("--messages must be at least 1".into());
    }
    // A fixed count runs from the first send to the last echo: nothing to warm up.
    if messages.is_some() {
        warmup = 0.0;
    }
    if mode == Mode::Fanout && size < payload::HEADER_LEN {
        return Err(format!(
            "fanout messages carry a sequence number and a timestamp: --size {} or more",
            payload::HEADER_LEN
        ));
    }
    if topic.is_some() && !(mode == Mode::Fanout && text) {
        return Err("--topic is for --mode fanout --text (topic commands are text)".into());
    }
    if !more_urls.is_empty() && mode != Mode::Fanout {
        return Err("--more-url is for --mode fanout".into());
    }
    if engine && mode != Mode::Feed {
        return Err("--engine is for --mode feed".into());
    }
    if size == 0 && mode == Mode::Echo {
        return Err("--size must be at least 1".into());
    }
    let threads = threads.min(conns);
    let parsed = WsUrl::parse(&url).map_err(|e| e.to_string())?;
    let target = match &parsed.unix {
        Some(path) => Target::Unix(path.clone()),
        None => Target::Tcp(
            (parsed.host.as_str(), parsed.port)
                .to_socket_addrs()
                .map_err(|e| format!("{url}: {e}"))?
                .next()
                .ok_or_else(|| format!("{url}: no address"))?,
        ),
    };
    let more_targets = more_urls
        .iter()
        .map(|u| {
            let p = WsUrl::parse(u).map_err(|e| format!("{u}: {e}"))?;
            if p.tls || p.unix.is_some() {
                return Err(format!("--more-url {u}: ws://host:port only"));
            }
            (p.host.as_str(), p.port)
                .to_socket_addrs()
                .map_err(|e| format!("{u}: {e}"))?
                .next()
                .map(Target::Tcp)
                .ok_or_else(|| format!("{u}: no address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tls = if parsed.tls {
        if engine {
            return Err("--engine does not take wss:// URLs yet".into());
        }
        let connector = rocwebsocket::net::TlsConnector::new(&tls).map_err(|e| e.to_string())?;
        Some((
            connector,
            server_name.unwrap_or_else(|| parsed.host.clone()),
        ))
    } else {
        None
    };
    let plan = Plan {
        tls,
        mode,
        target,
        host: parsed.host_header(),
        path: parsed.path.clone(),
        conns,
        threads,
        size,
        depth,
        rate,
        messages,
        text,
        warmup: Duration::try_from_secs_f64(warmup)
            .map_err(|_| format!("--warmup: not a number of seconds: {warmup}"))?,
        duration: Duration::try_from_secs_f64(duration)
            .map_err(|_| format!("--duration: not a number of seconds: {duration}"))?,
        pin_threads: pin.clone(),
        more_targets,
        topic,
        deflate,
    };
    Ok(Options {
        url,
        plan,
        server_pid,
        pin,
        engine,
    })
}

/// Pins the calling thread (and the threads it starts later) to one CPU.
fn pin_to(cpu: usize) -> Result<(), String> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(format!("no CPU {cpu}"));
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside
    // it (cpu is below CPU_SETSIZE), and sched_setaffinity only reads it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        return Err(format!("CPU {cpu}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// CPU time (user + system) this process has used, in microseconds.
fn own_cpu_us() -> u64 {
    // SAFETY: a zeroed rusage is a valid out-parameter that getrusage fills.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

/// CPU time (utime + stime) process `pid` has used, in microseconds.
fn process_cpu_us(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // fields are counted from the last ')', where field 3 (state) starts.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("unreadable /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Result<u64, String> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/stat: no field {n}"))
    };
    let ticks = field(14)? + field(15)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(ticks * 1_000_000 / hz)
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

struct CpuSample {
    server: Option<u64>,
    client: u64,
}

fn sample(pid: Option<u32>) -> Result<CpuSample, String> {
    Ok(CpuSample {
        server: pid.map(process_cpu_us).transpose()?,
        client: own_cpu_us(),
    })
}

/// Runs `rocws bench`.
pub fn bench(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    if let [cpu] = options.pin[..] {
        pin_to(cpu)?;
    }
    let plan = Arc::new(options.plan);
    let shared = Arc::new(Shared::new(&plan));
    let describe = match (plan.mode, plan.rate) {
        (_, Some(rate)) => format!("rate={rate}/s"),
        (Mode::Feed, None) => String::new(),
        (_, None) => format!("depth={}", plan.depth),
    };
    println!(
        "rocws bench: {:?} {} conns={} size={} {} {} threads={} warmup={:?} duration={:?}",
        plan.mode,
        options.url,
        plan.conns,
        plan.size,
        if plan.text { "text" } else { "binary" },
        describe,
        plan.threads,
        plan.warmup,
        plan.duration,
    );
    if options.engine {
        return bench_engine_feed(&options.url, &plan, options.server_pid);
    }
    let began = Instant::now();
    let threads: Vec<_> = (0..plan.threads)
        .map(|t| {
            let (plan, shared) = (plan.clone(), shared.clone());
            std::thread::Builder::new()
                .name(format!("bench-{t}"))
                .spawn(move || load::run(&plan, &shared, t))
                .map_err(|e| format!("cannot start a thread: {e}"))
        })
        .collect::<Result<_, _>>()?;
    shared.ready.wait();
    let start = Instant::now();
    *shared.start.lock().unwrap_or_else(|e| e.into_inner()) = Some(start);
    shared.go.wait();
    let failed = |shared: &Shared| {
        shared
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    };
    if failed(&shared).is_none() {
        println!(
            "  {} connections open in {:.1} ms",
            plan.conns,
            (start - began).as_secs_f64() * 1e3
        );
    }
    let warm_end = start + plan.warmup;
    let end = warm_end + plan.duration;
    let mut cpu = None;
    let mut secs = plan.duration.as_secs_f64();
    if failed(&shared).is_none() {
        sleep_until(warm_end);
        let first = sample(options.server_pid);
        if plan.messages.is_some() {
            // The window ends with the last echo (or the --duration limit).
            shared.wait_finished();
            secs = start.elapsed().as_secs_f64();
        } else {
            sleep_until(end);
        }
        let last = sample(options.server_pid);
        cpu = Some((first?, last?));
    }
    let mut tally = Tally::new();
    for t in threads {
        let part = t.join().map_err(|_| "a load thread panicked".to_owned())?;
        tally.merge(&part);
    }
    if let Some(why) = failed(&shared) {
        return Err(why);
    }
    if let Some(n) = plan.messages {
        if tally.messages < n {
            return Err(format!(
                "only {} of {n} echoes came back within --duration {:?}",
                tally.messages, plan.duration
            ));
        }
    }
    let (first, last) = cpu.expect("sampled when nothing failed");
    report(&plan, &tally, secs, &first, &last);
    Ok(())
}

/// `--mode feed --engine`: the same window and report, through the net engine's client.
fn bench_engine_feed(url: &str, plan: &Plan, server_pid: Option<u32>) -> Result<(), String> {
    let began = Instant::now();
    let feed = engine_feed::EngineFeed::connect(url, plan.conns)?;
    let start = Instant::now();
    println!(
        "  {} connections open through the engine in {:.1} ms",
        plan.conns,
        (start - began).as_secs_f64() * 1e3
    );
    sleep_until(start + plan.warmup);
    let first = sample(server_pid)?;
    let (m0, b0) = feed.snapshot();
    sleep_until(start + plan.warmup + plan.duration);
    let last = sample(server_pid)?;
    let (m1, b1) = feed.snapshot();
    let mut tally = Tally::new();
    tally.messages = m1 - m0;
    tally.bytes = b1 - b0;
    let counts = feed.counts.clone();
    feed.stop();
    tally.errors = counts.errors.load(std::sync::atomic::Ordering::Relaxed);
    report(plan, &tally, plan.duration.as_secs_f64(), &first, &last);
    Ok(())
}

/// Prints the figures of a window `secs` long.
fn report(plan: &Plan, tally: &Tally, secs: f64, first: &CpuSample, last: &CpuSample) {
    let msgs = tally.messages;
    let per_sec = msgs as f64 / secs;
    let mb_per_sec = tally.bytes as f64 / secs / 1e6;
    let noun = match plan.mode {
        Mode::Echo => "echoes",
        Mode::Fanout => "deliveries",
        Mode::Feed => "messages",
    };
    println!("  {noun}: {msgs} in {secs:.2} s = {per_sec:.0}/s, {mb_per_sec:.2} MB/s of payload");
    if plan.mode == Mode::Fanout {
        println!(
            "  published: about {:.0}/s (deliveries / connections)",
            per_sec / plan.conns as f64
        );
    }
    let us = |q: f64| tally.latency.value_at_quantile(q) as f64 / 1e3;
    let max_us = tally.latency.max() as f64 / 1e3;
    let has_latency = plan.mode != Mode::Feed && !tally.latency.is_empty();
    if has_latency {
        let what = if plan.mode == Mode::Echo {
            "round trip"
        } else {
            "publish to receive"
        };
        println!(
            "  {what} µs: p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {max_us:.1}",
            us(0.5),
            us(0.9),
            us(0.99),
            us(0.999)
        );
    }
    println!("  errors: {}", tally.errors);
    if tally.skipped > 0 {
        println!(
            "  skipped: {} sends (connections had {} messages in flight)",
            tally.skipped,
            load::RATE_RING
        );
    }
    let per_msg = |us: u64| {
        if msgs == 0 {
            f64::NAN
        } else {
            us as f64 / msgs as f64
        }
    };
    let pct = |us: u64| us as f64 / 1e6 / secs * 100.0;
    let server = first.server.zip(last.server).map(|(a, b)| b - a);
    if let Some(s) = server {
        println!(
            "  server CPU: {:.3} µs per message ({:.0}% of a core)",
            per_msg(s),
            pct(s)
        );
    }
    let client = last.client - first.client;
    println!(
        "  client CPU: {:.3} µs per message ({:.0}% of a core)",
        per_msg(client),
        pct(client)
    );
    let lat = |v: f64| {
        if has_latency {
            format!("{v:.1}")
        } else {
            "na".to_owned()
        }
    };
    let mode = match plan.mode {
        Mode::Echo => "echo",
        Mode::Fanout => "fanout",
        Mode::Feed => "feed",
    };
    println!(
        "RESULT mode={mode} conns={} size={} depth={} rate={} text={} threads={} secs={secs:.3} \
         msgs={msgs} msgs_per_sec={per_sec:.0} mb_per_sec={mb_per_sec:.3} p50_us={} p90_us={} \
         p99_us={} p999_us={} max_us={} errors={} skipped={} server_cpu_us_per_msg={} \
         server_cpu_pct={} client_cpu_us_per_msg={:.4} client_cpu_pct={:.1}",
        plan.conns,
        plan.size,
        plan.depth,
        plan.rate.unwrap_or(0.0),
        u8::from(plan.text),
        plan.threads,
        lat(us(0.5)),
        lat(us(0.9)),
        lat(us(0.99)),
        lat(us(0.999)),
        lat(max_us),
        tally.errors,
        tally.skipped,
        server.map_or("na".into(), |s| format!("{:.4}", per_msg(s))),
        server.map_or("na".into(), |s| format!("{:.1}", pct(s))),
        per_msg(client),
        pct(client),
    );
}
