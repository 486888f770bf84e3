//! TLS for `wss://` through rustls: what a TLS listener serves
//! ([`TlsAcceptor`]) and how a client checks the server ([`TlsConnector`]).
//!
//! The crypto provider is built explicitly (ring) and handed to every
//! configuration; the process-wide default provider is never consulted, so
//! nothing panics when an application installed none (or another one).
//! TLS 1.3 and 1.2 are offered, ALPN `http/1.1` is announced both ways and SNI
//! is sent by clients and used by servers to pick a certificate.
//!
//! The event loop reaches TLS only through the transport seam
//! ([`crate::net::transport::Stream::Tls`]); the protocol core never knows.

mod client;
mod der;
mod server;

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use client::{TlsClientOptions, TlsConnector};
pub use server::TlsAcceptor;

use crate::proto::CloseCode;

/// ALPN protocol announced by both sides: WebSocket upgrades are HTTP/1.1.
pub(crate) const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The crypto provider every configuration is built with (ring: see the
/// commit that chose it), made once per process.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The protocol versions offered and accepted.
pub(crate) static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A TLS failure: a handshake error, a bad certificate, a peer that closed
/// the connection without a TLS `close_notify` (possibly mid-record), or a
/// handshake that did not finish in time.
///
/// It travels inside an [`io::Error`] (to `Handler::on_connect_error`, for
/// example); [`TlsError::of`] finds it. Open connections that fail this way
/// are closed locally with [`CloseCode::TLS_HANDSHAKE`] (1015, never sent on
/// the wire) and this text as the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    reason: String,
}

impl TlsError {
    /// The TLS failure carried by `error`, if it is one.
    pub fn of(error: &io::Error) -> Option<&TlsError> {
        error.get_ref().and_then(|e| e.downcast_ref::<TlsError>())
    }

    /// What went wrong, in words (starts with `TLS: `).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The close code such a failure is reported with: 1015.
    pub fn close_code(&self) -> CloseCode {
        CloseCode::TLS_HANDSHAKE
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for TlsError {}

/// An `io::Error` carrying a [`TlsError`] with this text.
pub(crate) fn tls_io_error(kind: io::ErrorKind, what: impl fmt::Display) -> io::Error {
    io::Error::new(
        kind,
        TlsError {
            reason: format!("TLS: {what}"),
        },
    )
}

fn invalid(what: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

/// Every certificate in a PEM text (a chain: leaf first).
pub(crate) fn certs_from_pem(pem: &[u8]) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format_args!("bad certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE in the PEM text"));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM text.
pub(crate) fn key_from_pem(pem: &[u8]) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| invalid(format_args!("bad private key PEM: {e}")))
}

/// Reads a whole PEM file, naming it in the error.
pub(crate) fn read_pem_file(path: &std::path::Path) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo (DER): the value that
/// [`TlsClientOptions::pinned_spki_sha256`] holds. Equal to
/// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`.
pub fn spki_sha256(certificate_der: &[u8]) -> io::Result<[u8; 32]> {
    let spki = der::subject_public_key_info(certificate_der)
        .ok_or_else(|| invalid("not a DER X.509 certificate"))?;
    Ok(sha256(spki))
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}
