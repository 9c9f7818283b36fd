//! Helpers for the kernel tests of the fanotify and epoll sources: run `letrace record`
//! in the background, wait until it sees events, stop it, and read its JSON, XML and CSV
//! outputs into one flat form (`file.path` -> value) so the three can be compared.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub use crate::common::flat::{find_all as find, Flat};

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
        crate::common::flat::read_all(&self.dir, "out")
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
