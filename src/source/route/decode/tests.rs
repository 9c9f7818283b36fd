//! Tests on bytes captured from kernel 6.18 by `testdata/capture.py`: monitor.bin holds the
//! notifications for the script's veth/address/route changes, dump.bin the replies to
//! RTM_GETLINK/GETADDR/GETROUTE dumps taken midway.

use super::*;
use crate::event::{Timestamp, Value};
use crate::source::route::events::{Origin, Tracker};

fn monitor() -> Vec<Parsed> {
    let buf = include_bytes!("../testdata/monitor.bin");
    messages(buf).map(|m| parse(&m.unwrap()).unwrap()).collect()
}

fn dump() -> Vec<Parsed> {
    let buf = include_bytes!("../testdata/dump.bin");
    messages(buf).map(|m| parse(&m.unwrap()).unwrap()).collect()
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn monitor_capture_decodes_every_change_the_script_made() {
    let all = monitor();
    let links: Vec<&Link> = all
        .iter()
        .filter_map(|p| match p {
            Parsed::Link(l) => Some(l),
            _ => None,
        })
        .collect();
    // Created as a pair, deleted as a pair (the peer goes with it).
    let first: Vec<(&[u8], bool)> = links[..2]
        .iter()
        .map(|l| (l.ifname.as_deref().unwrap(), l.new))
        .collect();
    assert_eq!(first, [(&b"cap1"[..], true), (&b"cap0"[..], true)]);
    let kind = |l: &Link| l.kind.clone();
    assert_eq!(kind(links[0]).as_deref(), Some(&b"veth"[..]));
    let last: Vec<(&[u8], bool)> = links[links.len() - 2..]
        .iter()
        .map(|l| (l.ifname.as_deref().unwrap(), l.new))
        .collect();
    assert!(last.iter().all(|(_, new)| !new), "{last:?}");
    let cap0 = links[1].index;
    // `ip link set cap0 up` with the peer down: UP flag set, not running, LOWERLAYERDOWN.
    assert!(links
        .iter()
        .any(|l| l.index == cap0 && l.flags & IFF_UP != 0 && l.operstate == Some(3)));
    // Once both ends are up, both report operstate UP.
    assert!(
        links
            .iter()
            .filter(|l| l.operstate == Some(IF_OPER_UP))
            .count()
            >= 2
    );
    assert!(links
        .iter()
        .all(|l| l.mtu == Some(1500) && l.address.as_ref().is_some_and(|a| a.len() == 6)));

    let addrs: Vec<(bool, Option<IpAddr>, u8, u32)> = all
        .iter()
        .filter_map(|p| match p {
            Parsed::Addr(a) => Some((a.new, a.own(), a.prefixlen, a.index)),
            _ => None,
        })
        .collect();
    for want in [
        (true, ip("10.99.0.1"), 24, cap0 as u32),
        (true, ip("fd99::1"), 64, cap0 as u32),
        (false, ip("10.99.0.1"), 24, cap0 as u32),
        (false, ip("fd99::1"), 64, cap0 as u32),
    ] {
        assert!(addrs.contains(&want), "{want:?} not in {addrs:?}");
    }

    let routes: Vec<&Route> = all
        .iter()
        .filter_map(|p| match p {
            Parsed::Route(r) => Some(r),
            _ => None,
        })
        .collect();
    let v4 = routes
        .iter()
        .find(|r| r.new && r.dst == ip("10.98.0.0"))
        .expect("NEWROUTE 10.98.0.0/16");
    assert_eq!(
        (v4.dst_len, v4.gateway, v4.oif, v4.table),
        (16, ip("10.99.0.2"), Some(cap0 as u32), 254)
    );
    assert_eq!((v4.protocol, v4.rtype, v4.family), (3, 1, AF_INET));
    assert!(routes.iter().any(|r| !r.new && r.dst == ip("10.98.0.0")));
    let v6 = routes
        .iter()
        .find(|r| r.new && r.dst == ip("fd98::"))
        .expect("NEWROUTE fd98::/64");
    assert_eq!(
        (v6.dst_len, v6.oif, v6.family),
        (64, Some(cap0 as u32), AF_INET6)
    );
    assert!(routes.iter().any(|r| !r.new && r.dst == ip("fd98::")));
    // The kernel's own routes for the address (local table) are reported too.
    assert!(routes
        .iter()
        .any(|r| r.table == 255 && r.dst == ip("10.99.0.1") && r.dst_len == 32));
}

#[test]
fn dump_capture_ends_each_table_with_done() {
    let all = dump();
    let dones = all.iter().filter(|p| **p == Parsed::Done).count();
    assert_eq!(dones, 3);
    let names: Vec<Vec<u8>> = all
        .iter()
        .filter_map(|p| match p {
            Parsed::Link(l) => l.ifname.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(names, [b"lo".to_vec(), b"cap1".to_vec(), b"cap0".to_vec()]);
    assert!(all
        .iter()
        .any(|p| matches!(p, Parsed::Addr(a) if a.own() == ip("fd99::1"))));
    assert!(all
        .iter()
        .any(|p| matches!(p, Parsed::Route(r) if r.dst == ip("fd99::1") && r.table == 255)));
}

fn truncations(buf: &[u8]) {
    for cut in 0..buf.len() {
        let res: Vec<_> = messages(&buf[..cut]).collect();
        for m in res.iter().flatten() {
            let _ = parse(m);
        }
        let whole_msgs = res.iter().all(|r| r.is_ok());
        assert!(
            whole_msgs || res.last().is_some_and(|r| r.is_err()),
            "cut {cut}"
        );
    }
}

#[test]
fn truncated_or_corrupt_input_is_an_error_not_a_panic() {
    truncations(include_bytes!("../testdata/monitor.bin"));
    truncations(include_bytes!("../testdata/dump.bin"));
    // Bodies shorter than their fixed header.
    for kind in [RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, NLMSG_ERROR] {
        let m = Msg {
            kind,
            flags: 0,
            seq: 0,
            pid: 0,
            body: &[0u8; 3],
        };
        assert!(matches!(parse(&m), Err(DecodeError::ShortBody { .. })));
    }
    // Attribute lengths pointing past the end stop the attribute walk only.
    let mut body = vec![0u8; 16];
    body.extend_from_slice(&[200, 0, 3, 0, b'x', 0, 0, 0]);
    let m = Msg {
        kind: RTM_NEWLINK,
        flags: 0,
        seq: 0,
        pid: 0,
        body: &body,
    };
    assert!(matches!(parse(&m), Ok(Parsed::Link(l)) if l.ifname.is_none()));
}

fn route_field<'a>(ev: &'a crate::event::Event, key: &str) -> Option<&'a Value> {
    match ev.extra.get("route") {
        Some(Value::Map(m)) => m.get(key),
        _ => None,
    }
}

#[test]
fn tracker_derives_link_up_and_down_from_state_changes() {
    let all = monitor();
    let mut t = Tracker::new();
    t.seed(&[]);
    let time = Timestamp { secs: 5, nanos: 0 };
    let evs: Vec<_> = all
        .iter()
        .flat_map(|p| t.events(p, 77, time, Origin::Live))
        .collect();
    let kinds: Vec<(&str, Option<&Value>)> = evs
        .iter()
        .filter(|e| e.kind.starts_with("LINK_"))
        .map(|e| (&*e.kind, route_field(e, "ifname")))
        .collect();
    let name = |s: &str| Some(Value::Bytes(s.into()));
    let (c0, c1) = (name("cap0"), name("cap1"));
    // Both go up when the second end comes up; cap1 down takes cap0's carrier with it.
    let want = vec![
        ("LINK_UP", c1.as_ref()),
        ("LINK_UP", c0.as_ref()),
        ("LINK_DOWN", c1.as_ref()),
        ("LINK_DOWN", c0.as_ref()),
    ];
    assert_eq!(kinds, want);
    let addr = evs.iter().find(|e| e.kind == "NEWADDR").unwrap();
    assert_eq!(
        route_field(addr, "prefix"),
        Some(&Value::from("10.99.0.1/24".to_string()))
    );
    assert_eq!(route_field(addr, "ifname"), c0.as_ref());
    assert_eq!(route_field(addr, "nl_pid"), Some(&Value::U64(77)));
    assert_eq!(
        addr.network.as_ref().unwrap().family.as_deref(),
        Some("ipv4")
    );
    let rt = evs
        .iter()
        .find(|e| {
            e.kind == "NEWROUTE"
                && route_field(e, "dst") == Some(&Value::from("10.98.0.0/16".to_string()))
        })
        .unwrap();
    assert_eq!(
        route_field(rt, "gateway"),
        Some(&Value::from("10.99.0.2".to_string()))
    );
    assert_eq!(route_field(rt, "table_name"), Some(&Value::from("main")));
    assert_eq!(route_field(rt, "ifname"), c0.as_ref());
    assert_eq!(evs.iter().filter(|e| e.kind == "DELLINK").count(), 2);
    assert!(evs.iter().all(|e| e.time == time));
}

#[test]
fn resync_reports_state_and_links_that_vanished_unseen() {
    let mut t = Tracker::new();
    let ghost = Link {
        new: true,
        index: 42,
        ifname: Some(b"ghost0".to_vec()),
        flags: IFF_UP | IFF_RUNNING,
        operstate: Some(IF_OPER_UP),
        ..Link::default()
    };
    t.seed(&[ghost]);
    let evs = t.resync(&dump(), Timestamp::default());
    assert_eq!(evs[0].kind, "LINK_DOWN");
    assert_eq!(evs[1].kind, "DELLINK");
    assert_eq!(
        route_field(&evs[1], "ifname"),
        Some(&Value::Bytes("ghost0".into()))
    );
    assert!(evs
        .iter()
        .all(|e| route_field(e, "resync") == Some(&Value::Bool(true))));
    let news = |k: &str| evs.iter().filter(|e| e.kind == k).count();
    assert_eq!(
        (news("NEWLINK"), news("NEWADDR") >= 2, news("NEWROUTE") >= 3),
        (3, true, true)
    );
    assert_eq!(t.ifname(42), None);
    assert!(t.ifname(1).is_some());
}

/// The events the captured notifications become, as JSON lines (fixed time, as the kernel
/// sent them otherwise). Regenerate with `LETRACE_BLESS=1 cargo test` and review the diff.
#[test]
fn golden_json() {
    let mut t = Tracker::new();
    let time = Timestamp {
        secs: 1_795_319_026,
        nanos: 0,
    };
    let buf = include_bytes!("../testdata/monitor.bin");
    let enc = crate::encode::Format::Json.encoder(false);
    let mut out = Vec::new();
    for m in messages(buf) {
        let m = m.unwrap();
        for ev in t.events(&parse(&m).unwrap(), m.pid, time, Origin::Live) {
            enc.encode(&ev, &mut out);
        }
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/source/route/testdata/monitor.golden.jsonl"
    );
    if std::env::var_os("LETRACE_BLESS").is_some() {
        std::fs::write(path, &out).unwrap();
    }
    let want = std::fs::read(path).expect("golden file; create with LETRACE_BLESS=1");
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&want)
    );
}
