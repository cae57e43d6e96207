//! `/force`: choose a ForceScheduler and a builder, fill in the parameters, start the build.
//! `/force builder [reason] [name=value ...]` does it in one line, without questions.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use teloxide::prelude::*;

use super::{Conversation, Owner, State, Turn, show, stale, starter, taken};
use crate::buildbot::models::{FieldKind, ForceField, ForceScheduler};
use crate::buildbot::{self};
use crate::callback::Tap;
use crate::command::CommandName;
use crate::delivery::Outgoing;
use crate::telegram::HandlerResult;
use crate::telegram::answer::{master_failure, say};
use crate::telegram::context::Context;
use crate::telegram::keyboards;
use crate::text;

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

impl ForceForm {
    /// The indexes of required fields that are still empty.
    pub fn missing(&self) -> Vec<usize> {
        self.fields
            .iter()
            .zip(&self.values)
            .enumerate()
            .filter(|(_, (f, v))| f.required && v.trim().is_empty())
            .map(|(i, _)| i)
            .collect()
    }
}

/// `/force`: asks for the scheduler, or goes on to the builder when there is one.
pub async fn start(
    ctx: Arc<Context>,
    msg: Message,
    args: String,
    dialogue: Conversation,
) -> HandlerResult {
    let Some(owner) = starter(&ctx, &msg, CommandName::Force).await else {
        return Ok(());
    };
    let schedulers = match ctx.buildbot.force_schedulers().await {
        Ok(s) => s,
        Err(error) => return say(&ctx, &msg, master_failure(&error)).await,
    };
    if schedulers.is_empty() {
        return say(&ctx, &msg, text::no_force_schedulers()).await;
    }
    let words = shlex::split(&args).unwrap_or_default();
    if !words.is_empty() {
        dialogue.exit().await?;
        return at_once(&ctx, &msg, &owner, &schedulers, &words).await;
    }
    if let [scheduler] = schedulers.as_slice() {
        let next = choose_builder(&ctx, owner, scheduler, &dialogue).await?;
        ctx.reply(&msg, next).await?;
        return Ok(());
    }
    let buttons: Vec<(String, Tap)> = schedulers
        .iter()
        .enumerate()
        .map(|(i, s)| (s.title().to_owned(), Tap::Scheduler(i)))
        .collect();
    let names = schedulers.into_iter().map(|s| s.name).collect();
    dialogue
        .update(State::ChoosingScheduler {
            owner,
            schedulers: names,
        })
        .await?;
    let prompt = Outgoing::text(text::force_choose_scheduler())
        .with_keyboard(keyboards::conversation(&buttons));
    ctx.reply(&msg, prompt).await?;
    Ok(())
}

/// `/force builder [reason] [name=value ...]`: no questions, for people who know what they want.
async fn at_once(
    ctx: &Context,
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
        return say(ctx, msg, text::force_unknown_builder(builder_name, &known)).await;
    };
    let mut form = match new_form(ctx, scheduler, builder_name).await {
        Ok(form) => form,
        Err(error) => return say(ctx, msg, master_failure(&error)).await,
    };
    let mut reason = Vec::new();
    for word in &words[1..] {
        let named = word.split_once('=').and_then(|(name, value)| {
            Some((form.fields.iter().position(|f| f.full_name == name)?, value))
        });
        let Some((index, value)) = named else {
            reason.push(word.as_str());
            continue;
        };
        match validate(&form.fields[index], value) {
            Ok(value) => form.values[index] = value,
            Err(problem) => {
                let label = &form.fields[index].label;
                return say(ctx, msg, text::force_bad_value(label, &problem, false)).await;
            }
        }
    }
    if !reason.is_empty()
        && let Some(index) = form.fields.iter().position(|f| f.full_name == "reason")
    {
        form.values[index] = reason.join(" ");
    }
    let answer = submit(ctx, &form, owner).await;
    say(ctx, msg, answer.unwrap_or_else(|e| e)).await
}

async fn new_form(
    ctx: &Context,
    scheduler: &ForceScheduler,
    builder: &str,
) -> buildbot::Result<ForceForm> {
    let builders = ctx.buildbot.builders().await?;
    let builderid = builders
        .iter()
        .find(|b| b.name == builder)
        .map_or(0, |b| b.builderid);
    Ok(ForceForm {
        scheduler: scheduler.name.clone(),
        label: scheduler.title().to_owned(),
        builder: builder.to_owned(),
        builderid,
        values: scheduler.fields.iter().map(|f| f.default.clone()).collect(),
        fields: scheduler.fields.clone(),
    })
}

/// Asks for the builder, or goes straight to the parameters when there is one choice; the
/// screen to show next.
async fn choose_builder(
    ctx: &Context,
    owner: Owner,
    scheduler: &ForceScheduler,
    dialogue: &Conversation,
) -> Result<Outgoing, crate::telegram::BoxError> {
    let known = match ctx.buildbot.builders().await {
        Ok(b) => b,
        Err(error) => return Ok(Outgoing::text(master_failure(&error))),
    };
    let builders: Vec<String> = scheduler
        .builder_names
        .iter()
        .filter(|name| known.iter().any(|b| &b.name == *name && ctx.shows(b)))
        .cloned()
        .collect();
    if let [builder] = builders.as_slice() {
        let form = match new_form(ctx, scheduler, builder).await {
            Ok(form) => form,
            Err(error) => return Ok(Outgoing::text(master_failure(&error))),
        };
        let screen = form_screen(&form, &[]);
        dialogue.update(State::EditingForce { owner, form }).await?;
        return Ok(screen);
    }
    let buttons: Vec<(String, Tap)> = builders
        .iter()
        .enumerate()
        .map(|(i, b)| (b.clone(), Tap::Builder(i)))
        .collect();
    dialogue
        .update(State::ChoosingBuilder {
            owner,
            scheduler: scheduler.name.clone(),
            builders,
        })
        .await?;
    Ok(
        Outgoing::text(text::force_choose_builder(scheduler.title()))
            .with_keyboard(keyboards::conversation(&buttons)),
    )
}

/// The parameters screen: every value, a button per editable one, and Start.
fn form_screen(form: &ForceForm, missing: &[usize]) -> Outgoing {
    let editable = || {
        form.fields
            .iter()
            .zip(&form.values)
            .enumerate()
            .filter(|(_, (field, _))| field.kind != FieldKind::Fixed)
    };
    let rows: Vec<text::FormRow<'_>> = editable()
        .map(|(i, (field, value))| text::FormRow {
            label: &field.label,
            value,
            required: field.required,
            missing: missing.contains(&i),
        })
        .collect();
    let mut buttons: Vec<(String, Tap)> = editable()
        .map(|(i, (field, _))| (text::edit_field_button(&field.label), Tap::Edit(i)))
        .collect();
    buttons.push((text::start_build_button(), Tap::Start));
    buttons.push((text::cancel_button(), Tap::Cancel));
    Outgoing::text(text::force_form(&form.builder, &form.label, &rows))
        .with_keyboard(keyboards::conversation_in_pairs(&buttons))
}

/// Checks a value for a field; the error says what is allowed.
pub fn validate(field: &ForceField, value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return if field.required {
            Err(text::field_required())
        } else {
            Ok(String::new())
        };
    }
    if let Some(max) = field.maxsize.filter(|max| value.chars().count() > *max) {
        return Err(text::field_too_long(max));
    }
    match &field.kind {
        FieldKind::Int => value
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| text::field_not_a_number()),
        FieldKind::Bool => match value.to_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok("true".to_owned()),
            "false" | "no" | "off" | "0" => Ok("false".to_owned()),
            _ => Err(text::field_not_yes_or_no()),
        },
        FieldKind::Choice { choices, strict } if *strict && !choices.iter().any(|c| c == value) => {
            Err(text::field_not_a_choice(choices))
        }
        FieldKind::Fixed => Err(text::field_fixed()),
        _ => Ok(value.to_owned()),
    }
}

/// The values as the force call takes them. Buildbot compares booleans with True, and reads
/// ints from numbers or strings; the reason carries who asked, since Buildbot sets the owner
/// from its own www session.
fn force_values(form: &ForceForm, owner: &Owner) -> BTreeMap<String, serde_json::Value> {
    let mut values = BTreeMap::new();
    for (field, value) in form.fields.iter().zip(&form.values) {
        let mut value = value.clone();
        if field.full_name == "reason" {
            value = text::force_reason(&value, &owner.name, owner.user_id);
        }
        let value = match field.kind {
            FieldKind::Bool => serde_json::Value::Bool(value == "true"),
            FieldKind::Int => value
                .parse::<i64>()
                .map_or(serde_json::Value::String(value), serde_json::Value::from),
            _ => serde_json::Value::String(value),
        };
        values.insert(field.full_name.clone(), value);
    }
    values
}

/// Sends the force call; Ok and Err both carry the text for the chat.
async fn submit(ctx: &Context, form: &ForceForm, owner: &Owner) -> Result<String, String> {
    let missing: Vec<&str> = form
        .missing()
        .into_iter()
        .map(|i| form.fields[i].label.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(text::force_missing(&missing));
    }
    let values = force_values(form, owner);
    match ctx
        .buildbot
        .force(&form.scheduler, form.builderid, &values)
        .await
    {
        Ok(requests) => {
            log::info!(
                "{} forced a build on {} ({:?})",
                owner.name,
                form.builder,
                requests
            );
            let links: Vec<(i64, String)> = requests
                .iter()
                .map(|id| (*id, ctx.buildbot.buildrequest_url(*id)))
                .collect();
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

// ---------------------------------------------------------------------------------------------
// The steps, one function each, as the schema routes them

/// `ChoosingScheduler` + a scheduler button.
pub async fn scheduler_chosen(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, schedulers): (Owner, Vec<String>),
    index: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let all = ctx.buildbot.force_schedulers().await;
    let chosen = all.ok().and_then(|all| {
        let name = schedulers.get(index)?;
        all.into_iter().find(|s| &s.name == name)
    });
    let Some(scheduler) = chosen else {
        return stale(&ctx, &dialogue, &message).await;
    };
    let next = choose_builder(&ctx, turn.owner, &scheduler, &dialogue).await?;
    show(&ctx, &message, next).await
}

/// `ChoosingBuilder` + a builder button.
pub async fn builder_chosen(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, scheduler, builders): (Owner, String, Vec<String>),
    index: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let all = ctx.buildbot.force_schedulers().await.unwrap_or_default();
    let found = all
        .iter()
        .find(|s| s.name == scheduler)
        .zip(builders.get(index));
    let Some((scheduler, builder)) = found else {
        return stale(&ctx, &dialogue, &message).await;
    };
    match new_form(&ctx, scheduler, builder).await {
        Ok(form) => {
            let screen = form_screen(&form, &[]);
            dialogue
                .update(State::EditingForce {
                    owner: turn.owner,
                    form,
                })
                .await?;
            show(&ctx, &message, screen).await
        }
        Err(error) => show(&ctx, &message, Outgoing::text(master_failure(&error))).await,
    }
}

/// `EditingForce` + a field's ✏️ button: ask for its value (buttons for booleans and choices,
/// a typed answer otherwise).
pub async fn edit_field(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, form): (Owner, ForceForm),
    field: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let Some(spec) = form
        .fields
        .get(field)
        .filter(|f| f.kind != FieldKind::Fixed)
    else {
        return stale(&ctx, &dialogue, &message).await;
    };
    let mention = (!message.chat.is_private())
        .then(|| query.from.username.clone())
        .flatten();
    let question = text::force_ask_value(&spec.label, &form.values[field], mention.as_deref());
    let choices: Vec<String> = match &spec.kind {
        FieldKind::Bool => vec!["true".into(), "false".into()],
        FieldKind::Choice { choices, .. } => choices.clone(),
        _ => Vec::new(),
    };
    let prompt = if choices.is_empty() {
        Outgoing::text(question).asking()
    } else {
        let buttons: Vec<(String, Tap)> = choices
            .into_iter()
            .enumerate()
            .map(|(i, c)| (c, Tap::Value(i)))
            .collect();
        Outgoing::text(question).with_keyboard(keyboards::conversation(&buttons))
    };
    ctx.delivery
        .remove_keyboard(message.chat.id, message.id)
        .await?;
    let owner = turn.owner;
    dialogue
        .update(State::AwaitingValue { owner, form, field })
        .await?;
    ctx.delivery.send(message.chat.id, None, prompt).await?;
    Ok(())
}

/// `AwaitingValue` + a value button (booleans and choices).
pub async fn value_chosen(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, mut form, field): (Owner, ForceForm, usize),
    index: usize,
) -> HandlerResult {
    taken(&ctx, &query).await?;
    let choice = match form.fields.get(field).map(|f| &f.kind) {
        Some(FieldKind::Bool) => ["true", "false"].get(index).map(|v| v.to_string()),
        Some(FieldKind::Choice { choices, .. }) => choices.get(index).cloned(),
        _ => None,
    };
    let Some(value) = choice else {
        return stale(&ctx, &dialogue, &message).await;
    };
    form.values[field] = value;
    let screen = form_screen(&form, &[]);
    dialogue
        .update(State::EditingForce {
            owner: turn.owner,
            form,
        })
        .await?;
    show(&ctx, &message, screen).await
}

/// `AwaitingValue` + a typed answer: checked by the field's kind; a bad value is explained
/// and asked again.
pub async fn receive_value(
    ctx: Arc<Context>,
    msg: Message,
    dialogue: Conversation,
    turn: Turn,
    (_, mut form, field): (Owner, ForceForm, usize),
) -> HandlerResult {
    let Some(spec) = form.fields.get(field) else {
        dialogue.exit().await?;
        return Ok(());
    };
    match validate(spec, msg.text().unwrap_or_default()) {
        // the state still waits for this field
        Err(problem) => {
            say(
                &ctx,
                &msg,
                text::force_bad_value(&spec.label, &problem, true),
            )
            .await
        }
        Ok(value) => {
            form.values[field] = value;
            let screen = form_screen(&form, &[]);
            dialogue
                .update(State::EditingForce {
                    owner: turn.owner,
                    form,
                })
                .await?;
            ctx.reply(&msg, screen).await?;
            Ok(())
        }
    }
}

/// `EditingForce` + Start: the force call. When Buildbot or the check refuses, the form stays
/// for the user to fix what was refused.
pub async fn start_build(
    ctx: Arc<Context>,
    dialogue: Conversation,
    query: CallbackQuery,
    message: Message,
    turn: Turn,
    (_, form): (Owner, ForceForm),
) -> HandlerResult {
    taken(&ctx, &query).await?;
    match submit(&ctx, &form, &turn.owner).await {
        Ok(done) => {
            dialogue.exit().await?;
            show(&ctx, &message, Outgoing::text(done)).await
        }
        Err(problem) => {
            let chat = message.chat.id;
            ctx.delivery.remove_keyboard(chat, message.id).await?;
            ctx.delivery
                .send(chat, None, Outgoing::text(problem))
                .await?;
            let screen = form_screen(&form, &form.missing());
            dialogue
                .update(State::EditingForce {
                    owner: turn.owner,
                    form,
                })
                .await?;
            ctx.delivery.send(chat, None, screen).await?;
            Ok(())
        }
    }
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
    fn missing_lists_required_fields_left_empty() {
        let form = ForceForm {
            scheduler: "force".into(),
            label: "Force".into(),
            builder: "b".into(),
            builderid: 1,
            fields: vec![
                field(FieldKind::Text, true, None),
                field(FieldKind::Text, false, None),
                field(FieldKind::Text, true, None),
            ],
            values: vec![" ".into(), String::new(), "x".into()],
        };
        assert_eq!(form.missing(), [0]);
    }
}
