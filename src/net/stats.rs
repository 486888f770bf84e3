//! Statistics of a feed client connection (one given a reconnect policy, a
//! keepalive, auto-replies or RTT pings), written by its event-loop thread
//! and readable from any thread through [`Handle::conn_stats`](super::Handle::conn_stats).
//! Other connections keep none: the receive path pays nothing for them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::proto::feed::Rtt;

/// What [`Handle::conn_stats`](super::Handle::conn_stats) returns. Byte
/// counts are of WebSocket frames (TLS records and TCP headers aside);
/// round-trip times are in microseconds, 0 until measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Messages received, those the engine answered or consumed included.
    pub messages_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes written to the socket.
    pub bytes_out: u64,
    /// Times this logical connection opened again after going down.
    pub reconnects: u64,
    /// Round-trip times of the WebSocket RTT pings (see
    /// [`ClientOptions::rtt_ping_interval`](super::ClientOptions::rtt_ping_interval)).
    pub ws_rtt: Rtt,
    /// Round-trip times of the application keepalive.
    pub app_rtt: Rtt,
}

/// The shared copy: single writer (the connection's thread), any readers.
#[derive(Debug, Default)]
pub(crate) struct SharedStats {
    values: [AtomicU64; 12],
}

impl SharedStats {
    pub(crate) fn store(&self, s: &ConnStats) {
        let v = [
            s.messages_in,
            s.bytes_in,
            s.bytes_out,
            s.reconnects,
            s.ws_rtt.last_us,
            s.ws_rtt.min_us,
            s.ws_rtt.avg_us,
            s.ws_rtt.samples,
            s.app_rtt.last_us,
            s.app_rtt.min_us,
            s.app_rtt.avg_us,
            s.app_rtt.samples,
        ];
        for (a, v) in self.values.iter().zip(v) {
            a.store(v, Ordering::Relaxed);
        }
    }

    pub(crate) fn load(&self) -> ConnStats {
        let v: Vec<u64> = self
            .values
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect();
        let rtt = |i: usize| Rtt {
            last_us: v[i],
            min_us: v[i + 1],
            avg_us: v[i + 2],
            samples: v[i + 3],
        };
        ConnStats {
            messages_in: v[0],
            bytes_in: v[1],
            bytes_out: v[2],
            reconnects: v[3],
            ws_rtt: rtt(4),
            app_rtt: rtt(8),
        }
    }
}
