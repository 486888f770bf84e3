//! `rocws bench` against a spawned `rocws serve`, in each mode: a functional
//! test (the RESULT line parses, messages flowed, no errors), not a timing one.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const ROCWS: &str = env!("CARGO_BIN_EXE_rocws");

/// A `rocws serve` on a free port, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(ROCWS)
            .args(["serve", "--threads", "1", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .expect("rocws serve starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut line = String::new();
        BufReader::new(stderr)
            .read_line(&mut line)
            .expect("rocws serve says where it listens");
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .trim_end_matches(',')
            .to_owned();
        Server {
            child,
            url: format!("ws://{addr}/"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `rocws bench` for about a second and returns its RESULT fields.
fn bench(server: &Server, args: &[&str]) -> HashMap<String, String> {
    let pid = server.child.id().to_string();
    let out = Command::new(ROCWS)
        .args([
            "bench",
            "--url",
            &server.url,
            "--warmup",
            "0.2",
            "--duration",
            "1",
        ])
        .args(["--server-pid", &pid])
        .args(args)
        .output()
        .expect("rocws bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rocws bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in: {stdout}"));
    line["RESULT ".len()..]
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn number(fields: &HashMap<String, String>, key: &str) -> f64 {
    fields
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {fields:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {fields:?}"))
}

fn check(fields: &HashMap<String, String>, mode: &str) {
    assert_eq!(fields["mode"], mode);
    assert_eq!(fields["errors"], "0", "{fields:?}");
    assert!(number(fields, "msgs") > 0.0, "{fields:?}");
    assert!(number(fields, "msgs_per_sec") > 0.0, "{fields:?}");
    assert!(number(fields, "client_cpu_us_per_msg") >= 0.0, "{fields:?}");
    assert!(number(fields, "server_cpu_us_per_msg") >= 0.0, "{fields:?}");
}

#[test]
fn echo_binary_and_text_pipelined() {
    let server = Server::start(&[]);
    let fields = bench(&server, &["--conns", "8", "--depth", "16"]);
    check(&fields, "echo");
    assert!(number(&fields, "p50_us") > 0.0);
    assert!(number(&fields, "max_us") >= number(&fields, "p99_us"));
    let fields = bench(&server, &["--conns", "3", "--text", "--size", "3000"]);
    check(&fields, "echo");
    assert_eq!(fields["text"], "1");
}

#[test]
fn echo_at_a_fixed_rate_over_two_threads() {
    let server = Server::start(&[]);
    let fields = bench(
        &server,
        &[
            "--conns",
            "4",
            "--threads",
            "2",
            "--rate",
            "2000",
            "--size",
            "5",
        ],
    );
    check(&fields, "echo");
    // About 2000 a second; generous bounds, this is not a timing test.
    let rate = number(&fields, "msgs_per_sec");
    assert!((500.0..4000.0).contains(&rate), "{rate}");
}

#[test]
fn echo_an_exact_number_of_messages() {
    let server = Server::start(&[]);
    // 1001 over 7 connections: 143 each, none left over; over 5: one more for the first.
    for conns in ["7", "5"] {
        let fields = bench(
            &server,
            &[
                "--conns",
                conns,
                "--threads",
                "2",
                "--depth",
                "4",
                "--messages",
                "1001",
                // A limit here, not the window: generous, so a loaded machine cannot fail it.
                "--duration",
                "120",
            ],
        );
        check(&fields, "echo");
        assert_eq!(fields["msgs"], "1001", "{fields:?}");
    }
    let out = Command::new(ROCWS)
        .args(["bench", "--url", &server.url, "--rate", "100"])
        .args(["--messages", "10"])
        .output()
        .expect("rocws bench runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--messages is for"));
}

#[test]
fn fanout_through_a_broadcast_server() {
    let server = Server::start(&["--broadcast"]);
    let fields = bench(
        &server,
        &[
            "--mode", "fanout", "--conns", "20", "--size", "64", "--depth", "2",
        ],
    );
    check(&fields, "fanout");
    // Every message reaches every connection: deliveries come in twenties
    // (give or take the messages that straddle the window's edges).
    assert!(number(&fields, "msgs") >= 20.0);
}

#[test]
fn feed_from_a_feed_server() {
    let server = Server::start(&["--feed", "0"]);
    let fields = bench(&server, &["--mode", "feed", "--conns", "2"]);
    check(&fields, "feed");
    assert_eq!(fields["p50_us"], "na");
    assert!(number(&fields, "mb_per_sec") > 0.0);
    let fields = bench(&server, &["--mode", "feed", "--conns", "2", "--engine"]);
    check(&fields, "feed");
}
