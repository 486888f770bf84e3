//! Client connections on a worker: the non-blocking connect (trying each
//! resolved address in turn), the upgrade request, and connect failures.

use std::io;
use std::sync::atomic::Ordering;

use mio::Interest;

use super::{Attempt, ClientOpening, Phase, Slot, Worker};
use crate::net::client::{ConnectRequest, Target};
use crate::net::handler::Handler;
use crate::net::tls::TlsConnector;
use crate::net::transport::Stream;
use crate::proto::handshake::ClientHandshake;
use crate::proto::Role;

impl<H: Handler> Worker<H> {
    pub(super) fn start_connect(&mut self, request: Box<ConnectRequest>, attempt: usize) {
        if self.stop_deadline.is_some() {
            let e = io::Error::new(io::ErrorKind::NotConnected, "the engine is stopping");
            return self.handler.on_connect_error(request.options.tag, &e);
        }
        let stream = match &request.target {
            Target::Tcp(addrs) => match addrs.get(attempt) {
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
            Err(e) => return self.retry_or_fail(request, attempt, e),
        };
        let stream = if request.url.tls {
            match Self::tls_session(stream, &request) {
                Ok(s) => s,
                Err(e) => return self.handler.on_connect_error(request.options.tag, &e),
            }
        } else {
            stream
        };
        self.handle
            .shared
            .connections
            .fetch_add(1, Ordering::Relaxed);
        let tag = request.options.tag;
        let mut slot = Slot::new(
            stream,
            Role::Client,
            &self.config,
            Phase::Connecting(request, Attempt::Address(attempt)),
            self.now,
        );
        slot.tag = tag;
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
    ) {
        let more = matches!(&request.target, Target::Tcp(a) if attempt + 1 < a.len());
        if more {
            self.start_connect(request, attempt + 1);
        } else {
            self.handler.on_connect_error(request.options.tag, &error);
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
                c.ws.queue_handshake_bytes(&out);
                let path = request.url.path.clone();
                c.phase = Phase::ClientHandshake(Box::new(ClientOpening { handshake, path }));
                self.mark_dirty(slot);
                // The answer may already be there.
                self.read_handshake(slot);
            }
            Err(e) => {
                if let Phase::Connecting(_, attempt) = &mut c.phase {
                    *attempt = Attempt::Final;
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
            Phase::Connecting(request, Attempt::Address(attempt)) => {
                self.retry_or_fail(request, attempt, error)
            }
            _ => self.handler.on_connect_error(c.tag, &error),
        }
    }
}
