//! Colour for people, never for machines: on only when stdout is a
//! terminal (or `CLICOLOR_FORCE` is set) and `NO_COLOR` is not.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};

use super::Color;

/// 0 auto, 1 always, 2 never.
static CHOICE: AtomicU8 = AtomicU8::new(0);

/// `--color`.
pub fn set(color: Color) {
    CHOICE.store(color as u8, Ordering::Relaxed);
}

/// The colours the CLI uses.
#[derive(Debug, Clone, Copy)]
pub enum Paint {
    Good,
    Bad,
    Dim,
}

fn enabled() -> bool {
    match CHOICE.load(Ordering::Relaxed) {
        1 => return true,
        2 => return false,
        _ => {}
    }
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    if set("NO_COLOR") {
        return false;
    }
    set("CLICOLOR_FORCE") || std::io::stdout().is_terminal()
}

/// `text` in `paint`, if colour is on.
pub fn paint(text: &str, paint: Paint) -> String {
    if !enabled() {
        return text.to_string();
    }
    let code = match paint {
        Paint::Good => "32",
        Paint::Bad => "31",
        Paint::Dim => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}
