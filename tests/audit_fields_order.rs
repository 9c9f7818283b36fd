//! The fast renderer takes each field once, in order, with the record's context (arch,
//! syscall, a0, a1) as gathered so far, and predicts field names from the records before.
//! Records that break the usual order or change layout must still render exactly as the
//! shared encoder does (which splits every record first and uses its final context).

use letrace::audit::coalesce::{Config, Output};
use letrace::audit::event::Builder;
use letrace::audit::parse::parse_bytes;
use letrace::encode::{Encoder, JsonEncoder};

/// Renders every event of `log` both ways (one builder each way, kept across events like
/// the renderer threads keep theirs) and compares.
fn same_both_ways(log: &str) {
    let (out, bad) = parse_bytes(log.as_bytes(), Config::default());
    assert!(bad.is_empty(), "{bad:?}");
    let mut fast_b = Builder::default();
    let mut slow_b = Builder::default();
    let mut events = 0;
    for (seq, o) in out.iter().enumerate() {
        if let Output::Event(raw) = o {
            events += 1;
            let mut fast = Vec::new();
            fast_b.render_json(raw, seq as u64, &mut fast);
            let mut ev = slow_b.build(raw);
            ev.seq = seq as u64;
            let mut slow = Vec::new();
            JsonEncoder.encode(&ev, &mut slow);
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow)
            );
        }
    }
    assert!(events > 0);
}

fn syscall(serial: u32, body: &str) -> String {
    format!(
        "type=SYSCALL msg=audit(1700000000.{:03}:{serial}): {body}\n\
         type=EOE msg=audit(1700000000.{:03}:{serial}): \n",
        serial % 1000,
        serial % 1000
    )
}

#[test]
fn context_that_comes_late_or_twice() {
    let bodies = [
        // The usual order.
        "arch=c000003e syscall=2 success=yes exit=3 a0=7ffd a1=41 a2=1b6 a3=0 items=1 pid=1",
        // arch after the fields it decides.
        "syscall=2 success=yes exit=3 a0=7ffd a1=41 a2=1b6 a3=0 arch=40000003 pid=1",
        "syscall=102 success=yes exit=3 a0=1 a1=41 a2=1b6 a3=0 arch=40000003 pid=1",
        // socketcall (i386): the syscall's name depends on a0, written after it.
        "arch=40000003 syscall=102 success=yes exit=3 a0=1 a1=bfa0 a2=0 a3=0 pid=1",
        "arch=40000003 syscall=117 success=yes exit=3 a0=2 a1=bfa0 a2=0 a3=0 pid=1",
        // A repeated syscall and a repeated arch: the last ones count.
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 syscall=2 pid=1",
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 arch=40000003 a1=2 pid=1",
        "arch=c000003e syscall=59 arch=c000003e success=yes exit=0 a0=1 a1=2 pid=1",
        // open(2): a2 is a mode only with O_CREAT in a1, written after a2 here.
        "arch=c000003e syscall=2 success=yes exit=3 a0=7ffd a2=1b6 a1=41 a3=0 pid=1",
        "arch=c000003e syscall=2 success=yes exit=3 a0=7ffd a2=1b6 a1=0 a1=41 pid=1",
        // setsockopt: a2 depends on a1 == 0.
        "arch=c000003e syscall=54 success=yes exit=0 a0=3 a2=1 a1=0 a3=0 pid=1",
        "arch=c000003e syscall=54 success=yes exit=0 a0=3 a1=0 a2=1 a3=0 a1=6 pid=1",
        // Values that are not numbers.
        "arch=zz syscall=x success=yes exit=0 a0=q a1=r a2=s a3=t pid=1",
        "syscall=59 a0=1 arch=zz",
        "a0=1 a1=2 a2=3 a3=4 syscall=59 arch=c000003e",
    ];
    let mut log = String::new();
    for (i, b) in bodies.iter().enumerate() {
        log.push_str(&syscall(100 + i as u32, b));
        same_both_ways(&syscall(100 + i as u32, b));
    }
    same_both_ways(&log);
}

#[test]
fn changing_layouts_of_one_type() {
    // Predictions learned from one record must not decide the next one's fields.
    let bodies = [
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1 pid=2 comm=\"a\" exe=\"/b\" key=\"k\"",
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1 pid=2 comm=\"a\" exe=\"/b\" subj=u key=\"k\"",
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1 pid=2 comm=\"a\" exe=\"/b\" key=6B310161626364",
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1 pid=2 comm=\"a\" exe=\"/b\" key=(null)",
        "arch=c000003e syscall=59 success=yes exit= a0=1 a1=2 a2=3 a3=4 items=2",
        "arch=c000003e syscall=59 success=yes exit=0 a0==1 a1=2= a2=3 a3 =4 items=2",
        "arch=c000003e  syscall=59   success=yes exit=0 (a0=1 a1=2 msg=a2=3 a3=4 items=2",
        "arch=c000003e syscall=59 success=yes exit=0 a00=1 a1x=2 a=3 a3=4, items=2):",
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 comm=\"a b\" exe=\"q\\\"",
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 comm=\"\x7f\" exe=\"\u{e9}\"",
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2",
        "arch=c000003e syscall=59",
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 averyveryverylongname=1 k=",
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 averyveryverylongname=1 k=v",
        "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 averyveryverylongnam=1 k=v",
    ];
    let mut log = String::new();
    for round in 0..2 {
        for (i, b) in bodies.iter().enumerate() {
            log.push_str(&syscall(200 + (round * 100 + i) as u32, b));
        }
    }
    same_both_ways(&log);
    // The same bodies in other record types (one of them with auparse's AVC rules).
    let mut log = String::new();
    for (i, b) in bodies.iter().enumerate() {
        for t in ["PATH", "EXECVE", "AVC", "USER_ACCT", "UNKNOWN[1999]"] {
            log.push_str(&format!(
                "type={t} msg=audit(1700000001.{:03}:{}): {b}\n",
                i,
                400 + i
            ));
        }
    }
    same_both_ways(&log);
}
