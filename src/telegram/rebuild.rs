//! Rebuild under a failure message, in two taps: Rebuild asks "Rebuild <builder> #<n>?" in a
//! reply, and only its Yes starts a build. The failure message is never edited; the question
//! becomes the answer ("Rebuild requested by…", or "Cancelled").
//!
//! Every tap here has passed authz for `/force` (whoever taps: anyone allowed to force may
//! answer, nobody else may) and [`super::buttons::judge_build`] (the build exists and its
//! builder is shown), so the question's answer is judged again at the moment it is given. An
//! answer counts only
//! - on its own question: the message must carry the very button, as for every tap (the
//!   schema's first check), so data forged under another message neither skips the question
//!   nor rewrites that message; and the Rebuild itself only from a message that carries it,
//!   which only a failure's does, for a build that failed;
//! - within `telegram.conversation_timeout` of the question (its Telegram date, which a
//!   client cannot forge), like every other conversation;
//! - once: the storage remembers answered questions for as long as they could count
//!   (`Store::first_answer`), so a double tap starts one build, across a restart and
//!   whichever replica each tap reaches.

use std::sync::Arc;

use teloxide::prelude::*;

use super::HandlerResult;
use super::answer::{master_failure, taken};
use super::buttons::ShownBuild;
use super::context::Context;
use super::keyboards;
use super::who::user_id;
use crate::buildbot::models::Build;
use crate::callback::Callback;
use crate::clock::now;
use crate::delivery::Outgoing;
use crate::outcome::Outcome;
use crate::text;

/// Too old to be answered: asked more than `timeout` seconds before `now`.
fn expired(asked_at: i64, now: i64, timeout: i64) -> bool {
    now - asked_at > timeout
}

/// The Rebuild button under a failure: the question, as a reply to the failure.
pub async fn ask(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    shown: Box<ShownBuild>,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let ShownBuild { build, builder } = *shown;
    log::info!(
        "user {} asks to rebuild build {}",
        user_id(&query.from),
        build.buildid
    );
    let url = ctx.buildbot.build_url(build.builderid, build.number);
    let question = Outgoing::text(text::rebuild_question(&builder.name, build.number, &url))
        .with_keyboard(keyboards::rebuild_question(build.buildid));
    ctx.delivery
        .send(message.chat.id, Some(message.id), question)
        .await?;
    Ok(())
}

/// True for a Yes or Cancel that cannot count: too late. (That it is on its own question
/// was checked for every tap: the message carries the very button. Other buttons are never
/// stale here.)
pub fn is_stale(ctx: Arc<Context>, message: Message, callback: Callback) -> bool {
    let answer = matches!(
        callback,
        Callback::ConfirmRebuild(_) | Callback::CancelRebuild(_)
    );
    let timeout = i64::from(ctx.settings.telegram.conversation_timeout);
    answer && expired(message.date.timestamp(), now(), timeout)
}

/// True for a Rebuild (or its Yes) of a build that did not fail: only a failure's message
/// draws the button (`notify::pipeline::failure`), so whatever the message offered it for,
/// a build that succeeded, was skipped or cancelled, or is still running is not rebuilt here.
pub fn did_not_fail(callback: Callback, shown: Box<ShownBuild>) -> bool {
    let rebuild = matches!(callback, Callback::Rebuild(_) | Callback::ConfirmRebuild(_));
    rebuild && !fails(&shown.build)
}

fn fails(build: &Build) -> bool {
    build.results.is_some_and(Outcome::is_failure)
}

/// Refuses a Rebuild of a build that did not fail, in a notice; nothing is changed.
pub async fn not_a_failure(
    ctx: Arc<Context>,
    query: CallbackQuery,
    shown: Box<ShownBuild>,
) -> HandlerResult {
    log::info!(
        "refused a rebuild of build {}, which did not fail, from user {}",
        shown.build.buildid,
        user_id(&query.from)
    );
    ctx.delivery
        .answer_callback(query.id.clone(), Some(text::rebuild_not_a_failure()), true)
        .await?;
    Ok(())
}

/// Refuses a stale answer, and the question (the message carries the button) loses its
/// buttons.
pub async fn stale(ctx: Arc<Context>, query: CallbackQuery, message: Message) -> HandlerResult {
    log::info!(
        "refused a stale rebuild answer {:?} from user {}",
        query.data,
        user_id(&query.from)
    );
    ctx.delivery
        .answer_callback(query.id.clone(), Some(text::rebuild_question_stale()), true)
        .await?;
    ctx.delivery
        .remove_keyboard(message.chat.id, message.id)
        .await?;
    Ok(())
}

/// Whether this is the question's first answer; if not, the tap is refused as stale.
async fn first_answer(
    ctx: &Arc<Context>,
    query: &CallbackQuery,
    message: &Message,
) -> Result<bool, super::BoxError> {
    let keep = i64::from(ctx.settings.telegram.conversation_timeout);
    let chat = crate::storage::Chat::Id(message.chat.id.0);
    if ctx
        .store
        .first_answer(&chat, message.id.0, now(), keep)
        .await?
    {
        return Ok(true);
    }
    stale(ctx.clone(), query.clone(), message.clone()).await?;
    Ok(false)
}

/// Yes: the build is rebuilt, and the question becomes the answer with the request links.
pub async fn confirmed(
    ctx: Arc<Context>,
    query: CallbackQuery,
    message: Message,
    shown: Box<ShownBuild>,
) -> HandlerResult {
    if !first_answer(&ctx, &query, &message).await? {
        return Ok(());
    }
    taken(&ctx, &query).await?;
    let (who, buildid) = (query.from.full_name(), shown.build.buildid);
    let answer = match ctx.buildbot.rebuild(buildid).await {
        Ok(requests) => {
            log::info!("{who} ({}) rebuilds build {buildid}", user_id(&query.from));
            let links: Vec<(i64, String)> = requests
                .iter()
                .map(|id| (*id, ctx.buildbot.buildrequest_url(*id)))
                .collect();
            text::rebuild_requested(&who, &links)
        }
        Err(error) => master_failure(&error),
    };
    ctx.delivery
        .edit(message.chat.id, message.id, Outgoing::text(answer))
        .await?;
    Ok(())
}

/// Cancel: nothing is rebuilt, and the question says so.
pub async fn cancelled(ctx: Arc<Context>, query: CallbackQuery, message: Message) -> HandlerResult {
    if !first_answer(&ctx, &query, &message).await? {
        return Ok(());
    }
    taken(&ctx, &query).await?;
    ctx.delivery
        .edit(
            message.chat.id,
            message.id,
            Outgoing::text(text::cancelled()),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_expires_after_the_conversation_timeout() {
        assert!(!expired(1_000, 1_000, 600));
        assert!(!expired(1_000, 1_600, 600));
        assert!(expired(1_000, 1_601, 600));
        // a clock that went back does not make a question older
        assert!(!expired(1_000, 900, 600));
    }

    #[test]
    fn only_a_build_that_failed_is_rebuilt() {
        let build = |results: Option<i64>| -> Build {
            serde_json::from_value(serde_json::json!({
                "buildid": 1, "number": 1, "builderid": 1, "results": results
            }))
            .unwrap()
        };
        assert!(fails(&build(Some(2))), "failure");
        assert!(fails(&build(Some(4))), "exception");
        // success, warnings, skipped, retry, cancelled, a newer master's code, still running
        for results in [Some(0), Some(1), Some(3), Some(5), Some(6), Some(99), None] {
            assert!(!fails(&build(results)), "{results:?}");
        }
    }
}
