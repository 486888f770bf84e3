//! Per-thread pools of compressor and decompressor states, for connections
//! without context takeover: such a connection borrows a state only while
//! it compresses or inflates one message, so idle connections hold none.
//!
//! A thread-local pool keeps the sans-IO core free of locks and of any
//! knowledge of the event loop: each worker thread (or C caller thread)
//! simply reuses what it returned.

use std::cell::RefCell;

use zlib_rs::{Deflate, DeflateConfig as ZConfig, Inflate};

/// States kept per kind and thread: enough for a worker's burst, bounded so
/// that a thread that once held many keeps few.
const KEEP: usize = 8;

/// The settings a compressor is built with; pooled states are matched on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompressorKey {
    pub level: u8,
    pub window_bits: u8,
    pub mem_level: u8,
}

impl CompressorKey {
    /// A new compressor (zlib's raw deflate; its smallest raw window is 9).
    pub fn build(self) -> Box<Deflate> {
        Box::new(Deflate::new_with_config(ZConfig {
            level: i32::from(self.level.min(9)),
            window_bits: -i32::from(self.window_bits.clamp(9, 15)),
            mem_level: i32::from(self.mem_level.clamp(1, 9)),
            ..ZConfig::default()
        }))
    }
}

// Boxed in the pool too: states move between it and sessions without re-boxing.
#[allow(clippy::vec_box)]
mod cells {
    use super::*;
    thread_local! {
    pub(super) static COMPRESSORS: RefCell<Vec<(CompressorKey, Box<Deflate>)>> = const { RefCell::new(Vec::new()) };
    pub(super) static INFLATERS: RefCell<Vec<Box<Inflate>>> = const { RefCell::new(Vec::new()) };
    }
}
use cells::{COMPRESSORS, INFLATERS};

/// A compressor for `key`, reset, from this thread's pool or new.
pub(crate) fn take_compressor(key: CompressorKey) -> Box<Deflate> {
    let pooled = COMPRESSORS.with(|p| {
        let mut p = p.borrow_mut();
        let i = p.iter().position(|(k, _)| *k == key)?;
        Some(p.swap_remove(i).1)
    });
    pooled.unwrap_or_else(|| key.build())
}

/// Returns a compressor (reset here) to this thread's pool.
pub(crate) fn give_compressor(key: CompressorKey, mut state: Box<Deflate>) {
    state.reset();
    COMPRESSORS.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEEP {
            p.push((key, state));
        }
    });
}

/// A decompressor with an empty window, from this thread's pool or new.
pub(crate) fn take_inflater(window_bits: u8) -> Box<Inflate> {
    INFLATERS
        .with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| Box::new(Inflate::new(false, window_bits.clamp(8, 15))))
}

/// Returns a decompressor (reset here, to the full window that inflates
/// any peer's stream) to this thread's pool.
pub(crate) fn give_inflater(mut state: Box<Inflate>) {
    state.reset(false);
    INFLATERS.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEEP {
            p.push(state);
        }
    });
}
