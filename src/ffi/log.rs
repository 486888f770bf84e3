//! Logging for C hosts: the library logs through the `log` crate; a C host
//! installs one callback that receives the records at or above a level.
//!
//! The callback is installed as the process's `log` logger on first use. In a
//! Rust program that installed its own logger first, `rws_set_log_callback`
//! fails with `RWS_ERR_INVALID_ARGUMENT` and the Rust logger keeps the records.

use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::io::Write;
use std::sync::RwLock;

use super::{fail, guard, rws_result};

/// How much a log record matters, most severe first.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rws_log_level {
    /// No records at all (as a level to `rws_set_log_callback`: logging off).
    RWS_LOG_OFF = 0,
    /// Something failed that the library could not handle (a worker's poll
    /// failed, a listener cannot accept).
    RWS_LOG_ERROR = 1,
    /// Something unusual the library handled (a connection's socket failed,
    /// a handler's upgrade answer was refused).
    RWS_LOG_WARN = 2,
    /// A connection failed because of its peer (protocol violation, with the
    /// close code), once per connection.
    RWS_LOG_INFO = 3,
    /// Details useful when debugging.
    RWS_LOG_DEBUG = 4,
    /// Very detailed records.
    RWS_LOG_TRACE = 5,
}

/// A log callback: `level` (an `rws_log_level`), `target` the module that
/// logged ("rocwebsocket::net::worker"), `message` NUL-terminated and `len`
/// bytes long (without the NUL). Both strings are valid only during the
/// call. Called on whichever thread logged (engine threads, concurrently),
/// so `user` must be safe to use from several threads.
pub type rws_log_callback = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        level: rws_log_level,
        target: *const c_char,
        message: *const c_char,
        len: usize,
    ),
>;

struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, rws_log_level, *const c_char, *const c_char, usize),
    user: *mut c_void,
}

// SAFETY: `rws_set_log_callback`'s contract makes the host promise that `user`
// may be used from any thread; the pointer itself is only passed back.
unsafe impl Send for Sink {}
// SAFETY: as above; the sink is only read while calling the callback.
unsafe impl Sync for Sink {}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

struct FfiLogger;

static LOGGER: FfiLogger = FfiLogger;

thread_local! {
    /// Formatting buffer (message, NUL, target, NUL), reused per thread.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl ::log::Log for FfiLogger {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        metadata.level() <= ::log::max_level()
    }

    fn log(&self, record: &::log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        LINE.with(|line| {
            // A record logged while this thread is already inside the logger (from
            // formatting, or from the callback) is dropped: no recursion, no second
            // read lock taken by one thread.
            let Ok(mut line) = line.try_borrow_mut() else {
                return;
            };
            let Ok(sink) = SINK.read() else { return };
            let Some(sink) = sink.as_ref() else { return };
            line.clear();
            let _ = write!(line, "{}", record.args());
            line.retain(|&b| b != 0);
            let len = line.len();
            line.push(0);
            line.extend(record.target().bytes().filter(|&b| b != 0));
            line.push(0);
            let level = match record.level() {
                ::log::Level::Error => rws_log_level::RWS_LOG_ERROR,
                ::log::Level::Warn => rws_log_level::RWS_LOG_WARN,
                ::log::Level::Info => rws_log_level::RWS_LOG_INFO,
                ::log::Level::Debug => rws_log_level::RWS_LOG_DEBUG,
                ::log::Level::Trace => rws_log_level::RWS_LOG_TRACE,
            };
            let message = line.as_ptr().cast::<c_char>();
            // SAFETY: `message + len + 1` is inside `line`: the target follows the message's NUL.
            let target = unsafe { message.add(len + 1) };
            // SAFETY: the host registered this callback with `user`; both strings are
            // NUL-terminated and live in `line` for the duration of the call.
            unsafe { (sink.callback)(sink.user, level, target, message, len) };
        });
    }

    fn flush(&self) {}
}

/// Sends the library's log records at `level` and more severe to `callback`
/// with `user`; a NULL `callback` or `RWS_LOG_OFF` turns logging off (the
/// default: the library prints nothing). Replaces any earlier callback: when
/// this returns, the old one is no longer running nor called, so its `user`
/// may be freed. `RWS_ERR_INVALID_ARGUMENT` for an unknown level, or when the
/// process already has another `log` logger (a Rust host that installed its
/// own). Thread-safe; must not be called from the log callback itself.
///
/// Connection-level failures are logged once per connection, naming its id;
/// nothing is logged per message.
///
/// # Safety
/// `callback` NULL or a function safe to call from any thread with `user`
/// until it is replaced.
#[no_mangle]
pub unsafe extern "C" fn rws_set_log_callback(
    level: u32,
    callback: rws_log_callback,
    user: *mut c_void,
) -> rws_result {
    guard(rws_result::RWS_ERR_PANIC, || {
        let filter = match level {
            0 => ::log::LevelFilter::Off,
            1 => ::log::LevelFilter::Error,
            2 => ::log::LevelFilter::Warn,
            3 => ::log::LevelFilter::Info,
            4 => ::log::LevelFilter::Debug,
            5 => ::log::LevelFilter::Trace,
            _ => {
                return fail(
                    rws_result::RWS_ERR_INVALID_ARGUMENT,
                    format!("unknown log level {level}"),
                )
            }
        };
        if let Err(e) = install() {
            return fail(rws_result::RWS_ERR_INVALID_ARGUMENT, e);
        }
        let sink = callback.map(|callback| Sink { callback, user });
        let filter = if sink.is_some() {
            filter
        } else {
            ::log::LevelFilter::Off
        };
        // Taking the write lock waits for callbacks running on other threads.
        match SINK.write() {
            Ok(mut slot) => *slot = sink,
            Err(poisoned) => *poisoned.into_inner() = sink,
        }
        ::log::set_max_level(filter);
        rws_result::RWS_OK
    })
}

/// Makes [`FfiLogger`] the process's logger, once.
fn install() -> Result<(), &'static str> {
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ours = *INSTALLED.get_or_init(|| ::log::set_logger(&LOGGER).is_ok());
    if ours {
        Ok(())
    } else {
        Err("another log logger is installed in this process")
    }
}
