//! The command's logger: the library's `log` records, one line each, on
//! stderr, at the level of `--log-level LEVEL` (any position) or `RUST_LOG`
//! (a level name), `warn` by default.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

struct Stderr;

static STDERR: Stderr = Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let _ = writeln!(
                std::io::stderr().lock(),
                "rocws: {} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Installs the logger, taking `--log-level LEVEL` out of `args`.
pub fn init(args: &mut Vec<String>) -> Result<(), String> {
    let mut level = std::env::var("RUST_LOG").ok();
    if let Some(i) = args.iter().position(|a| a == "--log-level") {
        if i + 1 >= args.len() {
            return Err("--log-level needs a value: off, error, warn, info, debug, trace".into());
        }
        level = Some(args.remove(i + 1));
        args.remove(i);
    }
    let filter = match level.as_deref() {
        None | Some("") => LevelFilter::Warn,
        Some(name) => name
            .parse::<LevelFilter>()
            .map_err(|_| format!("unknown log level {name:?}"))?,
    };
    log::set_logger(&STDERR).map_err(|e| e.to_string())?;
    log::set_max_level(filter);
    Ok(())
}
