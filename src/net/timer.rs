//! Deadlines of one event-loop thread: a min-heap with lazy invalidation.
//!
//! A connection keeps at most one live entry: when its deadline moves later
//! (every received byte moves the idle deadline) nothing is pushed; the old
//! entry fires, the loop sees the deadline is not due yet, and pushes it again.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Pending deadlines: (when, slab slot, connection generation).
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize, u32)>>,
}

impl Timers {
    /// Adds a deadline.
    pub fn push(&mut self, at: Instant, slot: usize, generation: u32) {
        self.heap.push(Reverse((at, slot, generation)));
    }

    /// Removes and returns the earliest deadline if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u32)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }

    /// How long until the earliest deadline (`None`: no deadline at all).
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        self.heap
            .peek()
            .map(|Reverse((at, _, _))| at.saturating_duration_since(now))
    }
}
