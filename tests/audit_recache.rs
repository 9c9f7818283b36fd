//! The fast path's cache of rendered records (src/audit/recache.rs): a record found in the
//! cache writes exactly the bytes its rendering writes. Every event is rendered by a
//! `Builder` that has seen the same records before (in this event and in others, in other
//! places and with other summaries around them) and compared with a fresh `Builder`'s
//! rendering (nothing cached).

mod common;

use letrace::audit::coalesce::{Config, Output, RawEvent};
use letrace::audit::event::Builder;
use letrace::audit::parse::parse_bytes;

fn events(log: &[u8]) -> Vec<RawEvent> {
    let (out, _) = parse_bytes(log, Config::default());
    out.into_iter()
        .filter_map(|o| match o {
            Output::Event(raw) => Some(raw),
            Output::Lost(_) => None,
        })
        .collect()
}

/// What a fresh `Builder` writes for `raw`.
fn fresh(raw: &RawEvent, seq: u64) -> Vec<u8> {
    let mut out = Vec::new();
    Builder::default().render_json(raw, seq, &mut out);
    out
}

/// Renders `evs` `rounds` times through one `Builder` (forwards, then backwards, ...) and
/// compares every line with a fresh `Builder`'s; returns the cache's hits.
fn same_as_fresh(evs: &[RawEvent], rounds: usize, what: &str) -> u64 {
    let want: Vec<Vec<u8>> = evs
        .iter()
        .enumerate()
        .map(|(i, e)| fresh(e, i as u64))
        .collect();
    let mut b = Builder::default();
    for round in 0..rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..evs.len()).collect()
        } else {
            (0..evs.len()).rev().collect()
        };
        for i in order {
            let mut out = Vec::new();
            b.render_json(&evs[i], i as u64, &mut out);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&want[i]),
                "{what}: event {i}, round {round}"
            );
            // Twice in a row: the second one finds all its records.
            out.clear();
            b.render_json(&evs[i], i as u64, &mut out);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&want[i]),
                "{what}: event {i} again, round {round}"
            );
        }
    }
    b.record_cache_stats().hits
}

/// Events that share records but not what the summary makes of them.
const SHARED: &str = concat!(
    // A user record that is the event's first process record here…
    "type=USER_CMD msg=audit(1700000000.001:101): pid=4242 uid=1000 auid=1000 ses=3 msg='cwd=\"/home/u\" cmd=6C73 exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'\n",
    // …and not there (after a SYSCALL with another pid).
    "type=SYSCALL msg=audit(1700000000.002:102): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=1 pid=77 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"ls\" exe=\"/usr/bin/ls\" key=\"exec\"\n",
    "type=USER_CMD msg=audit(1700000000.002:102): pid=4242 uid=1000 auid=1000 ses=3 msg='cwd=\"/home/u\" cmd=6C73 exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'\n",
    // The same PATH record alone, after a PARENT one, and with other CWDs (relative name).
    "type=CWD msg=audit(1700000000.002:102): cwd=\"/home/u\"\n",
    "type=PATH msg=audit(1700000000.002:102): item=0 name=\"bin/ls\" inode=12 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0\n",
    "type=SYSCALL msg=audit(1700000000.003:103): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=1 pid=78 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"ls\" exe=\"/usr/bin/ls\" key=\"exec\"\n",
    "type=CWD msg=audit(1700000000.003:103): cwd=\"/\"\n",
    "type=PATH msg=audit(1700000000.003:103): item=0 name=\"/usr/\" inode=2 dev=08:01 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0\n",
    "type=PATH msg=audit(1700000000.003:103): item=0 name=\"bin/ls\" inode=12 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0\n",
    "type=PATH msg=audit(1700000000.003:103): item=0 name=\"/usr/\" inode=2 dev=08:01 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0\n",
    // The same body written `type=1300` and `type=SYSCALL`, with enrichments that differ
    // only after 0x1d, and keys split in hex.
    "type=1300 msg=audit(1700000000.004:104): arch=c000003e syscall=2 success=no exit=-13 a0=7ffd a1=241 a2=1b6 a3=0 items=1 ppid=5 pid=6 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=(none) ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" key=6B31016B32\x1dARCH=x86_64 SYSCALL=open AUID=\"alice\" UID=\"alice\"\n",
    "type=PATH msg=audit(1700000000.004:104): item=0 name=\"/etc/shadow\" inode=99 dev=08:01 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0\x1dOUID=\"root\" OGID=\"shadow\"\n",
    "type=SYSCALL msg=audit(1700000000.005:105): arch=c000003e syscall=2 success=no exit=-13 a0=7ffd a1=241 a2=1b6 a3=0 items=1 ppid=5 pid=6 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=(none) ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" key=6B31016B32\x1dARCH=x86_64 SYSCALL=open AUID=\"bob\" UID=\"bob\"\n",
    "type=PATH msg=audit(1700000000.005:105): item=0 name=\"/etc/shadow\" inode=99 dev=08:01 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0\x1dOUID=\"root\" OGID=\"root\"\n",
    "type=SYSCALL msg=audit(1700000000.006:106): arch=c000003e syscall=2 success=no exit=-13 a0=7ffd a1=241 a2=1b6 a3=0 items=1 ppid=5 pid=6 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=(none) ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" key=6B31016B32\n",
    "type=PATH msg=audit(1700000000.006:106): item=0 name=\"/etc/shadow\" inode=99 dev=08:01 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0\n",
    // One SOCKADDR after `connect` and after `bind` (which moves the address to the source).
    "type=SYSCALL msg=audit(1700000000.007:107): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffe a2=10 a3=0 items=0 ppid=1 pid=9 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"curl\" exe=\"/usr/bin/curl\" key=(null)\n",
    "type=SOCKADDR msg=audit(1700000000.007:107): saddr=020000507F0000010000000000000000\n",
    "type=SYSCALL msg=audit(1700000000.008:108): arch=c000003e syscall=49 success=yes exit=0 a0=3 a1=7ffe a2=10 a3=0 items=0 ppid=1 pid=9 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"curl\" exe=\"/usr/bin/curl\" key=(null)\n",
    "type=SOCKADDR msg=audit(1700000000.008:108): saddr=020000507F0000010000000000000000\n",
    // A late `arch=` (the record is rendered again with the final context: never cached),
    // then the same fields in the usual order.
    "type=SYSCALL msg=audit(1700000000.011:111): syscall=2 success=no exit=-2 a0=7ffd a1=0 a2=0 a3=0 items=1 ppid=5 pid=6 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=(none) ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" key=(null) arch=40000003\n",
    "type=SYSCALL msg=audit(1700000000.012:112): arch=40000003 syscall=2 success=no exit=-2 a0=7ffd a1=0 a2=0 a3=0 items=1 ppid=5 pid=6 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=(none) ses=3 comm=\"cat\" exe=\"/usr/bin/cat\" key=(null)\n",
    // EXECVE and PROCTITLE alone (their process comes from them) and after a SYSCALL.
    "type=EXECVE msg=audit(1700000000.009:109): argc=3 a0=\"ls\" a1=\"-l\" a2=2F746D70\n",
    "type=PROCTITLE msg=audit(1700000000.009:109): proctitle=6C73002D6C002F746D70\n",
    "type=SYSCALL msg=audit(1700000000.010:110): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=1 pid=77 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"ls\" exe=\"/usr/bin/ls\" key=\"exec\"\n",
    "type=EXECVE msg=audit(1700000000.010:110): argc=3 a0=\"ls\" a1=\"-l\" a2=2F746D70\n",
    "type=PROCTITLE msg=audit(1700000000.010:110): proctitle=6C73002D6C002F746D70\n",
    "type=EXECVE msg=audit(1700000000.010:110): argc=3 a0=\"ls\" a1=\"-l\" a2=2F746D70\n",
);

#[test]
fn shared_records_render_as_fresh() {
    let evs = events(SHARED.as_bytes());
    assert!(evs.len() >= 12, "{}", evs.len());
    // Enough rounds for each type to be seen repeating and cached.
    let hits = same_as_fresh(&evs, 12, "shared records");
    assert!(hits > 200, "only {hits} records found in the cache");
}

#[test]
fn corpus_renders_as_fresh_from_the_cache() {
    let Some(c) = common::shared_dir()
        .map(|d| d.join("corpus").join("audit"))
        .filter(|c| c.is_dir())
    else {
        common::need(false, "../shared/corpus (the audit-log corpus)");
        return;
    };
    let mut files = Vec::new();
    common::corpus_logs(&c, &mut files);
    let mut all = Vec::new();
    for f in files {
        all.extend(events(&std::fs::read(&f).unwrap()));
    }
    assert!(all.len() > 400, "only {} events", all.len());
    // Every event of every file through one builder: records seen in other files, in
    // other events, before.
    let hits = same_as_fresh(&all, 2, "corpus");
    assert!(
        hits as usize > all.len(),
        "only {hits} records found in the cache"
    );
}
