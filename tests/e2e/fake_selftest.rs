//! The fake Bot API server itself: the wire formats it must understand and answer in, so that
//! the other tests can trust what it records.

use serde_json::{Value, json};

use crate::support::fake_telegram::{FakeTelegram, Fault, TOKEN};

async fn post(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn understands_json_form_multipart_and_query() {
    let fake = FakeTelegram::start().await;
    let http = reqwest::Client::new();
    let url = |method: &str| format!("{}/bot{TOKEN}/{method}", fake.url);

    let (status, body) = post(
        http.post(url("sendMessage"))
            .json(&json!({"chat_id": 5, "text": "json"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], true);
    assert_eq!(body["result"]["chat"]["type"], "private");
    assert_eq!(body["result"]["text"], "json");

    let markup = r#"{"inline_keyboard":[[{"text":"a","callback_data":"1/l/b/-"}]]}"#;
    let (_, body) = post(http.post(url("SendMessage")).form(&[
        ("chat_id", "-100123456789012"),
        ("text", "form"),
        ("reply_markup", markup),
    ]))
    .await;
    assert_eq!(body["result"]["chat"]["type"], "supergroup");

    let boundary = "XyZ";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n-42\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"log.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nhello file\r\n--{boundary}--\r\n"
    );
    let (status, _) = post(
        http.post(url("sendMessage"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(multipart),
    )
    .await;
    assert_eq!(status, 200);

    let (_, body) = post(http.post(format!("{}?chat_id=7&text=query", url("sendmessage")))).await;
    assert_eq!(body["result"]["text"], "query");

    let calls = fake.calls();
    assert_eq!(calls.len(), 4);
    assert!(
        calls.iter().all(|c| c.method == "sendmessage"),
        "method names are case-insensitive"
    );
    assert_eq!(
        calls[1].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        "1/l/b/-"
    );
    assert_eq!(calls[1].chat_id(), Some(-100_123_456_789_012));
    assert_eq!(calls[2].params["chat_id"], -42);
    assert_eq!(
        calls[2].params["document"],
        json!({"file_name": "log.txt", "size": 10, "text": "hello file"})
    );
    assert_eq!(calls[3].text(), "query");
}

#[tokio::test]
async fn answers_errors_as_telegram_does() {
    let fake = FakeTelegram::start().await;
    let http = reqwest::Client::new();

    let (status, body) = post(http.post(format!("{}/bot1:wrong/getMe", fake.url))).await;
    assert_eq!(
        (status, body["description"].as_str()),
        (401, Some("Unauthorized"))
    );

    let (status, body) = post(http.post(format!("{}/bot{TOKEN}/sendDice", fake.url))).await;
    assert_eq!(status, 404);
    assert_eq!(body["ok"], false);

    fake.inject("sendMessage", Fault::retry_after(3));
    fake.inject("sendMessage", Fault::migrated(-1_001_234_567_890));
    let send = || {
        http.post(format!("{}/bot{TOKEN}/sendMessage", fake.url))
            .json(&json!({"chat_id": -5, "text": "x"}))
    };
    let (status, body) = post(send()).await;
    assert_eq!(
        (status, body["parameters"]["retry_after"].as_i64()),
        (429, Some(3))
    );
    let (status, body) = post(send()).await;
    assert_eq!(
        (status, body["parameters"]["migrate_to_chat_id"].as_i64()),
        (400, Some(-1_001_234_567_890))
    );
    let (status, _) = post(send()).await;
    assert_eq!(status, 200, "faults are used up in order");

    fake.inject("getMe", Fault::error_page(404));
    let page = http
        .post(format!("{}/bot{TOKEN}/getMe", fake.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 404);
    let page = page.text().await.unwrap();
    assert!(
        page.starts_with("<html>") && page.contains(&format!("/bot{TOKEN}/getMe")),
        "a proxy's page echoes the path: {page}"
    );
}

#[tokio::test]
async fn refuses_keyboards_telegram_refuses() {
    let fake = FakeTelegram::start().await;
    let http = reqwest::Client::new();
    let send = |markup: Value| {
        http.post(format!("{}/bot{TOKEN}/sendMessage", fake.url))
            .json(&json!({"chat_id": 5, "text": "x", "reply_markup": markup}))
    };
    let url_button = |url: &str| json!({"inline_keyboard": [[{"text": "log", "url": url}]]});
    for refused in [
        "http://localhost:8010/#/builders/1",
        "http://buildbot:8010/",
        "ftp://files.example/log",
        "http://user@localhost/",
    ] {
        let (status, body) = post(send(url_button(refused))).await;
        assert_eq!(
            (status, body["description"].as_str()),
            (400, Some("Bad Request: BUTTON_URL_INVALID")),
            "{refused}"
        );
    }
    for taken in [
        "http://127.0.0.1:8010/",
        "https://ci.example.org/x?y=1",
        "tg://resolve?domain=x",
    ] {
        let (status, _) = post(send(url_button(taken))).await;
        assert_eq!(status, 200, "{taken}");
    }
    let many: Vec<Value> = (0..101)
        .map(|i| json!([{"text": "b", "callback_data": format!("1/w/{i}")}]))
        .collect();
    let (status, body) = post(send(json!({ "inline_keyboard": many }))).await;
    assert_eq!(
        (status, body["description"].as_str()),
        (400, Some("Bad Request: reply markup is too long"))
    );
    let long = "x".repeat(65);
    let (status, body) = post(send(
        json!({"inline_keyboard": [[{"text": "b", "callback_data": long}]]}),
    ))
    .await;
    assert_eq!(
        (status, body["description"].as_str()),
        (400, Some("Bad Request: BUTTON_DATA_INVALID"))
    );
}

#[tokio::test]
async fn long_polls_with_offsets() {
    let fake = FakeTelegram::start().await;
    let http = reqwest::Client::new();
    let poll = |offset: i64, timeout: u64| {
        http.post(format!("{}/bot{TOKEN}/getUpdates", fake.url))
            .json(&json!({"offset": offset, "timeout": timeout}))
    };

    let started = std::time::Instant::now();
    let (_, body) = post(poll(0, 1)).await;
    assert_eq!(body["result"], json!([]));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "waited for news"
    );

    let first = fake.push_update(json!({"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "a"}}));
    let second = fake.push_update(json!({"message": {"message_id": 2, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "b"}}));
    let (_, body) = post(poll(0, 0)).await;
    assert_eq!(body["result"].as_array().unwrap().len(), 2);
    let (_, body) = post(poll(first + 1, 0)).await;
    assert_eq!(
        body["result"][0]["update_id"], second,
        "confirmed updates are dropped"
    );
    let (_, body) = post(poll(second + 1, 0)).await;
    assert_eq!(body["result"], json!([]));
}

#[tokio::test]
async fn a_chat_can_fail_on_every_call_until_healed() {
    let fake = FakeTelegram::start().await;
    let http = reqwest::Client::new();
    let send = |chat: i64| {
        http.post(format!("{}/bot{TOKEN}/sendMessage", fake.url))
            .json(&json!({"chat_id": chat, "text": "x"}))
    };
    fake.fail_forever(
        "sendMessage",
        -5,
        Fault::api_error(500, "Internal Server Error"),
    );
    fake.inject_for("sendMessage", -5, Fault::retry_after(1));
    let (status, _) = post(send(-5)).await;
    assert_eq!(status, 429, "a fault queued for the chat comes first");
    for _ in 0..3 {
        let (status, body) = post(send(-5)).await;
        assert_eq!(
            (status, body["description"].as_str()),
            (500, Some("Internal Server Error"))
        );
        let (status, _) = post(send(7)).await;
        assert_eq!(status, 200, "other chats are not touched");
    }
    fake.heal(-5);
    let (status, body) = post(send(-5)).await;
    assert_eq!((status, body["ok"].as_bool()), (200, Some(true)));
    assert_eq!(fake.calls().len(), 8, "failed calls are recorded too");
}
