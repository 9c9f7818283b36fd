//! Helpers shared by integration tests: skipping (or, under LETRACE_TEST_STRICT=1, failing)
//! when a requirement is missing, and serialising tests that touch global kernel state.
#![allow(dead_code)]

pub mod flat;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;

/// True under `LETRACE_TEST_STRICT=1` (CI): every skip becomes a failure.
pub fn strict() -> bool {
    std::env::var("LETRACE_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Returns whether the test may go on. When `ok` is false it prints why and returns false,
/// or panics in strict mode so CI never passes a test that did not run.
pub fn need(ok: bool, what: &str) -> bool {
    if !ok {
        if strict() {
            panic!("LETRACE_TEST_STRICT=1 and this test needs {what}");
        }
        eprintln!("SKIP: needs {what}");
    }
    ok
}

pub fn need_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    need(unsafe { libc::geteuid() } == 0, "root")
}

pub fn need_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    need(
        found,
        &format!("the `{tool}` program (see .ci/run for the package)"),
    )
}

/// `../shared` beside the checkout, if present.
pub fn shared_dir() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    p.is_dir().then_some(p)
}

/// The letrace binary built for these tests.
pub fn letrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_letrace"))
}

/// Held while a test changes global kernel state (audit rules and flags, fanotify marks,
/// network namespaces): an exclusive flock shared by every test binary, so such tests never
/// run at the same time even across `cargo test`'s binaries.
pub struct KernelLock(File);

pub fn kernel_lock() -> KernelLock {
    lock_file(libc::LOCK_EX)
}

/// Held by tests that only depend on global kernel state staying put (e.g. inotify tests
/// while another test lowers an inotify sysctl): many may hold it, never with `kernel_lock`.
pub fn kernel_shared() -> KernelLock {
    lock_file(libc::LOCK_SH)
}

fn lock_file(op: i32) -> KernelLock {
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/tmp/letrace-kernel-tests.lock")
        .expect("open /tmp/letrace-kernel-tests.lock");
    // SAFETY: flock on an fd we own; blocks until the lock is ours.
    let rc = unsafe { libc::flock(f.as_raw_fd(), op) };
    assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());
    KernelLock(f)
}

/// A running `letrace record`, started and stopped the way a user would.
pub struct Recorder {
    child: std::process::Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// What a finished `letrace record` left behind.
pub struct Finished {
    pub status: std::process::ExitStatus,
    pub stderr: String,
}

impl Recorder {
    /// Starts `letrace record ARGS` and waits until it says it is recording (watches set).
    pub fn start<I, S>(args: I) -> Recorder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Self::start_with(letrace().arg("record").args(args))
    }

    pub fn start_with(cmd: &mut Command) -> Recorder {
        use std::io::BufRead;
        let mut child = cmd
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn letrace");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("letrace: recording") {
                    let _ = tx.send(());
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        if rx.recv_timeout(std::time::Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "letrace did not start recording: {}",
                stderr.lock().unwrap()
            );
        }
        Recorder {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(self.pid(), sig) };
        if sig == libc::SIGSTOP {
            // kill returns before the process has stopped: a test that acts "while letrace is
            // stopped" must not start while it still runs (it would read part of what follows).
            let stat = format!("/proc/{}/stat", self.pid());
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                let st = std::fs::read_to_string(&stat).unwrap_or_default();
                let state = st.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
                if matches!(state, Some('T' | 't') | None) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }

    /// Sends `sig` (SIGTERM or SIGINT) and waits for letrace to finish.
    pub fn stop_with(mut self, sig: i32) -> Finished {
        // Let the kernel deliver what the test just did before asking to stop.
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.signal(sig);
        let status = self.child.wait().expect("wait letrace");
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let stderr = self.stderr.lock().unwrap().clone();
        Finished { status, stderr }
    }

    pub fn stop(self) -> Finished {
        self.stop_with(libc::SIGTERM)
    }

    /// Starts `cmd` (a `letrace record ...` command line) writing `DIR/STEM.{jsonl,xml,csv}`,
    /// the files `flat::read_all(dir, stem)` reads back.
    pub fn start_outputs(cmd: &mut Command, dir: &std::path::Path, stem: &str) -> Recorder {
        Self::start_with(
            cmd.args(flat::output_args(dir, stem))
                .stdout(std::process::Stdio::null()),
        )
    }

    /// SIGTERM after a longer settle (late kernel notifications), asserts a clean exit, and
    /// returns letrace's stderr.
    pub fn stop_ok(self) -> String {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let done = self.stop();
        assert!(done.status.success(), "letrace failed: {}", done.stderr);
        done.stderr
    }

    pub fn child_mut(&mut self) -> &mut std::process::Child {
        &mut self.child
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parsed JSON lines.
pub fn read_jsonl(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// One XML `<Event>`: its attributes and its `Data` elements, in order.
#[derive(Debug)]
pub struct XmlEvent {
    pub attrs: std::collections::BTreeMap<String, String>,
    pub data: Vec<(String, String)>,
}

impl XmlEvent {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub fn read_xml(path: &std::path::Path) -> Vec<XmlEvent> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{}: not well-formed XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "Events");
    doc.root_element()
        .children()
        .filter(|n| n.has_tag_name("Event"))
        .map(|n| XmlEvent {
            attrs: n
                .attributes()
                .map(|a| (a.name().to_string(), a.value().to_string()))
                .collect(),
            data: n
                .children()
                .filter(|d| d.has_tag_name("Data"))
                .map(|d| {
                    (
                        d.attribute("Name").unwrap_or("").to_string(),
                        d.text().unwrap_or("").to_string(),
                    )
                })
                .collect(),
        })
        .collect()
}

/// CSV rows as column-name -> value maps.
pub fn read_csv(path: &std::path::Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut rd = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = rd.headers().unwrap().clone();
    rd.records()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("{}: bad CSV: {e}", path.display()));
            header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Checks that the JSON, XML and CSV files hold the same events (seq, source, type, file
/// path, lost) in the same order, and returns the JSON events.
pub fn same_events_in_all_formats(
    jsonl: &std::path::Path,
    xml: &std::path::Path,
    csv: &std::path::Path,
) -> Vec<serde_json::Value> {
    let j = read_jsonl(jsonl);
    let x = read_xml(xml);
    let c = read_csv(csv);
    assert_eq!(j.len(), x.len(), "JSON and XML event counts differ");
    assert_eq!(j.len(), c.len(), "JSON and CSV event counts differ");
    for ((je, xe), ce) in j.iter().zip(&x).zip(&c) {
        let seq = je["seq"].to_string();
        assert_eq!(xe.attrs["seq"], seq);
        assert_eq!(ce["seq"], seq);
        for k in ["time", "host", "source", "type"] {
            let v = je[k].as_str().unwrap();
            assert_eq!(xe.attrs[k], v, "seq {seq} {k}");
            assert_eq!(ce[k], v, "seq {seq} {k}");
        }
        let path = je["file"]["path"].as_str().unwrap_or("");
        assert_eq!(xe.get("file.path").unwrap_or(""), path, "seq {seq}");
        assert_eq!(ce["file.path"], path, "seq {seq}");
        let lost = je.get("lost").map(|v| v.to_string()).unwrap_or_default();
        assert_eq!(xe.get("lost").unwrap_or(""), lost);
        assert_eq!(ce["lost"], lost);
    }
    j
}

/// `file.path` of a JSON event, unescaped to bytes.
pub fn path_bytes(ev: &serde_json::Value) -> Vec<u8> {
    letrace::text::unescape(ev["file"]["path"].as_str().unwrap_or("")).expect("valid escape")
}

/// Validates an XML output against `schema/events.xsd` with xmllint (skips without it).
pub fn assert_valid_xml(path: &std::path::Path) {
    if !need_tool("xmllint") {
        return;
    }
    let xsd = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/events.xsd");
    let st = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&st.stderr)
    );
}

/// Every log file below `dir` (a corpus folder), sorted, skipping notes (`.md`) and oracle
/// readings (`.json`).
pub fn corpus_logs(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            corpus_logs(&p, out);
        } else if !matches!(p.extension().and_then(|e| e.to_str()), Some("md" | "json")) {
            out.push(p);
        }
    }
}

/// Runs `auditctl ARGS` and returns its stdout; panics with its stderr when it fails.
pub fn auditctl(args: &[&str]) -> String {
    let out = Command::new("auditctl")
        .args(args)
        .output()
        .expect("run auditctl");
    assert!(
        out.status.success(),
        "auditctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first word of `key`'s value in `auditctl -s` (`enabled`, `pid`, `backlog_limit`...).
pub fn audit_status(key: &str) -> Option<String> {
    auditctl(&["-s"]).lines().find_map(|l| {
        l.strip_prefix(key)?
            .strip_prefix(' ')
            .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
    })
}

/// Puts the audit backlog limit and enabled flag back (for a test's restore guard: errors
/// are ignored, the guard runs while a failed test unwinds).
pub fn audit_reset(backlog: &str, enabled: &str) {
    let _ = Command::new("auditctl").args(["-b", backlog]).output();
    let _ = Command::new("auditctl").args(["-e", enabled]).output();
}
