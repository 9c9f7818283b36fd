//! Kernel tests for the `route` source: each test makes its own network namespace, runs
//! `letrace record -s route` inside it, changes links, addresses and routes there, and checks
//! that every change is in the JSON, XML and CSV output (the three compared field for field).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::flat::{find, matches, read_all, Flat};
use common::{kernel_lock, letrace, need_root, need_tool, Recorder};

/// A network namespace that is deleted when the test ends, also when it fails.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "letrace-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        run(Command::new("ip").args(["netns", "add", &name]));
        Netns(name)
    }

    /// `ip -n NS ARGS...`, which must succeed.
    fn ip(&self, args: &[&str]) {
        run(Command::new("ip").arg("-n").arg(&self.0).args(args));
    }
}

impl Netns {
    /// Waits until `dev` shows `state STATE` (operstate). Carrier changes reach operstate
    /// through the kernel's linkwatch, which may run up to a second later; waiting keeps
    /// the order of events in the log the order of the commands.
    fn wait_state(&self, dev: &str, state: &str) {
        let want = format!("state {state} ");
        let t0 = Instant::now();
        loop {
            let out = Command::new("ip")
                .args(["-n", &self.0, "-o", "link", "show", dev])
                .output()
                .expect("ip link show");
            if String::from_utf8_lossy(&out.stdout).contains(&want) {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{dev} never got {want:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `letrace record -s route EXTRA` inside the namespace (`ip netns exec` execs letrace, so
/// the child's pid is letrace's and signals reach it).
fn start_in(ns: &Netns, extra: &[&str], dir: &Path, stem: &str) -> Recorder {
    let bin = letrace().get_program().to_owned();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.0])
        .arg(bin)
        .args(["record", "-s", "route"])
        .args(extra);
    Recorder::start_outputs(&mut cmd, dir, stem)
}

fn ready() -> bool {
    need_root() && need_tool("ip")
}

#[test]
fn every_link_address_and_route_change_is_recorded_in_all_formats() {
    if !ready() {
        return;
    }
    let _lock = kernel_lock();
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let rec = start_in(&ns, &[], dir.path(), "route");

    ns.ip(&["link", "add", "lt0", "type", "veth", "peer", "name", "lt1"]);
    ns.ip(&["link", "set", "lt0", "mtu", "1400"]);
    ns.ip(&["addr", "add", "10.77.0.1/24", "dev", "lt0"]);
    ns.ip(&["addr", "add", "fd77::1/64", "dev", "lt0", "nodad"]);
    ns.ip(&["link", "set", "lt0", "up"]);
    ns.ip(&["link", "set", "lt1", "up"]);
    ns.wait_state("lt0", "UP");
    ns.wait_state("lt1", "UP");
    ns.ip(&[
        "route",
        "add",
        "10.78.0.0/16",
        "via",
        "10.77.0.2",
        "dev",
        "lt0",
    ]);
    ns.ip(&["-6", "route", "add", "fd78::/64", "dev", "lt0"]);
    ns.ip(&["route", "del", "10.78.0.0/16"]);
    ns.ip(&["-6", "route", "del", "fd78::/64"]);
    ns.ip(&["link", "set", "lt1", "down"]);
    ns.wait_state("lt0", "LOWERLAYERDOWN");
    ns.ip(&["addr", "del", "10.77.0.1/24", "dev", "lt0"]);
    ns.ip(&["addr", "del", "fd77::1/64", "dev", "lt0"]);
    ns.ip(&["link", "del", "lt0"]);
    let stderr = rec.stop_ok();
    assert!(stderr.contains("0 lost"), "{stderr}");

    let evs = read_all(dir.path(), "route");
    assert!(evs.iter().all(|e| matches(e, &[("source", "route")])));
    assert!(evs.iter().all(|e| !e.contains_key("route.resync")));
    // In the order they were made; each `find` starts after the previous match.
    let t = |ty| ("type", ty);
    let lt0 = ("route.ifname", "lt0");
    let lt1 = ("route.ifname", "lt1");
    let i = find(
        &evs,
        0,
        &[
            t("NEWLINK"),
            lt0,
            ("route.kind", "veth"),
            ("route.up", "false"),
        ],
    );
    find(&evs, 0, &[t("NEWLINK"), lt1, ("route.kind", "veth")]);
    let i = find(&evs, i + 1, &[t("NEWLINK"), lt0, ("route.mtu", "1400")]);
    let addr4 = find(
        &evs,
        i + 1,
        &[
            t("NEWADDR"),
            lt0,
            ("network.family", "ipv4"),
            ("route.address", "10.77.0.1"),
            ("route.prefix", "10.77.0.1/24"),
            ("route.prefixlen", "24"),
        ],
    );
    // Not chained into the order: IPv6 may announce an address added to a down link only
    // once the link comes up.
    find(
        &evs,
        addr4 + 1,
        &[
            t("NEWADDR"),
            lt0,
            ("network.family", "ipv6"),
            ("route.prefix", "fd77::1/64"),
        ],
    );
    // lt0 is admin-up but has no carrier until lt1 is up too: no LINK_UP yet.
    let up_flag = find(
        &evs,
        addr4 + 1,
        &[
            t("NEWLINK"),
            lt0,
            ("route.flag_names[0]", "UP"),
            ("route.operstate", "LOWERLAYERDOWN"),
        ],
    );
    let j = find(&evs, up_flag + 1, &[t("LINK_UP")]);
    let up0 = find(
        &evs,
        up_flag + 1,
        &[t("LINK_UP"), lt0, ("route.operstate", "UP")],
    );
    let up1 = find(
        &evs,
        up_flag + 1,
        &[t("LINK_UP"), lt1, ("route.operstate", "UP")],
    );
    assert!(j == up0.min(up1));
    let i = find(
        &evs,
        up0.max(up1) + 1,
        &[
            t("NEWROUTE"),
            ("network.family", "ipv4"),
            ("route.dst", "10.78.0.0/16"),
            ("route.gateway", "10.77.0.2"),
            lt0,
            ("route.table_name", "main"),
            ("route.protocol_name", "boot"),
        ],
    );
    let i = find(
        &evs,
        i + 1,
        &[
            t("NEWROUTE"),
            ("network.family", "ipv6"),
            ("route.dst", "fd78::/64"),
            lt0,
        ],
    );
    let i = find(
        &evs,
        i + 1,
        &[
            t("DELROUTE"),
            ("route.dst", "10.78.0.0/16"),
            ("route.gateway", "10.77.0.2"),
        ],
    );
    let i = find(&evs, i + 1, &[t("DELROUTE"), ("route.dst", "fd78::/64")]);
    let down1 = find(
        &evs,
        i + 1,
        &[t("LINK_DOWN"), lt1, ("route.operstate", "DOWN")],
    );
    let down0 = find(
        &evs,
        i + 1,
        &[t("LINK_DOWN"), lt0, ("route.operstate", "LOWERLAYERDOWN")],
    );
    let i = find(
        &evs,
        down0.max(down1) + 1,
        &[t("DELADDR"), lt0, ("route.prefix", "10.77.0.1/24")],
    );
    let i = find(
        &evs,
        i + 1,
        &[t("DELADDR"), lt0, ("route.prefix", "fd77::1/64")],
    );
    find(&evs, i + 1, &[t("DELLINK"), lt0]);
    find(&evs, i + 1, &[t("DELLINK"), lt1]);
    // Address changes made by `ip` carry its netlink port id (link state changes come
    // from the kernel's notifier, port id 0, so they have none).
    assert!(evs[addr4].contains_key("route.nl_pid"), "{:?}", evs[addr4]);
}

#[test]
fn kernel_overflow_is_a_lost_event_followed_by_a_resync() {
    if !ready() {
        return;
    }
    let _lock = kernel_lock();
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    // Links that exist before letrace starts: its start-up dump knows them as down.
    ns.ip(&["link", "add", "lv0", "type", "veth", "peer", "name", "lv1"]);
    ns.ip(&["link", "add", "lv2", "type", "veth", "peer", "name", "lv3"]);
    // The smallest receive buffer the kernel allows: a burst cannot fit.
    let rec = start_in(&ns, &["--route-rcvbuf", "1"], dir.path(), "lost");
    const N: usize = 200;
    let batch = dir.path().join("burst.batch");
    let lines: String = (1..=N)
        .map(|n| format!("addr add 10.79.{}.{}/32 dev lo\n", n / 250, n % 250 + 1))
        .collect();
    std::fs::write(&batch, lines).unwrap();
    rec.signal(libc::SIGSTOP);
    ns.ip(&["-batch", batch.to_str().unwrap()]);
    // After the burst has filled the buffer: these notifications are surely dropped, so
    // only the resync can tell letrace that lv0/lv1 are up now and lv2/lv3 are gone.
    ns.ip(&["link", "set", "lv0", "up"]);
    ns.ip(&["link", "set", "lv1", "up"]);
    ns.ip(&["link", "del", "lv2"]);
    ns.wait_state("lv0", "UP");
    ns.wait_state("lv1", "UP");
    rec.signal(libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(700));
    // A change after the resync is reported live again.
    ns.ip(&["addr", "add", "10.80.0.1/32", "dev", "lo"]);
    let stderr = rec.stop_ok();

    let evs = read_all(dir.path(), "lost");
    let lost = find(
        &evs,
        0,
        &[
            ("type", "LOST"),
            ("source", "route"),
            ("lost_exact", "false"),
            ("reason", "netlink ENOBUFS"),
        ],
    );
    assert_eq!(
        evs[lost].get("lost").map(String::as_str),
        Some("1"),
        "lower bound"
    );
    assert!(
        !stderr.contains(" 0 lost"),
        "totals must count the loss: {stderr}"
    );
    // Nothing before the loss claims to be a resync; the dump follows it.
    assert!(evs[..lost].iter().all(|e| !e.contains_key("route.resync")));
    let resync = find(&evs, lost + 1, &[("route.resync", "true")]);
    // The link state is right again: changes made while notifications were dropped.
    for (ty, name) in [
        ("LINK_UP", "lv0"),
        ("LINK_UP", "lv1"),
        ("DELLINK", "lv2"),
        ("DELLINK", "lv3"),
    ] {
        find(
            &evs,
            lost + 1,
            &[
                ("type", ty),
                ("route.ifname", name),
                ("route.resync", "true"),
            ],
        );
        assert!(
            evs[..lost]
                .iter()
                .all(|e| !matches(e, &[("type", ty), ("route.ifname", name)])),
            "{ty} {name} before the loss"
        );
    }
    find(
        &evs,
        resync,
        &[
            ("type", "NEWLINK"),
            ("route.ifname", "lo"),
            ("route.resync", "true"),
        ],
    );
    // Every address of the burst is in the log: live before the loss or in the resync.
    let addrs: std::collections::HashSet<&str> = evs
        .iter()
        .filter(|e| matches(e, &[("type", "NEWADDR")]))
        .filter_map(|e| e.get("route.address").map(String::as_str))
        .collect();
    for n in 1..=N {
        let a = format!("10.79.{}.{}", n / 250, n % 250 + 1);
        assert!(addrs.contains(a.as_str()), "{a} missing from the log");
    }
    let resynced = evs[lost..]
        .iter()
        .filter(|e| matches(e, &[("type", "NEWADDR"), ("route.resync", "true")]))
        .count();
    assert!(resynced >= N, "only {resynced} addresses in the resync");
    let marker = find(
        &evs,
        resync,
        &[("type", "NEWADDR"), ("route.address", "10.80.0.1")],
    );
    let _: &Flat = &evs[marker];
}

#[test]
fn other_namespaces_are_watched_by_name_and_told_apart() {
    if !ready() {
        return;
    }
    let _lock = kernel_lock();
    let (a, b) = (Netns::new(), Netns::new());
    let dir = tempfile::tempdir().unwrap();
    let (sa, sb) = (format!("route:{}", a.0), format!("route:{}", b.0));
    let rec = Recorder::start_outputs(
        letrace().args(["record", "-s", &sa, "-s", &sb]),
        dir.path(),
        "two",
    );
    a.ip(&["addr", "add", "10.81.0.1/32", "dev", "lo"]);
    b.ip(&["addr", "add", "10.82.0.1/32", "dev", "lo"]);
    a.ip(&["link", "add", "la0", "type", "veth", "peer", "name", "la1"]);
    rec.stop_ok();
    let evs = read_all(dir.path(), "two");
    let in_a = ("route.netns", a.0.as_str());
    let in_b = ("route.netns", b.0.as_str());
    find(
        &evs,
        0,
        &[("type", "NEWADDR"), ("route.address", "10.81.0.1"), in_a],
    );
    find(
        &evs,
        0,
        &[("type", "NEWADDR"), ("route.address", "10.82.0.1"), in_b],
    );
    find(
        &evs,
        0,
        &[("type", "NEWLINK"), ("route.ifname", "la0"), in_a],
    );
    assert!(evs
        .iter()
        .all(|e| matches(e, &[in_a]) || matches(e, &[in_b])));
    assert!(!evs
        .iter()
        .any(|e| matches(e, &[("route.address", "10.82.0.1"), in_a])));
    assert!(!evs
        .iter()
        .any(|e| matches(e, &[("route.ifname", "la0"), in_b])));
}
