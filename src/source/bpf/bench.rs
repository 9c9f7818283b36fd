//! The userspace cost per event, without root or a kernel: records captured from the real
//! kernel (testdata/workload.bin) go through parse, decode, the process table, the queue,
//! the pipeline and the JSON encoder into a file, as `letrace record -s bpf` runs them.
//! In the test suite it runs a few rounds and checks every event arrives (the batched,
//! source-encoded path end to end); as a benchmark:
//! `LETRACE_BENCH_ROUNDS=4000 cargo test --release --lib bpf_userspace_cost -- --nocapture`

use super::{decode, record};
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
    let recs = record::read_capture(CAPTURE);
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
                    for i in 0..e.len() {
                        pipe.handle_encoded(&e, i).unwrap();
                    }
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
    let mut em = Emitter::new(tx, SourceKind::Bpf);
    let mut lines = Encoded::default();
    assert!(em.encoded());
    for _ in 0..rounds {
        for r in &recs {
            let rec = record::parse(r).unwrap();
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
    assert_eq!(n, (recs.len() * rounds) as u64);
    println!(
        "bpf userspace: {n} events, {:.3} us CPU/event (all threads), {:.3} us wall/event, {} bytes/event",
        cpu * 1e6 / n as f64,
        wall * 1e6 / n as f64,
        bytes / n
    );
}
