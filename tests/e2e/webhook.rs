//! Webhook mode: setWebhook with the secret and certificate, and Telegram's posts served by
//! the bot's own listener, refused without the secret.

use serde_json::json;

use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::closed_port;
use crate::support::fake_telegram::{ALICE, FakeTelegram};

#[tokio::test]
async fn updates_arrive_through_the_webhook_with_the_secret_only() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let certificate = dir.path().join("cert.pem");
    std::fs::write(
        &certificate,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let port = closed_port();
    let telegram = format!(
        "use_webhook = true\ncertificate = \"{}\"\n[telegram.webhook]\nurl = \"https://127.0.0.1:8443/telegram\"\nlisten = \"127.0.0.1:{port}\"\nsecret_token = \"s3cret_Token-1-0123456789\"\nmax_connections = 5\n",
        certificate.display()
    );
    let bot = BotProcess::start_with_telegram(&fake, &master.url, &telegram, "").await;

    let set = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "setwebhook")
        .expect("setWebhook at start");
    assert_eq!(set.params["url"], "https://127.0.0.1:8443/telegram");
    assert_eq!(set.params["secret_token"], "s3cret_Token-1-0123456789");
    assert_eq!(set.params["max_connections"], 5);
    assert_eq!(
        set.params["certificate"]["size"],
        std::fs::metadata(&certificate).unwrap().len(),
        "the certificate is uploaded: {}",
        set.params
    );
    assert!(
        !fake.calls().iter().any(|c| c.method == "getupdates"),
        "no polling in webhook mode"
    );

    let update = |id: i64, text: &str| {
        json!({"update_id": id, "message": {"message_id": id, "date": 0, "text": text,
            "chat": {"id": ALICE.id, "type": "private", "first_name": "Alice"},
            "from": {"id": ALICE.id, "is_bot": false, "first_name": "Alice", "username": "alice"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}})
    };
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/telegram");

    let refused = http
        .post(&url)
        .json(&update(1, "/getid"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let wrong = http
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "guess")
        .json(&update(2, "/getid"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let mark = fake.mark();
    let accepted = http
        .post(&url)
        .header(
            "X-Telegram-Bot-Api-Secret-Token",
            "s3cret_Token-1-0123456789",
        )
        .json(&update(3, "/getid"))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let reply = fake.reply_in(mark, ALICE.id).await;
    assert_eq!(reply.text(), "Your ID is <code>111111</code>.");
    assert_eq!(
        fake.sent_since(0, "sendMessage", ALICE.id).len(),
        1,
        "the refused requests did nothing"
    );
    assert!(
        bot.log()
            .contains("refused a webhook request without the right secret token")
    );
    assert!(
        !bot.log().contains("s3cret_Token-1-0123456789"),
        "the secret stays out of the log"
    );
}
