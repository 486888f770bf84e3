//! Failures of the stream under a connection (a socket error, or TLS).

use std::io;

use super::{Phase, Report, Worker};
use crate::net::handler::Handler;
use crate::net::tls::TlsError;
use crate::proto::CloseCode;

impl<H: Handler> Worker<H> {
    /// The transport failed: a TLS failure is reported as 1015 with its
    /// text (locally only: nothing more can be sent); a client that had not
    /// opened yet gets `on_connect_error` with the error itself.
    pub(super) fn transport_failed(&mut self, slot: usize, error: io::Error) {
        let Some(c) = self.conns.get_mut(slot) else {
            return;
        };
        if matches!(c.phase, Phase::Connecting(..) | Phase::ClientHandshake(_)) {
            return self.connect_failed(slot, error);
        }
        if let Some(tls) = TlsError::of(&error) {
            // A close already seen (the peer's, or ours) keeps its code.
            if matches!(c.report, Report::Owed) {
                c.report.record(CloseCode::TLS_HANDSHAKE, tls.reason());
            }
        }
        self.remove(slot);
    }
}
