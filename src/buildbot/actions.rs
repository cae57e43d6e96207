//! What the bot asks the master to do, through Buildbot's JSON-RPC control calls: force,
//! stop and rebuild builds (and the force schedulers that say what can be forced).

use super::models::ForceScheduler;
use super::{Client, Result};

impl Client {
    pub async fn force_schedulers(&self) -> Result<Vec<ForceScheduler>> {
        let url = self.api_url("forceschedulers", &[])?;
        let body = self.get_json(&url).await?;
        Ok(body["forceschedulers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(ForceScheduler::from_json)
            .collect())
    }

    /// Forces a build: JSON-RPC `force` on the scheduler. Returns the new build request ids.
    /// Buildbot's per-field validation errors come back as
    /// [`Error::Rejected`](super::Error::Rejected).
    pub async fn force(
        &self,
        scheduler: &str,
        builderid: i64,
        values: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<Vec<i64>> {
        let mut params: serde_json::Map<String, serde_json::Value> =
            values.clone().into_iter().collect();
        params.insert(
            "builderid".into(),
            serde_json::Value::String(builderid.to_string()),
        );
        let result = self
            .call(
                &format!("forceschedulers/{scheduler}"),
                "force",
                serde_json::Value::Object(params),
            )
            .await?;
        Ok(request_ids(&result))
    }

    /// Stops a running build (JSON-RPC `stop`); the reason shows on the build page.
    pub async fn stop_build(&self, buildid: i64, reason: &str) -> Result<()> {
        self.call(
            &format!("builds/{buildid}"),
            "stop",
            serde_json::json!({ "reason": reason }),
        )
        .await?;
        Ok(())
    }

    /// Rebuilds a build (JSON-RPC `rebuild`): the same sources and properties, a new request.
    pub async fn rebuild(&self, buildid: i64) -> Result<Vec<i64>> {
        let result = self
            .call(
                &format!("builds/{buildid}"),
                "rebuild",
                serde_json::json!({}),
            )
            .await?;
        Ok(request_ids(&result))
    }
}

pub(super) fn describe_fields(fields: &std::collections::BTreeMap<String, String>) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The build request ids in a force or rebuild result: `[bsid, {"<builderid>": brid, ...}]`.
fn request_ids(result: &serde_json::Value) -> Vec<i64> {
    result[1]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, brid)| brid.as_i64())
        .collect()
}
