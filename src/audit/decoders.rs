//! Interpretation of the structured values among audit fields: socket addresses (`saddr=`,
//! as auparse prints them) and TTY keystroke data (`data=`, with auparse's key names).

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::interp::{lossy, text};
use super::record::{self, unhex};
use super::tables;

pub(super) fn sockaddr(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    let hex_len = raw.iter().take_while(|c| c.is_ascii_hexdigit()).count() & !1;
    let Some(b) = unhex(&raw[..hex_len]).filter(|b| b.len() >= 2) else {
        return text(format!("malformed-host({})", lossy(raw)));
    };
    let fam = u16::from_le_bytes([b[0], b[1]]);
    let Some(name) = tables::family_name(fam) else {
        return text(format!("unknown-family({fam})"));
    };
    let port = |b: &[u8]| u16::from_be_bytes([b[2], b[3]]);
    let s = match fam {
        1 if b.len() < 4 => format!("{{ saddr_fam={name} sockaddr len too short }}"),
        1 => {
            let path = &b[2..b.len().min(2 + 108)];
            let path = if path.first() == Some(&0) {
                &path[1..]
            } else {
                path
            };
            let end = record::memchr(0, path).unwrap_or(path.len());
            format!("{{ saddr_fam={name} path={} }}", lossy(&path[..end]))
        }
        2 if b.len() < 16 => format!("{{ saddr_fam={name} sockaddr len too short }}"),
        2 => {
            let a = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            format!("{{ saddr_fam={name} laddr={a} lport={} }}", port(&b))
        }
        10 if b.len() < 28 => format!("{{ saddr_fam={name} sockaddr6 len too short }}"),
        10 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[8..24]);
            let a = Ipv6Addr::from(o);
            format!("{{ saddr_fam={name} laddr={a} lport={} }}", port(&b))
        }
        16 if b.len() < 12 => format!("{{ saddr_fam={name} len too short }}"),
        16 => {
            let pid = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            format!("{{ saddr_fam={name} nlnk-fam={fam} nlnk-pid={pid} }}")
        }
        _ => format!("{{ saddr_fam={name} (unsupported) }}"),
    };
    text(s)
}

pub(super) fn tty_data(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    let data = unhex(raw)?;
    let mut out = Vec::with_capacity(data.len() + 8);
    let mut in_text = false;
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        let seq = tables::TTY_SEQUENCES
            .iter()
            .find(|(s, _)| data[i..].starts_with(s));
        let key = match seq {
            Some((s, name)) => {
                i += s.len();
                Some(*name)
            }
            None => {
                i += 1;
                tables::tty_key(c)
            }
        };
        if let Some(k) = key {
            if in_text {
                out.push(b'"');
                in_text = false;
            }
            if !out.is_empty() {
                out.push(b',');
            }
            out.push(b'<');
            out.extend_from_slice(k.as_bytes());
            out.push(b'>');
            continue;
        }
        if !in_text {
            if !out.is_empty() {
                out.push(b',');
            }
            out.push(b'"');
            in_text = true;
        }
        if !(0x20..=0x7e).contains(&c) {
            out.extend_from_slice(format!("\\{:03o}", c).as_bytes());
        } else {
            if c == b'\\' || c == b'"' {
                out.push(b'\\');
            }
            out.push(c);
        }
    }
    if in_text {
        out.push(b'"');
    }
    Some(Cow::Owned(out))
}
