//! The CLI's log sink: guest output to stdout as `[node] line` as it comes,
//! Torvyn's own diagnostics to stderr.

use std::io::Write;

use log::kv::{Key, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::engine::GUEST_LOG_TARGET;

struct CliLogger {
    level: LevelFilter,
    /// Keep stdout for the JSON result: guest stdout goes to stderr too.
    json: bool,
    /// Whether guest output is printed at all.
    guests: bool,
}

#[derive(Default)]
struct GuestFields {
    node: String,
    stream: String,
}

impl<'kvs> VisitSource<'kvs> for GuestFields {
    fn visit_pair(&mut self, key: Key<'kvs>, value: log::kv::Value<'kvs>) -> Result<(), log::kv::Error> {
        match key.as_str() {
            "node" => self.node = value.to_string(),
            "stream" => self.stream = value.to_string(),
            _ => {}
        }
        Ok(())
    }
}

impl Log for CliLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        (self.guests && metadata.target() == GUEST_LOG_TARGET) || metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        if record.target() == GUEST_LOG_TARGET {
            let mut fields = GuestFields::default();
            let _ = record.key_values().visit(&mut fields);
            if fields.stream == "stderr" || self.json {
                let _ = writeln!(std::io::stderr().lock(), "[{}] {}", fields.node, record.args());
            } else {
                let _ = writeln!(std::io::stdout().lock(), "[{}] {}", fields.node, record.args());
            }
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        let _ = writeln!(std::io::stderr().lock(), "{level}: {}", record.args());
    }

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

/// Install the logger. Torvyn's own level: `-v`/`-vv`/`-q` if given, else
/// `--log-level`, else `TORVYN_LOG`, else warn.
/// `guests`: print guest output (`torvyn bench` does not).
pub fn install(verbose: u8, quiet: bool, log_level: Option<&str>, json: bool, guests: bool) -> Result<(), String> {
    let named = |origin: &str, text: &str| {
        text.trim().parse::<LevelFilter>().map_err(|_| {
            format!("{origin}: `{text}` is not a log level; use error, warn, info, debug or trace (or off)")
        })
    };
    let level = match (verbose, quiet) {
        (_, true) => LevelFilter::Error,
        (1, _) => LevelFilter::Info,
        (2, _) => LevelFilter::Debug,
        (3.., _) => LevelFilter::Trace,
        (0, false) => match (log_level, std::env::var("TORVYN_LOG").ok().filter(|v| !v.is_empty())) {
            (Some(l), _) => named("--log-level", l)?,
            (None, Some(env)) => named("TORVYN_LOG", &env)?,
            (None, None) => LevelFilter::Warn,
        },
    };
    if log::set_boxed_logger(Box::new(CliLogger { level, json, guests })).is_ok() {
        log::set_max_level(if guests { LevelFilter::Trace.min(level.max(LevelFilter::Info)) } else { level });
    }
    Ok(())
}
