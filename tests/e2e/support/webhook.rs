//! Posting to the bot's webhook as Telegram would, and as Telegram would not: requests written
//! by hand, so that a body can stop half-way and the answer can be read as it comes.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::fake_telegram::ALICE;

/// The secret the webhook tests set: 25 characters of Telegram's alphabet.
pub const SECRET: &str = "s3cret_Token-1-0123456789";

/// An update from Alice with `text` as a command (`/getid` is answered with her id).
pub fn update(id: i64, text: &str) -> Value {
    json!({"update_id": id, "message": {"message_id": id, "date": 0, "text": text,
        "chat": {"id": ALICE.id, "type": "private", "first_name": "Alice"},
        "from": {"id": ALICE.id, "is_bot": false, "first_name": "Alice", "username": "alice"},
        "entities": [{"type": "bot_command", "offset": 0, "length": text.len()}]}})
}

/// A `POST /telegram` on 127.0.0.1:`port` whose body is chunked: `first` is sent as one chunk,
/// then nothing until [`Stalled::finish`].
pub struct Stalled {
    stream: TcpStream,
    answer: Vec<u8>,
}

impl Stalled {
    pub async fn open(port: u16, secret: Option<&str>, first: &[u8]) -> Stalled {
        let mut head = String::from(
            "POST /telegram HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
        );
        if let Some(secret) = secret {
            head.push_str(&format!("X-Telegram-Bot-Api-Secret-Token: {secret}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&chunk(first)).await.unwrap();
        stream.flush().await.unwrap();
        Stalled {
            stream,
            answer: Vec::new(),
        }
    }

    /// Sends `rest` as a last chunk and ends the body.
    pub async fn finish(&mut self, rest: &[u8]) {
        self.stream.write_all(&chunk(rest)).await.unwrap();
        self.stream.write_all(b"0\r\n\r\n").await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// The answer's status code, if its status line arrives within `within`.
    pub async fn status(&mut self, within: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.answer.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.answer[..end]).into_owned();
                return line.split(' ').nth(1).and_then(|code| code.parse().ok());
            }
            let mut buffer = [0u8; 1024];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut buffer)).await;
            match read {
                Ok(Ok(n)) if n > 0 => self.answer.extend_from_slice(&buffer[..n]),
                _ => return None, // timed out, closed, or reset
            }
        }
    }
}

fn chunk(bytes: &[u8]) -> Vec<u8> {
    let mut chunk = format!("{:x}\r\n", bytes.len()).into_bytes();
    chunk.extend_from_slice(bytes);
    chunk.extend_from_slice(b"\r\n");
    chunk
}

/// Sends only the headers of a `POST /telegram` that declares a `length`-byte body, and reads
/// the status of the answer (within 10 s).
pub async fn declared_post(port: u16, secret: &str, length: usize) -> Option<u16> {
    let head = format!(
        "POST /telegram HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nX-Telegram-Bot-Api-Secret-Token: {secret}\r\n\r\n"
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut stalled = Stalled {
        stream,
        answer: Vec::new(),
    };
    stalled.status(Duration::from_secs(10)).await
}
