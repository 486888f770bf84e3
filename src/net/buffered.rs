//! Each open connection's unsent byte count, published by its event-loop
//! thread for [`Handle::buffered_amount`](super::Handle::buffered_amount)
//! on any thread, without a lock and without an allocation per connection.
//!
//! One 64-bit cell per slot holds the connection's generation (high half) and
//! its count (low half), so a reader holding the id of a connection that has
//! gone finds another generation and learns that it is unknown. Cells come in
//! chunks allocated the first time a slot in them opens: a thread that never
//! had more than a few thousand connections holds a few pages.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use super::worker::MAX_SLOTS;

/// Slots per chunk: 32 KiB of cells.
const CHUNK: usize = 4096;

type Chunk = Box<[AtomicU64; CHUNK]>;

/// The counts of one thread's connections, by slot.
pub(crate) struct BufferedTable {
    chunks: Box<[OnceLock<Chunk>]>,
}

impl Default for BufferedTable {
    fn default() -> Self {
        BufferedTable {
            chunks: (0..MAX_SLOTS.div_ceil(CHUNK))
                .map(|_| OnceLock::new())
                .collect(),
        }
    }
}

/// The count as stored: counts past `u32::MAX` read as `u32::MAX`.
fn pack(generation: u32, amount: usize) -> u64 {
    (u64::from(generation) << 32) | u64::try_from(amount).unwrap_or(u64::MAX).min(0xffff_ffff)
}

impl BufferedTable {
    fn cell(&self, slot: usize) -> Option<&AtomicU64> {
        Some(&self.chunks.get(slot / CHUNK)?.get()?[slot % CHUNK])
    }

    /// Records `amount` for the connection in `slot` (its thread only; the
    /// first call for a slot in a new chunk allocates the chunk).
    pub(crate) fn store(&self, slot: usize, generation: u32, amount: usize) {
        let Some(chunk) = self.chunks.get(slot / CHUNK) else {
            return;
        };
        let chunk = chunk.get_or_init(|| {
            let cells: Vec<AtomicU64> = (0..CHUNK).map(|_| AtomicU64::new(0)).collect();
            cells
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!("CHUNK cells"))
        });
        chunk[slot % CHUNK].store(pack(generation, amount), Ordering::Release);
    }

    /// Forgets the connection in `slot` (generation 0 is never issued).
    pub(crate) fn clear(&self, slot: usize) {
        if let Some(cell) = self.cell(slot) {
            cell.store(0, Ordering::Release);
        }
    }

    /// The count last recorded for the connection `generation` of `slot`, or
    /// `None` when that connection is not open.
    pub(crate) fn load(&self, slot: usize, generation: u32) -> Option<usize> {
        let value = self.cell(slot)?.load(Ordering::Acquire);
        if value >> 32 != u64::from(generation) || generation == 0 {
            return None;
        }
        usize::try_from(value & 0xffff_ffff).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_read_back_only_under_its_generation() {
        let table = BufferedTable::default();
        assert_eq!(table.load(5, 1), None, "no chunk yet");
        table.store(5, 1, 300);
        assert_eq!(table.load(5, 1), Some(300));
        assert_eq!(table.load(5, 2), None, "a later connection in the slot");
        assert_eq!(table.load(6, 1), None, "a slot never opened");
        table.clear(5);
        assert_eq!(table.load(5, 1), None);
        table.store(CHUNK * 3 + 1, 7, usize::MAX);
        assert_eq!(table.load(CHUNK * 3 + 1, 7), Some(0xffff_ffff), "saturated");
        table.store(MAX_SLOTS, 1, 1);
        assert_eq!(table.load(MAX_SLOTS, 1), None, "past the last slot");
    }
}
