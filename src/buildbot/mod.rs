//! Buildbot's public REST data API (`<url>api/v2/...`), read by a separate process.
//!
//! The bot never links against Buildbot: everything it knows comes from the same HTTP API
//! the web UI uses, so it works with any master a browser can reach. Masters with a www
//! login get one through `auth/login` (HTTP Basic), and the session cookie is reused for
//! every later request and renewed when the master stops accepting it.
//!
//! This file holds the client and the plumbing every request shares (URLs, GET and
//! JSON-RPC POST with the session, login, errors); the queries are grouped by concern:
//! `builds` (builds, steps, logs), `lists` (config, builders, workers,
//! changes) and `actions` (force, stop, rebuild), each adding its own `impl Client` block.
//! `events` is the websocket; `mirror` what it keeps of the master for the commands.

mod actions;
mod builds;
pub use builds::{Bound, PastBuild};
pub mod control;
pub mod events;
mod lists;
pub mod mirror;
pub mod models;
pub mod pidfile;

use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::{CookieStore, Jar};

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use url::Url;

use crate::settings::{BuildbotSettings, Credentials};
use actions::describe_fields;

/// Why a request to the master failed, said so that it can be shown to a user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the Buildbot master at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Buildbot master answered {status} for {url}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error(
        "the Buildbot master at {url} refused the login of user {user:?} ({status}); check buildbot.username and buildbot.password"
    )]
    Login {
        url: String,
        user: String,
        status: u16,
    },
    #[error(
        "the Buildbot master refused access to {url} ({message}); it requires a login: set buildbot.username and buildbot.password"
    )]
    LoginRequired { url: String, message: String },
    #[error("the Buildbot master refused: {}", describe_fields(.fields))]
    Rejected {
        fields: std::collections::BTreeMap<String, String>,
    },
    #[error("unexpected answer from {url}: {detail}")]
    Decode { url: String, detail: String },
}

impl Error {
    fn unreachable(url: &Url, err: reqwest::Error) -> Error {
        let reason = if err.is_timeout() {
            "timed out".to_owned()
        } else if err.is_connect() {
            "connection failed".to_owned()
        } else {
            err.without_url().to_string()
        };
        Error::Unreachable {
            url: url.to_string(),
            reason,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A client for one master. Cheap to share behind an `Arc`.
pub struct Client {
    http: reqwest::Client,
    /// The www session cookie lives here; the event websocket presents it too.
    cookies: Arc<Jar>,
    base: Url,
    credentials: Option<Credentials>,
    /// Serialises logins so that a burst of requests after an expiry logs in once.
    /// How many logins succeeded: a request that was refused with an older session logs in
    /// again only if nobody did meanwhile, so a burst of refusals costs one login.
    login: Mutex<u64>,
}

impl Client {
    pub fn new(settings: &BuildbotSettings) -> Client {
        let cookies = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(cookies.clone())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            // the master's web server (Twisted) drops a connection idle for 60 s: never send a
            // request on one it may be dropping at that moment
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("buildbot-telegram/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a reqwest client with rustls and cookies always builds");
        Client {
            http,
            cookies,
            base: settings.url.clone(),
            credentials: settings.credentials.clone(),
            login: Mutex::new(0),
        }
    }

    /// The master's web UI, as configured.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Link to a builder's page in the web UI.
    pub fn builder_url(&self, builderid: i64) -> String {
        format!("{}#/builders/{builderid}", self.base)
    }

    /// Link to a build's page in the web UI.
    pub fn build_url(&self, builderid: i64, number: i64) -> String {
        format!("{}#/builders/{builderid}/builds/{number}", self.base)
    }

    /// Link to a build request's page in the web UI (what force and rebuild hand back).
    pub fn buildrequest_url(&self, buildrequestid: i64) -> String {
        format!("{}#/buildrequests/{buildrequestid}", self.base)
    }

    /// The event websocket's URL (`ws[s]://<url>ws`) and the `Cookie` header to present,
    /// after logging in when the master needs it (since Buildbot 4.3 the websocket requires
    /// the same session as REST).
    pub async fn websocket(&self) -> Result<(Url, Option<String>)> {
        self.ensure_logged_in().await?;
        let mut url = self.url("ws")?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        let _ = url.set_scheme(scheme);
        let cookie = self
            .cookies
            .cookies(&self.base)
            .and_then(|value| value.to_str().ok().map(str::to_owned));
        Ok((url, cookie))
    }

    /// A JSON-RPC 2.0 control call, with the www session; returns `result`.
    async fn call(
        &self,
        path: &str,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let url = self.api_url(path, &[])?;
        let session = self.ensure_logged_in().await?;
        let body =
            serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
        let send = || async {
            log::debug!("POST {url} {method}");
            self.http
                .post(url.clone())
                .json(&body)
                .send()
                .await
                .map_err(|e| Error::unreachable(&url, e))
        };
        let mut response = send().await?;
        if response.status() == StatusCode::UNAUTHORIZED && self.credentials.is_some() {
            self.renew_login(session).await?;
            response = send().await?;
        }
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| Error::unreachable(&url, e))?;
        rpc_result(&url, status, &text)
    }

    async fn collection<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        key: &str,
    ) -> Result<Vec<T>> {
        let url = self.api_url(path, query)?;
        let mut body = self.get_json(&url).await?;
        match body.get_mut(key) {
            Some(items) => decode(&url, items.take()),
            None => Err(Error::Decode {
                url: url.to_string(),
                detail: format!("no {key:?} list in the answer"),
            }),
        }
    }

    fn api_url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.url(&format!("api/v2/{path}"))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base.join(path).map_err(|e| Error::Decode {
            url: format!("{}{path}", self.base),
            detail: e.to_string(),
        })
    }

    /// GET with the session cookie; logs in first when credentials are set, and once more
    /// when the master says the session is no longer good.
    async fn get_json(&self, url: &Url) -> Result<serde_json::Value> {
        let session = self.ensure_logged_in().await?;
        let response = self.send_get(url).await?;
        let response = match response.status() {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if self.credentials.is_some() => {
                log::info!(
                    "Buildbot session no longer accepted ({}); logging in again",
                    response.status()
                );
                self.renew_login(session).await?;
                self.send_get(url).await?
            }
            _ => response,
        };
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| Error::unreachable(url, e))?;
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
            && self.credentials.is_none()
        {
            return Err(Error::LoginRequired {
                url: url.to_string(),
                message: error_message(&text),
            });
        }
        if !status.is_success() {
            return Err(Error::Status {
                url: url.to_string(),
                status: status.as_u16(),
                message: error_message(&text),
            });
        }
        serde_json::from_str(&text).map_err(|e| Error::Decode {
            url: url.to_string(),
            detail: format!("not JSON ({e})"),
        })
    }

    /// Logs in once, when credentials are set; returns the session's number.
    async fn ensure_logged_in(&self) -> Result<u64> {
        let mut logins = self.login.lock().await;
        if self.credentials.is_some() && *logins == 0 {
            self.log_in().await?;
            *logins = 1;
        }
        Ok(*logins)
    }

    /// Logs in again after session `refused` was turned away, unless another request already did.
    async fn renew_login(&self, refused: u64) -> Result<()> {
        let mut logins = self.login.lock().await;
        if *logins == refused {
            self.log_in().await?;
            *logins += 1;
        }
        Ok(())
    }

    async fn send_get(&self, url: &Url) -> Result<reqwest::Response> {
        log::debug!("GET {url}");
        self.http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| Error::unreachable(url, e))
    }

    async fn log_in(&self) -> Result<()> {
        let Some(credentials) = &self.credentials else {
            return Ok(());
        };
        let url = self.url("auth/login")?;
        log::info!(
            "logging in to Buildbot at {url} as {:?}",
            credentials.username
        );
        let response = self
            .http
            .get(url.clone())
            .basic_auth(&credentials.username, Some(&credentials.password))
            .send()
            .await
            .map_err(|e| Error::unreachable(&url, e))?;
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            Ok(())
        } else {
            Err(Error::Login {
                url: url.to_string(),
                user: credentials.username.clone(),
                status: status.as_u16(),
            })
        }
    }
}

/// A JSON-RPC answer's `result`; its `error` becomes [`Error::Rejected`] when Buildbot
/// names the fields it refused (force parameters), so each can be shown to the user.
fn rpc_result(url: &Url, status: StatusCode, text: &str) -> Result<serde_json::Value> {
    let answer: serde_json::Value = serde_json::from_str(text).map_err(|_| Error::Status {
        url: url.to_string(),
        status: status.as_u16(),
        message: error_message(text),
    })?;
    let error = &answer["error"];
    if error.is_null() && status.is_success() {
        return Ok(answer["result"].clone());
    }
    match &error["message"] {
        serde_json::Value::Object(fields) => Err(Error::Rejected {
            fields: fields
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect(),
        }),
        message => Err(Error::Status {
            url: url.to_string(),
            status: status.as_u16(),
            message: message
                .as_str()
                .map_or_else(|| message.to_string(), str::to_owned),
        }),
    }
}

/// A 404 for a single entity means "there is none".
fn not_found_is_empty<T>(error: Error) -> Result<Vec<T>> {
    match error {
        Error::Status { status: 404, .. } => Ok(Vec::new()),
        other => Err(other),
    }
}

fn decode<T: DeserializeOwned>(url: &Url, value: serde_json::Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Decode {
        url: url.to_string(),
        detail: e.to_string(),
    })
}

/// Buildbot's error bodies are `{"error": "..."}`; anything else is shortened.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}
