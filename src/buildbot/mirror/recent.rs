//! A map that keeps only its newest entries, by when they were put in: what the mirror keeps
//! of ended builds and of build notes. Insertion order, not id order: a build that ran for
//! ten hours is as new as the short ones that ended with it.

use std::collections::{HashMap, VecDeque};

/// At most `N` entries.
#[derive(Debug, Clone)]
pub(super) struct Recent<V, const N: usize> {
    /// Each value with the number of its insertion.
    values: HashMap<i64, (u64, V)>,
    /// Insertions, oldest first; one whose key was removed or put in again since is stale.
    order: VecDeque<(i64, u64)>,
    inserted: u64,
}

impl<V, const N: usize> Default for Recent<V, N> {
    fn default() -> Self {
        Recent {
            values: HashMap::new(),
            order: VecDeque::new(),
            inserted: 0,
        }
    }
}

impl<V, const N: usize> Recent<V, N> {
    pub(super) fn get(&self, key: &i64) -> Option<&V> {
        self.values.get(key).map(|(_, v)| v)
    }

    pub(super) fn get_mut(&mut self, key: &i64) -> Option<&mut V> {
        self.values.get_mut(key).map(|(_, v)| v)
    }

    pub(super) fn contains_key(&self, key: &i64) -> bool {
        self.values.contains_key(key)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// Puts `value` in as the newest; the oldest go beyond the capacity.
    pub(super) fn insert(&mut self, key: i64, value: V) {
        self.inserted += 1;
        self.values.insert(key, (self.inserted, value));
        self.order.push_back((key, self.inserted));
        while self.values.len() > N {
            let Some((oldest, at)) = self.order.pop_front() else {
                break;
            };
            if self.values.get(&oldest).is_some_and(|(n, _)| *n == at) {
                self.values.remove(&oldest);
            }
        }
        // stale insertions are dropped once they outnumber the kept ones
        if self.order.len() > 2 * N.max(1) {
            let values = &self.values;
            self.order
                .retain(|(key, at)| values.get(key).is_some_and(|(n, _)| n == at));
        }
    }

    pub(super) fn remove(&mut self, key: &i64) -> Option<V> {
        self.values.remove(key).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_put_in_go_first_whatever_their_keys() {
        let mut recent = Recent::<i64, 3>::default();
        for key in [50, 10, 20, 30] {
            recent.insert(key, key * 2);
        }
        assert!(!recent.contains_key(&50), "put in first");
        assert_eq!(recent.get(&10), Some(&20));
        recent.insert(10, 1);
        recent.insert(5, 0);
        assert!(!recent.contains_key(&20), "10 was put in again after 20");
        assert_eq!(recent.get(&10), Some(&1));
        assert_eq!(recent.len(), 3);
    }

    #[test]
    fn removed_keys_do_not_pile_up_nor_take_a_new_entry_with_them() {
        let mut recent = Recent::<(), 2>::default();
        for key in 0..1000 {
            recent.insert(key, ());
            recent.remove(&key);
        }
        assert_eq!(recent.len(), 0);
        assert!(recent.order.len() <= 5);
        recent.insert(7, ());
        recent.remove(&7);
        recent.insert(8, ());
        recent.insert(7, ());
        recent.insert(9, ());
        assert!(
            recent.contains_key(&7) && recent.contains_key(&9),
            "{recent:?}"
        );
    }
}
