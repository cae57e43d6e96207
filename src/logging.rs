//! Logging through `log` + `pretty_env_logger` (`RUST_LOG` picks the level), with secrets
//! taken out of every line.
//!
//! The bot token is part of every Bot API URL, and teloxide and reqwest put URLs into their
//! errors and traces. Rather than hoping every call site remembers, the logger itself replaces
//! each registered secret before a line is written, at every level.

use std::sync::RwLock;

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

/// Registers a secret: from now on it never appears in a log line.
pub fn add_secret(secret: &str) {
    if secret.len() < 4 {
        return; // too short to be a real secret, and would mangle ordinary words
    }
    if let Ok(mut secrets) = SECRETS.write() {
        secrets.push(secret.to_owned());
        // longest first, so that a token is replaced whole before its secret part is
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

pub fn redact(text: &str) -> String {
    let Ok(secrets) = SECRETS.read() else {
        return text.to_owned();
    };
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
