//! The userspace cost per event, without root or a kernel: records captured from the real
//! kernel (testdata/workload.bin) go through parse, decode, the process table, the queue,
//! the pipeline and the JSON encoder into a file, as `letrace record -s bpf` runs them.
//! In the test suite it runs a few rounds and checks every event arrives (the batched,
//! source-encoded path end to end); as a benchmark:
//! `LETRACE_BENCH_ROUNDS=4000 cargo test --release --lib bpf_userspace_cost -- --nocapture`
//! `LETRACE_BENCH_MIX=storm`: only the open-storm's records (FILE_OPEN and FILE_CLOSE of a
//! process the table knows from its exec, args included); `LETRACE_BENCH_PATH=event`: every
//! record through the `Event` path (decode, enrich, encode), as before `json.rs` (the same
//! run's reference).

use super::{decode, json, record};
use crate::encode::Format;
use crate::event::SourceKind;
use crate::pipeline::{self, Emitter, Encoded, Msg, Output, Pipeline};
use crate::proctable::ProcTable;
use crate::sink::Dest;

const CAPTURE: &[u8] = include_bytes!("testdata/workload.bin");

fn cpu_secs() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

#[test]
fn bpf_userspace_cost() {
    let mut recs: Vec<Vec<u8>> = record::read_capture(CAPTURE)
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    // Records handled once before the rounds (the storm's exec).
    let mut prelude = Vec::new();
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    if env("LETRACE_BENCH_MIX") == "storm" {
        let exec = recs
            .iter()
            .find(|b| record::parse(b).is_ok_and(|r| r.ev.family == super::families::EXEC))
            .expect("an exec record")
            .clone();
        let mut storm: Vec<Vec<u8>> = recs
            .iter()
            .filter(|b| record::parse(b).is_ok_and(|r| matches!(r.ev.family, 3 | 12)))
            .cloned()
            .collect();
        for b in &mut storm {
            // Made by the exec'd process: pid, tid, ppid and start time of its exec record.
            b[16..24].copy_from_slice(&exec[16..24]);
            b[128..140].copy_from_slice(&exec[128..140]);
        }
        recs = storm;
        prelude.push(exec);
    }
    let event_path = env("LETRACE_BENCH_PATH") == "event";
    let rounds: usize = std::env::var("LETRACE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    // The output is JSON lines: the source encodes (as BpfSource::drain does then).
    let (tx, rx) = pipeline::queue_for(262_144, true);
    let out = Output::new(
        Format::Json.encoder(false),
        Dest::create_file(path.to_str().unwrap()).unwrap(),
    );
    let cpu0 = cpu_secs();
    let t0 = std::time::Instant::now();
    let consumer = std::thread::spawn(move || {
        let mut pipe = Pipeline::new(vec![out], "bench-host");
        // As record::run does it.
        loop {
            match rx.recv_timeout(std::time::Duration::from_secs(1)) {
                Ok(Msg::Many(mut v)) => {
                    for ev in v.iter_mut() {
                        pipe.handle_mut(ev).unwrap();
                    }
                    rx.recycle(v);
                }
                Ok(Msg::One(ev)) => pipe.handle(ev).unwrap(),
                Ok(Msg::Encoded(e)) => {
                    pipe.handle_encoded_lines(&e, 0..e.len()).unwrap();
                    rx.recycle_encoded(e);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        pipe.finish().unwrap();
        pipe.totals.all_events()
    });
    let mut table = ProcTable::new();
    let mut enc = json::LineEncoder::default();
    let mut em = Emitter::new(tx, SourceKind::Bpf);
    let mut lines = Encoded::default();
    assert!(em.encoded());
    for b in &prelude {
        let mut ev = decode::decode(&record::parse(b).unwrap(), 0);
        table.observe(&ev);
        table.enrich(&mut ev);
        lines.push(&ev);
    }
    for _ in 0..rounds {
        for r in &recs {
            let rec = record::parse(r).unwrap();
            if !event_path && json::handles(&rec) {
                lines.push_with(SourceKind::Bpf, |buf| enc.line(&rec, 0, &mut table, buf));
                if lines.len() >= super::SEND_LINES {
                    em.emit_encoded_wait(&mut lines).unwrap();
                }
                continue;
            }
            let mut ev = decode::decode(&rec, 0);
            table.observe(&ev);
            table.enrich(&mut ev);
            lines.push(&ev);
            drop(ev);
            if lines.len() >= super::SEND_EVERY {
                em.emit_encoded_wait(&mut lines).unwrap();
            }
        }
    }
    em.emit_encoded_wait(&mut lines).unwrap();
    drop(em);
    let n = consumer.join().unwrap();
    let (cpu, wall) = (cpu_secs() - cpu0, t0.elapsed().as_secs_f64());
    let bytes = std::fs::metadata(&path).unwrap().len();
    assert_eq!(n, (prelude.len() + recs.len() * rounds) as u64);
    let mix = match env("LETRACE_BENCH_MIX").as_str() {
        "" => "captured".to_string(),
        m => m.to_string(),
    };
    let path = if event_path { "event" } else { "fast" };
    println!(
        "bpf userspace ({mix} records, {path} path): {n} events, {:.3} us CPU/event (all threads), {:.3} us wall/event, {} bytes/event",
        cpu * 1e6 / n as f64,
        wall * 1e6 / n as f64,
        bytes / n,
    );
}
