//! The audit logs the unit tests read: the shared corpus (../shared/corpus/audit, when present;
//! required under `LETRACE_TEST_STRICT=1`) and src/audit/testdata, sorted.

use std::path::{Path, PathBuf};

pub(crate) fn corpus_files() -> Vec<PathBuf> {
    fn logs(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "oracle") {
                    logs(&p, out);
                }
            } else if p.extension().is_none_or(|x| x != "md") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("../shared/corpus/audit");
    let mut files = Vec::new();
    logs(&corpus, &mut files);
    let strict = std::env::var_os("LETRACE_TEST_STRICT").is_some_and(|v| v == "1");
    assert!(
        !strict || !files.is_empty(),
        "no corpus at {}",
        corpus.display()
    );
    logs(&root.join("src/audit/testdata"), &mut files);
    files.sort();
    files
}
