//! Something a chat can ask to be told about: the event names of Buildbot's own bot, parsed
//! once where they enter (settings, `/notify`, storage) and a type everywhere else.

use std::fmt;
use std::str::FromStr;

/// Something a chat can ask to be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    Started,
    Finished,
    Success,
    Warnings,
    Failure,
    Exception,
    Cancelled,
    /// The previous build was success/warnings, this one failure/exception.
    Problem,
    /// The previous build was failure/exception, this one success/warnings.
    Recovery,
    Worse,
    Better,
    /// A worker went missing, and when it comes back.
    Worker,
}

impl Event {
    pub const ALL: [Event; 12] = [
        Event::Started,
        Event::Finished,
        Event::Success,
        Event::Warnings,
        Event::Failure,
        Event::Exception,
        Event::Cancelled,
        Event::Problem,
        Event::Recovery,
        Event::Worse,
        Event::Better,
        Event::Worker,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Event::Started => "started",
            Event::Finished => "finished",
            Event::Success => "success",
            Event::Warnings => "warnings",
            Event::Failure => "failure",
            Event::Exception => "exception",
            Event::Cancelled => "cancelled",
            Event::Problem => "problem",
            Event::Recovery => "recovery",
            Event::Worse => "worse",
            Event::Better => "better",
            Event::Worker => "worker",
        }
    }

    /// "started, finished, ..." for error messages.
    pub fn allowed_list() -> String {
        Event::ALL.map(Event::name).join(", ")
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct UnknownEvent;

impl FromStr for Event {
    type Err = UnknownEvent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Event::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s))
            .ok_or(UnknownEvent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in Event::ALL {
            assert_eq!(e.name().parse::<Event>(), Ok(e));
        }
        assert_eq!("FAILURE".parse::<Event>(), Ok(Event::Failure));
        assert_eq!("skipped".parse::<Event>(), Err(UnknownEvent));
    }
}
