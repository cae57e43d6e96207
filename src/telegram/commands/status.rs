//! `/status [builder|all]` and `/last [builder|all]`, and how a typed builder name is found
//! (with suggestions when it is not).

use std::collections::HashMap;
use std::sync::Arc;

use teloxide::types::Message;

use crate::buildbot::mirror::State;
use crate::buildbot::models::{Build, Builder};
use crate::clock::now;
use crate::command::CommandName;
use crate::delivery::Outgoing;
use crate::telegram::HandlerResult;
use crate::telegram::answer::{Answer, Failure, reply, usage_failure, words};
use crate::telegram::context::Context;
use crate::text;

/// Which builders a `/status` or `/last` is about.
pub(super) enum Selection {
    Active,
    All,
    One(String),
}

fn parse_selection(args: &str, command: CommandName) -> Result<Selection, Failure> {
    let words = words(args, command)?;
    match words.as_slice() {
        [] => Ok(Selection::Active),
        [word] if word.eq_ignore_ascii_case("all") => Ok(Selection::All),
        [name] => Ok(Selection::One(name.clone())),
        _ => Err(usage_failure(command, &text::one_builder_or_all())),
    }
}

/// The builders a selection names, sorted by name; an unknown name is a usage error with
/// suggestions.
pub(super) fn select<'a>(
    builders: &'a [Builder],
    selection: &Selection,
) -> Result<Vec<&'a Builder>, Failure> {
    let mut chosen: Vec<&Builder> = match selection {
        Selection::Active => builders.iter().filter(|b| b.is_active()).collect(),
        Selection::All => builders.iter().collect(),
        Selection::One(name) => {
            let found = builders
                .iter()
                .find(|b| b.name == *name)
                .or_else(|| builders.iter().find(|b| b.name.eq_ignore_ascii_case(name)));
            match found {
                Some(builder) => vec![builder],
                None => {
                    return Err(Failure::Usage(text::no_such_builder(
                        name,
                        &suggest(builders, name),
                    )));
                }
            }
        }
    };
    chosen.sort_by_key(|b| b.name.to_lowercase());
    Ok(chosen)
}

/// Up to three builder names that look like what the user typed.
fn suggest<'a>(builders: &'a [Builder], typed: &str) -> Vec<&'a str> {
    let typed = typed.to_lowercase();
    builders
        .iter()
        .map(|b| b.name.as_str())
        .filter(|name| {
            let lower = name.to_lowercase();
            lower.contains(&typed) || typed.contains(&lower) || edit_distance(&lower, &typed) <= 2
        })
        .take(3)
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

pub async fn status(ctx: Arc<Context>, msg: Message, args: String) -> HandlerResult {
    reply(&ctx, &msg, status_answer(&ctx, &args).await).await
}

/// From the mirror: no request to the master while its event stream is live.
async fn status_answer(ctx: &Context, args: &str) -> Answer {
    let selection = parse_selection(args, CommandName::Status)?;
    let state = ctx.mirror.current(&ctx.buildbot).await?;
    let builders: Vec<Builder> = state.builders().filter(|b| ctx.shows(b)).cloned().collect();
    let chosen = select(&builders, &selection)?;
    let online = state.online_builders();
    let mut running_by_builder: HashMap<i64, Vec<text::RunningBuild<'_>>> = HashMap::new();
    for running in state.running() {
        let build = &running.build;
        running_by_builder
            .entry(build.builderid)
            .or_default()
            .push(text::RunningBuild {
                build,
                url: ctx.buildbot.build_url(build.builderid, build.number),
                step: running.step(),
            });
    }
    let statuses: Vec<text::BuilderStatus<'_>> = chosen
        .iter()
        .map(|builder| text::BuilderStatus {
            builder,
            url: ctx.buildbot.builder_url(builder.builderid),
            online: online.contains(&builder.builderid),
            running: running_by_builder
                .remove(&builder.builderid)
                .unwrap_or_default(),
            last: last_of(ctx, &state, builder),
        })
        .collect();
    let long = matches!(selection, Selection::One(_));
    Ok(Outgoing::text(text::status(&statuses, long, now())))
}

/// A builder's last finished build, with its link.
fn last_of<'a>(ctx: &Context, state: &'a State, builder: &Builder) -> Option<(&'a Build, String)> {
    state
        .last_finished(builder.builderid)
        .map(|b| (b, ctx.buildbot.build_url(b.builderid, b.number)))
}

pub async fn last(ctx: Arc<Context>, msg: Message, args: String) -> HandlerResult {
    reply(&ctx, &msg, last_answer(&ctx, &args).await).await
}

/// From the mirror, as `/status`.
async fn last_answer(ctx: &Context, args: &str) -> Answer {
    let selection = parse_selection(args, CommandName::Last)?;
    let state = ctx.mirror.current(&ctx.buildbot).await?;
    let builders: Vec<Builder> = state.builders().filter(|b| ctx.shows(b)).cloned().collect();
    let chosen = select(&builders, &selection)?;
    let entries: Vec<_> = chosen
        .iter()
        .map(|builder| text::BuilderLast {
            builder,
            url: ctx.buildbot.builder_url(builder.builderid),
            last: last_of(ctx, &state, builder),
        })
        .collect();
    Ok(Outgoing::text(text::last_builds(&entries, now())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_suggestions() {
        let builders: Vec<Builder> = serde_json::from_value(serde_json::json!([
            {"builderid": 1, "name": "runtests"}, {"builderid": 2, "name": "failing"}, {"builderid": 3, "name": "slow"}
        ]))
        .unwrap();
        assert_eq!(suggest(&builders, "runtest"), ["runtests"]);
        assert_eq!(suggest(&builders, "SLOW"), ["slow"]);
        assert!(suggest(&builders, "zzzzzz").is_empty());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
