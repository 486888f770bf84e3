//! A connection's write queue: frames this connection encoded itself, and
//! frames shared with other connections (a broadcast encoded once).
//!
//! Own frames are appended to one growing `tail` buffer (no allocation per
//! frame once it has capacity); a shared frame is queued as a `Bytes` handle
//! (a reference count, no copy). Order is kept: `chunks` always precede `tail`.
//!
//! An automatic pong waits apart, after `tail`, while nothing was queued
//! after it and none of it was written: a later pong replaces it (RFC 6455
//! §5.5.3: only the latest ping needs an answer), so a ping flood that is
//! never read queues one pong, not one per ping.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Bytes waiting to be written to the transport, in order.
#[derive(Debug, Default)]
pub struct OutQueue {
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    /// A replaceable pong frame, logically after `tail` (boxed: most
    /// connections never hold one).
    pong: Option<Box<PendingPong>>,
    /// All waiting bytes, the pending pong's included.
    len: usize,
}

/// An encoded pong frame of at most 2 + 4 + 125 bytes.
#[derive(Debug)]
struct PendingPong {
    bytes: [u8; 131],
    len: u8,
}

impl PendingPong {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl OutQueue {
    /// An empty queue that allocates nothing until used.
    pub fn new() -> Self {
        OutQueue::default()
    }

    /// Total bytes waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends bytes by copying them into the owned tail buffer.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.settle_pong();
        self.tail.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Queues an encoded pong frame (at most 131 bytes) that a later one may
    /// replace, as long as nothing is queued after it and none of it was
    /// written. Longer input is queued as ordinary bytes.
    pub fn set_pong(&mut self, frame: &[u8]) {
        if frame.len() > 131 {
            return self.extend_from_slice(frame);
        }
        let pong = self.pong.get_or_insert_with(|| {
            Box::new(PendingPong {
                bytes: [0; 131],
                len: 0,
            })
        });
        self.len -= usize::from(pong.len);
        pong.bytes[..frame.len()].copy_from_slice(frame);
        pong.len = frame.len() as u8;
        self.len += frame.len();
    }

    /// Whether a replaceable pong is waiting.
    pub fn has_pending_pong(&self) -> bool {
        self.pong.is_some()
    }

    /// Makes the pending pong ordinary queued bytes (it will be sent as
    /// it is; a later pong no longer replaces it).
    pub fn keep_pong(&mut self) {
        self.settle_pong();
    }

    /// Makes the pending pong ordinary queued bytes: something is about to
    /// be queued after it.
    fn settle_pong(&mut self) {
        if let Some(pong) = self.pong.take() {
            self.tail.extend_from_slice(pong.as_slice());
        }
    }

    /// Runs `write` on the tail buffer so that it may append in place (used to
    /// mask a payload right where it lands); returns what `write` returns.
    pub fn append_with<R>(&mut self, write: impl FnOnce(&mut BytesMut) -> R) -> R {
        self.settle_pong();
        let before = self.tail.len();
        let r = write(&mut self.tail);
        debug_assert!(self.tail.len() >= before, "append_with must only append");
        self.len += self.tail.len() - before;
        r
    }

    /// Queues shared bytes without copying them.
    pub fn push_shared(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        self.settle_pong();
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
        self.len += bytes.len();
        self.chunks.push_back(bytes);
    }

    /// Fills `dst` with slices of the waiting bytes, in order; returns how many.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for chunk in self
            .chunks
            .iter()
            .map(|c| &c[..])
            .chain(std::iter::once(&self.tail[..]))
            .chain(self.pong.as_deref().map(PendingPong::as_slice))
        {
            if n == dst.len() {
                break;
            }
            if !chunk.is_empty() {
                dst[n] = IoSlice::new(chunk);
                n += 1;
            }
        }
        n
    }

    /// The first contiguous run of waiting bytes (empty when nothing waits).
    pub fn first_chunk(&self) -> &[u8] {
        match (self.chunks.front(), &self.pong) {
            (Some(c), _) => c,
            (None, Some(pong)) if self.tail.is_empty() => pong.as_slice(),
            (None, _) => &self.tail,
        }
    }

    /// Drops `n` bytes from the front after they were written.
    ///
    /// `n` larger than [`len`](Self::len) is clamped.
    pub fn advance(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            if n >= front.len() {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(n);
                return;
            }
        }
        if n > 0 {
            let k = n.min(self.tail.len());
            self.tail.advance(k);
            n -= k;
        }
        if n > 0 {
            // Part of the pong was written: it can no longer be replaced.
            if let Some(pong) = self.pong.take() {
                self.tail.clear();
                self.tail.extend_from_slice(&pong.as_slice()[n..]);
            }
            return;
        }
        if self.tail.is_empty() {
            // Lets the next append reuse the buffer from its start.
            self.tail.clear();
        }
    }

    /// Drops everything waiting.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.tail.clear();
        self.pong = None;
        self.len = 0;
    }

    /// Takes the owned buffer back when nothing waits, for a pool to lend it
    /// to another connection. Keeps a small chunk list (broadcast targets).
    pub fn take_idle_buffer(&mut self) -> Option<BytesMut> {
        // Taken even when its view has no capacity left: a buffer written
        // out to its very end still holds its allocation (the pool reclaims
        // it from the start, or frees it).
        if !self.is_empty() {
            return None;
        }
        if self.chunks.capacity() > 16 {
            self.chunks = VecDeque::new();
        }
        Some(std::mem::take(&mut self.tail))
    }

    /// Whether this queue holds a buffer to append into.
    pub fn has_buffer(&self) -> bool {
        self.tail.capacity() > 0
    }

    /// Lends an (empty) buffer to append into, when this queue holds none.
    pub fn lend_buffer(&mut self, buf: BytesMut) {
        if self.tail.capacity() == 0 && self.tail.is_empty() {
            self.tail = buf;
            self.tail.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut OutQueue, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while !q.is_empty() {
            let mut slices = [IoSlice::new(&[]); 8];
            let n = q.io_slices(&mut slices);
            let mut take = step;
            let mut written = 0;
            for s in &slices[..n] {
                let k = s.len().min(take);
                out.extend_from_slice(&s[..k]);
                written += k;
                take -= k;
                if take == 0 {
                    break;
                }
            }
            q.advance(written);
        }
        out
    }

    #[test]
    fn order_is_kept_across_owned_and_shared() {
        for step in [1, 2, 3, 7, 100] {
            let mut q = OutQueue::new();
            q.extend_from_slice(b"ab");
            q.push_shared(Bytes::from_static(b"CDE"));
            q.extend_from_slice(b"fg");
            q.push_shared(Bytes::from_static(b""));
            q.push_shared(Bytes::from_static(b"H"));
            q.extend_from_slice(b"ij");
            assert_eq!(q.len(), 10);
            assert_eq!(drain(&mut q, step), b"abCDEfgHij");
            assert_eq!(q.first_chunk(), b"");
        }
    }

    #[test]
    fn advance_past_end_is_clamped() {
        let mut q = OutQueue::new();
        q.extend_from_slice(b"abc");
        q.advance(10);
        assert!(q.is_empty());
        q.extend_from_slice(b"d");
        assert_eq!(q.first_chunk(), b"d");
    }
}
