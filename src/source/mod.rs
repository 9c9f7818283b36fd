//! Sources: one module per kernel interface. Each has a pure decoder (bytes -> events, tested
//! on captured kernel bytes) and a thin part that owns the fd and runs on its own thread.

pub mod bpf;
pub mod epoll;
pub mod fanotify;
pub mod inotify;
pub mod input;
pub mod route;

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::event::SourceKind;
use crate::pipeline::Emitter;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown source {0:?}: use inotify:PATH[,recursive], fanotify:PATH, epoll:PATH, route[:NETNS], input[:PATH] or bpf[:file,process,network,user]")]
    UnknownSource(String),
    #[error("source {spec:?}: {why}")]
    BadSpec { spec: String, why: String },
    #[error(transparent)]
    Inotify(#[from] inotify::Error),
    #[error(transparent)]
    Route(#[from] route::Error),
    #[error(transparent)]
    Input(#[from] input::Error),
    #[error(transparent)]
    Fanotify(#[from] fanotify::Error),
    #[error(transparent)]
    Epoll(#[from] epoll::Error),
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
    /// `route` / `route:NETNS`: rtnetlink links, addresses and routes, of letrace's network
    /// namespace or of NETNS (an `ip netns` name or a path such as /proc/PID/ns/net).
    Route {
        netns: Option<String>,
    },
    /// `input` (None: all of /dev/input, hotplug included) or `input:PATH` (a device, FIFO,
    /// file of records, or a directory of `event*` entries).
    Input {
        path: Option<PathBuf>,
    },
    Fanotify {
        path: PathBuf,
    },
    Epoll {
        path: PathBuf,
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
            "route" if arg.is_empty() => Ok(Spec::Route { netns: None }),
            "route" => Ok(Spec::Route {
                netns: Some(arg.to_string()),
            }),
            "input" if arg.is_empty() => Ok(Spec::Input { path: None }),
            "input" => Ok(Spec::Input {
                path: Some(PathBuf::from(arg)),
            }),
            "fanotify" | "epoll" => {
                if arg.is_empty() {
                    return Err(bad(&format!("needs a path: {name}:PATH")));
                }
                let path = PathBuf::from(arg);
                Ok(if name == "fanotify" {
                    Spec::Fanotify { path }
                } else {
                    Spec::Epoll { path }
                })
            }
            "bpf" => Ok(Spec::Bpf(bpf::parse_spec(arg)?)),
            _ => Err(Error::UnknownSource(spec.to_string())),
        }
    }

    /// What `record` runs when no `-s` is given: everything that can run here, scoped sensibly.
    /// Needs no privilege and no argument: file events in the current directory, network
    /// configuration changes, and input devices when the machine has any. `record` runs these
    /// best-effort, so one that cannot run here is skipped with a warning.
    pub fn defaults() -> Vec<Spec> {
        let mut v = vec![
            Spec::Inotify {
                path: PathBuf::from("."),
                recursive: false,
            },
            Spec::Route { netns: None },
        ];
        if crate::doctor::probe(SourceKind::Input).status == crate::doctor::Status::Ok {
            v.push(Spec::Input { path: None });
        }
        v
    }

    pub fn kind(&self) -> SourceKind {
        match self {
            Spec::Inotify { .. } => SourceKind::Inotify,
            Spec::Route { .. } => SourceKind::Route,
            Spec::Input { .. } => SourceKind::Input,
            Spec::Fanotify { .. } => SourceKind::Fanotify,
            Spec::Epoll { .. } => SourceKind::Epoll,
            Spec::Bpf(_) => SourceKind::Bpf,
        }
    }

    /// Opens the kernel side now (so errors show at start-up), ready to `run` on a thread.
    pub fn open(&self, opts: &Options) -> Result<Box<dyn Source>, Error> {
        match self {
            Spec::Inotify { path, recursive } => Ok(Box::new(inotify::InotifySource::open(
                path, *recursive, opts,
            )?)),
            Spec::Route { netns } => Ok(Box::new(route::RouteSource::open(
                opts.route_rcvbuf,
                netns.as_deref(),
            )?)),
            Spec::Input { path } => Ok(Box::new(input::InputSource::open(
                path.as_deref(),
                opts.input_redact,
            )?)),
            Spec::Fanotify { path } => Ok(Box::new(fanotify::FanotifySource::open(path, opts)?)),
            Spec::Epoll { path } => Ok(Box::new(epoll::EpollSource::open(path, opts)?)),
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

impl std::fmt::Display for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Spec::Inotify { path, recursive } => {
                write!(
                    f,
                    "inotify:{}{}",
                    path.display(),
                    if *recursive { ",recursive" } else { "" }
                )
            }
            Spec::Route { netns: None } => f.write_str("route"),
            Spec::Route { netns: Some(n) } => write!(f, "route:{n}"),
            Spec::Input { path: None } => f.write_str("input"),
            Spec::Input { path: Some(p) } => write!(f, "input:{}", p.display()),
            Spec::Fanotify { path } => write!(f, "fanotify:{}", path.display()),
            Spec::Epoll { path } => write!(f, "epoll:{}", path.display()),
            Spec::Bpf(t) => write!(f, "bpf ({} families)", t.families.count_ones()),
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
    /// `--route-rcvbuf`: the route socket's receive buffer in bytes (None: the default).
    pub route_rcvbuf: Option<usize>,
    /// `--input-redact`: key events without the key.
    pub input_redact: bool,
    /// `--bpf-ringbuf-size` in bytes (None: the bpf source's default).
    pub bpf_ringbuf_size: Option<u32>,
}

/// A running source: reads its fd until `stop` fires, sending events through `out`.
pub trait Source: Send {
    fn kind(&self) -> SourceKind;
    fn run(self: Box<Self>, out: &mut Emitter, stop: &Stop) -> Result<(), Error>;
}

/// What a source's handler wants next.
pub enum Flow {
    Continue,
    /// The pipeline is gone: end the source.
    Stop,
}

/// What woke a source's read loop.
pub enum Wake<'a> {
    /// A buffer of kernel records.
    Data(&'a [u8]),
    /// The loop's periodic tick came due (only when `read_loop` was given one).
    Tick,
}

/// Reads that a source may still do after a stop request: 16 x 256 KiB holds a full inotify
/// or fanotify queue (16384 records) several times over, and no more, so a busy fd cannot keep
/// letrace from exiting.
const STOP_DRAIN_READS: usize = 16;

/// The read loop every fd-owning source shares: waits for `fd` or `stop`, reads whole buffers
/// and hands each to `handle` as `Wake::Data`; with `tick`, also calls `handle(Wake::Tick)` at
/// least that often. It checks `stop` between reads, so a stream that never goes quiet cannot
/// hide the stop request, and then drains a bounded amount of what was queued.
pub fn read_loop<E>(
    fd: RawFd,
    stop: &Stop,
    buf: &mut [u8],
    tick: Option<std::time::Duration>,
    io_err: impl Fn(std::io::Error) -> E,
    mut handle: impl FnMut(Wake<'_>) -> Result<Flow, E>,
) -> Result<(), E> {
    let timeout = tick.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
    let mut last_tick = std::time::Instant::now();
    loop {
        if tick.is_some_and(|t| last_tick.elapsed() >= t) {
            if let Flow::Stop = handle(Wake::Tick)? {
                return Ok(());
            }
            last_tick = std::time::Instant::now();
        }
        let rev = crate::sys::poll(&[fd, stop.fd()], timeout).map_err(&io_err)?;
        let stopping = rev[1] != 0;
        let mut reads = 0;
        loop {
            if stopping && reads >= STOP_DRAIN_READS {
                return Ok(());
            }
            if !stopping && stop.is_set() {
                break; // back to poll, which now sees the stop
            }
            let n = match crate::sys::read(fd, buf).map_err(&io_err)? {
                Some(n) if n > 0 => n,
                _ => break,
            };
            reads += 1;
            if let Flow::Stop = handle(Wake::Data(&buf[..n]))? {
                return Ok(());
            }
        }
        if stopping {
            return Ok(());
        }
    }
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

    #[test]
    fn parses_fanotify_and_epoll_specs() {
        assert_eq!(
            Spec::parse("fanotify:/a,b").unwrap(),
            Spec::Fanotify {
                path: "/a,b".into()
            }
        );
        assert_eq!(
            Spec::parse("epoll:/run/x.sock").unwrap(),
            Spec::Epoll {
                path: "/run/x.sock".into()
            }
        );
        for bad in ["fanotify", "fanotify:", "epoll"] {
            assert!(
                matches!(Spec::parse(bad), Err(Error::BadSpec { .. })),
                "{bad}"
            );
        }
        assert_eq!(Spec::parse("epoll:/f").unwrap().kind(), SourceKind::Epoll);
    }
}
