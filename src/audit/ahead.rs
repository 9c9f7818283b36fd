//! The coalescer's record of serials seen above a gap in the serial sequence of a node.

use std::collections::VecDeque;

/// Serials seen above a gap, ascending, without duplicates, as runs of consecutive ones
/// (inclusive ranges, apart by at least one missing serial). They nearly always arrive in
/// order, so a new one nearly always extends the last run (a tree paid a search per
/// record, a deque of single serials a push and a pop per serial).
#[derive(Default)]
pub(super) struct Ahead {
    runs: VecDeque<(u64, u64)>,
    /// Serials in `runs`.
    len: usize,
}

impl Ahead {
    pub(super) fn insert(&mut self, s: u64) {
        match self.runs.back_mut() {
            None => self.runs.push_back((s, s)),
            Some((_, e)) if e.checked_add(1) == Some(s) => *e = s,
            Some(&mut (_, e)) if e < s => self.runs.push_back((s, s)),
            Some(&mut (b, _)) if b <= s => return, // in the last run already
            Some(_) => {
                // Out of order: the first run that does not end below `s`.
                let i = self.runs.partition_point(|&(_, e)| e < s);
                let (b, _) = self.runs[i];
                if b <= s {
                    return;
                }
                let joins_prev = i > 0 && self.runs[i - 1].1 + 1 == s;
                let joins_next = s + 1 == b;
                match (joins_prev, joins_next) {
                    (true, true) => {
                        self.runs[i - 1].1 = self.runs[i].1;
                        self.runs.remove(i);
                    }
                    (true, false) => self.runs[i - 1].1 = s,
                    (false, true) => self.runs[i].0 = s,
                    (false, false) => self.runs.insert(i, (s, s)),
                }
            }
        }
        self.len += 1;
    }
    /// The first serial.
    pub(super) fn first(&self) -> Option<u64> {
        self.runs.front().map(|r| r.0)
    }
    /// Takes out the first run: its first and last serial.
    pub(super) fn pop_run(&mut self) -> Option<(u64, u64)> {
        let r = self.runs.pop_front()?;
        self.len -= (r.1 - r.0) as usize + 1;
        Some(r)
    }
    pub(super) fn len(&self) -> usize {
        self.len
    }
    pub(super) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
    pub(super) fn clear(&mut self) {
        self.runs.clear();
        self.len = 0;
    }
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.runs.iter().flat_map(|&(b, e)| b..=e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ahead_is_a_sorted_set() {
        let mut a = Ahead::default();
        let mut model = std::collections::BTreeSet::new();
        // In order with repeats (the usual shape), then out of order.
        let input = [5u64, 5, 6, 9, 9, 12, 7, 7, 3, 12, 10, 1, 20, 15];
        for s in input {
            a.insert(s);
            model.insert(s);
            assert_eq!(
                a.iter().collect::<Vec<_>>(),
                model.iter().copied().collect::<Vec<_>>()
            );
            assert_eq!(a.len(), model.len());
        }
        while let Some((b, e)) = a.pop_run() {
            for x in b..=e {
                assert_eq!(Some(x), model.pop_first());
            }
        }
        assert!(model.is_empty());
    }
}
