//! TLS for C: `rws_tls_server` (what a TLS listener serves: certificates,
//! swappable while serving) and `rws_tls_client` (how a client checks
//! servers), used by `rws_engine_config.tls_server` and
//! `rws_engine_connect_tls`.

use std::ffi::c_char;

use super::handle::{self, try_ref, Boxed};
use super::{c_str, fail, guard, rws_result, slice_arg, str_arg};
use crate::net::{TlsAcceptor, TlsClientOptions, TlsConnector};

/// Server certificates for TLS listeners. Opaque; thread-safe (a swap from
/// any thread applies to handshakes that start afterwards, open connections
/// keep theirs). Engines started with it share it: it may be freed after
/// `rws_engine_start*` returns, and swaps through it still reach them.
pub struct rws_tls_server {
    acceptor: TlsAcceptor,
}

impl Boxed for rws_tls_server {}

/// How a client checks servers. Opaque; thread-safe and immutable. Each
/// connect takes a share: it may be freed right after `rws_engine_connect_tls`.
pub struct rws_tls_client {
    connector: TlsConnector,
}

impl Boxed for rws_tls_client {}

fn io_fail<T>(e: std::io::Error) -> *mut T {
    let code = match e.kind() {
        std::io::ErrorKind::InvalidInput => rws_result::RWS_ERR_INVALID_ARGUMENT,
        _ => rws_result::RWS_ERR_IO,
    };
    fail(code, e.to_string());
    std::ptr::null_mut()
}

/// Evaluates to the bytes of a `(pointer, length)` argument pair, or fails
/// with `RWS_ERR_NULL` and returns NULL from the enclosing constructor.
/// Only for pairs the exported function's contract declares readable.
macro_rules! bytes_or_null {
    ($ptr:ident, $len:expr) => {
        // SAFETY: the exported function's contract promises `$len` readable bytes at `$ptr`.
        match unsafe { super::bytes($ptr, $len) } {
            Some(slice) => slice,
            None => {
                fail(
                    rws_result::RWS_ERR_NULL,
                    concat!(stringify!($ptr), " is NULL"),
                );
                return std::ptr::null_mut();
            }
        }
    };
}

/// As `bytes_or_null!`, where a NULL pointer means "not given": `None`.
macro_rules! optional_bytes {
    ($ptr:ident, $len:expr) => {
        if $ptr.is_null() {
            None
        } else {
            Some(bytes_or_null!($ptr, $len))
        }
    };
}

/// Server certificates from PEM bytes: `cert_pem` holds the chain (leaf
/// first), `key_pem` its private key (PKCS#8, PKCS#1 or SEC1). With
/// `client_ca_pem` (NULL for none), clients must present a
/// certificate issued by one of its CAs (mutual TLS). The bytes are copied.
/// NULL on failure (`RWS_ERR_INVALID_ARGUMENT` for bad PEM or a key that
/// does not match). Free with `rws_tls_server_free`.
///
/// # Safety
/// Each pointer is readable for its length (or NULL with length 0 where allowed).
#[no_mangle]
pub unsafe extern "C" fn rws_tls_server_new(
    cert_pem: *const u8,
    cert_pem_len: usize,
    key_pem: *const u8,
    key_pem_len: usize,
    client_ca_pem: *const u8,
    client_ca_pem_len: usize,
) -> *mut rws_tls_server {
    guard(std::ptr::null_mut(), || {
        let (cert, key) = (
            bytes_or_null!(cert_pem, cert_pem_len),
            bytes_or_null!(key_pem, key_pem_len),
        );
        let client_ca = optional_bytes!(client_ca_pem, client_ca_pem_len);
        let acceptor = match client_ca {
            None => TlsAcceptor::from_pem(cert, key),
            Some(ca) => TlsAcceptor::with_client_auth_pem(cert, key, ca),
        };
        match acceptor {
            Ok(acceptor) => handle::into_c(rws_tls_server { acceptor }),
            Err(e) => io_fail(e),
        }
    })
}

/// Like `rws_tls_server_new` (no client certificates), reading two PEM files.
///
/// # Safety
/// `cert_path` and `key_path` are C strings.
#[no_mangle]
pub unsafe extern "C" fn rws_tls_server_new_files(
    cert_path: *const c_char,
    key_path: *const c_char,
) -> *mut rws_tls_server {
    guard(std::ptr::null_mut(), || {
        // SAFETY: per the contract above.
        let (Ok(cert), Ok(key)) = (unsafe { c_str(cert_path) }, unsafe { c_str(key_path) }) else {
            return std::ptr::null_mut();
        };
        match TlsAcceptor::from_pem_files(cert, key) {
            Ok(acceptor) => handle::into_c(rws_tls_server { acceptor }),
            Err(e) => io_fail(e),
        }
    })
}

/// Replaces the default certificate (served when no SNI name matches) with
/// a PEM chain and key. On error the old one stays. Thread-safe.
///
/// # Safety
/// `server` live; each pointer readable for its length.
#[no_mangle]
pub unsafe extern "C" fn rws_tls_server_set_cert(
    server: *const rws_tls_server,
    cert_pem: *const u8,
    cert_pem_len: usize,
    key_pem: *const u8,
    key_pem_len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let server = try_ref!(server);
        let cert = slice_arg!(cert_pem, cert_pem_len);
        let key = slice_arg!(key_pem, key_pem_len);
        result(server.acceptor.set_cert_pem(cert, key))
    })
}

/// Reads the two PEM files again and swaps them in (what a server does on
/// SIGHUP). On error the old certificate stays. Thread-safe.
///
/// # Safety
/// `server` live; `cert_path` and `key_path` C strings.
#[no_mangle]
pub unsafe extern "C" fn rws_tls_server_reload_files(
    server: *const rws_tls_server,
    cert_path: *const c_char,
    key_path: *const c_char,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let server = try_ref!(server);
        let cert = str_arg!(cert_path);
        let key = str_arg!(key_path);
        result(server.acceptor.reload_pem_files(cert, key))
    })
}

/// Serves this PEM chain and key to clients asking for `server_name` by SNI
/// (case-insensitive), replacing an earlier one for that name. Thread-safe.
///
/// # Safety
/// `server` live; `server_name` a C string; each pointer readable for its length.
#[no_mangle]
pub unsafe extern "C" fn rws_tls_server_set_sni_cert(
    server: *const rws_tls_server,
    server_name: *const c_char,
    cert_pem: *const u8,
    cert_pem_len: usize,
    key_pem: *const u8,
    key_pem_len: usize,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let server = try_ref!(server);
        let name = str_arg!(server_name);
        let cert = slice_arg!(cert_pem, cert_pem_len);
        let key = slice_arg!(key_pem, key_pem_len);
        result(server.acceptor.set_sni_cert_pem(name, cert, key))
    })
}

/// Frees server certificates (engines using them keep their share). NULL is fine.
///
/// # Safety
/// `server` NULL or from `rws_tls_server_new*`, freed once.
#[no_mangle]
pub unsafe extern "C" fn rws_tls_server_free(server: *mut rws_tls_server) {
    // SAFETY: per the contract above.
    guard((), || unsafe { handle::free(server) })
}

/// Options of `rws_tls_client_new`. Zero it (`memset`, or `= {0}`) for "the
/// system's trust store, no pins, no client certificate".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rws_tls_client_config {
    /// PEM CA certificates to trust instead of the system's store (NULL: the system's).
    pub ca_pem: *const u8,
    /// Bytes at `ca_pem`.
    pub ca_pem_len: usize,
    /// A client certificate chain (PEM) for servers that ask (mutual TLS), or NULL.
    pub cert_pem: *const u8,
    /// Bytes at `cert_pem`.
    pub cert_pem_len: usize,
    /// The private key (PEM) of `cert_pem`, or NULL.
    pub key_pem: *const u8,
    /// Bytes at `key_pem`.
    pub key_pem_len: usize,
    /// `pin_count` SHA-256 hashes (32 bytes each, back to back) of
    /// SubjectPublicKeyInfos: when any is given, a certificate of the
    /// server's chain must match one. NULL when `pin_count` is 0.
    pub pins_sha256: *const u8,
    /// Hashes at `pins_sha256`.
    pub pin_count: usize,
    /// Accept any certificate for any name (only the handshake signature is
    /// checked). Dangerous: tests against self-signed servers only.
    pub danger_accept_invalid_certs: bool,
}

/// A client TLS configuration (certificates are parsed once here; share it
/// across connects). NULL on failure (`rws_last_error_message` says why).
/// Free with `rws_tls_client_free`.
///
/// # Safety
/// `config` points to a valid struct whose pointers are readable for their lengths.
#[no_mangle]
pub unsafe extern "C" fn rws_tls_client_new(
    config: *const rws_tls_client_config,
) -> *mut rws_tls_client {
    guard(std::ptr::null_mut(), || {
        if config.is_null() {
            fail(rws_result::RWS_ERR_NULL, "config is NULL");
            return std::ptr::null_mut();
        }
        // SAFETY: per the contract above.
        let c = unsafe { &*config };
        let (ca_pem, ca_len) = (c.ca_pem, c.ca_pem_len);
        let (cert_pem, cert_len) = (c.cert_pem, c.cert_pem_len);
        let (key_pem, key_len) = (c.key_pem, c.key_pem_len);
        let pins_sha256 = c.pins_sha256;
        let pins_len = c.pin_count.saturating_mul(32);
        let pins = match optional_bytes!(pins_sha256, pins_len) {
            Some(p) => p
                .chunks_exact(32)
                .map(|h| {
                    let mut a = [0u8; 32];
                    a.copy_from_slice(h);
                    a
                })
                .collect(),
            None => Vec::new(),
        };
        let options = TlsClientOptions {
            ca_pem: optional_bytes!(ca_pem, ca_len).map(<[u8]>::to_vec),
            pinned_spki_sha256: pins,
            client_cert_pem: optional_bytes!(cert_pem, cert_len).map(<[u8]>::to_vec),
            client_key_pem: optional_bytes!(key_pem, key_len).map(<[u8]>::to_vec),
            danger_accept_invalid_certs: c.danger_accept_invalid_certs,
            no_session_resumption: false,
        };
        match TlsConnector::new(&options) {
            Ok(connector) => handle::into_c(rws_tls_client { connector }),
            Err(e) => io_fail(e),
        }
    })
}

/// A client configuration trusting the CAs of a PEM file, or (for NULL) the
/// system's store. NULL on failure. Free with `rws_tls_client_free`.
///
/// # Safety
/// `ca_path` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn rws_tls_client_new_ca_file(ca_path: *const c_char) -> *mut rws_tls_client {
    guard(std::ptr::null_mut(), || {
        let connector = if ca_path.is_null() {
            TlsConnector::system()
        } else {
            // SAFETY: per the contract above.
            let Ok(path) = (unsafe { c_str(ca_path) }) else {
                return std::ptr::null_mut();
            };
            TlsConnector::from_ca_file(path)
        };
        match connector {
            Ok(connector) => handle::into_c(rws_tls_client { connector }),
            Err(e) => io_fail(e),
        }
    })
}

/// Frees a client configuration (connections keep their share). NULL is fine.
///
/// # Safety
/// `client` NULL or from `rws_tls_client_new*`, freed once.
#[no_mangle]
pub unsafe extern "C" fn rws_tls_client_free(client: *mut rws_tls_client) {
    // SAFETY: per the contract above.
    guard((), || unsafe { handle::free(client) })
}

/// The acceptor behind a `rws_tls_server` pointer (NULL: `None`).
///
/// # Safety
/// `server` NULL or live.
pub(crate) unsafe fn acceptor(server: *const rws_tls_server) -> Option<TlsAcceptor> {
    // SAFETY: per this function's contract.
    unsafe { handle::as_ref(server) }.map(|s| s.acceptor.clone())
}

/// The connector behind a `rws_tls_client` pointer (NULL: `None`).
///
/// # Safety
/// `client` NULL or live.
pub(crate) unsafe fn connector(client: *const rws_tls_client) -> Option<TlsConnector> {
    // SAFETY: per this function's contract.
    unsafe { handle::as_ref(client) }.map(|c| c.connector.clone())
}

fn result(r: std::io::Result<()>) -> rws_result {
    match r {
        Ok(()) => rws_result::RWS_OK,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            fail(rws_result::RWS_ERR_INVALID_ARGUMENT, e.to_string())
        }
        Err(e) => fail(rws_result::RWS_ERR_IO, e.to_string()),
    }
}
