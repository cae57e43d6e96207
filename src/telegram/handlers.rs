//! One small async function per command: read the arguments, ask Buildbot, answer with a text
//! from [`crate::text`]. Authz has already been checked by the schema when these run.

use std::collections::{BTreeSet, HashMap};
use std::error::Error;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use teloxide::prelude::*;
use teloxide::types::ChatKind;

use crate::app::App;
use crate::buildbot::{self, models::Builder};
use crate::clock::now;
use crate::command::CommandName;
use crate::delivery::{MESSAGE_LIMIT, Outgoing, split};
use crate::event::Event;
use crate::storage::{Chat, StorageError};
use crate::telegram::commands::Command;
use crate::telegram::dialogues::{self, Conversation};
use crate::telegram::keyboards::{self, Callback, ListRequest, ListTarget, MAX_CHANGES, Scope};
use crate::text;

pub type HandlerResult = Result<(), Box<dyn Error + Send + Sync>>;

/// Why a command could not be answered the way the user hoped.
enum Failure {
    /// Bad arguments: the HTML text says what was wrong and how to do it right.
    Usage(String),
    /// The master could not be asked.
    Master(buildbot::Error),
    /// The bot's own storage failed.
    Storage(StorageError),
}

impl From<StorageError> for Failure {
    fn from(error: StorageError) -> Self {
        Failure::Storage(error)
    }
}

impl From<buildbot::Error> for Failure {
    fn from(error: buildbot::Error) -> Self {
        Failure::Master(error)
    }
}

type Answer = Result<Outgoing, Failure>;

/// Turns an answer into a message; a master failure is logged for the admin and explained
/// to the user.
fn render(answer: Answer) -> Outgoing {
    match answer {
        Ok(message) => message,
        Err(Failure::Usage(text)) => Outgoing::text(text),
        Err(Failure::Master(error)) => {
            log::warn!("Buildbot request failed: {error}");
            Outgoing::text(text::master_unavailable(&error.to_string()))
        }
        Err(Failure::Storage(error)) => {
            log::error!("{error}");
            Outgoing::text(text::storage_failed())
        }
    }
}

async fn reply(app: &App, msg: &Message, answer: Answer) -> HandlerResult {
    app.reply(msg, render(answer)).await?;
    Ok(())
}

/// Telegram's stand-ins for people who post as the group (anonymous admins) or as a channel.
const STAND_INS: [u64; 2] = [1_087_968_824, 136_817_688];

/// Who sent a message, when Telegram says: `None` for posts made as the group or a channel,
/// whose `from` is a stand-in shared by everybody who posts that way.
pub fn sender(msg: &Message) -> Option<&teloxide::types::User> {
    msg.from
        .as_ref()
        .filter(|user| msg.sender_chat.is_none() && !STAND_INS.contains(&user.id.0))
}

/// The chat a message speaks for: the forum topic it was written in, or the chat itself.
pub fn chat_of(msg: &Message) -> Chat {
    match (msg.is_topic_message, msg.thread_id) {
        (true, Some(thread)) => Chat::Topic(msg.chat.id.0, thread.0.0),
        _ => Chat::Id(msg.chat.id.0),
    }
}

pub fn user_id(user: &teloxide::types::User) -> i64 {
    // Telegram user ids fit in 52 bits.
    i64::try_from(user.id.0).unwrap_or(i64::MAX)
}

/// Splits arguments like a shell does, so that `"my builder"` is one word.
fn words(args: &str, command: &str) -> Result<Vec<String>, Failure> {
    shlex::split(args).ok_or_else(|| {
        Failure::Usage(text::bad_arguments(
            "I could not read the arguments: a quote is not closed.",
            Command::usage(command, None).unwrap_or_default(),
        ))
    })
}

fn usage_failure(command: &str, reason: &str) -> Failure {
    Failure::Usage(text::bad_arguments(
        reason,
        Command::usage(command, None).unwrap_or_default(),
    ))
}

// ---------------------------------------------------------------------------------------------
// The schema's guards

/// True when the sender may not run this command; the schema then routes to [`deny`].
pub fn is_denied(app: Arc<App>, msg: Message, command: Command) -> bool {
    match sender(&msg) {
        Some(user) => !app.allows(command.name(), user_id(user)),
        None => !app.settings.authz.allows_anonymous(command.name()),
    }
}

pub async fn deny(app: Arc<App>, msg: Message, command: Command) -> HandlerResult {
    let Some(user) = sender(&msg) else {
        log::info!("denied /{} to an anonymous sender", command.name());
        app.reply(
            &msg,
            Outgoing::text(text::anonymous_not_allowed(command.name().as_str())),
        )
        .await?;
        return Ok(());
    };
    log::info!("denied /{} to user {}", command.name(), user_id(user));
    let denial = text::not_allowed(
        command.name().as_str(),
        user_id(user),
        command.name().is_dangerous(),
    );
    app.reply(&msg, Outgoing::text(denial)).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Small talk and help

pub async fn start(app: Arc<App>, msg: Message) -> HandlerResult {
    let help = text::help(&Command::listed());
    reply(
        &app,
        &msg,
        Ok(Outgoing::text(text::start(&text::greeting(), &help))),
    )
    .await
}

pub async fn hello(app: Arc<App>, msg: Message) -> HandlerResult {
    reply(&app, &msg, Ok(Outgoing::text(text::greeting()))).await
}

pub async fn getid(app: Arc<App>, msg: Message) -> HandlerResult {
    let Some(user) = sender(&msg) else {
        let answer = text::getid_anonymous(msg.chat.id.0);
        return reply(&app, &msg, Ok(Outgoing::text(answer))).await;
    };
    let answer = if msg.chat.is_private() {
        text::getid_private(user_id(user))
    } else {
        let kind = match &msg.chat.kind {
            ChatKind::Public(public) => match public.kind {
                teloxide::types::PublicChatKind::Channel(_) => "channel",
                teloxide::types::PublicChatKind::Supergroup(_) => "supergroup",
                _ => "group",
            },
            ChatKind::Private(_) => "chat",
        };
        text::getid_group(&user.first_name, user_id(user), kind, msg.chat.id.0)
    };
    reply(&app, &msg, Ok(Outgoing::text(answer))).await
}

pub async fn help(app: Arc<App>, msg: Message, args: String) -> HandlerResult {
    reply(&app, &msg, help_answer(&args)).await
}

fn help_answer(args: &str) -> Answer {
    let words = words(args, "help")?;
    let Some(first) = words.first() else {
        return Ok(Outgoing::text(text::help(&Command::listed())));
    };
    let Ok(name) = first.parse::<CommandName>() else {
        return Err(Failure::Usage(text::no_such_command(first)));
    };
    let name = name.as_str();
    let arg = words.get(1).map(|a| a.to_lowercase());
    match (Command::usage(name, arg.as_deref()), words.len()) {
        (Some(usage), 1 | 2) => Ok(Outgoing::text(text::usage(usage))),
        _ => Err(Failure::Usage(text::no_usage_for(&words))),
    }
}

pub async fn commands(app: Arc<App>, msg: Message, args: String) -> HandlerResult {
    let answer = match args.trim().to_lowercase().as_str() {
        "" => Ok(Outgoing::text(text::commands(
            &CommandName::ALL.map(CommandName::as_str),
        ))),
        "botfather" => Ok(Outgoing::text(text::botfather_commands(&Command::listed()))),
        _ => Err(usage_failure(
            "commands",
            "The only argument /commands takes is botfather.",
        )),
    };
    reply(&app, &msg, answer).await
}

pub async fn source(app: Arc<App>, msg: Message) -> HandlerResult {
    let answer = Outgoing::text(text::source(app.buildbot.base_url().as_str()));
    reply(&app, &msg, Ok(answer)).await
}

pub async fn version(app: Arc<App>, msg: Message) -> HandlerResult {
    let answer = async {
        let config = app.buildbot.master_config().await?;
        Ok(Outgoing::text(text::version(
            config.buildbot_version(),
            app.buildbot.base_url().as_str(),
        )))
    };
    reply(&app, &msg, answer.await).await
}

pub async fn unknown(app: Arc<App>, msg: Message, name: String) -> HandlerResult {
    reply(&app, &msg, Ok(Outgoing::text(text::unknown_command(&name)))).await
}

/// Plain text in a private chat: point to /help. In groups the bot stays quiet.
pub async fn chatter(app: Arc<App>, msg: Message) -> HandlerResult {
    reply(&app, &msg, Ok(Outgoing::text(text::say_what()))).await
}

// ---------------------------------------------------------------------------------------------
// /list

pub async fn list(app: Arc<App>, msg: Message, args: String) -> HandlerResult {
    let answer = match parse_list(&args) {
        Ok(None) => {
            Ok(Outgoing::text(text::list_prompt()).with_keyboard(keyboards::list_choices()))
        }
        Ok(Some(request)) => list_answer(&app, request).await,
        Err(failure) => Err(failure),
    };
    reply(&app, &msg, answer).await
}

/// `[all|N] builders|workers|changes`; `None` when there is nothing to parse.
fn parse_list(args: &str) -> Result<Option<ListRequest>, Failure> {
    let words = words(args, "list")?;
    let words: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let (scope, target) = match words.as_slice() {
        [] => return Ok(None),
        [target] => (Scope::Default, target),
        [scope, target] => {
            let scope = match scope.as_str() {
                "all" => Scope::All,
                n => match n.parse::<u32>() {
                    Ok(n) if (1..=MAX_CHANGES).contains(&n) => Scope::Count(n),
                    _ => {
                        return Err(usage_failure(
                            "list",
                            &format!(
                                "Say all or a number from 1 to {MAX_CHANGES} before what to list."
                            ),
                        ));
                    }
                },
            };
            (scope, target)
        }
        _ => return Err(usage_failure("list", "That is too many words for /list.")),
    };
    let target = match target.as_str() {
        "builders" | "builder" => ListTarget::Builders,
        "workers" | "worker" => ListTarget::Workers,
        "changes" | "change" => ListTarget::Changes,
        _ => {
            return Err(usage_failure(
                "list",
                "I can list builders, workers or changes.",
            ));
        }
    };
    if matches!(scope, Scope::Count(_)) && target != ListTarget::Changes {
        return Err(usage_failure(
            "list",
            "A number only makes sense for changes.",
        ));
    }
    Ok(Some(ListRequest { target, scope }))
}

/// Builder ids that a connected worker can serve.
fn online_builders(workers: &[buildbot::models::Worker]) -> BTreeSet<i64> {
    workers
        .iter()
        .filter(|w| w.is_connected())
        .flat_map(|w| w.configured_on.iter().map(|b| b.builderid))
        .collect()
}

async fn list_answer(app: &App, request: ListRequest) -> Answer {
    let all = request.scope == Scope::All;
    match request.target {
        ListTarget::Builders => {
            let (builders, workers) =
                tokio::try_join!(app.buildbot.builders(), app.buildbot.workers())?;
            let online = online_builders(&workers);
            let mut shown: Vec<&Builder> = builders
                .iter()
                .filter(|b| app.shows(b) && (all || b.is_active()))
                .collect();
            shown.sort_by_key(|b| b.name.to_lowercase());
            let entries: Vec<text::BuilderEntry<'_>> = shown
                .into_iter()
                .map(|builder| text::BuilderEntry {
                    builder,
                    url: app.buildbot.builder_url(builder.builderid),
                    online: online.contains(&builder.builderid),
                })
                .collect();
            Ok(Outgoing::text(text::builders_list(&entries, all)))
        }
        ListTarget::Workers => {
            let workers = app.buildbot.workers().await?;
            let mut shown: Vec<_> = workers
                .iter()
                .filter(|w| all || w.is_configured())
                .collect();
            shown.sort_by_key(|b| b.name.to_lowercase());
            Ok(Outgoing::text(text::workers_list(&shown, all)))
        }
        ListTarget::Changes => {
            const DEFAULT: u32 = 10;
            const WITHOUT_ASKING: u32 = 50;
            let limit = match request.scope {
                Scope::Default => DEFAULT,
                Scope::Count(n) => n,
                // one more than the most we show, to know whether there are more
                Scope::All => MAX_CHANGES + 1,
            };
            let mut changes = app.buildbot.recent_changes(limit as usize).await?;
            if request.scope == Scope::All && changes.len() > WITHOUT_ASKING as usize {
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
    }
}

// ---------------------------------------------------------------------------------------------
// /status and /last

/// Which builders a `/status` or `/last` is about.
enum Selection {
    Active,
    All,
    One(String),
}

fn parse_selection(args: &str, command: &str) -> Result<Selection, Failure> {
    let words = words(args, command)?;
    match words.as_slice() {
        [] => Ok(Selection::Active),
        [word] if word.eq_ignore_ascii_case("all") => Ok(Selection::All),
        [name] => Ok(Selection::One(name.clone())),
        _ => Err(usage_failure(
            command,
            "Name one builder (quote a name with spaces), or all.",
        )),
    }
}

/// The builders a selection names, sorted by name; an unknown name is a usage error with
/// suggestions.
fn select<'a>(builders: &'a [Builder], selection: &Selection) -> Result<Vec<&'a Builder>, Failure> {
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

pub async fn status(app: Arc<App>, msg: Message, args: String) -> HandlerResult {
    reply(&app, &msg, status_answer(&app, &args).await).await
}

async fn status_answer(app: &App, args: &str) -> Answer {
    let selection = parse_selection(args, "status")?;
    let (builders, workers, running) = tokio::try_join!(
        app.buildbot.builders(),
        app.buildbot.workers(),
        app.buildbot.running_builds()
    )?;
    let builders: Vec<Builder> = builders.into_iter().filter(|b| app.shows(b)).collect();
    let chosen = select(&builders, &selection)?;
    let online = online_builders(&workers);
    let running: Vec<_> = running
        .into_iter()
        .filter(|b| chosen.iter().any(|c| c.builderid == b.builderid))
        .collect();
    // Ask for every running build's step and every builder's last build at once.
    let client = &app.buildbot;
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
                url: app.buildbot.build_url(build.builderid, build.number),
                step: step.as_ref(),
            });
    }
    let statuses: Vec<text::BuilderStatus<'_>> = chosen
        .iter()
        .zip(&lasts)
        .map(|(builder, last)| text::BuilderStatus {
            builder,
            url: app.buildbot.builder_url(builder.builderid),
            online: online.contains(&builder.builderid),
            running: running_by_builder
                .remove(&builder.builderid)
                .unwrap_or_default(),
            last: last
                .as_ref()
                .map(|b| (b, app.buildbot.build_url(b.builderid, b.number))),
        })
        .collect();
    let long = matches!(selection, Selection::One(_));
    Ok(Outgoing::text(text::status(&statuses, long, now())))
}

pub async fn last(app: Arc<App>, msg: Message, args: String) -> HandlerResult {
    reply(&app, &msg, last_answer(&app, &args).await).await
}

async fn last_answer(app: &App, args: &str) -> Answer {
    let selection = parse_selection(args, "last")?;
    let builders: Vec<Builder> = app
        .buildbot
        .builders()
        .await?
        .into_iter()
        .filter(|b| app.shows(b))
        .collect();
    let chosen = select(&builders, &selection)?;
    let client = &app.buildbot;
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
            url: app.buildbot.builder_url(builder.builderid),
            last: last
                .as_ref()
                .map(|b| (b, app.buildbot.build_url(b.builderid, b.number))),
        })
        .collect();
    Ok(Outgoing::text(text::last_builds(&entries, now())))
}

// ---------------------------------------------------------------------------------------------
// Buttons

/// A tapped inline button: check the data, check authz again, then do what it says.
pub async fn callback(
    app: Arc<App>,
    query: CallbackQuery,
    dialogue: Conversation,
) -> HandlerResult {
    let Some(message) = query.regular_message().cloned() else {
        // Buttons on inline-mode messages are not ours; answer so the client stops waiting.
        app.delivery
            .answer_callback(query.id.clone(), None, false)
            .await?;
        return Ok(());
    };
    let Some(callback) = query.data.as_deref().and_then(Callback::decode) else {
        log::info!(
            "refused unknown button data {:?} from user {}",
            query.data,
            user_id(&query.from)
        );
        app.delivery
            .answer_callback(query.id.clone(), Some(text::stale_button()), false)
            .await?;
        app.delivery
            .remove_keyboard(message.chat.id, message.id)
            .await?;
        return Ok(());
    };
    if !app.allows(callback.command(), user_id(&query.from)) {
        log::info!(
            "denied button /{} to user {}",
            callback.command(),
            user_id(&query.from)
        );
        let notice = text::button_not_allowed(callback.command().as_str());
        app.delivery
            .answer_callback(query.id.clone(), Some(notice), true)
            .await?;
        return Ok(());
    }
    if let Callback::Conversation(tap) = callback {
        return dialogues::on_tap(&app, &dialogue, &query, &message, tap).await;
    }
    app.delivery
        .answer_callback(query.id.clone(), None, false)
        .await?;
    let (chat, id) = (message.chat.id, message.id);
    match callback {
        Callback::List(request) => {
            let answer = render(list_answer(&app, request).await);
            // The answer replaces the question when it fits; otherwise the buttons go and the
            // answer follows as new messages.
            if split(&answer.text, MESSAGE_LIMIT).len() == 1 {
                app.delivery.edit(chat, id, answer).await?;
            } else {
                app.delivery.remove_keyboard(chat, id).await?;
                app.delivery.send(chat, None, answer).await?;
            }
        }
        Callback::NotifyToggle(event) => {
            let target = chat_of(&message);
            let on = app.store.events(&target).await?.contains(&event);
            let (add, remove) = if on {
                (vec![], vec![event])
            } else {
                (vec![event], vec![])
            };
            let events = app.store.update_events(&target, &add, &remove).await?;
            app.delivery
                .edit_keyboard(chat, id, keyboards::notify_toggles(&events))
                .await?;
        }
        Callback::NotifyDone => {
            let events = app.store.events(&chat_of(&message)).await?;
            app.delivery
                .edit(chat, id, Outgoing::text(notify_list_text(&events)))
                .await?;
        }
        Callback::Watch(buildid) => {
            let answer = render(watch_one(&app, &chat_of(&message), buildid).await);
            app.delivery.edit(chat, id, answer).await?;
        }
        Callback::Rebuild(buildid) => {
            let who = query.from.full_name();
            let answer = match app.buildbot.rebuild(buildid).await {
                Ok(requests) => {
                    log::info!(
                        "{who} ({}) asked to rebuild build {buildid}",
                        user_id(&query.from)
                    );
                    let links: Vec<(i64, String)> = requests
                        .iter()
                        .map(|id| {
                            (
                                *id,
                                format!("{}#/buildrequests/{id}", app.buildbot.base_url()),
                            )
                        })
                        .collect();
                    Outgoing::text(text::rebuild_requested(&who, &links))
                }
                Err(error) => render(Err(Failure::Master(error))),
            };
            app.delivery.send(chat, Some(id), answer).await?;
        }
        // answered inside: conversations may need a notice rather than a silent answer
        Callback::Conversation(_) => unreachable!("conversation taps are routed before answering"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// /notify and /watch

fn notify_list_text(events: &std::collections::BTreeSet<Event>) -> String {
    let names: Vec<&str> = events.iter().map(|e| e.name()).collect();
    text::notify_list(&names)
}

pub async fn notify(app: Arc<App>, msg: Message, args: String) -> HandlerResult {
    reply(&app, &msg, notify_answer(&app, &chat_of(&msg), &args).await).await
}

/// `/notify on|off|list [event ...]`; alone, the toggle keyboard. A private chat configures
/// itself, a group configures the group.
async fn notify_answer(app: &App, chat: &Chat, args: &str) -> Answer {
    let words: Vec<String> = words(args, "notify")?
        .iter()
        .map(|w| w.to_lowercase())
        .collect();
    let Some((verb, names)) = words.split_first() else {
        let events = app.store.events(chat).await?;
        return Ok(
            Outgoing::text(text::notify_prompt()).with_keyboard(keyboards::notify_toggles(&events))
        );
    };
    let mut events = Vec::new();
    for name in names {
        let event = name
            .parse::<Event>()
            .map_err(|_| Failure::Usage(text::unknown_event(name, &Event::allowed_list())))?;
        events.push(event);
    }
    let events = match verb.as_str() {
        "list" if events.is_empty() => app.store.events(chat).await?,
        "on" => {
            // as in Buildbot's bot, "on" alone means the two basic events
            let on = if events.is_empty() {
                vec![Event::Started, Event::Finished]
            } else {
                events
            };
            app.store.update_events(chat, &on, &[]).await?
        }
        "off" => {
            let off = if events.is_empty() {
                Event::ALL.to_vec()
            } else {
                events
            };
            app.store.update_events(chat, &[], &off).await?
        }
        _ => {
            return Err(usage_failure(
                "notify",
                "Say on, off or list, then the events.",
            ));
        }
    };
    Ok(Outgoing::text(notify_list_text(&events)))
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

pub async fn mute(app: Arc<App>, msg: Message, args: String) -> HandlerResult {
    let answer = match parse_duration(&args) {
        Some(seconds) => {
            let until = now() + seconds;
            match app.store.set_muted(&chat_of(&msg), Some(until)).await {
                Ok(()) => Ok(Outgoing::text(text::muted(until))),
                Err(error) => Err(Failure::Storage(error)),
            }
        }
        None => Err(usage_failure(
            "mute",
            "Say how long, up to 30 days: 30m, 2h or 1d.",
        )),
    };
    reply(&app, &msg, answer).await
}

pub async fn unmute(app: Arc<App>, msg: Message) -> HandlerResult {
    let answer = match app.store.set_muted(&chat_of(&msg), None).await {
        Ok(()) => Ok(Outgoing::text(text::unmuted())),
        Err(error) => Err(Failure::Storage(error)),
    };
    reply(&app, &msg, answer).await
}

pub async fn watch(app: Arc<App>, msg: Message, args: String) -> HandlerResult {
    reply(&app, &msg, watch_answer(&app, &chat_of(&msg), &args).await).await
}

/// `/watch`: the running builds as buttons; `/watch builder`: watch all of its running builds.
async fn watch_answer(app: &App, chat: &Chat, args: &str) -> Answer {
    let words = words(args, "watch")?;
    let (builders, running) =
        tokio::try_join!(app.buildbot.builders(), app.buildbot.running_builds())?;
    let builders: Vec<Builder> = builders.into_iter().filter(|b| app.shows(b)).collect();
    match words.as_slice() {
        [] => {
            let choices: Vec<(String, i64)> = running
                .iter()
                .filter_map(|build| {
                    let builder = builders.iter().find(|b| b.builderid == build.builderid)?;
                    Some((
                        format!("🔎 {} #{}", builder.name, build.number),
                        build.buildid,
                    ))
                })
                .collect();
            if choices.is_empty() {
                return Ok(Outgoing::text(text::no_running_builds(None)));
            }
            Ok(Outgoing::text(text::watch_prompt())
                .with_keyboard(keyboards::watch_choices(&choices)))
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
                app.store.add_watch(chat, build.buildid).await?;
                let url = app.buildbot.build_url(build.builderid, build.number);
                lines.push(text::watching(&builder.name, build.number, &url));
            }
            Ok(Outgoing::text(lines.join("\n")))
        }
        _ => Err(usage_failure(
            "watch",
            "Name one builder, or send /watch alone to choose.",
        )),
    }
}

/// A tapped watch button: the build may have finished (or gone) since the keyboard was sent.
async fn watch_one(app: &App, chat: &Chat, buildid: i64) -> Answer {
    let Some(build) = app.buildbot.build(buildid).await? else {
        return Ok(Outgoing::text(text::build_gone()));
    };
    let builders = app.buildbot.builders().await?;
    let name = builders
        .iter()
        .find(|b| b.builderid == build.builderid)
        .map_or_else(
            || format!("builder {}", build.builderid),
            |b| b.name.clone(),
        );
    let url = app.buildbot.build_url(build.builderid, build.number);
    if build.complete {
        return Ok(Outgoing::text(text::already_finished(
            &name,
            build.number,
            &url,
            build.results,
        )));
    }
    app.store.add_watch(chat, buildid).await?;
    Ok(Outgoing::text(text::watching(&name, build.number, &url)))
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

    #[test]
    fn help_arguments() {
        let text = |args: &str| match help_answer(args) {
            Ok(o) => o.text,
            Err(Failure::Usage(t)) => t,
            Err(Failure::Master(_) | Failure::Storage(_)) => unreachable!(),
        };
        assert!(text("").contains("/status - list status"));
        assert!(text("/status").starts_with("Usage: /status [builder|all]"));
        assert!(text("shutdown start").starts_with("Usage: /shutdown start"));
        assert_eq!(text("status foo"), "No usage info for 'status' 'foo'.");
        assert!(text("fly").starts_with("There is no such command 'fly'"));
    }

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
