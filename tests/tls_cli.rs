//! `rocws serve --tls-cert/--tls-key` (with a SIGHUP reload) and `rocws
//! client wss://... --ca`, as processes, with certificates made at run time.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

const ROCWS: &str = env!("CARGO_BIN_EXE_rocws");

/// A CA (its PEM) and a localhost certificate it signed (PEM, key PEM).
fn ca_and_leaf(name: &str) -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

struct Server {
    child: Child,
    stderr: BufReader<ChildStderr>,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stderr
            .read_line(&mut line)
            .expect("a line from rocws serve");
        line
    }
}

/// `rocws client URL --ca CA` sending one line: (stdout, stderr).
fn client(port: u16, ca: &Path, line: &str) -> (String, String) {
    let mut child = Command::new(ROCWS)
        .args(["client", &format!("wss://localhost:{port}/")])
        .arg("--ca")
        .arg(ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{line}").unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_and_client_over_wss_with_a_sighup_reload() {
    let dir = std::env::temp_dir().join(format!("rocws-tls-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (old_ca, old_cert, old_key) = ca_and_leaf("old CA");
    let (new_ca, new_cert, new_key) = ca_and_leaf("new CA");
    let path = |name: &str| dir.join(name);
    std::fs::write(path("old-ca.pem"), old_ca).unwrap();
    std::fs::write(path("new-ca.pem"), new_ca).unwrap();
    std::fs::write(path("cert.pem"), old_cert).unwrap();
    std::fs::write(path("key.pem"), old_key).unwrap();

    let mut child = Command::new(ROCWS)
        .args(["serve", "--threads", "1", "--listen", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(path("cert.pem"))
        .arg("--tls-key")
        .arg(path("key.pem"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut server = Server {
        child,
        stderr,
        port: 0,
    };
    let line = server.next_line();
    let addr = line
        .split("listening on wss://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    server.port = addr.rsplit(':').next().unwrap().parse().unwrap();

    let (out, err) = client(server.port, &path("old-ca.pem"), "hello over TLS");
    assert_eq!(out.trim(), "hello over TLS", "stderr: {err}");
    let (out, err) = client(server.port, &path("new-ca.pem"), "not yet");
    assert!(
        out.is_empty() && err.contains("UnknownIssuer"),
        "{out} / {err}"
    );

    // A broken file on SIGHUP keeps the old certificate.
    std::fs::write(path("cert.pem"), "garbage").unwrap();
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) };
    let line = server.next_line();
    assert!(line.contains("reload failed"), "{line}");
    let (out, _) = client(server.port, &path("old-ca.pem"), "still old");
    assert_eq!(out.trim(), "still old");

    std::fs::write(path("cert.pem"), new_cert).unwrap();
    std::fs::write(path("key.pem"), new_key).unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) };
    let line = server.next_line();
    assert!(line.contains("reloaded"), "{line}");
    let (out, err) = client(server.port, &path("new-ca.pem"), "new cert");
    assert_eq!(out.trim(), "new cert", "stderr: {err}");
    let (out, err) = client(server.port, &path("old-ca.pem"), "old CA now");
    assert!(
        out.is_empty() && err.contains("UnknownIssuer"),
        "{out} / {err}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
