//! The mirror's REST side: the whole state read from the master, at each (re)connect and
//! whenever the stream is down and a command needs an answer.

use std::future::Future;

use futures::{StreamExt, TryStreamExt};

use super::state::{Running, State};
use crate::buildbot::{Client, Result};

/// Requests in flight at once while loading: quick, without flooding the master when it
/// has many builders.
const AT_ONCE: usize = 8;

/// Reads everything the mirror holds: 3 requests, one per running build (its steps) and one
/// per builder (its last finished build).
pub async fn load(client: &Client) -> Result<State> {
    let (builders, workers, running) =
        tokio::try_join!(client.builders(), client.workers(), client.running_builds())?;
    // ids, not borrows: the futures must not hold on to the lists
    let build_ids: Vec<i64> = running.iter().map(|b| b.buildid).collect();
    let builder_ids: Vec<i64> = builders.iter().map(|b| b.builderid).collect();
    let steps = each(build_ids.into_iter().map(|id| client.steps(id)));
    let lasts = each(
        builder_ids
            .into_iter()
            .map(|id| client.last_finished_build(id)),
    );
    let (steps, lasts) = tokio::join!(steps, lasts);
    let mut state = State {
        running: running
            .into_iter()
            .zip(steps?)
            .map(|(build, steps)| (build.buildid, Running { build, steps }))
            .collect(),
        workers: workers.into_iter().map(|w| (w.workerid, w)).collect(),
        ..State::default()
    };
    for build in lasts?.into_iter().flatten() {
        state.set_last(build);
    }
    state.set_builders(builders);
    Ok(state)
}

/// Runs `requests` [`AT_ONCE`] at a time, keeping their order.
async fn each<T>(
    requests: impl Iterator<Item = impl Future<Output = Result<T>>>,
) -> Result<Vec<T>> {
    futures::stream::iter(requests)
        .buffered(AT_ONCE)
        .try_collect()
        .await
}
