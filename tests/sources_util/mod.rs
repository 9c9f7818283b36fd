//! Helpers for the kernel tests of the fanotify and epoll sources: run `letrace record`
//! in the background, wait until it sees events, stop it, and read its JSON, XML and CSV
//! outputs into one flat form (`file.path` -> value) so the three can be compared.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as J;

/// One event, every field flattened to `a.b.c` -> text.
pub type Flat = BTreeMap<String, String>;

pub struct Recorder {
    pub child: Child,
    pub dir: PathBuf,
}

impl Recorder {
    /// Starts `letrace record` with `args`, writing out.jsonl/out.xml/out.csv into `dir`.
    pub fn start(dir: &Path, args: &[&str]) -> Recorder {
        Self::start_with(dir, args, &["jsonl", "xml", "csv"])
    }

    /// As `start`, with only the outputs of the given extensions.
    pub fn start_with(dir: &Path, args: &[&str], exts: &[&str]) -> Recorder {
        let mut cmd = super::common::letrace();
        cmd.arg("record").args(args);
        for ext in exts {
            cmd.arg("-o").arg(dir.join(format!("out.{ext}")));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn letrace");
        Recorder {
            child,
            dir: dir.to_path_buf(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn jsonl(&self) -> String {
        std::fs::read_to_string(self.dir.join("out.jsonl")).unwrap_or_default()
    }

    /// Calls `poke` every 100 ms until the JSON output contains `needle` (the source is
    /// live), or panics after 15 s with letrace's stderr.
    pub fn wait_for(&mut self, needle: &str, mut poke: impl FnMut()) {
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            poke();
            std::thread::sleep(Duration::from_millis(100));
            if self.jsonl().contains(needle) {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("letrace exited early ({st}): {}", self.stderr());
            }
        }
        self.signal(libc::SIGKILL);
        panic!("letrace never reported {needle:?}: {}", self.stderr());
    }

    /// SIGSTOP, and wait until every thread has really stopped (kill returns before).
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).expect("task dir");
            let all_stopped = tasks.flatten().all(|t| {
                let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                let state = stat.rfind(')').and_then(|i| stat[i + 2..].chars().next());
                matches!(state, Some('T') | Some('t'))
            });
            if all_stopped {
                return;
            }
            assert!(Instant::now() < until, "letrace did not stop on SIGSTOP");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill on our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = self.child.kill();
            let _ = e.read_to_string(&mut s);
        }
        s
    }

    /// SIGINT, wait (10 s at most), check it exited 0, and return stderr.
    pub fn stop(&mut self) -> String {
        self.signal(libc::SIGINT);
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                let err = self.stderr();
                assert!(st.success(), "letrace failed ({st}): {err}");
                return err;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!("letrace did not stop on SIGINT");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The events of all three outputs, after checking they hold the same events.
    pub fn events(&self) -> Vec<Flat> {
        let j = read_jsonl(&self.dir.join("out.jsonl"));
        let x = read_xml(&self.dir.join("out.xml"));
        let c = read_csv(&self.dir.join("out.csv"));
        assert_eq!(j.len(), x.len(), "JSON and XML event counts differ");
        assert_eq!(j.len(), c.len(), "JSON and CSV event counts differ");
        for ((a, b), c) in j.iter().zip(&x).zip(&c) {
            assert_eq!(a, b, "JSON and XML differ");
            assert_eq!(a, c, "JSON and CSV differ");
        }
        j
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn flatten(prefix: &str, v: &J, out: &mut Flat) {
    match v {
        J::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        J::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        J::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        J::Null => {
            out.insert(prefix.to_string(), String::new());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

pub fn read_jsonl(p: &Path) -> Vec<Flat> {
    let text = std::fs::read_to_string(p).expect("read jsonl");
    text.lines()
        .map(|l| {
            let v: J = serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}"));
            let mut f = Flat::new();
            flatten("", &v, &mut f);
            f
        })
        .collect()
}

pub fn read_xml(p: &Path) -> Vec<Flat> {
    let text = std::fs::read_to_string(p).expect("read xml");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "Events");
    root.children()
        .filter(|n| n.is_element())
        .map(|ev| {
            let mut f = Flat::new();
            for a in ev.attributes() {
                f.insert(a.name().to_string(), a.value().to_string());
            }
            for d in ev.children().filter(|n| n.is_element()) {
                let name = d.attribute("Name").expect("Data Name").to_string();
                f.insert(name, d.text().unwrap_or("").to_string());
            }
            f
        })
        .collect()
}

pub fn read_csv(p: &Path) -> Vec<Flat> {
    let mut rd = csv::Reader::from_path(p).expect("read csv");
    let headers = rd.headers().expect("csv header").clone();
    rd.records()
        .map(|r| {
            let r = r.expect("csv record");
            let mut f = Flat::new();
            for (h, v) in headers.iter().zip(r.iter()) {
                if v.is_empty() {
                    continue;
                }
                if h == "extra" {
                    let j: J = serde_json::from_str(v).expect("extra JSON");
                    flatten("", &j, &mut f);
                } else {
                    f.insert(h.to_string(), v.to_string());
                }
            }
            f
        })
        .collect()
}

/// Events matching every `(key, value)` pair.
pub fn find<'a>(evs: &'a [Flat], want: &[(&str, &str)]) -> Vec<&'a Flat> {
    evs.iter()
        .filter(|e| {
            want.iter()
                .all(|(k, v)| e.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}
