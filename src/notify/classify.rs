//! Which notification events a finished build is, given the build before it.
//!
//! Pure functions, so every pair of results can be tested without a master.

use crate::event::Event;
use crate::outcome::Outcome;

/// Severity for worse/better, as Buildbot's bot orders results (retry is left out: a retried
/// build says nothing about the code).
fn severity(outcome: Outcome) -> Option<u8> {
    Some(match outcome {
        Outcome::Skipped => 0,
        Outcome::Success => 1,
        Outcome::Warnings => 2,
        Outcome::Failure => 3,
        Outcome::Cancelled => 4,
        Outcome::Exception => 5,
        Outcome::Retry | Outcome::Unknown(_) => return None,
    })
}

/// The events a finished build with `result` is, when the previous finished build of the same
/// builder had `previous` (None: no previous build, or unknown).
pub fn finished(result: Outcome, previous: Option<Outcome>) -> Vec<Event> {
    let mut events = vec![Event::Finished];
    match result {
        Outcome::Success => events.push(Event::Success),
        Outcome::Warnings => events.push(Event::Warnings),
        Outcome::Failure => events.push(Event::Failure),
        Outcome::Exception => events.push(Event::Exception),
        Outcome::Cancelled => events.push(Event::Cancelled),
        Outcome::Skipped | Outcome::Retry | Outcome::Unknown(_) => {}
    }
    let Some(previous) = previous else {
        return events;
    };
    if let (Some(now), Some(before)) = (severity(result), severity(previous)) {
        if now > before {
            events.push(Event::Worse);
        } else if now < before {
            events.push(Event::Better);
        }
    }
    if previous.is_good() && result.is_failure() {
        events.push(Event::Problem);
    }
    if previous.is_failure() && result.is_good() {
        events.push(Event::Recovery);
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_result_pair() {
        // One line per (previous, now): the whole table, pinned.
        let mut table = String::new();
        for previous in Outcome::KNOWN {
            for now in Outcome::KNOWN {
                let events: Vec<&str> = finished(now, Some(previous))
                    .iter()
                    .map(|e| e.name())
                    .collect();
                table.push_str(&format!(
                    "{:>9} -> {:<9}: {}\n",
                    previous.word().unwrap_or_default(),
                    now.word().unwrap_or_default(),
                    events.join(" ")
                ));
            }
        }
        insta::assert_snapshot!(table);
    }

    #[test]
    fn an_unknown_result_is_announced_as_finished_and_compares_with_nothing() {
        assert_eq!(
            finished(Outcome::Unknown(9), Some(Outcome::Success)),
            [Event::Finished]
        );
        assert_eq!(
            finished(Outcome::Failure, Some(Outcome::Unknown(9))),
            [Event::Finished, Event::Failure]
        );
    }

    #[test]
    fn the_documented_cases() {
        use Outcome::*;
        let has = |now, prev, e| finished(now, Some(prev)).contains(&e);
        assert!(has(Failure, Success, Event::Problem) && has(Failure, Success, Event::Worse));
        assert!(has(Exception, Warnings, Event::Problem));
        assert!(has(Success, Failure, Event::Recovery) && has(Success, Failure, Event::Better));
        assert!(has(Warnings, Exception, Event::Recovery));
        assert!(has(Warnings, Success, Event::Worse) && !has(Warnings, Success, Event::Problem));
        assert!(
            !has(Success, Cancelled, Event::Recovery),
            "a cancelled build is not a failure"
        );
        assert!(!has(Failure, Failure, Event::Problem) && !has(Failure, Failure, Event::Worse));
        assert!(!has(Success, Retry, Event::Better) && !has(Retry, Success, Event::Worse));
        assert_eq!(
            finished(Success, None),
            vec![Event::Finished, Event::Success]
        );
        assert_eq!(finished(Retry, None), vec![Event::Finished]);
    }
}
