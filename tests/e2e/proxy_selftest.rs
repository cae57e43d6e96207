//! The fault-injecting proxy itself, in front of the shared master: it forwards what it is
//! not told to fail, fails exactly what it is told to, and carries the event websocket, so
//! the tests that use it can trust what it does.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::buildbot;
use crate::support::proxy::{Fault, Proxy};

async fn get(url: &str) -> Result<(u16, Value), reqwest::Error> {
    let response = reqwest::get(url).await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn forwards_and_fails_what_it_is_told() {
    let master = buildbot::shared().await;
    let proxy = Proxy::start(&master.url).await;
    let builders = format!("{}api/v2/builders?order=builderid", proxy.url);

    let (status, body) = get(&builders).await.unwrap();
    assert_eq!(status, 200);
    assert!(body["builders"].as_array().is_some_and(|b| !b.is_empty()));

    proxy.fail("/api/v2/builders", Fault::Status(500), 2);
    assert_eq!(get(&builders).await.unwrap().0, 500);
    assert_eq!(get(&builders).await.unwrap().0, 500);
    assert_eq!(
        get(&builders).await.unwrap().0,
        200,
        "two faults, then the master"
    );
    assert_eq!(proxy.faults("/api/v2/builders"), 2);
    assert_eq!(proxy.requests("/api/v2/builders"), 4);
    let other = format!("{}api/v2/workers", proxy.url);
    proxy.fail("/api/v2/builders", Fault::Status(503), usize::MAX);
    assert_eq!(get(&other).await.unwrap().0, 200, "other paths pass");

    proxy.fail("/api/v2/builders", Fault::Drop, 1);
    assert!(get(&builders).await.is_err(), "no answer at all");
    proxy.fail(
        "/api/v2/builders",
        Fault::Stall(Duration::from_millis(700)),
        1,
    );
    let started = Instant::now();
    assert_eq!(get(&builders).await.unwrap().0, 200);
    assert!(started.elapsed() >= Duration::from_millis(700));
    proxy.fail("/api/v2/builders", Fault::Status(500), 5);
    proxy.heal("/api/v2/builders");
    assert_eq!(get(&builders).await.unwrap().0, 200, "healed");
    proxy.fail("/api/v2/workers", Fault::Status(500), 5);
    proxy.heal_all();
    assert_eq!(get(&other).await.unwrap().0, 200, "all healed");

    // a POST's body reaches the master
    let answer: Value = reqwest::Client::new()
        .post(format!("{}api/v2/forceschedulers/force", proxy.url))
        .json(&json!({"jsonrpc": "2.0", "method": "force", "id": 1, "params": {"builderid": "-1"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!answer["error"].is_null(), "the master read it: {answer}");
}

#[tokio::test]
async fn carries_the_event_websocket_and_cuts_it() {
    let master = buildbot::shared().await;
    let proxy = Proxy::start(&master.url).await;
    let url = format!("{}ws", proxy.url.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let subscribe = json!({"cmd": "startConsuming", "path": "builders/*/builds/*/new", "_id": 1});
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let ack = tokio::time::timeout(Duration::from_secs(30), socket.next())
        .await
        .expect("an answer within 30 s")
        .unwrap()
        .unwrap();
    let ack: Value = serde_json::from_str(ack.to_text().unwrap()).unwrap();
    assert_eq!(ack["code"], 200, "{ack}");

    proxy.cut_websockets();
    let end = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the socket ends when it is cut");

    proxy.fail("/ws", Fault::Status(503), 1);
    assert!(tokio_tungstenite::connect_async(&url).await.is_err());
    assert!(tokio_tungstenite::connect_async(&url).await.is_ok());
    proxy.wait_requests("/ws", 3).await;
    assert_eq!(proxy.faults("/ws"), 1);
}
