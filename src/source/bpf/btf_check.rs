//! Test-only: a minimal reader of the committed object's `.BTF` section, used to check that
//! the Rust mirrors (record.rs, families.rs) match what clang laid out from bpf/letrace.h —
//! the idea of Tetragon's alignchecker, without the dependency.

use std::collections::HashMap;

pub struct Btf {
    /// Struct name -> (size, [(member name, byte offset)]).
    pub structs: HashMap<String, (u32, Vec<(String, u32)>)>,
    /// Enum name -> [(enumerator, value)].
    pub enums: HashMap<String, Vec<(String, i64)>>,
}

fn rd_u16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn rd_u32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn rd_u64(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// The bytes of the ELF64 (little-endian) section called `name`.
pub fn elf_section<'a>(elf: &'a [u8], name: &str) -> Option<&'a [u8]> {
    if elf.get(..4)? != b"\x7fELF" || elf[4] != 2 || elf[5] != 1 {
        return None;
    }
    let shoff = rd_u64(elf, 0x28)? as usize;
    let shentsize = rd_u16(elf, 0x3a)? as usize;
    let shnum = rd_u16(elf, 0x3c)? as usize;
    let shstrndx = rd_u16(elf, 0x3e)? as usize;
    let sh = |i: usize| -> Option<(u32, usize, usize)> {
        let o = shoff + i * shentsize;
        Some((
            rd_u32(elf, o)?,
            rd_u64(elf, o + 0x18)? as usize,
            rd_u64(elf, o + 0x20)? as usize,
        ))
    };
    let (_, stroff, _) = sh(shstrndx)?;
    for i in 0..shnum {
        let (n, off, size) = sh(i)?;
        let s = &elf[stroff + n as usize..];
        let end = s.iter().position(|&c| c == 0)?;
        if &s[..end] == name.as_bytes() {
            return elf.get(off..off + size);
        }
    }
    None
}

pub fn parse(btf: &[u8]) -> Option<Btf> {
    if rd_u16(btf, 0)? != 0xeb9f {
        return None;
    }
    let hdr_len = rd_u32(btf, 4)? as usize;
    let (type_off, type_len) = (rd_u32(btf, 8)? as usize, rd_u32(btf, 12)? as usize);
    let str_off = rd_u32(btf, 16)? as usize;
    let strs = btf.get(hdr_len + str_off..)?;
    let name = |off: u32| -> String {
        let s = &strs[off as usize..];
        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        String::from_utf8_lossy(&s[..end]).into_owned()
    };
    let types = btf.get(hdr_len + type_off..hdr_len + type_off + type_len)?;
    let mut out = Btf {
        structs: HashMap::new(),
        enums: HashMap::new(),
    };
    let mut o = 0;
    while o + 12 <= types.len() {
        let name_off = rd_u32(types, o)?;
        let info = rd_u32(types, o + 4)?;
        let size = rd_u32(types, o + 8)?;
        let vlen = (info & 0xffff) as usize;
        let kind = (info >> 24) & 0x1f;
        let kflag = info >> 31 == 1;
        o += 12;
        match kind {
            1 | 14 | 17 => o += 4,
            3 => o += 12,
            4 | 5 => {
                let mut members = Vec::new();
                for i in 0..vlen {
                    let m = o + 12 * i;
                    let bits = rd_u32(types, m + 8)?;
                    let bits = if kflag { bits & 0xff_ffff } else { bits };
                    members.push((name(rd_u32(types, m)?), bits / 8));
                }
                if kind == 4 {
                    out.structs.insert(name(name_off), (size, members));
                }
                o += 12 * vlen;
            }
            6 => {
                let mut vals = Vec::new();
                for i in 0..vlen {
                    let m = o + 8 * i;
                    vals.push((name(rd_u32(types, m)?), rd_u32(types, m + 4)? as i32 as i64));
                }
                out.enums.insert(name(name_off), vals);
                o += 8 * vlen;
            }
            13 => o += 8 * vlen,
            15 | 19 => o += 12 * vlen,
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::families::{FAMILIES, SYSCALLS};
    use super::super::record::{self, LtEvent};
    use super::*;

    fn object_btf() -> Btf {
        let sec = elf_section(super::super::OBJECT, ".BTF").expect("committed object has .BTF");
        parse(sec).expect("parse .BTF")
    }

    #[test]
    fn lt_event_layout_matches_btf() {
        let btf = object_btf();
        let (size, members) = btf.structs.get("lt_event").expect("struct lt_event in BTF");
        assert_eq!(*size as usize, std::mem::size_of::<LtEvent>(), "sizeof");
        let want: Vec<(String, u32)> = record::rust_layout()
            .into_iter()
            .map(|(n, o)| (n.to_string(), o as u32))
            .collect();
        assert_eq!(members, &want, "field names and byte offsets");
    }

    #[test]
    fn enums_match_btf() {
        let btf = object_btf();
        let fam = btf.enums.get("lt_family").expect("enum lt_family");
        for (i, f) in FAMILIES.iter().enumerate() {
            assert_eq!(fam[i], (format!("LT_{}", f.name), i as i64));
        }
        assert_eq!(fam[FAMILIES.len()], ("LT_FAMILY_COUNT".into(), 38));
        let sc = btf.enums.get("lt_sc").expect("enum lt_sc");
        assert_eq!(sc[0], ("LT_SC_NONE".into(), 0));
        for (i, s) in SYSCALLS.iter().enumerate() {
            assert_eq!(sc[i + 1], (format!("LT_SC_{}", s.name), i as i64 + 1));
        }
        assert_eq!(sc.len(), SYSCALLS.len() + 2, "LT_SC_COUNT last");
        let flags = btf.enums.get("lt_flags").expect("enum lt_flags");
        let want = [
            ("LT_F_TRUNC0", record::F_TRUNC0),
            ("LT_F_TRUNC1", record::F_TRUNC1),
            ("LT_F_ADDR", record::F_ADDR),
            ("LT_F_FDS", record::F_FDS),
            ("LT_F_CREDS", record::F_CREDS),
            ("LT_F_OPENHOW", record::F_OPENHOW),
            ("LT_F_CLONE3", record::F_CLONE3),
            ("LT_F_NOMM", record::F_NOMM),
            ("LT_F_DIR", record::F_DIR),
            ("LT_F_DIR_PARTIAL", record::F_DIR_PARTIAL),
        ];
        for (i, (n, v)) in want.iter().enumerate() {
            assert_eq!(flags[i], (n.to_string(), *v as i64));
        }
    }

    #[test]
    fn every_syscall_has_its_programs_in_the_object() {
        let strtab = elf_section(super::super::OBJECT, ".strtab").expect(".strtab");
        let has = |s: &str| strtab.split(|&c| c == 0).any(|w| w == s.as_bytes());
        for s in SYSCALLS.iter() {
            assert!(has(&format!("x_{}", s.name)), "x_{}", s.name);
            // Only the set*id calls have an enter program (the ids before the call).
            assert_eq!(
                has(&format!("e_{}", s.name)),
                super::super::families::needs_enter(s.name),
                "e_{}",
                s.name
            );
        }
        for p in [
            "lt_sys_exit",
            "lt_sys_enter",
            "lt_reldir",
            "lt_progs",
            "lt_eprogs",
            "lt_tail",
        ] {
            assert!(has(p), "{p}");
        }
    }
}
