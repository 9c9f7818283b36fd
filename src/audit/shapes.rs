//! The usual field names of each record type, in their usual order: the structure of a log,
//! not its content. Records of one type nearly always name the same fields in the same order
//! (`arch syscall success exit a0 ...`); when the next token starts with the name the shape
//! predicts, the renderer skips finding the `=`, classifying the name and escaping it (its
//! JSON prefix is kept with it). A token that does not match takes the general path, whose
//! field then replaces the prediction for the next record.

use super::interp::{kind_of, Kind};
use super::names::Name;
use super::record::Fields;
use super::tables;
use crate::encode::jstr::{plain, string};

/// One predicted field: its name followed by `=`, packed as the first bytes of the token
/// (little-endian), the mask of those bytes, and what the name's first sight computed.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    pub pat: u128,
    pub mask: u128,
    /// Name length (the `=` is at this index); 0: no prediction (`NONE`).
    pub nlen: u8,
    /// `key=`: hex values split into several keys, the prediction holds only for others.
    pub is_key: bool,
    pub id: Name,
    /// The field's interpretation kind (`None`: it depends on the value, see `kind_of`).
    pub kind: Option<Kind>,
    /// `["name","`: the JSON of the name with what surrounds it.
    pub prefix: [u8; 24],
    pub plen: u8,
}

/// No prediction: its `pat` has a bit outside `mask`, so no token matches it.
const NONE: Slot = Slot {
    pat: 1,
    mask: 0,
    nlen: 0,
    is_key: false,
    id: Name::Other,
    kind: None,
    prefix: [0; 24],
    plen: 0,
};

/// Fields predicted per record (longer records take the general path for the rest).
const MAX: usize = 64;

/// The shapes of the record types seen, found by type number through a small index (types
/// are below 4096 in practice; others, and types beyond the 255th, share one
/// unlearned shape).
pub(super) struct Shapes {
    index: Box<[u8; 4096]>,
    types: Vec<Vec<Way>>,
    /// Per learned type (as `types`): its name when every token of that number gets the
    /// table's name, and `{"type":"NAME","fields":[` (the record's JSON up to its fields).
    heads: Vec<Option<Head>>,
    spare: Vec<Way>,
}

/// Two predictions per place: logs mix a few layouts of a type (with and without `subj=`,
/// ...), and one prediction would be relearned at every change of layout.
pub(super) type Way = [Slot; 2];

impl Default for Shapes {
    fn default() -> Self {
        Shapes {
            index: Box::new([0; 4096]),
            types: Vec::new(),
            heads: Vec::new(),
            spare: Vec::new(),
        }
    }
}

impl Shapes {
    /// The shape of record type `rtype`, with the type's name and the JSON its records start
    /// with when they do not depend on how the type was written (see `head`).
    #[inline(always)]
    pub fn of(&mut self, rtype: u32) -> (&mut Vec<Way>, Option<(&'static str, &[u8])>) {
        let Some(at) = self.index.get_mut(rtype as usize) else {
            self.spare.clear();
            return (&mut self.spare, None);
        };
        if *at == 0 {
            if self.types.len() >= 255 {
                self.spare.clear();
                return (&mut self.spare, None);
            }
            self.types.push(Vec::new());
            self.heads.push(head(rtype));
            *at = self.types.len() as u8;
        }
        let i = *at as usize - 1;
        let head = self.heads[i].as_ref().map(|(n, j)| (*n, &j[..]));
        (&mut self.types[i], head)
    }
}

/// A type's name and `{"type":"NAME","fields":[`.
type Head = (&'static str, Box<[u8]>);

/// `head`'s value for `rtype`: the table's name, which `type_name` gives every token of that
/// number (the common names it checks first are the table's names of their numbers).
fn head(rtype: u32) -> Option<Head> {
    let name = tables::type_name(rtype)?;
    let mut json = b"{\"type\":".to_vec();
    string(name.as_bytes(), &mut json);
    json.extend_from_slice(b",\"fields\":[");
    Some((name, json.into_boxed_slice()))
}

/// The next field of `fields` when a slot of `way` predicts it: the slot, the name and the
/// value. The token is read once for both slots (and at most one of them can match it: a
/// way never holds a name twice, and a token's name ends at its first `=`).
#[inline(always)]
pub(super) fn take<'s, 'a>(
    fields: &mut Fields<'a>,
    way: &'s Way,
) -> Option<(&'s Slot, &'a [u8], &'a [u8])> {
    let (w, rest) = fields.peek()?;
    let s = if w & way[0].mask == way[0].pat {
        &way[0]
    } else if w & way[1].mask == way[1].pat {
        &way[1]
    } else {
        return None;
    };
    let (name, raw) = fields.take_at(rest, s.nlen as usize, s.is_key)?;
    Some((s, name, raw))
}

/// Learns field `i` of a record: `name`, found by the general path (`simple`: as written,
/// `name=value`, without auparse's rewriting). Names that cannot be predicted leave an
/// empty slot.
#[cold]
pub(super) fn learn(
    shape: &mut Vec<Way>,
    rtype: u32,
    i: usize,
    name: &[u8],
    id: Name,
    simple: bool,
) {
    if i >= MAX || !learnable(name, simple) {
        return;
    }
    if shape.len() <= i {
        shape.resize(i + 1, [NONE; 2]);
    }
    let w = &mut shape[i];
    if w.iter().any(|s| s.predicts(name)) {
        // Predicted, but the record ended before the token (`take_at` left it to `next`).
        return;
    }
    if let Some(s) = slot(rtype, name, id) {
        w[1] = w[0];
        w[0] = s;
    }
}

/// Whether `slot` can predict `name` (`msg=` values are rewritten by auparse's rules; names
/// that need escaping are rare enough to take the general path).
fn learnable(name: &[u8], simple: bool) -> bool {
    simple && !name.is_empty() && name.len() <= 15 && name != b"msg" && plain(name)
}

impl Slot {
    fn predicts(&self, name: &[u8]) -> bool {
        self.nlen as usize == name.len() && self.pat.to_le_bytes()[..name.len()] == *name
    }
}

/// The slot of a `learnable` name.
fn slot(rtype: u32, name: &[u8], id: Name) -> Option<Slot> {
    let n = name.len();
    if !(1..=15).contains(&n) {
        return None;
    }
    // `["name","`: 5 bytes and the name, which needs no escaping.
    let mut prefix = [0u8; 24];
    prefix[..2].copy_from_slice(b"[\"");
    prefix[2..2 + n].copy_from_slice(name);
    prefix[2 + n..5 + n].copy_from_slice(b"\",\"");
    let mut tok = [0u8; 16];
    tok[..n].copy_from_slice(name);
    tok[n] = b'=';
    let mask = if n + 1 == 16 {
        u128::MAX
    } else {
        (1u128 << (8 * (n + 1))) - 1
    };
    Some(Slot {
        pat: u128::from_le_bytes(tok),
        mask,
        nlen: n as u8,
        is_key: name == b"key",
        id,
        // `acct`'s kind depends on its value.
        kind: (id != Name::Acct).then(|| kind_of(rtype, id, name, b"")),
        prefix,
        plen: (n + 5) as u8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_matches_its_token_only() {
        let s = slot(1300, b"syscall", Name::Syscall).unwrap();
        let w = |t: &[u8]| {
            let mut b = [b'x'; 16];
            b[..t.len().min(16)].copy_from_slice(&t[..t.len().min(16)]);
            u128::from_le_bytes(b)
        };
        assert_eq!(w(b"syscall=59 succ") & s.mask, s.pat);
        assert_ne!(w(b"syscalls=59 suc") & s.mask, s.pat);
        assert_ne!(w(b"sysca=59 succes") & s.mask, s.pat);
        assert_eq!(&s.prefix[..s.plen as usize], b"[\"syscall\",\"");
        assert!(s.predicts(b"syscall") && !s.predicts(b"syscal"));
        assert!(!learnable(b"msg", true));
        assert!(!learnable(b"a", false));
        assert!(!learnable(b"a\"b", true));
        assert!(!learnable(b"0123456789abcdef", true));
        let long = slot(1300, b"0123456789abcde", Name::Other).unwrap();
        assert_eq!(long.mask, u128::MAX);
        assert_eq!(
            &long.prefix[..long.plen as usize],
            b"[\"0123456789abcde\",\""
        );
    }

    #[test]
    fn a_kept_head_is_what_every_token_of_its_type_gets() {
        use crate::audit::record::{type_name, type_number};
        let mut toks: Vec<String> = ["SYSCALL", "PATH", "CWD", "EXECVE", "PROCTITLE", "EOE"]
            .iter()
            .chain(&[
                "SOCKADDR",
                "AVC",
                "USER_AVC",
                "1300",
                "UNKNOWN[1300]",
                "UNKNOWN[9]",
            ])
            .map(|t| t.to_string())
            .collect();
        for n in 0..4200u32 {
            toks.push(n.to_string());
            toks.push(format!("UNKNOWN[{n}]"));
            toks.extend(tables::type_name(n).map(str::to_string));
        }
        let mut kept = 0;
        for t in &toks {
            let n = type_number(t.as_bytes());
            let Some((name, json)) = head(n) else {
                continue;
            };
            kept += 1;
            let want = type_name(n, t.as_bytes());
            assert_eq!(name, want, "{t}");
            let mut j = b"{\"type\":".to_vec();
            string(want.as_bytes(), &mut j);
            j.extend_from_slice(b",\"fields\":[");
            assert_eq!(*json, *j);
        }
        assert!(kept > 300, "{kept}");
        // Types the table does not name are written as the line wrote them: never kept.
        assert!(head(0).is_none() && head(9).is_none());
        let mut s = Shapes::default();
        assert_eq!(s.of(1300).1.map(|h| h.0), Some("SYSCALL"));
        assert_eq!(s.of(1300).1.map(|h| h.0), Some("SYSCALL"));
        assert!(s.of(5000).1.is_none() && s.of(0).1.is_none());
    }

    #[test]
    fn two_layouts_are_kept() {
        let mut shape = Vec::new();
        learn(&mut shape, 1300, 0, b"subj", Name::Other, true);
        learn(&mut shape, 1300, 0, b"key", Name::Key, true);
        learn(&mut shape, 1300, 0, b"subj", Name::Other, true);
        assert!(shape[0][0].predicts(b"key") && shape[0][1].predicts(b"subj"));
        assert!(shape[0][0].is_key);
        assert_eq!(shape[0][0].kind, Some(Kind::Escaped));
        // Names that cannot be predicted leave the shape as it was.
        learn(&mut shape, 1300, 3, b"x", Name::Other, false);
        assert_eq!(shape.len(), 1);
        learn(&mut shape, 1300, 1, b"acct", Name::Acct, true);
        assert_eq!(shape[1][0].kind, None);
    }
}
