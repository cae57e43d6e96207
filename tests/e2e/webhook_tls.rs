//! Webhook mode with the bot serving https itself: the README's self-signed set-up, end to
//! end. The certificate is uploaded with setWebhook so that Telegram trusts it, and the same
//! certificate and its key serve TLS on `listen`.

use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, FakeTelegram};
use crate::support::webhook::{SECRET, update};
use crate::webhook::start_webhook;

#[tokio::test]
async fn the_self_signed_certificate_is_uploaded_and_served() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let pem = generated.cert.pem();
    let certificate = dir.path().join("webhook.pem");
    let key = dir.path().join("webhook.key");
    std::fs::write(&certificate, &pem).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    let (bot, port) = start_webhook(
        &fake,
        &master.url,
        &format!("certificate = \"{}\"", certificate.display()),
        &format!("tls_key = \"{}\"", key.display()),
    )
    .await;

    let set = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "setwebhook")
        .expect("setWebhook at start");
    assert_eq!(
        set.params["certificate"]["text"], pem,
        "setWebhook uploads the certificate the bot serves"
    );

    let trusting_only_it = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let mark = fake.mark();
    let answer = trusting_only_it
        .post(format!("https://127.0.0.1:{port}/telegram"))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&update(1, "/getid"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let reply = fake.reply_in(mark, ALICE.id).await;
    assert_eq!(reply.text(), "Your ID is <code>111111</code>.");

    // plain HTTP to the TLS port is a failed handshake, never an update
    let plain = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/telegram"))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&update(2, "/getid"))
        .send()
        .await;
    assert!(
        plain.as_ref().is_err() || !plain.as_ref().unwrap().status().is_success(),
        "{plain:?}"
    );
    assert!(
        bot.log()
            .contains(&format!("listening on https://127.0.0.1:{port}"))
    );
    let mark = fake.mark();
    // the bot still serves TLS after the plain request, and did not take it as an update
    let answer = trusting_only_it
        .post(format!("https://127.0.0.1:{port}/telegram"))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&update(3, "/getid"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    fake.reply_in(mark, ALICE.id).await;
    assert_eq!(
        fake.sent_since(0, "sendMessage", ALICE.id).len(),
        2,
        "updates 1 and 3 were answered, 2 never arrived"
    );
    // with a connection still open in the client's pool
    assert!(bot.terminate().await, "the bot stops cleanly on SIGTERM");
    // (replicas sharing PostgreSQL leave it to the others)
    assert_eq!(
        fake.calls().iter().any(|c| c.method == "deletewebhook"),
        !crate::support::bot::on_postgres(),
        "the webhook is deleted at the stop of the only bot"
    );
}
