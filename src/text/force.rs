//! `/force` and the rebuild button: choosing a scheduler and builder, the parameters form, and
//! what Buildbot answered. Every value shown is escaped: parameters are typed by users.

use std::fmt::Write as _;

use super::help::{bad_arguments, unclosed_quote, usage_of};
use super::html::{code, escape, link};
use crate::command::CommandName;

pub fn no_force_schedulers() -> String {
    "This master has no ForceScheduler, so there is nothing /force can start.".to_owned()
}

pub fn force_choose_scheduler() -> String {
    "Which force scheduler do you want to use?".to_owned()
}

pub fn force_choose_builder(scheduler: &str) -> String {
    format!(
        "Which builder do you want to build with <i>{}</i>?",
        escape(scheduler)
    )
}

pub fn force_unknown_builder(name: &str, known: &[&str]) -> String {
    let names: Vec<String> = known.iter().map(|n| code(n)).collect();
    format!(
        "No force scheduler can build {}. Builders you can force: {}.",
        code(name),
        names.join(", ")
    )
}

/// A one-line `/force` that is not read exactly: `reason` (plain text) and the usage.
fn force_line_problem(reason: &str) -> String {
    bad_arguments(
        reason,
        usage_of(CommandName::Force, None).unwrap_or_default(),
    )
}

/// A one-line `/force` with a quote left open: nothing is forced.
pub fn force_unclosed_quote() -> String {
    force_line_problem(&unclosed_quote())
}

/// A one-line `/force` with `name=value` where no field is called `name`: nothing is forced.
pub fn force_unknown_field(name: &str, known: &[String]) -> String {
    force_line_problem(&format!(
        "Nothing was forced: there is no field called {name}. The fields are: {}. \
         To put an = in the reason, quote it after reason=, like reason=\"a=b\".",
        known.join(", ")
    ))
}

/// One parameter on the `/force` screen.
pub struct FormRow<'a> {
    pub label: &'a str,
    pub value: &'a str,
    pub required: bool,
    /// Required and still empty, after a Start was refused.
    pub missing: bool,
}

pub fn force_form(builder: &str, scheduler: &str, rows: &[FormRow<'_>]) -> String {
    let mut out = format!(
        "🚀 New build of <b>{}</b> with <i>{}</i>.\nThe parameters are:",
        escape(builder),
        escape(scheduler)
    );
    for row in rows {
        let value = if row.value.is_empty() {
            "<i>(empty)</i>".to_owned()
        } else {
            code(row.value)
        };
        let mark = match (row.missing, row.required) {
            (true, _) => " ⚠️ required",
            (false, true) => " (required)",
            _ => "",
        };
        let _ = write!(out, "\n• {}: {value}{mark}", escape(row.label));
    }
    out.push_str("\nTap a parameter to change it, then Start build.");
    out
}

pub fn force_ask_value(label: &str, current: &str, mention: Option<&str>) -> String {
    let who = mention
        .map(|m| format!("@{} ", escape(m)))
        .unwrap_or_default();
    let current = if current.is_empty() {
        "empty".to_owned()
    } else {
        code(current)
    };
    format!(
        "{who}Send the new value for <b>{}</b> (now {current}).",
        escape(label)
    )
}

pub fn force_bad_value(label: &str, problem: &str, again: bool) -> String {
    let again = if again { " Send it again." } else { "" };
    format!(
        "That is not a good value for <b>{}</b>: {}.{again}",
        escape(label),
        escape(problem)
    )
}

pub fn force_missing(labels: &[&str]) -> String {
    let names: Vec<String> = labels
        .iter()
        .map(|l| format!("<b>{}</b>", escape(l)))
        .collect();
    format!("⚠️ Set {} first: the build needs it.", names.join(", "))
}

pub fn force_rejected(problems: &[(String, String)]) -> String {
    let mut out = "⚠️ Buildbot did not start the build:".to_owned();
    for (label, problem) in problems {
        let _ = write!(out, "\n• <b>{}</b>: {}", escape(label), escape(problem));
    }
    out
}

/// The reason Buildbot records: who asked, since the build's owner is the bot's www user.
pub fn force_reason(reason: &str, who: &str, user_id: i64) -> String {
    let reason = reason.trim();
    let asked = format!("forced from Telegram by {who}, id {user_id}");
    if reason.is_empty() {
        asked
    } else {
        format!("{reason} ({asked})")
    }
}

pub fn force_requested(builder: &str, requests: &[(i64, String)]) -> String {
    let links: Vec<String> = requests
        .iter()
        .map(|(id, url)| link(url, &format!("#{id}")))
        .collect();
    let what = if links.is_empty() {
        String::new()
    } else {
        format!(": build request {}", links.join(", "))
    };
    format!("✅ Build of <b>{}</b> requested{what}.", escape(builder))
}

/// The question a Rebuild tap asks, so that a slip of the finger starts nothing.
pub fn rebuild_question(builder: &str, number: i64, url: &str) -> String {
    format!(
        "🔁 Rebuild <b>{}</b> {}?",
        escape(builder),
        link(url, &format!("#{number}"))
    )
}

/// A tap on a rebuild question answered before, older than a conversation may be, or not
/// on its question at all. Plain text: it is the notice of a tap.
/// A Rebuild of a build that did not fail (only a failure's message draws the button).
/// Plain text (a tap's notice).
pub fn rebuild_not_a_failure() -> String {
    "⛔ Only a build that failed can be rebuilt here, and this one did not, so nothing was done."
        .to_owned()
}

pub fn rebuild_question_stale() -> String {
    "This question is no longer open (answered, or asked too long ago), so nothing was done. Tap 🔁 Rebuild under the failure again.".to_owned()
}

pub fn rebuild_requested(who: &str, requests: &[(i64, String)]) -> String {
    let links: Vec<String> = requests
        .iter()
        .map(|(id, url)| link(url, &format!("#{id}")))
        .collect();
    format!(
        "🔁 Rebuild requested by {}: build request {}.",
        escape(who),
        links.join(", ")
    )
}

// ---------------------------------------------------------------------------------------------
// Why a value does not fit a parameter: plain text, the `problem` of [`force_bad_value`], which
// escapes it. Each says what would fit, so the next answer can be right.

pub fn field_required() -> String {
    "it is required".to_owned()
}

pub fn field_too_long(max: usize) -> String {
    format!("it may be at most {max} characters long")
}

pub fn field_not_a_number() -> String {
    "it must be a whole number, like 3".to_owned()
}

pub fn field_not_yes_or_no() -> String {
    "it must be yes or no".to_owned()
}

pub fn field_not_a_choice(choices: &[String]) -> String {
    format!("it must be one of: {}", choices.join(", "))
}

pub fn field_fixed() -> String {
    "it cannot be changed".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUESTS: [(i64, &str); 2] = [
        (5, "http://bb/#/buildrequests/5"),
        (6, "http://bb/#/buildrequests/6"),
    ];

    fn requests(n: usize) -> Vec<(i64, String)> {
        REQUESTS[..n]
            .iter()
            .map(|(id, url)| (*id, (*url).to_owned()))
            .collect()
    }

    #[test]
    fn choosing() {
        insta::assert_snapshot!(
            "force_choosing",
            [
                no_force_schedulers(),
                force_choose_scheduler(),
                force_choose_builder("Force <it>"),
                force_unknown_builder("runtest", &["runtests", "lint_*[x]"]),
                force_unclosed_quote(),
                force_unknown_field(
                    "reaosn<",
                    &[
                        "reason".to_owned(),
                        "retries".to_owned(),
                        "target".to_owned()
                    ]
                ),
            ]
            .join("\n\n")
        );
    }

    #[test]
    fn form() {
        let rows = [
            FormRow {
                label: "Reason",
                value: "",
                required: true,
                missing: true,
            },
            FormRow {
                label: "Branch",
                value: "main",
                required: true,
                missing: false,
            },
            FormRow {
                label: "Clean <build>",
                value: "false",
                required: false,
                missing: false,
            },
            FormRow {
                label: "Comment",
                value: "",
                required: false,
                missing: false,
            },
        ];
        insta::assert_snapshot!(
            "force_form",
            [
                force_form("runtests", "Force <it>", &rows),
                force_ask_value("Branch", "main", Some("alice")),
                force_ask_value("Reason", "", None),
                force_bad_value("Retries", "it must be a whole number, like 3", true),
                force_bad_value("Retries", "it must be a whole number, like 3", false),
                force_missing(&["Reason", "Branch <x>"]),
            ]
            .join("\n\n")
        );
    }

    #[test]
    fn outcomes() {
        insta::assert_snapshot!(
            "force_outcomes",
            [
                force_rejected(&[
                    ("Reason".to_owned(), "required".to_owned()),
                    ("Retries".to_owned(), "not an <int>".to_owned()),
                ]),
                force_reason("  fix it ", "Alice (@alice)", 42),
                force_reason("", "Alice (@alice)", 42),
                force_requested("runtests", &requests(2)),
                force_requested("runtests", &requests(0)),
                rebuild_requested("Alice <A>", &requests(1)),
                rebuild_question("lint <x>", 12, "http://bb/#/builders/4/builds/12"),
                rebuild_question_stale(),
                rebuild_not_a_failure(),
            ]
            .join("\n\n")
        );
    }

    #[test]
    fn field_problems() {
        insta::assert_snapshot!(
            "field_problems",
            [
                field_required(),
                field_too_long(5),
                field_not_a_number(),
                field_not_yes_or_no(),
                field_not_a_choice(&["debug".to_owned(), "release".to_owned()]),
                field_fixed(),
            ]
            .join("\n")
        );
    }
}
