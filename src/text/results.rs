//! Build results as words with an emoji in front, the same everywhere a result is shown, so
//! a chat can be scanned by colour.

use crate::outcome::Outcome;

/// Emoji and word for a build result, e.g. "✅ success"; unfinished builds have no result yet.
pub fn result(results: Option<Outcome>) -> String {
    match results {
        None => "⏳ not finished".to_owned(),
        Some(outcome) => format!("{} {}", result_emoji(outcome), result_word(outcome)),
    }
}

/// The word for a result: Buildbot's, or the number of one this version does not know.
pub fn result_word(outcome: Outcome) -> String {
    match (outcome.word(), outcome) {
        (Some(word), _) => word.to_owned(),
        (None, Outcome::Unknown(code)) => format!("result {code}"),
        (None, _) => String::new(),
    }
}

pub fn result_emoji(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "✅",
        Outcome::Warnings => "⚠️",
        Outcome::Failure => "❌",
        Outcome::Skipped => "⏭️",
        Outcome::Exception => "💥",
        Outcome::Retry => "🔁",
        Outcome::Cancelled => "🚫",
        Outcome::Unknown(_) => "❔",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_words() {
        let all: Vec<String> = [
            Some(0),
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(5),
            Some(6),
            Some(9),
            None,
        ]
        .into_iter()
        .map(|code| result(code.map(Outcome::from_code)))
        .collect();
        insta::assert_snapshot!(all.join("\n"));
    }
}
