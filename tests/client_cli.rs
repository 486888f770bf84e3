//! `rocws client` with per-connection options: `--header` and `--protocol`
//! reach the server's request, the chosen subprotocol is printed, and
//! `--max-message` fails a larger message with 1009.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rocwebsocket::net::{Config, Conn, Engine, Handler, Message, OpenInfo};

const ROCWS: &str = env!("CARGO_BIN_EXE_rocws");

/// Echoes, and reports each connection's `X-Api-Key` header.
struct Echo {
    keys: mpsc::Sender<Option<String>>,
}

impl Handler for Echo {
    fn on_open(&mut self, _conn: &mut Conn<'_>, info: OpenInfo) {
        let _ = self.keys.send(info.header("X-Api-Key").map(str::to_owned));
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        let _ = conn.send(message);
    }
}

/// `rocws client URL ARGS...` sending `line`: (stdout, stderr). With
/// `echoed`, stdin ends once the first answer is printed (a 1000 close);
/// otherwise it stays open until the client ends by itself.
fn client(url: &str, args: &[&str], line: &str, echoed: bool) -> (String, String) {
    let mut child = Command::new(ROCWS)
        .arg("client")
        .arg(url)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = writeln!(stdin, "{line}");
    let mut first = String::new();
    if echoed {
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        first + &String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn client_headers_protocols_and_limits() {
    let (tx, keys) = mpsc::channel();
    let config = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        threads: 1,
        protocols: vec!["v1".into()],
        ..Config::default()
    };
    let engine = Engine::start(config, move |_, _| Echo { keys: tx.clone() }).unwrap();
    let url = format!("ws://{}/", engine.local_addr().unwrap());

    let (out, err) = client(
        &url,
        &[
            "--protocol",
            "v2",
            "--protocol",
            "v1",
            "--header",
            "X-Api-Key: k-1",
        ],
        "hello",
        true,
    );
    assert_eq!(out.trim(), "hello", "{err}");
    assert!(err.contains("(subprotocol v1)"), "{err}");
    assert_eq!(keys.recv().unwrap().as_deref(), Some("k-1"));

    let (out, err) = client(&url, &["--max-message", "4"], "hello", false);
    assert_eq!(out, "", "{err}");
    assert!(err.contains("closed: 1009"), "{err}");
    assert_eq!(keys.recv().unwrap(), None);

    let (_, err) = client(&url, &["--header", "no colon"], "x", false);
    assert!(err.contains("--header needs"), "{err}");
    engine.stop(Duration::from_secs(1));
}
