//! Everything the process writes, with secrets taken out: the log (`log` +
//! `pretty_env_logger`, `RUST_LOG` picks the level), the lines printed for the admin
//! ([`say`], [`complain`]) and panic messages ([`redact_panics`]).
//!
//! The bot token is part of every Bot API URL, and teloxide and reqwest put URLs into their
//! errors and traces; a proxy's error page may echo the URL back. Rather than hoping every
//! call site remembers, each way out replaces every registered secret before a byte is
//! written: there is no `println!` or `eprintln!` anywhere else in the crate.

use std::io::Write as _;
use std::sync::{PoisonError, RwLock};

use log::{Log, Metadata, Record};

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

struct RedactingLogger {
    inner: Box<dyn Log>,
}

impl Log for RedactingLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.inner.enabled(record.metadata()) {
            return;
        }
        let text = redact(&record.args().to_string());
        self.inner.log(
            &Record::builder()
                .args(format_args!("{text}"))
                .metadata(record.metadata().clone())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .build(),
        );
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Installs the logger; `info` unless `RUST_LOG` says otherwise.
pub fn init() {
    let mut builder = pretty_env_logger::formatted_timed_builder();
    builder.parse_filters(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()));
    let logger = builder.build();
    let max_level = logger.filter();
    if log::set_boxed_logger(Box::new(RedactingLogger {
        inner: Box::new(logger),
    }))
    .is_ok()
    {
        log::set_max_level(max_level);
    }
}

/// Registers a secret: from now on it never appears in anything the process writes.
pub fn add_secret(secret: &str) {
    if secret.len() < 4 {
        return; // too short to be a real secret, and would mangle ordinary words
    }
    let mut secrets = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    if !secrets.iter().any(|known| known == secret) {
        secrets.push(secret.to_owned());
        // longest first, so that a token is replaced whole before its secret part is
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Prints a line on stdout, secrets removed: what the admin asked to see (`--check`).
pub fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{}", redact(line));
}

/// Prints a line on stderr, secrets removed: why the bot cannot start.
pub fn complain(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", redact(line));
}

/// Panic messages go through [`redact`] too (the default hook writes them as they are). Set
/// before anything can panic; the message reads like the default one.
pub fn redact_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let backtrace = std::backtrace::Backtrace::capture();
        let trace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("stack backtrace:\n{backtrace}"),
            _ => "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
                .to_owned(),
        };
        complain(&format!("thread '{name}' {info}\n{trace}"));
    }));
}

/// `text` with every registered secret replaced by [`REDACTED`].
pub fn redact(text: &str) -> String {
    // a panic elsewhere while the list was written leaves it whole: keep using it
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = text.to_owned();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced() {
        add_secret("123456:AAEsecretPART");
        add_secret("AAEsecretPART");
        let line = "error sending request for url (http://127.0.0.1:1/bot123456:AAEsecretPART/GetUpdates) and AAEsecretPART";
        assert_eq!(
            redact(line),
            "error sending request for url (http://127.0.0.1:1/bot<redacted>/GetUpdates) and <redacted>"
        );
        assert_eq!(redact("nothing here"), "nothing here");
    }
}
