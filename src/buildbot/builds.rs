//! The builds the master knows of, and their steps, changes and logs: what notifications,
//! `/status`-like commands and live build messages are made of.

use super::models::{Build, Change, Step};
use super::{Client, Result, decode, not_found_is_empty};
use crate::outcome::Outcome;

/// The properties of a build that its messages use.
#[derive(Debug, Clone, Default)]
pub struct BuildProperties {
    pub reason: Option<String>,
    pub owner: Option<String>,
    /// Set by Buildbot from the source stamp of a build with one codebase.
    pub branch: Option<String>,
    /// What it built: `got_revision` (set by the checkout) or else the asked `revision`.
    pub revision: Option<String>,
}

/// A finished build as a builder's history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastBuild {
    pub buildid: i64,
    pub number: i64,
    pub result: Outcome,
    pub complete_at: i64,
    pub revision: Option<String>,
    /// Its `branch` property: builds of one branch are compared with each other.
    pub branch: Option<String>,
}

/// The properties asked with a build: its notes and what it built.
const PROPERTIES: [(&str, &str); 5] = [
    ("property", "reason"),
    ("property", "owner"),
    ("property", "branch"),
    ("property", "got_revision"),
    ("property", "revision"),
];

/// A string property of a build read with `property=…`; empty is none.
fn text_property(build: &serde_json::Value, name: &str) -> Option<String> {
    build["properties"][name][0]
        .as_str()
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

fn revision_of(build: &serde_json::Value) -> Option<String> {
    text_property(build, "got_revision").or_else(|| text_property(build, "revision"))
}

/// Which side of a build number [`Client::finished_build_where`] looks: the newest before
/// it, or the oldest after it.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    Before(i64),
    After(i64),
}

impl Client {
    pub async fn build(&self, buildid: i64) -> Result<Option<Build>> {
        let builds: Vec<Build> = self
            .collection(&format!("builds/{buildid}"), &[], "builds")
            .await
            .or_else(not_found_is_empty)?;
        Ok(builds.into_iter().next())
    }

    /// Builds created after `buildid`, oldest first (at most `limit`).
    pub async fn builds_after(&self, buildid: i64, limit: usize) -> Result<Vec<Build>> {
        let (after, limit) = (buildid.to_string(), limit.to_string());
        self.collection(
            "builds",
            &[
                ("buildid__gt", &after),
                ("order", "buildid"),
                ("limit", &limit),
            ],
            "builds",
        )
        .await
    }

    /// Builds that completed at or after `epoch`, oldest first (at most `limit`).
    pub async fn builds_completed_since(&self, epoch: i64, limit: usize) -> Result<Vec<Build>> {
        let (since, limit) = (epoch.to_string(), limit.to_string());
        self.collection(
            "builds",
            &[
                ("complete", "true"),
                ("complete_at__ge", &since),
                ("order", "complete_at"),
                ("limit", &limit),
            ],
            "builds",
        )
        .await
    }

    /// The newest build, if any: where a first start puts its cursor.
    pub async fn newest_build(&self) -> Result<Option<Build>> {
        let builds: Vec<Build> = self
            .collection("builds", &[("order", "-buildid"), ("limit", "1")], "builds")
            .await?;
        Ok(builds.into_iter().next())
    }

    /// The finished build of the same builder just before `number`.
    pub async fn previous_finished_build(
        &self,
        builderid: i64,
        number: i64,
    ) -> Result<Option<Build>> {
        let path = format!("builders/{builderid}/builds");
        let before = number.to_string();
        let builds: Vec<Build> = self
            .collection(
                &path,
                &[
                    ("complete", "true"),
                    ("number__lt", &before),
                    ("order", "-number"),
                    ("limit", "1"),
                ],
                "builds",
            )
            .await?;
        Ok(builds.into_iter().next())
    }

    /// Builds that have not finished yet, on every builder.
    pub async fn running_builds(&self) -> Result<Vec<Build>> {
        self.collection(
            "builds",
            &[("complete", "false"), ("order", "buildid")],
            "builds",
        )
        .await
    }

    /// The newest finished build of a builder.
    pub async fn last_finished_build(&self, builderid: i64) -> Result<Option<Build>> {
        let path = format!("builders/{builderid}/builds");
        let builds: Vec<Build> = self
            .collection(
                &path,
                &[("complete", "true"), ("order", "-number"), ("limit", "1")],
                "builds",
            )
            .await?;
        Ok(builds.into_iter().next())
    }

    /// A build with the properties its messages use.
    pub async fn build_with_properties(&self, buildid: i64) -> Result<(Build, BuildProperties)> {
        let url = self.api_url(&format!("builds/{buildid}"), &PROPERTIES)?;
        let mut body = self.get_json(&url).await?;
        let found = body["builds"][0].take();
        let properties = BuildProperties {
            reason: text_property(&found, "reason"),
            owner: text_property(&found, "owner"),
            branch: text_property(&found, "branch"),
            revision: revision_of(&found),
        };
        Ok((decode(&url, found)?, properties))
    }

    /// The builder's finished builds numbered `up_to` or lower, newest first, at most
    /// `limit`, with what each built: one request for a builder's recent history.
    pub async fn finished_builds(
        &self,
        builderid: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<PastBuild>> {
        let (up_to, limit) = (up_to.to_string(), limit.to_string());
        self.past_builds(
            builderid,
            &[
                ("number__le", &up_to),
                ("order", "-number"),
                ("limit", &limit),
            ],
        )
        .await
    }

    /// The builder's newest finished build before a number, or its oldest after one, whose
    /// result is one of `results`: where a run of failures started, when it is older than
    /// the builds at hand.
    pub async fn finished_build_where(
        &self,
        builderid: i64,
        bound: Bound,
        results: &[Outcome],
    ) -> Result<Option<PastBuild>> {
        let (field, order, number) = match bound {
            Bound::Before(n) => ("number__lt", "-number", n),
            Bound::After(n) => ("number__gt", "number", n),
        };
        let number = number.to_string();
        let codes: Vec<String> = results.iter().map(|r| r.code().to_string()).collect();
        let mut query = vec![(field, number.as_str()), ("order", order), ("limit", "1")];
        query.extend(codes.iter().map(|c| ("results", c.as_str())));
        Ok(self
            .past_builds(builderid, &query)
            .await?
            .into_iter()
            .next())
    }

    /// Finished builds of a builder as histories keep them, with `query` added.
    async fn past_builds(&self, builderid: i64, query: &[(&str, &str)]) -> Result<Vec<PastBuild>> {
        let mut query = query.to_vec();
        query.push(("complete", "true"));
        query.extend_from_slice(&PROPERTIES[2..]);
        let url = self.api_url(&format!("builders/{builderid}/builds"), &query)?;
        let body = self.get_json(&url).await?;
        let found = body["builds"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let mut builds = Vec::with_capacity(found.len());
        for raw in found {
            let build: Build = decode(&url, raw.clone())?;
            if let (Some(result), Some(complete_at)) = (build.results, build.complete_at) {
                builds.push(PastBuild {
                    buildid: build.buildid,
                    number: build.number,
                    result,
                    complete_at,
                    revision: revision_of(raw),
                    branch: text_property(raw, "branch"),
                });
            }
        }
        Ok(builds)
    }

    /// The authors of the changes a build contains, each once, in order.
    pub async fn build_authors(&self, buildid: i64) -> Result<Vec<String>> {
        let mut authors: Vec<String> = Vec::new();
        for change in self.build_changes(buildid).await? {
            if let Some(author) = change.author.filter(|a| !authors.contains(a)) {
                authors.push(author);
            }
        }
        Ok(authors)
    }

    /// The changes a build contains (its blamelist's source).
    pub async fn build_changes(&self, buildid: i64) -> Result<Vec<Change>> {
        self.collection(&format!("builds/{buildid}/changes"), &[], "changes")
            .await
    }

    /// The revisions a build was asked to build: build request → buildset → source stamps.
    pub async fn build_revisions(&self, buildrequestid: i64) -> Result<Vec<String>> {
        let url = self.api_url(&format!("buildrequests/{buildrequestid}"), &[])?;
        let body = self.get_json(&url).await?;
        let Some(bsid) = body["buildrequests"][0]["buildsetid"].as_i64() else {
            return Ok(Vec::new());
        };
        let url = self.api_url(&format!("buildsets/{bsid}"), &[])?;
        let body = self.get_json(&url).await?;
        Ok(body["buildsets"][0]["sourcestamps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|ss| ss["revision"].as_str().map(str::to_owned))
            .collect())
    }

    /// The steps of a build, in order.
    pub async fn steps(&self, buildid: i64) -> Result<Vec<Step>> {
        self.collection(
            &format!("builds/{buildid}/steps"),
            &[("order", "number")],
            "steps",
        )
        .await
    }

    /// The last `lines` lines of a step's main log (stdio when it has one), without the
    /// stream markers Buildbot keeps in stdio logs; and the log's slug, for its page.
    pub async fn step_log_tail(
        &self,
        stepid: i64,
        lines: usize,
    ) -> Result<Option<(String, Vec<String>)>> {
        let logs: Vec<serde_json::Value> = self
            .collection(&format!("steps/{stepid}/logs"), &[], "logs")
            .await?;
        let Some(log) = logs
            .iter()
            .find(|l| l["name"] == "stdio")
            .or_else(|| logs.first())
        else {
            return Ok(None);
        };
        let (Some(logid), Some(slug)) = (log["logid"].as_i64(), log["slug"].as_str()) else {
            return Ok(None);
        };
        let total = log["num_lines"].as_u64().unwrap_or(0) as usize;
        if total == 0 || lines == 0 {
            return Ok(Some((slug.to_owned(), Vec::new())));
        }
        let first = total.saturating_sub(lines).to_string();
        let count = lines.min(total).to_string();
        let url = self.api_url(
            &format!("logs/{logid}/contents"),
            &[("offset", &first), ("limit", &count)],
        )?;
        let body = self.get_json(&url).await?;
        let content = body["logchunks"][0]["content"].as_str().unwrap_or_default();
        let stdio = log["type"] == "s";
        let tail = content
            .lines()
            .map(|line| {
                if stdio && !line.is_empty() {
                    line[line.char_indices().nth(1).map_or(line.len(), |(i, _)| i)..].to_owned()
                } else {
                    line.to_owned()
                }
            })
            .collect();
        Ok(Some((slug.to_owned(), tail)))
    }
}
