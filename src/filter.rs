//! Which builds a chat hears about: terms such as `builder:linux-*`, `tag:nightly` and
//! `branch:main`, parsed once where they enter (`/notify`, the settings, the storage) and a
//! type everywhere else.
//!
//! A chat's filter is the set of its terms. A build passes it when, for each kind of term the
//! chat has, one of those terms matches: `builder:linux-* builder:docs branch:main` is
//! "linux-* or docs, on main". No term at all lets every build through, as before filters.
//! Patterns are globs (`*` any run of characters, `?` one), compared without regard to ASCII
//! case, as builder names are elsewhere in the bot.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// The longest pattern taken: a glob, not a document.
pub const PATTERN_MAX: usize = 64;
/// The most terms a chat can have: enough for any real filter, and its list stays one
/// message.
pub const TERMS_MAX: usize = 32;

/// What a term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Builder,
    Tag,
    Branch,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Builder, Kind::Tag, Kind::Branch];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Builder => "builder",
            Kind::Tag => "tag",
            Kind::Branch => "branch",
        }
    }
}

/// One term: a kind and a glob.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term {
    pub kind: Kind,
    pub pattern: String,
}

/// Why a word is not a term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadTerm {
    /// Not `kind:pattern` at all.
    NotATerm,
    UnknownKind(String),
    EmptyPattern,
    /// Longer than [`PATTERN_MAX`], or with control or invisible characters, or spaces at
    /// either end.
    BadPattern,
}

impl Term {
    /// Whether `word` is meant as a term (it has a `:`), right or wrong.
    pub fn looks_like(word: &str) -> bool {
        word.contains(':')
    }

    fn matches(&self, about: &About<'_>) -> bool {
        match self.kind {
            Kind::Builder => glob(&self.pattern, about.builder),
            Kind::Tag => about.tags.iter().any(|tag| glob(&self.pattern, tag)),
            Kind::Branch => about.branch.is_some_and(|b| glob(&self.pattern, b)),
        }
    }
}

impl FromStr for Term {
    type Err = BadTerm;

    fn from_str(word: &str) -> Result<Term, BadTerm> {
        let (kind, pattern) = word.split_once(':').ok_or(BadTerm::NotATerm)?;
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(kind.trim()))
            .ok_or_else(|| BadTerm::UnknownKind(kind.to_owned()))?;
        if pattern.is_empty() {
            return Err(BadTerm::EmptyPattern);
        }
        let clean =
            pattern.chars().all(|c| !c.is_control() && !invisible(c)) && pattern.trim() == pattern;
        if pattern.chars().count() > PATTERN_MAX || !clean {
            return Err(BadTerm::BadPattern);
        }
        Ok(Term {
            kind,
            pattern: pattern.to_owned(),
        })
    }
}

impl Term {
    /// The same term, ASCII case aside (how terms are matched, so how they are removed).
    pub fn same_as(&self, other: &Term) -> bool {
        self.kind == other.kind && self.pattern.eq_ignore_ascii_case(&other.pattern)
    }
}

/// Characters that show as nothing (zero-width, direction marks and overrides, soft hyphen):
/// a term holding one would look like another and could not be typed to remove it.
fn invisible(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.pattern)
    }
}

/// What a filter is asked about one build.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    pub builder: &'a str,
    pub tags: &'a [String],
    /// The build's `branch` property (none for a build without one, which then passes no
    /// `branch:` term).
    pub branch: Option<&'a str>,
}

/// A chat's terms; empty lets everything through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    terms: BTreeSet<Term>,
}

impl Filter {
    pub fn new(terms: impl IntoIterator<Item = Term>) -> Filter {
        Filter {
            terms: terms.into_iter().collect(),
        }
    }

    pub fn terms(&self) -> impl Iterator<Item = &Term> {
        self.terms.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// For each kind the filter has, one of its terms of that kind matches.
    pub fn passes(&self, about: &About<'_>) -> bool {
        Kind::ALL.into_iter().all(|kind| {
            let mut of_kind = self.terms.iter().filter(|t| t.kind == kind).peekable();
            of_kind.peek().is_none() || of_kind.any(|t| t.matches(about))
        })
    }
}

/// `*` matches any run of characters, `?` one; ASCII case does not count.
fn glob(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let text: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    // the classic two-pointer walk with one backtrack point: linear, no recursion
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(word: &str) -> Term {
        word.parse().unwrap()
    }

    fn about<'a>(builder: &'a str, tags: &'a [String], branch: Option<&'a str>) -> About<'a> {
        About {
            builder,
            tags,
            branch,
        }
    }

    #[test]
    fn globs() {
        for (pattern, text) in [
            ("linux-*", "linux-x64"),
            ("linux-*", "linux-"),
            ("*", ""),
            ("*-x64", "linux-x64"),
            ("l?nux*", "LINUX-arm"),
            ("a*b*c", "axxbyyc"),
            ("release/*", "release/4.3"),
            ("docs", "Docs"),
        ] {
            assert!(glob(pattern, text), "{pattern} ~ {text}");
        }
        for (pattern, text) in [
            ("linux-*", "win-x64"),
            ("docs", "docs2"),
            ("?", ""),
            ("a*b*c", "axxbyy"),
            ("*x", "xy"),
        ] {
            assert!(!glob(pattern, text), "{pattern} !~ {text}");
        }
    }

    #[test]
    fn terms_are_read_and_written_back_the_same() {
        assert_eq!(
            term("Builder:linux-*"),
            Term {
                kind: Kind::Builder,
                pattern: "linux-*".into()
            }
        );
        assert_eq!(term("branch:release/4.x").to_string(), "branch:release/4.x");
        assert_eq!("failure".parse::<Term>(), Err(BadTerm::NotATerm));
        assert_eq!(
            "owner:bob".parse::<Term>(),
            Err(BadTerm::UnknownKind("owner".into()))
        );
        assert_eq!("tag:".parse::<Term>(), Err(BadTerm::EmptyPattern));
        let long = format!("builder:{}", "x".repeat(PATTERN_MAX + 1));
        assert_eq!(long.parse::<Term>(), Err(BadTerm::BadPattern));
        assert_eq!("tag:a\u{7}".parse::<Term>(), Err(BadTerm::BadPattern));
        assert_eq!(
            "builder:docs\u{200B}".parse::<Term>(),
            Err(BadTerm::BadPattern)
        );
        assert_eq!(
            "builder:\u{202E}scod".parse::<Term>(),
            Err(BadTerm::BadPattern)
        );
        assert_eq!("builder: docs".parse::<Term>(), Err(BadTerm::BadPattern));
        assert_eq!(
            term("builder:Linux full").pattern,
            "Linux full",
            "quoted in /notify"
        );
        assert!(term("builder:RunTests").same_as(&term("builder:runtests")));
        assert!(!term("builder:docs").same_as(&term("tag:docs")));
        assert!(Term::looks_like("tag:x") && !Term::looks_like("failure"));
    }

    #[test]
    fn one_term_of_each_kind_must_match() {
        let tags = vec!["unit".to_owned(), "fast".to_owned()];
        let filter = Filter::new([
            term("builder:linux-*"),
            term("builder:docs"),
            term("branch:main"),
        ]);
        assert!(filter.passes(&about("linux-x64", &tags, Some("main"))));
        assert!(filter.passes(&about("docs", &[], Some("main"))));
        assert!(
            !filter.passes(&about("win", &tags, Some("main"))),
            "builder"
        );
        assert!(!filter.passes(&about("docs", &[], Some("dev"))), "branch");
        assert!(
            !filter.passes(&about("docs", &[], None)),
            "no branch at all"
        );
        let by_tag = Filter::new([term("tag:fast")]);
        assert!(by_tag.passes(&about("anything", &tags, None)));
        assert!(!by_tag.passes(&about("anything", &[], None)));
        assert!(
            Filter::default().passes(&about("x", &[], None)),
            "no filter"
        );
    }
}
