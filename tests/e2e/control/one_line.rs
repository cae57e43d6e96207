//! A one-line `/force` that cannot be read exactly forces nothing and says what is wrong
//! (issue 13): an unclosed quote, a mistyped `name=value`, a builder the bot does not show.

use super::{FORCERS, forced_with, request_id};
use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, FakeTelegram};

#[tokio::test]
async fn a_one_line_force_that_cannot_be_read_forces_nothing() {
    let master = buildbot::shared().await;
    let fake = FakeTelegram::start().await;
    // the bot shows (and forces) only `toggle`
    let settings = format!("[notify]\ntags = [\"toggle\"]\n{FORCERS}");
    let _bot = BotProcess::start(&fake, &master.url, &settings).await;
    let marker = format!("unread-{}", super::unique());

    let unclosed = fake
        .ask(&ALICE, &format!("/force toggle \"{marker} sleep=0"))
        .await;
    assert_eq!(
        unclosed.text(),
        "I could not read the arguments: a quote is not closed. \
         Usage: /force [builder] [reason] [name=value ...] - force a build"
    );
    let typo = fake
        .ask(&ALICE, &format!("/force toggle {marker} reaosn=x sleep=0"))
        .await;
    let fields = typo
        .text()
        .strip_prefix("Nothing was forced: there is no field called reaosn. The fields are: ")
        .unwrap_or_else(|| panic!("{}", typo.text()));
    assert!(
        fields.contains("reason, ")
            && fields.contains("sleep, ")
            && fields.contains("Usage: /force"),
        "{}",
        typo.text()
    );
    // `slow` exists and its scheduler forces it, but the bot does not show it: the same
    // answer as a builder that does not exist, naming only what the bot shows
    for builder in ["slow", "nosuch"] {
        let hidden = fake
            .ask(&ALICE, &format!("/force {builder} {marker} sleep=0"))
            .await;
        assert_eq!(
            hidden.text(),
            format!(
                "No force scheduler can build <code>{builder}</code>. \
                 Builders you can force: <code>toggle</code>."
            )
        );
    }
    // nor did any of them start the dialogue
    let calls = fake.calls();
    assert!(
        !calls.iter().any(|c| c.text().starts_with("Which")),
        "no dialogue started"
    );

    // The correct form still forces, and it is the only build with the marker: the bot
    // answers a chat in order, so anything forced above would be on the master by now.
    let done = fake
        .ask(&ALICE, &format!("/force toggle {marker} sleep=0"))
        .await;
    assert!(
        done.text()
            .starts_with("✅ Build of <b>toggle</b> requested"),
        "{}",
        done.text()
    );
    request_id(done.text());
    assert_eq!(forced_with(&master, &marker).await, 1);
}
