//! What a chat has asked to hear about: `/notify`, `/mute` and `/unmute`, `/watch`.

use super::html::{code, escape, link};
use super::results::result;
use super::time::utc_date;
use crate::filter::{BadTerm, Filter, Kind, PATTERN_MAX};
use crate::outcome::Outcome;

pub fn notify_prompt() -> String {
    "Here are the notifications for this chat and whether they are on. Tap one to turn it on or off.".to_owned()
}

/// The events a chat hears about, and which builds when it has filters.
/// Above the builders page, with the chat's filter as it is.
pub fn notify_builders_prompt(filter: &Filter) -> String {
    let mut out = "Tap the builders this chat hears about.".to_owned();
    if filter.is_empty() {
        out.push_str(" With none ticked, it hears about every builder.");
    } else {
        out.push_str(&format!("\n🔎 Now: only builds {}.", filter_words(filter)));
    }
    out
}

pub fn too_many_filters(max: usize) -> String {
    format!(
        "A chat can have at most {max} filters. <code>/notify off builder:…</code> (or tag:, branch:) removes one."
    )
}

pub fn notify_list(events: &[&str], filter: &Filter, quiet_repeats: bool) -> String {
    let mut out = if events.is_empty() {
        "🔕 No events are being notified in this chat.".to_owned()
    } else {
        let lines: Vec<String> = events.iter().map(|e| format!("🔔 <b>{e}</b>")).collect();
        format!(
            "The following events are being notified in this chat:\n{}",
            lines.join("\n")
        )
    };
    if !filter.is_empty() {
        out.push_str(&format!(
            "\n🔎 Only builds {}. <code>/notify off builder:…</code> (or tag:, branch:) removes one.",
            filter_words(filter)
        ));
    }
    if quiet_repeats {
        out.push_str(
            "\n🔕 Repeated failures arrive without a sound. <code>/notify quiet-repeats off</code> changes that.",
        );
    }
    out
}

/// `/notify quiet-repeats on|off` done.
pub fn quiet_repeats_set(quiet: bool) -> String {
    match quiet {
        true => "🔕 From now on, a builder that fails again arrives in this chat without a sound, until it passes. <code>/notify quiet-repeats off</code> changes that.".to_owned(),
        false => "🔔 From now on, a builder that fails again makes a sound in this chat.".to_owned(),
    }
}

/// "of builder <code>linux-*</code> or <code>docs</code>, on branch <code>main</code>".
fn filter_words(filter: &Filter) -> String {
    let mut parts = Vec::new();
    for kind in Kind::ALL {
        let patterns: Vec<String> = filter
            .terms()
            .filter(|t| t.kind == kind)
            .map(|t| code(&t.pattern))
            .collect();
        if patterns.is_empty() {
            continue;
        }
        let lead = match kind {
            Kind::Builder => "of builder",
            Kind::Tag => "tagged",
            Kind::Branch => "on branch",
        };
        parts.push(format!("{lead} {}", patterns.join(" or ")));
    }
    parts.join(", ")
}

/// A `kind:pattern` word `/notify` cannot take.
pub fn bad_filter(word: &str, why: &BadTerm) -> String {
    let problem = match why {
        BadTerm::NotATerm | BadTerm::UnknownKind(_) => {
            format!("There is no filter {}.", code(word))
        }
        BadTerm::EmptyPattern => format!("{} names no pattern.", code(word)),
        BadTerm::BadPattern => format!(
            "{} is not a pattern: at most {PATTERN_MAX} characters, nothing invisible, no space at either end (quote a term with spaces: \"builder:Linux full\").",
            code(word)
        ),
    };
    format!(
        "{problem} Filters are builder:, tag: and branch:, with * and ? as wildcards, e.g. <code>builder:linux-*</code>."
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
                notify_list(&["failure", "started"], &Filter::default(), false),
                notify_list(&[], &Filter::default(), false),
            )
        );
        insta::assert_snapshot!(
            "quiet_repeats",
            [
                notify_list(&["failure"], &Filter::default(), true),
                quiet_repeats_set(true),
                quiet_repeats_set(false),
            ]
            .join("\n\n")
        );
        let term = |w: &str| w.parse::<crate::filter::Term>().unwrap();
        let filter = Filter::new([
            term("builder:linux-*"),
            term("builder:d<cs"),
            term("branch:main"),
            term("tag:nightly"),
        ]);
        insta::assert_snapshot!(
            "notify_filters",
            [
                notify_list(&["failure"], &filter, false),
                notify_list(&[], &Filter::new([term("branch:release/*")]), false),
                bad_filter("owner:bob", &BadTerm::UnknownKind("owner".into())),
                bad_filter("tag:", &BadTerm::EmptyPattern),
                bad_filter("builder:xxxxxxxxx", &BadTerm::BadPattern),
                notify_builders_prompt(&Filter::default()),
                notify_builders_prompt(&filter),
                too_many_filters(32),
            ]
            .join("\n\n")
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
