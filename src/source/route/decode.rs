//! Pure decoding of rtnetlink messages (what `recv(2)` returns from a NETLINK_ROUTE socket):
//! `struct nlmsghdr` then `ifinfomsg` / `ifaddrmsg` / `rtmsg` and their `rtattr`s. No fd
//! here: tests feed bytes captured from the kernel (`testdata/capture.py`).
//!
//! Written by hand rather than with `netlink-packet-route`: the handful of structs and
//! attributes letrace reports fit in a few hundred lines, raw values stay raw (that crate turns
//! unknown values into enums that change between releases), and a malformed message becomes a
//! counted error instead of a dependency's panic or an API churn on upgrade.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;

/// `nlmsg_flags` bit set on dump replies when the dump raced a change and may be inconsistent.
pub const NLM_F_DUMP_INTR: u16 = 0x10;

pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

pub const IFF_UP: u32 = 0x1;
pub const IFF_RUNNING: u32 = 0x40;
pub const IF_OPER_UNKNOWN: u8 = 0;
pub const IF_OPER_UP: u8 = 6;

const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_MASTER: u16 = 10;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_CARRIER: u16 = 33;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;

const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_IIF: u16 = 3;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;

/// `IFF_*` flag names, as `ip link` prints them.
pub const IFF_NAMES: [(u32, &str); 19] = [
    (0x1, "UP"),
    (0x2, "BROADCAST"),
    (0x4, "DEBUG"),
    (0x8, "LOOPBACK"),
    (0x10, "POINTOPOINT"),
    (0x20, "NOTRAILERS"),
    (0x40, "RUNNING"),
    (0x80, "NOARP"),
    (0x100, "PROMISC"),
    (0x200, "ALLMULTI"),
    (0x400, "MASTER"),
    (0x800, "SLAVE"),
    (0x1000, "MULTICAST"),
    (0x2000, "PORTSEL"),
    (0x4000, "AUTOMEDIA"),
    (0x8000, "DYNAMIC"),
    (0x1_0000, "LOWER_UP"),
    (0x2_0000, "DORMANT"),
    (0x4_0000, "ECHO"),
];

/// `IFA_F_*` names.
pub const IFA_F_NAMES: [(u32, &str); 12] = [
    (0x01, "SECONDARY"),
    (0x02, "NODAD"),
    (0x04, "OPTIMISTIC"),
    (0x08, "DADFAILED"),
    (0x10, "HOMEADDRESS"),
    (0x20, "DEPRECATED"),
    (0x40, "TENTATIVE"),
    (0x80, "PERMANENT"),
    (0x100, "MANAGETEMPADDR"),
    (0x200, "NOPREFIXROUTE"),
    (0x400, "MCAUTOJOIN"),
    (0x800, "STABLE_PRIVACY"),
];

pub fn operstate_name(s: u8) -> &'static str {
    match s {
        0 => "UNKNOWN",
        1 => "NOTPRESENT",
        2 => "DOWN",
        3 => "LOWERLAYERDOWN",
        4 => "TESTING",
        5 => "DORMANT",
        6 => "UP",
        _ => "INVALID",
    }
}

pub fn scope_name(s: u8) -> Option<&'static str> {
    Some(match s {
        0 => "universe",
        200 => "site",
        253 => "link",
        254 => "host",
        255 => "nowhere",
        _ => return None,
    })
}

pub fn table_name(t: u32) -> Option<&'static str> {
    Some(match t {
        0 => "unspec",
        253 => "default",
        254 => "main",
        255 => "local",
        _ => return None,
    })
}

pub fn protocol_name(p: u8) -> Option<&'static str> {
    Some(match p {
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        3 => "boot",
        4 => "static",
        _ => return None,
    })
}

pub fn route_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0 => "unspec",
        1 => "unicast",
        2 => "local",
        3 => "broadcast",
        4 => "anycast",
        5 => "multicast",
        6 => "blackhole",
        7 => "unreachable",
        8 => "prohibit",
        9 => "throw",
        10 => "nat",
        _ => return None,
    })
}

/// The names of the bits set in `v`, in bit order.
pub fn flag_names(v: u32, table: &[(u32, &'static str)]) -> Vec<&'static str> {
    table
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|&(_, n)| n)
        .collect()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("truncated netlink message at byte {offset}: need {need} bytes, have {have}")]
    Truncated {
        offset: usize,
        need: usize,
        have: usize,
    },
    #[error("netlink message type {kind} too short for its header: {len} bytes")]
    ShortBody { kind: u16, len: usize },
}

/// One netlink message: header fields and the bytes after the 16-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    /// The sender's port id: for notifications, the socket of the process that made the
    /// change (usually its pid); 0 when the kernel itself did.
    pub pid: u32,
    pub body: &'a [u8],
}

const NLMSG_HDR: usize = 16;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Iterates the messages in a buffer (one `recv`, or several concatenated).
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { buf, off: 0 }
}

pub struct Messages<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Msg<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.off..).filter(|r| !r.is_empty())?;
        let offset = self.off;
        let fail = |need: usize| {
            Some(Err(DecodeError::Truncated {
                offset,
                need,
                have: rest.len(),
            }))
        };
        if rest.len() < NLMSG_HDR {
            self.off = self.buf.len();
            return fail(NLMSG_HDR);
        }
        let len = u32_at(rest, 0) as usize;
        if len < NLMSG_HDR || len > rest.len() {
            self.off = self.buf.len();
            return fail(len.max(NLMSG_HDR));
        }
        self.off += align4(len).min(rest.len());
        Some(Ok(Msg {
            kind: u16_at(rest, 4),
            flags: u16_at(rest, 6),
            seq: u32_at(rest, 8),
            pid: u32_at(rest, 12),
            body: &rest[NLMSG_HDR..len],
        }))
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_ne_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// `struct rtattr` list: (type without the NLA_F_NESTED/NET_BYTEORDER bits, payload).
/// A malformed tail ends the list (the kernel never sends one; the fixed fields stay usable).
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16_at(b, 0) as usize;
        let kind = u16_at(b, 2) & 0x3fff;
        if len < 4 || len > b.len() {
            return None;
        }
        let payload = &b[4..len];
        b = &b[align4(len).min(b.len())..];
        Some((kind, payload))
    })
}

fn attr_u32(p: &[u8]) -> Option<u32> {
    (p.len() >= 4).then(|| u32_at(p, 0))
}

/// A C string attribute without its NUL.
fn attr_str(p: &[u8]) -> Vec<u8> {
    p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())].to_vec()
}

pub fn ip_from(family: u8, p: &[u8]) -> Option<IpAddr> {
    match (family, p.len()) {
        (AF_INET, 4) => Some(IpAddr::V4(Ipv4Addr::new(p[0], p[1], p[2], p[3]))),
        (AF_INET6, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(p);
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

/// `aa:bb:cc:dd:ee:ff` (any length, like `ip link`).
pub fn hw_addr(p: &[u8]) -> String {
    let mut s = String::with_capacity(p.len() * 3);
    for (i, b) in p.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// RTM_NEWLINK / RTM_DELLINK.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub new: bool,
    pub family: u8,
    /// `ARPHRD_*`.
    pub link_type: u16,
    pub index: i32,
    pub flags: u32,
    pub change: u32,
    pub ifname: Option<Vec<u8>>,
    pub operstate: Option<u8>,
    pub mtu: Option<u32>,
    pub address: Option<Vec<u8>>,
    pub broadcast: Option<Vec<u8>>,
    pub link: Option<u32>,
    pub master: Option<u32>,
    pub carrier: Option<u8>,
    /// `IFLA_INFO_KIND`: `veth`, `bridge`, ...
    pub kind: Option<Vec<u8>>,
}

impl Link {
    /// Whether the interface can pass traffic: operstate UP, or, for drivers that do not
    /// report an operstate (UNKNOWN, like `lo`), administratively up and running.
    pub fn is_up(&self) -> bool {
        match self.operstate {
            Some(IF_OPER_UP) => true,
            Some(IF_OPER_UNKNOWN) | None => {
                self.flags & (IFF_UP | IFF_RUNNING) == IFF_UP | IFF_RUNNING
            }
            Some(_) => false,
        }
    }
}

/// RTM_NEWADDR / RTM_DELADDR.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Addr {
    pub new: bool,
    pub family: u8,
    pub prefixlen: u8,
    /// `IFA_FLAGS` when present (32 bits), else `ifa_flags` (8 bits).
    pub flags: u32,
    pub scope: u8,
    pub index: u32,
    /// `IFA_ADDRESS`: the peer on point-to-point links, else the same as `local`.
    pub address: Option<IpAddr>,
    /// `IFA_LOCAL`: the interface's own address (IPv4).
    pub local: Option<IpAddr>,
    pub broadcast: Option<IpAddr>,
    pub label: Option<Vec<u8>>,
}

impl Addr {
    /// The interface's own address: IFA_LOCAL where the kernel sends it (IPv4), else
    /// IFA_ADDRESS (IPv6 sends only that).
    pub fn own(&self) -> Option<IpAddr> {
        self.local.or(self.address)
    }
}

/// One hop of a multipath route.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NextHop {
    pub ifindex: i32,
    pub gateway: Option<IpAddr>,
}

/// RTM_NEWROUTE / RTM_DELROUTE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    pub new: bool,
    pub family: u8,
    pub dst_len: u8,
    pub src_len: u8,
    pub tos: u8,
    /// `RTA_TABLE` when present (32 bits), else `rtm_table`.
    pub table: u32,
    pub protocol: u8,
    pub scope: u8,
    pub rtype: u8,
    pub flags: u32,
    pub dst: Option<IpAddr>,
    pub src: Option<IpAddr>,
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
    pub iif: Option<u32>,
    pub priority: Option<u32>,
    pub prefsrc: Option<IpAddr>,
    pub multipath: Vec<NextHop>,
}

impl Route {
    /// The all-zero address of the family, for routes without RTA_DST (default routes).
    pub fn unspecified(&self) -> Option<IpAddr> {
        match self.family {
            AF_INET => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            AF_INET6 => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            _ => None,
        }
    }
}

/// What one message means to letrace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Link(Link),
    Addr(Addr),
    Route(Route),
    /// End of a dump.
    Done,
    /// NLMSG_ERROR: 0 is an ACK, otherwise a negative errno.
    Error(i32),
    /// A type letrace does not report (NLMSG_NOOP, neighbour, ...).
    Other(u16),
}

pub fn parse(m: &Msg<'_>) -> Result<Parsed, DecodeError> {
    let b = m.body;
    let short = |need: usize| -> Result<(), DecodeError> {
        if b.len() < need {
            Err(DecodeError::ShortBody {
                kind: m.kind,
                len: b.len(),
            })
        } else {
            Ok(())
        }
    };
    match m.kind {
        RTM_NEWLINK | RTM_DELLINK => {
            short(16)?;
            let mut l = Link {
                new: m.kind == RTM_NEWLINK,
                family: b[0],
                link_type: u16_at(b, 2),
                index: u32_at(b, 4) as i32,
                flags: u32_at(b, 8),
                change: u32_at(b, 12),
                ..Link::default()
            };
            for (t, p) in attrs(&b[16..]) {
                match t {
                    IFLA_IFNAME => l.ifname = Some(attr_str(p)),
                    IFLA_ADDRESS => l.address = Some(p.to_vec()),
                    IFLA_BROADCAST => l.broadcast = Some(p.to_vec()),
                    IFLA_MTU => l.mtu = attr_u32(p),
                    IFLA_LINK => l.link = attr_u32(p),
                    IFLA_MASTER => l.master = attr_u32(p),
                    IFLA_OPERSTATE => l.operstate = p.first().copied(),
                    IFLA_CARRIER => l.carrier = p.first().copied(),
                    IFLA_LINKINFO => {
                        l.kind = attrs(p)
                            .find(|(t, _)| *t == IFLA_INFO_KIND)
                            .map(|(_, k)| attr_str(k));
                    }
                    _ => {}
                }
            }
            Ok(Parsed::Link(l))
        }
        RTM_NEWADDR | RTM_DELADDR => {
            short(8)?;
            let family = b[0];
            let mut a = Addr {
                new: m.kind == RTM_NEWADDR,
                family,
                prefixlen: b[1],
                flags: b[2].into(),
                scope: b[3],
                index: u32_at(b, 4),
                ..Addr::default()
            };
            for (t, p) in attrs(&b[8..]) {
                match t {
                    IFA_ADDRESS => a.address = ip_from(family, p),
                    IFA_LOCAL => a.local = ip_from(family, p),
                    IFA_BROADCAST => a.broadcast = ip_from(family, p),
                    IFA_LABEL => a.label = Some(attr_str(p)),
                    IFA_FLAGS => a.flags = attr_u32(p).unwrap_or(a.flags),
                    _ => {}
                }
            }
            Ok(Parsed::Addr(a))
        }
        RTM_NEWROUTE | RTM_DELROUTE => {
            short(12)?;
            let family = b[0];
            let mut r = Route {
                new: m.kind == RTM_NEWROUTE,
                family,
                dst_len: b[1],
                src_len: b[2],
                tos: b[3],
                table: b[4].into(),
                protocol: b[5],
                scope: b[6],
                rtype: b[7],
                flags: u32_at(b, 8),
                ..Route::default()
            };
            for (t, p) in attrs(&b[12..]) {
                match t {
                    RTA_DST => r.dst = ip_from(family, p),
                    RTA_SRC => r.src = ip_from(family, p),
                    RTA_GATEWAY => r.gateway = ip_from(family, p),
                    RTA_OIF => r.oif = attr_u32(p),
                    RTA_IIF => r.iif = attr_u32(p),
                    RTA_PRIORITY => r.priority = attr_u32(p),
                    RTA_PREFSRC => r.prefsrc = ip_from(family, p),
                    RTA_TABLE => r.table = attr_u32(p).unwrap_or(r.table),
                    RTA_MULTIPATH => r.multipath = next_hops(family, p),
                    _ => {}
                }
            }
            Ok(Parsed::Route(r))
        }
        NLMSG_DONE => Ok(Parsed::Done),
        NLMSG_ERROR => {
            short(4)?;
            Ok(Parsed::Error(u32_at(b, 0) as i32))
        }
        other => Ok(Parsed::Other(other)),
    }
}

/// `struct rtnexthop { u16 len; u8 flags; u8 hops; int ifindex; }` + attributes, repeated.
fn next_hops(family: u8, mut p: &[u8]) -> Vec<NextHop> {
    let mut out = Vec::new();
    while p.len() >= 8 {
        let len = u16_at(p, 0) as usize;
        if len < 8 || len > p.len() {
            break;
        }
        let gateway = attrs(&p[8..len])
            .find(|(t, _)| *t == RTA_GATEWAY)
            .and_then(|(_, g)| ip_from(family, g));
        out.push(NextHop {
            ifindex: u32_at(p, 4) as i32,
            gateway,
        });
        p = &p[align4(len).min(p.len())..];
    }
    out
}

#[cfg(test)]
mod tests;
