//! WATCH: optimistic locking for MULTI/EXEC. A connection's watch is one
//! [`Watch`] flag; each watched key is registered, by weak reference, on
//! the core that owns it, and any change to the key there (a write that
//! applied, or FLUSHALL while it exists) sets the flag. A key with a TTL
//! also counts as changed once the TTL passes, as Redis 7's
//! `isWatchedKeyExpired`: EXEC checks the deadlines it was told at WATCH
//! time. EXEC then answers a null array instead of running, checking the
//! flag while every core the transaction touches is held (`multi`).
//!
//! A core pays for WATCH only while some key of it is watched: one
//! `is_empty` check per write otherwise.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// One connection's watch, from WATCH until EXEC, DISCARD or UNWATCH.
#[derive(Debug, Default)]
pub struct Watch {
    dirty: AtomicBool,
}

impl Watch {
    /// Whether a watched key changed.
    pub fn dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    fn touch(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}

/// The watched keys of one core, and who watches each.
#[derive(Debug, Default)]
pub struct Registry {
    keys: HashMap<Box<[u8]>, Vec<Weak<Watch>>>,
}

impl Registry {
    /// Whether no key of this core is watched.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Register `watch` on `key`, dropping registrations whose connection
    /// has let go of its watch.
    pub fn add(&mut self, key: &[u8], watch: &Arc<Watch>) {
        let list = self.keys.entry(Box::from(key)).or_default();
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(watch));
    }

    /// `key` changed: every live watch of it becomes dirty (and need not
    /// be told again).
    pub fn touch(&mut self, key: &[u8]) {
        if let Some(list) = self.keys.remove(key) {
            list.iter()
                .filter_map(Weak::upgrade)
                .for_each(|w| w.touch());
        }
    }

    /// Keys of this core that are watched (for FLUSHALL, which changes
    /// those that exist).
    pub fn keys(&self) -> Vec<Box<[u8]>> {
        self.keys.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touch_dirties_live_watches_once() {
        let mut r = Registry::default();
        let (a, b) = (Arc::new(Watch::default()), Arc::new(Watch::default()));
        r.add(b"k", &a);
        r.add(b"k", &b);
        r.add(b"other", &b);
        r.touch(b"nope");
        assert!(!a.dirty() && !b.dirty());
        r.touch(b"k");
        assert!(a.dirty() && b.dirty());
        assert!(!r.keys.contains_key(&b"k"[..]) && r.keys.contains_key(&b"other"[..]));
        // A connection that let go of its watch leaves nothing behind.
        drop(b);
        let c = Arc::new(Watch::default());
        r.add(b"other", &c);
        assert_eq!(r.keys.get(&b"other"[..]).map(Vec::len), Some(1));
    }
}
