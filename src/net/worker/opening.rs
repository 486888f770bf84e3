//! Opening connections on a worker: accepting, reading and answering the
//! upgrade request (or refusing it with an HTTP status), and the client's
//! reading of the server's answer.

use std::io;
use std::sync::atomic::Ordering;

use mio::Interest;

use super::{lend_conn, ClientOpening, Phase, Report, Slot, Worker};
use crate::net::handler::{Handler, OpenInfo, Upgrade, UpgradeRequest};
use crate::net::sys;
use crate::net::transport::Stream;
use crate::proto::deflate::{self, Session};
use crate::proto::handshake::{self, HandshakeError};
use crate::proto::Role;

/// Connections one listener accepts per wake-up.
const ACCEPT_BUDGET: usize = 64;

/// Bytes asked of one read(2) during the opening handshake.
const HANDSHAKE_READ: usize = 4096;

impl<H: Handler> Worker<H> {
    // ---- accepting ----

    /// Accepts what a listener has, up to `ACCEPT_BUDGET` connections per
    /// wake-up: a flood of connects (churn, slowloris) waits its turn like
    /// any other input, the rest on the next turn.
    pub(super) fn accept(&mut self, index: usize) {
        for _ in 0..ACCEPT_BUDGET {
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            let stream = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: leave the rest in the backlog for now.
                    log::warn!("worker {}: accept failed: {e}", self.index);
                    return;
                }
            };
            let _ = stream.set_nodelay();
            if let (Some(idle), Stream::Tcp(tcp)) = (self.config.tcp_keepalive, &stream) {
                let _ = sys::set_tcp_keepalive(tcp, idle);
            }
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
                self.config.limits.conn,
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
                } else {
                    self.handshaking
                        .push_back((key, self.conns[key].generation));
                    self.limit_handshakes();
                }
            }
        }
        // Budget used with connections perhaps still queued: next turn.
        if !self.pending_accepts.contains(&index) {
            self.pending_accepts.push(index);
        }
    }

    /// Drops the server connections waiting longest in the opening
    /// handshake while more than `max_handshaking` are: slow or silent peers
    /// then cannot crowd out new clients.
    fn limit_handshakes(&mut self) {
        let max = self.config.limits.max_handshaking;
        if max == 0 || self.handshaking.len() <= max {
            return;
        }
        let conns = &self.conns;
        let waiting = |&(slot, generation): &(usize, u32)| {
            conns.get(slot).is_some_and(|c| {
                c.generation == generation
                    && matches!(c.phase, Phase::ServerHandshake | Phase::AwaitingUpgrade(..))
            })
        };
        self.handshaking.retain(waiting);
        while self.handshaking.len() > max {
            if let Some((slot, _)) = self.handshaking.pop_front() {
                self.remove(slot);
            }
        }
    }

    /// Reads the opening handshake: into a buffer that grows with what
    /// arrives (a slow head pins no pooled read buffer), parsing only once
    /// the head's end is in (a head sent a byte at a time is scanned once).
    pub(super) fn read_handshake(&mut self, slot: usize) {
        let max_head = self.config.limits.max_handshake;
        let mut scratch = [0u8; HANDSHAKE_READ];
        // A pooled state (no read buffer: the head grows its own).
        self.pools.lend_in_flight(&mut self.conns[slot].ws);
        loop {
            let c = &mut self.conns[slot];
            let have = c.ws.input().len();
            // Read at most one byte past the limit: enough to prove it was passed.
            let want = (max_head + 1).saturating_sub(have).clamp(1, scratch.len());
            // A TLS stream decrypts into the (growing) input; a plain one is
            // read into the stack and appended.
            let read = match &mut c.stream {
                Stream::Tls(_) => c.stream.read_into(&mut c.ws.read_space(), want),
                plain => plain
                    .read(&mut scratch[..want])
                    .inspect(|&n| c.ws.feed(&scratch[..n])),
            };
            match read {
                Ok(0) => return self.remove(slot),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.transport_failed(slot, e),
            }
            let c = &mut self.conns[slot];
            // Only the new bytes (and three before them) can complete "\r\n\r\n".
            let input = c.ws.input();
            let head_done = memchr::memmem::find(&input[have.saturating_sub(3)..], b"\r\n\r\n");
            if head_done.is_none() && input.len() <= max_head {
                continue;
            }
            let c = &mut self.conns[slot];
            let done = match &c.phase {
                Phase::ServerHandshake => match handshake::parse_request(c.ws.input(), max_head) {
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
                },
                Phase::ClientHandshake(opening) => {
                    let ClientOpening { handshake, path } = &**opening;
                    match handshake.parse_response(c.ws.input(), max_head) {
                        Ok(None) => false,
                        Ok(Some((response, consumed))) => {
                            c.ws.discard_input(consumed);
                            if let Some(params) = response.deflate {
                                c.ws.enable_deflate(Session::new(
                                    Role::Client,
                                    params,
                                    &self.config.deflate,
                                ));
                            }
                            let info = OpenInfo {
                                path: path.clone(),
                                headers: response.headers,
                                protocol: response.protocol,
                                peer: c.stream.peer(),
                                tag: c.tag,
                                is_client: true,
                                reconnect: None,
                                replaces: None,
                            };
                            self.open(slot, info);
                            true
                        }
                        Err(error) => {
                            if let (Some(f), handshake::ClientHandshakeError::Status(status)) =
                                (c.feed.as_mut(), &error)
                            {
                                f.refused = Some(*status);
                            }
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

    /// Asks the handler about a parsed upgrade request, then answers it, or
    /// parks the connection when the handler defers the decision.
    pub(super) fn accept_upgrade(
        &mut self,
        slot: usize,
        request: handshake::Request,
        consumed: usize,
    ) {
        let id = self.id(slot);
        let c = &self.conns[slot];
        let peer = c.stream.peer();
        let decision = {
            let supported: Vec<&str> = self.config.protocols.iter().map(String::as_str).collect();
            let protocol = request.select_protocol(&supported);
            self.handler.on_upgrade_request(UpgradeRequest {
                id,
                request: &request,
                head: &c.ws.input()[..consumed],
                peer: &peer,
                protocol,
            })
        };
        match decision {
            Some(decision) => self.answer_upgrade(slot, request, consumed, decision, peer),
            None => {
                let c = &mut self.conns[slot];
                // The head is at most `max_handshake` bytes: it fits a u32.
                let consumed = u32::try_from(consumed).unwrap_or(u32::MAX);
                c.phase = Phase::AwaitingUpgrade(Box::new(request), consumed);
                // The handshake deadline keeps running.
                self.schedule(slot);
            }
        }
    }

    /// Applies a deferred decision (`Handle::decide_upgrade`) to a
    /// connection still waiting for one.
    pub(super) fn decide_upgrade(&mut self, slot: usize, decision: Upgrade) {
        let c = &mut self.conns[slot];
        if !matches!(c.phase, Phase::AwaitingUpgrade(..)) {
            return;
        }
        let Phase::AwaitingUpgrade(request, consumed) =
            std::mem::replace(&mut c.phase, Phase::ServerHandshake)
        else {
            return;
        };
        let peer = c.stream.peer();
        self.answer_upgrade(slot, *request, consumed as usize, decision, peer);
        if !self.conns.contains(slot) {
            return;
        }
        if matches!(self.conns[slot].phase, Phase::Open) {
            // Frames may have arrived meanwhile, their readiness edge spent.
            self.read_frames(slot);
        }
    }

    /// Writes the 101 (and opens the connection) or the refusal.
    fn answer_upgrade(
        &mut self,
        slot: usize,
        request: handshake::Request,
        consumed: usize,
        decision: Upgrade,
        peer: String,
    ) {
        let mut out = Vec::new();
        match decision {
            Upgrade::Accept { protocol, headers } => {
                let extra: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let deflate = deflate::server_accept(
                    request.extensions.iter().map(String::as_str),
                    &self.config.deflate,
                );
                if let Err(e) = handshake::write_accept_response_with_extensions(
                    &mut out,
                    &request,
                    protocol.as_deref(),
                    deflate.as_ref().map(|(_, answer)| answer.as_str()),
                    &extra,
                ) {
                    log::warn!(
                        "connection {}: the handler's upgrade answer was refused: {e}",
                        self.id(slot).0
                    );
                    HandshakeError {
                        status: 500,
                        reason: "bad upgrade answer",
                    }
                    .write_response(&mut out);
                    return self.reject(slot, &out);
                }
                // The answer goes into a pooled buffer: one allocated for it
                // would stay with the idle connection.
                self.lend_write_buffer(slot);
                let c = &mut self.conns[slot];
                c.ws.queue_handshake_bytes(&out);
                c.ws.discard_input(consumed);
                if let Some((params, _)) = deflate {
                    c.ws.enable_deflate(Session::new(Role::Server, params, &self.config.deflate));
                }
                let info = OpenInfo {
                    path: request.path,
                    headers: request.headers,
                    protocol,
                    peer,
                    tag: 0,
                    is_client: false,
                    reconnect: None,
                    replaces: None,
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

    pub(super) fn open(&mut self, slot: usize, mut info: OpenInfo) {
        info.reconnect = self.feed_opened(slot);
        info.replaces = self.conns[slot].feed.as_ref().and_then(|f| f.replaces);
        let id = self.id(slot);
        let c = &mut self.conns[slot];
        c.phase = Phase::Open;
        c.report = Report::Owed;
        c.published = true;
        self.handle.shared.workers[self.index].buffered.store(
            slot,
            c.generation,
            c.ws.buffered_amount(),
        );
        c.ws.handshake_finished(self.now);
        let mut conn = lend_conn(id, c, &mut self.topics, &mut self.pools, &self.handle);
        self.handler.on_open(&mut conn, info);
        // Frames that arrived with the handshake (the rest: read_frames).
        self.dispatch(slot, self.config.limits.event_budget.max(1));
        self.mark_dirty(slot);
    }

    pub(super) fn reject(&mut self, slot: usize, response: &[u8]) {
        let c = &mut self.conns[slot];
        c.ws.discard_input(usize::MAX);
        c.ws.queue_handshake_bytes(response);
        c.phase = Phase::Rejecting;
        c.ws.transport_closing(self.now);
        self.mark_dirty(slot);
    }
}
