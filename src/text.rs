//! Every text a user reads, in one place, rendered as Telegram HTML and pinned by snapshot tests.
//!
//! HTML is the parse mode because it can be escaped completely: a builder called `lint_*[x]`
//! breaks legacy Markdown (Buildbot's own bot loses such messages), but not `&lt;`-escaped HTML.
//! Every line produced here is self-contained (no tag spans a newline), so the delivery layer
//! may split a long message at any newline without breaking the markup.

use std::fmt::Write as _;

use rand::seq::SliceRandom;

use crate::buildbot::models::{Build, Builder, Change, Outcome, Step, Worker};

/// Escapes text for Telegram's HTML parse mode. Line breaks become spaces: escaped text is
/// always inline, and keeping every line self-contained is what makes splitting safe.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn link(url: &str, label: &str) -> String {
    format!("<a href=\"{}\">{}</a>", escape(url), escape(label))
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

// ---------------------------------------------------------------------------------------------
// Results and time

/// Emoji and word for a build result, e.g. "✅ success"; unfinished builds have no result yet.
pub fn result(results: Option<i64>) -> String {
    match results.map(|code| (code, Outcome::from_code(code))) {
        None => "⏳ not finished".to_owned(),
        Some((_, Some(outcome))) => format!("{} {}", result_emoji(outcome), outcome.word()),
        Some((code, None)) => format!("❔ result {code}"),
    }
}

pub fn result_emoji(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "✅",
        Outcome::Warnings => "⚠️",
        Outcome::Failure => "❌",
        Outcome::Skipped => "⏭️",
        Outcome::Exception => "💥",
        Outcome::Retry => "🔁",
        Outcome::Cancelled => "🚫",
    }
}

/// "5 minutes", "an hour", ... for "... ago" texts; rough on purpose, as Buildbot's is.
pub fn fuzzy_interval(seconds: i64) -> String {
    let s = seconds.max(0);
    let plural = |n: i64, one: &str, unit: &str| {
        if n == 1 {
            one.to_owned()
        } else {
            format!("{n} {unit}s")
        }
    };
    match s {
        0..=1 => "a moment".to_owned(),
        2..=59 => format!("{s} seconds"),
        60..=3599 => plural(s / 60, "a minute", "minute"),
        3600..=86_399 => plural(s / 3600, "an hour", "hour"),
        86_400..=2_591_999 => plural(s / 86_400, "a day", "day"),
        2_592_000..=31_535_999 => plural(s / 2_592_000, "a month", "month"),
        _ => plural(s / 31_536_000, "a year", "year"),
    }
}

/// A precise duration for "took ..." texts: "42 s", "3 min 5 s", "2 h 10 min", "3 d 4 h".
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// "2026-11-25 14:03 UTC" from epoch seconds, without a date crate.
pub fn utc_date(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

// ---------------------------------------------------------------------------------------------
// Small talk

const GREETINGS: [&str; 16] = [
    "Hello",
    "Hi there",
    "Hey",
    "Greetings",
    "Bonjour",
    "Hallo",
    "Hola",
    "Ciao",
    "Olá",
    "Hej",
    "Cześć",
    "Ahoj",
    "Привет",
    "Merhaba",
    "Konnichiwa",
    "Namaste",
];

pub fn greeting() -> String {
    let word = GREETINGS
        .choose(&mut rand::thread_rng())
        .unwrap_or(&"Hello");
    format!("{word}! 👋")
}

pub fn start(greeting: &str, help: &str) -> String {
    format!(
        "{greeting} I am a bot for <b>Buildbot</b>: ask me about builders, builds and workers.\n\n{help}"
    )
}

pub fn getid_private(user_id: i64) -> String {
    format!("Your ID is {}.", code(&user_id.to_string()))
}

pub fn getid_group(first_name: &str, user_id: i64, chat_kind: &str, chat_id: i64) -> String {
    format!(
        "{}, your ID is {}.\nThis {chat_kind} ID is {}.",
        escape(first_name),
        code(&user_id.to_string()),
        code(&chat_id.to_string())
    )
}

pub fn source(web_ui: &str) -> String {
    format!(
        "This Buildbot's home page is {}\nBuildbot's source can be found at {}\nThis bot is buildbot-telegram {}.",
        link(web_ui, web_ui),
        link(
            "https://github.com/buildbot/buildbot",
            "github.com/buildbot/buildbot"
        ),
        env!("CARGO_PKG_VERSION")
    )
}

pub fn version(master_version: Option<&str>, web_ui: &str) -> String {
    let master = match master_version {
        Some(v) => format!("buildbot-{} at {}", escape(v), link(web_ui, web_ui)),
        None => format!(
            "a Buildbot master of unknown version at {}",
            link(web_ui, web_ui)
        ),
    };
    format!(
        "This is buildbot-telegram {}, talking to {master}, at your service.",
        env!("CARGO_PKG_VERSION")
    )
}

pub fn never_mind(first_name: Option<&str>) -> String {
    match first_name {
        Some(name) => format!("Never mind, {}...", escape(name)),
        None => "Never mind...".to_owned(),
    }
}

/// Plain text in a private chat that is not a command.
pub fn say_what() -> String {
    "Say what? I only understand commands: send /help to see them.".to_owned()
}

// ---------------------------------------------------------------------------------------------
// Help and command lists

/// One line per command: "/status - list status of a builder (or all builders)".
pub fn help(commands: &[(String, String)]) -> String {
    let mut out = String::from("Here is what I can do:\n");
    for (name, description) in commands {
        let _ = writeln!(out, "/{name} - {}", escape(description));
    }
    out.push_str("\nSend /help <i>command</i> for the details of one.");
    out
}

pub fn usage(text: &str) -> String {
    format!("Usage: {}", escape(text))
}

pub fn no_usage_for(words: &[String]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{}'", escape(w))).collect();
    format!("No usage info for {}.", quoted.join(" "))
}

pub fn no_such_command(name: &str) -> String {
    format!(
        "There is no such command '{}'. Send /commands to see them all.",
        escape(name)
    )
}

pub fn commands(names: &[&str]) -> String {
    let list: Vec<String> = names.iter().map(|n| format!("/{n}")).collect();
    format!("Buildbot commands: {}", list.join(", "))
}

/// What BotFather's /setcommands takes: "name - description" lines, nothing else.
pub fn botfather_commands(commands: &[(String, String)]) -> String {
    commands
        .iter()
        .map(|(name, description)| format!("{name} - {}", escape(description)))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn unknown_command(name: &str) -> String {
    format!(
        "I don't know the command {}. Send /help to see what I can do.",
        escape(name)
    )
}

pub fn bad_arguments(reason: &str, usage_text: &str) -> String {
    format!("{} Usage: {}", escape(reason), escape(usage_text))
}

pub fn not_allowed(command: &str, user_id: i64, dangerous: bool) -> String {
    let group_key = if dangerous { "\"!\"" } else { "\"\"" };
    format!(
        "⛔ Sorry, you are not allowed to use /{command}.\nTo allow it, the bot's admin adds your user id {} to the <code>[authz]</code> key <code>\"{command}\"</code> (or <code>{group_key}</code>) in the settings.",
        code(&user_id.to_string())
    )
}

pub fn anonymous_not_allowed(command: &str) -> String {
    format!(
        "⛔ You are posting as the group or as a channel, so I cannot tell who you are, and /{command} needs that. Post as yourself to use it."
    )
}

pub fn getid_anonymous(chat_id: i64) -> String {
    format!(
        "You are posting as the group or as a channel, so Telegram does not tell me who you are: post as yourself to learn your ID.\nThis chat's ID is {}.",
        code(&chat_id.to_string())
    )
}

pub fn button_not_allowed(command: &str) -> String {
    format!("⛔ Sorry, you are not allowed to use /{command}.")
}

pub fn storage_failed() -> String {
    "⚠️ Something went wrong with my storage; the bot's admin will find the details in its log."
        .to_owned()
}

pub fn stale_button() -> String {
    "Sorry, this button is no longer valid. Send the command again.".to_owned()
}

pub fn master_unavailable(error: &str) -> String {
    format!(
        "⚠️ I could not get an answer from the Buildbot master: {}\nTry again in a moment; if it keeps happening, tell the bot's admin.",
        escape(error)
    )
}

// ---------------------------------------------------------------------------------------------
// /list

pub fn list_prompt() -> String {
    "What do you want to list?".to_owned()
}

/// A builder as the lists show it: its name, linked to its page.
pub struct BuilderEntry<'a> {
    pub builder: &'a Builder,
    pub url: String,
    /// At least one connected worker can run its builds.
    pub online: bool,
}

pub fn builders_list(entries: &[BuilderEntry<'_>], include_retired: bool) -> String {
    if entries.is_empty() {
        return if include_retired {
            "This master has no builders.".to_owned()
        } else {
            "No builders are configured on this master.".to_owned()
        };
    }
    let mut out = String::from("I found the following <b>builders</b>:");
    for e in entries {
        let _ = write!(out, "\n• {}", link(&e.url, &e.builder.name));
        if !e.builder.tags.is_empty() {
            let _ = write!(out, " <i>[{}]</i>", escape(&e.builder.tags.join(", ")));
        }
        if !e.builder.is_active() {
            out.push_str(" — retired");
        } else if !e.online {
            out.push_str(" — offline 🔌");
        }
    }
    out
}

pub fn workers_list(workers: &[&Worker], include_unconfigured: bool) -> String {
    if workers.is_empty() {
        return if include_unconfigured {
            "This master has no workers.".to_owned()
        } else {
            "No workers are configured on this master.".to_owned()
        };
    }
    let mut out = String::from("I found the following <b>workers</b>:");
    for w in workers {
        let state = if !w.is_configured() {
            "not configured"
        } else if !w.is_connected() {
            "disconnected ⚠️"
        } else if w.paused {
            "paused ⏸️"
        } else if w.graceful {
            "shutting down gracefully"
        } else {
            "connected 🟢"
        };
        let _ = write!(out, "\n• {} — {state}", code(&w.name));
    }
    out
}

/// Changes, given newest first, shown oldest first so the newest is at the bottom of the chat.
pub fn changes_list(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "This master has not seen any changes yet.".to_owned();
    }
    let mut out = match changes.len() {
        1 => "The most recent <b>change</b>:".to_owned(),
        n => format!("The {n} most recent <b>changes</b>, oldest first:"),
    };
    // The API gives newest first; a chat reads best with the newest at the bottom.
    for change in changes.iter().rev() {
        out.push('\n');
        let summary = change
            .comments
            .as_deref()
            .and_then(|c| c.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or("(no comment)");
        let summary: String = summary.chars().take(200).collect();
        let web_link = change
            .revlink
            .as_deref()
            .filter(|l| url::Url::parse(l).is_ok_and(|u| matches!(u.scheme(), "http" | "https")));
        match web_link {
            Some(url) => {
                let _ = write!(out, "\n📄 {}", link(url, &summary));
            }
            None => {
                let _ = write!(out, "\n📄 <b>{}</b>", escape(&summary));
            }
        }
        let mut details = Vec::new();
        if let Some(author) = change.author.as_deref() {
            details.push(format!("<i>Author</i>: {}", escape(author)));
        }
        if let Some(when) = change.when_timestamp {
            details.push(format!("<i>Date</i>: {}", utc_date(when)));
        }
        for detail in details {
            let _ = write!(out, "\n{detail}");
        }
        if let Some(repository) = change.repository.as_deref().filter(|r| !r.is_empty()) {
            let _ = write!(out, "\n<i>Repository</i>: {}", escape(repository));
        }
        if let Some(branch) = change.branch.as_deref() {
            let _ = write!(out, "\n<i>Branch</i>: {}", escape(branch));
        }
        if let Some(revision) = change.revision.as_deref() {
            let _ = write!(out, "\n<i>Revision</i>: {}", code(revision));
        }
    }
    out
}

/// `/list all changes` when there are many; `count` is what "all" would show.
pub fn too_many_changes(count: usize, capped: bool, some: u32) -> String {
    let count = if capped {
        format!("more than {count}")
    } else {
        count.to_string()
    };
    format!(
        "The master has {count} changes. Do you really want to see them all, or just the last {some}?"
    )
}

// ---------------------------------------------------------------------------------------------
// /status and /last

/// A running build with the step it is in.
pub struct RunningBuild<'a> {
    pub build: &'a Build,
    pub url: String,
    pub step: Option<&'a Step>,
}

/// Everything `/status` says about one builder.
pub struct BuilderStatus<'a> {
    pub builder: &'a Builder,
    pub url: String,
    pub online: bool,
    pub running: Vec<RunningBuild<'a>>,
    pub last: Option<(&'a Build, String)>,
}

/// One builder per line; `long` adds tags and what every running build is doing.
pub fn status(statuses: &[BuilderStatus<'_>], long: bool, now: i64) -> String {
    if statuses.is_empty() {
        return "No builders are configured on this master.".to_owned();
    }
    let mut lines = Vec::new();
    for s in statuses {
        let name = format!("<b>{}</b>", link(&s.url, &s.builder.name));
        let line = if !s.running.is_empty() {
            let builds: Vec<String> = s
                .running
                .iter()
                .map(|r| {
                    let number = link(&r.url, &format!("#{}", r.build.number));
                    let step = match r.step {
                        Some(step) => match step.state_string.as_deref() {
                            Some(state) if state != step.name && !state.is_empty() => {
                                format!("step {}: {}", escape(&step.name), escape(state))
                            }
                            _ => format!("step {}", escape(&step.name)),
                        },
                        None => "no current step".to_owned(),
                    };
                    let running_for = r
                        .build
                        .started_at
                        .map(|t| format!(", for {}", duration(now.saturating_sub(t))))
                        .unwrap_or_default();
                    format!("build {number} ({step}{running_for})")
                })
                .collect();
            // one line per build: a busy builder must not make a line too long to send
            match builds.as_slice() {
                [one] => format!("🌀 {name}: running {one}"),
                many => format!(
                    "🌀 {name}: running {} builds:\n    {}",
                    many.len(),
                    many.join("\n    ")
                ),
            }
        } else if !s.builder.is_active() {
            format!("🗄️ {name}: retired")
        } else if !s.online {
            format!("🔌 {name}: offline")
        } else {
            let mut line = format!("💤 {name}: idle");
            if let Some((build, url)) = &s.last {
                let _ = write!(
                    line,
                    ", last build {} {}{}",
                    link(url, &format!("#{}", build.number)),
                    result(build.results),
                    ago(build.complete_at, now)
                );
            }
            line
        };
        lines.push(line);
        if long {
            if !s.builder.tags.is_empty() {
                lines.push(format!("Tags: {}", escape(&s.builder.tags.join(", "))));
            }
            if let Some(description) = s.builder.description.as_deref().filter(|d| !d.is_empty()) {
                lines.push(format!("Description: {}", escape(description)));
            }
            let last_not_shown_yet = !s.running.is_empty() || !s.online || !s.builder.is_active();
            if last_not_shown_yet && let Some((build, url)) = &s.last {
                lines.push(format!(
                    "Last finished build {} {}{}",
                    link(url, &format!("#{}", build.number)),
                    result(build.results),
                    ago(build.complete_at, now)
                ));
            }
        }
    }
    lines.join("\n")
}

fn ago(at: Option<i64>, now: i64) -> String {
    match at {
        Some(t) => format!(", {} ago", fuzzy_interval(now.saturating_sub(t))),
        None => String::new(),
    }
}

/// A builder and its newest finished build (with the build's link), for `/last`.
pub struct BuilderLast<'a> {
    pub builder: &'a Builder,
    pub url: String,
    pub last: Option<(&'a Build, String)>,
}

/// `/last`: the newest finished build of each builder, with how long ago and how long it took.
pub fn last_builds(entries: &[BuilderLast<'_>], now: i64) -> String {
    if entries.is_empty() {
        return "No builders are configured on this master.".to_owned();
    }
    let mut lines = Vec::new();
    for BuilderLast { builder, url, last } in entries {
        let name = format!("<b>{}</b>", link(url, &builder.name));
        match last {
            None => lines.push(format!("{name}: no finished builds yet")),
            Some((build, url)) => {
                let mut line = format!(
                    "{name}: last build {} {}",
                    link(url, &format!("#{}", build.number)),
                    result(build.results)
                );
                if let Some(done) = build.complete_at {
                    let _ = write!(line, " ({} ago", fuzzy_interval(now.saturating_sub(done)));
                    if let Some(started) = build.started_at {
                        let _ = write!(line, ", took {}", duration(done.saturating_sub(started)));
                    }
                    line.push(')');
                }
                if build.results != Some(0)
                    && let Some(state) = build.state_string.as_deref().filter(|s| !s.is_empty())
                {
                    let _ = write!(line, ": {}", escape(state));
                }
                lines.push(line);
            }
        }
    }
    lines.join("\n")
}

pub fn no_such_builder(name: &str, suggestions: &[&str]) -> String {
    let mut out = format!("There is no builder called {}.", code(name));
    if !suggestions.is_empty() {
        let names: Vec<String> = suggestions.iter().map(|s| code(s)).collect();
        let _ = write!(out, " Did you mean {}?", names.join(" or "));
    }
    out.push_str(" Send /list builders to see them all.");
    out
}

// ---------------------------------------------------------------------------------------------
// Notifications

/// What a build message says about the build, besides its result.
pub struct BuildNote<'a> {
    pub builder: &'a Builder,
    pub build: &'a Build,
    pub url: String,
    pub reason: Option<String>,
    pub owner: Option<String>,
    /// Set when `use_revisions` is on: named instead of the build number.
    pub revisions: Option<Vec<String>>,
}

/// Hashes are shortened to 7 characters, as Buildbot's bot promises.
fn short_revision(revision: &str) -> &str {
    let is_hash = revision.len() > 7 && revision.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hash { &revision[..7] } else { revision }
}

/// "build #7 of runtests" or "build of runtests containing revision(s) abc1234".
fn build_name(note: &BuildNote<'_>) -> String {
    let builder = format!("<b>{}</b>", escape(&note.builder.name));
    match &note.revisions {
        Some(revisions) if !revisions.is_empty() => {
            let list: Vec<String> = revisions.iter().map(|r| code(short_revision(r))).collect();
            let noun = if list.len() == 1 {
                "revision"
            } else {
                "revisions"
            };
            format!(
                "{} of {builder} containing {noun} {}",
                link(&note.url, "Build"),
                list.join(", ")
            )
        }
        _ => format!(
            "Build {} of {builder}",
            link(&note.url, &format!("#{}", note.build.number))
        ),
    }
}

fn reason_and_owner(note: &BuildNote<'_>, out: &mut String) {
    if let Some(reason) = &note.reason {
        let _ = write!(out, "\nReason: {}", escape(reason));
    }
    if let Some(owner) = &note.owner {
        let _ = write!(out, "\nOwner: {}", escape(owner));
    }
}

pub fn build_started(note: &BuildNote<'_>) -> String {
    let mut out = format!("🚀 {} started.", build_name(note));
    reason_and_owner(note, &mut out);
    out
}

/// What went wrong, for failure messages.
pub struct Failure {
    pub step: Option<String>,
    /// The last lines of the failing step's log.
    pub log_tail: Vec<String>,
    /// Authors of the build's changes, when `show_blame_list` is on.
    pub blame: Option<Vec<String>>,
}

pub fn build_finished(
    note: &BuildNote<'_>,
    previous: Option<Outcome>,
    failure: &Failure,
) -> String {
    let outcome = note.build.results.and_then(Outcome::from_code);
    // "❌ Build #7 of runtests: failure": the emoji leads, so a chat list shows it first
    let (emoji, word) = result(note.build.results)
        .split_once(' ')
        .map_or((String::new(), String::new()), |(e, w)| {
            (e.to_owned(), w.to_owned())
        });
    let mut out = format!("{emoji} {}: {word}", build_name(note));
    if let (Some(started), Some(done)) = (note.build.started_at, note.build.complete_at) {
        let _ = write!(out, ", took {}", duration(done.saturating_sub(started)));
    }
    out.push('.');
    if outcome != Some(Outcome::Success)
        && let Some(state) = note.build.state_string.as_deref().filter(|s| !s.is_empty())
    {
        let _ = write!(out, "\n{}", escape(state));
    }
    if let Some(step) = &failure.step {
        let _ = write!(out, "\nFailed step: <b>{}</b>", escape(step));
    }
    if !failure.log_tail.is_empty() {
        let _ = write!(out, "\n{}", log_block(&failure.log_tail));
    }
    if let Some(previous) = previous.filter(|p| Some(*p) != outcome) {
        let _ = write!(
            out,
            "\nPrevious build: {} {}",
            result_emoji(previous),
            previous.word()
        );
    }
    if let Some(blame) = &failure.blame {
        if blame.is_empty() {
            out.push_str("\nBlame: nobody (no changes in this build)");
        } else {
            let _ = write!(out, "\nBlame: {}", escape(&blame.join(", ")));
        }
    }
    reason_and_owner(note, &mut out);
    out
}

/// The end of a log as one `<pre>` block, on one line of the message text: kept under 2,000
/// characters (the oldest lines go first) so the message never needs splitting inside it.
fn log_block(lines: &[String]) -> String {
    const MAX: usize = 2000;
    let mut kept: Vec<String> = Vec::new();
    let mut size = 0;
    for line in lines.iter().rev() {
        let line: String = line.chars().take(300).collect();
        let escaped = line
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        if size + escaped.len() + 1 > MAX {
            break;
        }
        size += escaped.len() + 1;
        kept.push(escaped);
    }
    kept.reverse();
    // Telegram keeps the newlines inside <pre>; the splitter sees one long line it will not cut
    // because the whole block is bounded.
    format!("<pre>{}</pre>", kept.join("&#10;"))
}

/// A live build message while the build runs.
pub fn build_progress(
    builder: &str,
    number: i64,
    url: &str,
    step: Option<&str>,
    done: usize,
    total: usize,
    elapsed: i64,
) -> String {
    let step = step
        .map(|s| format!(", step <b>{}</b>", escape(s)))
        .unwrap_or_default();
    format!(
        "🌀 Build {} of <b>{}</b> running{step} ({done} of {total} steps done), for {}.",
        link(url, &format!("#{number}")),
        escape(builder),
        duration(elapsed)
    )
}

pub fn worker_missing(name: &str, last_connection: Option<&str>) -> String {
    match last_connection {
        Some(when) => format!(
            "⚠️ Worker {} is missing. It was seen last on {}.",
            code(name),
            escape(when)
        ),
        None => format!("⚠️ Worker {} is missing.", code(name)),
    }
}

pub fn worker_back(name: &str) -> String {
    format!("✅ Worker {} is back online.", code(name))
}

// ---------------------------------------------------------------------------------------------
// /notify and /watch

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

pub fn already_finished(builder: &str, number: i64, url: &str, results: Option<i64>) -> String {
    format!(
        "Build {} of <b>{}</b> has already finished: {}.",
        link(url, &format!("#{number}")),
        escape(builder),
        result(results)
    )
}

pub fn build_gone() -> String {
    "That build no longer exists on the master.".to_owned()
}

// ---------------------------------------------------------------------------------------------
// Conversations: /force, /stop, /shutdown, /nay

pub fn nay(first_name: Option<&str>, ended: Option<&str>) -> String {
    match ended {
        Some(command) => format!(
            "{} I forgot the /{command} conversation.",
            never_mind(first_name)
        ),
        None => format!("{} There was nothing to forget.", never_mind(first_name)),
    }
}

pub fn conversation_not_yours(owner: &str, command: &str) -> String {
    format!(
        "This /{command} conversation belongs to {}. Start your own with /{command}.",
        escape(owner)
    )
}

pub fn conversation_expired(command: &str) -> String {
    format!("This conversation expired; start again with /{command}.")
}

pub fn conversation_over() -> String {
    "This conversation is over; start again with the command.".to_owned()
}

pub fn cancelled() -> String {
    "✖️ Cancelled: nothing was changed.".to_owned()
}

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

pub fn nothing_to_stop(builder: Option<&str>) -> String {
    match builder {
        Some(name) => format!("There are no running builds of {} to stop.", code(name)),
        None => "There are no running builds to stop.".to_owned(),
    }
}

pub fn stop_choose() -> String {
    "Which build do you want to stop?".to_owned()
}

pub fn stop_confirm(label: &str) -> String {
    format!("Stop build <b>{}</b>?", escape(label))
}

pub fn stop_reason(who: &str, user_id: i64) -> String {
    format!("stopped from Telegram by {who}, id {user_id}")
}

pub fn stop_done(label: &str) -> String {
    format!("🚫 Stopping build <b>{}</b>.", escape(label))
}

pub fn shutdown_button(action: &str) -> String {
    match action {
        "check" => "🔍 Check".to_owned(),
        "start" => "↘️ Begin clean shutdown".to_owned(),
        "stop" => "🔙 Cancel clean shutdown".to_owned(),
        _ => "‼️ Shut down now".to_owned(),
    }
}

pub fn shutdown_menu(unavailable: &[(&str, &str)], any: bool) -> String {
    let mut out = if any {
        "What do you want to do with the master?".to_owned()
    } else {
        "I cannot shut the master down:".to_owned()
    };
    for (action, why) in unavailable {
        let _ = write!(out, "\n• {action}: not offered, {}", escape(why));
    }
    out
}

pub fn shutdown_unavailable(action: &str, why: &str) -> String {
    format!("I cannot do /shutdown {action}: {}.", escape(why))
}

pub fn shutdown_confirm(action: &str) -> String {
    match action {
        "start" => "Begin a clean shutdown? The master takes no new builds and exits when the running ones finish.".to_owned(),
        _ => "Shut the master down now? Running builds are interrupted.".to_owned(),
    }
}

pub fn shutdown_done(outcome: &str) -> String {
    format!("✅ {}", escape(outcome))
}

pub fn shutdown_failed(error: &str) -> String {
    format!("⚠️ That did not work: {}", escape(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_616_800;

    fn builder(id: i64, name: &str, tags: &[&str], active: bool) -> Builder {
        serde_json::from_value(serde_json::json!({
            "builderid": id, "name": name, "tags": tags, "masterids": if active { vec![1] } else { vec![] },
        }))
        .unwrap()
    }

    fn build(
        id: i64,
        number: i64,
        results: Option<i64>,
        started: i64,
        done: Option<i64>,
        state: &str,
    ) -> Build {
        serde_json::from_value(serde_json::json!({
            "buildid": id, "number": number, "builderid": 1, "started_at": started, "complete_at": done,
            "complete": done.is_some(), "results": results, "state_string": state,
        }))
        .unwrap()
    }

    #[test]
    fn escapes_html_metacharacters() {
        assert_eq!(escape("lint_*[x]<&>\""), "lint_*[x]&lt;&amp;&gt;&quot;");
        assert_eq!(escape("two\nlines"), "two lines");
    }

    #[test]
    fn result_words() {
        let all: Vec<String> = [
            Some(0),
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(5),
            Some(6),
            Some(9),
            None,
        ]
        .into_iter()
        .map(result)
        .collect();
        insta::assert_snapshot!(all.join("\n"));
    }

    #[test]
    fn intervals_and_durations() {
        let secs = [
            0, 1, 5, 59, 60, 119, 120, 3599, 3600, 7200, 86_400, 172_800, 2_592_000, 31_536_000,
            63_072_000,
        ];
        let out: Vec<String> = secs
            .iter()
            .map(|s| format!("{s}: {} / {}", fuzzy_interval(*s), duration(*s)))
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(1_795_616_759), "2026-11-25 14:25 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn help_and_botfather() {
        let commands = [
            ("help", "give help for a command or one of it's arguments"),
            ("status", "list status of a builder (or all builders)"),
        ]
        .map(|(n, d)| (n.to_owned(), d.to_owned()));
        insta::assert_snapshot!("help", help(&commands));
        insta::assert_snapshot!("botfather", botfather_commands(&commands));
        insta::assert_snapshot!("commands", commands_text());
    }

    fn commands_text() -> String {
        commands(&["commands", "help", "status"])
    }

    #[test]
    fn access_and_errors() {
        insta::assert_snapshot!("not_allowed_dangerous", not_allowed("force", 123_456, true));
        insta::assert_snapshot!("not_allowed_harmless", not_allowed("status", 42, false));
        insta::assert_snapshot!("unknown_command", unknown_command("/fly"));
        insta::assert_snapshot!("no_such_builder", no_such_builder("runtest", &["runtests"]));
        insta::assert_snapshot!(
            "master_unavailable",
            master_unavailable("cannot reach the Buildbot master at http://x/: connection failed")
        );
        insta::assert_snapshot!(
            "getid_group",
            getid_group("Harry <3", 123_456_789, "group", -12_345_678)
        );
        insta::assert_snapshot!("getid_private", getid_private(123_456_789));
    }

    #[test]
    fn builder_and_worker_lists() {
        let b1 = builder(1, "runtests", &["unit", "fast"], true);
        let b2 = builder(2, "lint_*[x]<&>", &[], true);
        let b3 = builder(3, "old", &[], false);
        let entries = [
            BuilderEntry {
                builder: &b1,
                url: "http://bb/#/builders/1".into(),
                online: true,
            },
            BuilderEntry {
                builder: &b2,
                url: "http://bb/#/builders/2".into(),
                online: false,
            },
            BuilderEntry {
                builder: &b3,
                url: "http://bb/#/builders/3".into(),
                online: false,
            },
        ];
        insta::assert_snapshot!("builders", builders_list(&entries, true));
        let workers: Vec<Worker> = serde_json::from_value(serde_json::json!([
            {"workerid": 1, "name": "local", "connected_to": [{"masterid": 1}], "configured_on": [{"builderid": 1}]},
            {"workerid": 2, "name": "ghost", "connected_to": [], "configured_on": [{"builderid": 2}]},
            {"workerid": 3, "name": "paused", "connected_to": [{"masterid": 1}], "configured_on": [{"builderid": 2}], "paused": true},
            {"workerid": 4, "name": "spare", "connected_to": [], "configured_on": []},
        ]))
        .unwrap();
        insta::assert_snapshot!(
            "workers",
            workers_list(&workers.iter().collect::<Vec<_>>(), true)
        );
    }

    #[test]
    fn changes() {
        let changes: Vec<Change> = serde_json::from_value(serde_json::json!([
            {"changeid": 2, "author": "Bob <bob@example.org>", "comments": "\nfix the _thing_ <b>\n\nlonger text",
             "branch": "main", "revision": "abcdef1234567890", "revlink": "https://example.org/c/abcdef",
             "repository": "https://example.org/repo.git", "when_timestamp": 1_795_616_759},
            {"changeid": 1, "author": "alice", "comments": "", "branch": null, "revision": null, "revlink": null,
             "repository": "", "when_timestamp": null},
        ]))
        .unwrap();
        insta::assert_snapshot!(changes_list(&changes));
        insta::assert_snapshot!("too_many_changes", too_many_changes(200, true, 50));
    }

    #[test]
    fn status_and_last() {
        let b1 = builder(1, "runtests", &["unit"], true);
        let b2 = builder(2, "slow", &[], true);
        let b3 = builder(3, "offline-builder", &[], true);
        let done = build(
            10,
            3,
            Some(0),
            NOW - 400,
            Some(NOW - 300),
            "build successful",
        );
        let failed = build(
            11,
            7,
            Some(2),
            NOW - 4000,
            Some(NOW - 3700),
            "failed 'sh -c ...' (failure)",
        );
        let running = build(12, 8, None, NOW - 65, None, "building");
        let step: Step = serde_json::from_value(serde_json::json!({"stepid": 5, "number": 0, "name": "sleep", "state_string": "'sleep 30'"})).unwrap();
        let statuses = vec![
            BuilderStatus {
                builder: &b1,
                url: "http://bb/#/builders/1".into(),
                online: true,
                running: vec![],
                last: Some((&done, "http://bb/#/builders/1/builds/3".into())),
            },
            BuilderStatus {
                builder: &b2,
                url: "http://bb/#/builders/2".into(),
                online: true,
                running: vec![RunningBuild {
                    build: &running,
                    url: "http://bb/#/builders/2/builds/8".into(),
                    step: Some(&step),
                }],
                last: Some((&failed, "http://bb/#/builders/2/builds/7".into())),
            },
            BuilderStatus {
                builder: &b3,
                url: "http://bb/#/builders/3".into(),
                online: false,
                running: vec![],
                last: None,
            },
        ];
        insta::assert_snapshot!("status_short", status(&statuses, false, NOW));
        insta::assert_snapshot!("status_long", status(&statuses[1..2], true, NOW));
        let entries: Vec<BuilderLast<'_>> = [
            (&b1, 1, Some((&done, "http://bb/#/builders/1/builds/3"))),
            (&b2, 2, Some((&failed, "http://bb/#/builders/2/builds/7"))),
            (&b3, 3, None),
        ]
        .into_iter()
        .map(|(builder, id, last)| BuilderLast {
            builder,
            url: format!("http://bb/#/builders/{id}"),
            last: last.map(|(b, url)| (b, url.to_owned())),
        })
        .collect();
        insta::assert_snapshot!("last", last_builds(&entries, NOW));
    }

    #[test]
    fn every_line_is_self_contained() {
        // the splitter relies on this: no tag may be open at a newline
        let b = builder(1, "a\nb<i>", &["x\ny"], true);
        let out = builders_list(
            &[BuilderEntry {
                builder: &b,
                url: "http://bb/".into(),
                online: true,
            }],
            false,
        );
        for line in out.lines() {
            assert_eq!(
                line.matches("<a ").count(),
                line.matches("</a>").count(),
                "{line}"
            );
            assert_eq!(
                line.matches("<i>").count(),
                line.matches("</i>").count(),
                "{line}"
            );
        }
    }

    #[test]
    fn build_notifications() {
        let b = builder(3, "lint_*[x]<&>", &["lint"], true);
        let failed = build(
            12,
            7,
            Some(2),
            NOW - 95,
            Some(NOW),
            "failed 'sh -c ...' (failure)",
        );
        let note = BuildNote {
            builder: &b,
            build: &failed,
            url: "http://bb/#/builders/3/builds/7".into(),
            reason: Some("A build was forced by 'alice': fix <it>".into()),
            owner: Some("alice".into()),
            revisions: None,
        };
        insta::assert_snapshot!("started", build_started(&note));
        let failure = Failure {
            step: Some("unit tests".into()),
            log_tail: vec!["compiling <x>".into(), "boom & bust".into()],
            blame: Some(vec!["Bob <bob@example.org>".into(), "carol".into()]),
        };
        insta::assert_snapshot!(
            "finished_failure",
            build_finished(&note, Some(Outcome::Success), &failure)
        );
        let ok = build(13, 8, Some(0), NOW - 5, Some(NOW), "build successful");
        let note = BuildNote {
            build: &ok,
            url: "http://bb/#/builders/3/builds/8".into(),
            reason: None,
            owner: None,
            revisions: Some(vec!["abcdef1234567890abcdef".into(), "v1.2".into()]),
            ..note
        };
        insta::assert_snapshot!(
            "finished_revisions",
            build_finished(
                &note,
                Some(Outcome::Failure),
                &Failure {
                    step: None,
                    blame: None,
                    log_tail: Vec::new(),
                }
            )
        );
        insta::assert_snapshot!(
            "progress",
            build_progress(
                "slow",
                4,
                "http://bb/#/builders/2/builds/4",
                Some("sleep"),
                1,
                3,
                75
            )
        );
        insta::assert_snapshot!(
            "worker_events",
            format!(
                "{}\n{}",
                worker_missing("w<1>", Some("Wed Nov 25 14:00:00 2026")),
                worker_back("w<1>")
            )
        );
        insta::assert_snapshot!(
            "notify_list",
            format!(
                "{}\n{}",
                notify_list(&["failure", "started"]),
                notify_list(&[])
            )
        );
    }

    #[test]
    fn busy_retired_and_offline_builders() {
        let busy = builder(1, "busy", &[], true);
        let gone = builder(2, "gone", &[], false);
        let down = builder(3, "down", &[], true);
        let a = build(20, 4, None, NOW - 10, None, "building");
        let b = build(21, 5, None, NOW - 5, None, "building");
        let last = build(9, 2, Some(2), NOW - 4000, Some(NOW - 3900), "failed");
        fn running(build: &Build) -> RunningBuild<'_> {
            let url = format!("http://bb/#/builders/1/builds/{}", build.number);
            RunningBuild {
                build,
                url,
                step: None,
            }
        }
        let statuses = vec![
            BuilderStatus {
                builder: &busy,
                url: "http://bb/#/builders/1".into(),
                online: true,
                running: vec![running(&a), running(&b)],
                last: None,
            },
            BuilderStatus {
                builder: &gone,
                url: "http://bb/#/builders/2".into(),
                online: false,
                running: vec![],
                last: None,
            },
            BuilderStatus {
                builder: &down,
                url: "http://bb/#/builders/3".into(),
                online: false,
                running: vec![],
                last: Some((&last, "http://bb/#/builders/3/builds/2".into())),
            },
        ];
        insta::assert_snapshot!("status_busy", status(&statuses, false, NOW));
        insta::assert_snapshot!("status_offline_long", status(&statuses[2..], true, NOW));
    }
}
