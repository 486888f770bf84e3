//! The subprotocol each open connection agreed on, readable from any thread
//! with `rws_engine_protocol` (OPEN events carry only the path).

use std::collections::HashMap;
use std::ffi::c_char;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::super::guard;
use super::super::handle;
use super::rws_engine;
use crate::net::ConnId;

/// Open connections' subprotocols, by connection id. Connections without
/// one (most) cost nothing: no entry, and no lock on close while there are
/// no entries.
#[derive(Debug, Default)]
pub(super) struct Protocols {
    map: Mutex<HashMap<u64, Box<str>>>,
    entries: AtomicUsize,
}

impl Protocols {
    /// Called on open, before the host hears of it.
    pub(super) fn opened(&self, id: ConnId, protocol: Option<&str>) {
        if let Some(p) = protocol {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            if map.insert(id.0, p.into()).is_none() {
                self.entries.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Called on close.
    pub(super) fn closed(&self, id: ConnId) {
        if self.entries.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.remove(&id.0).is_some() {
            self.entries.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn get(&self, id: u64) -> Option<Box<str>> {
        if self.entries.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&id).cloned()
    }
}

/// The subprotocol connection `conn` agreed on in its opening handshake
/// (the server's choice among those offered, for a client; the one accepted
/// with, for a server), from its OPEN event until its CLOSE event. Returns
/// its length in bytes, 0 when it has none, is not open, or `e` is NULL.
/// Copies at most `cap - 1` bytes of it into `buf` followed by a NUL (when
/// `cap` > 0): call again with a larger buffer when the result is `cap` or
/// more, as with `snprintf`. Thread-safe; callable from callbacks.
///
/// # Safety
/// `e` NULL or live; `buf` NULL (with `cap` 0) or writable for `cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_protocol(
    e: *const rws_engine,
    conn: u64,
    buf: *mut c_char,
    cap: usize,
) -> usize {
    guard(0, || {
        // SAFETY: per the contract above.
        let Some(e) = (unsafe { handle::as_ref(e) }) else {
            return 0;
        };
        let protocol = e.protocols.get(conn).unwrap_or_default();
        if cap > 0 && !buf.is_null() {
            let n = protocol.len().min(cap - 1);
            // SAFETY: `buf` is writable for `cap` > `n` bytes, per the contract.
            unsafe {
                std::ptr::copy_nonoverlapping(protocol.as_ptr(), buf.cast::<u8>(), n);
                *buf.add(n) = 0;
            }
        }
        protocol.len()
    })
}
