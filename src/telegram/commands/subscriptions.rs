//! What a chat hears about: `/notify` (events, and the toggle keyboard), `/watch` (one build's
//! end), `/mute` and `/unmute` (the same messages, without a sound).

use std::collections::BTreeSet;
use std::sync::Arc;

use teloxide::types::Message;

use super::status::{Selection, select};
use crate::buildbot::models::{Build, Builder};
use crate::clock::now;
use crate::command::CommandName;
use crate::delivery::Outgoing;
use crate::event::Event;
use crate::filter::{Filter, TERMS_MAX, Term};
use crate::storage::{Chat, StorageError};
use crate::telegram::HandlerResult;
use crate::telegram::answer::{Answer, Failure, reply, usage_failure, words};
use crate::telegram::context::Context;
use crate::telegram::keyboards;
use crate::telegram::who::chat_of;
use crate::text;

/// What a chat hears: its events, its filter, and whether repeated failures are silent.
pub async fn notify_list_text(
    ctx: &Context,
    chat: &Chat,
    events: &BTreeSet<Event>,
    filter: &Filter,
) -> Result<String, StorageError> {
    let quiet = ctx.store.quiet_repeats_of(chat).await?;
    let quiet = quiet.unwrap_or(ctx.settings.notify.quiet_repeats);
    let names: Vec<&str> = events.iter().map(|e| e.name()).collect();
    Ok(text::notify_list(&names, filter, quiet))
}

pub async fn notify(ctx: Arc<Context>, msg: Message, args: String) -> HandlerResult {
    reply(&ctx, &msg, notify_answer(&ctx, &chat_of(&msg), &args).await).await
}

/// `/notify on|off|list [event ...] [builder:G tag:G branch:G ...]`; alone, the toggle
/// keyboard. A private chat configures itself, a group configures the group. Filter terms
/// are added by `on` and removed by `off`; `on` or `off` with neither events nor terms
/// means the two basic events, or every event.
async fn notify_answer(ctx: &Context, chat: &Chat, args: &str) -> Answer {
    let words = words(args, CommandName::Notify)?;
    let Some((verb, rest)) = words.split_first() else {
        let events = ctx.store.events(chat).await?;
        return Ok(
            Outgoing::text(text::notify_prompt()).with_keyboard(keyboards::notify_toggles(&events))
        );
    };
    if verb.eq_ignore_ascii_case("quiet-repeats") {
        return quiet_repeats(ctx, chat, rest).await;
    }
    let (events, terms) = events_and_terms(rest)?;
    let bare = events.is_empty() && terms.is_empty();
    let (events, filter) = match verb.to_lowercase().as_str() {
        "list" if bare => (ctx.store.events(chat).await?, ctx.store.filter(chat).await?),
        "on" => {
            let had = ctx.store.filter(chat).await?;
            let new = terms.iter().filter(|t| !had.terms().any(|h| h.same_as(t)));
            if had.terms().count() + new.count() > TERMS_MAX {
                return Err(Failure::Usage(text::too_many_filters(TERMS_MAX)));
            }
            // as in Buildbot's bot, "on" alone means the two basic events; so does "on"
            // with filters only, in a chat that hears nothing yet
            let basic = bare || (events.is_empty() && ctx.store.events(chat).await?.is_empty());
            let on = if basic {
                vec![Event::Started, Event::Finished]
            } else {
                events
            };
            let events = ctx.store.update_events(chat, &on, &[]).await?;
            (events, ctx.store.update_filter(chat, &terms, &[]).await?)
        }
        "off" => {
            let off = if bare { Event::ALL.to_vec() } else { events };
            let events = ctx.store.update_events(chat, &[], &off).await?;
            (events, ctx.store.update_filter(chat, &[], &terms).await?)
        }
        _ => {
            return Err(usage_failure(CommandName::Notify, &text::notify_verb()));
        }
    };
    Ok(Outgoing::text(
        notify_list_text(ctx, chat, &events, &filter).await?,
    ))
}

/// `/notify quiet-repeats [on|off]`: repeated failures with or without a sound.
async fn quiet_repeats(ctx: &Context, chat: &Chat, rest: &[String]) -> Answer {
    let quiet = match rest {
        [] => true,
        [word] if word.eq_ignore_ascii_case("on") => true,
        [word] if word.eq_ignore_ascii_case("off") => false,
        _ => {
            return Err(usage_failure(
                CommandName::Notify,
                &text::quiet_repeats_usage(),
            ));
        }
    };
    ctx.store.set_quiet_repeats(chat, quiet).await?;
    Ok(Outgoing::text(text::quiet_repeats_set(quiet)))
}

/// The words after `on`/`off`: event names, and `kind:pattern` filter terms.
fn events_and_terms(words: &[String]) -> Result<(Vec<Event>, Vec<Term>), Failure> {
    let (mut events, mut terms) = (Vec::new(), Vec::new());
    for word in words {
        if Term::looks_like(word) {
            let term = word
                .parse::<Term>()
                .map_err(|why| Failure::Usage(text::bad_filter(word, &why)))?;
            terms.push(term);
        } else {
            let name = word.to_lowercase();
            let event = name
                .parse::<Event>()
                .map_err(|_| Failure::Usage(text::unknown_event(&name, &Event::allowed_list())))?;
            events.push(event);
        }
    }
    Ok((events, terms))
}

/// "30m", "2h", "1d", "90" (minutes) → seconds; 1 hour when empty.
fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim().to_lowercase();
    if text.is_empty() {
        return Some(3600);
    }
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let number: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit = match unit.trim() {
        "" | "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    };
    number.checked_mul(unit).filter(|s| *s <= 30 * 86_400)
}

pub async fn mute(ctx: Arc<Context>, msg: Message, args: String) -> HandlerResult {
    let answer = match parse_duration(&args) {
        Some(seconds) => {
            let until = now() + seconds;
            match ctx.store.set_muted(&chat_of(&msg), Some(until)).await {
                Ok(()) => Ok(Outgoing::text(text::muted(until))),
                Err(error) => Err(Failure::Storage(error)),
            }
        }
        None => Err(usage_failure(CommandName::Mute, &text::mute_duration())),
    };
    reply(&ctx, &msg, answer).await
}

pub async fn unmute(ctx: Arc<Context>, msg: Message) -> HandlerResult {
    let answer = match ctx.store.set_muted(&chat_of(&msg), None).await {
        Ok(()) => Ok(Outgoing::text(text::unmuted())),
        Err(error) => Err(Failure::Storage(error)),
    };
    reply(&ctx, &msg, answer).await
}

pub async fn watch(ctx: Arc<Context>, msg: Message, args: String) -> HandlerResult {
    reply(&ctx, &msg, watch_answer(&ctx, &chat_of(&msg), &args).await).await
}

/// The running builds the bot shows, as `/watch` offers them: `(label, buildid)`.
fn watch_choices(builders: &[Builder], running: &[Build]) -> Vec<(String, i64)> {
    running
        .iter()
        .filter_map(|build| {
            let builder = builders.iter().find(|b| b.builderid == build.builderid)?;
            Some((
                text::watch_choice(&builder.name, build.number),
                build.buildid,
            ))
        })
        .collect()
}

/// Page `page` of the `/watch` buttons, as the running builds are now.
pub async fn watch_page(
    ctx: &Context,
    page: usize,
) -> Result<teloxide::types::InlineKeyboardMarkup, crate::buildbot::Error> {
    let (builders, running) = ctx.running(|_| true).await?;
    let choices = watch_choices(&builders, &running);
    Ok(keyboards::watch_choices(&choices, page))
}

/// `/watch`: the running builds as buttons; `/watch builder`: watch all of its running builds.
async fn watch_answer(ctx: &Context, chat: &Chat, args: &str) -> Answer {
    let words = words(args, CommandName::Watch)?;
    let (builders, running) = match words.as_slice() {
        [name] => ctx.running(|b| b.name.eq_ignore_ascii_case(name)).await?,
        _ => ctx.running(|_| true).await?,
    };
    match words.as_slice() {
        [] => {
            let choices = watch_choices(&builders, &running);
            if choices.is_empty() {
                return Ok(Outgoing::text(text::no_running_builds(None)));
            }
            Ok(Outgoing::text(text::watch_prompt())
                .with_keyboard(keyboards::watch_choices(&choices, 0)))
        }
        [name] => {
            let builder = select(&builders, &Selection::One(name.clone()))?[0];
            let builds: Vec<_> = running
                .iter()
                .filter(|b| b.builderid == builder.builderid)
                .collect();
            if builds.is_empty() {
                return Ok(Outgoing::text(text::no_running_builds(Some(&builder.name))));
            }
            let mut lines = Vec::new();
            for build in builds {
                ctx.store.add_watch(chat, build.buildid).await?;
                let url = ctx.buildbot.build_url(build.builderid, build.number);
                lines.push(text::watching(&builder.name, build.number, &url));
            }
            Ok(Outgoing::text(lines.join("\n")))
        }
        _ => Err(usage_failure(
            CommandName::Watch,
            &text::watch_one_builder(),
        )),
    }
}

/// A tapped watch button, for a build the bot shows: it may have finished since the keyboard
/// was sent.
pub async fn watch_one(ctx: &Context, chat: &Chat, build: &Build, builder: &Builder) -> Answer {
    let url = ctx.buildbot.build_url(build.builderid, build.number);
    if build.complete {
        return Ok(Outgoing::text(text::already_finished(
            &builder.name,
            build.number,
            &url,
            build.results,
        )));
    }
    ctx.store.add_watch(chat, build.buildid).await?;
    Ok(Outgoing::text(text::watching(
        &builder.name,
        build.number,
        &url,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mute_durations() {
        assert_eq!(parse_duration(""), Some(3600));
        assert_eq!(parse_duration("30m"), Some(1800));
        assert_eq!(parse_duration("2 h"), Some(7200));
        assert_eq!(parse_duration("1d"), Some(86_400));
        assert_eq!(parse_duration("90"), Some(5400));
        for bad in ["0m", "-1h", "soon", "31d", "1w"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
