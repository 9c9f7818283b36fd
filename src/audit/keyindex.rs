//! The coalescer's index of pending events: key (node id, serial) -> slot number.
//!
//! A chained hash table whose links are kept per slot (slots are small dense numbers), with
//! one multiply as hash: a lookup is a few loads and compares. A general-purpose map cost
//! several times that, and the reader looks keys up three to four times per event.

/// No slot: the end of a chain.
const NONE: u32 = u32::MAX;

pub(super) struct KeyIndex {
    /// Per bucket, the first slot of its chain.
    heads: Vec<u32>,
    /// Per slot, its key and the next slot of its chain (meaningful while it is in).
    keys: Vec<(u32, u64)>,
    next: Vec<u32>,
    len: usize,
    /// log2 of the bucket count.
    bits: u32,
}

impl Default for KeyIndex {
    fn default() -> Self {
        KeyIndex::with_bits(8)
    }
}

impl KeyIndex {
    fn with_bits(bits: u32) -> Self {
        KeyIndex {
            heads: vec![NONE; 1 << bits],
            keys: Vec::new(),
            next: Vec::new(),
            len: 0,
            bits,
        }
    }

    /// Keys are small integers that need no DoS-resistant hashing; the multiply spreads
    /// serials that share their low bits.
    #[inline]
    fn bucket(&self, key: (u32, u64)) -> usize {
        let x = (key.1 ^ (key.0 as u64).rotate_left(40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (x >> (64 - self.bits)) as usize
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot of `key`.
    #[inline]
    pub fn get(&self, key: (u32, u64)) -> Option<u32> {
        let mut i = self.heads[self.bucket(key)];
        while i != NONE {
            if self.keys[i as usize] == key {
                return Some(i);
            }
            i = self.next[i as usize];
        }
        None
    }

    /// Adds `key` at `slot`; `key` must not be in yet.
    #[inline]
    pub fn insert(&mut self, key: (u32, u64), slot: u32) {
        debug_assert!(self.get(key).is_none());
        if self.len >= self.heads.len() {
            self.grow();
        }
        let s = slot as usize;
        if s >= self.keys.len() {
            self.keys.resize(s + 1, (0, 0));
            self.next.resize(s + 1, NONE);
        }
        let b = self.bucket(key);
        self.keys[s] = key;
        self.next[s] = self.heads[b];
        self.heads[b] = slot;
        self.len += 1;
    }

    /// Takes `key` out: its slot.
    #[inline(always)]
    pub fn remove(&mut self, key: (u32, u64)) -> Option<u32> {
        let b = self.bucket(key);
        let mut i = self.heads[b];
        let mut prev = NONE;
        while i != NONE {
            let next = self.next[i as usize];
            if self.keys[i as usize] == key {
                match prev {
                    NONE => self.heads[b] = next,
                    p => self.next[p as usize] = next,
                }
                self.len -= 1;
                return Some(i);
            }
            prev = i;
            i = next;
        }
        None
    }

    /// Every key in, in no particular order, with its slot.
    pub fn iter(&self) -> impl Iterator<Item = ((u32, u64), u32)> + '_ {
        self.heads.iter().flat_map(move |&h| {
            std::iter::successors((h != NONE).then_some(h), move |&i| {
                let n = self.next[i as usize];
                (n != NONE).then_some(n)
            })
            .map(move |i| (self.keys[i as usize], i))
        })
    }

    /// Twice the buckets: chains stay about one slot long.
    fn grow(&mut self) {
        let entries: Vec<_> = self.iter().collect();
        let mut bigger = KeyIndex::with_bits(self.bits + 1);
        bigger.keys = std::mem::take(&mut self.keys);
        bigger.next = std::mem::take(&mut self.next);
        for (key, slot) in entries {
            let b = bigger.bucket(key);
            bigger.next[slot as usize] = bigger.heads[b];
            bigger.heads[b] = slot;
            bigger.len += 1;
        }
        *self = bigger;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn behaves_as_a_map() {
        let mut ix = KeyIndex::default();
        let mut model: HashMap<(u32, u64), u32> = HashMap::new();
        let mut free: Vec<u32> = (0..3000).rev().collect();
        // A small deterministic generator: inserts, lookups and removals of keys that
        // collide on purpose (same serials on several nodes, serials a power of two apart).
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = ((x % 3) as u32, (x >> 8) % 1500 * 4096);
            match x % 4 {
                0 | 1 => {
                    if let std::collections::hash_map::Entry::Vacant(v) = model.entry(key) {
                        if let Some(s) = free.pop() {
                            ix.insert(key, s);
                            v.insert(s);
                        }
                    }
                }
                2 => {
                    let got = ix.remove(key);
                    assert_eq!(got, model.remove(&key));
                    if let Some(s) = got {
                        free.push(s);
                    }
                }
                _ => assert_eq!(ix.get(key), model.get(&key).copied()),
            }
            assert_eq!(ix.len(), model.len());
        }
        let mut all: Vec<_> = ix.iter().collect();
        all.sort();
        let mut want: Vec<_> = model.into_iter().collect();
        want.sort();
        assert_eq!(all, want);
    }
}
