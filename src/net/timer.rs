//! The clock and the deadline heap of one event-loop thread.
//!
//! Times are [`Tick`]s (the core's 8-byte milliseconds): the clock here is
//! the only place that reads the system's monotonic time; connections say
//! when they next need attention, and the heap keeps those deadlines.
//!
//! Deadlines live in a min-heap with lazy invalidation. A connection keeps
//! at most one live entry: when its deadline moves later (every received
//! byte moves the idle deadline) nothing is pushed; the old entry fires, the
//! loop sees the deadline is not due yet, and pushes it again.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

pub use crate::proto::Tick;

/// Converts between `Instant`s and `Tick`s for one thread.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock whose tick 1 is now.
    pub fn new() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// The current tick.
    pub fn now(&self) -> Tick {
        Tick::from_millis(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Microseconds since the clock's start (finer than ticks: round-trip times).
    pub fn micros(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// How long from `now` until `at` (zero if it has passed).
    pub fn until(&self, now: Tick, at: Tick) -> Duration {
        now.until(at)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Pending deadlines: (when, slab slot, connection generation), 16 bytes each.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Tick, u32, u32)>>,
}

impl Timers {
    /// Adds a deadline.
    pub fn push(&mut self, at: Tick, slot: usize, generation: u32) {
        self.heap.push(Reverse((at, slot as u32, generation)));
    }

    /// Removes and returns the earliest deadline if it is due at `now`.
    pub fn pop_due(&mut self, now: Tick) -> Option<(Tick, usize, u32)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self
                .heap
                .pop()
                .map(|Reverse((at, slot, g))| (at, slot as usize, g)),
            _ => None,
        }
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<Tick> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_order_and_add() {
        let clock = Clock::new();
        let now = clock.now();
        let later = now + Duration::from_millis(250);
        assert!(later > now);
        assert_eq!(clock.until(now, later), Duration::from_millis(250));
        assert_eq!(clock.until(later, now), Duration::ZERO);
        let mut timers = Timers::default();
        timers.push(later, 3, 7);
        timers.push(now, 1, 2);
        assert_eq!(timers.pop_due(now), Some((now, 1, 2)));
        assert_eq!(timers.pop_due(now), None);
        assert_eq!(timers.next(), Some(later));
        assert_eq!(timers.pop_due(later), Some((later, 3, 7)));
    }
}
