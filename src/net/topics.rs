//! Topic subscriptions of one event-loop thread.

use std::collections::HashMap;
use std::sync::Arc;

use super::handler::ConnId;

/// For each topic, the connections of this thread subscribed to it.
#[derive(Debug, Default)]
pub struct Topics {
    map: HashMap<Arc<str>, Vec<ConnId>>,
}

impl Topics {
    /// Adds `id` to `topic`; returns the shared topic name.
    pub fn subscribe(&mut self, topic: &str, id: ConnId) -> Arc<str> {
        if let Some(subs) = self.map.get_mut(topic) {
            subs.push(id);
            let (name, _) = self.map.get_key_value(topic).expect("just found");
            return name.clone();
        }
        let name: Arc<str> = Arc::from(topic);
        self.map.insert(name.clone(), vec![id]);
        name
    }

    /// Removes `id` from `topic`, dropping the topic when it empties.
    pub fn unsubscribe(&mut self, topic: &str, id: ConnId) {
        if let Some(subs) = self.map.get_mut(topic) {
            subs.retain(|s| *s != id);
            if subs.is_empty() {
                self.map.remove(topic);
            }
        }
    }

    /// The subscribers of `topic` on this thread.
    pub fn subscribers(&self, topic: &str) -> &[ConnId] {
        self.map.get(topic).map_or(&[], Vec::as_slice)
    }
}
