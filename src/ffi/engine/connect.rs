//! Client connections through an engine: `ws://`, `wss://` and Unix URLs,
//! with per-connection options (`rws_connect_options`, in `options.rs`).

use std::ffi::c_char;

use super::super::handle::try_ref;
use super::super::tls::{connector, rws_tls_client};
use super::super::{c_str, fail, guard, rws_result, str_arg};
use super::options::{client_options, rws_connect_options};
use super::rws_engine;
use crate::net::ClientOptions;

/// The `close_code` of a CONNECT_ERROR event: 1015 for a TLS failure, else 0.
pub(crate) fn connect_error_code(error: &std::io::Error) -> u16 {
    crate::net::TlsError::of(error).map_or(0, |t| t.close_code().0)
}

/// Opens a client connection to `url` (`ws://host:port/path`,
/// `ws+unix:///path`, or `wss://...` checked against the system's trust
/// store), reported later by an OPEN or CONNECT_ERROR event carrying `tag`.
/// Name resolution happens on the calling thread. Thread-safe.
///
/// # Safety
/// `e` live; `url` a C string.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_connect(
    e: *const rws_engine,
    url: *const c_char,
    tag: u64,
) -> rws_result {
    // SAFETY: the same contract, with no TLS options.
    unsafe { rws_engine_connect_tls(e, url, tag, std::ptr::null(), std::ptr::null()) }
}

/// Like `rws_engine_connect`, for `wss://` with options: `tls` says which
/// servers to trust (NULL: the system's store); `server_name` is the name
/// sent by SNI and checked against the certificate (NULL: the URL's host).
/// A TLS failure before the connection opens is a CONNECT_ERROR event with
/// `close_code` 1015 and the TLS error as its text; one after it opened is a
/// CLOSE event with 1015 (never sent on the wire). Thread-safe.
///
/// # Safety
/// `e` live; `url` a C string; `tls` NULL or live; `server_name` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_connect_tls(
    e: *const rws_engine,
    url: *const c_char,
    tag: u64,
    tls: *const rws_tls_client,
    server_name: *const c_char,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        let url = str_arg!(url);
        let server_name = if server_name.is_null() {
            None
        } else {
            // SAFETY: per the contract above.
            match unsafe { c_str(server_name) } {
                Ok(s) => Some(s.to_owned()),
                Err(r) => return r,
            }
        };
        let options = ClientOptions {
            tag,
            // SAFETY: per the contract above, `tls` is NULL or live.
            tls: unsafe { connector(tls) },
            server_name,
            ..ClientOptions::default()
        };
        connect(e, url, options)
    })
}

/// Like `rws_engine_connect`, with every per-connection option in `opts`
/// (see `rws_connect_options`; NULL: all defaults, tag 0). Everything in
/// `opts` is read or copied during the call: the struct and what it points
/// to may be freed when it returns (a `tls` object is shared, as with
/// `rws_engine_connect_tls`). Errors: `RWS_ERR_NULL` (`e` or `url` NULL, a
/// list NULL with a non-zero count), `RWS_ERR_INVALID_ARGUMENT` (a bad URL,
/// `struct_size` 0, options this library does not know set to non-zero, a
/// header name or value a request cannot carry, a string not UTF-8),
/// `RWS_ERR_IO` (name resolution failed). Thread-safe.
///
/// # Safety
/// `e` live; `url` a C string; `opts` NULL or readable for `opts->struct_size`
/// bytes, its lists and strings per its fields' documentation.
#[no_mangle]
pub unsafe extern "C" fn rws_engine_connect_opts(
    e: *const rws_engine,
    url: *const c_char,
    opts: *const rws_connect_options,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let e = try_ref!(e);
        let url = str_arg!(url);
        // SAFETY: per the contract above.
        match unsafe { client_options(opts, &e.defaults) } {
            Ok(options) => connect(e, url, options),
            Err(r) => r,
        }
    })
}

fn connect(e: &rws_engine, url: &str, options: ClientOptions) -> rws_result {
    match e.handle.connect(url, options) {
        Ok(()) => rws_result::RWS_OK,
        Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => {
            fail(rws_result::RWS_ERR_INVALID_ARGUMENT, err.to_string())
        }
        Err(err) => fail(rws_result::RWS_ERR_IO, err.to_string()),
    }
}
