//! The master's inventory: its configuration, builders, workers and newest changes.

use super::models::{Builder, Change, MasterConfig, Worker};
use super::{Client, Result, decode};

impl Client {
    pub async fn master_config(&self) -> Result<MasterConfig> {
        let url = self.url("config")?;
        let body = self.get_json(&url).await?;
        decode(&url, body)
    }

    pub async fn builders(&self) -> Result<Vec<Builder>> {
        self.collection("builders", &[], "builders").await
    }

    pub async fn workers(&self) -> Result<Vec<Worker>> {
        self.collection("workers", &[], "workers").await
    }

    /// The `limit` newest changes, newest first.
    pub async fn recent_changes(&self, limit: usize) -> Result<Vec<Change>> {
        let limit = limit.to_string();
        let mut changes: Vec<Change> = self
            .collection(
                "changes",
                &[("order", "-changeid"), ("limit", &limit)],
                "changes",
            )
            .await?;
        // Buildbot 4 picks the newest `limit` changes but returns them oldest first; sort here
        // rather than depend on either order.
        changes.sort_by_key(|c| std::cmp::Reverse(c.changeid));
        Ok(changes)
    }
}
