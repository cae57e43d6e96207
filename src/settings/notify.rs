//! `[notify]`: who hears about builds, which builds, and how. Lists may come from a file or as
//! comma-separated environment variables, so every item is checked here whatever its source.

use crate::event::Event;
use crate::filter::Term;

use super::SettingsError;
use super::raw::{RawFlaky, RawNotify};
use super::values::count_in_range;

#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// One message per build, edited as it progresses and turned into the result.
    pub live: bool,
    /// `[notify.routes]`, in key order: where a forum supergroup's notifications go.
    pub routes: Vec<Route>,
    /// When notifications arrive without a sound.
    pub quiet_hours: Option<QuietHours>,
    /// What quiet hours do to build results: arrive silently, or wait for a morning digest.
    pub quiet_hours_mode: QuietHoursMode,
    /// Lines of the failing step's log shown in failure messages (0: none).
    pub log_tail_lines: usize,
    pub chat_ids: Vec<ChatTarget>,
    /// The filter terms written after a chat in `chat_ids` (`"-1001234 builder:linux-*"`),
    /// for the chats that have some.
    pub chat_terms: Vec<(ChatTarget, Vec<Term>)>,
    pub events: Vec<Event>,
    pub tags: Vec<String>,
    pub show_blame_list: bool,
    pub use_revisions: bool,
    /// Repeated failures arrive without a sound, for chats that did not choose.
    pub quiet_repeats: bool,
    pub flaky: FlakySettings,
}

/// `[notify.flaky]`: when a builder's recent builds make it flaky.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlakySettings {
    /// Finished builds looked at per builder (0: no flaky detection).
    pub window: usize,
    /// Failed builds whose revision passed later that make a builder flaky (0: not a sign).
    pub rebuilds: usize,
    /// Changes between passing and failing that make a builder flaky (0: not a sign).
    pub flips: usize,
}

/// A chat that gets notifications: a numeric id, or a public channel's `@username`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTarget {
    Id(i64),
    Channel(String),
}

/// One line of `[notify.routes]`: a builder's notifications go to forum topic `thread`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub target: RouteTarget,
    pub thread: i32,
}

/// A route's key: a builder's name, or `tag:NAME` for every builder carrying that tag. Told
/// apart once at start, so routing a build does not look at the key's text again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    Builder(String),
    Tag(String),
}

impl NotifySettings {
    /// The forum topic for a builder's notifications. A route naming the builder wins over its
    /// tags, because it is the more specific wish; among tag routes the first in key order wins.
    pub fn topic_for(&self, builder: &str, tags: &[String]) -> Option<i32> {
        let named =
            |route: &&Route| matches!(&route.target, RouteTarget::Builder(name) if name == builder);
        let tagged =
            |route: &&Route| matches!(&route.target, RouteTarget::Tag(tag) if tags.contains(tag));
        self.routes
            .iter()
            .find(named)
            .or_else(|| self.routes.iter().find(tagged))
            .map(|route| route.thread)
    }

    /// `[notify].tags`: with tags set, only builders carrying one of them exist for the bot
    /// (listed, reported); with none set, every builder does.
    pub fn shows(&self, tags: &[String]) -> bool {
        tags_show(&self.tags, tags)
    }
}

/// With `shown` tags set, only builders carrying one of them are shown; with none, every one.
pub fn tags_show(shown: &[String], tags: &[String]) -> bool {
    shown.is_empty() || tags.iter().any(|t| shown.contains(t))
}

/// `notify.quiet_hours`: every day from `from` to `until` (seconds of the day, UTC),
/// notifications arrive without a sound. Read once at start, so the outbox only compares
/// numbers for each message it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from: u32,
    pub until: u32,
}

/// The seconds in a day: quiet hours repeat every day.
const DAY: i64 = 86_400;

impl QuietHours {
    /// Is `epoch` inside the window? A window may wrap midnight (22:00-07:00).
    pub fn contains(&self, epoch: i64) -> bool {
        let second = u32::try_from(epoch.rem_euclid(DAY)).unwrap_or(0);
        if self.from < self.until {
            (self.from..self.until).contains(&second)
        } else {
            second >= self.from || second < self.until
        }
    }

    /// Seconds from `epoch` to the next end of the window (1 to a day): when a digest of
    /// what the window held is due.
    pub fn seconds_to_end(&self, epoch: i64) -> i64 {
        let left = (i64::from(self.until) - epoch.rem_euclid(DAY)).rem_euclid(DAY);
        if left == 0 { DAY } else { left }
    }
}

/// `notify.quiet_hours_mode`: what a build result in the quiet hours does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuietHoursMode {
    /// Sent at once, without a sound.
    #[default]
    Silent,
    /// Kept, and summed up in one message per chat when the window ends.
    Digest,
}

impl NotifySettings {
    /// The quiet hours whose build results wait for a digest: none unless the mode is
    /// `digest`.
    pub fn digest_window(&self) -> Option<QuietHours> {
        self.quiet_hours
            .filter(|_| self.quiet_hours_mode == QuietHoursMode::Digest)
    }
}

pub(super) fn validate_notify(raw: RawNotify) -> Result<NotifySettings, SettingsError> {
    let chats = raw
        .chat_ids
        .iter()
        .map(parse_chat_entry)
        .collect::<Result<Vec<_>, _>>()?;
    let chat_ids = chats.iter().map(|(chat, _)| chat.clone()).collect();
    let chat_terms = chats
        .into_iter()
        .filter(|(_, terms)| !terms.is_empty())
        .collect();
    let events = parse_events(&raw.events)?;
    let tags = raw
        .tags
        .iter()
        .map(|t| {
            t.as_str()
                .map_or_else(|| t.to_string(), str::to_owned)
                .trim()
                .to_owned()
        })
        .filter(|t| !t.is_empty())
        .collect();
    let log_tail_lines = count_in_range("notify.log_tail_lines", raw.log_tail_lines, 0, 100)?;
    let quiet_hours = parse_quiet_hours(&raw.quiet_hours)?;
    let quiet_hours_mode = parse_quiet_hours_mode(&raw.quiet_hours_mode, quiet_hours)?;
    let routes = parse_routes(&raw.routes)?;
    let flaky = validate_flaky(&raw.flaky)?;
    Ok(NotifySettings {
        quiet_repeats: raw.quiet_repeats,
        flaky,
        live: raw.live,
        routes,
        quiet_hours,
        quiet_hours_mode,
        log_tail_lines,
        chat_ids,
        chat_terms,
        events,
        tags,
        show_blame_list: raw.show_blame_list,
        use_revisions: raw.use_revisions,
    })
}

/// Each event once, in the order given.
fn parse_events(values: &[serde_json::Value]) -> Result<Vec<Event>, SettingsError> {
    let mut events = Vec::new();
    for value in values {
        let name = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        let event = name.trim().parse::<Event>().map_err(|_| {
            SettingsError::invalid("notify.events", format!("{name:?}"), Event::allowed_list())
        })?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    Ok(events)
}

fn parse_routes(
    table: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Result<Vec<Route>, SettingsError> {
    let mut routes = Vec::new();
    for (key, value) in table {
        let thread = value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|t| i32::try_from(t).ok())
            .filter(|t| *t > 0)
            .ok_or_else(|| {
                SettingsError::invalid(
                    format!("notify.routes.{key:?}"),
                    value,
                    "the message_thread_id of a forum topic (a positive number)",
                )
            })?;
        let target = route_target(key)?;
        routes.push(Route { target, thread });
    }
    Ok(routes)
}

/// `quick` → that builder; `tag:slow` → every builder tagged `slow`.
fn route_target(key: &str) -> Result<RouteTarget, SettingsError> {
    let name = key.trim();
    match name.strip_prefix("tag:").map(str::trim) {
        None => Ok(RouteTarget::Builder(name.to_owned())),
        Some("") => Err(SettingsError::invalid(
            format!("notify.routes.{key:?}"),
            format!("{key:?}"),
            "a builder name, or tag: followed by a builder tag, e.g. \"tag:slow\" = 12",
        )),
        Some(tag) => Ok(RouteTarget::Tag(tag.to_owned())),
    }
}

/// `[notify.flaky]`. A sign above what the window can show never fires; it is not refused,
/// so that a smaller window alone is a valid change.
fn validate_flaky(raw: &RawFlaky) -> Result<FlakySettings, SettingsError> {
    const MOST: i64 = 200;
    Ok(FlakySettings {
        window: count_in_range("notify.flaky.window", raw.window, 0, MOST)?,
        rebuilds: count_in_range("notify.flaky.rebuilds", raw.rebuilds, 0, MOST)?,
        flips: count_in_range("notify.flaky.flips", raw.flips, 0, MOST)?,
    })
}

/// "22:00-07:00" (or "22:00:30-07:00:00") → seconds of the day (UTC); empty → none.
fn parse_quiet_hours(text: &str) -> Result<Option<QuietHours>, SettingsError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.split_once('-')
        .and_then(|(from, to)| Some((second_of_day(from)?, second_of_day(to)?)))
        .filter(|(from, to)| from != to)
        .map(|(from, until)| Some(QuietHours { from, until }))
        .ok_or_else(|| {
            SettingsError::invalid(
                "notify.quiet_hours",
                format!("{text:?}"),
                "empty, or HH:MM-HH:MM in UTC, e.g. 22:00-07:00 (HH:MM:SS for seconds: 22:00:30-07:00:00)",
            )
        })
}

/// "07:30" or "07:30:15" → seconds since midnight.
fn second_of_day(text: &str) -> Option<u32> {
    let number = |part: &str, below: u32| -> Option<u32> {
        let digits = (1..=2).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
        digits
            .then(|| part.parse().ok())
            .flatten()
            .filter(|n| *n < below)
    };
    let parts: Vec<&str> = text.trim().split(':').collect();
    let (h, m, s) = match parts[..] {
        [h, m] => (h, m, "0"),
        [h, m, s] => (h, m, s),
        _ => return None,
    };
    Some(number(h, 24)? * 3600 + number(m, 60)? * 60 + number(s, 60)?)
}

/// "silent" (the default) or "digest"; a digest needs quiet hours to end.
fn parse_quiet_hours_mode(
    text: &str,
    quiet_hours: Option<QuietHours>,
) -> Result<QuietHoursMode, SettingsError> {
    // ASCII case ignored, as for notify.events
    let mode = match text.trim().to_ascii_lowercase().as_str() {
        "" | "silent" => QuietHoursMode::Silent,
        "digest" => QuietHoursMode::Digest,
        _ => {
            return Err(SettingsError::invalid(
                "notify.quiet_hours_mode",
                format!("{text:?}"),
                "\"silent\" (results in the quiet hours arrive without a sound) or \"digest\" (one summary per chat when they end)",
            ));
        }
    };
    if mode == QuietHoursMode::Digest && quiet_hours.is_none() {
        return Err(SettingsError::invalid(
            "notify.quiet_hours_mode",
            format!("{text:?}"),
            "\"digest\" only with notify.quiet_hours set, since the digest is sent when they end: set quiet_hours (e.g. \"22:00-07:00\"), or quiet_hours_mode = \"silent\"",
        ));
    }
    Ok(mode)
}

/// One entry of `notify.chat_ids`: a chat, and in a string, filter terms after it
/// (`"-1001234 builder:linux-* branch:main"`).
fn parse_chat_entry(value: &serde_json::Value) -> Result<(ChatTarget, Vec<Term>), SettingsError> {
    let Some(text) = value.as_str() else {
        return Ok((parse_chat_target(value)?, Vec::new()));
    };
    let mut words = text.split_whitespace();
    let chat = parse_chat_target(&serde_json::Value::from(words.next().unwrap_or_default()))?;
    let terms = words
        .map(|word| {
            word.parse::<Term>().map_err(|_| {
                SettingsError::invalid(
                    "notify.chat_ids",
                    format!("{text:?}"),
                    "a chat, then filters such as builder:linux-*, tag:nightly or branch:main (globs with * and ?, at most 64 characters)",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((chat, terms))
}

fn parse_chat_target(value: &serde_json::Value) -> Result<ChatTarget, SettingsError> {
    let bad = || {
        SettingsError::invalid(
            "notify.chat_ids",
            value,
            "numeric chat ids (groups are negative) or \"@channelusername\"; send /getid to the bot to learn an id",
        )
    };
    match value {
        serde_json::Value::Number(n) => n
            .as_i64()
            .filter(|id| *id != 0)
            .map(ChatTarget::Id)
            .ok_or_else(bad),
        serde_json::Value::String(s) => {
            let s = s.trim();
            if let Some(name) = s.strip_prefix('@') {
                let ok =
                    name.len() >= 5 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                ok.then(|| ChatTarget::Channel(s.to_owned()))
                    .ok_or_else(bad)
            } else {
                s.parse::<i64>()
                    .ok()
                    .filter(|id| *id != 0)
                    .map(ChatTarget::Id)
                    .ok_or_else(bad)
            }
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error_text, load_toml, with_token};
    use super::*;

    #[test]
    fn unknown_event_lists_the_valid_ones() {
        let err = error_text(&with_token(
            "[notify]\nevents = [\"started\", \"explode\"]\n",
        ));
        assert!(err.contains("notify.events"), "{err}");
        assert!(err.contains("explode"), "{err}");
        assert!(err.contains("started, finished, success"), "{err}");
    }

    #[test]
    fn bad_chat_id_is_rejected() {
        let err = error_text(&with_token("[notify]\nchat_ids = [\"general\"]\n"));
        assert!(
            err.contains("notify.chat_ids") && err.contains("general"),
            "{err}"
        );
    }

    #[test]
    fn routes() {
        let s = load_toml(&with_token(
            "[notify.routes]\nquick = 11\n\"tag:slow\" = 12\n",
        ))
        .unwrap();
        assert_eq!(
            s.notify.routes,
            vec![
                Route {
                    target: RouteTarget::Builder("quick".to_owned()),
                    thread: 11
                },
                Route {
                    target: RouteTarget::Tag("slow".to_owned()),
                    thread: 12
                }
            ]
        );
        let err = error_text(&with_token("[notify.routes]\nquick = \"general\"\n"));
        assert!(
            err.contains("notify.routes") && err.contains("message_thread_id"),
            "{err}"
        );
        let err = error_text(&with_token(
            "[notify.routes]
\"tag:\" = 12\n",
        ));
        assert!(
            err.contains("notify.routes.\"tag:\"") && err.contains("tag:slow"),
            "{err}"
        );
    }

    #[test]
    fn quiet_repeats_and_flaky_thresholds() {
        let s = load_toml(&with_token("")).unwrap();
        assert!(!s.notify.quiet_repeats);
        assert_eq!(
            s.notify.flaky,
            FlakySettings {
                window: 20,
                rebuilds: 1,
                flips: 6
            }
        );
        let s = load_toml(&with_token(
            "[notify]\nquiet_repeats = true\n[notify.flaky]\nwindow = 0\n",
        ))
        .unwrap();
        assert!(s.notify.quiet_repeats);
        assert_eq!(s.notify.flaky.window, 0, "off");
        let s = load_toml(&with_token("[notify.flaky]\nwindow = 5\n")).unwrap();
        assert_eq!(s.notify.flaky.flips, 6, "a smaller window alone is fine");
        let err = error_text(&with_token("[notify.flaky]\nflips = 201\n"));
        assert!(
            err.contains("notify.flaky.flips") && err.contains("a whole number from 0 to 200"),
            "{err}"
        );
        let err = error_text(&with_token("[notify.flaky]\nrebuilds = -1\n"));
        assert!(err.contains("notify.flaky.rebuilds"), "{err}");
        let err = error_text(&with_token("[notify.flaky]\nwindows = 3\n"));
        assert!(err.contains("windows"), "a typo is named: {err}");
    }

    #[test]
    fn quiet_hours() {
        let s = load_toml(&with_token("[notify]\nquiet_hours = \"22:00-07:30\"\n")).unwrap();
        assert_eq!(
            s.notify.quiet_hours,
            Some(QuietHours {
                from: 22 * 3600,
                until: 7 * 3600 + 30 * 60
            })
        );
        assert_eq!(s.notify.quiet_hours_mode, QuietHoursMode::Silent);
        let s = load_toml(&with_token(
            "[notify]\nquiet_hours = \" 9:05:07 - 09:05:37 \"\n",
        ))
        .unwrap();
        let from = 9 * 3600 + 5 * 60 + 7;
        assert_eq!(
            s.notify.quiet_hours,
            Some(QuietHours {
                from,
                until: from + 30
            }),
            "to the second, for a window that ends soon"
        );
        for bad in [
            "late",
            "22:00",
            "24:00-07:00",
            "22:60-07:00",
            "22:00:60-07:00",
            "22:00:00:00-07:00",
            "22:+1-07:00",
            "07:00-07:00:00",
        ] {
            let err = error_text(&with_token(&format!("[notify]\nquiet_hours = \"{bad}\"\n")));
            assert!(
                err.contains("notify.quiet_hours")
                    && err.contains("22:00-07:00")
                    && err.contains("HH:MM:SS"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn quiet_hours_mode() {
        let mode = |toml: &str| load_toml(&with_token(toml)).map(|s| s.notify.quiet_hours_mode);
        let night = "[notify]\nquiet_hours = \"22:00-07:00\"\n";
        assert_eq!(
            mode(&format!("{night}quiet_hours_mode = \"digest\"\n")).unwrap(),
            QuietHoursMode::Digest
        );
        assert_eq!(
            mode(&format!("{night}quiet_hours_mode = \"silent\"\n")).unwrap(),
            QuietHoursMode::Silent
        );
        assert_eq!(
            mode(&format!("{night}quiet_hours_mode = \" Digest \"\n")).unwrap(),
            QuietHoursMode::Digest
        );
        let err = error_text(&with_token(&format!(
            "{night}quiet_hours_mode = \"loud\"\n"
        )));
        assert!(
            err.contains("notify.quiet_hours_mode")
                && err.contains("\"loud\"")
                && err.contains("\"silent\"")
                && err.contains("\"digest\""),
            "{err}"
        );
        let err = error_text(&with_token("[notify]\nquiet_hours_mode = \"digest\"\n"));
        assert!(
            err.contains("notify.quiet_hours_mode")
                && err.contains("set quiet_hours (e.g. \"22:00-07:00\")"),
            "what to do: {err}"
        );
        let digest = load_toml(&with_token(&format!(
            "{night}quiet_hours_mode = \"digest\"\n"
        )))
        .unwrap();
        assert_eq!(digest.notify.digest_window(), digest.notify.quiet_hours);
        let silent = load_toml(&with_token(night)).unwrap();
        assert_eq!(silent.notify.digest_window(), None);
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let at = |h: i64, m: i64| 1_795_564_800 + h * 3600 + m * 60; // a midnight UTC
        let window = |from: u32, until: u32| Some(QuietHours { from, until });
        let quiet = |w: Option<QuietHours>, epoch: i64| w.is_some_and(|w| w.contains(epoch));
        let night = window(22 * 3600, 7 * 3600);
        assert!(quiet(night, at(23, 0)) && quiet(night, at(3, 0)));
        assert!(!quiet(night, at(7, 0)) && !quiet(night, at(12, 0)));
        assert!(quiet(night, at(7, 0) - 1), "the last second is inside");
        let lunch = window(12 * 3600, 13 * 3600);
        assert!(quiet(lunch, at(12, 30)) && !quiet(lunch, at(13, 0)));
        assert!(!quiet(None, at(3, 0)));
    }

    #[test]
    fn the_end_of_the_window_is_due_in_seconds() {
        let midnight = 1_795_564_800;
        let night = QuietHours {
            from: 22 * 3600,
            until: 7 * 3600,
        };
        assert_eq!(night.seconds_to_end(midnight + 23 * 3600), 8 * 3600);
        assert_eq!(night.seconds_to_end(midnight + 7 * 3600 - 1), 1);
        assert_eq!(
            night.seconds_to_end(midnight + 7 * 3600),
            86_400,
            "at the end, the next one is a day away"
        );
        assert_eq!(night.seconds_to_end(midnight + 12 * 3600), 19 * 3600);
    }

    fn notify(toml: &str) -> NotifySettings {
        load_toml(&with_token(toml)).unwrap().notify
    }

    fn tags(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    #[test]
    fn topic_for_prefers_the_builder_then_the_first_tag() {
        // "tag:aa" sorts before "zz": the builder's own route still wins
        let n = notify("[notify.routes]\n\"tag:aa\" = 11\nzz = 12\n\"tag:bb\" = 13\n");
        assert_eq!(n.topic_for("zz", &tags(&["aa"])), Some(12));
        assert_eq!(n.topic_for("other", &tags(&["bb", "aa"])), Some(11));
        assert_eq!(n.topic_for("other", &tags(&["bb"])), Some(13));
        assert_eq!(n.topic_for("other", &tags(&["cc"])), None);
        assert_eq!(n.topic_for("aa", &[]), None);
        assert_eq!(notify("").topic_for("zz", &tags(&["aa"])), None);
    }

    #[test]
    fn shows_every_builder_without_tags_and_only_tagged_ones_with() {
        let all = notify("");
        assert!(all.shows(&[]) && all.shows(&tags(&["x"])));
        let some = notify("[notify]\ntags = [\"slow\", \"nightly\"]\n");
        assert!(some.shows(&tags(&["fast", "nightly"])));
        assert!(!some.shows(&tags(&["fast"])) && !some.shows(&[]));
    }

    #[test]
    fn chat_ids_carry_filters_after_the_chat() {
        let s = load_toml(&with_token(
            "[notify]\nchat_ids = [-5, \"-1001234 builder:linux-* branch:main\", \"@mychannel tag:docs\"]\n",
        ))
        .unwrap();
        let group = ChatTarget::Id(-1_001_234);
        assert_eq!(
            s.notify.chat_ids,
            [
                ChatTarget::Id(-5),
                group.clone(),
                ChatTarget::Channel("@mychannel".into())
            ]
        );
        let term = |w: &str| w.parse::<Term>().unwrap();
        assert_eq!(
            s.notify.chat_terms,
            [
                (group, vec![term("builder:linux-*"), term("branch:main")]),
                (
                    ChatTarget::Channel("@mychannel".into()),
                    vec![term("tag:docs")]
                ),
            ]
        );
        let err = error_text(&with_token("[notify]\nchat_ids = [\"-5 owner:bob\"]\n"));
        assert!(
            err.contains("notify.chat_ids")
                && err.contains("owner:bob")
                && err.contains("builder:linux-*"),
            "{err}"
        );
    }
}
