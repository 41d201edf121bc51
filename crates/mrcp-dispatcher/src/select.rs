//! Destination selection: round robin, smooth weighted round robin, hash over Call-ID (sticky:
//! the same Call-ID maps to the same destination while the set is unchanged, so a retried INVITE
//! lands where the first one did) and least-loaded (from the `X-Load` each server reports on its
//! OPTIONS replies). Priorities: only the lowest priority value that still has a destination in
//! rotation is used. Pure logic, no I/O and no clock.

use crate::destination::{DestId, Destination};

/// How to choose among destinations in rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Each in turn.
    #[default]
    RoundRobin,
    /// In proportion to `weight` (smooth weighted round robin: picks interleave).
    Weighted,
    /// Hash of Call-ID: retries of one call go to the same destination.
    Hash,
    /// The lowest reported load (`X-Load` on OPTIONS replies), then round robin among equals.
    LeastLoaded,
}

/// The selection state of a destination set.
#[derive(Debug, Clone)]
pub struct Selector {
    algorithm: Algorithm,
    weights: Vec<u32>,
    priorities: Vec<u32>,
    /// Smooth weighted round robin: current weight of each destination.
    current: Vec<i64>,
    /// Reported load of each destination (`None`: unknown, counted as 0).
    load: Vec<Option<f64>>,
    next: usize,
}

impl Selector {
    /// A selector over `dests` (same order as the [`DestId`]s).
    pub fn new(algorithm: Algorithm, dests: &[Destination]) -> Self {
        Self {
            algorithm,
            weights: dests.iter().map(|d| d.weight.max(1)).collect(),
            priorities: dests.iter().map(|d| d.priority).collect(),
            current: vec![0; dests.len()],
            load: vec![None; dests.len()],
            next: 0,
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Records the load a destination reported.
    pub fn set_load(&mut self, dest: DestId, load: Option<f64>) {
        if let Some(slot) = self.load.get_mut(dest.0) {
            *slot = load;
        }
    }

    /// Picks a destination for `call_id` among those for which `eligible` is true and that are
    /// not in `tried` (the earlier attempts of this request, for failover).
    pub fn select(
        &mut self,
        call_id: &str,
        tried: &[DestId],
        eligible: impl Fn(DestId) -> bool,
    ) -> Option<DestId> {
        let n = self.weights.len();
        let usable = |i: usize| !tried.contains(&DestId(i)) && eligible(DestId(i));
        let best_priority = (0..n)
            .filter(|i| usable(*i))
            .filter_map(|i| self.priorities.get(i).copied())
            .min()?;
        let candidates: Vec<usize> = (0..n)
            .filter(|i| usable(*i) && self.priorities.get(*i) == Some(&best_priority))
            .collect();
        let pick = match self.algorithm {
            Algorithm::RoundRobin => self.round_robin(&candidates, n),
            Algorithm::Weighted => self.weighted(&candidates),
            Algorithm::Hash => {
                // Hash over the whole set, then walk forward to the first candidate: a call
                // keeps its destination while that destination stays in rotation.
                let start = (fnv1a(call_id.as_bytes()) % n.max(1) as u64) as usize;
                (0..n)
                    .map(|k| (start + k) % n)
                    .find(|i| candidates.contains(i))
            }
            Algorithm::LeastLoaded => {
                let min = candidates
                    .iter()
                    .map(|i| self.load_of(*i))
                    .fold(f64::INFINITY, f64::min);
                let least: Vec<usize> = candidates
                    .iter()
                    .copied()
                    .filter(|i| self.load_of(*i) <= min)
                    .collect();
                self.round_robin(&least, n)
            }
        };
        pick.map(DestId)
    }

    fn load_of(&self, i: usize) -> f64 {
        self.load.get(i).copied().flatten().unwrap_or(0.0)
    }

    fn round_robin(&mut self, candidates: &[usize], n: usize) -> Option<usize> {
        let start = self.next;
        let pick = (0..n)
            .map(|k| (start + k) % n)
            .find(|i| candidates.contains(i))?;
        self.next = (pick + 1) % n;
        Some(pick)
    }

    /// Smooth weighted round robin (as in nginx): every candidate gains its weight, the largest
    /// is picked and loses the total.
    fn weighted(&mut self, candidates: &[usize]) -> Option<usize> {
        let total: i64 = candidates
            .iter()
            .map(|i| i64::from(self.weights.get(*i).copied().unwrap_or(1)))
            .sum();
        let mut best: Option<usize> = None;
        for &i in candidates {
            let w = i64::from(self.weights.get(i).copied().unwrap_or(1));
            if let Some(c) = self.current.get_mut(i) {
                *c += w;
            }
            let better = match best {
                None => true,
                Some(b) => self.current.get(i) > self.current.get(b),
            };
            if better {
                best = Some(i);
            }
        }
        if let Some(c) = best.and_then(|b| self.current.get_mut(b)) {
            *c -= total;
        }
        best
    }
}

/// FNV-1a, 64 bit: a stable hash (std's `DefaultHasher` may change between releases, and
/// stickiness should survive an upgrade of the dispatcher).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dests(spec: &[(u32, u32)]) -> Vec<Destination> {
        spec.iter()
            .enumerate()
            .map(|(i, (weight, priority))| {
                let mut d = Destination::parse(&format!("sip:127.0.0.1:{}", 5080 + i)).unwrap();
                d.weight = *weight;
                d.priority = *priority;
                d
            })
            .collect()
    }

    fn picks(sel: &mut Selector, n: usize, up: &[bool]) -> Vec<usize> {
        (0..n)
            .map(|k| {
                sel.select(&format!("call-{k}"), &[], |d| up[d.0])
                    .unwrap()
                    .0
            })
            .collect()
    }

    #[test]
    fn round_robin_skips_destinations_out_of_rotation() {
        let mut sel = Selector::new(Algorithm::RoundRobin, &dests(&[(1, 0), (1, 0), (1, 0)]));
        assert_eq!(picks(&mut sel, 6, &[true; 3]), [0, 1, 2, 0, 1, 2]);
        assert_eq!(picks(&mut sel, 4, &[true, false, true]), [0, 2, 0, 2]);
        assert_eq!(sel.select("x", &[], |_| false), None);
    }

    #[test]
    fn weighted_follows_weights_and_interleaves() {
        let mut sel = Selector::new(Algorithm::Weighted, &dests(&[(3, 0), (1, 0)]));
        let p = picks(&mut sel, 8, &[true; 2]);
        assert_eq!(p.iter().filter(|i| **i == 0).count(), 6);
        assert_eq!(p[..4], [0, 0, 1, 0]);
    }

    #[test]
    fn hash_is_sticky_and_moves_only_when_its_destination_leaves() {
        let mut sel = Selector::new(Algorithm::Hash, &dests(&[(1, 0), (1, 0), (1, 0)]));
        let first: Vec<usize> = (0..50)
            .map(|k| sel.select(&format!("c{k}"), &[], |_| true).unwrap().0)
            .collect();
        let again: Vec<usize> = (0..50)
            .map(|k| sel.select(&format!("c{k}"), &[], |_| true).unwrap().0)
            .collect();
        assert_eq!(first, again, "same Call-ID, same destination");
        assert!((0..3).all(|d| first.contains(&d)), "spread over all");
        for (k, d) in first.iter().enumerate() {
            let moved = sel.select(&format!("c{k}"), &[], |x| x.0 != 1).unwrap().0;
            if *d != 1 {
                assert_eq!(moved, *d, "calls not on the removed destination stay");
            } else {
                assert_ne!(moved, 1);
            }
        }
    }

    #[test]
    fn least_loaded_prefers_lowest_report_then_round_robin() {
        let mut sel = Selector::new(Algorithm::LeastLoaded, &dests(&[(1, 0), (1, 0), (1, 0)]));
        assert_eq!(
            picks(&mut sel, 3, &[true; 3]),
            [0, 1, 2],
            "no reports: equal"
        );
        sel.set_load(DestId(0), Some(5.0));
        sel.set_load(DestId(1), Some(1.0));
        sel.set_load(DestId(2), Some(3.0));
        assert_eq!(picks(&mut sel, 3, &[true; 3]), [1, 1, 1]);
        assert_eq!(picks(&mut sel, 2, &[true, false, true]), [2, 2]);
    }

    #[test]
    fn failover_excludes_tried_and_priority_groups_spill_over() {
        let mut sel = Selector::new(Algorithm::RoundRobin, &dests(&[(1, 0), (1, 0), (1, 1)]));
        let a = sel.select("c", &[], |_| true).unwrap();
        let b = sel.select("c", &[a], |_| true).unwrap();
        assert_ne!(a, b);
        assert!(b.0 < 2, "priority 0 first");
        assert_eq!(sel.select("c", &[a, b], |_| true), Some(DestId(2)));
        assert_eq!(sel.select("c", &[a, b, DestId(2)], |_| true), None);
        assert_eq!(
            picks(&mut sel, 2, &[false, false, true]),
            [2, 2],
            "backup group when the first is down"
        );
    }
}
