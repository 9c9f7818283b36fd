//! The audit line parser and everything behind it on arbitrary input: header, fields,
//! enrichment, interpretation, coalescing and JSON rendering must never panic, and the JSON
//! must always parse.
#![no_main]

use letrace::audit::coalesce::{Config, Output};
use letrace::audit::event::Builder;
use letrace::audit::parse::parse_bytes;
use letrace::audit::record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = record::parse_header(data) {
        let mut fields = Vec::new();
        record::split_fields(h.rtype, h.body, &mut fields);
        if let Some(e) = h.enriched {
            let _ = record::enrichment(e);
        }
    }
    let (out, _bad) = parse_bytes(
        data,
        Config {
            max_pending: 8,
            ..Config::default()
        },
    );
    let mut b = Builder::default();
    for o in &out {
        if let Output::Event(raw) = o {
            let mut json = Vec::new();
            b.render_json(raw, 1, &mut json);
            assert!(std::str::from_utf8(&json).is_ok());
            let _ = b.build(raw);
        }
    }
});
