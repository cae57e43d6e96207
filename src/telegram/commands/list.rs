//! `/list [all|N] builders|workers|changes`; alone, a keyboard of the choices, whose buttons
//! come back through [`list_answer`].

use std::sync::Arc;

use teloxide::types::Message;

use crate::buildbot::models::{Builder, Worker};
use crate::callback::{ListRequest, ListTarget, MAX_CHANGES, Scope};
use crate::command::CommandName;
use crate::delivery::Outgoing;
use crate::telegram::HandlerResult;
use crate::telegram::answer::{Answer, Failure, reply, usage_failure, words};
use crate::telegram::context::Context;
use crate::telegram::keyboards;
use crate::text;

pub async fn list(ctx: Arc<Context>, msg: Message, args: String) -> HandlerResult {
    let answer = match parse_list(&args) {
        Ok(None) => {
            Ok(Outgoing::text(text::list_prompt()).with_keyboard(keyboards::list_choices()))
        }
        Ok(Some(request)) => list_answer(&ctx, request).await,
        Err(failure) => Err(failure),
    };
    reply(&ctx, &msg, answer).await
}

fn mistake(reason: &str) -> Failure {
    usage_failure(CommandName::List, reason)
}

/// `[all|N] builders|workers|changes`; `None` when there is nothing to parse.
fn parse_list(args: &str) -> Result<Option<ListRequest>, Failure> {
    let words: Vec<String> = words(args, CommandName::List)?
        .iter()
        .map(|w| w.to_lowercase())
        .collect();
    let (scope, target) = match words.as_slice() {
        [] => return Ok(None),
        [target] => (Scope::Default, target),
        [scope, target] => (parse_scope(scope)?, target),
        _ => return Err(mistake(&text::list_too_many_words())),
    };
    let target = match target.as_str() {
        "builders" | "builder" => ListTarget::Builders,
        "workers" | "worker" => ListTarget::Workers,
        "changes" | "change" => ListTarget::Changes,
        _ => return Err(mistake(&text::list_target())),
    };
    if matches!(scope, Scope::Count(_)) && target != ListTarget::Changes {
        return Err(mistake(&text::list_count_only_for_changes()));
    }
    Ok(Some(ListRequest { target, scope }))
}

fn parse_scope(word: &str) -> Result<Scope, Failure> {
    match word {
        "all" => Ok(Scope::All),
        n => match n.parse::<u32>() {
            Ok(n) if (1..=MAX_CHANGES).contains(&n) => Ok(Scope::Count(n)),
            _ => Err(mistake(&text::list_scope(MAX_CHANGES))),
        },
    }
}

/// The answer to a typed `/list` and to a tapped list button alike; builders and workers
/// come from the mirror, without asking the master while its event stream is live.
pub async fn list_answer(ctx: &Context, request: ListRequest) -> Answer {
    let all = request.scope == Scope::All;
    match request.target {
        ListTarget::Builders => {
            let state = ctx.mirror.current(&ctx.buildbot).await?;
            let online = state.online_builders();
            let mut shown: Vec<&Builder> = state
                .builders()
                .filter(|b| ctx.shows(b) && (all || b.is_active()))
                .collect();
            shown.sort_by_key(|b| b.name.to_lowercase());
            let entries: Vec<text::BuilderEntry<'_>> = shown
                .into_iter()
                .map(|builder| text::BuilderEntry {
                    builder,
                    url: ctx.buildbot.builder_url(builder.builderid),
                    online: online.contains(&builder.builderid),
                })
                .collect();
            Ok(Outgoing::text(text::builders_list(&entries, all)))
        }
        ListTarget::Workers => {
            let state = ctx.mirror.current(&ctx.buildbot).await?;
            let mut shown: Vec<&Worker> = state
                .workers()
                .filter(|w| all || w.is_configured())
                .collect();
            shown.sort_by_key(|b| b.name.to_lowercase());
            Ok(Outgoing::text(text::workers_list(&shown, all)))
        }
        ListTarget::Changes => changes_answer(ctx, request.scope).await,
    }
}

async fn changes_answer(ctx: &Context, scope: Scope) -> Answer {
    const DEFAULT: u32 = 10;
    const WITHOUT_ASKING: u32 = 50;
    let limit = match scope {
        Scope::Default => DEFAULT,
        Scope::Count(n) => n,
        // one more than the most we show, to know whether there are more
        Scope::All => MAX_CHANGES + 1,
    };
    let mut changes = ctx.buildbot.recent_changes(limit as usize).await?;
    if scope == Scope::All && changes.len() > WITHOUT_ASKING as usize {
        let capped = changes.len() > MAX_CHANGES as usize;
        let all = changes.len().min(MAX_CHANGES as usize);
        return Ok(
            Outgoing::text(text::too_many_changes(all, capped, WITHOUT_ASKING))
                .with_keyboard(keyboards::confirm_all_changes(all as u32, WITHOUT_ASKING)),
        );
    }
    changes.truncate(MAX_CHANGES as usize);
    Ok(Outgoing::text(text::changes_list(&changes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_arguments() {
        let ok = |args: &str| parse_list(args).ok().flatten();
        assert_eq!(
            ok("builders"),
            Some(ListRequest {
                target: ListTarget::Builders,
                scope: Scope::Default
            })
        );
        assert_eq!(
            ok("ALL Workers"),
            Some(ListRequest {
                target: ListTarget::Workers,
                scope: Scope::All
            })
        );
        assert_eq!(
            ok("20 changes"),
            Some(ListRequest {
                target: ListTarget::Changes,
                scope: Scope::Count(20)
            })
        );
        assert!(matches!(parse_list(""), Ok(None)));
        for bad in [
            "foo",
            "20 builders",
            "0 changes",
            "999 changes",
            "a b c",
            "'unclosed",
        ] {
            assert!(matches!(parse_list(bad), Err(Failure::Usage(_))), "{bad}");
        }
    }
}
