//! What a chat has asked to hear about: `/notify`, `/mute` and `/unmute`, `/watch`.

use super::html::{code, escape, link};
use super::results::result;
use super::time::utc_date;
use crate::outcome::Outcome;

pub fn notify_prompt() -> String {
    "Here are the notifications for this chat and whether they are on. Tap one to turn it on or off.".to_owned()
}

pub fn notify_list(events: &[&str]) -> String {
    if events.is_empty() {
        return "🔕 No events are being notified in this chat.".to_owned();
    }
    let lines: Vec<String> = events.iter().map(|e| format!("🔔 <b>{e}</b>")).collect();
    format!(
        "The following events are being notified in this chat:\n{}",
        lines.join("\n")
    )
}

pub fn unknown_event(name: &str, allowed: &str) -> String {
    format!("There is no event {}. Events are: {allowed}.", code(name))
}

pub fn muted(until: i64) -> String {
    format!(
        "🔕 Notifications in this chat arrive without a sound until {}. /unmute ends it sooner.",
        utc_date(until)
    )
}

pub fn unmuted() -> String {
    "🔔 Notifications in this chat make a sound again.".to_owned()
}

pub fn watch_prompt() -> String {
    "Which build do you want to watch? I will tell this chat when it finishes.".to_owned()
}

pub fn no_running_builds(builder: Option<&str>) -> String {
    match builder {
        Some(name) => format!("There are no currently running builds of {}.", code(name)),
        None => "There are no currently running builds.".to_owned(),
    }
}

pub fn watching(builder: &str, number: i64, url: &str) -> String {
    format!(
        "👀 Watching build {} of <b>{}</b> until it finishes...",
        link(url, &format!("#{number}")),
        escape(builder)
    )
}

pub fn already_finished(builder: &str, number: i64, url: &str, results: Option<Outcome>) -> String {
    format!(
        "Build {} of <b>{}</b> has already finished: {}.",
        link(url, &format!("#{number}")),
        escape(builder),
        result(results)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify() {
        insta::assert_snapshot!(
            "notify_list",
            format!(
                "{}\n{}",
                notify_list(&["failure", "started"]),
                notify_list(&[])
            )
        );
        insta::assert_snapshot!(
            "subscriptions",
            [
                notify_prompt(),
                unknown_event("fail<", "started, finished, failure"),
                muted(1_795_616_759),
                unmuted(),
                watch_prompt(),
                no_running_builds(None),
                no_running_builds(Some("slow<")),
                watching("slow<", 4, "http://bb/#/builders/2/builds/4"),
                already_finished(
                    "slow",
                    4,
                    "http://bb/#/builders/2/builds/4",
                    Some(Outcome::Failure)
                ),
            ]
            .join("\n\n")
        );
    }
}
