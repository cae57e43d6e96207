//! Live build messages: the start message edited as steps move, and turned into the result.

use std::collections::BTreeSet;

use teloxide::types::{ChatId, MessageId};

use super::{Notifier, Result};
use crate::clock::now;
use crate::delivery::{Notification, Outgoing};
use crate::storage::Chat;
use crate::text;

impl Notifier {
    /// Where a build's live message went, chat by chat (none without `notify.live`).
    pub(super) async fn live_messages(&self, buildid: i64) -> Result<Vec<(Chat, i32)>> {
        if !self.settings.live {
            return Ok(Vec::new());
        }
        Ok(self.store.live_of(buildid).await?)
    }

    /// Edits the live messages of the builds whose steps moved, to show their progress.
    pub(super) async fn progress(&mut self) -> Result<()> {
        let live = self.store.live_builds().await?;
        // what was shown of builds that are no longer live is not needed again
        self.last_progress.retain(|build, _| live.contains(build));
        let moved: Vec<i64> = live
            .into_iter()
            .filter(|b| self.stepped.contains(b))
            .collect();
        self.stepped.clear();
        for buildid in moved {
            let Some(build) = self.client.build(buildid).await? else {
                self.store.live_drop(buildid).await?;
                continue;
            };
            if build.complete {
                continue; // the finished event turns it into the result
            }
            let Some(builder) = self.builder(build.builderid).await? else {
                continue;
            };
            let steps = self.client.steps(buildid).await?;
            let done = steps.iter().filter(|s| s.results.is_some()).count();
            let current = steps
                .iter()
                .rev()
                .find(|s| s.results.is_none())
                .map(|s| s.name.clone());
            let elapsed = build.started_at.map_or(0, |t| now().saturating_sub(t));
            let url = self.client.build_url(build.builderid, build.number);
            let text = text::build_progress(
                &builder.name,
                build.number,
                &url,
                current.as_deref(),
                done,
                steps.len(),
                elapsed,
            );
            if self.last_progress.get(&buildid) == Some(&text) {
                continue;
            }
            for (chat, message_id) in self.store.live_of(buildid).await? {
                let progress = Outgoing::text(text.clone());
                if let Some(Err(error)) = self.edit_live(&chat, message_id, progress).await {
                    log::debug!("live message in chat {chat} not updated: {error}");
                }
            }
            self.last_progress.insert(buildid, text);
        }
        Ok(())
    }

    /// A live message becomes the result; a chat whose edit fails gets a new message (it
    /// joins `recipients`), one whose edit worked does not (it leaves them).
    pub(super) async fn turn_live_into_result(
        &self,
        live: &[(Chat, i32)],
        message: &Notification,
        recipients: &mut BTreeSet<Chat>,
    ) {
        for (chat, message_id) in live {
            let Some(edited) = self.edit_live(chat, *message_id, message.outgoing()).await else {
                continue;
            };
            match edited {
                Ok(()) => {
                    recipients.remove(chat);
                }
                Err(error) => {
                    log::warn!(
                        "cannot turn the live message in chat {chat} into the result: {error}"
                    );
                    recipients.insert(chat.clone());
                }
            }
        }
    }

    /// Edits a build's live message in `chat`: the one path for progress and for the result.
    /// `None` for a channel named by its username, whose messages are not edited.
    async fn edit_live(
        &self,
        chat: &Chat,
        message_id: i32,
        message: Outgoing,
    ) -> Option<std::result::Result<(), teloxide::RequestError>> {
        let (Chat::Id(id) | Chat::Topic(id, _)) = chat else {
            return None;
        };
        Some(
            self.delivery
                .edit_notification(ChatId(*id), MessageId(message_id), message)
                .await,
        )
    }
}
