//! The opening handshake (RFC 6455 §4): the server's reading of an upgrade
//! request and its answer, and the client's request and its check of the answer.
//!
//! HTTP parsing is httparse's, SHA-1 and base64 are RustCrypto's `sha1` and
//! the `base64` crate: well-tested code for the parts that are not WebSocket.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use super::deflate::{self, AnswerError, DeflateConfig, DeflateParams};

/// The GUID appended to the key before hashing (§1.3).
const WS_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Most header lines a request or response may carry; more is answered with 431.
pub const MAX_HEADERS: usize = 64;

/// Default limit on the size of a request head (request line and headers).
pub const DEFAULT_MAX_HEAD: usize = 8192;

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` value.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WS_GUID);
    BASE64.encode(sha.finalize())
}

/// A rejected handshake: the HTTP status to answer with and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeError {
    /// 400 (malformed), 405 (not GET), 426 (unsupported version), 431 (head too large).
    pub status: u16,
    /// What was wrong, for logs and the response body.
    pub reason: &'static str,
}

impl HandshakeError {
    const fn new(status: u16, reason: &'static str) -> Self {
        HandshakeError { status, reason }
    }

    /// Writes the full HTTP error response, with the headers the status calls
    /// for (`Sec-WebSocket-Version: 13` on 426, `Allow: GET` on 405).
    pub fn write_response(&self, out: &mut Vec<u8>) {
        let extra: &[(&str, &str)] = match self.status {
            426 => &[("Sec-WebSocket-Version", "13"), ("Upgrade", "websocket")],
            405 => &[("Allow", "GET")],
            _ => &[],
        };
        write_status_response(out, self.status, extra, self.reason.as_bytes())
            .expect("static headers are valid");
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status,
            status_text(self.status),
            self.reason
        )
    }
}

impl std::error::Error for HandshakeError {}

/// A header name or value that cannot be written (not a token, or holding CR, LF or NUL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHeader(pub String);

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid header: {:?}", self.0)
    }
}

impl std::error::Error for InvalidHeader {}

/// The reason phrase of the statuses this module writes.
pub fn status_text(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// A validated upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request target, for example `/feed?symbol=BTC`.
    pub path: String,
    /// Every header as received (names as sent, values as bytes).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The `Sec-WebSocket-Key` value.
    pub key: String,
    /// The subprotocols the client offered, in its order of preference.
    pub protocols: Vec<String>,
    /// The raw `Sec-WebSocket-Extensions` offers (none are negotiated yet).
    pub extensions: Vec<String>,
}

impl Request {
    /// The first header with this name (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The first of `supported` (in the server's order) that the client offered.
    pub fn select_protocol<'a>(&self, supported: &[&'a str]) -> Option<&'a str> {
        supported
            .iter()
            .copied()
            .find(|s| self.protocols.iter().any(|p| p == s))
    }
}

fn header_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

fn has_token(value: &[u8], token: &str) -> bool {
    header_tokens(value).any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// Parses and validates a server-side upgrade request from the start of `buf`.
///
/// Returns `Ok(None)` while the head is incomplete, or `Ok(Some((request,
/// consumed)))` where `consumed` is the length of the head (bytes after it
/// already belong to the WebSocket stream). A head that grows past `max_head`
/// bytes without ending is a 431.
pub fn parse_request(
    buf: &[u8],
    max_head: usize,
) -> Result<Option<(Request, usize)>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let consumed = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > max_head {
                return Err(HandshakeError::new(431, "request head too large"));
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HandshakeError::new(431, "too many header fields"))
        }
        Err(_) => return Err(HandshakeError::new(400, "malformed HTTP request")),
    };
    if consumed > max_head {
        return Err(HandshakeError::new(431, "request head too large"));
    }
    if req.method != Some("GET") {
        return Err(HandshakeError::new(
            405,
            "the WebSocket handshake needs GET",
        ));
    }
    if req.version != Some(1) {
        return Err(HandshakeError::new(
            400,
            "the WebSocket handshake needs HTTP/1.1",
        ));
    }
    let path = req.path.unwrap_or("/").to_owned();
    if path.contains('#') {
        // RFC 6455 section 3: a WebSocket URI has no fragment.
        return Err(HandshakeError::new(
            400,
            "a fragment (#) in the request-target",
        ));
    }

    let mut host = false;
    let mut upgrade = false;
    let mut connection_upgrade = false;
    let mut key: Option<String> = None;
    let mut version: Option<&[u8]> = None;
    let mut protocols = Vec::new();
    let mut extensions = Vec::new();
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            host = true;
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(h.value, "websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection_upgrade |= has_token(h.value, "upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            if key.is_some() {
                return Err(HandshakeError::new(400, "repeated Sec-WebSocket-Key"));
            }
            let value = h.value.trim_ascii();
            match BASE64.decode(value) {
                Ok(raw) if raw.len() == 16 => {}
                _ => {
                    return Err(HandshakeError::new(
                        400,
                        "Sec-WebSocket-Key is not 16 bytes",
                    ))
                }
            }
            // Base64 is ASCII: the decode above proved it.
            key = Some(String::from_utf8_lossy(value).into_owned());
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            // Two fields read as the list "13, 13", which is not "13" (§4.2.1).
            if version.is_some() {
                return Err(HandshakeError::new(400, "repeated Sec-WebSocket-Version"));
            }
            version = Some(h.value.trim_ascii());
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            for t in header_tokens(h.value) {
                let t = std::str::from_utf8(t)
                    .map_err(|_| HandshakeError::new(400, "bad Sec-WebSocket-Protocol"))?;
                protocols.push(t.to_owned());
            }
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
            if let Ok(v) = std::str::from_utf8(h.value) {
                extensions.push(v.to_owned());
            }
        }
    }
    if !host {
        return Err(HandshakeError::new(400, "missing Host"));
    }
    if !upgrade {
        return Err(HandshakeError::new(400, "missing Upgrade: websocket"));
    }
    if !connection_upgrade {
        return Err(HandshakeError::new(400, "missing Connection: upgrade"));
    }
    match version {
        Some(b"13") => {}
        Some(_) => {
            return Err(HandshakeError::new(
                426,
                "unsupported Sec-WebSocket-Version",
            ))
        }
        None => return Err(HandshakeError::new(400, "missing Sec-WebSocket-Version")),
    }
    let Some(key) = key else {
        return Err(HandshakeError::new(400, "missing Sec-WebSocket-Key"));
    };
    let headers = req
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect();
    Ok(Some((
        Request {
            path,
            headers,
            key,
            protocols,
            extensions,
        },
        consumed,
    )))
}

fn check_header(name: &str, value: &str) -> Result<(), InvalidHeader> {
    let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(InvalidHeader(name.to_owned()));
    }
    // A field value is visible characters, spaces and tabs (RFC 7230 §3.2):
    // any other control character makes the head malformed for the peer.
    if value.bytes().any(|c| (c < b' ' && c != b'\t') || c == 0x7F) {
        return Err(InvalidHeader(format!("{name}: {value}")));
    }
    Ok(())
}

fn write_headers(out: &mut Vec<u8>, headers: &[(&str, &str)]) -> Result<(), InvalidHeader> {
    for (name, value) in headers {
        check_header(name, value)?;
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

/// Why an accept response could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptError {
    /// The chosen subprotocol is not one the client offered.
    NotOffered(String),
    /// An extra header the handshake itself sets (`Upgrade`, `Connection`,
    /// `Sec-WebSocket-Accept`, `-Protocol`, `-Extensions`): a handler may not
    /// override what was negotiated.
    ReservedHeader(String),
    /// A header name or value that cannot be written.
    Invalid(InvalidHeader),
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcceptError::NotOffered(p) => write!(f, "subprotocol {p:?} was not offered"),
            AcceptError::ReservedHeader(h) => {
                write!(
                    f,
                    "header {h:?} is set by the handshake, not by the handler"
                )
            }
            AcceptError::Invalid(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AcceptError {}

impl From<InvalidHeader> for AcceptError {
    fn from(e: InvalidHeader) -> Self {
        AcceptError::Invalid(e)
    }
}

/// Headers of a 101 answer that only the handshake writes.
const RESERVED_ACCEPT_HEADERS: [&str; 5] = [
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
];

/// Writes the `101 Switching Protocols` answer to `req`, selecting `protocol`
/// (which must be one the client offered) and adding `extra` headers, none
/// of which may be one the handshake sets (see [`AcceptError::ReservedHeader`]).
pub fn write_accept_response(
    out: &mut Vec<u8>,
    req: &Request,
    protocol: Option<&str>,
    extra: &[(&str, &str)],
) -> Result<(), AcceptError> {
    write_accept_response_with_extensions(out, req, protocol, None, extra)
}

/// [`write_accept_response`] with the negotiated extensions' answer
/// (`Sec-WebSocket-Extensions`, for example from
/// [`deflate::server_accept`]).
pub fn write_accept_response_with_extensions(
    out: &mut Vec<u8>,
    req: &Request,
    protocol: Option<&str>,
    extensions: Option<&str>,
    extra: &[(&str, &str)],
) -> Result<(), AcceptError> {
    if let Some(p) = protocol {
        if !req.protocols.iter().any(|o| o == p) {
            return Err(AcceptError::NotOffered(p.to_owned()));
        }
    }
    if let Some((name, _)) = extra.iter().find(|(name, _)| {
        RESERVED_ACCEPT_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name.trim()))
    }) {
        return Err(AcceptError::ReservedHeader((*name).to_owned()));
    }
    let start = out.len();
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept_key(req.key.as_bytes()).as_bytes());
    out.extend_from_slice(b"\r\n");
    let result = protocol
        .map_or(Ok(()), |p| {
            write_headers(out, &[("Sec-WebSocket-Protocol", p)])
        })
        .and_then(|()| {
            extensions.map_or(Ok(()), |e| {
                write_headers(out, &[("Sec-WebSocket-Extensions", e)])
            })
        })
        .and_then(|()| write_headers(out, extra));
    if result.is_err() {
        out.truncate(start);
    }
    result?;
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Writes a complete non-101 response (`Connection: close`, a plain-text body).
pub fn write_status_response(
    out: &mut Vec<u8>,
    status: u16,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Result<(), InvalidHeader> {
    let start = out.len();
    let head = format!(
        "HTTP/1.1 {status} {}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
        status_text(status),
        body.len()
    );
    out.extend_from_slice(head.as_bytes());
    if let Err(e) = write_headers(out, extra) {
        out.truncate(start);
        return Err(e);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(())
}

/// Why a server's answer to the client's upgrade request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHandshakeError {
    /// The response is not valid HTTP, or its head is too large.
    Malformed(&'static str),
    /// The server answered with a status other than 101.
    Status(u16),
    /// `Upgrade: websocket` or `Connection: upgrade` is missing.
    MissingUpgrade,
    /// `Sec-WebSocket-Accept` is missing or does not match the key.
    BadAccept,
    /// The server chose a subprotocol that was not offered, or chose several.
    BadProtocol,
    /// The server answered with extensions that were not offered.
    UnexpectedExtension,
    /// The server's permessage-deflate answer breaks RFC 7692 §7.1 or asks
    /// for what was not offered.
    BadExtension(AnswerError),
}

impl fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientHandshakeError::Malformed(why) => write!(f, "malformed response: {why}"),
            ClientHandshakeError::Status(s) => write!(f, "server answered {s}, not 101"),
            ClientHandshakeError::MissingUpgrade => f.write_str("response lacks the upgrade"),
            ClientHandshakeError::BadAccept => f.write_str("Sec-WebSocket-Accept does not match"),
            ClientHandshakeError::BadProtocol => {
                f.write_str("server chose an unoffered subprotocol")
            }
            ClientHandshakeError::UnexpectedExtension => {
                f.write_str("server chose an extension that was not offered")
            }
            ClientHandshakeError::BadExtension(e) => {
                write!(f, "server's permessage-deflate answer is invalid: {e:?}")
            }
        }
    }
}

impl std::error::Error for ClientHandshakeError {}

/// The server's accepted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The subprotocol the server chose, if any.
    pub protocol: Option<String>,
    /// Every header as received.
    pub headers: Vec<(String, Vec<u8>)>,
    /// permessage-deflate as the server accepted it, when offered and accepted.
    pub deflate: Option<DeflateParams>,
}

/// A client's upgrade request in flight: remembers what to check the answer against.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    expected_accept: String,
    protocols: Vec<String>,
    /// The permessage-deflate offer made, if any.
    deflate: Option<DeflateConfig>,
}

impl ClientHandshake {
    /// Writes an upgrade request for `path` on `host` (the `Host` header value,
    /// with the port when it is not the default) with a fresh random key.
    pub fn write_request(
        out: &mut Vec<u8>,
        host: &str,
        path: &str,
        protocols: &[&str],
        extra: &[(&str, &str)],
    ) -> Result<ClientHandshake, InvalidHeader> {
        let mut nonce = [0u8; 16];
        super::mask_key::fill_random(&mut nonce);
        let key = BASE64.encode(nonce);
        check_header("Host", host)?;
        if path.bytes().any(|c| c <= b' ' || c == 0x7F || c == b'#') {
            // '#' would start a fragment, which WebSocket URIs must not have.
            return Err(InvalidHeader(format!("request path {path:?}")));
        }
        for p in protocols {
            check_header(p, "")?;
        }
        let start = out.len();
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        );
        out.extend_from_slice(head.as_bytes());
        let joined = protocols.join(", ");
        let protocol_header: &[(&str, &str)] = if protocols.is_empty() {
            &[]
        } else {
            &[("Sec-WebSocket-Protocol", &joined)]
        };
        if let Err(e) = write_headers(out, protocol_header).and_then(|()| write_headers(out, extra))
        {
            out.truncate(start);
            return Err(e);
        }
        out.extend_from_slice(b"\r\n");
        Ok(ClientHandshake {
            expected_accept: accept_key(key.as_bytes()),
            protocols: protocols.iter().map(|p| (*p).to_owned()).collect(),
            deflate: None,
        })
    }

    /// [`write_request`](Self::write_request) with a permessage-deflate
    /// offer made from `deflate` (none when it is disabled); the answer is
    /// then checked against that offer.
    pub fn write_request_with_deflate(
        out: &mut Vec<u8>,
        host: &str,
        path: &str,
        protocols: &[&str],
        extra: &[(&str, &str)],
        deflate: &DeflateConfig,
    ) -> Result<ClientHandshake, InvalidHeader> {
        let Some(offer) = deflate::client_offer(deflate) else {
            return Self::write_request(out, host, path, protocols, extra);
        };
        let mut headers = extra.to_vec();
        headers.push(("Sec-WebSocket-Extensions", &offer));
        let mut handshake = Self::write_request(out, host, path, protocols, &headers)?;
        handshake.deflate = Some(*deflate);
        Ok(handshake)
    }

    /// Checks the server's answer at the start of `buf`: `Ok(None)` while
    /// incomplete, else the response and the length of its head (bytes after
    /// it are already WebSocket frames).
    pub fn parse_response(
        &self,
        buf: &[u8],
        max_head: usize,
    ) -> Result<Option<(Response, usize)>, ClientHandshakeError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let consumed = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) if n <= max_head => n,
            Ok(httparse::Status::Partial) if buf.len() <= max_head => return Ok(None),
            Ok(_) => return Err(ClientHandshakeError::Malformed("response head too large")),
            Err(_) => return Err(ClientHandshakeError::Malformed("not an HTTP response")),
        };
        let status = resp.code.unwrap_or(0);
        if status != 101 {
            return Err(ClientHandshakeError::Status(status));
        }
        let (mut upgrade, mut connection, mut accept_ok) = (false, false, false);
        // Several accept fields combine into a list (RFC 9110 §5.3), which is
        // never the one value expected: refused even when each matches.
        let mut accepts = 0;
        let mut protocol = None;
        let mut extensions = Vec::new();
        for h in resp.headers.iter() {
            if h.name.eq_ignore_ascii_case("upgrade") {
                upgrade |= has_token(h.value, "websocket");
            } else if h.name.eq_ignore_ascii_case("connection") {
                connection |= has_token(h.value, "upgrade");
            } else if h.name.eq_ignore_ascii_case("sec-websocket-accept") {
                accepts += 1;
                accept_ok = accepts == 1 && h.value.trim_ascii() == self.expected_accept.as_bytes();
            } else if h.name.eq_ignore_ascii_case("sec-websocket-protocol") {
                let p = std::str::from_utf8(h.value.trim_ascii())
                    .map_err(|_| ClientHandshakeError::BadProtocol)?;
                if protocol.is_some() || !self.protocols.iter().any(|o| o == p) {
                    return Err(ClientHandshakeError::BadProtocol);
                }
                protocol = Some(p.to_owned());
            } else if h.name.eq_ignore_ascii_case("sec-websocket-extensions")
                && !h.value.trim_ascii().is_empty()
            {
                let value = std::str::from_utf8(h.value)
                    .map_err(|_| ClientHandshakeError::UnexpectedExtension)?;
                extensions.push(value);
            }
        }
        let deflate = match &self.deflate {
            None if extensions.is_empty() => None,
            None => return Err(ClientHandshakeError::UnexpectedExtension),
            Some(config) => deflate::client_check(extensions, config).map_err(|e| match e {
                AnswerError::NotOffered => ClientHandshakeError::UnexpectedExtension,
                other => ClientHandshakeError::BadExtension(other),
            })?,
        };
        if !upgrade || !connection {
            return Err(ClientHandshakeError::MissingUpgrade);
        }
        if !accept_ok {
            return Err(ClientHandshakeError::BadAccept);
        }
        let headers = resp
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect();
        Ok(Some((
            Response {
                protocol,
                headers,
                deflate,
            },
            consumed,
        )))
    }
}

#[cfg(test)]
mod tests;
