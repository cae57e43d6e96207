//! A build's or step's result, as Buildbot's `buildbot.process.results` numbers them, decoded
//! once where the REST API and the websocket hand it over.

/// A build's result code, as `buildbot.process.results` numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Warnings,
    Failure,
    Skipped,
    Exception,
    Retry,
    Cancelled,
}

impl Outcome {
    pub fn from_code(code: i64) -> Option<Outcome> {
        Some(match code {
            0 => Outcome::Success,
            1 => Outcome::Warnings,
            2 => Outcome::Failure,
            3 => Outcome::Skipped,
            4 => Outcome::Exception,
            5 => Outcome::Retry,
            6 => Outcome::Cancelled,
            _ => return None,
        })
    }

    /// The word Buildbot's UI uses.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Warnings => "warnings",
            Outcome::Failure => "failure",
            Outcome::Skipped => "skipped",
            Outcome::Exception => "exception",
            Outcome::Retry => "retry",
            Outcome::Cancelled => "cancelled",
        }
    }
}
