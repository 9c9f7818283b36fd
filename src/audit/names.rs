//! Field names that mean something to letrace, recognised with one integer switch.
//!
//! Interpretation and the event summary both branch on a field's name; matching the name
//! bytes against a hundred literals one `memcmp` at a time was a visible part of the profile.
//! A name of up to 15 bytes is packed into a `u128` (bytes + length) and matched once; the
//! resulting `Name` carries auparse's default interpretation kind for that name.

use super::interp::Kind;

/// `name`'s bytes in the low 15 bytes, its length in the top byte.
pub(super) const fn pack(name: &str) -> u128 {
    let b = name.as_bytes();
    let mut v = (b.len() as u128) << 120;
    let mut i = 0;
    while i < b.len() {
        v |= (b[i] as u128) << (8 * i);
        i += 1;
    }
    v
}

/// `pack` at run time (`None` beyond 15 bytes).
#[inline]
pub(super) fn key(name: &[u8]) -> Option<u128> {
    let n = name.len();
    let bytes = match n {
        // Two overlapping words: the bytes they share are the same, so OR-ing is exact.
        8..=15 => {
            let t = &name[n - 8..];
            let lo = u64::from_le_bytes([
                name[0], name[1], name[2], name[3], name[4], name[5], name[6], name[7],
            ]);
            let hi = u64::from_le_bytes([t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]]);
            lo as u128 | (hi as u128) << (8 * (n - 8))
        }
        4..=7 => {
            let t = &name[n - 4..];
            let lo = u32::from_le_bytes([name[0], name[1], name[2], name[3]]);
            let hi = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
            (lo as u128) | (hi as u128) << (8 * (n - 4))
        }
        0..=3 => name
            .iter()
            .enumerate()
            .fold(0u128, |v, (i, &c)| v | (c as u128) << (8 * i)),
        _ => return None,
    };
    Some(bytes | (n as u128) << 120)
}

/// Slots of the open-addressing table (a power of two, about four times the names).
const SLOTS: usize = 512;

/// The slot a packed name starts probing at.
const fn slot(k: u128) -> usize {
    let x = (k as u64) ^ ((k >> 64) as u64).rotate_left(29);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 55) as usize & (SLOTS - 1)
}

/// Packed name -> `Name`, built at compile time; a packed name is never 0 (its length byte
/// is not), so 0 marks an empty slot.
static TABLE: [(u128, Name); SLOTS] = {
    let mut t = [(0u128, Name::Other); SLOTS];
    let mut j = 0;
    while j < LIST.len() {
        let (k, n) = LIST[j];
        let mut i = slot(k);
        while t[i].0 != 0 {
            i = (i + 1) & (SLOTS - 1);
        }
        t[i] = (k, n);
        j += 1;
    }
    t
};

/// The `Name` of a field name: one hash, nearly always one probe (a `match` over a hundred
/// 128-bit constants compiled to a tree of hard-to-predict branches).
#[inline]
pub fn classify(name: &[u8]) -> Name {
    let Some(k) = key(name) else {
        return Name::Other;
    };
    let mut i = slot(k);
    loop {
        let (kk, n) = TABLE[i];
        if kk == k {
            return n;
        }
        if kk == 0 {
            return Name::Other;
        }
        i = (i + 1) & (SLOTS - 1);
    }
}

macro_rules! names {
    ($($id:ident = $s:literal => $k:ident,)*) => {
        /// A field name letrace knows (`Other`: any other name).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Name {
            Other,
            $($id,)*
        }

        #[allow(non_upper_case_globals)]
        mod packed {
            $(pub const $id: u128 = super::pack($s);)*
        }

        /// Every name with its packed form, in declaration order.
        const LIST: &[(u128, Name)] = &[$((packed::$id, Name::$id),)*];

        // Sets of names are `u128` bit sets (`record::enriched_names`).
        const _: () = assert!(LIST.len() < 128);

        impl Name {
            /// auparse's interpretation for the name, before per-record-type overrides.
            #[inline]
            pub fn base_kind(self) -> Kind {
                match self {
                    Name::Other => Kind::Plain,
                    $(Name::$id => Kind::$k,)*
                }
            }

            /// One of the names `interp::Ctx` is made of or depends on: syscall, arch, a0..a3.
            #[inline(always)]
            pub fn is_context(self) -> bool {
                (self as u8).wrapping_sub(Name::Syscall as u8) <= Name::A3 as u8 - Name::Syscall as u8
            }

            /// The name as written in the log (`""` for `Other`).
            #[cfg(test)]
            pub fn as_str(self) -> &'static str {
                match self {
                    Name::Other => "",
                    $(Name::$id => $s,)*
                }
            }

            #[cfg(test)]
            const ALL: &'static [Name] = &[$(Name::$id,)*];
        }
    };
}

names! {
    // The names of a record's context (interp::Ctx), kept together: `is_context`.
    Syscall = "syscall" => Syscall,
    Arch = "arch" => Arch,
    A0 = "a0" => A0,
    A1 = "a1" => A1,
    A2 = "a2" => A2,
    A3 = "a3" => A3,
    Auid = "auid" => Uid,
    Uid = "uid" => Uid,
    Euid = "euid" => Uid,
    Suid = "suid" => Uid,
    Fsuid = "fsuid" => Uid,
    Ouid = "ouid" => Uid,
    Oauid = "oauid" => Uid,
    OldAuid = "old-auid" => Uid,
    Iuid = "iuid" => Uid,
    Id = "id" => Uid,
    InodeUid = "inode_uid" => Uid,
    Sauid = "sauid" => Uid,
    ObjUid = "obj_uid" => Uid,
    ObjGid = "obj_gid" => Gid,
    Gid = "gid" => Gid,
    Egid = "egid" => Gid,
    Sgid = "sgid" => Gid,
    Fsgid = "fsgid" => Gid,
    Ogid = "ogid" => Gid,
    Igid = "igid" => Gid,
    InodeGid = "inode_gid" => Gid,
    NewGid = "new_gid" => Gid,
    Exit = "exit" => Exit,
    Path = "path" => Escaped,
    Comm = "comm" => Escaped,
    Exe = "exe" => Escaped,
    File = "file" => Escaped,
    Name_ = "name" => Escaped,
    Watch = "watch" => Escaped,
    Cwd = "cwd" => Escaped,
    Cmd = "cmd" => Escaped,
    Dir = "dir" => Escaped,
    Key = "key" => Escaped,
    Vm = "vm" => Escaped,
    OldChardev = "old-chardev" => Escaped,
    NewChardev = "new-chardev" => Escaped,
    OldDisk = "old-disk" => Escaped,
    NewDisk = "new-disk" => Escaped,
    OldFs = "old-fs" => Escaped,
    NewFs = "new-fs" => Escaped,
    OldNet = "old-net" => Escaped,
    NewNet = "new-net" => Escaped,
    Device = "device" => Escaped,
    Cgroup = "cgroup" => Escaped,
    OldRng = "old-rng" => Escaped,
    NewRng = "new-rng" => Escaped,
    Ocomm = "ocomm" => Escaped,
    Grp = "grp" => Escaped,
    NewGroup = "new_group" => Escaped,
    InvalidContext = "invalid_context" => Escaped,
    Sw = "sw" => Escaped,
    RootDir = "root_dir" => Escaped,
    // Debian builds auparse with AppArmor support.
    Apparmor = "apparmor" => Escaped,
    Operation = "operation" => Escaped,
    DeniedMask = "denied_mask" => Escaped,
    Info = "info" => Escaped,
    Profile = "profile" => Escaped,
    RequestedMask = "requested_mask" => Escaped,
    Perm = "perm" => Perm,
    PermMask = "perm_mask" => Perm,
    Mode = "mode" => Mode,
    Saddr = "saddr" => Sockaddr,
    Prom = "prom" => Promisc,
    OldProm = "old_prom" => Promisc,
    Capability = "capability" => Capability,
    Res = "res" => Success,
    Result = "result" => Success,
    Sig = "sig" => Signal,
    SigevSigno = "sigev_signo" => Signal,
    List = "list" => List,
    Data = "data" => TtyData,
    Ses = "ses" => Session,
    CapPi = "cap_pi" => CapBitmap,
    CapPe = "cap_pe" => CapBitmap,
    CapPp = "cap_pp" => CapBitmap,
    CapPa = "cap_pa" => CapBitmap,
    CapFi = "cap_fi" => CapBitmap,
    CapFp = "cap_fp" => CapBitmap,
    Fp = "fp" => CapBitmap,
    Fi = "fi" => CapBitmap,
    OldPp = "old_pp" => CapBitmap,
    OldPi = "old_pi" => CapBitmap,
    OldPe = "old_pe" => CapBitmap,
    OldPa = "old_pa" => CapBitmap,
    NewPp = "new_pp" => CapBitmap,
    NewPi = "new_pi" => CapBitmap,
    NewPe = "new_pe" => CapBitmap,
    Pp = "pp" => CapBitmap,
    Pi = "pi" => CapBitmap,
    Pe = "pe" => CapBitmap,
    Pa = "pa" => CapBitmap,
    Family = "family" => Nfproto,
    Code = "code" => Seccomp,
    Proctitle = "proctitle" => Proctitle,
    // Names with per-record-type rules or a place in the summary.
    Acct = "acct" => Plain,
    Flags = "flags" => Plain,
    Pid = "pid" => Plain,
    Ppid = "ppid" => Plain,
    Tty = "tty" => Plain,
    Success = "success" => Plain,
    Item = "item" => Plain,
    Inode = "inode" => Plain,
    Dev = "dev" => Plain,
    Nametype = "nametype" => Plain,
    Argc = "argc" => Plain,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_recognised_and_nothing_else() {
        for &n in Name::ALL {
            assert_eq!(classify(n.as_str().as_bytes()), n, "{n:?}");
            // A prefix, an extension or a NUL-padded copy is another name.
            let s = n.as_str().as_bytes();
            assert_ne!(classify(&s[..s.len() - 1]), n);
            assert_ne!(classify(&[s, b"x"].concat()), n);
            assert_ne!(classify(&[s, b"\0"].concat()), n);
        }
        assert_eq!(classify(b""), Name::Other);
        assert_eq!(classify(b"requested_mask_x"), Name::Other);
        assert_eq!(classify(b"UID"), Name::Other);
    }
}
