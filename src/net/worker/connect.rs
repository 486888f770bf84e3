//! Client connections on a worker: the non-blocking connect (trying each
//! resolved address in turn), the upgrade request, and connect failures.

use std::io;
use std::sync::atomic::Ordering;

use mio::Interest;

use super::feed::Feed;
use super::{ClientOpening, Phase, Slot, Worker, FINAL_ATTEMPT};
use crate::net::client::{ConnectRequest, Target};
use crate::net::handler::Handler;
use crate::net::tls::TlsConnector;
use crate::net::transport::Stream;
use crate::proto::handshake::ClientHandshake;
use crate::proto::Role;

impl<H: Handler> Worker<H> {
    pub(super) fn start_connect(&mut self, request: Box<ConnectRequest>, attempt: usize) {
        let feed = Feed::for_request(&request);
        self.start_connect_with(request, attempt, feed);
    }

    /// Connects to address `attempt` of `request`, carrying a feed client's state.
    pub(super) fn start_connect_with(
        &mut self,
        request: Box<ConnectRequest>,
        attempt: usize,
        feed: Option<Box<Feed>>,
    ) {
        if self.stop_deadline.is_some() {
            let e = io::Error::new(io::ErrorKind::NotConnected, "the engine is stopping");
            return self.handler.on_connect_error(request.options.tag, &e);
        }
        let stream = match &request.target {
            Target::Tcp(addrs) => match addrs.get(attempt) {
                Some(addr) if request.options.socket.is_set() => {
                    request.options.socket.connect(*addr).map(Stream::Tcp)
                }
                Some(addr) => mio::net::TcpStream::connect(*addr).map(Stream::Tcp),
                None => Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "no address answered",
                )),
            },
            Target::Unix(path) => mio::net::UnixStream::connect(path).map(Stream::Unix),
        };
        let stream = match stream {
            Ok(s) => s,
            Err(e) => return self.retry_or_fail(request, attempt, e, feed),
        };
        let stream = if request.url.tls {
            match Self::tls_session(stream, &request) {
                Ok(s) => s,
                Err(e) => return self.feed_connect_failed(request.options.tag, feed, &e),
            }
        } else {
            stream
        };
        self.handle
            .shared
            .connections
            .fetch_add(1, Ordering::Relaxed);
        let tag = request.options.tag;
        let limits = request.options.limits.unwrap_or(self.config.limits.conn);
        let timeouts = request.options.timeouts.map(Box::new);
        let mut slot = Slot::new(
            stream,
            Role::Client,
            limits,
            Phase::Connecting(request, attempt as u32),
            self.now,
        );
        slot.tag = tag;
        slot.timeouts = timeouts;
        slot.feed = feed;
        self.insert(slot, Interest::READABLE | Interest::WRITABLE);
    }

    /// `wss://`: a TLS client session over the connecting socket.
    fn tls_session(stream: Stream, request: &ConnectRequest) -> io::Result<Stream> {
        let name = request
            .options
            .server_name
            .as_deref()
            .unwrap_or(&request.url.host);
        match &request.options.tls {
            Some(connector) => Stream::tls_client(stream, connector, name),
            None => Stream::tls_client(stream, &TlsConnector::system()?, name),
        }
    }

    pub(super) fn retry_or_fail(
        &mut self,
        request: Box<ConnectRequest>,
        attempt: usize,
        error: io::Error,
        feed: Option<Box<Feed>>,
    ) {
        let more = matches!(&request.target, Target::Tcp(a) if attempt + 1 < a.len());
        if more {
            self.start_connect_with(request, attempt + 1, feed);
        } else {
            self.feed_connect_failed(request.options.tag, feed, &error);
        }
    }

    pub(super) fn finish_connect(&mut self, slot: usize) {
        let c = &mut self.conns[slot];
        let error = match c.stream.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => None,
        };
        if let Some(error) = error {
            return self.connect_failed(slot, error);
        }
        if !c.stream.is_connected() {
            return; // Spurious wake-up: still connecting.
        }
        let _ = c.stream.set_nodelay();
        if let (Some(idle), Stream::Tcp(tcp)) = (self.config.tcp_keepalive, &c.stream) {
            let _ = crate::net::sys::set_tcp_keepalive(tcp, idle);
        }
        let Phase::Connecting(request, _) = &c.phase else {
            return;
        };
        let protocols: Vec<&str> = request
            .options
            .protocols
            .iter()
            .map(String::as_str)
            .collect();
        let headers: Vec<(&str, &str)> = request
            .options
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut out = Vec::new();
        match ClientHandshake::write_request_with_deflate(
            &mut out,
            &request.url.host_header(),
            &request.url.path,
            &protocols,
            &headers,
            &self.config.deflate,
        ) {
            Ok(handshake) => {
                // A pooled buffer: one allocated for the request would stay.
                self.pools.lend_for_writing(&mut c.ws);
                c.ws.queue_handshake_bytes(&out);
                let path = request.url.path.clone();
                c.phase = Phase::ClientHandshake(Box::new(ClientOpening { handshake, path }));
                self.mark_dirty(slot);
                // The answer may already be there.
                self.read_handshake(slot);
            }
            Err(e) => {
                if let Phase::Connecting(_, attempt) = &mut c.phase {
                    *attempt = FINAL_ATTEMPT;
                }
                self.connect_failed(
                    slot,
                    io::Error::new(io::ErrorKind::InvalidInput, e.to_string()),
                );
            }
        }
    }

    /// A client connection failed before opening: try the next address, or report.
    pub(super) fn connect_failed(&mut self, slot: usize, error: io::Error) {
        let Some(c) = self.conns.try_remove(slot) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut { c.stream });
        self.handle
            .shared
            .connections
            .fetch_sub(1, Ordering::Relaxed);
        match c.phase {
            Phase::Connecting(request, attempt) if attempt != FINAL_ATTEMPT => {
                self.retry_or_fail(request, attempt as usize, error, c.feed)
            }
            _ => self.feed_connect_failed(c.tag, c.feed, &error),
        }
    }
}
