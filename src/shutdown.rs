//! Stopping, as a value (mini-redis's `Shutdown`): the composition root (`app`) triggers it
//! once, on SIGINT or SIGTERM; every long-running part holds a clone and stops at its next
//! await point: none sleeps in a loop to find out.
//!
//! What stops how:
//! - the dispatcher finishes the updates it is handling and takes no more;
//! - the event stream closes its socket; the notifier finishes the event in hand (what it
//!   queued is in the outbox; what it had not reached is found again by the catch-up);
//! - the outbox starts no new sends, gives those in flight a few seconds, and leaves the rest
//!   in the storage for the next start;
//! - the digest timer stops sleeping; results kept for a digest stay in the storage.

use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Tells every holder to stop; triggering twice is harmless.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// A shutdown of part of the bot: triggered with this one, or on its own (a replica
    /// that stops being the active one stops its active work, and only that).
    pub fn child(&self) -> Shutdown {
        Shutdown {
            token: self.token.child_token(),
        }
    }

    /// Resolves once [`Shutdown::trigger`] was called (at once if it already was).
    pub async fn triggered(&self) {
        self.token.cancelled().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_hears_the_trigger() {
        let shutdown = Shutdown::new();
        let holder = shutdown.clone();
        let waiting = tokio::spawn(async move { holder.triggered().await });
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the holder stops")
            .expect("no panic");
        assert!(shutdown.is_triggered());
        shutdown.trigger();
    }

    #[test]
    fn a_child_stops_with_its_parent_or_alone() {
        let parent = Shutdown::new();
        let alone = parent.child();
        alone.trigger();
        assert!(!parent.is_triggered(), "a child does not stop its parent");
        let child = parent.child();
        parent.trigger();
        assert!(child.is_triggered());
    }
}
