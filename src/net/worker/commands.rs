//! Commands from other threads (sends, closes, broadcasts, subscriptions,
//! connects, stop), run on the worker that owns the connections.

use std::sync::atomic::Ordering;
use std::sync::mpsc::TryRecvError;
use std::time::Instant;

use super::{lend_conn, Phase, Slot, Worker};
use crate::net::handle::Command;
use crate::net::handler::{ConnId, Handler};
use crate::proto::deflate::SharedMessage;
use crate::proto::{CloseCode, CloseState, Role};

impl<H: Handler> Worker<H> {
    pub(super) fn run_commands(&mut self) {
        self.handle.shared.workers[self.index]
            .woken
            .store(false, Ordering::Release);
        loop {
            let command = match self.commands.try_recv() {
                Ok(c) => c,
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => return,
            };
            match command {
                Command::Send(id, message) => {
                    if let Some(slot) = self.slot_of(id) {
                        self.lend_write_buffer(slot);
                        let c = &mut self.conns[slot];
                        if matches!(c.phase, Phase::Open) {
                            let _ = message.send_on(&mut c.ws);
                            self.mark_dirty(slot);
                        }
                    }
                }
                Command::Control(id, ping, payload) => {
                    if let Some(slot) = self.slot_of(id) {
                        self.lend_write_buffer(slot);
                        let c = &mut self.conns[slot];
                        if matches!(c.phase, Phase::Open) {
                            let _ = if ping {
                                c.ws.send_ping(&payload)
                            } else {
                                c.ws.send_pong(&payload)
                            };
                            self.mark_dirty(slot);
                        }
                    }
                }
                Command::SetTag(id, tag) => {
                    if let Some(slot) = self.slot_of(id) {
                        self.conns[slot].tag = tag;
                    }
                }
                Command::Close(id, code, reason) => {
                    if let Some(slot) = self.slot_of(id) {
                        if matches!(self.conns[slot].phase, Phase::Open) {
                            self.conns[slot].closed_by_app = true;
                            let _ = self.conns[slot].ws.close(code, &reason);
                            self.after_activity(slot);
                        }
                    }
                }
                Command::Broadcast {
                    frame,
                    topic,
                    except,
                } => self.broadcast(&frame, topic.as_deref(), except),
                Command::Connect(request) => self.start_connect(request, 0),
                Command::StopReconnecting(tag) => self.stop_reconnecting(tag),
                Command::Rotate(id) => {
                    if let Some(slot) = self.slot_of(id) {
                        self.rotate(slot);
                    }
                }
                Command::Subscribe(id, topic, subscribe) => {
                    if let Some(slot) = self.slot_of(id) {
                        let c = &mut self.conns[slot];
                        let mut conn =
                            lend_conn(id, c, &mut self.topics, &mut self.pools, &self.handle);
                        if subscribe {
                            conn.subscribe(&topic);
                        } else {
                            conn.unsubscribe(&topic);
                        }
                    }
                }
                Command::Reading(id, reading) => {
                    if let Some(slot) = self.slot_of(id) {
                        self.set_reading(slot, reading);
                    }
                }
                Command::Upgrade(id, decision) => {
                    if let Some(slot) = self.slot_of(id) {
                        self.decide_upgrade(slot, decision);
                    }
                }
                Command::Stop(deadline) => self.begin_stop(deadline),
            }
        }
    }

    /// Queues one shared frame on every open server connection (or every
    /// subscriber of `topic`) of this thread, without allocating per target.
    pub(super) fn broadcast(
        &mut self,
        frame: &bytes::Bytes,
        topic: Option<&str>,
        except: Option<ConnId>,
    ) {
        let index = self.index;
        let Worker {
            conns,
            topics,
            dirty,
            pools,
            ..
        } = self;
        // Deflate connections without context takeover share one compressed
        // copy per compressor setting, made on first use on this thread.
        let mut shared = SharedMessage::new(frame.clone());
        let mut queue = |slot: usize, c: &mut Slot| {
            if except == Some(ConnId::new(index, slot, c.generation)) {
                return;
            }
            if !matches!(c.phase, Phase::Open) {
                return;
            }
            // A pooled state: the frame is queued by reference, in its queue.
            pools.lend_in_flight(&mut c.ws);
            let sent = match (&mut shared, c.ws.deflate().is_some()) {
                (Some(m), true) => c.ws.send_shared_message(m),
                _ => c.ws.send_shared(frame.clone()),
            };
            if sent.is_ok() && !c.dirty {
                c.dirty = true;
                dirty.push(slot);
            }
        };
        match topic {
            Some(topic) => {
                for id in topics.subscribers(topic) {
                    match conns.get_mut(id.slot()) {
                        Some(c) if c.generation == id.generation() => queue(id.slot(), c),
                        _ => {}
                    }
                }
            }
            None => {
                for (slot, c) in conns.iter_mut() {
                    if c.ws.role() == Role::Server {
                        queue(slot, c);
                    }
                }
            }
        }
    }

    pub(super) fn begin_stop(&mut self, deadline: Instant) {
        self.stop_deadline = Some(deadline);
        for mut l in std::mem::take(&mut self.listeners) {
            l.deregister(&self.poll);
        }
        for slot in self.conns.keys() {
            let c = &mut self.conns[slot];
            match c.phase {
                Phase::Open => {
                    if c.ws.close_state() == CloseState::Open {
                        let _ = c.ws.close(CloseCode::GOING_AWAY, "shutting down");
                    }
                    self.after_activity(slot);
                }
                Phase::Rejecting | Phase::Linger => {}
                _ => self.remove(slot),
            }
        }
    }
}
