//! The broker link's counters for C (`rws_engine_config.broker_url`).

use super::super::handle::try_ref;
use super::super::{check_null, guard, rws_result};
use super::rws_engine;

/// Counters of an engine's broker link (see `rws_engine_broker_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rws_broker_stats {
    /// Messages sent to the broker.
    pub published: u64,
    /// Messages of other engines received from the broker and delivered here.
    pub received: u64,
    /// Publishes not sent: queue full, or the broker unreachable (while it
    /// is away, publishes reach this engine's subscribers only).
    pub dropped: u64,
    /// Connections to the broker re-established after a loss.
    pub reconnects: u64,
    /// Whether the link is connected now.
    pub connected: bool,
}

/// Writes the broker link's counters into `*out`. Thread-safe.
/// `RWS_ERR_UNSUPPORTED` when the engine has no `broker_url`.
///
/// # Safety
/// `e` live; `out` writable for one `rws_broker_stats`.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_broker_stats(
    e: *const rws_engine,
    out: *mut rws_broker_stats,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        check_null!(out);
        let Some(s) = e.handle.broker_stats() else {
            return rws_result::RWS_ERR_UNSUPPORTED;
        };
        let value = rws_broker_stats {
            published: s.published,
            received: s.received,
            dropped: s.dropped,
            reconnects: s.reconnects,
            connected: s.connected,
        };
        // SAFETY: `out` is writable per the contract.
        unsafe { out.write(value) };
        rws_result::RWS_OK
    })
}
