//! What a failure message adds: the failing step, the end of its log, who is to blame, and
//! the actions under it (the log page, rebuild).

use super::{Notifier, Result};
use crate::buildbot::mirror::Notes;
use crate::buildbot::models::Build;
use crate::delivery::Action;
use crate::outcome::Outcome;
use crate::text;

impl Notifier {
    /// The failing step, the end of its log, and with `show_blame_list` who is to blame; and
    /// the buttons under a failure message (its log page, rebuild).
    /// The steps come from the mirror when it saw them all, the authors from the build's
    /// notes (read again when an older build of the builder was still running then), and
    /// the log tail was read when the step failed: usually nothing is read now.
    pub(super) async fn failure_details(
        &self,
        build: &Build,
        result: Outcome,
        notes: &Notes,
    ) -> Result<(text::Failure, Vec<Action>)> {
        if !result.is_failure() {
            return Ok((
                text::Failure {
                    step: None,
                    blame: None,
                    log_tail: Vec::new(),
                },
                Vec::new(),
            ));
        }
        let mirrored = self.mirror.live();
        let steps = match mirrored.as_ref().and_then(|m| m.steps_of(build.buildid)) {
            Some(steps) => steps.to_vec(),
            None => self.client.steps(build.buildid).await?,
        };
        let failed = steps
            .iter()
            .find(|s| s.results.is_some_and(Outcome::is_failure) && !s.hidden);
        let mut log_tail = Vec::new();
        let mut log_url = None;
        if let Some(step) = failed
            && let Some((slug, tail)) = self
                .mirror
                .log_tail(build.buildid, step.stepid, &self.client)
                .await?
        {
            log_tail = tail;
            log_url = Some(format!(
                "{}/steps/{}/logs/{slug}",
                self.client.build_url(build.builderid, build.number),
                step.number
            ));
        }
        let blame = match (self.settings.show_blame_list, &notes.authors) {
            (false, _) => None,
            // an older build was running when they were read: its end may have changed them
            (true, Some(_)) if notes.raced => Some(self.client.build_authors(build.buildid).await?),
            (true, Some(authors)) => Some(authors.clone()),
            (true, None) => Some(self.client.build_authors(build.buildid).await?),
        };
        let mut actions: Vec<Action> = log_url.map(Action::OpenLog).into_iter().collect();
        actions.push(Action::Rebuild(build.buildid));
        Ok((
            text::Failure {
                step: failed.map(|s| s.name.clone()),
                blame,
                log_tail,
            },
            actions,
        ))
    }
}
