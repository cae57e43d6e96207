//! Background tasks that come back: a task that ends or panics before the shutdown is built
//! again and restarted, with a log line, so that notifications never stop silently.

use std::future::Future;
use std::time::Duration;

use tokio::task::{JoinError, JoinHandle};

use crate::shutdown::Shutdown;

/// The longest wait between two restarts of a task that keeps failing.
const MOST_BETWEEN_RESTARTS: Duration = Duration::from_secs(30);

/// Runs the task `make` builds until `shutdown`; whenever it ends or panics before that, it
/// is logged and built again, after a pause that grows with each restart in a row (1 s, 2 s,
/// 4 s … at most 30 s; a task that ran for a minute starts the count again).
pub async fn supervise<F, Fut>(name: &'static str, shutdown: Shutdown, mut make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut in_a_row: u32 = 0;
    loop {
        let started = tokio::time::Instant::now();
        // the task dies with its supervisor: a replica that stops being active aborts it
        let mut task = AbortOnDrop(tokio::spawn(make()));
        let outcome = (&mut task.0).await;
        if shutdown.is_triggered() {
            return;
        }
        match outcome {
            Ok(()) => log::error!("{name} stopped by itself; starting it again"),
            Err(error) => log::error!("{name} failed ({}); starting it again", why(error)),
        }
        if started.elapsed() > Duration::from_secs(60) {
            in_a_row = 0;
        }
        let pause = Duration::from_secs(1 << in_a_row.min(5)).min(MOST_BETWEEN_RESTARTS);
        in_a_row = in_a_row.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.triggered() => return,
        }
    }
}

/// A panic's message, or why the task was cancelled.
fn why(error: JoinError) -> String {
    if !error.is_panic() {
        return error.to_string();
    }
    let panic = error.into_panic();
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .map_or_else(
            || "a panic".to_owned(),
            |message| format!("panic: {message}"),
        )
}

/// Aborts the task when dropped: a helper task dies with the one that owns it, even when
/// that one panics.
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_or_ends_is_started_again_until_the_shutdown() {
        let shutdown = Shutdown::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let stopper = shutdown.clone();
        let supervisor = tokio::spawn(supervise("the test task", shutdown.clone(), move || {
            let run = counted.fetch_add(1, Ordering::SeqCst) + 1;
            let stopper = stopper.clone();
            async move {
                match run {
                    1 => panic!("boom"),
                    2 => {} // ends by itself
                    _ => {
                        stopper.trigger();
                        stopper.triggered().await;
                    }
                }
            }
        }));
        tokio::time::timeout(Duration::from_secs(60), supervisor)
            .await
            .expect("the supervisor ends with the shutdown")
            .expect("the supervisor itself does not panic");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "a panic and an end, then the shutdown"
        );
    }

    #[tokio::test]
    async fn a_panic_is_named() {
        let error = tokio::spawn(async { panic!("frame with _id 0") })
            .await
            .unwrap_err();
        assert_eq!(why(error), "panic: frame with _id 0");
    }
}
