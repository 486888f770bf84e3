use super::*;

const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn request_with(replace: &str, with: &str) -> String {
    assert!(RFC_REQUEST.contains(replace), "{replace}");
    RFC_REQUEST.replace(replace, with)
}

fn status_of(req: &str) -> u16 {
    parse_request(req.as_bytes(), DEFAULT_MAX_HEAD)
        .unwrap_err()
        .status
}

#[test]
fn rfc_accept_value() {
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn parses_the_rfc_request_and_answers_it() {
    let mut bytes = RFC_REQUEST.as_bytes().to_vec();
    bytes.extend_from_slice(b"\x81\x80rest");
    let (req, consumed) = parse_request(&bytes, DEFAULT_MAX_HEAD).unwrap().unwrap();
    assert_eq!(consumed, RFC_REQUEST.len());
    assert_eq!(req.path, "/chat");
    assert_eq!(req.protocols, ["chat", "superchat"]);
    assert_eq!(req.header("origin"), Some("http://example.com"));
    assert_eq!(
        req.select_protocol(&["superchat", "chat"]),
        Some("superchat")
    );
    assert_eq!(req.select_protocol(&["other"]), None);

    let mut out = Vec::new();
    write_accept_response(&mut out, &req, Some("chat"), &[("X-Server", "rocws")]).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
    assert!(text.ends_with("X-Server: rocws\r\n\r\n"));

    let mut out = Vec::new();
    assert!(write_accept_response(&mut out, &req, Some("nope"), &[]).is_err());
    assert!(write_accept_response(&mut out, &req, None, &[("X-Bad", "a\r\nb: c")]).is_err());
    assert!(out.is_empty(), "nothing half-written");
}

#[test]
fn every_prefix_is_incomplete() {
    for cut in 0..RFC_REQUEST.len() {
        assert_eq!(
            parse_request(&RFC_REQUEST.as_bytes()[..cut], DEFAULT_MAX_HEAD),
            Ok(None)
        );
    }
}

#[test]
fn header_matching_is_case_insensitive() {
    let req = RFC_REQUEST
        .replace("Upgrade: websocket", "upgrade: WebSocket")
        .replace("Connection: Upgrade", "CONNECTION: keep-alive, UPGRADE");
    assert!(parse_request(req.as_bytes(), DEFAULT_MAX_HEAD)
        .unwrap()
        .is_some());
}

#[test]
fn rejections_carry_the_right_status() {
    assert_eq!(status_of(&request_with("GET /chat", "POST /chat")), 405);
    // RFC 6455 section 3: no fragment in a WebSocket URI.
    let fragment = parse_request(
        request_with("GET /chat", "GET /chat#x").as_bytes(),
        DEFAULT_MAX_HEAD,
    );
    assert_eq!(fragment.unwrap_err().status, 400);
    assert_eq!(
        status_of(&request_with("HTTP/1.1\r\nHost", "HTTP/1.0\r\nHost")),
        400
    );
    assert_eq!(
        status_of(&request_with("Host: server.example.com\r\n", "")),
        400
    );
    assert_eq!(status_of(&request_with("Upgrade: websocket\r\n", "")), 400);
    assert_eq!(
        status_of(&request_with("Upgrade: websocket", "Upgrade: h2c")),
        400
    );
    assert_eq!(
        status_of(&request_with(
            "Connection: Upgrade",
            "Connection: keep-alive"
        )),
        400
    );
    assert_eq!(
        status_of(&request_with("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=")),
        400
    );
    assert_eq!(
        status_of(&request_with("dGhlIHNhbXBsZSBub25jZQ==", "not base64!")),
        400
    );
    assert_eq!(
        status_of(&request_with(
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            ""
        )),
        400
    );
    assert_eq!(
        status_of(&request_with(
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Version: 8"
        )),
        426
    );
    assert_eq!(
        status_of(&request_with("Sec-WebSocket-Version: 13\r\n", "")),
        400
    );
    assert_eq!(status_of("GARBAGE\x01\r\n\r\n"), 400);

    let big = request_with("Origin", &format!("X-Pad: {}\r\nOrigin", "a".repeat(9000)));
    assert_eq!(status_of(&big), 431);
    // A head that never ends is cut off at the limit, not buffered forever.
    let endless = format!("GET / HTTP/1.1\r\nX-Pad: {}", "a".repeat(9000));
    assert_eq!(status_of(&endless), 431);
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(
        status_of(&request_with("Origin", &format!("{many}Origin"))),
        431
    );
}

#[test]
fn error_responses() {
    let e = parse_request(
        request_with("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 7").as_bytes(),
        DEFAULT_MAX_HEAD,
    )
    .unwrap_err();
    let mut out = Vec::new();
    e.write_response(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{text}"
    );
    assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
    assert!(text.contains(&format!("Content-Length: {}\r\n", e.reason.len())));
}

#[test]
fn client_round_trip() {
    let mut req = Vec::new();
    let hs = ClientHandshake::write_request(
        &mut req,
        "localhost:9001",
        "/feed",
        &["v2", "v1"],
        &[("Authorization", "Bearer x")],
    )
    .unwrap();
    let (parsed, _) = parse_request(&req, DEFAULT_MAX_HEAD).unwrap().unwrap();
    assert_eq!(parsed.path, "/feed");
    assert_eq!(parsed.protocols, ["v2", "v1"]);
    assert_eq!(parsed.header("authorization"), Some("Bearer x"));

    let mut resp = Vec::new();
    write_accept_response(&mut resp, &parsed, Some("v1"), &[]).unwrap();
    for cut in 0..resp.len() {
        assert_eq!(hs.parse_response(&resp[..cut], DEFAULT_MAX_HEAD), Ok(None));
    }
    let (r, n) = hs.parse_response(&resp, DEFAULT_MAX_HEAD).unwrap().unwrap();
    assert_eq!((r.protocol.as_deref(), n), (Some("v1"), resp.len()));

    // Another key's accept value is refused.
    let mut other = Vec::new();
    let hs2 = ClientHandshake::write_request(&mut other, "h", "/", &["v1"], &[]).unwrap();
    assert_eq!(
        hs2.parse_response(&resp, DEFAULT_MAX_HEAD),
        Err(ClientHandshakeError::BadAccept)
    );

    // The right accept value twice is a list of two: refused (a fuzz finding).
    let text = String::from_utf8(resp.clone()).unwrap();
    let accept_line = text
        .lines()
        .find(|l| l.starts_with("Sec-WebSocket-Accept"))
        .unwrap();
    let twice = text.replacen("\r\n\r\n", &format!("\r\n{accept_line}\r\n\r\n"), 1);
    assert_eq!(
        hs.parse_response(twice.as_bytes(), DEFAULT_MAX_HEAD),
        Err(ClientHandshakeError::BadAccept)
    );

    let forbidden = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        hs.parse_response(forbidden, DEFAULT_MAX_HEAD),
        Err(ClientHandshakeError::Status(403))
    );

    let mut unoffered = Vec::new();
    let mut p = parsed.clone();
    p.protocols.push("v9".into());
    write_accept_response(&mut unoffered, &p, Some("v9"), &[]).unwrap();
    assert_eq!(
        hs.parse_response(&unoffered, DEFAULT_MAX_HEAD),
        Err(ClientHandshakeError::BadProtocol)
    );

    let no_upgrade = String::from_utf8(resp.clone())
        .unwrap()
        .replace("Upgrade: websocket\r\n", "");
    assert_eq!(
        hs.parse_response(no_upgrade.as_bytes(), DEFAULT_MAX_HEAD),
        Err(ClientHandshakeError::MissingUpgrade)
    );
}

#[test]
fn a_repeated_version_is_refused() {
    // Found by the handshake_request fuzz target: the last of two
    // Sec-WebSocket-Version fields won, so "8" then "13" was accepted.
    for (first, second) in [("13", "13"), ("8", "13")] {
        let twice = RFC_REQUEST.replace(
            "Sec-WebSocket-Version: 13\r\n",
            &format!("Sec-WebSocket-Version: {first}\r\nSec-WebSocket-Version: {second}\r\n"),
        );
        assert_eq!(status_of(&twice), 400, "{first}, {second}");
    }
}

#[test]
fn client_refuses_bad_request_parts() {
    let mut out = Vec::new();
    assert!(ClientHandshake::write_request(&mut out, "h\r\nX: y", "/", &[], &[]).is_err());
    assert!(ClientHandshake::write_request(&mut out, "h", "/a b", &[], &[]).is_err());
    assert!(ClientHandshake::write_request(&mut out, "h", "/a#frag", &[], &[]).is_err());
    assert!(ClientHandshake::write_request(&mut out, "h", "/", &["bad proto"], &[]).is_err());
    // Found by the handshake_response fuzz target: a control character in a
    // header value was written, and our own server refused the request (400).
    assert!(ClientHandshake::write_request(&mut out, "h\x03st", "/", &[], &[]).is_err());
    assert!(ClientHandshake::write_request(&mut out, "h", "/", &[], &[("X-A", "\x7F")]).is_err());
    assert!(out.is_empty());
    let hs = ClientHandshake::write_request(&mut out, "h\tst", "/", &[], &[("X-A", "é ok")]);
    assert!(
        hs.is_ok(),
        "tab, space and non-ASCII bytes are valid in a value"
    );
    assert!(parse_request(&out, DEFAULT_MAX_HEAD).unwrap().is_some());
}

/// A handler's extra headers may not override what the handshake negotiated
/// (issue 12, item 7): each reserved name, in any case, is refused.
#[test]
fn extra_headers_cannot_override_negotiated_ones() {
    let (req, _) = parse_request(RFC_REQUEST.as_bytes(), DEFAULT_MAX_HEAD)
        .unwrap()
        .unwrap();
    for name in [
        "Sec-WebSocket-Protocol",
        "sec-websocket-extensions",
        "SEC-WEBSOCKET-ACCEPT",
        "Upgrade",
        "connection",
    ] {
        let mut out = Vec::new();
        assert_eq!(
            write_accept_response(&mut out, &req, Some("chat"), &[("X-Ok", "1"), (name, "x")]),
            Err(AcceptError::ReservedHeader(name.to_owned())),
            "{name}"
        );
        assert!(out.is_empty(), "nothing half-written");
    }
    assert!(matches!(
        write_accept_response(&mut Vec::new(), &req, Some("nope"), &[]),
        Err(AcceptError::NotOffered(_))
    ));
}
