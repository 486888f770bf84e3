//! The client's side of the handshake: `ClientHandshake::write_request` with
//! fuzzed host, path and subprotocols (refused exactly when they cannot be
//! sent), its request read back by the server's parser, then a fuzzed
//! response (with `{A}` replaced by the right accept value computed here by
//! SHA-1 and base64, `{P}` by the first offered protocol) checked by
//! `parse_response` against a reference reading of RFC 6455 §4.1.

use rocwebsocket::proto::handshake::{self, parse_request, ClientHandshake};

use super::handshake_request::lists;
use super::input::Input;
use super::reference;

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// `None` incomplete, `Some(Err(()))` refused, `Some(Ok((protocol, consumed)))`.
type Verdict = Option<Result<(Option<String>, usize), ()>>;

fn reference_verdict(buf: &[u8], max_head: usize, accept: &str, offered: &[String]) -> Verdict {
    let mut headers = [httparse::EMPTY_HEADER; handshake::MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let consumed = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= max_head => n,
        Ok(httparse::Status::Partial) if buf.len() <= max_head => return None,
        _ => return Some(Err(())),
    };
    if resp.code != Some(101) {
        return Some(Err(()));
    }
    let all = |name: &str| -> Vec<&[u8]> {
        resp.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
            .collect()
    };
    let upgrade = all("upgrade").iter().any(|v| lists(v, "websocket"));
    let connection = all("connection").iter().any(|v| lists(v, "upgrade"));
    // Several accept fields combine into a list, which is not the value.
    let accepts = all("sec-websocket-accept");
    let accept_ok = accepts.len() == 1 && accepts[0].trim_ascii() == accept.as_bytes();
    let protocols = all("sec-websocket-protocol");
    let protocol = match protocols.as_slice() {
        [] => None,
        [p] => match std::str::from_utf8(p.trim_ascii()) {
            Ok(p) if offered.iter().any(|o| o == p) => Some(p.to_owned()),
            _ => return Some(Err(())),
        },
        _ => return Some(Err(())),
    };
    let extensions = all("sec-websocket-extensions")
        .iter()
        .any(|v| !v.trim_ascii().is_empty());
    if !(upgrade && connection && accept_ok) || extensions {
        return Some(Err(()));
    }
    Some(Ok((protocol, consumed)))
}

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let max_head = if flags & 1 == 0 {
        handshake::DEFAULT_MAX_HEAD
    } else {
        usize::from(input.u8()) * 4
    };
    let mut offered = Vec::new();
    for _ in 0..(flags >> 1) % 4 {
        let len = usize::from(input.u8() % 12);
        offered.push(String::from_utf8_lossy(input.bytes(len)).into_owned());
    }
    let (host, path) = if flags & 0x10 != 0 {
        let len = usize::from(input.u8() % 24);
        let host = String::from_utf8_lossy(input.bytes(len)).into_owned();
        let len = usize::from(input.u8() % 24);
        let path = String::from_utf8_lossy(input.bytes(len)).into_owned();
        (host, path)
    } else {
        ("example.com:9001".to_owned(), "/chat?x=1".to_owned())
    };
    let template = input.rest();

    let offered_refs: Vec<&str> = offered.iter().map(String::as_str).collect();
    let mut out = b"prefix".to_vec();
    let hs = ClientHandshake::write_request(&mut out, &host, &path, &offered_refs, &[]);
    // RFC 7230 §3.2: a field value is VCHAR, obs-text, SP and HTAB.
    let host_ok = !host.bytes().any(|c| (c < b' ' && c != b'\t') || c == 0x7F);
    // No fragment in a WebSocket URI (RFC 6455 §3).
    let path_ok = !path.bytes().any(|c| c <= b' ' || c == 0x7F || c == b'#');
    let protocols_ok = offered.iter().all(|p| is_token(p));
    let hs = match hs {
        Ok(hs) => {
            assert!(
                host_ok && path_ok && protocols_ok,
                "unsendable request written"
            );
            hs
        }
        Err(_) => {
            assert!(
                !(host_ok && path_ok && protocols_ok),
                "sendable request refused"
            );
            assert_eq!(
                out, b"prefix",
                "a refused request leaves the buffer as it was"
            );
            return;
        }
    };
    let request = &out[b"prefix".len()..];
    let (req, consumed) = match parse_request(request, handshake::DEFAULT_MAX_HEAD) {
        Ok(Some(r)) => r,
        // An empty or huge host, or a path httparse will not take, is the
        // caller's business; a request we wrote must still be HTTP.
        other => {
            assert!(
                host.is_empty() || path.is_empty() || request.len() > handshake::DEFAULT_MAX_HEAD,
                "our own request is refused by our server: {other:?}"
            );
            return;
        }
    };
    assert_eq!(consumed, request.len());
    assert_eq!(req.path, path);
    assert_eq!(req.protocols, offered);
    assert_eq!(
        reference::base64_decode(req.key.as_bytes()).map(|k| k.len()),
        Some(16)
    );
    let accept = reference::accept_value(req.key.as_bytes());

    let first = offered.first().map_or("", String::as_str);
    let response = replace(template, b"{A}", accept.as_bytes());
    let response = replace(&response, b"{P}", first.as_bytes());
    let got = hs.parse_response(&response, max_head);
    let want = reference_verdict(&response, max_head, &accept, &offered);
    match (&got, &want) {
        (Ok(None), None) => assert!(response.len() <= max_head),
        (Err(_), Some(Err(()))) => {}
        (Ok(Some((resp, n))), Some(Ok((protocol, want_n)))) => {
            assert_eq!(n, want_n);
            assert_eq!(&resp.protocol, protocol);
        }
        _ => panic!("parse_response gave {got:?}, the reference {want:?}"),
    }
}
