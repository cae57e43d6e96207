//! Choices longer than a Telegram keyboard (at most 100 buttons) are shown in pages.

use super::{FORCERS, next_screen, say, tap_label};
use crate::support::bot::BotProcess;
use crate::support::buildbot;
use crate::support::fake_telegram::{ALICE, Call, FakeTelegram};

fn labels(screen: &Call) -> Vec<String> {
    screen
        .buttons()
        .into_iter()
        .map(|(label, _)| label)
        .collect()
}

#[tokio::test]
async fn a_choice_of_150_builders_is_shown_in_pages() {
    let master = buildbot::dedicated_with("many", 150).await;
    let fake = FakeTelegram::start().await;
    let _bot = BotProcess::start(&fake, &master.url, FORCERS).await;

    let mark = say(&fake, &ALICE, "/force");
    let schedulers = next_screen(&fake, mark, ALICE.id, "Which force scheduler").await;
    let mark = tap_label(&fake, &ALICE, &schedulers, "Many builders");
    let first = next_screen(&fake, mark, ALICE.id, "Which builder").await;
    let shown = labels(&first);
    assert!(shown.len() <= 100, "{} buttons", shown.len());
    assert_eq!(shown.first().map(String::as_str), Some("many-000"));
    assert!(!shown.contains(&"many-149".to_owned()));
    assert_eq!(shown[shown.len() - 3..], ["◀", "1/2", "▶"]);

    let mark = tap_label(&fake, &ALICE, &first, "▶");
    let second = next_screen(&fake, mark, ALICE.id, "Which builder").await;
    let shown = labels(&second);
    assert!(shown.contains(&"many-149".to_owned()), "{shown:?}");
    assert_eq!(shown[shown.len() - 3..], ["◀", "2/2", "▶"]);

    let mark = tap_label(&fake, &ALICE, &second, "many-149");
    let form = next_screen(&fake, mark, ALICE.id, "🚀 New build of <b>many-149</b>").await;
    assert!(labels(&form).iter().any(|l| l.contains("Start build")));
}
