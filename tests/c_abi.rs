//! The C ABI from C and C++: the committed header is fresh and compiles as
//! strict C99 and C++; the C test programs and the C++ wrapper's test pass,
//! also under AddressSanitizer and UndefinedBehaviorSanitizer; the C echo
//! example serves over loopback when linked statically and dynamically; the
//! C++ examples (strict C++17, ASan + UBSan) echo to each other.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use rocwebsocket::proto::{Event, Utf8Bytes};

const STRICT: &[&str] = &["-Wall", "-Wextra", "-Werror", "-pedantic"];
const LIBS: &[&str] = &["-lpthread", "-ldl", "-lm"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>, where librocwebsocket.a and .so of this test run live.
///
/// `cargo test` compiles the library's staticlib and cdylib only under
/// hashed names in deps/, so the first caller runs `cargo build --lib` for
/// the same profile: it puts fresh copies here (a stale archive from an
/// older build would test old code) and is a no-op when they are current.
fn lib_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = Command::new(cargo);
            build
                .args(["build", "--lib", "--quiet"])
                .current_dir(root());
            if dir.file_name().is_some_and(|name| name == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("cannot run cargo");
            assert!(status.success(), "cargo build --lib failed");
            assert!(
                dir.join("librocwebsocket.a").exists(),
                "no archive in {dir:?}"
            );
            dir
        })
        .clone()
}

fn out_dir() -> PathBuf {
    let dir = lib_dir().join("c-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn compile(compiler: &str, args: &[&str], output: &Path) {
    let status = Command::new(compiler)
        .args(args)
        .arg("-o")
        .arg(output)
        .current_dir(root())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(status.success(), "{compiler} {args:?} failed");
}

fn build_c(source: &str, extra: &[&str], name: &str) -> PathBuf {
    let out = out_dir().join(name);
    let lib = lib_dir().join("librocwebsocket.a");
    let mut args = vec!["-std=c99", "-g", "-Iinclude", "-Ic-tests"];
    args.extend_from_slice(STRICT);
    args.extend_from_slice(extra);
    args.push(source);
    args.push(lib.to_str().unwrap());
    args.extend_from_slice(LIBS);
    compile("cc", &args, &out);
    out
}

const SANITIZE: &[&str] = &[
    "-O1",
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=all",
];
const SANITIZER_ENV: &[(&str, &str)] = &[
    ("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0"),
    ("UBSAN_OPTIONS", "print_stacktrace=1"),
];

/// Builds a C++17 program against the static library and include/rocwebsocket.hpp.
fn build_cpp(source: &str, extra: &[&str], name: &str) -> PathBuf {
    let out = out_dir().join(name);
    let lib = lib_dir().join("librocwebsocket.a");
    let mut args = vec!["-std=c++17", "-g", "-Iinclude", "-Ic-tests"];
    args.extend_from_slice(STRICT);
    args.extend_from_slice(extra);
    args.push(source);
    args.push(lib.to_str().unwrap());
    args.extend_from_slice(LIBS);
    compile("c++", &args, &out);
    out
}

fn run(program: &Path, env: &[(&str, &str)]) -> String {
    let output = Command::new(program)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} failed: {}\n{stdout}\n{stderr}",
        program.display(),
        output.status
    );
    assert!(
        !stderr.contains("runtime error"),
        "sanitizer report:\n{stderr}"
    );
    stdout
}

#[test]
fn committed_header_is_fresh() {
    let generated = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/rocwebsocket.h"))
        .expect("build.rs generated the header");
    let committed = std::fs::read_to_string(root().join("include/rocwebsocket.h")).unwrap();
    assert!(
        generated == committed,
        "include/rocwebsocket.h is stale: regenerate with `ROCWS_WRITE_HEADER=1 cargo build`"
    );
}

#[test]
fn header_compiles_as_strict_c_and_cpp() {
    let probe = out_dir().join("header_probe.c");
    std::fs::write(
        &probe,
        "#include \"rocwebsocket.h\"\nint main(void) { return rws_version_number() > 0 ? 0 : 1; }\n",
    )
    .unwrap();
    let p = probe.to_str().unwrap();
    let mut c = vec!["-std=c99", "-Iinclude", "-fsyntax-only", p];
    c.extend_from_slice(STRICT);
    compile("cc", &c, &out_dir().join("probe-c"));
    for std in ["-std=c++11", "-std=c++17"] {
        let mut cpp = vec!["-x", "c++", std, "-Iinclude", "-fsyntax-only", p];
        cpp.extend_from_slice(STRICT);
        compile("c++", &cpp, &out_dir().join("probe-cpp"));
    }
}

#[test]
fn c_codec_tests() {
    let out = run(&build_c("c-tests/codec_test.c", &[], "codec_test"), &[]);
    assert!(out.contains("checks passed"), "{out}");
}

#[test]
fn c_engine_tests() {
    let out = run(&build_c("c-tests/engine_test.c", &[], "engine_test"), &[]);
    assert!(out.contains("checks passed"), "{out}");
}

/// A directory with the PEM files `c-tests/tls_test.c` reads: a CA and a
/// localhost certificate, and a second CA and certificate for the swap.
fn tls_fixtures() -> PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = out_dir().join(format!("tls-fixtures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for suffix in ["", "2"] {
            let ca_key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let name = format!("test CA{suffix}");
            params.distinguished_name.push(DnType::CommonName, name);
            let ca = params.self_signed(&ca_key).unwrap();
            let key = KeyPair::generate().unwrap();
            let leaf = CertificateParams::new(vec!["localhost".to_owned()])
                .unwrap()
                .signed_by(&key, &ca, &ca_key)
                .unwrap();
            let write = |name: &str, text: String| {
                std::fs::write(dir.join(format!("{name}{suffix}.pem")), text).unwrap()
            };
            write("ca", ca.pem());
            write("cert", leaf.pem());
            write("key", key.serialize_pem());
        }
        dir
    })
    .clone()
}

fn run_with_args(program: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("runtime error"),
        "{} failed: {}\n{stdout}\n{stderr}",
        program.display(),
        output.status
    );
    stdout
}

#[test]
fn c_tls_tests() {
    let dir = tls_fixtures();
    let program = build_c("c-tests/tls_test.c", &[], "tls_test");
    let out = run_with_args(&program, &[dir.to_str().unwrap()], &[]);
    assert!(out.contains("checks passed"), "{out}");
}

#[test]
fn c_engine_abi_tests() {
    let out = run(
        &build_c("c-tests/engine_abi_test.c", &[], "engine_abi_test"),
        &[],
    );
    assert!(out.contains("checks passed"), "{out}");
}

#[test]
fn c_upgrade_and_backpressure_tests() {
    let out = run(&build_c("c-tests/upgrade_test.c", &[], "upgrade_test"), &[]);
    assert!(out.contains("checks passed"), "{out}");
}

#[test]
fn c_connect_options_tests() {
    let program = build_c(
        "c-tests/connect_options_test.c",
        &[],
        "connect_options_test",
    );
    let out = run(&program, &[]);
    assert!(out.contains("checks passed"), "{out}");
}

#[test]
fn c_log_callback_tests() {
    let out = run(&build_c("c-tests/log_test.c", &[], "log_test"), &[]);
    assert!(out.contains("checks passed"), "{out}");
}

#[test]
fn c_tests_under_address_and_undefined_behavior_sanitizers() {
    for test in [
        "codec_test",
        "engine_test",
        "log_test",
        "engine_abi_test",
        "upgrade_test",
        "connect_options_test",
    ] {
        let program = build_c(
            &format!("c-tests/{test}.c"),
            SANITIZE,
            &format!("{test}_asan"),
        );
        let out = run(&program, SANITIZER_ENV);
        assert!(out.contains("checks passed"), "{out}");
    }
    let program = build_c("c-tests/tls_test.c", SANITIZE, "tls_test_asan");
    let dir = tls_fixtures();
    let out = run_with_args(&program, &[dir.to_str().unwrap()], SANITIZER_ENV);
    assert!(out.contains("checks passed"), "{out}");
}

/// Starts the C example, echoes through it, stops it with SIGTERM.
fn check_echo_example(program: &Path) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut child = Command::new(program)
        .arg(addr.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut client = None;
    for _ in 0..100 {
        if let Ok(s) = std::net::TcpStream::connect(addr) {
            client = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let stream = client.expect("example listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut c = common::TestClient::handshake(stream, "/");
    c.send_text("from rust to c");
    assert_eq!(
        c.next_message(),
        Some(Event::Text(Utf8Bytes::from("from rust to c")))
    );
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(
        c.next_message()
            .map(|e| matches!(e, Event::Close(f) if f.code.0 == 1001)),
        Some(true)
    );
    c.flush();
    let status = child.wait().unwrap();
    assert!(status.success(), "example exited with {status}");
}

#[test]
fn c_echo_example_static_and_shared() {
    let source = "examples/c/echo_server.c";
    let lines = std::fs::read_to_string(root().join(source))
        .unwrap()
        .lines()
        .count();
    assert!(lines < 80, "the minimal example grew to {lines} lines");
    let static_bin = build_c(source, &[], "echo_server_static");
    check_echo_example(&static_bin);

    let shared_bin = out_dir().join("echo_server_shared");
    let dir = lib_dir();
    let rpath = format!("-Wl,-rpath,{}", dir.display());
    let libdir = format!("-L{}", dir.display());
    let mut args = vec![
        "-std=c99",
        "-Iinclude",
        source,
        &libdir,
        "-lrocwebsocket",
        &rpath,
    ];
    args.extend_from_slice(STRICT);
    compile("cc", &args, &shared_bin);
    check_echo_example(&shared_bin);
}

#[test]
fn cpp_wrapper_tests_plain_and_under_sanitizers() {
    let out = run(
        &build_cpp("c-tests/wrapper_test.cpp", &[], "wrapper_test"),
        &[],
    );
    assert!(out.contains("checks passed"), "{out}");
    let program = build_cpp("c-tests/wrapper_test.cpp", SANITIZE, "wrapper_test_asan");
    let out = run(&program, SANITIZER_ENV);
    assert!(out.contains("checks passed"), "{out}");
}

/// The C++ echo server (under 40 lines) answers the Rust test client and the
/// C++ client example; both built with -Wall -Wextra -Werror and run under
/// ASan + UBSan.
#[test]
fn cpp_examples_echo_under_sanitizers() {
    let source = "examples/cpp/echo_server.cpp";
    let lines = std::fs::read_to_string(root().join(source))
        .unwrap()
        .lines()
        .count();
    assert!(lines < 40, "the C++ echo example grew to {lines} lines");
    let server = build_cpp(source, SANITIZE, "echo_server_cpp_asan");
    let client = build_cpp(
        "examples/cpp/echo_client.cpp",
        SANITIZE,
        "echo_client_cpp_asan",
    );
    check_echo_example(&server);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut child = Command::new(&server)
        .arg(addr.to_string())
        .envs(SANITIZER_ENV.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(up, "the C++ server listens");
    let url = format!("ws://{addr}/");
    let client_run = Command::new(&client)
        .args([url.as_str(), "100"])
        .envs(SANITIZER_ENV.iter().copied())
        .output()
        .unwrap();
    // Stop the server before judging the client, so a failure leaves no process behind.
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let out = String::from_utf8_lossy(&client_run.stdout);
    let err = String::from_utf8_lossy(&client_run.stderr);
    assert!(
        client_run.status.success() && out.contains("echoed 100 messages"),
        "client against {url}: {}\n{out}\n{err}",
        client_run.status
    );
    assert!(status.success(), "C++ server exited with {status}");
}
