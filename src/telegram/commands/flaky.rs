//! `/flaky`: the builders whose recent builds look flaky, judged as result messages judge
//! them (`notify::history`). Histories the notifier keeps are read as they are; the others
//! are read from the master, a few at a time (and not kept: only the notifier keeps a
//! history, so that one it did not see growing never stands for the truth).

use std::sync::Arc;

use futures::StreamExt;
use teloxide::types::Message;

use crate::buildbot::models::Builder;
use crate::delivery::Outgoing;
use crate::notify::history::History;
use crate::telegram::HandlerResult;
use crate::telegram::answer::{Answer, reply};
use crate::telegram::context::Context;
use crate::text;

/// Builders read from the master at once.
const READS: usize = 8;

pub async fn flaky(ctx: Arc<Context>, msg: Message, _args: String) -> HandlerResult {
    reply(&ctx, &msg, flaky_answer(&ctx).await).await
}

async fn flaky_answer(ctx: &Context) -> Answer {
    let settings = ctx.settings.notify.flaky;
    if settings.window == 0 {
        return Ok(Outgoing::text(text::flaky_off()));
    }
    let mut builders: Vec<Builder> = ctx
        .builders()
        .await?
        .into_iter()
        .filter(|b| ctx.shows(b) && !b.masterids.is_empty())
        .collect();
    builders.sort_by(|a, b| a.name.cmp(&b.name));
    let ids: Vec<i64> = builders.iter().map(|b| b.builderid).collect();
    let histories = futures::stream::iter(ids)
        .map(|builderid| history(ctx, builderid))
        .buffered(READS)
        .collect::<Vec<_>>()
        .await;
    let mut flaky = Vec::new();
    for (builder, history) in builders.iter().zip(histories) {
        if let Some(judged) = history?.flaky(&settings) {
            flaky.push(text::FlakyBuilder {
                name: &builder.name,
                url: ctx.buildbot.builder_url(builder.builderid),
                flaky: judged,
            });
        }
    }
    let window = History::window(&settings);
    Ok(Outgoing::text(text::flaky_list(&flaky, window)))
}

/// A builder's history as the notifier keeps it, else as the master tells it now.
async fn history(ctx: &Context, builderid: i64) -> crate::buildbot::Result<History> {
    if let Some(history) = ctx.histories.get(builderid) {
        return Ok(history);
    }
    let window = History::window(&ctx.settings.notify.flaky);
    let builds = ctx
        .buildbot
        .finished_builds(builderid, i64::MAX, window)
        .await?;
    Ok(History::new(builds, window))
}
