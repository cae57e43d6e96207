//! Every text a user reads, in one place, rendered as Telegram HTML and pinned by snapshot tests.
//!
//! HTML is the parse mode because it can be escaped completely: a builder called `lint_*[x]`
//! breaks legacy Markdown (Buildbot's own bot loses such messages), but not `&lt;`-escaped HTML.
//! Every line produced here is self-contained (no tag spans a newline), so the delivery layer
//! may split a long message at any newline without breaking the markup.
//!
//! A few texts are plain, not HTML, and say so: button labels (Telegram does not parse them),
//! and the parts another text quotes (a reason for bad arguments, a parameter's problem, what
//! the master control answered), which that text escapes once.
//!
//! The texts are grouped by what the user is doing, one file each, so a change of wording
//! is found in one place and reviewed with its snapshot next to it. Callers see one flat
//! `text::` namespace; which file a text lives in is not their concern.
//!
//! - `html`: escaping, links and code, the only ways text becomes markup.
//! - `results`: a build result as emoji and word.
//! - `time`: "5 minutes", "3 min 5 s", UTC dates.
//! - `talk`: greetings, `/start`, `/getid`, `/source`, `/version`.
//! - `help`: `/help`, `/commands`, every command's usage, unknown commands, bad arguments.
//! - `errors`: access denials, stale buttons, master and storage failures.
//! - `lists`: `/list` of builders, workers and changes.
//! - `status`: `/status` and `/last`.
//! - `builds`: notifications about builds and workers.
//! - `history`: what a result says of the builder's past (new, still failing, flaky), `/flaky`.
//! - `digest`: the morning digest of what the quiet hours held.
//! - `subscriptions`: `/notify`, `/mute`, `/unmute`, `/watch`.
//! - `conversations`: `/nay`, who owns a conversation, expiry, `/stop`.
//! - `force`: `/force`, its parameters' problems, and rebuilds.
//! - `shutdown`: `/shutdown`, and what reaching the master process says.
//! - `buttons`: the labels of inline buttons, which are plain text.

mod builds;
mod buttons;
mod conversations;
mod digest;
mod errors;
mod force;
mod help;
mod history;
mod html;
mod lists;
mod results;
mod shutdown;
mod status;
mod subscriptions;
mod talk;
mod time;

pub use builds::*;
pub use buttons::*;
pub use conversations::*;
pub use digest::*;
pub use errors::*;
pub use force::*;
pub use help::*;
pub use history::*;
pub use html::escape;
pub use lists::*;
pub use results::*;
pub use shutdown::*;
pub use status::*;
pub use subscriptions::*;
pub use talk::*;
pub use time::{duration, fuzzy_interval, utc_date};

/// Builders and builds as the master's API returns them, for the snapshot tests.
#[cfg(test)]
mod fixtures {
    use crate::buildbot::models::{Build, Builder};

    /// A fixed "now", so that "5 minutes ago" stays 5 minutes in the snapshots.
    pub const NOW: i64 = 1_795_616_800;

    pub fn builder(id: i64, name: &str, tags: &[&str], active: bool) -> Builder {
        serde_json::from_value(serde_json::json!({
            "builderid": id, "name": name, "tags": tags, "masterids": if active { vec![1] } else { vec![] },
        }))
        .unwrap()
    }

    pub fn build(
        id: i64,
        number: i64,
        results: Option<i64>,
        started: i64,
        done: Option<i64>,
        state: &str,
    ) -> Build {
        serde_json::from_value(serde_json::json!({
            "buildid": id, "number": number, "builderid": 1, "started_at": started, "complete_at": done,
            "complete": done.is_some(), "results": results, "state_string": state,
        }))
        .unwrap()
    }
}
