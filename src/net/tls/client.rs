//! The client side: which servers to trust (the system's store or given CAs),
//! optional key pinning, a client certificate for mutual TLS.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::{
    certs_from_pem, invalid, key_from_pem, provider, read_pem_file, ALPN_HTTP11, VERSIONS,
};

/// How a client checks servers. `Default` trusts the system's store.
#[derive(Clone, Default)]
pub struct TlsClientOptions {
    /// CA certificates (PEM) to trust instead of the system's trust store.
    pub ca_pem: Option<Vec<u8>>,
    /// If not empty, the server's certificate chain must also contain a
    /// certificate whose SubjectPublicKeyInfo hashes (SHA-256) to one of
    /// these (see [`super::spki_sha256`]): pin the server's key or an
    /// intermediate CA's. (To pin a root, give it alone as `ca_pem`.)
    pub pinned_spki_sha256: Vec<[u8; 32]>,
    /// A certificate chain (PEM, leaf first) to show a server that asks for
    /// one (mutual TLS).
    pub client_cert_pem: Option<Vec<u8>>,
    /// The private key (PEM) of `client_cert_pem`.
    pub client_key_pem: Option<Vec<u8>>,
    /// Accept any certificate for any name, checking only that the server
    /// holds its key. Dangerous: anyone on the path can read and change the
    /// traffic. For tests against self-signed servers only.
    pub danger_accept_invalid_certs: bool,
    /// Never resume a TLS session: every connection makes a full handshake
    /// (by default sessions are kept in memory and resumed, which skips the
    /// certificate exchange).
    pub no_session_resumption: bool,
}

impl fmt::Debug for TlsClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientOptions")
            .field("ca_pem", &self.ca_pem.as_ref().map(|p| p.len()))
            .field("pins", &self.pinned_spki_sha256.len())
            .field("client_cert", &self.client_cert_pem.is_some())
            .field(
                "danger_accept_invalid_certs",
                &self.danger_accept_invalid_certs,
            )
            .finish()
    }
}

/// A built client TLS configuration, shared by every connection that uses
/// it (building one loads and parses certificates: do it once, not per
/// connect). Goes in [`crate::net::ClientOptions::tls`].
#[derive(Clone)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConnector")
    }
}

/// The system's trust store, loaded once per process.
fn system_roots() -> io::Result<Arc<RootCertStore>> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or("none found".to_owned(), |e| e.to_string());
                return Err(format!("no usable system CA certificates ({why})"));
            }
            Ok(Arc::new(roots))
        })
        .clone()
        .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))
}

impl TlsConnector {
    /// Builds a configuration from options.
    pub fn new(options: &TlsClientOptions) -> io::Result<TlsConnector> {
        let provider = provider();
        let roots = match &options.ca_pem {
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for ca in certs_from_pem(pem)? {
                    roots
                        .add(ca)
                        .map_err(|e| invalid(format_args!("CA certificate: {e}")))?;
                }
                Arc::new(roots)
            }
            None if options.danger_accept_invalid_certs => Arc::new(RootCertStore::empty()),
            None => system_roots()?,
        };
        let verifier: Arc<dyn ServerCertVerifier> = if options.danger_accept_invalid_certs {
            Arc::new(AcceptAnyCertificate {
                provider: provider.clone(),
            })
        } else {
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| invalid(format_args!("CA certificates: {e}")))?;
            if options.pinned_spki_sha256.is_empty() {
                webpki
            } else {
                Arc::new(PinnedKeys {
                    inner: webpki,
                    pins: options.pinned_spki_sha256.clone(),
                })
            }
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(VERSIONS)
            .map_err(|e| invalid(format_args!("TLS versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match (&options.client_cert_pem, &options.client_key_pem) {
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(certs_from_pem(cert)?, key_from_pem(key)?)
                .map_err(|e| invalid(format_args!("client certificate: {e}")))?,
            (None, None) => builder.with_no_client_auth(),
            _ => return Err(invalid("a client certificate needs both its chain and key")),
        };
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        if options.no_session_resumption {
            config.resumption = rustls::client::Resumption::disabled();
        }
        Ok(TlsConnector {
            config: Arc::new(config),
        })
    }

    /// Trusts the system's store (loaded once per process; built once and
    /// shared: this is what a `wss://` connect without options uses).
    pub fn system() -> io::Result<TlsConnector> {
        static SYSTEM: OnceLock<Result<TlsConnector, String>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                TlsConnector::new(&TlsClientOptions::default()).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))
    }

    /// Trusts only the CAs of a PEM file.
    pub fn from_ca_file(path: impl AsRef<Path>) -> io::Result<TlsConnector> {
        let pem = read_pem_file(path.as_ref())?;
        TlsConnector::new(&TlsClientOptions {
            ca_pem: Some(pem),
            ..TlsClientOptions::default()
        })
    }

    /// A client session for `server_name` (a DNS name, sent as SNI and
    /// checked against the certificate, or an IP address, checked only).
    pub(crate) fn session(
        &self,
        server_name: &str,
    ) -> io::Result<rustls::client::UnbufferedClientConnection> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| invalid(format_args!("not a valid TLS server name: {server_name:?}")))?;
        rustls::client::UnbufferedClientConnection::new(self.config.clone(), name)
            .map_err(|e| super::tls_io_error(io::ErrorKind::Other, e))
    }
}

/// The usual verification, then the pins.
#[derive(Debug)]
struct PinnedKeys {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
}

impl ServerCertVerifier for PinnedKeys {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified =
            self.inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        let pinned = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(|c| super::spki_sha256(c).ok())
            .any(|h| self.pins.contains(&h));
        if pinned {
            Ok(verified)
        } else {
            Err(rustls::Error::General(
                "no certificate of the server's chain matches a pinned key".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `danger_accept_invalid_certs`: any certificate, any name; the handshake
/// signature is still checked (the server holds the certificate's key).
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
