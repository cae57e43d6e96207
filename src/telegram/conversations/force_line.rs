//! One-line `/force builder [reason] [name=value ...]`, read as a pure function of the text and
//! of what the bot may force, so that what it accepts is tested (properties included) apart
//! from Telegram and the master.
//!
//! A one-liner acts at once, without a screen to look at first, so anything it cannot read
//! exactly is refused with what is wrong rather than guessed at: an unclosed quote (which once
//! fell back to the step-by-step dialogue), a `name=value` whose name no field has (a typo
//! like `reaosn=x` once went into the reason), a builder the bot does not show.

use teloxide::types::Message;

use super::Owner;
use super::force_form::{form_for, submit, validate};
use crate::buildbot::models::{Builder, ForceScheduler};
use crate::telegram::HandlerResult;
use crate::telegram::answer::{master_failure, say};
use crate::telegram::context::Context;
use crate::text;

/// What a one-line `/force` asks for: every part is a word of the text, as typed (unquoted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForceLine {
    pub builder: String,
    /// The words that are not `name=value`, in order: the build's reason.
    pub reason: Vec<String>,
    /// `(field, value)` in the order typed; a later value for the same field wins.
    pub values: Vec<(String, String)>,
}

/// Why a one-line `/force` was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    /// A quote is opened and never closed.
    UnclosedQuote,
    /// Not a builder the bot forces: unknown to the master, in no ForceScheduler, or hidden by
    /// `notify.tags` (the same answer, so that hidden builders are not revealed).
    UnknownBuilder(String),
    /// `name=value` with a name that is none of the scheduler's fields (`known`).
    UnknownField { name: String, known: Vec<String> },
}

/// Reads `args` (what follows `/force`). `fields_of(builder)` gives the field names of the
/// scheduler that forces `builder`, or `None` when the bot does not force it. `Ok(None)`: there
/// are no words, so the step-by-step dialogue starts.
pub fn parse(
    args: &str,
    fields_of: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<Option<ForceLine>, LineError> {
    let words = words(args)?;
    if words.is_empty() {
        return Ok(None);
    }
    read(&words, fields_of).map(Some)
}

/// The words of `args`, split as a shell does (so `"nightly check"` is one word).
pub fn words(args: &str) -> Result<Vec<String>, LineError> {
    shlex::split(args).ok_or(LineError::UnclosedQuote)
}

/// Reads the words of a one-line `/force` (see [`parse`]); no words name no builder.
pub fn read(
    words: &[String],
    fields_of: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<ForceLine, LineError> {
    let Some((builder, rest)) = words.split_first() else {
        return Err(LineError::UnknownBuilder(String::new()));
    };
    let known = fields_of(builder).ok_or_else(|| LineError::UnknownBuilder(builder.clone()))?;
    let mut line = ForceLine {
        builder: builder.clone(),
        reason: Vec::new(),
        values: Vec::new(),
    };
    for word in rest {
        match assignment(word) {
            None => line.reason.push(word.clone()),
            Some((name, value)) if known.iter().any(|k| k == name) => {
                line.values.push((name.to_owned(), value.to_owned()));
            }
            Some((name, _)) => {
                return Err(LineError::UnknownField {
                    name: name.to_owned(),
                    known,
                });
            }
        }
    }
    Ok(line)
}

/// `name=value`, when `word` is meant as one: a name of the characters Buildbot's field names
/// use. Other words with `=` (a URL's query, `x+y=z`) belong to the reason.
fn assignment(word: &str) -> Option<(&str, &str)> {
    let (name, value) = word.split_once('=')?;
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    is_name.then_some((name, value))
}

/// `/force builder [reason] [name=value ...]` (`words`, not empty): no questions, for people
/// who know what they want. Nothing is forced unless all of it was read.
pub(super) async fn at_once(
    ctx: &Context,
    msg: &Message,
    owner: &Owner,
    schedulers: &[ForceScheduler],
    words: &[String],
) -> HandlerResult {
    let builders = match ctx.builders().await {
        Ok(builders) => builders,
        Err(error) => return say(ctx, msg, master_failure(&error)).await,
    };
    let forceable = forceable(ctx, schedulers, &builders);
    let fields_of = |name: &str| {
        let (_, _, scheduler) = forceable.iter().find(|(n, ..)| *n == name)?;
        Some(
            scheduler
                .fields
                .iter()
                .map(|f| f.full_name.clone())
                .collect(),
        )
    };
    let line = match read(words, fields_of) {
        Ok(line) => line,
        Err(problem) => {
            let names: Vec<&str> = forceable.iter().map(|(n, ..)| *n).collect();
            return say(ctx, msg, refusal(problem, &names)).await;
        }
    };
    let Some(&(_, builderid, scheduler)) = forceable.iter().find(|(n, ..)| *n == line.builder)
    else {
        return Ok(()); // read() found it
    };
    let mut form = form_for(scheduler, &line.builder, builderid);
    for (name, value) in &line.values {
        let Some(index) = form.fields.iter().position(|f| &f.full_name == name) else {
            continue; // read() found it
        };
        match validate(&form.fields[index], value) {
            Ok(value) => form.values[index] = value,
            Err(problem) => {
                let label = &form.fields[index].label;
                return say(ctx, msg, text::force_bad_value(label, &problem, false)).await;
            }
        }
    }
    if !line.reason.is_empty()
        && let Some(index) = form.fields.iter().position(|f| f.full_name == "reason")
    {
        form.values[index] = line.reason.join(" ");
    }
    let answer = submit(ctx, &form, owner).await;
    say(ctx, msg, answer.unwrap_or_else(|e| e)).await
}

/// What the bot forces: the builders it shows (the filter `/list builders` applies), each
/// with its id and the first ForceScheduler that builds it, in the schedulers' order.
fn forceable<'a>(
    ctx: &Context,
    schedulers: &'a [ForceScheduler],
    builders: &[Builder],
) -> Vec<(&'a str, i64, &'a ForceScheduler)> {
    let mut found: Vec<(&str, i64, &ForceScheduler)> = Vec::new();
    for scheduler in schedulers {
        for name in &scheduler.builder_names {
            let shown = builders.iter().find(|b| &b.name == name && ctx.shows(b));
            if let Some(builder) = shown
                && !found.iter().any(|(n, ..)| n == name)
            {
                found.push((name, builder.builderid, scheduler));
            }
        }
    }
    found
}

/// The answer to a one-line `/force` that was not read; `forceable` names the builders.
pub(super) fn refusal(problem: LineError, forceable: &[&str]) -> String {
    match problem {
        LineError::UnclosedQuote => text::force_unclosed_quote(),
        LineError::UnknownBuilder(name) => text::force_unknown_builder(&name, forceable),
        LineError::UnknownField { name, known } => text::force_unknown_field(&name, &known),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bot forces `toggle` (fields reason, retries, target) and nothing else.
    fn toggle(builder: &str) -> Option<Vec<String>> {
        (builder == "toggle").then(|| vec!["reason".into(), "retries".into(), "target".into()])
    }

    fn line(builder: &str, reason: &[&str], values: &[(&str, &str)]) -> ForceLine {
        ForceLine {
            builder: builder.into(),
            reason: reason.iter().map(|w| (*w).to_owned()).collect(),
            values: values
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn the_forms_that_worked_before_read_the_same() {
        assert_eq!(parse("", toggle), Ok(None));
        assert_eq!(parse("  ", toggle), Ok(None));
        assert_eq!(
            parse(r#"toggle "nightly check" retries=2 target=debug"#, toggle),
            Ok(Some(line(
                "toggle",
                &["nightly check"],
                &[("retries", "2"), ("target", "debug")]
            )))
        );
        assert_eq!(
            parse("toggle reason='a = b' see http://x/?a=b x+y=z =c", toggle),
            Ok(Some(line(
                "toggle",
                &["see", "http://x/?a=b", "x+y=z", "=c"],
                &[("reason", "a = b")]
            ))),
            "only name=value is an assignment; other words with = are the reason's"
        );
    }

    #[test]
    fn what_cannot_be_read_exactly_is_refused() {
        assert_eq!(
            parse(r#"toggle "nightly check"#, toggle),
            Err(LineError::UnclosedQuote)
        );
        assert_eq!(parse("'", toggle), Err(LineError::UnclosedQuote));
        assert_eq!(
            parse("toggle why reaosn=x", toggle),
            Err(LineError::UnknownField {
                name: "reaosn".into(),
                known: vec!["reason".into(), "retries".into(), "target".into()]
            })
        );
        assert_eq!(
            parse("slow retries=2", toggle),
            Err(LineError::UnknownBuilder("slow".into()))
        );
        assert_eq!(
            parse("reason=x", toggle),
            Err(LineError::UnknownBuilder("reason=x".into()))
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        /// The bot forces `toggle` and `lint_*[x]<&>`, each with its own fields.
        fn fields_of(builder: &str) -> Option<Vec<String>> {
            let names: &[&str] = match builder {
                "toggle" => &["reason", "retries", "target"],
                "lint_*[x]<&>" => &["reason", "sleep", "a.b-c_d"],
                _ => return None,
            };
            Some(names.iter().map(|n| (*n).to_owned()).collect())
        }

        /// `text` with what a shell removes when it unquotes (quotes, backslashes, and the
        /// newlines a backslash joins) taken out.
        fn unquoted(text: &str) -> String {
            text.chars()
                .filter(|c| !matches!(c, '"' | '\'' | '\\' | '\n'))
                .collect()
        }

        /// Text a person might type: words, quotes, escapes, `=`, and the builder names.
        fn typed() -> impl Strategy<Value = String> {
            let part = prop_oneof![
                Just("toggle".to_owned()),
                Just("lint_*[x]<&>".to_owned()),
                "(reason|retries|target|sleep|a.b-c_d)=[a-z0-9 ]{0,3}",
                "'(reason|retries)=[a-z\"= ]{0,3}'",
                "[a-z.=_-]{1,6}",
                "[ \t\n\"'\\\\=#]",
                any::<String>(),
            ];
            // mostly words apart, sometimes glued to the next
            let glue = proptest::sample::select(vec![" ", " ", " ", ""]);
            proptest::collection::vec((part, glue), 0..8)
                .prop_map(|parts| parts.into_iter().map(|(part, glue)| part + glue).collect())
        }

        /// A word of the reason: anything that is not `name=value`.
        fn reason_word() -> impl Strategy<Value = String> {
            "[^\\x00]{0,8}".prop_filter("not name=value", |w| assignment(w).is_none())
        }

        fn checked(args: &str) -> Result<(), TestCaseError> {
            let Ok(Some(line)) = parse(args, fields_of) else {
                return Ok(());
            };
            // only what the input named: its builder, its fields, nothing left out or added
            let words = shlex::split(args).expect("parse read it");
            let known = fields_of(&line.builder);
            prop_assert!(known.is_some(), "{} is not forced", line.builder);
            prop_assert_eq!(&words[0], &line.builder);
            prop_assert_eq!(words.len(), 1 + line.reason.len() + line.values.len());
            let plain = unquoted(args);
            prop_assert!(plain.contains(&unquoted(&line.builder)));
            for (field, value) in &line.values {
                prop_assert!(known.as_ref().is_some_and(|k| k.contains(field)));
                let word = format!("{field}={value}");
                prop_assert!(words.contains(&word), "{} is not a word", word);
                prop_assert!(plain.contains(&unquoted(field)) && plain.contains(&unquoted(value)));
            }
            for word in &line.reason {
                prop_assert!(assignment(word).is_none(), "{} is not reason", word);
                prop_assert!(words.contains(word) && plain.contains(&unquoted(word)));
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_text_is_read_or_refused_without_panic(args in any::<String>()) {
                checked(&args)?;
            }

            #[test]
            fn typed_text_yields_only_what_it_names(args in typed()) {
                checked(&args)?;
            }

            /// A line written from its parts, each quoted as a shell would need, reads back as
            /// exactly those parts.
            #[test]
            fn a_quoted_line_reads_back_exactly(
                builder in proptest::sample::select(vec!["toggle", "lint_*[x]<&>"]),
                reason in proptest::collection::vec(reason_word(), 0..4),
                values in proptest::collection::vec((0..3usize, "[^\\x00]{0,8}"), 0..4),
            ) {
                let fields = fields_of(builder).unwrap();
                let values: Vec<(String, String)> =
                    values.into_iter().map(|(i, v)| (fields[i].clone(), v)).collect();
                let mut words = vec![builder.to_owned()];
                words.extend(reason.iter().cloned());
                words.extend(values.iter().map(|(f, v)| format!("{f}={v}")));
                let args = shlex::try_join(words.iter().map(String::as_str)).unwrap();
                let expected = ForceLine { builder: builder.to_owned(), reason, values };
                prop_assert_eq!(parse(&args, fields_of), Ok(Some(expected)), "{}", args);
            }
        }
    }
}
