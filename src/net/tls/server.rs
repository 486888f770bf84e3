//! The server side: certificates (one default, more chosen by SNI) that can
//! be replaced while serving, and optional client certificates (mutual TLS).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use super::{
    certs_from_pem, invalid, key_from_pem, provider, read_pem_file, ALPN_HTTP11, VERSIONS,
};

/// The certificates of one listener at one moment.
#[derive(Debug)]
struct CertTable {
    default: Arc<CertifiedKey>,
    /// Lower-case DNS name -> certificate.
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

/// Picks a certificate by SNI. The table is an `Arc` swapped under a lock:
/// a handshake holds the lock only to clone the `Arc`, and connections that
/// already finished their handshake never look at it again, so a swap drops
/// nobody.
#[derive(Debug)]
struct CertResolver {
    table: RwLock<Arc<CertTable>>,
}

impl CertResolver {
    fn current(&self) -> Arc<CertTable> {
        match self.table.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn update(&self, f: impl FnOnce(&CertTable) -> CertTable) {
        let mut guard = match self.table.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let next = f(&guard);
        *guard = Arc::new(next);
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let table = self.current();
        if let Some(name) = hello.server_name() {
            if let Some(cert) = table.by_name.get(&name.to_ascii_lowercase()) {
                return Some(cert.clone());
            }
        }
        Some(table.default.clone())
    }
}

fn certified_key(cert_chain_pem: &[u8], key_pem: &[u8]) -> io::Result<Arc<CertifiedKey>> {
    let chain = certs_from_pem(cert_chain_pem)?;
    let key = key_from_pem(key_pem)?;
    CertifiedKey::from_der(chain, key, &provider())
        .map(Arc::new)
        .map_err(|e| invalid(format_args!("certificate and key: {e}")))
}

/// What a TLS listener serves: its certificates, chosen by SNI, and whether
/// clients must show a certificate. Cheap to clone (clones share the
/// certificates, so a swap through one is seen by all).
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use rocwebsocket::net::{Config, TlsAcceptor, TlsListen};
/// let tls = TlsAcceptor::from_pem_files("cert.pem", "key.pem")?;
/// let config = Config {
///     listen_tls: vec![TlsListen { endpoint: "127.0.0.1:9443".parse().unwrap(), acceptor: tls.clone() }],
///     ..Config::default()
/// };
/// // later, without dropping open connections:
/// tls.reload_pem_files("cert.pem", "key.pem")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
    certs: Arc<CertResolver>,
    client_auth: bool,
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = self.certs.current();
        f.debug_struct("TlsAcceptor")
            .field("sni_names", &table.by_name.keys().collect::<Vec<_>>())
            .field("client_auth", &self.requires_client_cert())
            .finish()
    }
}

impl TlsAcceptor {
    /// A certificate chain (leaf first) and its private key, both PEM.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> io::Result<TlsAcceptor> {
        Self::build(cert_chain_pem, key_pem, None)
    }

    /// Like [`TlsAcceptor::from_pem`], reading the two PEM files.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> io::Result<TlsAcceptor> {
        let cert = read_pem_file(cert_chain.as_ref())?;
        let key = read_pem_file(key.as_ref())?;
        Self::from_pem(&cert, &key)
    }

    /// Mutual TLS: like [`TlsAcceptor::from_pem`], and every client must
    /// present a certificate issued by one of the CAs in `client_ca_pem`.
    pub fn with_client_auth_pem(
        cert_chain_pem: &[u8],
        key_pem: &[u8],
        client_ca_pem: &[u8],
    ) -> io::Result<TlsAcceptor> {
        Self::build(cert_chain_pem, key_pem, Some(client_ca_pem))
    }

    fn build(
        cert_chain_pem: &[u8],
        key_pem: &[u8],
        client_ca_pem: Option<&[u8]>,
    ) -> io::Result<TlsAcceptor> {
        let certs = Arc::new(CertResolver {
            table: RwLock::new(Arc::new(CertTable {
                default: certified_key(cert_chain_pem, key_pem)?,
                by_name: HashMap::new(),
            })),
        });
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| invalid(format_args!("TLS versions: {e}")))?;
        let builder = match client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for ca in certs_from_pem(pem)? {
                    roots
                        .add(ca)
                        .map_err(|e| invalid(format_args!("client CA: {e}")))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|e| invalid(format_args!("client CA: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_cert_resolver(certs.clone());
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        Ok(TlsAcceptor {
            config: Arc::new(config),
            certs,
            client_auth: client_ca_pem.is_some(),
        })
    }

    /// Whether clients must present a certificate.
    pub fn requires_client_cert(&self) -> bool {
        self.client_auth
    }

    /// Replaces the default certificate (the one served when no SNI name
    /// matches). Handshakes that start afterwards get the new one; open
    /// connections are not touched.
    pub fn set_cert_pem(&self, cert_chain_pem: &[u8], key_pem: &[u8]) -> io::Result<()> {
        let cert = certified_key(cert_chain_pem, key_pem)?;
        self.certs.update(|t| CertTable {
            default: cert,
            by_name: t.by_name.clone(),
        });
        Ok(())
    }

    /// Like [`TlsAcceptor::set_cert_pem`], reading the two PEM files (what
    /// `rocws serve` does on `SIGHUP`). On error the old certificate stays.
    pub fn reload_pem_files(
        &self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> io::Result<()> {
        let cert = read_pem_file(cert_chain.as_ref())?;
        let key = read_pem_file(key.as_ref())?;
        self.set_cert_pem(&cert, &key)
    }

    /// Serves this certificate to clients that ask for `server_name` by SNI
    /// (exact DNS name, case-insensitive), replacing any earlier one.
    pub fn set_sni_cert_pem(
        &self,
        server_name: &str,
        cert_chain_pem: &[u8],
        key_pem: &[u8],
    ) -> io::Result<()> {
        let cert = certified_key(cert_chain_pem, key_pem)?;
        let name = server_name.to_ascii_lowercase();
        self.certs.update(|t| {
            let mut by_name = t.by_name.clone();
            by_name.insert(name, cert);
            CertTable {
                default: t.default.clone(),
                by_name,
            }
        });
        Ok(())
    }

    /// Stops serving a certificate for `server_name`; whether there was one.
    pub fn remove_sni_cert(&self, server_name: &str) -> bool {
        let name = server_name.to_ascii_lowercase();
        let mut found = false;
        self.certs.update(|t| {
            let mut by_name = t.by_name.clone();
            found = by_name.remove(&name).is_some();
            CertTable {
                default: t.default.clone(),
                by_name,
            }
        });
        found
    }

    /// A server-side TLS session for one accepted socket.
    pub(crate) fn session(&self) -> io::Result<rustls::server::UnbufferedServerConnection> {
        rustls::server::UnbufferedServerConnection::new(self.config.clone())
            .map_err(|e| super::tls_io_error(io::ErrorKind::Other, e))
    }
}
