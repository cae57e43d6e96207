//! `/status [builder|all]` and `/last [builder|all]`, and how a typed builder name is found
//! (with suggestions when it is not).

use std::collections::HashMap;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use teloxide::types::Message;

use super::list::online_builders;
use crate::buildbot::{self, models::Builder};
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

/// Runs per-builder requests a few at a time: quick, without flooding the master when a
/// chat asks about many builders.
async fn ask_each<T>(
    requests: impl Iterator<Item = impl std::future::Future<Output = buildbot::Result<T>>>,
) -> buildbot::Result<Vec<T>> {
    futures::stream::iter(requests)
        .buffered(8)
        .try_collect()
        .await
}

pub async fn status(ctx: Arc<Context>, msg: Message, args: String) -> HandlerResult {
    reply(&ctx, &msg, status_answer(&ctx, &args).await).await
}

async fn status_answer(ctx: &Context, args: &str) -> Answer {
    let selection = parse_selection(args, CommandName::Status)?;
    let (builders, workers, running) = tokio::try_join!(
        ctx.buildbot.builders(),
        ctx.buildbot.workers(),
        ctx.buildbot.running_builds()
    )?;
    let builders: Vec<Builder> = builders.into_iter().filter(|b| ctx.shows(b)).collect();
    let chosen = select(&builders, &selection)?;
    let online = online_builders(&workers);
    let running: Vec<_> = running
        .into_iter()
        .filter(|b| chosen.iter().any(|c| c.builderid == b.builderid))
        .collect();
    // Ask for every running build's step and every builder's last build at once.
    let client = &ctx.buildbot;
    let build_ids: Vec<i64> = running.iter().map(|b| b.buildid).collect();
    let builder_ids: Vec<i64> = chosen.iter().map(|b| b.builderid).collect();
    let steps = ask_each(build_ids.into_iter().map(|id| client.current_step(id)));
    let lasts = ask_each(
        builder_ids
            .into_iter()
            .map(|id| client.last_finished_build(id)),
    );
    let (steps, lasts) = tokio::join!(steps, lasts);
    let (steps, lasts) = (steps?, lasts?);

    let mut running_by_builder: HashMap<i64, Vec<text::RunningBuild<'_>>> = HashMap::new();
    for (build, step) in running.iter().zip(&steps) {
        running_by_builder
            .entry(build.builderid)
            .or_default()
            .push(text::RunningBuild {
                build,
                url: ctx.buildbot.build_url(build.builderid, build.number),
                step: step.as_ref(),
            });
    }
    let statuses: Vec<text::BuilderStatus<'_>> = chosen
        .iter()
        .zip(&lasts)
        .map(|(builder, last)| text::BuilderStatus {
            builder,
            url: ctx.buildbot.builder_url(builder.builderid),
            online: online.contains(&builder.builderid),
            running: running_by_builder
                .remove(&builder.builderid)
                .unwrap_or_default(),
            last: last
                .as_ref()
                .map(|b| (b, ctx.buildbot.build_url(b.builderid, b.number))),
        })
        .collect();
    let long = matches!(selection, Selection::One(_));
    Ok(Outgoing::text(text::status(&statuses, long, now())))
}

pub async fn last(ctx: Arc<Context>, msg: Message, args: String) -> HandlerResult {
    reply(&ctx, &msg, last_answer(&ctx, &args).await).await
}

async fn last_answer(ctx: &Context, args: &str) -> Answer {
    let selection = parse_selection(args, CommandName::Last)?;
    let builders: Vec<Builder> = ctx
        .buildbot
        .builders()
        .await?
        .into_iter()
        .filter(|b| ctx.shows(b))
        .collect();
    let chosen = select(&builders, &selection)?;
    let client = &ctx.buildbot;
    let builder_ids: Vec<i64> = chosen.iter().map(|b| b.builderid).collect();
    let lasts = ask_each(
        builder_ids
            .into_iter()
            .map(|id| client.last_finished_build(id)),
    )
    .await?;
    let entries: Vec<_> = chosen
        .iter()
        .zip(&lasts)
        .map(|(builder, last)| text::BuilderLast {
            builder,
            url: ctx.buildbot.builder_url(builder.builderid),
            last: last
                .as_ref()
                .map(|b| (b, ctx.buildbot.build_url(b.builderid, b.number))),
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
