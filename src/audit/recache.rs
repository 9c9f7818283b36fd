//! A bounded cache of rendered records for the JSON fast path.
//!
//! Real logs repeat whole records (a shell's PATH search, the same CWD, PROCTITLE and PATH
//! lines event after event). A record's `audit.records` JSON depends only on its type
//! number, its body and its enrichment (the part after 0x1d): the fields are split, the
//! context (arch, syscall, a0, a1) gathered and the values interpreted within the record
//! (`render_fast`; the shapes' predictions change how fast, never what). So a record whose
//! key is the same as one rendered recently gets the same JSON bytes, copied once.
//!
//! The summary still sees the record's fields (it depends on the event: first process
//! record, PATH position, `cwd`…): each entry keeps a replay list of the fields the miss
//! gave to `Sum::field` that it can use (`summary::matters`), as places in the body or in
//! the enrichment (on a hit those are the same bytes, so the places give slices of the
//! current log) or as copies for values that are not slices of the log.
//!
//! Bounds: `WAYS * SETS` entries (two-way by hash, the older one replaced), keys of at most
//! `KEY_MAX` bytes, an entry of at most `ENTRY_MAX` bytes, all entries together at most
//! `BUDGET` bytes (counted by capacity). When a record type's recent hit rate is low, it is
//! neither looked up nor inserted for a while (`Adapt`), so a log that never repeats pays
//! little.

use std::borrow::Cow;
use std::ops::Range;

use super::names::Name;

/// Entries: `SETS` sets of `WAYS`.
const SETS: usize = 1024;
const WAYS: usize = 2;
/// Largest key (body and enrichment) cached.
pub(super) const KEY_MAX: usize = 1536;
/// Largest entry cached: bytes (key, JSON, copies) and replayed fields.
const DATA_MAX: usize = 8192;
const REPS_MAX: usize = 256;
/// The rings the entries' bytes and replay lists are written to (the oldest overwritten).
const DATA_RING: usize = 2 << 20;
const REPS_RING: usize = 16 << 10;
/// Hashes kept to learn whether a type repeats before caching it.
const SHADOW: usize = 4096;

/// Where a replayed slice is: the record's body, its enrichment, or the entry's own bytes.
const IN_BODY: u8 = 0;
const IN_ENR: u8 = 1;
const IN_DATA: u8 = 2;

/// One `Sum::field` call of a cached record.
#[derive(Clone, Copy)]
struct Rep {
    id: Name,
    /// `IN_*` of name, raw and value.
    src: [u8; 3],
    /// The value is `F::value_at` (a slice of the log).
    value_at: bool,
    /// All three in the body (the common case, replayed first).
    in_body: bool,
    /// (start, end) of name, raw and value.
    spans: [(u32, u32); 3],
}

const REP0: Rep = Rep {
    id: Name::Other,
    src: [0; 3],
    value_at: false,
    in_body: false,
    spans: [(0, 0); 3],
};

/// A cached record; its bytes (key, JSON, copies) and replay list are in the rings.
#[derive(Clone, Copy, Default)]
struct Entry {
    /// 0: empty.
    hash: u64,
    rtype: u32,
    body_len: u32,
    /// `u32::MAX`: no enrichment.
    enr_len: u32,
    json_len: u32,
    data_len: u32,
    nreps: u32,
    data_at: u64,
    reps_at: u64,
}

impl Entry {
    fn key_len(&self) -> usize {
        self.body_len as usize
            + if self.enr_len == u32::MAX {
                0
            } else {
                self.enr_len as usize
            }
    }
}

/// A buffer of `cap` items written round and round (grown to `cap` as it is first filled);
/// a place is its absolute position (`written` when it was taken), and is intact while less
/// than a turn has been written after it.
struct Ring<T> {
    buf: Vec<T>,
    cap: usize,
    zero: T,
    written: u64,
}

impl<T: Copy> Ring<T> {
    fn new(cap: usize, zero: T) -> Self {
        assert!(cap.is_power_of_two());
        Ring {
            buf: Vec::new(),
            cap,
            zero,
            written: 0,
        }
    }

    /// Room for `n` items (at most `cap`) in one piece (the end of the buffer is skipped
    /// when too short).
    fn take(&mut self, n: usize) -> (u64, &mut [T]) {
        let cap = self.cap as u64;
        let off = self.written % cap;
        if off + n as u64 > cap {
            self.written += cap - off;
        }
        let at = self.written;
        self.written += n as u64;
        let o = (at % cap) as usize;
        if self.buf.len() < o + n {
            // Doubling, but never past `cap`.
            let want = (o + n).max(2 * self.buf.len()).min(self.cap);
            self.buf.reserve_exact(want - self.buf.len());
            // Filled at once (a fill per record cost more than the cache saved).
            self.buf.resize(want, self.zero);
        }
        (at, &mut self.buf[o..o + n])
    }

    fn intact(&self, at: u64) -> bool {
        self.written - at <= self.cap as u64
    }

    fn get(&self, at: u64, n: usize) -> &[T] {
        // `cap` is a power of two (`Ring::new`): no division.
        let o = at as usize & (self.cap - 1);
        &self.buf[o..o + n]
    }
}

/// A field given back by `Cache::replay`: the arguments of the miss's `Sum::field` call.
pub(super) enum Replayed<'a, 'c> {
    /// Name and raw value are slices of the log (`'a`); so is the value when `value_at`.
    Log {
        id: Name,
        name: &'a [u8],
        raw: &'a [u8],
        value: &'c [u8],
        value_at: Option<&'a [u8]>,
    },
    /// The summary copies what it keeps.
    Copy {
        id: Name,
        name: &'c [u8],
        raw: &'c [u8],
        value: &'c [u8],
    },
}

/// What a record finds in the cache.
pub(super) enum Probe {
    /// Not looked up (too long, or its type is not cached for now).
    Off,
    /// Not there: render it with a `Recorder` from `Cache::recorder`.
    Miss(u64),
    Hit(usize),
}

/// Collects a missed record's `Sum::field` calls for `Cache::insert`.
pub(super) struct Recorder {
    hash: u64,
    body: Range<usize>,
    enr: Range<usize>,
    reps: Vec<Rep>,
    /// Copies of the values that are not slices of the log.
    owned: Vec<u8>,
    /// Gave up (too large).
    spoilt: bool,
}

impl Recorder {
    /// Notes one `Sum::field` call (name, raw and value as it was given; `at`: the value
    /// was `F::value_at`).
    pub(super) fn push(&mut self, id: Name, name: &[u8], raw: &[u8], value: &[u8], at: bool) {
        if self.spoilt {
            return;
        }
        let mut src = [0; 3];
        let mut spans = [(0, 0); 3];
        for (i, s) in [name, raw, value].into_iter().enumerate() {
            (src[i], spans[i]) = self.place(s);
        }
        self.reps.push(Rep {
            id,
            src,
            value_at: at && src[2] != IN_DATA,
            in_body: src == [IN_BODY; 3],
            spans,
        });
        self.spoilt = self.owned.len() > DATA_MAX || self.reps.len() > REPS_MAX;
    }

    /// Where `s` is: in the body, the enrichment, or copied.
    fn place(&mut self, s: &[u8]) -> (u8, (u32, u32)) {
        let p = s.as_ptr() as usize;
        let within = |r: &Range<usize>| p >= r.start && p + s.len() <= r.end;
        let (src, at) = if within(&self.body) {
            (IN_BODY, p - self.body.start)
        } else if within(&self.enr) {
            (IN_ENR, p - self.enr.start)
        } else {
            let at = self.owned.len();
            self.owned.extend_from_slice(s);
            (IN_DATA, at)
        };
        (src, (at as u32, (at + s.len()) as u32))
    }
}

/// What the renderer's field loop records: a `Recorder`'s calls, or nothing (`()`). The
/// loop is generic over it, so that the loop that records nothing has no trace of it.
pub(super) trait Rec {
    /// `Sum::field` was called with this field of a record of type `rtype`.
    fn field(&mut self, rtype: u32, id: Name, name: &[u8], raw: &[u8], value: &[u8], at: bool);

    /// `Cow::Borrowed`, as a function of its own per implementation: `Sum::field` is
    /// instantiated once per loop (each instance has one caller, and is inlined).
    #[inline(always)]
    fn borrowed(s: &[u8]) -> Cow<'_, [u8]> {
        Cow::Borrowed(s)
    }
}

impl Rec for () {
    #[inline(always)]
    fn field(&mut self, _: u32, _: Name, _: &[u8], _: &[u8], _: &[u8], _: bool) {}
}

impl Rec for Recorder {
    #[inline(always)]
    fn field(&mut self, rtype: u32, id: Name, name: &[u8], raw: &[u8], value: &[u8], at: bool) {
        // Only what the summary can use is replayed.
        if super::summary::matters(rtype, id) {
            self.push(id, name, raw, value, at);
        }
    }
}

/// Per record type (by its low bits): whether it is cached, its recent hit rate, and how long
/// it is left alone.
#[derive(Clone, Copy, Default)]
struct Adapt {
    /// Cached (else only its hashes are kept, in `Cache::shadow`, to see if it repeats).
    on: bool,
    lookups: u16,
    hits: u16,
    /// Records of the type left to skip.
    skip: u32,
    /// The next pause's length (doubles while the type keeps missing).
    backoff: u32,
}

/// Lookups per verdict, and the hits below which a type is not worth caching (a miss that
/// records and stores costs about a third of what a hit saves).
const WINDOW: u16 = 32;
const MIN_HITS: u16 = WINDOW / 4;
const BACKOFF_MIN: u32 = 4096;
const BACKOFF_MAX: u32 = 1 << 17;

/// Counts, for tests and measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records looked up (cached types).
    pub lookups: u64,
    pub hits: u64,
    pub inserts: u64,
}

/// The cache of one renderer: a fixed table of entries whose bytes are in fixed rings.
pub(super) struct Cache {
    /// `SETS * WAYS` entries.
    entries: Box<[Entry]>,
    /// Per set: the way to replace next.
    older: Box<[u8]>,
    data: Ring<u8>,
    reps: Ring<Rep>,
    shadow: Box<[u64]>,
    adapt: [Adapt; 128],
    /// Buffers lent to `Recorder`s.
    spare: (Vec<Rep>, Vec<u8>),
    pub stats: Stats,
}

/// Allocated at the first lookup (a `Builder` that renders nothing costs nothing).
#[derive(Default)]
pub(super) struct Lazy(Option<Box<Cache>>);

impl Lazy {
    #[inline]
    pub(super) fn get(&mut self) -> &mut Cache {
        self.0.get_or_insert_with(|| Box::new(Cache::new()))
    }

    pub(super) fn stats(&self) -> Stats {
        self.0.as_ref().map_or_else(Stats::default, |c| c.stats)
    }
}

/// A fast hash of the key (the full compare decides a hit): 16 bytes per multiply.
fn hash(rtype: u32, body: &[u8], enr: Option<&[u8]>) -> u64 {
    const K1: u64 = 0x243f_6a88_85a3_08d3;
    const K2: u64 = 0x1319_8a2e_0370_7344;
    #[inline(always)]
    fn mix(a: u64, b: u64) -> u64 {
        let p = (a as u128) * (b as u128);
        (p as u64) ^ ((p >> 64) as u64)
    }
    #[inline(always)]
    fn words(s: &[u8], mut h: u64) -> u64 {
        let (c, r) = s.as_chunks::<16>();
        for w in c {
            let (a, b) = w.split_at(8);
            let a = u64::from_le_bytes(a.try_into().unwrap_or_default());
            let b = u64::from_le_bytes(b.try_into().unwrap_or_default());
            h = mix(a ^ h ^ K1, b ^ K2);
        }
        if !r.is_empty() {
            let mut t = [0u8; 16];
            t[..r.len()].copy_from_slice(r);
            let a = u64::from_le_bytes(t[..8].try_into().unwrap_or_default());
            let b = u64::from_le_bytes(t[8..].try_into().unwrap_or_default());
            h = mix(a ^ h ^ K1, b ^ K2 ^ r.len() as u64);
        }
        h
    }
    let mut h = words(body, K2 ^ (rtype as u64) << 32 ^ body.len() as u64);
    if let Some(e) = enr {
        h = words(e, h ^ (e.len() as u64) << 40 ^ 1);
    }
    // 0 marks an empty entry.
    mix(h, K1) | 1
}

impl Cache {
    fn new() -> Self {
        Cache {
            entries: vec![Entry::default(); SETS * WAYS].into_boxed_slice(),
            older: vec![0; SETS].into_boxed_slice(),
            data: Ring::new(DATA_RING, 0),
            reps: Ring::new(REPS_RING, REP0),
            shadow: vec![0; SHADOW].into_boxed_slice(),
            adapt: [Adapt::default(); 128],
            spare: (Vec::new(), Vec::new()),
            stats: Stats::default(),
        }
    }

    fn is(&self, e: &Entry, hash: u64, rtype: u32, body: &[u8], enr: Option<&[u8]>) -> bool {
        if e.hash != hash
            || e.rtype != rtype
            || e.body_len as usize != body.len()
            || e.enr_len != enr.map_or(u32::MAX, |x| x.len() as u32)
            || !self.data.intact(e.data_at)
            || !self.reps.intact(e.reps_at)
        {
            return false;
        }
        let d = self.data.get(e.data_at, e.key_len());
        let (b, x) = d.split_at(body.len());
        b == body && x == enr.unwrap_or_default()
    }

    /// Looks record (`rtype`, `body`, `enr`) up, unless it is too long or its type is not
    /// cached for now.
    #[inline]
    pub(super) fn probe(&mut self, rtype: u32, body: &[u8], enr: Option<&[u8]>) -> Probe {
        if body.len() + enr.map_or(0, <[u8]>::len) > KEY_MAX {
            return Probe::Off;
        }
        let a = &mut self.adapt[rtype as usize & 127];
        if a.skip > 0 {
            a.skip -= 1;
            return Probe::Off;
        }
        let h = hash(rtype, body, enr);
        let on = a.on;
        let found = if on {
            let set = (h >> 32) as usize % SETS;
            let f = (0..WAYS)
                .map(|w| set * WAYS + w)
                .find(|&i| self.is(&self.entries[i], h, rtype, body, enr));
            self.stats.lookups += 1;
            if let Some(i) = f {
                self.stats.hits += 1;
                // The other way is replaced next.
                self.older[set] = ((i % WAYS) ^ 1) as u8;
            }
            f
        } else {
            let s = &mut self.shadow[h as usize % SHADOW];
            let seen = *s == h;
            *s = h;
            seen.then_some(0)
        };
        let a = &mut self.adapt[rtype as usize & 127];
        a.lookups += 1;
        a.hits += found.is_some() as u16;
        if a.lookups == WINDOW {
            let good = a.hits >= MIN_HITS;
            if good {
                a.backoff = 0;
            } else {
                a.backoff = (a.backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
                a.skip = a.backoff;
            }
            // A type that repeats is cached; one whose cache misses goes back to be watched.
            a.on = good;
            a.lookups = 0;
            a.hits = 0;
        }
        match (on, found) {
            (true, Some(i)) => Probe::Hit(i),
            (true, None) => Probe::Miss(h),
            _ => Probe::Off,
        }
    }

    /// The JSON of hit `i` (the record's fields, as the miss wrote them after its head).
    #[inline]
    pub(super) fn json(&self, i: usize) -> &[u8] {
        let e = &self.entries[i];
        let d = self.data.get(e.data_at, e.data_len as usize);
        &d[e.key_len()..e.key_len() + e.json_len as usize]
    }

    /// Gives hit `i`'s `Sum::field` calls to `f`, as slices of the current record (`body`,
    /// `enr`: the same bytes as the entry's key) or of the entry.
    #[inline]
    pub(super) fn replay<'a>(
        &self,
        i: usize,
        body: &'a [u8],
        enr: Option<&'a [u8]>,
        mut f: impl FnMut(Replayed<'a, '_>),
    ) {
        let e = &self.entries[i];
        let enr = enr.unwrap_or_default();
        let d = self.data.get(e.data_at, e.data_len as usize);
        let own = &d[e.key_len() + e.json_len as usize..];
        let sl = |b: &'a [u8], (s, e): (u32, u32)| b.get(s as usize..e as usize);
        for r in self.reps.get(e.reps_at, e.nreps as usize) {
            let rep = if r.in_body {
                let [n, w, v] = r.spans.map(|x| sl(body, x).unwrap_or_default());
                Replayed::Log {
                    id: r.id,
                    name: n,
                    raw: w,
                    value: v,
                    value_at: r.value_at.then_some(v),
                }
            } else {
                let log = |k: usize| match r.src[k] {
                    IN_BODY => sl(body, r.spans[k]),
                    IN_ENR => sl(enr, r.spans[k]),
                    _ => None,
                };
                let at = |k: usize| -> &[u8] {
                    let (s, e) = r.spans[k];
                    log(k).unwrap_or_else(|| own.get(s as usize..e as usize).unwrap_or_default())
                };
                match (log(0), log(1)) {
                    (Some(name), Some(raw)) => Replayed::Log {
                        id: r.id,
                        name,
                        raw,
                        value: at(2),
                        value_at: log(2).filter(|_| r.value_at),
                    },
                    _ => Replayed::Copy {
                        id: r.id,
                        name: at(0),
                        raw: at(1),
                        value: at(2),
                    },
                }
            };
            f(rep);
        }
    }

    /// A recorder for missed record `body`/`enr` (hash `h` from `probe`).
    pub(super) fn recorder(&mut self, h: u64, body: &[u8], enr: Option<&[u8]>) -> Recorder {
        let (mut reps, mut owned) = std::mem::take(&mut self.spare);
        reps.clear();
        owned.clear();
        let range = |s: &[u8]| {
            let p = s.as_ptr() as usize;
            p..p + s.len()
        };
        Recorder {
            hash: h,
            body: range(body),
            enr: enr.map_or(0..0, range),
            reps,
            owned,
            spoilt: false,
        }
    }

    /// Stores record `body`/`enr` of type `rtype` rendered as `json` with `rec`'s calls
    /// (`ok`: the record was rendered in one pass), when it fits the bounds.
    pub(super) fn insert(
        &mut self,
        rec: Option<Recorder>,
        ok: bool,
        rtype: u32,
        body: &[u8],
        enr: Option<&[u8]>,
        json: &[u8],
    ) {
        let Some(Recorder {
            hash: h,
            reps,
            owned,
            spoilt,
            ..
        }) = rec
        else {
            return;
        };
        let key = body.len() + enr.map_or(0, <[u8]>::len);
        let n = key + json.len() + owned.len();
        if ok && !spoilt && n <= DATA_MAX && reps.len() <= REPS_MAX {
            let (data_at, d) = self.data.take(n);
            let (b, rest) = d.split_at_mut(body.len());
            b.copy_from_slice(body);
            let (x, rest) = rest.split_at_mut(key - body.len());
            x.copy_from_slice(enr.unwrap_or_default());
            let (j, o) = rest.split_at_mut(json.len());
            j.copy_from_slice(json);
            o.copy_from_slice(&owned);
            let (reps_at, r) = self.reps.take(reps.len());
            r.copy_from_slice(&reps);
            let set = (h >> 32) as usize % SETS;
            let w = self.older[set] as usize;
            self.older[set] = (w ^ 1) as u8;
            self.entries[set * WAYS + w] = Entry {
                hash: h,
                rtype,
                body_len: body.len() as u32,
                enr_len: enr.map_or(u32::MAX, |x| x.len() as u32),
                json_len: json.len() as u32,
                data_len: n as u32,
                nreps: reps.len() as u32,
                data_at,
                reps_at,
            };
            self.stats.inserts += 1;
        }
        self.spare = (reps, owned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Looks `body` up and stores it on a miss, with `json` and one replayed field.
    fn add(c: &mut Cache, rtype: u32, body: &[u8], json: &[u8]) -> Probe {
        let p = c.probe(rtype, body, None);
        if let Probe::Miss(h) = p {
            let mut r = c.recorder(h, body, None);
            r.push(Name::Pid, &body[..1], &body[1..2], b"copied", false);
            c.insert(Some(r), true, rtype, body, None, json);
        }
        p
    }

    /// Turns type `rtype` on: a window of records seen twice.
    fn warm(c: &mut Cache, rtype: u32) {
        for i in 0..WINDOW {
            let b = format!("warm={i}");
            add(c, rtype, b.as_bytes(), b"[]");
            add(c, rtype, b.as_bytes(), b"[]");
        }
        assert!(c.adapt[rtype as usize & 127].on);
    }

    #[test]
    fn entries_and_bytes_stay_bounded() {
        let mut c = Cache::new();
        let cost = |c: &Cache| {
            std::mem::size_of_val(&*c.entries)
                + c.data.buf.capacity()
                + c.reps.buf.capacity() * std::mem::size_of::<Rep>()
                + std::mem::size_of_val(&*c.shadow)
        };
        let most = (SETS * WAYS) * std::mem::size_of::<Entry>()
            + DATA_RING
            + REPS_RING * std::mem::size_of::<Rep>()
            + SHADOW * 8;
        assert!(most < 4 << 20, "{most}");
        warm(&mut c, 1300);
        let mut json = vec![b'j'; 4000];
        let mut hits = 0;
        for i in 0..20_000u32 {
            let n = 16 + (i as usize * 37) % 1400;
            let mut body = format!("uq={i} ").into_bytes();
            body.resize(n, b'x');
            json.truncate(n * 2);
            json.resize(n * 2, b'j');
            // Twice: the second one hits, so the type stays cached.
            add(&mut c, 1300, &body, &json);
            match add(&mut c, 1300, &body, &json) {
                Probe::Hit(e) => {
                    hits += 1;
                    assert_eq!(c.json(e), json);
                }
                _ => panic!("{i}: just stored, not found"),
            }
            assert_eq!(c.entries.len(), SETS * WAYS);
            assert!(c.data.buf.len() <= DATA_RING && c.reps.buf.len() <= REPS_RING);
            assert!(cost(&c) <= most, "{} > {most}", cost(&c));
            // The lent buffers hold one record's list.
            assert!(c.spare.0.capacity() <= 64 && c.spare.1.capacity() <= 64);
        }
        assert_eq!(hits, 20_000);
        // The rings went round many times: what an entry finds is always its own bytes,
        // never what overwrote them.
        assert!(c.data.written > 10 * DATA_RING as u64);
        let mut found = 0;
        // Newest first (a run of misses turns the type off).
        for i in (0..20_000u32).rev() {
            let n = 16 + (i as usize * 37) % 1400;
            let mut body = format!("uq={i} ").into_bytes();
            body.resize(n, b'x');
            if let Probe::Hit(e) = c.probe(1300, &body, None) {
                found += 1;
                assert_eq!(c.json(e), vec![b'j'; n * 2]);
            }
        }
        // Only the latest ones are still there (a few megabytes' worth).
        assert!(found > 100 && found < 4000, "{found}");
    }

    #[test]
    fn oversize_records_are_not_cached() {
        let mut c = Cache::new();
        warm(&mut c, 1300);
        let body = vec![b'a'; KEY_MAX + 1];
        assert!(matches!(c.probe(1300, &body, None), Probe::Off));
        // Body and enrichment count together.
        let half = vec![b'a'; KEY_MAX / 2 + 1];
        assert!(matches!(c.probe(1300, &half, Some(&half)), Probe::Off));
        // A key that fits but whose JSON makes the entry too large.
        let inserts = c.stats.inserts;
        let body = vec![b'b'; 100];
        assert!(matches!(
            add(&mut c, 1300, &body, &vec![b'j'; DATA_MAX]),
            Probe::Miss(_)
        ));
        assert_eq!(c.stats.inserts, inserts);
        assert!(matches!(c.probe(1300, &body, None), Probe::Miss(_)));
        // What fits is found again, with its replay list.
        add(&mut c, 1300, &body, b"[1]");
        let Probe::Hit(i) = c.probe(1300, &body, None) else {
            panic!("not cached")
        };
        assert_eq!(c.json(i), b"[1]");
        let mut seen = Vec::new();
        c.replay(i, &body, None, |r| match r {
            Replayed::Log {
                name,
                value,
                value_at,
                ..
            } => seen.push((name.to_vec(), value.to_vec(), value_at.is_some())),
            Replayed::Copy { .. } => panic!("slices of the body are replayed as such"),
        });
        assert_eq!(seen, [(b"b".to_vec(), b"copied".to_vec(), false)]);
        // Another type, another enrichment: other keys.
        warm(&mut c, 1301);
        assert!(matches!(c.probe(1301, &body, None), Probe::Miss(_)));
        assert!(matches!(c.probe(1300, &body, Some(b"")), Probe::Miss(_)));
    }

    #[test]
    fn a_type_that_never_repeats_is_not_cached() {
        let mut c = Cache::new();
        let mut looked = 0;
        for i in 0..100_000u32 {
            let body = format!("uq={i}").into_bytes();
            looked += !matches!(add(&mut c, 1300, &body, b"[]"), Probe::Off) as u32;
        }
        // Only watched, a window now and then: never looked up in the cache.
        assert_eq!(looked, 0);
        assert_eq!(c.stats, Stats::default());
        // A type that repeats is cached after its first window.
        for i in 0..1000u32 {
            let body = format!("r={}", i % 10).into_bytes();
            add(&mut c, 1302, &body, b"[]");
        }
        assert!(c.stats.hits > 900, "{:?}", c.stats);
    }
}
