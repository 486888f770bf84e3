//! Buffers lent to connections while they have bytes in flight, so that an
//! idle connection holds no buffer and a busy one allocates none per message.

use bytes::BytesMut;

/// Free buffers of one event-loop thread.
#[derive(Debug)]
pub struct BufferPool {
    free: Vec<BytesMut>,
    size: usize,
    keep: usize,
}

/// Buffers that grew past this (a huge message went through) are not kept.
const KEEP_MAX_CAPACITY: usize = 1 << 20;

impl BufferPool {
    /// A pool of buffers of `size` bytes, keeping at most `keep` free ones.
    pub fn new(size: usize, keep: usize) -> Self {
        BufferPool {
            free: Vec::new(),
            size,
            keep,
        }
    }

    /// A free buffer, or a new one.
    pub fn take(&mut self) -> BytesMut {
        self.free
            .pop()
            .unwrap_or_else(|| BytesMut::with_capacity(self.size))
    }

    /// Returns a buffer. Its storage is reused in place when nothing else
    /// still refers to it (messages handed out may still hold parts of it);
    /// otherwise this handle is dropped and the storage goes with its last user.
    pub fn give(&mut self, mut buf: BytesMut) {
        buf.clear();
        if self.free.len() < self.keep
            && buf.capacity() <= KEEP_MAX_CAPACITY
            && buf.try_reclaim(self.size)
        {
            self.free.push(buf);
        }
    }
}
