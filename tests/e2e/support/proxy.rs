//! A fault-injecting HTTP proxy in front of a real master. The bot's `buildbot.url` points
//! here; every request goes on to the master, except those a test told to fail: the first N
//! requests whose path matches a pattern are answered with a status, stalled, or have their
//! connection dropped.
//!
//! The bot derives the event websocket from the same URL (`ws://<host>/ws`), so the proxy
//! carries it too, as a byte tunnel after the upgrade request (which the rules see like any
//! other request, so a test can refuse reconnects); [`Proxy::cut_websockets`] drops every
//! tunnel open at the time, as a network failure would.
//!
//! Plain requests are forwarded one per connection (`Connection: close` both ways): every
//! request opens a new connection, so every one of them passes the rules.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What a matching request gets instead of the master's answer.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// This status, with a JSON error body like the master's.
    Status(u16),
    /// The master's answer, this much later.
    Stall(Duration),
    /// No answer: the connection is closed once the request is read.
    Drop,
}

struct Rule {
    pattern: String,
    fault: Fault,
    left: usize,
}

struct Shared {
    /// The master's `host:port`.
    upstream: String,
    rules: Mutex<Vec<Rule>>,
    /// Every request's path (without the query), and whether a fault answered it.
    seen: Mutex<Vec<(String, bool)>>,
    /// Counts the requests, for waiting on them.
    requests: watch::Sender<usize>,
    /// Bumped to cut every websocket tunnel open at the time.
    cut: watch::Sender<u64>,
}

pub struct Proxy {
    /// The proxy's base URL, with a trailing slash: `buildbot.url` for the bot.
    pub url: String,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Starts a proxy in front of the master at `master_url` (`http://host:port/`).
    pub async fn start(master_url: &str) -> Proxy {
        let upstream = master_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            upstream,
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            requests: watch::Sender::new(0),
            cut: watch::Sender::new(0),
        });
        let serving = shared.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(serving.clone(), client));
            }
        });
        Proxy { url, shared }
    }

    /// The next `times` requests whose path matches `pattern` get `fault`; it replaces an
    /// earlier rule for the same pattern. Patterns are paths where `*` stands for one segment,
    /// e.g. `/api/v2/builds/*/steps`; the query is not part of the path.
    pub fn fail(&self, pattern: &str, fault: Fault, times: usize) {
        let mut rules = self.shared.rules.lock().unwrap();
        rules.retain(|r| r.pattern != pattern);
        rules.push(Rule {
            pattern: pattern.to_owned(),
            fault,
            left: times,
        });
    }

    /// Requests matching `pattern` reach the master again.
    pub fn heal(&self, pattern: &str) {
        self.shared
            .rules
            .lock()
            .unwrap()
            .retain(|r| r.pattern != pattern);
    }

    /// Every request reaches the master again.
    pub fn heal_all(&self) {
        self.shared.rules.lock().unwrap().clear();
    }

    /// How many requests matching `pattern` came so far.
    pub fn requests(&self, pattern: &str) -> usize {
        self.count(pattern, false)
    }

    /// How many requests came so far: a mark for [`Proxy::paths_since`].
    pub fn mark(&self) -> usize {
        self.shared.seen.lock().unwrap().len()
    }

    /// The paths of the requests that came after `mark`, in order.
    pub fn paths_since(&self, mark: usize) -> Vec<String> {
        let seen = self.shared.seen.lock().unwrap();
        seen.iter()
            .skip(mark)
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// How many requests matching `pattern` a fault answered so far.
    pub fn faults(&self, pattern: &str) -> usize {
        self.count(pattern, true)
    }

    fn count(&self, pattern: &str, faulted_only: bool) -> usize {
        let seen = self.shared.seen.lock().unwrap();
        seen.iter()
            .filter(|(path, faulted)| matches(pattern, path) && (*faulted || !faulted_only))
            .count()
    }

    /// Waits (up to 60 s) until `count` requests matching `pattern` came.
    pub async fn wait_requests(&self, pattern: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut changed = self.shared.requests.subscribe();
        while self.requests(pattern) < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, changed.changed()).await.is_err() {
                let seen = self.shared.seen.lock().unwrap().clone();
                panic!("{count} requests for {pattern} did not come within 60 s; seen: {seen:#?}");
            }
        }
    }

    /// Drops every websocket open now, as a broken network would.
    pub fn cut_websockets(&self) {
        self.shared.cut.send_modify(|n| *n += 1);
    }
}

/// `*` matches one segment; everything else must be equal.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, path): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), path.split('/').collect());
    pattern.len() == path.len() && pattern.iter().zip(&path).all(|(p, s)| *p == "*" || p == s)
}

/// A request's head as it came, and the bytes read after it.
struct Request {
    head: String,
    rest: Vec<u8>,
}

impl Request {
    fn path(&self) -> String {
        let target = self.head.split(' ').nth(1).unwrap_or("/");
        target.split('?').next().unwrap_or("/").to_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn is_websocket(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
    }
}

async fn serve(shared: Arc<Shared>, mut client: TcpStream) {
    let Some(mut request) = read_head(&mut client).await else {
        return;
    };
    let path = request.path();
    let fault = take_fault(&shared, &path);
    shared
        .seen
        .lock()
        .unwrap()
        .push((path, matches!(fault, Some(Fault::Status(_) | Fault::Drop))));
    shared.requests.send_modify(|n| *n += 1);
    if request.is_websocket() && fault.is_none() {
        return tunnel(&shared, client, request).await;
    }
    if read_body(&mut client, &mut request).await.is_none() {
        return;
    }
    match fault {
        Some(Fault::Drop) => return,
        Some(Fault::Status(status)) => return answer(client, status).await,
        Some(Fault::Stall(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    let _ = forward(&shared, client, request).await;
}

/// The first rule that matches `path` and has faults left, used once.
fn take_fault(shared: &Shared, path: &str) -> Option<Fault> {
    let mut rules = shared.rules.lock().unwrap();
    let rule = rules
        .iter_mut()
        .find(|r| r.left > 0 && matches(&r.pattern, path))?;
    rule.left -= 1;
    Some(rule.fault)
}

async fn read_head(stream: &mut TcpStream) -> Option<Request> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            let head = String::from_utf8(buffer).ok()?;
            return Some(Request { head, rest });
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 || buffer.len() > 64 * 1024 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// Reads the rest of the body `Content-Length` announces (the bot sends no chunked bodies).
async fn read_body(stream: &mut TcpStream, request: &mut Request) -> Option<()> {
    let length: usize = request
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    if length > request.rest.len() {
        let mut more = vec![0; length - request.rest.len()];
        stream.read_exact(&mut more).await.ok()?;
        request.rest.extend_from_slice(&more);
    }
    Some(())
}

async fn answer(mut client: TcpStream, status: u16) {
    let body = r#"{"error": "injected by the test proxy"}"#;
    let response = format!(
        "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}

/// `head` with any `Connection` header replaced by `Connection: close`.
fn closing(head: &str) -> String {
    let mut lines: Vec<&str> = head
        .trim_end()
        .lines()
        .filter(|l| {
            let name = l.split(':').next().unwrap_or("").trim();
            !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("keep-alive")
        })
        .collect();
    lines.push("Connection: close");
    lines.join("\r\n") + "\r\n\r\n"
}

/// One request to the master and its answer back, then both connections close.
async fn forward(shared: &Shared, mut client: TcpStream, request: Request) -> std::io::Result<()> {
    let mut upstream = TcpStream::connect(&shared.upstream).await?;
    upstream
        .write_all(closing(&request.head).as_bytes())
        .await?;
    upstream.write_all(&request.rest).await?;
    let Some(response) = read_head(&mut upstream).await else {
        return Ok(());
    };
    client.write_all(closing(&response.head).as_bytes()).await?;
    client.write_all(&response.rest).await?;
    tokio::io::copy(&mut upstream, &mut client).await?;
    client.shutdown().await
}

/// The websocket: the upgrade request goes on as it came, then bytes flow both ways until
/// either side closes or the test cuts it.
async fn tunnel(shared: &Shared, mut client: TcpStream, request: Request) {
    let mut cut = shared.cut.subscribe();
    let Ok(mut upstream) = TcpStream::connect(&shared.upstream).await else {
        return;
    };
    if upstream.write_all(request.head.as_bytes()).await.is_err()
        || upstream.write_all(&request.rest).await.is_err()
    {
        return;
    }
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        _ = cut.changed() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn a_star_is_one_segment() {
        assert!(matches("/api/v2/builds/*/steps", "/api/v2/builds/12/steps"));
        assert!(!matches(
            "/api/v2/builds/*/steps",
            "/api/v2/builds/12/steps/3"
        ));
        assert!(matches("/api/v2/builds/*", "/api/v2/builds/12"));
        assert!(!matches("/api/v2/builds/*", "/api/v2/builds"));
        assert!(matches("/ws", "/ws"));
    }
}
