//! Button labels. Telegram shows them as plain text (no HTML), so nothing here is escaped, and
//! they stay short, since a row of buttons shares the width of the chat. The emoji in front
//! shows what a tap does before the words are read.

use super::html::link;
use super::time::duration;

// ---------------------------------------------------------------------------------------------
// /list

pub fn builders_button() -> String {
    "👷 Builders".to_owned()
}

pub fn all_builders_button() -> String {
    "👷 (including retired)".to_owned()
}

pub fn workers_button() -> String {
    "⚙️ Workers".to_owned()
}

pub fn all_workers_button() -> String {
    "⚙️ (including unconfigured)".to_owned()
}

pub fn changes_button() -> String {
    "📄 Changes (last 10)".to_owned()
}

/// Offered when `/list all changes` would flood the chat: `all` is how many that is.
pub fn show_all_changes_button(all: u32) -> String {
    format!("‼️ Yes, show {all}")
}

pub fn show_some_changes_button(some: u32) -> String {
    format!("✅ No, just the last {some}")
}

// ---------------------------------------------------------------------------------------------
// /notify, /watch, failure messages

/// "Failure 🔔": the event's name and whether it is on, so the keyboard is also the list.
pub fn notify_toggle(event_name: &str, on: bool) -> String {
    let mut chars = event_name.chars();
    let name: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    format!("{name} {}", if on { "🔔" } else { "🔕" })
}

pub fn notify_done_button() -> String {
    "Done".to_owned()
}

pub fn notify_builders_button() -> String {
    "Builders…".to_owned()
}

pub fn notify_events_button() -> String {
    "Events…".to_owned()
}

/// A builder on the `/notify` builders page: ticked when the chat has its `builder:` term.
pub fn notify_builder_toggle(name: &str, on: bool) -> String {
    if on {
        format!("✅ {name}")
    } else {
        name.to_owned()
    }
}

pub fn watch_choice(builder: &str, number: i64) -> String {
    format!("🔎 {builder} #{number}")
}

pub fn full_log_button() -> String {
    "📄 Full log".to_owned()
}

/// A link button Telegram would not take (a host without a dot, such as `localhost`), as a
/// line of the message instead: the link still reaches the reader.
pub fn button_as_link(label: &str, url: &str) -> String {
    link(url, label)
}

/// The row under a long choice shown in pages: back, where we are, forward.
pub fn page_back() -> String {
    "◀".to_owned()
}

pub fn page_forward() -> String {
    "▶".to_owned()
}

/// "2/3": page 2 of 3.
pub fn page_of(page: usize, pages: usize) -> String {
    format!("{page}/{pages}")
}

pub fn rebuild_button() -> String {
    "🔁 Rebuild".to_owned()
}

pub fn confirm_rebuild_button() -> String {
    "🔁 Yes, rebuild".to_owned()
}

// ---------------------------------------------------------------------------------------------
// /force

pub fn edit_field_button(label: &str) -> String {
    format!("✏️ {label}")
}

pub fn start_build_button() -> String {
    "🚀 Start build".to_owned()
}

pub fn cancel_button() -> String {
    "✖️ Cancel".to_owned()
}

// ---------------------------------------------------------------------------------------------
// /stop

/// "slow #4, running 1 min 5 s": which build, and how long it has run, so the right one is
/// stopped. Plain text: it is a button label and is escaped where a message quotes it.
pub fn stop_label(builder: &str, number: i64, running_for: Option<i64>) -> String {
    let running = running_for
        .map(|seconds| format!(", running {}", duration(seconds)))
        .unwrap_or_default();
    format!("{builder} #{number}{running}")
}

/// A build to stop, with its [`stop_label`].
pub fn stop_choice(label: &str) -> String {
    format!("🚫 {label}")
}

pub fn confirm_stop_button() -> String {
    "🚫 Yes, stop it".to_owned()
}

pub fn keep_running_button() -> String {
    "Keep it running".to_owned()
}

// ---------------------------------------------------------------------------------------------
// /shutdown

pub fn shutdown_button(action: &str) -> String {
    match action {
        "check" => "🔍 Check".to_owned(),
        "start" => "↘️ Begin clean shutdown".to_owned(),
        "stop" => "🔙 Cancel clean shutdown".to_owned(),
        _ => "‼️ Shut down now".to_owned(),
    }
}

/// The confirmation repeats the action's own label, so "yes" cannot be misread.
pub fn confirm_shutdown_button(action: &str) -> String {
    format!("‼️ Yes, {}", shutdown_button(action))
}

pub fn no_button() -> String {
    "No".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons() {
        let labels: Vec<String> = ["check", "start", "stop", "now"]
            .into_iter()
            .map(shutdown_button)
            .collect();
        insta::assert_snapshot!("buttons", labels.join("\n"));
    }

    #[test]
    fn page_row() {
        insta::assert_snapshot!(
            "page_row",
            [page_back(), page_of(2, 3), page_forward()].join(" ")
        );
    }

    #[test]
    fn a_link_instead_of_a_button() {
        insta::assert_snapshot!(
            "button_as_link",
            button_as_link(
                &full_log_button(),
                "http://localhost:8010/#/builders/1/builds/2?a=1&b=<2>"
            )
        );
    }

    #[test]
    fn every_label() {
        insta::assert_snapshot!(
            "labels",
            [
                builders_button(),
                all_builders_button(),
                workers_button(),
                all_workers_button(),
                changes_button(),
                show_all_changes_button(200),
                show_some_changes_button(50),
                notify_toggle("failure", true),
                notify_toggle("started", false),
                notify_done_button(),
                watch_choice("slow <x>", 3),
                full_log_button(),
                rebuild_button(),
                confirm_rebuild_button(),
                edit_field_button("Branch"),
                start_build_button(),
                cancel_button(),
                stop_label("slow <x>", 4, Some(65)),
                stop_label("slow <x>", 4, None),
                stop_choice(&stop_label("slow", 4, Some(65))),
                confirm_stop_button(),
                keep_running_button(),
                confirm_shutdown_button("start"),
                confirm_shutdown_button("now"),
                no_button(),
            ]
            .join("\n")
        );
    }
}
