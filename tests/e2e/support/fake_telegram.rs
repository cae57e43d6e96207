//! A fake Telegram Bot API server on 127.0.0.1, speaking the real wire format.
//!
//! Requests arrive as `/bot<TOKEN>/<method>` with JSON, form or multipart bodies (teloxide sends
//! method names in PascalCase; Telegram ignores case, so does this). Answers are
//! `{"ok":true,"result":...}` or Telegram's error bodies, including `parameters.retry_after` and
//! `parameters.migrate_to_chat_id`. Tests queue updates, read back every call the bot made, and
//! script faults for the next call of a method, or for every call to one chat.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

pub const TOKEN: &str = "123456789:AAHtestTOKENdoNotLeak_0123456789abc";
pub const BOT_ID: i64 = 123_456_789;
pub const BOT_USERNAME: &str = "BuildbotTestBot";

/// One call the bot made.
#[derive(Debug, Clone)]
pub struct Call {
    /// Lowercased method name, e.g. "sendmessage".
    pub method: String,
    pub params: Value,
    /// What the fake answered with (`result` on success).
    pub result: Value,
    /// When the request arrived (the benchmark measures latencies with it).
    #[allow(dead_code)]
    pub at: Instant,
}

impl Call {
    pub fn chat_id(&self) -> Option<i64> {
        self.params["chat_id"].as_i64()
    }

    pub fn text(&self) -> &str {
        self.params["text"].as_str().unwrap_or("")
    }

    /// The callback data of every inline button, row by row.
    pub fn buttons(&self) -> Vec<(String, String)> {
        self.buttons_with("callback_data")
    }

    /// The URL of every inline link button, row by row.
    pub fn url_buttons(&self) -> Vec<(String, String)> {
        self.buttons_with("url")
    }

    /// Every inline button's label and its `field`, row by row.
    fn buttons_with(&self, field: &str) -> Vec<(String, String)> {
        self.params["reply_markup"]["inline_keyboard"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|row| row.as_array().into_iter().flatten())
            .map(|b| {
                (
                    b["text"].as_str().unwrap_or("").to_owned(),
                    b[field].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }
}

/// A scripted answer for the next call of a method.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The HTTP status, or what to do instead: 0 drop the connection, 1 delay, 2 an HTML page.
    pub status: u16,
    pub body: Value,
}

impl Fault {
    pub fn retry_after(seconds: u64) -> Fault {
        Fault {
            status: 429,
            body: json!({"ok": false, "error_code": 429,
                "description": format!("Too Many Requests: retry after {seconds}"),
                "parameters": {"retry_after": seconds}}),
        }
    }

    /// A group that became a supergroup: Telegram names the new chat id.
    pub fn migrated(new_chat_id: i64) -> Fault {
        Fault {
            status: 400,
            body: json!({"ok": false, "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": new_chat_id}}),
        }
    }

    /// Closes the connection without an answer (a dropped connection).
    pub fn drop_connection() -> Fault {
        Fault {
            status: 0,
            body: Value::Null,
        }
    }

    /// Holds the call for `delay`, then answers it as usual (a slow Telegram).
    pub fn delay(delay: Duration) -> Fault {
        Fault {
            status: 1,
            body: json!({"delay_ms": delay.as_millis() as u64}),
        }
    }

    /// An HTML error page with `status`, as a proxy in front of the Bot API answers a path it
    /// has no route for: it echoes the path, `/bot<TOKEN>/<method>`, token included.
    pub fn error_page(status: u16) -> Fault {
        Fault {
            status: 2,
            body: json!({"status": status}),
        }
    }

    pub fn api_error(status: u16, description: &str) -> Fault {
        Fault {
            status,
            body: json!({"ok": false, "error_code": status, "description": description}),
        }
    }
}

#[derive(Default)]
struct Inner {
    updates: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: i64,
    next_callback_id: i64,
    calls: Vec<Call>,
    /// Scripted answers by method, each optionally only for one chat.
    faults: HashMap<String, VecDeque<(Option<i64>, Fault)>>,
    /// Standing answers by method and chat: every call, until healed.
    standing: HashMap<(String, i64), Fault>,
    /// Messages the bot sent, by id, so a test can tap their buttons.
    sent: HashMap<i64, Value>,
    /// When set, Telegram's limits are enforced with 429 answers, as Telegram does.
    limits: Option<Enforced>,
    /// How many 429s the limits produced.
    throttled: usize,
    /// How long a long poll with nothing to give is held at most (`None`: 2 s, so that a
    /// test's bot stops quickly).
    long_polls: Option<Duration>,
    /// getUpdates calls that arrived (a held one is recorded only when it is answered).
    polls: usize,
}

/// Telegram's limits as the fake enforces them: sliding windows over arrival times.
#[derive(Default)]
struct Enforced {
    overall: VecDeque<Instant>,
    chats: HashMap<String, VecDeque<Instant>>,
}

impl Enforced {
    /// Counts a message to `chat` and says whether it broke a limit: more than 30 in a
    /// second overall, more than 1 in a second to a chat, more than 20 in a minute to a group.
    fn breaks_limits(&mut self, chat: &Value, now: Instant) -> bool {
        let key = chat.to_string();
        let group = chat.as_i64().is_none_or(|id| id < 0);
        let second = Duration::from_secs(1);
        while self
            .overall
            .front()
            .is_some_and(|t| now.duration_since(*t) >= second)
        {
            self.overall.pop_front();
        }
        let sent = self.chats.entry(key).or_default();
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            sent.pop_front();
        }
        let in_second = sent
            .iter()
            .filter(|t| now.duration_since(**t) < second)
            .count();
        if self.overall.len() >= 30 || in_second >= 1 || (group && sent.len() >= 20) {
            return true;
        }
        self.overall.push_back(now);
        sent.push_back(now);
        false
    }
}

struct Shared {
    inner: Mutex<Inner>,
    /// Bumped on every new update and every recorded call.
    changed: watch::Sender<u64>,
}

impl Shared {
    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

#[derive(Clone)]
pub struct FakeTelegram {
    shared: Arc<Shared>,
    pub url: String,
}

impl Drop for FakeTelegram {
    /// For every test, whatever it was about: nothing the bot sent to Telegram (which chats
    /// show) holds the token, whole or its part after `:`.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let part = TOKEN.split_once(':').map_or(TOKEN, |(_, part)| part);
        for call in self.calls() {
            let params = call.params.to_string();
            assert!(
                !params.contains(TOKEN) && !params.contains(part),
                "{} to Telegram holds the token: {params}",
                call.method
            );
        }
    }
}

/// A Telegram user as the tests play them.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: i64,
    pub first_name: &'static str,
    pub username: &'static str,
}

pub const ALICE: Person = Person {
    id: 111_111,
    first_name: "Alice",
    username: "alice",
};
pub const CAROL: Person = Person {
    id: 333_333,
    first_name: "Carol",
    username: "carol",
};
pub const BOB: Person = Person {
    id: 222_222,
    first_name: "Bob",
    username: "bob",
};

impl Person {
    fn json(&self) -> Value {
        json!({"id": self.id, "is_bot": false, "first_name": self.first_name, "username": self.username, "language_code": "en"})
    }
}

fn chat_json(chat: &Value) -> Value {
    if let Some(name) = chat.as_str() {
        return json!({"id": -1_001_999_000_111i64, "type": "channel", "title": "Channel", "username": name.trim_start_matches('@')});
    }
    let id = chat.as_i64().unwrap_or(0);
    if id > 0 {
        json!({"id": id, "type": "private", "first_name": "User"})
    } else if id < -1_000_000_000_000 {
        json!({"id": id, "type": "supergroup", "title": "Test supergroup"})
    } else {
        json!({"id": id, "type": "group", "title": "Test group", "all_members_are_administrators": false})
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl FakeTelegram {
    /// A fake that answers 429 (retry_after 1) whenever the bot breaks Telegram's limits.
    pub async fn start_with_limits() -> FakeTelegram {
        let fake = FakeTelegram::start().await;
        fake.shared.inner.lock().unwrap().limits = Some(Enforced::default());
        fake
    }

    /// Holds long polls as long as the bot asks (up to `up_to`), as Telegram does; tests
    /// keep 2 s, which makes an idle bot poll far more often than with Telegram.
    pub fn hold_long_polls(&self, up_to: Duration) {
        self.shared.inner.lock().unwrap().long_polls = Some(up_to);
    }

    /// How many getUpdates calls arrived so far, answered or still held.
    pub fn polls(&self) -> usize {
        self.shared.inner.lock().unwrap().polls
    }

    /// How many times the emulated limits answered 429.
    pub fn throttled(&self) -> usize {
        self.shared.inner.lock().unwrap().throttled
    }

    pub async fn start() -> FakeTelegram {
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            changed,
        });
        {
            let mut inner = shared.inner.lock().unwrap();
            inner.next_update_id = 1000;
            inner.next_message_id = 1;
            inner.next_callback_id = 1;
        }
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram { shared, url }
    }

    /// Queues an update; `update_id` is assigned here.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = {
            let mut inner = self.shared.inner.lock().unwrap();
            let id = inner.next_update_id;
            inner.next_update_id += 1;
            update["update_id"] = json!(id);
            inner.updates.push_back(update);
            id
        };
        self.shared.bump();
        id
    }

    /// Takes back the update pushed last, not polled yet: to post it to a webhook instead.
    pub fn pop_update(&self) -> Value {
        let mut inner = self.shared.inner.lock().unwrap();
        inner.updates.pop_back().expect("an update waits")
    }

    fn message(&self, chat: Value, from: &Person, text: &str) -> Value {
        let message_id = {
            let mut inner = self.shared.inner.lock().unwrap();
            inner.next_message_id += 1;
            inner.next_message_id
        };
        let mut message = json!({"message_id": message_id, "date": now(), "chat": chat, "from": from.json(), "text": text});
        if text.starts_with('/') {
            let command = text.split_whitespace().next().unwrap_or("");
            let length: usize = command.chars().map(char::len_utf16).sum();
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": length}]);
        }
        message
    }

    /// `from` writes `text` to the bot in a private chat.
    pub fn private_message(&self, from: &Person, text: &str) {
        let chat = chat_json(&json!(from.id));
        let message = self.message(chat, from, text);
        self.push_update(json!({"message": message}));
    }

    /// `from` writes `text` in the group `chat_id` (negative).
    pub fn group_message(&self, chat_id: i64, from: &Person, text: &str) {
        let chat = chat_json(&json!(chat_id));
        let message = self.message(chat, from, text);
        self.push_update(json!({"message": message}));
    }

    /// `from` writes `text` in topic `thread` of the forum supergroup `chat_id`.
    pub fn topic_message(&self, chat_id: i64, thread: i64, from: &Person, text: &str) {
        let mut chat = chat_json(&json!(chat_id));
        chat["is_forum"] = json!(true);
        let mut message = self.message(chat, from, text);
        message["message_thread_id"] = json!(thread);
        message["is_topic_message"] = json!(true);
        self.push_update(json!({"message": message}));
    }

    /// An anonymous group admin writes `text` in `chat_id`: Telegram sends the group as
    /// `sender_chat` and a stand-in bot user as `from`.
    pub fn anonymous_group_message(&self, chat_id: i64, text: &str) {
        let chat = chat_json(&json!(chat_id));
        let stand_in = Person {
            id: 1_087_968_824,
            first_name: "Group",
            username: "GroupAnonymousBot",
        };
        let mut message = self.message(chat.clone(), &stand_in, text);
        message["from"]["is_bot"] = json!(true);
        message["sender_chat"] = chat;
        self.push_update(json!({"message": message}));
    }

    /// `from` taps a button with `data` under the message the bot sent as `sent`.
    pub fn tap(&self, from: &Person, sent: &Call, data: &str) -> String {
        let message_id = sent.result["message_id"]
            .as_i64()
            .expect("the call sent a message");
        let (message, id) = {
            let mut inner = self.shared.inner.lock().unwrap();
            inner.next_callback_id += 1;
            (
                inner.sent.get(&message_id).cloned().expect("known message"),
                format!("cbq-{}", inner.next_callback_id),
            )
        };
        self.push_update(json!({"callback_query": {
            "id": id, "from": from.json(), "chat_instance": "test-instance", "data": data, "message": message,
        }}));
        id
    }

    /// `from` taps `data` under `sent` when Telegram no longer gives the message (older than
    /// 48 hours): the update carries an inaccessible message, chat and id with date 0 and no
    /// keyboard. Returns the bot's answerCallbackQuery.
    pub async fn tap_inaccessible(&self, from: &Person, sent: &Call, data: &str) -> Call {
        let message_id = sent.result["message_id"].clone();
        let chat = sent.result["chat"].clone();
        let id = {
            let mut inner = self.shared.inner.lock().unwrap();
            inner.next_callback_id += 1;
            format!("cbq-{}", inner.next_callback_id)
        };
        let mark = self.mark();
        self.push_update(json!({"callback_query": {
            "id": id, "from": from.json(), "chat_instance": "test-instance", "data": data,
            "message": {"chat": chat, "message_id": message_id, "date": 0},
        }}));
        self.wait_for(mark, "answerCallbackQuery", |c| {
            c.params["callback_query_id"] == id
        })
        .await
    }

    /// Taps a button and returns the bot's answerCallbackQuery for that tap.
    pub async fn tap_and_answer(&self, from: &Person, sent: &Call, data: &str) -> Call {
        let mark = self.mark();
        let tap = self.tap(from, sent, data);
        self.wait_for(mark, "answerCallbackQuery", |c| {
            c.params["callback_query_id"] == tap
        })
        .await
    }

    /// Makes the next call of `method` fail with `fault` (several queue up in order).
    pub fn inject(&self, method: &str, fault: Fault) {
        let mut inner = self.shared.inner.lock().unwrap();
        inner
            .faults
            .entry(method.to_lowercase())
            .or_default()
            .push_back((None, fault));
    }

    /// Like [`FakeTelegram::inject`], for the next call of `method` to one chat only.
    pub fn inject_for(&self, method: &str, chat: i64, fault: Fault) {
        let mut inner = self.shared.inner.lock().unwrap();
        inner
            .faults
            .entry(method.to_lowercase())
            .or_default()
            .push_back((Some(chat), fault));
    }

    /// Makes every call of `method` to `chat` fail with `fault` (a chat whose server is
    /// sick), until [`FakeTelegram::heal`]; faults queued with `inject_for` still come first.
    pub fn fail_forever(&self, method: &str, chat: i64, fault: Fault) {
        let mut inner = self.shared.inner.lock().unwrap();
        inner.standing.insert((method.to_lowercase(), chat), fault);
    }

    /// Ends every [`FakeTelegram::fail_forever`] for `chat`.
    pub fn heal(&self, chat: i64) {
        let mut inner = self.shared.inner.lock().unwrap();
        inner.standing.retain(|(_, c), _| *c != chat);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.inner.lock().unwrap().calls.clone()
    }

    /// The calls after `mark`, without copying the ones before it (a fan-out logs thousands).
    pub fn calls_since(&self, mark: usize) -> Vec<Call> {
        let inner = self.shared.inner.lock().unwrap();
        inner.calls.get(mark..).unwrap_or_default().to_vec()
    }

    /// A position in the call log; `wait_for` looks only after it.
    pub fn mark(&self) -> usize {
        self.shared.inner.lock().unwrap().calls.len()
    }

    /// Waits (up to 30 s) for a call of `method` after `mark` that satisfies `pred`.
    pub async fn wait_for(&self, mark: usize, method: &str, pred: impl Fn(&Call) -> bool) -> Call {
        self.wait_for_any(mark, &[method], pred).await
    }

    /// Like [`FakeTelegram::wait_for`], for a call of any of `methods`.
    pub async fn wait_for_any(
        &self,
        mark: usize,
        methods: &[&str],
        pred: impl Fn(&Call) -> bool,
    ) -> Call {
        let methods: Vec<String> = methods.iter().map(|m| m.to_lowercase()).collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut changed = self.shared.changed.subscribe();
        loop {
            if let Some(call) = self
                .calls_since(mark)
                .into_iter()
                .find(|c| methods.contains(&c.method) && pred(c))
            {
                return call;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, changed.changed()).await.is_err() {
                let log: Vec<String> = self
                    .calls()
                    .iter()
                    .skip(mark)
                    .map(|c| format!("{} {}", c.method, c.params))
                    .collect();
                panic!(
                    "no {methods:?} call came within 30 s; calls since the mark:\n{}",
                    log.join("\n")
                );
            }
        }
    }

    /// The next message the bot sends to `chat` after `mark`.
    pub async fn reply_in(&self, mark: usize, chat: i64) -> Call {
        self.wait_for(mark, "sendMessage", |c| c.chat_id() == Some(chat))
            .await
    }

    /// Sends `text` privately as `from` and returns the bot's first answer.
    pub async fn ask(&self, from: &Person, text: &str) -> Call {
        let mark = self.mark();
        self.private_message(from, text);
        self.reply_in(mark, from.id).await
    }

    /// Messages Telegram accepted for `chat` after `mark` that contain `needle`.
    /// Waits (up to `within`) until at least `at_least` of `chats` got a message holding
    /// `needle` since `mark`; says which never did.
    pub async fn wait_delivered(
        &self,
        mark: usize,
        chats: std::ops::Range<i64>,
        needle: &str,
        at_least: usize,
        within: Duration,
    ) {
        let deadline = Instant::now() + within;
        loop {
            // one pass over the calls: a 1,000-chat fan-out is polled without much work
            let got: std::collections::HashSet<i64> = self
                .calls_since(mark)
                .iter()
                .filter(|c| c.method == "sendmessage" && c.result["message_id"].is_i64())
                .filter(|c| c.text().contains(needle))
                .filter_map(Call::chat_id)
                .filter(|c| chats.contains(c))
                .collect();
            if got.len() >= at_least {
                return;
            }
            let missing: Vec<i64> = chats.clone().filter(|c| !got.contains(c)).collect();
            assert!(
                Instant::now() < deadline,
                "{} of {} chats got {needle} within {within:?}; not: {:?}…",
                got.len(),
                at_least,
                &missing[..missing.len().min(10)]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn delivered(&self, mark: usize, chat: i64, needle: &str) -> usize {
        self.sent_since(mark, "sendMessage", chat)
            .iter()
            .filter(|c| c.result["message_id"].is_i64() && c.text().contains(needle))
            .count()
    }

    /// Every call of `method` to `chat` after `mark`.
    pub fn sent_since(&self, mark: usize, method: &str, chat: i64) -> Vec<Call> {
        let method = method.to_lowercase();
        self.calls()
            .into_iter()
            .skip(mark)
            .filter(|c| c.method == method && c.chat_id() == Some(chat))
            .collect()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some((token, method)) = path
        .strip_prefix("/bot")
        .and_then(|rest| rest.split_once('/'))
    else {
        return error(404, "Not Found");
    };
    let (token, method) = (token.to_owned(), method.to_lowercase());
    let params = match read_params(request).await {
        Ok(params) => params,
        Err(message) => return error(400, &format!("Bad Request: {message}")),
    };
    if token != TOKEN {
        return error(401, "Unauthorized");
    }
    if method == "getupdates" {
        return get_updates(&shared, &params).await;
    }

    let fault = {
        let mut inner = shared.inner.lock().unwrap();
        let chat = params["chat_id"].as_i64();
        let scripted = inner.faults.get_mut(&method).and_then(|queue| {
            let index = queue
                .iter()
                .position(|(only, _)| only.is_none() || *only == chat)?;
            queue.remove(index).map(|(_, fault)| fault)
        });
        scripted.or_else(|| {
            let chat = chat?;
            inner.standing.get(&(method.clone(), chat)).cloned()
        })
    };
    if let Some(fault) = fault.as_ref().filter(|f| f.status == 2) {
        record(&shared, &method, params, fault.body.clone());
        let status = fault.body["status"].as_u64().unwrap_or(404) as u16;
        let page = format!(
            "<html><head><title>{status}</title></head>\n<body><h1>{status}</h1>\n<p>No route for {path}</p></body></html>\n"
        );
        return (
            StatusCode::from_u16(status).unwrap(),
            axum::response::Html(page),
        )
            .into_response();
    }
    if let Some(fault) = fault.as_ref().filter(|f| f.status == 1) {
        let delay = fault.body["delay_ms"].as_u64().unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(delay)).await;
    } else if let Some(fault) = fault {
        record(&shared, &method, params, fault.body.clone());
        if fault.status == 0 {
            // axum drops the connection of a handler that panics
            panic!("fake Telegram drops this connection, as asked");
        }
        return (
            StatusCode::from_u16(fault.status).unwrap(),
            axum::Json(fault.body),
        )
            .into_response();
    }

    if let Some(problem) = markup_problem(&params["reply_markup"]) {
        let body = json!({"ok": false, "error_code": 400, "description": problem});
        record(&shared, &method, params, body.clone());
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }

    if matches!(
        method.as_str(),
        "sendmessage" | "editmessagetext" | "editmessagereplymarkup"
    ) {
        let broke = {
            let mut inner = shared.inner.lock().unwrap();
            let now = Instant::now();
            let broke = inner
                .limits
                .as_mut()
                .is_some_and(|l| l.breaks_limits(&params["chat_id"], now));
            if broke {
                inner.throttled += 1;
            }
            broke
        };
        if broke {
            let body = Fault::retry_after(1).body;
            record(&shared, &method, params, body.clone());
            return (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
        }
    }

    let result = match method.as_str() {
        "getme" => {
            json!({"id": BOT_ID, "is_bot": true, "first_name": "Buildbot", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false})
        }
        "getwebhookinfo" => {
            json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0})
        }
        "sendmessage" | "editmessagetext" | "editmessagereplymarkup" => {
            let mut inner = shared.inner.lock().unwrap();
            let message_id = match params["message_id"].as_i64() {
                Some(id) => id,
                None => {
                    inner.next_message_id += 1;
                    inner.next_message_id
                }
            };
            let mut message = inner.sent.get(&message_id).cloned().unwrap_or_else(|| {
                json!({"message_id": message_id, "date": now(), "chat": chat_json(&params["chat_id"]),
                    "from": {"id": BOT_ID, "is_bot": true, "first_name": "Buildbot", "username": BOT_USERNAME}})
            });
            if let Some(text) = params.get("text") {
                message["text"] = text.clone();
            }
            match params.get("reply_markup") {
                Some(markup) => message["reply_markup"] = markup.clone(),
                None if method == "editmessagereplymarkup" => {
                    message.as_object_mut().unwrap().remove("reply_markup");
                }
                None => {}
            }
            inner.sent.insert(message_id, message.clone());
            message
        }
        "setmycommands"
        | "deletewebhook"
        | "setwebhook"
        | "answercallbackquery"
        | "deletemessage"
        | "setchatmenubutton"
        | "sendchataction" => json!(true),
        _ => {
            let body = json!({"ok": false, "error_code": 404, "description": format!("Not Found: method {method} is not faked")});
            record(&shared, &method, params, body.clone());
            return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
        }
    };
    record(&shared, &method, params, result.clone());
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

/// What Telegram refuses in an inline keyboard, with its own words: more than 100 buttons,
/// callback data over 64 bytes, URL buttons whose scheme is not http, https or tg, or whose
/// host has no dot (`localhost`, an intranet name).
fn markup_problem(markup: &Value) -> Option<&'static str> {
    let rows = markup["inline_keyboard"].as_array()?;
    let buttons: Vec<&Value> = rows
        .iter()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .collect();
    if buttons.len() > 100 {
        return Some("Bad Request: reply markup is too long");
    }
    for button in buttons {
        if let Some(data) = button["callback_data"].as_str()
            && data.len() > 64
        {
            return Some("Bad Request: BUTTON_DATA_INVALID");
        }
        if let Some(url) = button["url"].as_str() {
            let accepted = match url.split_once("://") {
                Some(("tg", _)) => true,
                Some(("http" | "https", rest)) => {
                    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
                    let host = host.split(':').next().unwrap_or_default();
                    host.contains('.')
                }
                _ => false,
            };
            if !accepted {
                return Some("Bad Request: BUTTON_URL_INVALID");
            }
        }
    }
    None
}

fn record(shared: &Shared, method: &str, params: Value, result: Value) {
    shared.inner.lock().unwrap().calls.push(Call {
        method: method.to_owned(),
        params,
        result,
        at: Instant::now(),
    });
    shared.bump();
}

fn error(status: u16, description: &str) -> Response {
    let body = json!({"ok": false, "error_code": status, "description": description});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

/// Long polling with offsets, as Telegram does it: updates below `offset` are confirmed and
/// dropped; with none pending the call waits up to `timeout` seconds (at most 2 unless
/// [`FakeTelegram::hold_long_polls`] said more).
async fn get_updates(shared: &Shared, params: &Value) -> Response {
    let offset = params["offset"].as_i64().unwrap_or(0);
    let limit = params["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let cap = {
        let mut inner = shared.inner.lock().unwrap();
        inner.polls += 1;
        inner.long_polls
    };
    let asked = Duration::from_secs(params["timeout"].as_u64().unwrap_or(0));
    let timeout = asked.min(cap.unwrap_or(Duration::from_secs(2)));
    let deadline = Instant::now() + timeout;
    let mut changed = shared.changed.subscribe();
    loop {
        let updates: Vec<Value> = {
            let mut inner = shared.inner.lock().unwrap();
            inner
                .updates
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            inner.updates.iter().take(limit).cloned().collect()
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if !updates.is_empty()
            || left.is_zero()
            || tokio::time::timeout(left, changed.changed()).await.is_err()
        {
            record(shared, "getupdates", params.clone(), json!(updates.len()));
            return axum::Json(json!({"ok": true, "result": updates})).into_response();
        }
    }
}

/// Query string, then a JSON, form or multipart body, merged into one object. Form and
/// multipart fields that hold JSON (reply_markup, ...) are parsed, as Telegram does.
async fn read_params(request: Request) -> Result<Value, String> {
    let mut params = Map::new();
    if let Some(query) = request.uri().query() {
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            params.insert(k.into_owned(), field_value(&v));
        }
    }
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| e.to_string())?;
        while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|e| e.to_string())?;
            let value = match file_name {
                // small text files (a certificate) are kept whole, for tests to compare
                Some(file) => match std::str::from_utf8(&bytes) {
                    Ok(text) if bytes.len() <= 16 << 10 => {
                        json!({"file_name": file, "size": bytes.len(), "text": text})
                    }
                    _ => json!({"file_name": file, "size": bytes.len()}),
                },
                None => field_value(&String::from_utf8_lossy(&bytes)),
            };
            params.insert(name, value);
        }
        // Files are sent as parts and named in a field as "attach://<part>" (Bot API).
        let attached: Vec<(String, String)> = params
            .iter()
            .filter_map(|(k, v)| {
                Some((k.clone(), v.as_str()?.strip_prefix("attach://")?.to_owned()))
            })
            .collect();
        for (field, part) in attached {
            if let Some(file) = params.remove(&part) {
                params.insert(field, file);
            }
        }
        return Ok(Value::Object(params));
    }
    let body: Bytes = axum::body::to_bytes(request.into_body(), 10 << 20)
        .await
        .map_err(|e| e.to_string())?;
    if body.is_empty() {
        return Ok(Value::Object(params));
    }
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string())? {
            Value::Object(object) => params.extend(object),
            _ => return Err("the JSON body must be an object".into()),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in url::form_urlencoded::parse(&body) {
            params.insert(k.into_owned(), field_value(&v));
        }
    } else {
        return Err(format!("unsupported content type {content_type:?}"));
    }
    Ok(Value::Object(params))
}

fn field_value(text: &str) -> Value {
    if text.starts_with('{')
        || text.starts_with('[')
        || text.parse::<i64>().is_ok()
        || text == "true"
        || text == "false"
    {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
    } else {
        Value::String(text.to_owned())
    }
}
