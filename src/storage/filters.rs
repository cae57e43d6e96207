//! Which builds each chat hears about: its filter terms (`builder:linux-*`, `tag:nightly`,
//! `branch:main`). A chat without any hears about every build, as before filters existed.

use std::collections::BTreeMap;

use super::sql::params;
use super::{Chat, StorageError, Store};
use crate::filter::{Filter, Term};

impl Store {
    /// Terms this version cannot read (a row written by another version) are skipped.
    pub async fn filter(&self, chat: &Chat) -> Result<Filter, StorageError> {
        let key = chat.key();
        self.with(move |conn| {
            let rows = conn.query("SELECT term FROM filters WHERE chat = ?1", params![key])?;
            Ok(Filter::new(
                rows.iter().filter_map(|row| row.text(0).ok()?.parse().ok()),
            ))
        })
        .await
    }

    /// Adds `add` to a chat's terms and takes `remove` away; returns what it has afterwards.
    pub async fn update_filter(
        &self,
        chat: &Chat,
        add: &[Term],
        remove: &[Term],
    ) -> Result<Filter, StorageError> {
        let key = chat.key();
        let add: Vec<String> = add.iter().map(Term::to_string).collect();
        let remove: Vec<String> = remove.iter().map(Term::to_string).collect();
        self.with(move |conn| {
            conn.transaction(|tx| {
                // terms match without regard to ASCII case, and so are removed and not doubled
                for term in remove {
                    tx.execute(
                        "DELETE FROM filters WHERE chat = ?1 AND lower(term) = lower(?2)",
                        params![&key, term],
                    )?;
                }
                for term in add {
                    tx.execute(
                        "INSERT INTO filters (chat, term) SELECT ?1, ?2 WHERE NOT EXISTS
                         (SELECT 1 FROM filters WHERE chat = ?1 AND lower(term) = lower(?2))",
                        params![&key, term],
                    )?;
                }
                Ok(())
            })
        })
        .await?;
        self.filter(chat).await
    }

    /// Every chat that has terms, with them.
    pub async fn filters(&self) -> Result<BTreeMap<Chat, Filter>, StorageError> {
        self.with(|conn| {
            let rows = conn.query("SELECT chat, term FROM filters", &[])?;
            let mut terms: BTreeMap<Chat, Vec<Term>> = BTreeMap::new();
            for row in rows {
                let (chat, term) = (row.text(0)?, row.text(1)?);
                if let Ok(term) = term.parse() {
                    terms.entry(Chat::from_key(&chat)).or_default().push(term);
                }
            }
            Ok(terms
                .into_iter()
                .map(|(chat, terms)| (chat, Filter::new(terms)))
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::temp_store;
    use super::*;

    fn term(word: &str) -> Term {
        word.parse().unwrap()
    }

    #[tokio::test]
    async fn terms_are_added_removed_and_kept_per_chat() {
        let (_dir, store) = temp_store();
        let (group, alice) = (Chat::Id(-5), Chat::Id(7));
        let added = [term("builder:linux-*"), term("branch:main")];
        let filter = store.update_filter(&group, &added, &[]).await.unwrap();
        assert_eq!(filter, Filter::new(added.clone()));
        store
            .update_filter(&alice, &[term("tag:docs")], &[])
            .await
            .unwrap();
        let again = [term("Builder:LINUX-*")];
        let filter = store.update_filter(&group, &again, &[]).await.unwrap();
        assert_eq!(filter.terms().count(), 2, "the same term, another case");
        let filter = store
            .update_filter(&group, &[], &[term("branch:MAIN"), term("tag:none")])
            .await
            .unwrap();
        assert_eq!(filter, Filter::new([term("builder:linux-*")]));
        let all = store.filters().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[&alice], Filter::new([term("tag:docs")]));
        assert!(store.filter(&Chat::Id(1)).await.unwrap().is_empty());

        store.move_chat(&group, &Chat::Id(-1005)).await.unwrap();
        assert!(store.filter(&group).await.unwrap().is_empty());
        assert_eq!(
            store.filter(&Chat::Id(-1005)).await.unwrap(),
            Filter::new([term("builder:linux-*")])
        );
        store.remove_chat(&alice).await.unwrap();
        assert!(!store.filters().await.unwrap().contains_key(&alice));
    }
}
