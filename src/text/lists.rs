//! `/list`: builders, workers and changes, one per line, so a long list splits cleanly.

use std::fmt::Write as _;

use super::html::{code, escape, link};
use super::time::utc_date;
use crate::buildbot::models::{Builder, Change, Worker};

pub fn list_prompt() -> String {
    "What do you want to list?".to_owned()
}

/// A builder as the lists show it: its name, linked to its page.
pub struct BuilderEntry<'a> {
    pub builder: &'a Builder,
    pub url: String,
    /// At least one connected worker can run its builds.
    pub online: bool,
}

pub fn builders_list(entries: &[BuilderEntry<'_>], include_retired: bool) -> String {
    if entries.is_empty() {
        return if include_retired {
            "This master has no builders.".to_owned()
        } else {
            "No builders are configured on this master.".to_owned()
        };
    }
    let mut out = String::from("I found the following <b>builders</b>:");
    for e in entries {
        let _ = write!(out, "\n• {}", link(&e.url, &e.builder.name));
        if !e.builder.tags.is_empty() {
            let _ = write!(out, " <i>[{}]</i>", escape(&e.builder.tags.join(", ")));
        }
        if !e.builder.is_active() {
            out.push_str(" — retired");
        } else if !e.online {
            out.push_str(" — offline 🔌");
        }
    }
    out
}

pub fn workers_list(workers: &[&Worker], include_unconfigured: bool) -> String {
    if workers.is_empty() {
        return if include_unconfigured {
            "This master has no workers.".to_owned()
        } else {
            "No workers are configured on this master.".to_owned()
        };
    }
    let mut out = String::from("I found the following <b>workers</b>:");
    for w in workers {
        let state = if !w.is_configured() {
            "not configured"
        } else if !w.is_connected() {
            "disconnected ⚠️"
        } else if w.paused {
            "paused ⏸️"
        } else if w.graceful {
            "shutting down gracefully"
        } else {
            "connected 🟢"
        };
        let _ = write!(out, "\n• {} — {state}", code(&w.name));
    }
    out
}

/// Changes, given newest first, shown oldest first so the newest is at the bottom of the chat.
pub fn changes_list(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "This master has not seen any changes yet.".to_owned();
    }
    let mut out = match changes.len() {
        1 => "The most recent <b>change</b>:".to_owned(),
        n => format!("The {n} most recent <b>changes</b>, oldest first:"),
    };
    // The API gives newest first; a chat reads best with the newest at the bottom.
    for change in changes.iter().rev() {
        out.push('\n');
        let summary = change
            .comments
            .as_deref()
            .and_then(|c| c.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or("(no comment)");
        let summary: String = summary.chars().take(200).collect();
        let web_link = change
            .revlink
            .as_deref()
            .filter(|l| url::Url::parse(l).is_ok_and(|u| matches!(u.scheme(), "http" | "https")));
        match web_link {
            Some(url) => {
                let _ = write!(out, "\n📄 {}", link(url, &summary));
            }
            None => {
                let _ = write!(out, "\n📄 <b>{}</b>", escape(&summary));
            }
        }
        let mut details = Vec::new();
        if let Some(author) = change.author.as_deref() {
            details.push(format!("<i>Author</i>: {}", escape(author)));
        }
        if let Some(when) = change.when_timestamp {
            details.push(format!("<i>Date</i>: {}", utc_date(when)));
        }
        for detail in details {
            let _ = write!(out, "\n{detail}");
        }
        if let Some(repository) = change.repository.as_deref().filter(|r| !r.is_empty()) {
            let _ = write!(out, "\n<i>Repository</i>: {}", escape(repository));
        }
        if let Some(branch) = change.branch.as_deref() {
            let _ = write!(out, "\n<i>Branch</i>: {}", escape(branch));
        }
        if let Some(revision) = change.revision.as_deref() {
            let _ = write!(out, "\n<i>Revision</i>: {}", code(revision));
        }
    }
    out
}

/// `/list all changes` when there are many; `count` is what "all" would show.
pub fn too_many_changes(count: usize, capped: bool, some: u32) -> String {
    let count = if capped {
        format!("more than {count}")
    } else {
        count.to_string()
    };
    format!(
        "The master has {count} changes. Do you really want to see them all, or just the last {some}?"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::fixtures::builder;

    #[test]
    fn builder_and_worker_lists() {
        let b1 = builder(1, "runtests", &["unit", "fast"], true);
        let b2 = builder(2, "lint_*[x]<&>", &[], true);
        let b3 = builder(3, "old", &[], false);
        let entries = [
            BuilderEntry {
                builder: &b1,
                url: "http://bb/#/builders/1".into(),
                online: true,
            },
            BuilderEntry {
                builder: &b2,
                url: "http://bb/#/builders/2".into(),
                online: false,
            },
            BuilderEntry {
                builder: &b3,
                url: "http://bb/#/builders/3".into(),
                online: false,
            },
        ];
        insta::assert_snapshot!("builders", builders_list(&entries, true));
        let workers: Vec<Worker> = serde_json::from_value(serde_json::json!([
            {"workerid": 1, "name": "local", "connected_to": [{"masterid": 1}], "configured_on": [{"builderid": 1}]},
            {"workerid": 2, "name": "ghost", "connected_to": [], "configured_on": [{"builderid": 2}]},
            {"workerid": 3, "name": "paused", "connected_to": [{"masterid": 1}], "configured_on": [{"builderid": 2}], "paused": true},
            {"workerid": 4, "name": "spare", "connected_to": [], "configured_on": []},
        ]))
        .unwrap();
        insta::assert_snapshot!(
            "workers",
            workers_list(&workers.iter().collect::<Vec<_>>(), true)
        );
    }

    #[test]
    fn changes() {
        let changes: Vec<Change> = serde_json::from_value(serde_json::json!([
            {"changeid": 2, "author": "Bob <bob@example.org>", "comments": "\nfix the _thing_ <b>\n\nlonger text",
             "branch": "main", "revision": "abcdef1234567890", "revlink": "https://example.org/c/abcdef",
             "repository": "https://example.org/repo.git", "when_timestamp": 1_795_616_759},
            {"changeid": 1, "author": "alice", "comments": "", "branch": null, "revision": null, "revlink": null,
             "repository": "", "when_timestamp": null},
        ]))
        .unwrap();
        insta::assert_snapshot!(changes_list(&changes));
        insta::assert_snapshot!("too_many_changes", too_many_changes(200, true, 50));
    }

    #[test]
    fn prompts_and_empty_lists() {
        let one: Vec<Change> = serde_json::from_value(serde_json::json!([
            {"changeid": 1, "author": null, "comments": null, "when_timestamp": null},
        ]))
        .unwrap();
        insta::assert_snapshot!(
            "list_edges",
            [
                list_prompt(),
                builders_list(&[], true),
                builders_list(&[], false),
                workers_list(&[], true),
                workers_list(&[], false),
                changes_list(&[]),
                changes_list(&one),
                too_many_changes(120, false, 50),
            ]
            .join("\n\n")
        );
    }

    #[test]
    fn every_line_is_self_contained() {
        // the splitter relies on this: no tag may be open at a newline
        let b = builder(1, "a\nb<i>", &["x\ny"], true);
        let out = builders_list(
            &[BuilderEntry {
                builder: &b,
                url: "http://bb/".into(),
                online: true,
            }],
            false,
        );
        for line in out.lines() {
            assert_eq!(
                line.matches("<a ").count(),
                line.matches("</a>").count(),
                "{line}"
            );
            assert_eq!(
                line.matches("<i>").count(),
                line.matches("</i>").count(),
                "{line}"
            );
        }
    }
}
