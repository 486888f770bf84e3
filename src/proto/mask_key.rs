//! Masking keys for client frames (RFC 6455 §5.3): unpredictable, cheap.
//!
//! A ChaCha-based generator per thread, seeded once from the operating system,
//! so that a key costs a few nanoseconds and no system call.

use std::cell::RefCell;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

thread_local! {
    static MASK_RNG: RefCell<StdRng> = RefCell::new(StdRng::from_os_rng());
}

/// A fresh masking key from this thread's cryptographically seeded generator.
pub fn next_mask_key() -> [u8; 4] {
    MASK_RNG.with(|rng| rng.borrow_mut().next_u32().to_ne_bytes())
}

/// Fills `buf` with bytes from the same generator (handshake nonces).
pub fn fill_random(buf: &mut [u8]) {
    MASK_RNG.with(|rng| rng.borrow_mut().fill_bytes(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ() {
        let keys: std::collections::HashSet<[u8; 4]> = (0..1000).map(|_| next_mask_key()).collect();
        // 1000 draws from 2^32 values: a collision is possible but rare (p ~ 1e-4).
        assert!(keys.len() >= 998);
    }
}
