//! `[telegram.webhook]`: where Telegram posts updates, where the bot listens for them, the
//! secret that tells Telegram's posts from anybody else's, and the certificate and key when
//! the bot serves TLS itself.
//!
//! The certificate and key are read and checked here, at start, so that a file that cannot be
//! read, is not PEM, or a key that does not belong to the certificate is a settings error with
//! the key to fix, not a webhook that fails at the first post from Telegram.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use url::Url;

use super::SettingsError;
use super::raw::RawWebhook;
use super::values::{in_range, parse_http_url, shown_url};

/// Telegram's bounds for a secret token; below 16 characters it could be guessed.
const SECRET_LENGTH: std::ops::RangeInclusive<usize> = 16..=256;

/// `[telegram.webhook]`, validated.
#[derive(Clone)]
pub struct WebhookSettings {
    pub url: Url,
    pub listen: std::net::SocketAddr,
    /// Telegram sends it back in `X-Telegram-Bot-Api-Secret-Token`; generated when empty.
    pub secret_token: Option<String>,
    pub max_connections: u8,
    /// Set when the bot serves TLS itself (`tls_key`); plain HTTP otherwise.
    pub tls: Option<WebhookTls>,
}

/// The certificate chain and key the bot serves the webhook with, checked to belong together.
#[derive(Clone)]
pub struct WebhookTls {
    /// Where the chain was read from, and the setting that named it.
    pub certificate: PathBuf,
    pub certificate_key: &'static str,
    pub key: PathBuf,
    /// Built once at start from the two files (ring provider); the server adds its ALPN.
    pub config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("listen", &self.listen)
            .field(
                "secret_token",
                &self.secret_token.as_ref().map(|_| "<redacted>"),
            )
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Paths only: the key's contents never reach a log.
impl fmt::Debug for WebhookTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTls")
            .field("certificate", &self.certificate)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// `certificate` is `telegram.certificate` (trimmed, possibly empty): the chain to serve when
/// `tls_certificate` is empty.
pub(super) fn validate_webhook(
    raw: RawWebhook,
    certificate: &str,
) -> Result<WebhookSettings, SettingsError> {
    let url = url(&raw.url)?;
    let listen = raw.listen.trim().parse().map_err(|_| {
        SettingsError::invalid(
            "telegram.webhook.listen",
            format!("{:?}", raw.listen),
            "an address and port to listen on, e.g. 127.0.0.1:8443 behind a reverse proxy, or 0.0.0.0:8443 with tls_key",
        )
    })?;
    let secret_token = secret_token(&raw.secret_token)?;
    let max_connections = in_range(
        "telegram.webhook.max_connections",
        raw.max_connections,
        1,
        100,
    )? as u8;
    let tls = tls(&raw, certificate)?;
    Ok(WebhookSettings {
        url,
        listen,
        secret_token,
        max_connections,
        tls,
    })
}

fn url(raw: &str) -> Result<Url, SettingsError> {
    if raw.trim().is_empty() {
        return Err(SettingsError::invalid(
            "telegram.webhook.url",
            "\"\"",
            "the public https URL Telegram posts updates to, e.g. https://ci.example.org:8443/telegram (needed with use_webhook = true)",
        ));
    }
    let url = parse_http_url("telegram.webhook.url", raw)?;
    if url.scheme() != "https" {
        return Err(SettingsError::invalid(
            "telegram.webhook.url",
            shown_url(raw),
            "an https:// URL: Telegram only posts to https",
        ));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    if ![443, 80, 88, 8443].contains(&port) {
        return Err(SettingsError::invalid(
            "telegram.webhook.url",
            format!("{} (port {port})", shown_url(raw)),
            "a URL on port 443, 80, 88 or 8443: the only ports Telegram posts to",
        ));
    }
    Ok(url)
}

/// 16-256 characters of Telegram's alphabet, or `None` (one is generated at every start).
/// Never echoed: it is a secret.
fn secret_token(raw: &str) -> Result<Option<String>, SettingsError> {
    let secret = raw.trim();
    if secret.is_empty() {
        return Ok(None);
    }
    let secret_ok = SECRET_LENGTH.contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !secret_ok {
        return Err(SettingsError::invalid(
            "telegram.webhook.secret_token",
            format!("(not shown, {} characters)", secret.chars().count()),
            "16-256 letters, digits, _ or -, e.g. from `openssl rand -hex 32`; or empty to have one generated at every start",
        ));
    }
    Ok(Some(secret.to_owned()))
}

/// The chain and key to serve TLS with: `tls_certificate` (or else `telegram.certificate`)
/// and `tls_key`, both or neither.
fn tls(raw: &RawWebhook, certificate: &str) -> Result<Option<WebhookTls>, SettingsError> {
    let key = raw.tls_key.trim();
    let own = raw.tls_certificate.trim();
    let (certificate_key, chain) = if own.is_empty() {
        ("telegram.certificate", certificate)
    } else {
        ("telegram.webhook.tls_certificate", own)
    };
    if key.is_empty() {
        return match own.is_empty() {
            true => Ok(None),
            false => Err(SettingsError::invalid(
                "telegram.webhook.tls_certificate",
                format!("{own:?} without telegram.webhook.tls_key"),
                "empty, or set together with telegram.webhook.tls_key (the certificate's private key) to serve TLS",
            )),
        };
    }
    if chain.is_empty() {
        return Err(SettingsError::invalid(
            "telegram.webhook.tls_key",
            format!("{key:?} without a certificate"),
            "empty, or set together with telegram.webhook.tls_certificate (or telegram.certificate for a self-signed one): the key alone cannot serve TLS",
        ));
    }
    let config = server_config(certificate_key, Path::new(chain), Path::new(key))?;
    Ok(Some(WebhookTls {
        certificate: PathBuf::from(chain),
        certificate_key,
        key: PathBuf::from(key),
        config: Arc::new(config),
    }))
}

/// Reads both PEM files and checks that the key is the certificate's.
fn server_config(
    certificate_key: &'static str,
    chain_path: &Path,
    key_path: &Path,
) -> Result<rustls::ServerConfig, SettingsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(chain_path)
        .and_then(|certificates| certificates.collect())
        .map_err(|error| {
            SettingsError::invalid(
                certificate_key,
                format!("{chain_path:?} ({error})"),
                "a readable PEM file with the certificate chain, the bot's certificate first",
            )
        })?;
    if chain.is_empty() {
        return Err(SettingsError::invalid(
            certificate_key,
            format!("{chain_path:?} (no CERTIFICATE in it)"),
            "a PEM file with the certificate chain, the bot's certificate first",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|error| {
        SettingsError::invalid(
            "telegram.webhook.tls_key",
            format!("{key_path:?} ({error})"),
            "a PEM file the bot can read with the certificate's private key (PKCS#8, PKCS#1 or SEC1)",
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|error| {
            SettingsError::invalid(
                "telegram.webhook.tls_key",
                format!("{key_path:?} ({error})"),
                format!("the private key of the certificate in {chain_path:?} ({certificate_key})"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error_text, load_toml, with_token};

    const URL: &str =
        "use_webhook = true\n[telegram.webhook]\nurl = \"https://ci.example.org:8443/tg\"\n";

    #[test]
    fn url_and_listen() {
        let err = error_text(&with_token("use_webhook = true\n"));
        assert!(err.contains("telegram.webhook.url"), "{err}");
        let err = error_text(&with_token(
            "use_webhook = true\n[telegram.webhook]\nurl = \"https://ci.example.org:9000/tg\"\n",
        ));
        assert!(
            err.contains("port 9000") && err.contains("443, 80, 88 or 8443"),
            "{err}"
        );
        let err = error_text(&with_token(
            "use_webhook = true\n[telegram.webhook]\nurl = \"http://ci.example.org/tg\"\n",
        ));
        assert!(err.contains("https"), "{err}");
        let s = load_toml(&with_token(&format!("{URL}listen = \"127.0.0.1:9443\"\n"))).unwrap();
        let webhook = s.telegram.webhook.unwrap();
        assert_eq!(webhook.listen.port(), 9443);
        assert_eq!(webhook.secret_token, None);
        assert_eq!(webhook.max_connections, 40);
        assert!(webhook.tls.is_none());
    }

    #[test]
    fn listens_on_loopback_by_default() {
        let webhook = load_toml(&with_token(URL))
            .unwrap()
            .telegram
            .webhook
            .unwrap();
        assert_eq!(webhook.listen.to_string(), "127.0.0.1:8443");
    }

    #[test]
    fn secret_token_is_16_to_256_characters_of_telegrams_alphabet() {
        let secret =
            |token: &str| load_toml(&with_token(&format!("{URL}secret_token = \"{token}\"\n")));
        for bad in [
            "no spaces but long enough!",
            "short_secret123",
            "é-accented-secret-12",
            &"a".repeat(257),
        ] {
            let err = secret(bad).expect_err(bad).to_string();
            assert!(err.contains("telegram.webhook.secret_token"), "{err}");
            assert!(err.contains("16-256"), "{err}");
            assert!(!err.contains(bad), "the secret is not echoed: {err}");
        }
        for good in [
            "0123456789abcdef",
            "A-Za-z0-9_-A-Za-z0-9_-",
            &"x".repeat(256),
        ] {
            let webhook = secret(good).unwrap().telegram.webhook.unwrap();
            assert_eq!(webhook.secret_token.as_deref(), Some(good));
        }
    }

    /// A self-signed certificate and its key, written as PEM files in `dir`.
    fn pem_files(dir: &std::path::Path) -> (String, String) {
        let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let certificate = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&certificate, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
        (certificate.display().to_string(), key.display().to_string())
    }

    #[test]
    fn tls_from_the_uploaded_certificate_or_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, key) = pem_files(dir.path());
        let uploaded = format!(
            "use_webhook = true\ncertificate = \"{certificate}\"\n[telegram.webhook]\nurl = \"https://ci.example.org:8443/tg\"\ntls_key = \"{key}\"\n"
        );
        let tls = load_toml(&with_token(&uploaded))
            .unwrap()
            .telegram
            .webhook
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(tls.certificate_key, "telegram.certificate");
        assert_eq!(tls.certificate.display().to_string(), certificate);
        let own = format!("{URL}tls_certificate = \"{certificate}\"\ntls_key = \"{key}\"\n");
        let tls = load_toml(&with_token(&own))
            .unwrap()
            .telegram
            .webhook
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(tls.certificate_key, "telegram.webhook.tls_certificate");
        let debug = format!("{tls:?}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }

    #[test]
    fn tls_key_and_certificate_come_together() {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, key) = pem_files(dir.path());
        let err = error_text(&with_token(&format!("{URL}tls_key = \"{key}\"\n")));
        assert!(
            err.contains("telegram.webhook.tls_key") && err.contains("without a certificate"),
            "{err}"
        );
        let err = error_text(&with_token(&format!(
            "{URL}tls_certificate = \"{certificate}\"\n"
        )));
        assert!(
            err.contains("telegram.webhook.tls_certificate") && err.contains("tls_key"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_or_mismatched_tls_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, key) = pem_files(dir.path());
        let tls = |cert: &str, key: &str| {
            error_text(&with_token(&format!(
                "{URL}tls_certificate = \"{cert}\"\ntls_key = \"{key}\"\n"
            )))
        };
        let missing = dir.path().join("missing.pem").display().to_string();
        let err = tls(&missing, &key);
        assert!(
            err.contains("telegram.webhook.tls_certificate") && err.contains("missing.pem"),
            "{err}"
        );
        let err = tls(&certificate, &missing);
        assert!(
            err.contains("telegram.webhook.tls_key") && err.contains("missing.pem"),
            "{err}"
        );
        // the certificate where the key should be: PEM, but no key in it
        let err = tls(&certificate, &certificate);
        assert!(
            err.contains("telegram.webhook.tls_key") && err.contains("private key"),
            "{err}"
        );
        let err = tls(&key, &key);
        assert!(
            err.contains("telegram.webhook.tls_certificate") && err.contains("no CERTIFICATE"),
            "{err}"
        );
        // a key that belongs to another certificate
        let other = tempfile::tempdir().unwrap();
        let (_, other_key) = pem_files(other.path());
        let err = tls(&certificate, &other_key);
        assert!(
            err.contains("telegram.webhook.tls_key")
                && err.contains("private key of the certificate"),
            "{err}"
        );
        assert!(
            !err.contains("BEGIN"),
            "no key material in the message: {err}"
        );
    }
}
