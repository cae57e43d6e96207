//! A build's or step's result, as Buildbot's `buildbot.process.results` numbers them, decoded
//! once where the REST API and the websocket hand it over (the models deserialize straight
//! into it), so that no code deeper in compares raw numbers.

use serde::{Deserialize, Deserializer};

/// A result code. A code this version does not know (a newer master) is kept, not dropped:
/// the build is still announced, with the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Warnings,
    Failure,
    Skipped,
    Exception,
    Retry,
    Cancelled,
    Unknown(i64),
}

impl Outcome {
    /// Every result this version knows, in Buildbot's order.
    pub const KNOWN: [Outcome; 7] = [
        Outcome::Success,
        Outcome::Warnings,
        Outcome::Failure,
        Outcome::Skipped,
        Outcome::Exception,
        Outcome::Retry,
        Outcome::Cancelled,
    ];

    pub fn from_code(code: i64) -> Outcome {
        usize::try_from(code)
            .ok()
            .and_then(|i| Outcome::KNOWN.get(i).copied())
            .unwrap_or(Outcome::Unknown(code))
    }

    /// The number Buildbot gives the result: what [`Outcome::from_code`] reads back.
    pub fn code(self) -> i64 {
        match self {
            Outcome::Unknown(code) => code,
            known => Outcome::KNOWN
                .iter()
                .position(|k| *k == known)
                .map_or(-1, |i| i as i64),
        }
    }

    /// The word Buildbot's UI uses; `None` for a code this version does not know.
    pub fn word(self) -> Option<&'static str> {
        Some(match self {
            Outcome::Success => "success",
            Outcome::Warnings => "warnings",
            Outcome::Failure => "failure",
            Outcome::Skipped => "skipped",
            Outcome::Exception => "exception",
            Outcome::Retry => "retry",
            Outcome::Cancelled => "cancelled",
            Outcome::Unknown(_) => return None,
        })
    }

    /// A failure or an exception: what a failure message, with the log, is about.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failure | Outcome::Exception)
    }

    /// Success or warnings: the code is fine. (Skipped, cancelled and retried builds are
    /// neither good nor failed: they say nothing about the code.)
    pub fn is_good(self) -> bool {
        matches!(self, Outcome::Success | Outcome::Warnings)
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        i64::deserialize(deserializer).map(Outcome::from_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_words_and_unknown_codes() {
        for (i, known) in Outcome::KNOWN.iter().enumerate() {
            assert_eq!(known.code(), i as i64);
            assert_eq!(Outcome::from_code(known.code()), *known);
        }
        assert_eq!(Outcome::Unknown(9).code(), 9);
        let words: Vec<_> = (0..7).map(|c| Outcome::from_code(c).word()).collect();
        assert_eq!(
            words,
            [
                "success",
                "warnings",
                "failure",
                "skipped",
                "exception",
                "retry",
                "cancelled"
            ]
            .map(Some)
        );
        assert_eq!(Outcome::from_code(7), Outcome::Unknown(7));
        for code in -1..9 {
            assert_eq!(Outcome::from_code(code).code(), code);
        }
        assert_eq!(Outcome::from_code(-1), Outcome::Unknown(-1));
        assert_eq!(Outcome::Unknown(7).word(), None);
        let decoded: Option<Outcome> = serde_json::from_str("4").unwrap();
        assert_eq!(decoded, Some(Outcome::Exception));
        let missing: Option<Outcome> = serde_json::from_str("null").unwrap();
        assert_eq!(missing, None);
        assert!(Outcome::Failure.is_failure() && Outcome::Exception.is_failure());
        assert!(!Outcome::Cancelled.is_failure());
    }
}
