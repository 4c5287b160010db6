//! How every command reports: for people, errors and warnings on stderr as
//! they happen; with `--format json`, one JSON document on stdout at the
//! end holding the command's result plus `exit_code`, `errors` and
//! `warnings`, whatever the outcome.

use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::Format;

struct State {
    format: Format,
    quiet: bool,
    result: Vec<(String, Value)>,
    errors: Vec<String>,
    warnings: Vec<String>,
    notes: Vec<String>,
}

static STATE: Mutex<State> = Mutex::new(State {
    format: Format::Human,
    quiet: false,
    result: Vec::new(),
    errors: Vec::new(),
    warnings: Vec::new(),
    notes: Vec::new(),
});

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut s)
}

/// Set once, before the command runs.
pub fn configure(format: Format, quiet: bool) {
    with(|s| {
        s.format = format;
        s.quiet = quiet;
    });
}

pub fn format() -> Format {
    with(|s| s.format)
}

/// Whether non-essential human output is suppressed (`--quiet`).
pub fn quiet() -> bool {
    with(|s| s.quiet)
}

/// A problem that decides the exit code.
pub fn error(message: impl std::fmt::Display) {
    let message = message.to_string();
    with(|s| {
        if s.format == Format::Human {
            eprintln!("error: {message}");
        }
        s.errors.push(message);
    });
}

/// Something worth knowing that does not fail the command.
pub fn warning(message: impl std::fmt::Display) {
    let message = message.to_string();
    with(|s| {
        if s.format == Format::Human && !s.quiet {
            eprintln!("warning: {message}");
        }
        s.warnings.push(message);
    });
}

/// Information that needs no action (not a warning: `--strict` ignores it).
pub fn note(message: impl std::fmt::Display) {
    let message = message.to_string();
    with(|s| {
        if s.format == Format::Human && !s.quiet {
            eprintln!("note: {message}");
        }
        s.notes.push(message);
    });
}

/// Warnings so far.
pub fn warning_count() -> usize {
    with(|s| s.warnings.len())
}

/// The command's result: its fields become the JSON document's.
pub fn result(value: Value) {
    with(|s| match value {
        Value::Object(map) => s.result.extend(map),
        other => s.result.push(("result".into(), other)),
    });
}

/// Print the JSON document (in JSON mode) and pass the exit code on.
pub fn finish(exit_code: i32) -> i32 {
    with(|s| {
        if s.format == Format::Json {
            let mut doc: Map<String, Value> = std::mem::take(&mut s.result).into_iter().collect();
            doc.insert("exit_code".into(), json!(exit_code));
            doc.insert("errors".into(), json!(s.errors));
            doc.insert("warnings".into(), json!(s.warnings));
            doc.insert("notes".into(), json!(s.notes));
            println!("{}", Value::Object(doc));
        }
    });
    exit_code
}
