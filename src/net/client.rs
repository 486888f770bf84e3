//! Client connections: URL parsing, name resolution, and what a connect
//! request carries to the event-loop thread.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use super::tls::TlsConnector;
use crate::proto::{ConnConfig, Timeouts};

/// Options of one client connection.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Subprotocols to offer, in order of preference.
    pub protocols: Vec<String>,
    /// Extra request headers (for example `Authorization`).
    pub headers: Vec<(String, String)>,
    /// A number of the caller's choosing, reported back in `OpenInfo::tag`
    /// and `on_connect_error`.
    pub tag: u64,
    /// For `wss://`: how to check the server. `None` trusts the system's
    /// store (see [`TlsConnector::system`]).
    pub tls: Option<TlsConnector>,
    /// For `wss://`: the name sent as SNI and checked against the server's
    /// certificate, when it is not the URL's host (for example when
    /// connecting to an IP address or through a Unix socket).
    pub server_name: Option<String>,
    /// Frame and message size limits of this connection (1009 beyond them);
    /// `None` takes the engine's ([`Limits::conn`](super::Limits::conn)).
    pub limits: Option<ConnConfig>,
    /// The timers of this connection: opening handshake (TCP connect, TLS and
    /// upgrade together), idle, keepalive ping and its pong deadline, closing
    /// handshake; `None` takes the engine's ([`Config::timeouts`](super::Config::timeouts)).
    pub timeouts: Option<Timeouts>,
}

impl ClientOptions {
    /// Fails with `InvalidInput` when the upgrade request could not carry
    /// these subprotocols and headers (a control character, an empty or
    /// non-token name): the caller hears it now, not as a later connect error.
    fn check_request(&self, url: &WsUrl) -> io::Result<()> {
        let protocols: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        crate::proto::handshake::ClientHandshake::write_request(
            &mut Vec::new(),
            &url.host_header(),
            &url.path,
            &protocols,
            &headers,
        )
        .map(drop)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
    }
}

/// A parsed `ws://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// The host name or address (IPv6 without brackets).
    pub host: String,
    /// The port (80 by default).
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
    /// For `ws+unix://`, the socket path (host and port are then unused).
    pub unix: Option<PathBuf>,
    /// `wss://` (or `wss+unix://`): TLS under the WebSocket.
    pub tls: bool,
}

impl WsUrl {
    /// Parses `ws://host[:port][/path]`, `ws://[v6addr]:port/path`,
    /// `ws+unix:///path/to/socket` (the WebSocket path is then `/`), and the
    /// same with `wss` (TLS; port 443 by default).
    pub fn parse(url: &str) -> io::Result<WsUrl> {
        let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{why}: {url}"));
        for (scheme, tls) in [("ws+unix://", false), ("wss+unix://", true)] {
            if let Some(path) = url.strip_prefix(scheme) {
                return Ok(WsUrl {
                    host: "localhost".into(),
                    port: 0,
                    path: "/".into(),
                    unix: Some(PathBuf::from(path)),
                    tls,
                });
            }
        }
        if url.contains('#') {
            // RFC 6455 section 3: fragments are meaningless in WebSocket URIs
            // and must not be used ('#' in a path is sent as %23).
            return Err(bad("a fragment (#) is not allowed in a WebSocket URL"));
        }
        let (rest, tls) = match url.strip_prefix("wss://") {
            Some(rest) => (rest, true),
            None => (
                url.strip_prefix("ws://")
                    .ok_or_else(|| bad("not a ws:// or wss:// URL"))?,
                false,
            ),
        };
        let default_port = if tls { 443 } else { 80 };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        if authority.contains('@') {
            return Err(bad("user info in URLs is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(|| bad("unclosed IPv6 bracket"))?;
            let port = match &v6[end + 1..] {
                "" => default_port,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| bad("bad port"))?,
            };
            (v6[..end].to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad("bad port"))?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(WsUrl {
            host,
            port,
            path,
            unix: None,
            tls,
        })
    }

    /// The `Host` header value: the host, with the port unless it is the
    /// scheme's default (80, or 443 for `wss`).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port || self.unix.is_some() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Where to connect: resolved addresses, tried in order, or a Unix socket.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Tcp(Vec<SocketAddr>),
    Unix(PathBuf),
}

/// A connect request, resolved on the caller's thread.
#[derive(Debug)]
pub(crate) struct ConnectRequest {
    pub(crate) target: Target,
    pub(crate) url: WsUrl,
    pub(crate) options: ClientOptions,
}

impl ConnectRequest {
    pub(crate) fn resolve(url: &str, options: ClientOptions) -> io::Result<ConnectRequest> {
        let url = WsUrl::parse(url)?;
        options.check_request(&url)?;
        let target = match &url.unix {
            Some(path) => Target::Unix(path.clone()),
            None => {
                let addrs: Vec<SocketAddr> =
                    (url.host.as_str(), url.port).to_socket_addrs()?.collect();
                if addrs.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "host has no address",
                    ));
                }
                Target::Tcp(addrs)
            }
        };
        Ok(ConnectRequest {
            target,
            url,
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = WsUrl::parse("ws://example.com:9001/feed?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("example.com", 9001, "/feed?x=1")
        );
        assert_eq!(u.host_header(), "example.com:9001");
        let u = WsUrl::parse("ws://[::1]:9/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        assert_eq!(u.host_header(), "[::1]:9");
        let u = WsUrl::parse("ws://h?q").unwrap();
        assert_eq!(
            (u.port, u.path.as_str(), u.host_header().as_str()),
            (80, "/?q", "h")
        );
        assert!(WsUrl::parse("http://h/").is_err());
        assert!(WsUrl::parse("ws://h/p#frag").is_err()); // RFC 6455 section 3
        assert!(WsUrl::parse("ws://h#frag").is_err());
        assert!(WsUrl::parse("wss://h/p#frag").is_err());
        let u = WsUrl::parse("wss://h/x").unwrap();
        assert_eq!((u.tls, u.port, u.host_header().as_str()), (true, 443, "h"));
        let u = WsUrl::parse("wss://h:9443").unwrap();
        assert_eq!((u.tls, u.host_header().as_str()), (true, "h:9443"));
        assert!(!WsUrl::parse("ws://h/").unwrap().tls);
        assert!(WsUrl::parse("wss+unix:///tmp/s").unwrap().tls);
        assert!(WsUrl::parse("ws://h:99999/").is_err());
        assert!(WsUrl::parse("ws://:80/").is_err());
        let u = WsUrl::parse("ws+unix:///tmp/s.sock").unwrap();
        assert_eq!(u.unix, Some(PathBuf::from("/tmp/s.sock")));
    }
}
