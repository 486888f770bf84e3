//! Opening connections on a worker: accepting, reading and answering the
//! upgrade request (or refusing it with an HTTP status), and the client's
//! reading of the server's answer.

use std::io;
use std::sync::atomic::Ordering;

use bytes::Buf;
use mio::Interest;

use super::{lend_conn, ClientOpening, Phase, Report, Slot, Worker};
use crate::net::handler::{Handler, OpenInfo, Upgrade};
use crate::proto::handshake::{self, HandshakeError};
use crate::proto::Role;

impl<H: Handler> Worker<H> {
    // ---- accepting ----

    pub(super) fn accept(&mut self, index: usize) {
        loop {
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            let stream = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: leave the rest in the backlog for now.
                    eprintln!("rocws: accept failed: {e}");
                    return;
                }
            };
            let _ = stream.set_nodelay();
            let max = self.config.limits.max_connections;
            let count = self
                .handle
                .shared
                .connections
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            let mut slot = Slot::new(
                stream,
                Role::Server,
                &self.config,
                Phase::ServerHandshake,
                self.now,
            );
            if max > 0 && count > max {
                self.handle
                    .shared
                    .connections
                    .fetch_sub(1, Ordering::Relaxed);
                slot.counted = false;
                let mut out = Vec::new();
                HandshakeError {
                    status: 503,
                    reason: "too many connections",
                }
                .write_response(&mut out);
                slot.ws.queue_handshake_bytes(&out);
                slot.phase = Phase::Rejecting;
                slot.ws.transport_closing(self.now);
            }
            let rejecting = matches!(slot.phase, Phase::Rejecting);
            if let Some(key) = self.insert(slot, Interest::READABLE | Interest::WRITABLE) {
                if rejecting {
                    self.mark_dirty(key);
                }
            }
        }
    }

    pub(super) fn read_handshake(&mut self, slot: usize) {
        loop {
            let max_head = self.config.limits.max_handshake;
            if self.conns[slot].ws.read_buffer().capacity() == 0 {
                let buf = self.read_pool.take();
                self.conns[slot].ws.lend_read_buffer(buf);
            }
            let have = self.conns[slot].ws.read_buffer().len();
            // Read at most one byte past the limit: enough to prove it was passed.
            let want = (max_head + 1).saturating_sub(have).max(1);
            match self.read_once(slot, want) {
                Ok(None) => return,
                Ok(Some(0)) => return self.remove(slot),
                Err(e) => return self.transport_failed(slot, e),
                Ok(Some(_)) => {}
            }
            let c = &mut self.conns[slot];
            let done = match &c.phase {
                Phase::ServerHandshake => {
                    match handshake::parse_request(c.ws.read_buffer(), max_head) {
                        Ok(None) => false,
                        Ok(Some((request, consumed))) => {
                            self.accept_upgrade(slot, request, consumed);
                            true
                        }
                        Err(error) => {
                            let mut out = Vec::new();
                            error.write_response(&mut out);
                            self.reject(slot, &out);
                            true
                        }
                    }
                }
                Phase::ClientHandshake(opening) => {
                    let ClientOpening { handshake, path } = &**opening;
                    match handshake.parse_response(c.ws.read_buffer(), max_head) {
                        Ok(None) => false,
                        Ok(Some((response, consumed))) => {
                            c.ws.read_buffer().advance(consumed);
                            let info = OpenInfo {
                                path: path.clone(),
                                headers: response.headers,
                                protocol: response.protocol,
                                peer: c.stream.peer(),
                                tag: c.tag,
                                is_client: true,
                            };
                            self.open(slot, info);
                            true
                        }
                        Err(error) => {
                            let error =
                                io::Error::new(io::ErrorKind::ConnectionRefused, error.to_string());
                            self.connect_failed(slot, error);
                            return;
                        }
                    }
                }
                _ => true,
            };
            if done {
                break;
            }
        }
        if !self.conns.contains(slot) {
            return;
        }
        if matches!(self.conns[slot].phase, Phase::Open) {
            // The handshake read may have stopped at its size cap with frames
            // still in the socket: readiness is edge-triggered, so drain now.
            self.read_frames(slot);
        } else {
            self.after_activity(slot);
        }
    }

    pub(super) fn accept_upgrade(
        &mut self,
        slot: usize,
        request: handshake::Request,
        consumed: usize,
    ) {
        let preferred = {
            let supported: Vec<&str> = self.config.protocols.iter().map(String::as_str).collect();
            request.select_protocol(&supported)
        };
        let mut out = Vec::new();
        match self.handler.on_upgrade(&request, preferred) {
            Upgrade::Accept { protocol, headers } => {
                let extra: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                if let Err(e) = handshake::write_accept_response(
                    &mut out,
                    &request,
                    protocol.as_deref(),
                    &extra,
                ) {
                    eprintln!("rocws: handler's upgrade answer refused: {e}");
                    HandshakeError {
                        status: 500,
                        reason: "bad upgrade answer",
                    }
                    .write_response(&mut out);
                    return self.reject(slot, &out);
                }
                let c = &mut self.conns[slot];
                c.ws.queue_handshake_bytes(&out);
                c.ws.read_buffer().advance(consumed);
                let info = OpenInfo {
                    path: request.path,
                    headers: request.headers,
                    protocol,
                    peer: c.stream.peer(),
                    tag: 0,
                    is_client: false,
                };
                self.open(slot, info);
            }
            Upgrade::Reject { status, body } => {
                let status = if (400..600).contains(&status) {
                    status
                } else {
                    403
                };
                let _ = handshake::write_status_response(&mut out, status, &[], body.as_bytes());
                self.reject(slot, &out);
            }
        }
    }

    pub(super) fn open(&mut self, slot: usize, info: OpenInfo) {
        self.lend_write_buffer(slot);
        let id = self.id(slot);
        let c = &mut self.conns[slot];
        c.phase = Phase::Open;
        c.report = Report::Owed;
        c.ws.handshake_finished(self.now);
        let mut conn = lend_conn(id, c, &mut self.topics, &self.handle);
        self.handler.on_open(&mut conn, info);
        // Frames that arrived with the handshake.
        self.dispatch(slot);
        self.mark_dirty(slot);
    }

    pub(super) fn reject(&mut self, slot: usize, response: &[u8]) {
        let c = &mut self.conns[slot];
        c.ws.read_buffer().clear();
        c.ws.queue_handshake_bytes(response);
        c.phase = Phase::Rejecting;
        c.ws.transport_closing(self.now);
        self.mark_dirty(slot);
    }
}
