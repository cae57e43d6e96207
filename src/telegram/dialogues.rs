//! Conversations that change the master: `/force`, `/stop`, `/shutdown`, and `/nay` to end them.
//!
//! One [`State`] enum holds every step, each variant carrying exactly what has been collected
//! so far, in the dialogue storage (SQLite, or Redis for several replicas), so a conversation
//! survives a restart of the bot. teloxide keys dialogues by chat, so every step records its
//! [`Owner`]: in a group only the user who started a conversation may answer it. Every tap and
//! every typed answer checks authz again, and a conversation left alone expires.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use teloxide::dispatching::dialogue::{Dialogue, ErasedStorage};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, MessageId};

use crate::app::App;
use crate::buildbot::models::{Build, FieldKind, ForceField, ForceScheduler};
use crate::buildbot::{self};
use crate::clock::now;
use crate::command::CommandName;
use crate::delivery::Outgoing;
use crate::master_control::ShutdownAction;
use crate::telegram::handlers::{HandlerResult, sender, user_id};
use crate::telegram::keyboards::{Callback, Tap};
use crate::text;

pub type ConversationStorage = ErasedStorage<State>;
pub type Conversation = Dialogue<State, ConversationStorage>;

/// Where a chat's conversation stands.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub enum State {
    #[default]
    Idle,
    /// `/force` with several ForceSchedulers: which one?
    ChoosingScheduler {
        owner: Owner,
        schedulers: Vec<String>,
    },
    /// `/force`: which builder?
    ChoosingBuilder {
        owner: Owner,
        scheduler: String,
        builders: Vec<String>,
    },
    /// `/force`: the parameters screen.
    EditingForce { owner: Owner, form: ForceForm },
    /// `/force`: waiting for the new value of `form.fields[field]`.
    AwaitingValue {
        owner: Owner,
        form: ForceForm,
        field: usize,
    },
    /// `/stop`: which build?
    ChoosingBuildToStop {
        owner: Owner,
        builds: Vec<(i64, String)>,
    },
    /// `/stop`: sure?
    ConfirmingStop {
        owner: Owner,
        buildid: i64,
        label: String,
    },
    /// `/shutdown`: which action?
    ChoosingShutdown { owner: Owner },
    /// `/shutdown start|now`: sure?
    ConfirmingShutdown {
        owner: Owner,
        action: ShutdownAction,
    },
}

/// Who started a conversation, and until when it waits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub user_id: i64,
    /// "Alice Smith (@alice)", for notices and for the build's reason.
    pub name: String,
    pub expires_at: i64,
}

/// A build being prepared: the scheduler's parameters and the values chosen so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForceForm {
    pub scheduler: String,
    pub label: String,
    pub builder: String,
    pub builderid: i64,
    pub fields: Vec<ForceField>,
    pub values: Vec<String>,
}

impl State {
    fn owner(&self) -> Option<&Owner> {
        match self {
            State::Idle => None,
            State::ChoosingScheduler { owner, .. }
            | State::ChoosingBuilder { owner, .. }
            | State::EditingForce { owner, .. }
            | State::AwaitingValue { owner, .. }
            | State::ChoosingBuildToStop { owner, .. }
            | State::ConfirmingStop { owner, .. }
            | State::ChoosingShutdown { owner }
            | State::ConfirmingShutdown { owner, .. } => Some(owner),
        }
    }

    /// The command this conversation belongs to.
    pub fn command(&self) -> Option<CommandName> {
        Some(match self {
            State::Idle => return None,
            State::ChoosingScheduler { .. }
            | State::ChoosingBuilder { .. }
            | State::EditingForce { .. }
            | State::AwaitingValue { .. } => CommandName::Force,
            State::ChoosingBuildToStop { .. } | State::ConfirmingStop { .. } => CommandName::Stop,
            State::ChoosingShutdown { .. } | State::ConfirmingShutdown { .. } => {
                CommandName::Shutdown
            }
        })
    }
}

fn command_word(state: &State) -> &'static str {
    state.command().map_or("", CommandName::as_str)
}

fn describe(user: &teloxide::types::User) -> String {
    let mut name = user.full_name();
    if let Some(username) = &user.username {
        name.push_str(&format!(" (@{username})"));
    }
    name
}

fn new_owner(app: &App, user: &teloxide::types::User) -> Owner {
    Owner {
        user_id: user_id(user),
        name: describe(user),
        expires_at: now() + i64::from(app.settings.telegram.conversation_timeout),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn say(app: &App, msg: &Message, text: String) -> HandlerResult {
    app.reply(msg, Outgoing::text(text)).await?;
    Ok(())
}

/// The person behind a command that starts a conversation; posts made as the group or a
/// channel cannot own one.
async fn starter<'a>(
    app: &App,
    msg: &'a Message,
    command: &str,
) -> Result<Option<&'a teloxide::types::User>, BoxError> {
    let user = sender(msg);
    if user.is_none() {
        say(app, msg, text::anonymous_not_allowed(command)).await?;
    }
    Ok(user)
}

fn master_failure(error: &buildbot::Error) -> String {
    log::warn!("Buildbot request failed: {error}");
    text::master_unavailable(&error.to_string())
}

// ---------------------------------------------------------------------------------------------
// /nay

pub async fn nay(app: Arc<App>, msg: Message, dialogue: Conversation) -> HandlerResult {
    let state = dialogue.get().await?.unwrap_or_default();
    let mine = match (state.owner(), sender(&msg)) {
        (Some(owner), Some(user)) => owner.user_id == user_id(user),
        (Some(_), None) => false,
        (None, _) => true,
    };
    if !mine {
        let owner = state.owner().map(|o| o.name.clone()).unwrap_or_default();
        return say(
            &app,
            &msg,
            text::conversation_not_yours(&owner, command_word(&state)),
        )
        .await;
    }
    dialogue.exit().await?;
    let name = (!msg.chat.is_private())
        .then(|| msg.from.as_ref().map(|u| u.first_name.clone()))
        .flatten();
    let command = state.command().map(CommandName::as_str);
    say(&app, &msg, text::nay(name.as_deref(), command)).await
}

// ---------------------------------------------------------------------------------------------
// /force

pub async fn force(
    app: Arc<App>,
    msg: Message,
    args: String,
    dialogue: Conversation,
) -> HandlerResult {
    let Some(user) = starter(&app, &msg, "force").await? else {
        return Ok(());
    };
    let owner = new_owner(&app, user);
    let schedulers = match app.buildbot.force_schedulers().await {
        Ok(s) => s,
        Err(error) => return say(&app, &msg, master_failure(&error)).await,
    };
    if schedulers.is_empty() {
        return say(&app, &msg, text::no_force_schedulers()).await;
    }
    let words = shlex::split(&args).unwrap_or_default();
    if !words.is_empty() {
        dialogue.exit().await?;
        return force_at_once(&app, &msg, &owner, &schedulers, &words).await;
    }
    if let [scheduler] = schedulers.as_slice() {
        return choose_builder(&app, &msg, owner, scheduler, &dialogue, None).await;
    }
    let names: Vec<String> = schedulers.iter().map(|s| s.name.clone()).collect();
    let buttons: Vec<(String, Tap)> = schedulers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                if s.label.is_empty() {
                    s.name.clone()
                } else {
                    s.label.clone()
                },
                Tap::Scheduler(i),
            )
        })
        .collect();
    dialogue
        .update(State::ChoosingScheduler {
            owner,
            schedulers: names,
        })
        .await?;
    let prompt = Outgoing::text(text::force_choose_scheduler()).with_keyboard(keyboard(&buttons));
    app.reply(&msg, prompt).await?;
    Ok(())
}

/// `/force builder [reason] [name=value ...]`: no questions, for people who know what they want.
async fn force_at_once(
    app: &App,
    msg: &Message,
    owner: &Owner,
    schedulers: &[ForceScheduler],
    words: &[String],
) -> HandlerResult {
    let builder_name = &words[0];
    let Some(scheduler) = schedulers
        .iter()
        .find(|s| s.builder_names.contains(builder_name))
    else {
        let known: Vec<&str> = schedulers
            .iter()
            .flat_map(|s| s.builder_names.iter().map(String::as_str))
            .collect();
        return say(app, msg, text::force_unknown_builder(builder_name, &known)).await;
    };
    let mut form = match new_form(app, scheduler, builder_name).await {
        Ok(form) => form,
        Err(error) => return say(app, msg, master_failure(&error)).await,
    };
    let mut reason = Vec::new();
    for word in &words[1..] {
        match word.split_once('=') {
            Some((name, value)) if form.fields.iter().any(|f| f.full_name == name) => {
                let index = form
                    .fields
                    .iter()
                    .position(|f| f.full_name == name)
                    .unwrap_or_default();
                match validate(&form.fields[index], value) {
                    Ok(value) => form.values[index] = value,
                    Err(problem) => {
                        return say(
                            app,
                            msg,
                            text::force_bad_value(&form.fields[index].label, &problem, false),
                        )
                        .await;
                    }
                }
            }
            _ => reason.push(word.as_str()),
        }
    }
    if !reason.is_empty()
        && let Some(index) = form.fields.iter().position(|f| f.full_name == "reason")
    {
        form.values[index] = reason.join(" ");
    }
    let answer = submit(app, &form, owner).await;
    say(app, msg, answer.unwrap_or_else(|e| e)).await
}

async fn new_form(
    app: &App,
    scheduler: &ForceScheduler,
    builder: &str,
) -> buildbot::Result<ForceForm> {
    let builders = app.buildbot.builders().await?;
    let builderid = builders
        .iter()
        .find(|b| b.name == builder)
        .map_or(0, |b| b.builderid);
    Ok(ForceForm {
        scheduler: scheduler.name.clone(),
        label: if scheduler.label.is_empty() {
            scheduler.name.clone()
        } else {
            scheduler.label.clone()
        },
        builder: builder.to_owned(),
        builderid,
        values: scheduler.fields.iter().map(|f| f.default.clone()).collect(),
        fields: scheduler.fields.clone(),
    })
}

/// Asks for the builder, or goes straight to the parameters when there is one choice.
async fn choose_builder(
    app: &App,
    msg: &Message,
    owner: Owner,
    scheduler: &ForceScheduler,
    dialogue: &Conversation,
    edit: Option<MessageId>,
) -> HandlerResult {
    let builders: Vec<String> = {
        let known = match app.buildbot.builders().await {
            Ok(b) => b,
            Err(error) => return say(app, msg, master_failure(&error)).await,
        };
        scheduler
            .builder_names
            .iter()
            .filter(|name| known.iter().any(|b| &b.name == *name && app.shows(b)))
            .cloned()
            .collect()
    };
    let next = if let [builder] = builders.as_slice() {
        let form = match new_form(app, scheduler, builder).await {
            Ok(form) => form,
            Err(error) => return say(app, msg, master_failure(&error)).await,
        };
        let screen = form_screen(&form, &[]);
        dialogue.update(State::EditingForce { owner, form }).await?;
        screen
    } else {
        let buttons: Vec<(String, Tap)> = builders
            .iter()
            .enumerate()
            .map(|(i, b)| (b.clone(), Tap::Builder(i)))
            .collect();
        let label = if scheduler.label.is_empty() {
            &scheduler.name
        } else {
            &scheduler.label
        };
        let prompt =
            Outgoing::text(text::force_choose_builder(label)).with_keyboard(keyboard(&buttons));
        dialogue
            .update(State::ChoosingBuilder {
                owner,
                scheduler: scheduler.name.clone(),
                builders,
            })
            .await?;
        prompt
    };
    match edit {
        Some(id) => app.delivery.edit(msg.chat.id, id, next).await?,
        None => app.reply(msg, next).await?,
    }
    Ok(())
}

/// The parameters screen: every value, a button per editable one, and Start.
fn form_screen(form: &ForceForm, missing: &[usize]) -> Outgoing {
    let rows: Vec<text::FormRow<'_>> = form
        .fields
        .iter()
        .zip(&form.values)
        .enumerate()
        .filter(|(_, (field, _))| field.kind != FieldKind::Fixed)
        .map(|(i, (field, value))| text::FormRow {
            label: &field.label,
            value,
            required: field.required,
            missing: missing.contains(&i),
        })
        .collect();
    let mut buttons: Vec<(String, Tap)> = form
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.kind != FieldKind::Fixed)
        .map(|(i, f)| (format!("✏️ {}", f.label), Tap::Edit(i)))
        .collect();
    buttons.push(("🚀 Start build".to_owned(), Tap::Start));
    buttons.push(("✖️ Cancel".to_owned(), Tap::Cancel));
    let mut markup: Vec<Vec<InlineKeyboardButton>> = Vec::new();
    for pair in buttons.chunks(2) {
        markup.push(pair.iter().map(|(label, tap)| button(label, tap)).collect());
    }
    Outgoing::text(text::force_form(&form.builder, &form.label, &rows))
        .with_keyboard(InlineKeyboardMarkup::new(markup))
}

/// Checks a value for a field; the error says what is allowed.
pub fn validate(field: &ForceField, value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return if field.required {
            Err("it is required".to_owned())
        } else {
            Ok(String::new())
        };
    }
    if let Some(max) = field.maxsize.filter(|max| value.chars().count() > *max) {
        return Err(format!("it may be at most {max} characters long"));
    }
    match &field.kind {
        FieldKind::Int => value
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| "it must be a whole number, like 3".to_owned()),
        FieldKind::Bool => match value.to_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok("true".to_owned()),
            "false" | "no" | "off" | "0" => Ok("false".to_owned()),
            _ => Err("it must be yes or no".to_owned()),
        },
        FieldKind::Choice { choices, strict } if *strict && !choices.iter().any(|c| c == value) => {
            Err(format!("it must be one of: {}", choices.join(", ")))
        }
        FieldKind::Fixed => Err("it cannot be changed".to_owned()),
        _ => Ok(value.to_owned()),
    }
}

/// Sends the force call; Ok and Err both carry the text for the chat.
async fn submit(app: &App, form: &ForceForm, owner: &Owner) -> Result<String, String> {
    let missing: Vec<&str> = form
        .fields
        .iter()
        .zip(&form.values)
        .filter(|(f, v)| f.required && v.trim().is_empty())
        .map(|(f, _)| f.label.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(text::force_missing(&missing));
    }
    // Buildbot sets the owner from its own www session; the reason carries who asked.
    let mut values = BTreeMap::new();
    for (field, value) in form.fields.iter().zip(&form.values) {
        let mut value = value.clone();
        if field.full_name == "reason" {
            value = text::force_reason(&value, &owner.name, owner.user_id);
        }
        // Buildbot compares booleans with True, and reads ints from numbers or strings
        let value = match field.kind {
            FieldKind::Bool => serde_json::Value::Bool(value == "true"),
            FieldKind::Int => value
                .parse::<i64>()
                .map_or(serde_json::Value::String(value), serde_json::Value::from),
            _ => serde_json::Value::String(value),
        };
        values.insert(field.full_name.clone(), value);
    }
    match app
        .buildbot
        .force(&form.scheduler, form.builderid, &values)
        .await
    {
        Ok(requests) => {
            let links: Vec<(i64, String)> = requests
                .iter()
                .map(|id| {
                    (
                        *id,
                        format!("{}#/buildrequests/{id}", app.buildbot.base_url()),
                    )
                })
                .collect();
            log::info!(
                "{} forced a build on {} ({:?})",
                owner.name,
                form.builder,
                requests
            );
            Ok(text::force_requested(&form.builder, &links))
        }
        Err(buildbot::Error::Rejected { fields }) => {
            let labelled: Vec<(String, String)> = fields
                .into_iter()
                .map(|(name, problem)| {
                    let label = form
                        .fields
                        .iter()
                        .find(|f| f.full_name == name)
                        .map_or(name, |f| f.label.clone());
                    (label, problem)
                })
                .collect();
            Err(text::force_rejected(&labelled))
        }
        Err(error) => Err(master_failure(&error)),
    }
}

/// A typed answer to "send the new value of ...".
pub async fn receive_value(app: Arc<App>, msg: Message, dialogue: Conversation) -> HandlerResult {
    let Some(State::AwaitingValue {
        owner,
        mut form,
        field,
    }) = dialogue
        .get()
        .await?
        .filter(|s| matches!(s, State::AwaitingValue { .. }))
    else {
        return Ok(());
    };
    let Some(user) = sender(&msg) else {
        return Ok(());
    };
    if user_id(user) != owner.user_id {
        // only speak up when they answered the bot's question, not for any group chatter
        if msg
            .reply_to_message()
            .is_some_and(|m| m.from.as_ref().is_some_and(|f| f.is_bot))
        {
            say(
                &app,
                &msg,
                text::conversation_not_yours(&owner.name, "force"),
            )
            .await?;
        }
        return Ok(());
    }
    if owner.expires_at < now() {
        dialogue.exit().await?;
        return say(&app, &msg, text::conversation_expired("force")).await;
    }
    if !app.allows(CommandName::Force, owner.user_id) {
        dialogue.exit().await?;
        return say(&app, &msg, text::not_allowed("force", owner.user_id, true)).await;
    }
    let Some(spec) = form.fields.get(field) else {
        dialogue.exit().await?;
        return Ok(());
    };
    match validate(spec, msg.text().unwrap_or_default()) {
        Err(problem) => {
            // say what is wrong and ask again: the state still waits for this field
            let again = text::force_bad_value(&spec.label, &problem, true);
            say(&app, &msg, again).await
        }
        Ok(value) => {
            form.values[field] = value;
            let owner = Owner {
                expires_at: now() + i64::from(app.settings.telegram.conversation_timeout),
                ..owner
            };
            let screen = form_screen(&form, &[]);
            dialogue.update(State::EditingForce { owner, form }).await?;
            app.reply(&msg, screen).await?;
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// /stop

pub async fn stop(
    app: Arc<App>,
    msg: Message,
    args: String,
    dialogue: Conversation,
) -> HandlerResult {
    let Some(user) = starter(&app, &msg, "stop").await? else {
        return Ok(());
    };
    let owner = new_owner(&app, user);
    let found = async {
        let (builders, running) =
            tokio::try_join!(app.buildbot.builders(), app.buildbot.running_builds())?;
        Ok::<_, buildbot::Error>((builders, running))
    };
    let (builders, running) = match found.await {
        Ok(found) => found,
        Err(error) => return say(&app, &msg, master_failure(&error)).await,
    };
    let wanted = args.trim();
    let mut builds: Vec<(i64, String)> = Vec::new();
    for build in &running {
        let Some(builder) = builders
            .iter()
            .find(|b| b.builderid == build.builderid && app.shows(b))
        else {
            continue;
        };
        if wanted.is_empty() || builder.name.eq_ignore_ascii_case(wanted) {
            builds.push((build.buildid, stop_label(&builder.name, build)));
        }
    }
    if builds.is_empty() {
        dialogue.exit().await?;
        return say(
            &app,
            &msg,
            text::nothing_to_stop((!wanted.is_empty()).then_some(wanted)),
        )
        .await;
    }
    if let [(buildid, label)] = builds.as_slice() {
        let prompt = confirm_stop_prompt(label);
        dialogue
            .update(State::ConfirmingStop {
                owner,
                buildid: *buildid,
                label: label.clone(),
            })
            .await?;
        app.reply(&msg, prompt).await?;
        return Ok(());
    }
    let buttons: Vec<(String, Tap)> = builds
        .iter()
        .enumerate()
        .map(|(i, (_, label))| (format!("🚫 {label}"), Tap::StopBuild(i)))
        .collect();
    dialogue
        .update(State::ChoosingBuildToStop { owner, builds })
        .await?;
    app.reply(
        &msg,
        Outgoing::text(text::stop_choose()).with_keyboard(keyboard(&buttons)),
    )
    .await?;
    Ok(())
}

fn stop_label(builder: &str, build: &Build) -> String {
    let running = build
        .started_at
        .map(|t| format!(", running {}", text::duration(now().saturating_sub(t))))
        .unwrap_or_default();
    format!("{builder} #{}{running}", build.number)
}

fn confirm_stop_prompt(label: &str) -> Outgoing {
    let buttons = [
        ("🚫 Yes, stop it".to_owned(), Tap::ConfirmStop),
        ("Keep it running".to_owned(), Tap::Cancel),
    ];
    Outgoing::text(text::stop_confirm(label)).with_keyboard(keyboard(&buttons))
}

// ---------------------------------------------------------------------------------------------
// /shutdown

pub async fn shutdown(
    app: Arc<App>,
    msg: Message,
    args: String,
    dialogue: Conversation,
) -> HandlerResult {
    let Some(user) = starter(&app, &msg, "shutdown").await? else {
        return Ok(());
    };
    let owner = new_owner(&app, user);
    let control = &app.master_control;
    if let Some(action) = ShutdownAction::parse(args.trim()) {
        if let Some(reason) = control.why_not(action) {
            return say(
                &app,
                &msg,
                text::shutdown_unavailable(action.name(), reason),
            )
            .await;
        }
        if action.needs_confirmation() {
            dialogue
                .update(State::ConfirmingShutdown { owner, action })
                .await?;
            app.reply(&msg, confirm_shutdown_prompt(action)).await?;
            return Ok(());
        }
        dialogue.exit().await?;
        return say(&app, &msg, shutdown_outcome(&app, action, &owner).await).await;
    }
    if !args.trim().is_empty() {
        return say(
            &app,
            &msg,
            text::bad_arguments(
                "I can check, start, stop or do now.",
                "/shutdown check|start|stop|now",
            ),
        )
        .await;
    }
    let offered: Vec<(String, Tap)> = ShutdownAction::ALL
        .into_iter()
        .filter(|a| control.why_not(*a).is_none())
        .map(|a| (text::shutdown_button(a.name()), Tap::Shutdown(a)))
        .collect();
    let unavailable: Vec<(&str, &str)> = ShutdownAction::ALL
        .into_iter()
        .filter_map(|a| control.why_not(a).map(|why| (a.name(), why)))
        .collect();
    if offered.is_empty() {
        return say(&app, &msg, text::shutdown_menu(&unavailable, false)).await;
    }
    dialogue.update(State::ChoosingShutdown { owner }).await?;
    let menu =
        Outgoing::text(text::shutdown_menu(&unavailable, true)).with_keyboard(keyboard(&offered));
    app.reply(&msg, menu).await?;
    Ok(())
}

fn confirm_shutdown_prompt(action: ShutdownAction) -> Outgoing {
    let buttons = [
        (
            format!("‼️ Yes, {}", text::shutdown_button(action.name())),
            Tap::ConfirmShutdown,
        ),
        ("No".to_owned(), Tap::Cancel),
    ];
    Outgoing::text(text::shutdown_confirm(action.name())).with_keyboard(keyboard(&buttons))
}

async fn shutdown_outcome(app: &App, action: ShutdownAction, owner: &Owner) -> String {
    log::info!("{} asked for shutdown {}", owner.name, action.name());
    match app.master_control.run(action).await {
        Ok(outcome) => text::shutdown_done(&outcome),
        Err(error) => text::shutdown_failed(&error),
    }
}

// ---------------------------------------------------------------------------------------------
// Buttons

fn button(label: &str, tap: &Tap) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(label, Callback::Conversation(*tap).encode())
}

fn keyboard(buttons: &[(String, Tap)]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(buttons.iter().map(|(label, tap)| vec![button(label, tap)]))
}

/// A tap on a conversation's button (authz for the command was checked by the caller).
pub async fn on_tap(
    app: &App,
    dialogue: &Conversation,
    query: &CallbackQuery,
    message: &Message,
    tap: Tap,
) -> HandlerResult {
    let (chat, id) = (message.chat.id, message.id);
    let notice = |text: String| {
        app.delivery
            .answer_callback(query.id.clone(), Some(text), true)
    };
    let state = dialogue.get().await?.unwrap_or_default();
    let tapper = user_id(&query.from);
    let Some(owner) = state.owner().cloned() else {
        notice(text::conversation_over()).await?;
        app.delivery.remove_keyboard(chat, id).await?;
        return Ok(());
    };
    if owner.user_id != tapper {
        notice(text::conversation_not_yours(
            &owner.name,
            command_word(&state),
        ))
        .await?;
        return Ok(());
    }
    if owner.expires_at < now() {
        dialogue.exit().await?;
        notice(text::conversation_expired(command_word(&state))).await?;
        app.delivery.remove_keyboard(chat, id).await?;
        return Ok(());
    }
    if !state.command().is_some_and(|c| app.allows(c, tapper)) {
        notice(text::button_not_allowed(command_word(&state))).await?;
        return Ok(());
    }
    app.delivery
        .answer_callback(query.id.clone(), None, false)
        .await?;
    // every answer gives the conversation its full time again
    let owner = Owner {
        expires_at: now() + i64::from(app.settings.telegram.conversation_timeout),
        ..owner
    };

    match (state, tap) {
        (_, Tap::Cancel) => {
            dialogue.exit().await?;
            app.delivery
                .edit(chat, id, Outgoing::text(text::cancelled()))
                .await?;
        }
        (State::ChoosingScheduler { schedulers, .. }, Tap::Scheduler(i)) => {
            let all = app.buildbot.force_schedulers().await;
            let chosen = all.ok().and_then(|all| {
                let name = schedulers.get(i)?;
                all.into_iter().find(|s| &s.name == name)
            });
            match chosen {
                Some(scheduler) => {
                    choose_builder(app, message, owner, &scheduler, dialogue, Some(id)).await?
                }
                None => stale(app, dialogue, chat, id).await?,
            }
        }
        (
            State::ChoosingBuilder {
                scheduler,
                builders,
                ..
            },
            Tap::Builder(i),
        ) => {
            let all = app.buildbot.force_schedulers().await.unwrap_or_default();
            let found = all
                .iter()
                .find(|s| s.name == scheduler)
                .zip(builders.get(i));
            let Some((scheduler, builder)) = found else {
                return stale(app, dialogue, chat, id).await;
            };
            match new_form(app, scheduler, builder).await {
                Ok(form) => {
                    let screen = form_screen(&form, &[]);
                    dialogue.update(State::EditingForce { owner, form }).await?;
                    app.delivery.edit(chat, id, screen).await?;
                }
                Err(error) => {
                    app.delivery
                        .edit(chat, id, Outgoing::text(master_failure(&error)))
                        .await?
                }
            }
        }
        (State::EditingForce { form, .. }, Tap::Edit(field)) => {
            let Some(spec) = form
                .fields
                .get(field)
                .filter(|f| f.kind != FieldKind::Fixed)
            else {
                return stale(app, dialogue, chat, id).await;
            };
            let mention = (!message.chat.is_private())
                .then(|| query.from.username.clone())
                .flatten();
            let question =
                text::force_ask_value(&spec.label, &form.values[field], mention.as_deref());
            let choices: Vec<String> = match &spec.kind {
                FieldKind::Bool => vec!["true".into(), "false".into()],
                FieldKind::Choice { choices, .. } => choices.clone(),
                _ => Vec::new(),
            };
            app.delivery.remove_keyboard(chat, id).await?;
            let mut prompt = Outgoing::text(question);
            if choices.is_empty() {
                prompt = prompt.asking();
            } else {
                let buttons: Vec<(String, Tap)> = choices
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.clone(), Tap::Value(i)))
                    .collect();
                prompt = prompt.with_keyboard(keyboard(&buttons));
            }
            dialogue
                .update(State::AwaitingValue { owner, form, field })
                .await?;
            app.delivery.send(chat, None, prompt).await?;
        }
        (
            State::AwaitingValue {
                mut form, field, ..
            },
            Tap::Value(i),
        ) => {
            let choice = match form.fields.get(field).map(|f| &f.kind) {
                Some(FieldKind::Bool) => ["true", "false"].get(i).map(|v| v.to_string()),
                Some(FieldKind::Choice { choices, .. }) => choices.get(i).cloned(),
                _ => None,
            };
            let Some(value) = choice else {
                return stale(app, dialogue, chat, id).await;
            };
            form.values[field] = value;
            let screen = form_screen(&form, &[]);
            dialogue.update(State::EditingForce { owner, form }).await?;
            app.delivery.edit(chat, id, screen).await?;
        }
        (State::EditingForce { form, .. }, Tap::Start) => match submit(app, &form, &owner).await {
            Ok(done) => {
                dialogue.exit().await?;
                app.delivery.edit(chat, id, Outgoing::text(done)).await?;
            }
            Err(problem) => {
                // keep the form: the user fixes what Buildbot or the check refused
                app.delivery.remove_keyboard(chat, id).await?;
                app.delivery
                    .send(chat, None, Outgoing::text(problem))
                    .await?;
                let missing: Vec<usize> = form
                    .fields
                    .iter()
                    .zip(&form.values)
                    .enumerate()
                    .filter(|(_, (f, v))| f.required && v.trim().is_empty())
                    .map(|(i, _)| i)
                    .collect();
                let screen = form_screen(&form, &missing);
                dialogue.update(State::EditingForce { owner, form }).await?;
                app.delivery.send(chat, None, screen).await?;
            }
        },
        (State::ChoosingBuildToStop { builds, .. }, Tap::StopBuild(i)) => {
            let Some((buildid, label)) = builds.get(i).cloned() else {
                return stale(app, dialogue, chat, id).await;
            };
            dialogue
                .update(State::ConfirmingStop {
                    owner,
                    buildid,
                    label: label.clone(),
                })
                .await?;
            app.delivery
                .edit(chat, id, confirm_stop_prompt(&label))
                .await?;
        }
        (State::ConfirmingStop { buildid, label, .. }, Tap::ConfirmStop) => {
            dialogue.exit().await?;
            let reason = text::stop_reason(&owner.name, owner.user_id);
            let outcome = match app.buildbot.stop_build(buildid, &reason).await {
                Ok(()) => {
                    log::info!("{} stopped build {buildid} ({label})", owner.name);
                    text::stop_done(&label)
                }
                Err(error) => master_failure(&error),
            };
            app.delivery.edit(chat, id, Outgoing::text(outcome)).await?;
        }
        (State::ChoosingShutdown { .. }, Tap::Shutdown(action)) => {
            if action.needs_confirmation() {
                dialogue
                    .update(State::ConfirmingShutdown { owner, action })
                    .await?;
                app.delivery
                    .edit(chat, id, confirm_shutdown_prompt(action))
                    .await?;
            } else {
                dialogue.exit().await?;
                let outcome = shutdown_outcome(app, action, &owner).await;
                app.delivery.edit(chat, id, Outgoing::text(outcome)).await?;
            }
        }
        (State::ConfirmingShutdown { action, .. }, Tap::ConfirmShutdown) => {
            dialogue.exit().await?;
            let outcome = shutdown_outcome(app, action, &owner).await;
            app.delivery.edit(chat, id, Outgoing::text(outcome)).await?;
        }
        // a button from an earlier step of this conversation
        _ => {
            app.delivery.remove_keyboard(chat, id).await?;
        }
    }
    Ok(())
}

async fn stale(app: &App, dialogue: &Conversation, chat: ChatId, id: MessageId) -> HandlerResult {
    dialogue.exit().await?;
    app.delivery
        .edit(chat, id, Outgoing::text(text::conversation_over()))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: FieldKind, required: bool, maxsize: Option<usize>) -> ForceField {
        ForceField {
            full_name: "f".into(),
            label: "F".into(),
            kind,
            default: String::new(),
            required,
            maxsize,
        }
    }

    #[test]
    fn values_are_checked_by_kind() {
        let int = field(FieldKind::Int, false, None);
        assert_eq!(validate(&int, " 42 "), Ok("42".into()));
        assert!(validate(&int, "4x").unwrap_err().contains("whole number"));
        let choice = field(
            FieldKind::Choice {
                choices: vec!["debug".into(), "release".into()],
                strict: true,
            },
            false,
            None,
        );
        assert_eq!(validate(&choice, "release"), Ok("release".into()));
        assert!(
            validate(&choice, "fast")
                .unwrap_err()
                .contains("debug, release")
        );
        let loose = field(
            FieldKind::Choice {
                choices: vec!["a".into()],
                strict: false,
            },
            false,
            None,
        );
        assert_eq!(validate(&loose, "b"), Ok("b".into()));
        let text = field(FieldKind::Text, true, Some(5));
        assert!(validate(&text, "  ").unwrap_err().contains("required"));
        assert!(
            validate(&text, "toolong")
                .unwrap_err()
                .contains("at most 5")
        );
        let flag = field(FieldKind::Bool, false, None);
        assert_eq!(validate(&flag, "Yes"), Ok("true".into()));
        assert!(validate(&flag, "maybe").is_err());
        assert!(validate(&field(FieldKind::Fixed, false, None), "x").is_err());
    }

    #[test]
    fn states_survive_a_round_trip_through_json() {
        let owner = Owner {
            user_id: 1,
            name: "A (@a)".into(),
            expires_at: 5,
        };
        let state = State::ConfirmingShutdown {
            owner: owner.clone(),
            action: ShutdownAction::Now,
        };
        let json = serde_json::to_string(&state).unwrap();
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back.owner(), Some(&owner));
        assert_eq!(back.command(), Some(CommandName::Shutdown));
    }
}
