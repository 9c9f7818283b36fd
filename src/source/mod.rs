//! Sources: one module per kernel interface. Each has a pure decoder (bytes -> events, tested
//! on captured kernel bytes) and a thin part that owns the fd and runs on its own thread.

pub mod bpf;
pub mod inotify;

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::event::SourceKind;
use crate::pipeline::Emitter;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "unknown source {0:?}: use inotify:PATH[,recursive] or bpf[:file,process,network,user]"
    )]
    UnknownSource(String),
    #[error("source {spec:?}: {why}")]
    BadSpec { spec: String, why: String },
    #[error(transparent)]
    Inotify(#[from] inotify::Error),
    #[error(transparent)]
    Bpf(#[from] bpf::Error),
    #[error("cannot create the stop eventfd: {0}")]
    Stop(std::io::Error),
}

/// A parsed `-s` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spec {
    Inotify {
        path: PathBuf,
        recursive: bool,
    },
    /// `bpf[:words]`: see `bpf::parse_spec`; the ring-buffer size comes from `Options`.
    Bpf(bpf::Tuning),
}

impl Spec {
    /// Parses `NAME[:ARG][,OPTION]...`. Options are only recognised at the end, so a path
    /// may itself contain commas.
    pub fn parse(spec: &str) -> Result<Spec, Error> {
        let (name, arg) = spec.split_once(':').unwrap_or((spec, ""));
        let bad = |why: &str| Error::BadSpec {
            spec: spec.to_string(),
            why: why.to_string(),
        };
        match name {
            "inotify" => {
                let (path, opts) = split_options(arg, &["recursive"]);
                if path.is_empty() {
                    return Err(bad("needs a path: inotify:PATH or inotify:PATH,recursive"));
                }
                Ok(Spec::Inotify {
                    path: PathBuf::from(path),
                    recursive: opts.contains(&"recursive"),
                })
            }
            "bpf" => Ok(Spec::Bpf(bpf::parse_spec(arg)?)),
            _ => Err(Error::UnknownSource(spec.to_string())),
        }
    }

    /// What `record` runs when no `-s` is given: everything that can run here, scoped sensibly.
    pub fn defaults() -> Vec<Spec> {
        vec![Spec::Inotify {
            path: PathBuf::from("."),
            recursive: false,
        }]
    }

    pub fn kind(&self) -> SourceKind {
        match self {
            Spec::Inotify { .. } => SourceKind::Inotify,
            Spec::Bpf(_) => SourceKind::Bpf,
        }
    }

    /// Opens the kernel side now (so errors show at start-up), ready to `run` on a thread.
    pub fn open(&self, opts: &Options) -> Result<Box<dyn Source>, Error> {
        match self {
            Spec::Inotify { path, recursive } => Ok(Box::new(inotify::InotifySource::open(
                path, *recursive, opts,
            )?)),
            Spec::Bpf(t) => {
                let mut t = t.clone();
                if let Some(n) = opts.bpf_ringbuf_size {
                    t.ringbuf_size = n;
                }
                Ok(Box::new(bpf::BpfSource::open(&t)?))
            }
        }
    }
}

/// Splits trailing `,option` words that are in `known` off `arg`.
fn split_options<'a>(arg: &'a str, known: &[&'a str]) -> (&'a str, Vec<&'a str>) {
    let mut rest = arg;
    let mut opts = Vec::new();
    while let Some((head, tail)) = rest.rsplit_once(',') {
        match known.iter().find(|k| **k == tail) {
            Some(k) => {
                opts.push(*k);
                rest = head;
            }
            None => break,
        }
    }
    (rest, opts)
}

/// Settings every source may consult.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// letrace's own output files: never reported, or every write would make another event.
    pub ignore_paths: Vec<PathBuf>,
    /// `--bpf-ringbuf-size` in bytes (None: the bpf source's default).
    pub bpf_ringbuf_size: Option<u32>,
}

/// A running source: reads its fd until `stop` fires, sending events through `out`.
pub trait Source: Send {
    fn kind(&self) -> SourceKind;
    fn run(self: Box<Self>, out: &mut Emitter, stop: &Stop) -> Result<(), Error>;
}

/// Tells source threads to finish: a flag plus an eventfd they include in their poll set.
#[derive(Clone)]
pub struct Stop {
    inner: Arc<(AtomicBool, OwnedFd)>,
}

impl Stop {
    pub fn new() -> Result<Stop, Error> {
        let fd = crate::sys::eventfd().map_err(Error::Stop)?;
        Ok(Stop {
            inner: Arc::new((AtomicBool::new(false), fd)),
        })
    }
    pub fn trigger(&self) {
        self.inner.0.store(true, Ordering::SeqCst);
        crate::sys::eventfd_signal(self.inner.1.as_fd());
    }
    pub fn is_set(&self) -> bool {
        self.inner.0.load(Ordering::SeqCst)
    }
    /// Readable once `trigger` has been called; poll it beside the source's own fd.
    pub fn fd(&self) -> RawFd {
        self.inner.1.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs_with_options_and_commas_in_paths() {
        assert_eq!(
            Spec::parse("inotify:/a,b,recursive").unwrap(),
            Spec::Inotify {
                path: "/a,b".into(),
                recursive: true
            }
        );
        assert_eq!(
            Spec::parse("inotify:/x").unwrap(),
            Spec::Inotify {
                path: "/x".into(),
                recursive: false
            }
        );
        assert!(matches!(Spec::parse("inotify"), Err(Error::BadSpec { .. })));
        assert!(matches!(
            Spec::parse("nosuch:/x"),
            Err(Error::UnknownSource(_))
        ));
    }
}
