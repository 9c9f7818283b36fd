//! Parsed rtnetlink messages -> events, and the per-link state that LINK_UP / LINK_DOWN are
//! derived from. Pure: no socket here.

use std::collections::HashMap;
use std::net::IpAddr;

use super::decode::{
    flag_names, hw_addr, operstate_name, protocol_name, route_type_name, scope_name, table_name,
    Addr, Link, Parsed, Route, AF_INET, AF_INET6, IFA_F_NAMES, IFF_NAMES,
};
use crate::event::{Bytes, Event, Map, Network, SourceKind, Timestamp, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
struct LinkState {
    name: Vec<u8>,
    up: bool,
}

/// Link table: index -> name and up/down. Bounded by the interfaces that exist (DELLINK
/// removes an entry).
#[derive(Debug, Default)]
pub struct Tracker {
    links: HashMap<i32, LinkState>,
}

/// Where an event came from: a live notification, or the dump after a loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Live,
    Resync,
}

impl Tracker {
    pub fn new() -> Self {
        Tracker::default()
    }

    /// Records the links of a start-up dump without reporting them: they are the "before"
    /// that the first LINK_UP/LINK_DOWN is measured against.
    pub fn seed(&mut self, links: &[Link]) {
        for l in links {
            self.remember(l);
        }
    }

    pub fn ifname(&self, index: i32) -> Option<&[u8]> {
        self.links.get(&index).map(|s| s.name.as_slice())
    }

    pub fn is_up(&self, index: i32) -> Option<bool> {
        self.links.get(&index).map(|s| s.up)
    }

    fn remember(&mut self, l: &Link) {
        let name = l
            .ifname
            .clone()
            .or_else(|| self.ifname(l.index).map(<[u8]>::to_vec))
            .unwrap_or_default();
        self.links.insert(
            l.index,
            LinkState {
                name,
                up: l.is_up(),
            },
        );
    }

    /// The events for one message. `nl_pid` is the sender's port id (0: the kernel).
    pub fn events(
        &mut self,
        p: &Parsed,
        nl_pid: u32,
        time: Timestamp,
        origin: Origin,
    ) -> Vec<Event> {
        let mut out = Vec::new();
        match p {
            Parsed::Link(l) => self.link_events(l, nl_pid, time, origin, &mut out),
            Parsed::Addr(a) => out.push(addr_event(
                a,
                self.ifname(a.index as i32),
                nl_pid,
                time,
                origin,
            )),
            Parsed::Route(r) => {
                let name = r.oif.and_then(|i| self.ifname(i as i32));
                out.push(route_event(r, name, nl_pid, time, origin));
            }
            Parsed::Done | Parsed::Error(_) | Parsed::Other(_) => {}
        }
        out
    }

    fn link_events(
        &mut self,
        l: &Link,
        nl_pid: u32,
        time: Timestamp,
        origin: Origin,
        out: &mut Vec<Event>,
    ) {
        let was_up = self.is_up(l.index).unwrap_or(false);
        if l.new {
            self.remember(l);
            out.push(link_event(l, "NEWLINK", nl_pid, time, origin));
            let up = l.is_up();
            if up != was_up {
                out.push(link_event(
                    l,
                    if up { "LINK_UP" } else { "LINK_DOWN" },
                    nl_pid,
                    time,
                    origin,
                ));
            }
        } else {
            // A link deleted while up is down from now on; say so before it goes.
            if was_up {
                let mut down = link_event(l, "LINK_DOWN", nl_pid, time, origin);
                if let Some(m) = route_map(&mut down) {
                    m.insert("deleted", true);
                }
                out.push(down);
            }
            self.links.remove(&l.index);
            out.push(link_event(l, "DELLINK", nl_pid, time, origin));
        }
    }

    /// After a loss: reports the dumped state (NEWLINK/NEWADDR/NEWROUTE marked `resync`),
    /// LINK_UP/LINK_DOWN where a link's state changed unseen, and DELLINK for links that
    /// vanished unseen. Afterwards the link table matches the kernel again.
    pub fn resync(&mut self, dump: &[Parsed], time: Timestamp) -> Vec<Event> {
        let mut out = Vec::new();
        let mut present = std::collections::HashSet::new();
        for p in dump {
            if let Parsed::Link(l) = p {
                present.insert(l.index);
            }
        }
        let mut gone: Vec<(i32, Vec<u8>, bool)> = self
            .links
            .iter()
            .filter(|(i, _)| !present.contains(i))
            .map(|(i, s)| (*i, s.name.clone(), s.up))
            .collect();
        gone.sort();
        for (index, name, _) in gone {
            let l = Link {
                index,
                ifname: Some(name),
                ..Link::default()
            };
            self.link_events(&l, 0, time, Origin::Resync, &mut out);
        }
        for p in dump {
            out.extend(self.events(p, 0, time, Origin::Resync));
        }
        out
    }
}

fn family_name(f: u8) -> Option<&'static str> {
    match f {
        AF_INET => Some("ipv4"),
        AF_INET6 => Some("ipv6"),
        _ => None,
    }
}

fn base(kind: &'static str, time: Timestamp, origin: Origin) -> (Event, Map) {
    let mut ev = Event::new(SourceKind::Route, kind);
    ev.time = time;
    let mut m = Map::new();
    if origin == Origin::Resync {
        m.insert("resync", true);
    }
    (ev, m)
}

fn finish(mut ev: Event, mut m: Map, nl_pid: u32) -> Event {
    if nl_pid != 0 {
        m.insert("nl_pid", nl_pid);
    }
    ev.extra.insert("route", m);
    ev
}

/// The `route` map of an event built here.
pub fn route_map(ev: &mut Event) -> Option<&mut Map> {
    match ev.extra.0.iter_mut().find(|(k, _)| k == "route") {
        Some((_, Value::Map(m))) => Some(m),
        _ => None,
    }
}

fn names(v: Vec<&'static str>) -> Value {
    Value::List(v.into_iter().map(Value::from).collect())
}

pub fn link_event(
    l: &Link,
    kind: &'static str,
    nl_pid: u32,
    time: Timestamp,
    origin: Origin,
) -> Event {
    let (ev, mut m) = base(kind, time, origin);
    m.insert("ifindex", l.index);
    if let Some(n) = &l.ifname {
        m.insert("ifname", Bytes(n.clone()));
    }
    if let Some(s) = l.operstate {
        m.insert("operstate", operstate_name(s));
        m.insert("operstate_raw", u32::from(s));
    }
    if l.new {
        m.insert("up", l.is_up());
    }
    m.insert("flags", l.flags);
    m.insert("flag_names", names(flag_names(l.flags, &IFF_NAMES)));
    m.insert("change", l.change);
    m.insert("link_type", u32::from(l.link_type));
    if let Some(k) = &l.kind {
        m.insert("kind", Bytes(k.clone()));
    }
    if let Some(v) = l.mtu {
        m.insert("mtu", v);
    }
    if let Some(a) = &l.address {
        m.insert("address", hw_addr(a));
    }
    if let Some(c) = l.carrier {
        m.insert("carrier", u32::from(c));
    }
    if let Some(v) = l.master {
        m.insert("master", v);
    }
    if let Some(v) = l.link {
        m.insert("link", v);
    }
    finish(ev, m, nl_pid)
}

fn network(family: u8) -> Option<Box<Network>> {
    family_name(family).map(|f| {
        Box::new(Network {
            family: Some(f.into()),
            ..Network::default()
        })
    })
}

pub fn addr_event(
    a: &Addr,
    ifname: Option<&[u8]>,
    nl_pid: u32,
    time: Timestamp,
    origin: Origin,
) -> Event {
    let (mut ev, mut m) = base(if a.new { "NEWADDR" } else { "DELADDR" }, time, origin);
    ev.network = network(a.family);
    m.insert("ifindex", a.index);
    if let Some(n) = ifname {
        m.insert("ifname", Bytes(n.to_vec()));
    }
    let own = a.own();
    if let Some(ip) = own {
        m.insert("address", ip.to_string());
        m.insert("prefix", format!("{ip}/{}", a.prefixlen));
    }
    m.insert("prefixlen", u32::from(a.prefixlen));
    if let (Some(peer), Some(local)) = (a.address, a.local) {
        if peer != local {
            m.insert("peer", peer.to_string());
        }
    }
    if let Some(b) = a.broadcast {
        m.insert("broadcast", b.to_string());
    }
    if let Some(l) = &a.label {
        m.insert("label", Bytes(l.clone()));
    }
    m.insert("scope", u32::from(a.scope));
    if let Some(s) = scope_name(a.scope) {
        m.insert("scope_name", s);
    }
    m.insert("flags", a.flags);
    m.insert("flag_names", names(flag_names(a.flags, &IFA_F_NAMES)));
    finish(ev, m, nl_pid)
}

fn with_len(ip: Option<IpAddr>, len: u8) -> Option<String> {
    ip.map(|ip| format!("{ip}/{len}"))
}

pub fn route_event(
    r: &Route,
    ifname: Option<&[u8]>,
    nl_pid: u32,
    time: Timestamp,
    origin: Origin,
) -> Event {
    let (mut ev, mut m) = base(if r.new { "NEWROUTE" } else { "DELROUTE" }, time, origin);
    ev.network = network(r.family);
    if let Some(d) = with_len(r.dst.or_else(|| r.unspecified()), r.dst_len) {
        m.insert("dst", d);
    }
    m.insert("dst_len", u32::from(r.dst_len));
    if let Some(s) = with_len(r.src, r.src_len) {
        m.insert("src", s);
    }
    if let Some(g) = r.gateway {
        m.insert("gateway", g.to_string());
    }
    if let Some(i) = r.oif {
        m.insert("ifindex", i);
    }
    if let Some(n) = ifname {
        m.insert("ifname", Bytes(n.to_vec()));
    }
    if let Some(i) = r.iif {
        m.insert("iif", i);
    }
    if let Some(p) = r.prefsrc {
        m.insert("prefsrc", p.to_string());
    }
    if let Some(p) = r.priority {
        m.insert("priority", p);
    }
    m.insert("table", r.table);
    if let Some(n) = table_name(r.table) {
        m.insert("table_name", n);
    }
    m.insert("protocol", u32::from(r.protocol));
    if let Some(n) = protocol_name(r.protocol) {
        m.insert("protocol_name", n);
    }
    m.insert("scope", u32::from(r.scope));
    if let Some(n) = scope_name(r.scope) {
        m.insert("scope_name", n);
    }
    m.insert("route_type", u32::from(r.rtype));
    if let Some(n) = route_type_name(r.rtype) {
        m.insert("route_type_name", n);
    }
    if r.tos != 0 {
        m.insert("tos", u32::from(r.tos));
    }
    m.insert("flags", r.flags);
    if !r.multipath.is_empty() {
        let hops = r
            .multipath
            .iter()
            .map(|h| {
                let mut hm = Map::new().with("ifindex", h.ifindex);
                if let Some(g) = h.gateway {
                    hm.insert("gateway", g.to_string());
                }
                Value::Map(hm)
            })
            .collect();
        m.insert("nexthops", Value::List(hops));
    }
    finish(ev, m, nl_pid)
}
