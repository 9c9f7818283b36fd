//! The userspace cost per event, without root or a kernel: records captured from the real
//! kernel (testdata/workload.bin) go through parse, decode, the process table, the queue,
//! the pipeline and the JSON encoder into a file, as `letrace record -s bpf` runs them.
//! `cargo test --release --lib bpf_userspace_cost -- --ignored --nocapture`

use super::{decode, record};
use crate::encode::Format;
use crate::event::SourceKind;
use crate::pipeline::{self, Emitter, Output, Pipeline};
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
#[ignore = "benchmark"]
fn bpf_userspace_cost() {
    let recs = record::read_capture(CAPTURE);
    let rounds = 4_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let (tx, rx) = pipeline::queue(262_144);
    let out = Output::new(
        Format::Json.encoder(false),
        Dest::create_file(path.to_str().unwrap()).unwrap(),
    );
    let cpu0 = cpu_secs();
    let t0 = std::time::Instant::now();
    let consumer = std::thread::spawn(move || {
        let mut pipe = Pipeline::new(vec![out], "bench-host");
        for ev in rx.iter() {
            pipe.handle(ev).unwrap();
        }
        pipe.finish().unwrap();
        pipe.totals.all_events()
    });
    let mut table = ProcTable::new();
    let mut em = Emitter::new(tx, SourceKind::Bpf);
    let mut batch = Vec::new();
    for _ in 0..rounds {
        for r in &recs {
            let rec = record::parse(r).unwrap();
            let mut ev = decode::decode(&rec, 0);
            table.observe(&ev);
            table.enrich(&mut ev);
            batch.push(ev);
            if batch.len() >= super::SEND_EVERY {
                em.emit_batch_wait(&mut batch).unwrap();
            }
        }
    }
    em.emit_batch_wait(&mut batch).unwrap();
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
