//! Topic subscriptions of one event-loop thread.
//!
//! Subscribe and unsubscribe are O(1): each topic keeps its subscribers in a
//! vector (what a publish walks) and each subscriber's position in it, so a
//! disconnect removes an id by `swap_remove` instead of a scan. A mass
//! disconnect of n subscribers costs O(n), not O(n^2).

use std::collections::HashMap;
use std::sync::Arc;

use super::handler::ConnId;

/// The subscribers of one topic.
#[derive(Debug, Default)]
struct Subscribers {
    ids: Vec<ConnId>,
    /// Where each id sits in `ids`.
    position: HashMap<ConnId, usize>,
}

/// For each topic, the connections of this thread subscribed to it.
#[derive(Debug, Default)]
pub struct Topics {
    map: HashMap<Arc<str>, Subscribers>,
}

impl Topics {
    /// Adds `id` to `topic` (once, however often it is called); returns the
    /// shared topic name.
    pub fn subscribe(&mut self, topic: &str, id: ConnId) -> Arc<str> {
        let name = match self.map.get_key_value(topic) {
            Some((name, _)) => name.clone(),
            None => {
                let name: Arc<str> = Arc::from(topic);
                self.map.insert(name.clone(), Subscribers::default());
                name
            }
        };
        let subs = self.map.get_mut(topic).expect("just inserted");
        subs.position.entry(id).or_insert_with(|| {
            subs.ids.push(id);
            subs.ids.len() - 1
        });
        name
    }

    /// Removes `id` from `topic`, dropping the topic when it empties.
    pub fn unsubscribe(&mut self, topic: &str, id: ConnId) {
        let Some(subs) = self.map.get_mut(topic) else {
            return;
        };
        let Some(at) = subs.position.remove(&id) else {
            return;
        };
        subs.ids.swap_remove(at);
        if let Some(&moved) = subs.ids.get(at) {
            subs.position.insert(moved, at);
        }
        if subs.ids.is_empty() {
            self.map.remove(topic);
        }
    }

    /// The subscribers of `topic` on this thread (in no particular order).
    pub fn subscribers(&self, topic: &str) -> &[ConnId] {
        self.map.get(topic).map_or(&[], |s| s.ids.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn subscribe_is_idempotent_and_unsubscribe_keeps_the_rest() {
        let mut t = Topics::default();
        for i in 0..5 {
            t.subscribe("a", ConnId(i));
        }
        t.subscribe("a", ConnId(2));
        assert_eq!(t.subscribers("a").len(), 5);
        t.unsubscribe("a", ConnId(0));
        t.unsubscribe("a", ConnId(3));
        t.unsubscribe("a", ConnId(9));
        let mut left: Vec<u64> = t.subscribers("a").iter().map(|c| c.0).collect();
        left.sort_unstable();
        assert_eq!(left, [1, 2, 4]);
        for i in [1, 2, 4] {
            t.unsubscribe("a", ConnId(i));
        }
        assert!(t.subscribers("a").is_empty());
        assert!(t.map.is_empty(), "an empty topic is dropped");
    }

    /// 100k subscribers of one topic leave in the order they joined (the
    /// worst order for a scan from the front): linear removal did 5e9
    /// comparisons; this must take well under a second even in a debug build.
    #[test]
    fn mass_disconnect_of_100k_subscribers_is_linear() {
        const N: u64 = 100_000;
        let mut t = Topics::default();
        for i in 0..N {
            t.subscribe("feed", ConnId(i));
        }
        let start = Instant::now();
        for i in 0..N {
            t.unsubscribe("feed", ConnId(i));
        }
        let took = start.elapsed();
        assert!(t.subscribers("feed").is_empty());
        assert!(
            took < Duration::from_secs(2),
            "100k unsubscribes took {took:?}"
        );
    }
}

/// The topics one connection is subscribed to: most connections have none,
/// so the list costs one pointer until the first subscription.
#[derive(Debug, Default)]
// Boxed on purpose: one word in every connection's slot instead of three.
#[allow(clippy::box_collection)]
pub(crate) struct SubscriptionList(Option<Box<Vec<Arc<str>>>>);

impl SubscriptionList {
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, Arc<str>> {
        self.0.as_deref().map_or(&[][..], |v| &v[..]).iter()
    }

    pub(crate) fn push(&mut self, topic: Arc<str>) {
        self.0.get_or_insert_with(Box::default).push(topic);
    }

    /// Takes `topic` out of the list, if it is there.
    pub(crate) fn remove(&mut self, topic: &str) -> Option<Arc<str>> {
        let list = self.0.as_mut()?;
        let i = list.iter().position(|t| &**t == topic)?;
        let topic = list.swap_remove(i);
        if list.is_empty() {
            self.0 = None;
        }
        Some(topic)
    }
}
