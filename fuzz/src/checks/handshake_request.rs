//! The server's reading of an upgrade request against a reference reading of
//! RFC 6455 §4.2.1 (on httparse's parse of the same bytes): accepted exactly
//! when the reference accepts, with the same key, path and subprotocols; the
//! accept value and the written 101 response right against SHA-1 and base64
//! computed here; a rejection carries a 4xx status whose response parses;
//! bounded work: "incomplete" only while the head is within `max_head`.

use rocwebsocket::proto::handshake::{self, parse_request};

use super::input::Input;
use super::reference;

/// Comma-separated tokens of a header value (RFC 7230 §7), trimmed, non-empty.
pub fn tokens(value: &[u8]) -> Vec<&[u8]> {
    value
        .split(|&b| b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether a header value lists `token` (ASCII case-insensitive).
pub fn lists(value: &[u8], token: &str) -> bool {
    tokens(value)
        .iter()
        .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// What the reference expects: `None` incomplete, `Some(Err(()))` rejected,
/// `Some(Ok((key, path, protocols, consumed)))` accepted.
type Verdict = Option<Result<(String, String, Vec<String>, usize), ()>>;

fn reference_verdict(buf: &[u8], max_head: usize) -> Verdict {
    let mut headers = [httparse::EMPTY_HEADER; handshake::MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let consumed = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= max_head => n,
        Ok(httparse::Status::Partial) if buf.len() <= max_head => return None,
        _ => return Some(Err(())),
    };
    if req.method != Some("GET") || req.version != Some(1) {
        return Some(Err(()));
    }
    // A WebSocket URI has no fragment (RFC 6455 §3).
    if req.path.is_some_and(|p| p.contains('#')) {
        return Some(Err(()));
    }
    let all = |name: &str| -> Vec<&[u8]> {
        req.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
            .collect()
    };
    let host = !all("host").is_empty();
    let upgrade = all("upgrade").iter().any(|v| lists(v, "websocket"));
    let connection = all("connection").iter().any(|v| lists(v, "upgrade"));
    let keys = all("sec-websocket-key");
    let key_ok = keys.len() == 1
        && reference::base64_decode(keys[0].trim_ascii()).is_some_and(|k| k.len() == 16);
    // Several version fields combine into a list, which is not "13".
    let versions = all("sec-websocket-version");
    let version_ok = versions.len() == 1 && versions[0].trim_ascii() == b"13";
    let mut protocols = Vec::new();
    for v in all("sec-websocket-protocol") {
        for t in tokens(v) {
            match std::str::from_utf8(t) {
                Ok(t) => protocols.push(t.to_owned()),
                Err(_) => return Some(Err(())),
            }
        }
    }
    if !(host && upgrade && connection && key_ok && version_ok) {
        return Some(Err(()));
    }
    let key = String::from_utf8(keys[0].trim_ascii().to_vec()).unwrap();
    let path = req.path.unwrap_or("/").to_owned();
    Some(Ok((key, path, protocols, consumed)))
}

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let max_head = match input.u8() {
        0..=15 => handshake::DEFAULT_MAX_HEAD,
        n => usize::from(n) * 8,
    };
    let supported_pick = input.u8();
    let buf = input.rest();

    let got = parse_request(buf, max_head);
    let want = reference_verdict(buf, max_head);
    match (&got, &want) {
        (Ok(None), None) => {
            assert!(buf.len() <= max_head, "incomplete past max_head");
        }
        (Err(e), Some(Err(()))) => {
            assert!(
                matches!(e.status, 400 | 405 | 426 | 431),
                "status {}",
                e.status
            );
            let mut out = Vec::new();
            e.write_response(&mut out);
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut resp = httparse::Response::new(&mut headers);
            assert!(matches!(
                resp.parse(&out),
                Ok(httparse::Status::Complete(_))
            ));
            assert_eq!(resp.code, Some(e.status));
        }
        (Ok(Some((req, consumed))), Some(Ok((key, path, protocols, want_consumed)))) => {
            assert_eq!(consumed, want_consumed);
            assert_eq!(&req.key, key);
            assert_eq!(&req.path, path);
            assert_eq!(&req.protocols, protocols);
            let accept = reference::accept_value(key.as_bytes());
            assert_eq!(handshake::accept_key(key.as_bytes()), accept);
            // The server's choice and its 101 answer.
            let offered: Vec<&str> = req.protocols.iter().map(String::as_str).collect();
            let supported: Vec<&str> = offered
                .iter()
                .copied()
                .filter(|p| p.len() % 2 == usize::from(supported_pick & 1))
                .collect();
            let chosen = req.select_protocol(&supported);
            assert_eq!(
                chosen,
                supported.iter().copied().find(|s| offered.contains(s))
            );
            let mut out = Vec::new();
            match handshake::write_accept_response(&mut out, req, chosen, &[]) {
                Ok(()) => {
                    let mut headers = [httparse::EMPTY_HEADER; 16];
                    let mut resp = httparse::Response::new(&mut headers);
                    let n = match resp.parse(&out) {
                        Ok(httparse::Status::Complete(n)) => n,
                        other => panic!("101 response does not parse: {other:?}"),
                    };
                    assert_eq!(n, out.len());
                    assert_eq!(resp.code, Some(101));
                    let field = |name: &str| {
                        resp.headers
                            .iter()
                            .filter(|h| h.name.eq_ignore_ascii_case(name))
                            .map(|h| h.value)
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(field("sec-websocket-accept"), [accept.as_bytes()]);
                    match chosen {
                        Some(p) => assert_eq!(field("sec-websocket-protocol"), [p.as_bytes()]),
                        None => assert!(field("sec-websocket-protocol").is_empty()),
                    }
                }
                // An offered protocol came through httparse: no CR, LF or NUL.
                Err(e) => panic!("101 response refused: {e}"),
            }
            // The head alone parses the same; one byte less is incomplete.
            assert_eq!(parse_request(&buf[..*consumed], max_head), got);
            assert_eq!(parse_request(&buf[..consumed - 1], max_head), Ok(None));
        }
        _ => panic!("parse_request gave {got:?}, the reference {want:?}"),
    }
}
