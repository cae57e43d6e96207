//! Build results as words with an emoji in front, the same everywhere a result is shown, so
//! a chat can be scanned by colour.

use crate::buildbot::models::Outcome;

/// Emoji and word for a build result, e.g. "✅ success"; unfinished builds have no result yet.
pub fn result(results: Option<i64>) -> String {
    match results.map(|code| (code, Outcome::from_code(code))) {
        None => "⏳ not finished".to_owned(),
        Some((_, Some(outcome))) => format!("{} {}", result_emoji(outcome), outcome.word()),
        Some((code, None)) => format!("❔ result {code}"),
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
        .map(result)
        .collect();
        insta::assert_snapshot!(all.join("\n"));
    }
}
