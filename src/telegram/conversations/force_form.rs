//! The `/force` parameters: the form a conversation fills in, its screen, and the checks a
//! value must pass before Buildbot sees it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Owner;
use crate::buildbot::models::{FieldKind, ForceField, ForceScheduler};
use crate::buildbot::{self};
use crate::callback::Tap;
use crate::delivery::Outgoing;
use crate::telegram::answer::master_failure;
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

/// The parameters screen: every value, a button per editable one, and Start.
pub(super) fn form_screen(form: &ForceForm, missing: &[usize]) -> Outgoing {
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

/// A new form for `builder`, with the scheduler's defaults.
pub(super) async fn new_form(
    ctx: &Context,
    scheduler: &ForceScheduler,
    builder: &str,
) -> buildbot::Result<ForceForm> {
    let builders = ctx.builders().await?;
    let builderid = builders
        .iter()
        .find(|b| b.name == builder)
        .map_or(0, |b| b.builderid);
    Ok(form_for(scheduler, builder, builderid))
}

/// A new form for `builder` (`builderid` on the master), with the scheduler's defaults.
pub(super) fn form_for(scheduler: &ForceScheduler, builder: &str, builderid: i64) -> ForceForm {
    ForceForm {
        scheduler: scheduler.name.clone(),
        label: scheduler.title().to_owned(),
        builder: builder.to_owned(),
        builderid,
        values: scheduler.fields.iter().map(|f| f.default.clone()).collect(),
        fields: scheduler.fields.clone(),
    }
}

/// Sends the force call; Ok and Err both carry the text for the chat.
pub(super) async fn submit(
    ctx: &Context,
    form: &ForceForm,
    owner: &Owner,
) -> Result<String, String> {
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
