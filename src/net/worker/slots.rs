//! The connections of one event-loop thread, by slot, with generations that
//! keep every [`ConnId`](crate::net::ConnId) from ever naming a later
//! connection.
//!
//! A slot's generation goes up each time the slot is reused; an id carries
//! the slot and the generation it was issued with, so an id kept after its
//! connection closed matches nothing. A slot whose generation would wrap is
//! retired instead of reused (after 2^32 connections in that one slot), so
//! no id can ever alias a live connection.

/// Slots hold 22 bits: over four million connections per thread.
pub(crate) const MAX_SLOTS: usize = 1 << 22;

#[derive(Debug)]
pub(crate) struct Slots<T> {
    entries: Vec<Option<T>>,
    /// The generation each slot had last (kept while the slot is empty).
    generations: Vec<u32>,
    /// Empty slots ready for reuse (retired ones are not here).
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            entries: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slots<T> {
    /// Stores `value` in a free slot: its index and generation, or `None`
    /// when every slot is taken.
    pub(crate) fn insert(&mut self, value: T) -> Option<(usize, u32)> {
        let slot = match self.free.pop() {
            Some(slot) => slot as usize,
            None if self.entries.len() < MAX_SLOTS => {
                self.entries.push(None);
                self.generations.push(0);
                self.entries.len() - 1
            }
            None => return None,
        };
        let generation = self.generations[slot] + 1;
        self.generations[slot] = generation;
        self.entries[slot] = Some(value);
        self.len += 1;
        Some((slot, generation))
    }

    /// The generation of the connection in `slot` (or of its last one).
    #[cfg(test)]
    fn generation(&self, slot: usize) -> u32 {
        self.generations.get(slot).copied().unwrap_or(0)
    }

    /// Empties `slot`, returning what it held.
    pub(crate) fn try_remove(&mut self, slot: usize) -> Option<T> {
        let value = self.entries.get_mut(slot)?.take()?;
        self.len -= 1;
        if self.generations[slot] < u32::MAX {
            self.free.push(slot as u32);
        }
        Some(value)
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&T> {
        self.entries.get(slot)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut T> {
        self.entries.get_mut(slot)?.as_mut()
    }

    pub(crate) fn contains(&self, slot: usize) -> bool {
        self.get(slot).is_some()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The occupied slots' indexes (collected: callers remove while walking).
    pub(crate) fn keys(&self) -> Vec<usize> {
        self.iter().map(|(k, _)| k).collect()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(k, e)| Some((k, e.as_ref()?)))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut T)> {
        self.entries
            .iter_mut()
            .enumerate()
            .filter_map(|(k, e)| Some((k, e.as_mut()?)))
    }

    #[cfg(test)]
    fn set_generation(&mut self, slot: usize, generation: u32) {
        self.generations[slot] = generation;
    }
}

impl<T> std::ops::Index<usize> for Slots<T> {
    type Output = T;
    fn index(&self, slot: usize) -> &T {
        self.get(slot).expect("slot in use")
    }
}

impl<T> std::ops::IndexMut<usize> for Slots<T> {
    fn index_mut(&mut self, slot: usize) -> &mut T {
        self.get_mut(slot).expect("slot in use")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_bumps_the_generation() {
        let mut slots = Slots::default();
        let (a, ga) = slots.insert("a").unwrap();
        assert_eq!(slots.try_remove(a), Some("a"));
        let (b, gb) = slots.insert("b").unwrap();
        assert_eq!(a, b, "the slot is reused");
        assert_ne!(ga, gb, "under another generation");
        assert_eq!(slots.generation(b), gb);
        assert!(slots.try_remove(a).is_some() && slots.try_remove(a).is_none());
        assert!(slots.is_empty());
    }

    #[test]
    fn a_slot_whose_generation_would_wrap_is_retired() {
        let mut slots = Slots::default();
        let (a, _) = slots.insert(1).unwrap();
        slots.set_generation(a, u32::MAX);
        slots.try_remove(a);
        let (b, gb) = slots.insert(2).unwrap();
        assert_ne!(a, b, "the exhausted slot is never handed out again");
        assert_eq!(gb, 1);
        assert_eq!(slots.iter().count(), 1);
    }
}
