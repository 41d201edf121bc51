//! The proxy core's deadline index: the next deadline of every live transaction (RFC 3261 §17
//! timers of both sides, plus the proxy's own final-response guard, §16.8) in one ordered set, so
//! [`super::Proxy::poll_timeout`] reads the earliest in O(1) and
//! [`super::Proxy::handle_timeout`] fires the due ones in deadline order in O(log n) each, instead
//! of scanning every transaction after every message.
//!
//! Each transaction has at most one entry: its earliest deadline. Whoever changes a transaction
//! calls [`Deadlines::set`] with the transaction's new earliest deadline (or `None` once it is
//! gone); the old entry is removed exactly, so the set never holds stale entries and a driver
//! never wakes for nothing.

use std::{
    collections::{BTreeSet, HashMap},
    time::Instant,
};

/// A transaction of the proxy core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum TxKey {
    /// A server transaction (towards the client), by its request id.
    Server(u64),
    /// A client transaction (one branch towards a backend), by its branch number.
    Client(u64),
}

/// The ordered set of `(deadline, transaction)` and each transaction's current entry.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    ordered: BTreeSet<(Instant, TxKey)>,
    current: HashMap<TxKey, Instant>,
}

impl Deadlines {
    /// Sets the earliest deadline of `key` (`None`: no timer running, or the transaction ended).
    pub(crate) fn set(&mut self, key: TxKey, at: Option<Instant>) {
        let old = match at {
            Some(at) => self.current.insert(key, at),
            None => self.current.remove(&key),
        };
        if old == at {
            return;
        }
        if let Some(old) = old {
            self.ordered.remove(&(old, key));
        }
        if let Some(at) = at {
            self.ordered.insert((at, key));
        }
    }

    /// The earliest deadline of all.
    pub(crate) fn first(&self) -> Option<Instant> {
        self.ordered.first().map(|(at, _)| *at)
    }

    /// Removes and returns the transaction with the earliest deadline if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, TxKey)> {
        let (at, key) = *self.ordered.first()?;
        if at > now {
            return None;
        }
        self.ordered.pop_first();
        self.current.remove(&key);
        Some((at, key))
    }

    /// Number of transactions with a deadline.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        debug_assert_eq!(self.ordered.len(), self.current.len());
        self.current.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn pops_due_entries_in_deadline_order_and_moves_rescheduled_ones() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = Deadlines::default();
        d.set(TxKey::Server(1), Some(t0 + ms(30)));
        d.set(TxKey::Client(1), Some(t0 + ms(10)));
        d.set(TxKey::Server(2), Some(t0 + ms(20)));
        d.set(TxKey::Server(3), Some(t0 + ms(5)));
        assert_eq!(d.first(), Some(t0 + ms(5)));
        // Rescheduling replaces the entry; clearing removes it.
        d.set(TxKey::Server(3), Some(t0 + ms(40)));
        d.set(TxKey::Server(2), None);
        d.set(TxKey::Server(2), None);
        assert_eq!(d.len(), 3);
        assert_eq!(d.first(), Some(t0 + ms(10)));
        assert_eq!(d.pop_due(t0 + ms(9)), None, "nothing due yet");
        let order: Vec<TxKey> = std::iter::from_fn(|| d.pop_due(t0 + ms(100)))
            .map(|(_, k)| k)
            .collect();
        assert_eq!(
            order,
            [TxKey::Client(1), TxKey::Server(1), TxKey::Server(3)]
        );
        assert_eq!(d.len(), 0);
        assert_eq!(d.first(), None);
    }

    #[test]
    fn equal_deadlines_keep_one_entry_per_transaction() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        for k in 0..100 {
            d.set(TxKey::Client(k), Some(t0));
            d.set(TxKey::Client(k), Some(t0));
        }
        assert_eq!(d.len(), 100);
        assert_eq!(std::iter::from_fn(|| d.pop_due(t0)).count(), 100);
    }
}
