//! Time and deadlines of one event-loop thread.
//!
//! Times are [`Tick`]s: milliseconds since the thread's start, 8 bytes
//! (an `Option<Tick>` too) where an `Instant` takes 16; a connection keeps
//! five of them, so this is part of what keeps idle connections small.
//!
//! Deadlines live in a min-heap with lazy invalidation. A connection keeps
//! at most one live entry: when its deadline moves later (every received
//! byte moves the idle deadline) nothing is pushed; the old entry fires, the
//! loop sees the deadline is not due yet, and pushes it again.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::num::NonZeroU64;
use std::ops::Add;
use std::time::{Duration, Instant};

/// A point in time: milliseconds since the owning [`Clock`] started, plus one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tick(NonZeroU64);

impl Add<Duration> for Tick {
    type Output = Tick;
    fn add(self, d: Duration) -> Tick {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Tick(self.0.saturating_add(ms))
    }
}

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
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        Tick(NonZeroU64::MIN.saturating_add(ms))
    }

    /// How long from `now` until `at` (zero if it has passed).
    pub fn until(&self, now: Tick, at: Tick) -> Duration {
        Duration::from_millis(at.0.get().saturating_sub(now.0.get()))
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
        assert_eq!(std::mem::size_of::<Option<Tick>>(), 8);
        let mut timers = Timers::default();
        timers.push(later, 3, 7);
        timers.push(now, 1, 2);
        assert_eq!(timers.pop_due(now), Some((now, 1, 2)));
        assert_eq!(timers.pop_due(now), None);
        assert_eq!(timers.next(), Some(later));
        assert_eq!(timers.pop_due(later), Some((later, 3, 7)));
    }
}
