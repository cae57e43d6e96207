//! What every handler needs, built once by `app` and shared behind an `Arc`.

use teloxide::types::{Message, MessageId};

use crate::buildbot::control::MasterControl;
use crate::buildbot::mirror::Mirror;
use crate::buildbot::models::{Build, Builder};
use crate::buildbot::{self, Client};
use crate::command::CommandName;
use crate::delivery::{Delivery, Outgoing};
use crate::notify::history::Histories;
use crate::settings::Settings;
use crate::storage::Store;

pub struct Context {
    pub settings: Settings,
    pub buildbot: std::sync::Arc<Client>,
    /// What the master is doing, kept up to date by its event stream: the read-only commands
    /// answer from it without asking the master.
    pub mirror: Mirror,
    /// Each builder's recent results, kept by the notifier: what `/flaky` judges.
    pub histories: Histories,
    pub delivery: Delivery,
    pub store: Store,
    pub master_control: MasterControl,
    /// This bot's username (without `@`), as Telegram knows it.
    pub bot_username: String,
}

impl Context {
    /// May this Telegram user run `command`? Asked on every command and every button tap.
    pub fn allows(&self, command: CommandName, user_id: i64) -> bool {
        self.settings.authz.allows(command, user_id)
    }

    /// `[notify].tags`: with tags set, only builders carrying one of them exist for the bot.
    pub fn shows(&self, builder: &Builder) -> bool {
        self.settings.notify.shows(&builder.tags)
    }

    /// Every builder of the master (retired ones too), from the mirror; from the master only
    /// while the mirror is not live.
    pub async fn builders(&self) -> buildbot::Result<Vec<Builder>> {
        match self.mirror.live() {
            Some(state) => Ok(state.builders().cloned().collect()),
            None => self.buildbot.builders().await,
        }
    }

    /// The builders the bot shows, and the builds running now: from the mirror, unless it
    /// shows no running build of a builder that is `wanted`. Then the master is asked after
    /// all: it may have created one a moment ago, before the event stream brought its first
    /// step (what `/stop` and `/watch` right after a `/force` look for).
    pub async fn running(
        &self,
        wanted: impl Fn(&Builder) -> bool,
    ) -> buildbot::Result<(Vec<Builder>, Vec<Build>)> {
        if let Some(state) = self.mirror.live() {
            let builders: Vec<Builder> = state
                .builders()
                .filter(|b| self.shows(b))
                .cloned()
                .collect();
            let running: Vec<Build> = state.running().map(|r| r.build.clone()).collect();
            let wanted_running = running.iter().any(|build| {
                builders
                    .iter()
                    .any(|b| b.builderid == build.builderid && wanted(b))
            });
            if wanted_running {
                return Ok((builders, running));
            }
        }
        let (builders, running) =
            tokio::try_join!(self.buildbot.builders(), self.buildbot.running_builds())?;
        let builders = builders.into_iter().filter(|b| self.shows(b)).collect();
        Ok((builders, running))
    }

    /// Answers a user's message, quoting it where [`Context::quote`] says; the id of the
    /// message that carries the keyboard, as [`Delivery::send`] gives it.
    pub async fn reply(
        &self,
        to: &Message,
        message: Outgoing,
    ) -> Result<Option<MessageId>, teloxide::RequestError> {
        self.delivery
            .send(to.chat.id, Self::quote(to), message)
            .await
    }

    /// What an answer to `to` quotes: in groups the command, so that everyone sees what it
    /// answers; private chats need no quote.
    pub fn quote(to: &Message) -> Option<MessageId> {
        (!to.chat.is_private()).then_some(to.id)
    }
}
