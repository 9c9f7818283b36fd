//! `letrace record`: open sources and outputs, run sources on threads, drain the queue into
//! the outputs until a signal, `--duration` or `--count`, then stop in order: sources stopped,
//! queue drained, files flushed, documents closed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::encode::Format;
use crate::event::SourceKind;
use crate::pipeline::{self, Emitter, Msg, Output, Pipeline, Totals};
use crate::sink::{self, Dest};
use crate::source::{self, Spec, Stop};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Source(#[from] source::Error),
    #[error(transparent)]
    Sink(#[from] sink::Error),
    #[error("source {kind} stopped: {err}")]
    SourceFailed {
        kind: SourceKind,
        err: source::Error,
    },
    #[error("source {0} crashed (a bug: please report it)")]
    SourcePanicked(SourceKind),
    #[error("cannot install signal handlers: {0}")]
    Signal(std::io::Error),
    #[error("cannot start a thread for source {0}: {1}")]
    Thread(SourceKind, std::io::Error),
    #[error("source {kind} cannot run here: {reason} (see `letrace doctor`; add --best-effort to run the other sources without it)")]
    CannotRun { kind: SourceKind, reason: String },
    #[error("no source could start (--best-effort skipped them all; see the warnings above)")]
    NoSource,
}

/// Where one output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Stdout,
    File(String),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub sources: Vec<Spec>,
    pub outputs: Vec<(Format, Target)>,
    /// Colour for text on stdout.
    pub color: bool,
    pub duration: Option<Duration>,
    pub count: Option<u64>,
    pub queue_size: usize,
    /// Source settings from the command line; `run` adds the output paths to ignore.
    pub source_options: source::Options,
    /// A source that cannot run is skipped with a warning (and a `letrace` event) instead of
    /// failing the run.
    pub best_effort: bool,
}

/// How the run ended.
#[derive(Debug)]
pub struct Outcome {
    pub totals: Totals,
    /// The reader of stdout went away; not an error for a command line tool.
    pub broken_pipe: bool,
}

const TICK: Duration = Duration::from_millis(100);

pub fn run(cfg: &Config) -> Result<Outcome, Error> {
    let mut opts = cfg.source_options.clone();
    for (_, t) in &cfg.outputs {
        if let Target::File(p) = t {
            opts.ignore_paths.push(absolute(Path::new(p)));
        }
    }
    // Sources first: a bad source spec must not truncate existing output files.
    let mut opened = Vec::new();
    let mut skipped = Vec::new();
    for spec in &cfg.sources {
        match open_checked(spec, &opts) {
            Ok(src) => opened.push(src),
            Err(e) if cfg.best_effort => {
                let why = match &e {
                    Error::CannotRun { reason, .. } => reason.clone(),
                    other => other.to_string(),
                };
                eprintln!(
                    "letrace: warning: skipping source {} (--best-effort): {why}",
                    spec.kind()
                );
                skipped.push(skipped_event(spec.kind(), why));
            }
            Err(e) => return Err(e),
        }
    }
    if opened.is_empty() && !cfg.sources.is_empty() {
        return Err(Error::NoSource);
    }
    let mut outputs = Vec::new();
    for (format, target) in &cfg.outputs {
        let (dest, color) = match target {
            Target::Stdout => (Dest::stdout(), cfg.color),
            Target::File(p) => (Dest::create_file(p)?, false),
        };
        outputs.push(Output::new(format.encoder(color), dest));
    }

    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, signalled.clone()).map_err(Error::Signal)?;
    }

    let stop = Stop::new()?;
    // JSON lines everywhere: busy sources may encode on their own threads.
    let json = !outputs.is_empty() && outputs.iter().all(Output::is_json);
    let (tx, rx) = pipeline::queue_for(cfg.queue_size, json);
    let mut threads: Vec<(SourceKind, JoinHandle<Result<(), source::Error>>)> = Vec::new();
    for src in opened {
        let kind = src.kind();
        let (tx, stop) = (tx.clone(), stop.clone());
        let h = std::thread::Builder::new()
            .name(format!("letrace-{kind}"))
            .spawn(move || {
                let mut em = Emitter::new(tx, kind);
                let res = src.run(&mut em, &stop);
                if res.is_err() {
                    // One source failing ends the run; the others must not wait forever.
                    stop.trigger();
                }
                res
            })
            .map_err(|e| Error::Thread(kind, e))?;
        threads.push((kind, h));
    }
    drop(tx);
    // Watches and marks are set: from here on nothing is missed. Scripts and tests wait for it.
    let srcs: Vec<String> = cfg.sources.iter().map(|s| s.to_string()).collect();
    let outs: Vec<&str> = cfg
        .outputs
        .iter()
        .map(|(_, t)| {
            if let Target::File(p) = t {
                p.as_str()
            } else {
                "stdout"
            }
        })
        .collect();
    eprintln!(
        "letrace: recording {} -> {} (Ctrl-C to stop)",
        srcs.join(" "),
        outs.join(", ")
    );

    let mut pipe = Pipeline::new(outputs, &crate::sys::hostname());
    for ev in skipped {
        if let Err(e) = pipe.handle(ev) {
            stop.trigger();
            return Err(e.into());
        }
    }
    let deadline = cfg.duration.map(|d| Instant::now() + d);
    let mut stopping = false;
    let mut discard = false;
    let mut written = 0u64;
    let mut sink_err: Option<sink::Error> = None;
    let mut last_flush = Instant::now();
    loop {
        if !stopping
            && (signalled.load(Ordering::SeqCst) || deadline.is_some_and(|d| Instant::now() >= d))
        {
            stop.trigger();
            stopping = true;
        }
        let wait = deadline.map_or(TICK, |d| {
            d.saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), TICK)
        });
        match rx.recv_timeout(wait) {
            Ok(msg) => {
                let (mut one, mut many) = match msg {
                    Msg::One(ev) => (Some(ev), None),
                    Msg::Many(v) => (None, Some(v)),
                    Msg::Encoded(e) => {
                        // Up to --count, in one go.
                        let n = cfg
                            .count
                            .map_or(e.len(), |c| e.len().min(c.saturating_sub(written) as usize));
                        if !discard {
                            if let Err(err) = pipe.handle_encoded_lines(&e, 0..n) {
                                sink_err = Some(err);
                                discard = true;
                                stop.trigger();
                                stopping = true;
                            } else {
                                written += n as u64;
                                if cfg.count == Some(written) {
                                    discard = true;
                                    stop.trigger();
                                    stopping = true;
                                }
                            }
                        }
                        rx.recycle_encoded(e);
                        (None, None)
                    }
                };
                let evs = match (&mut one, &mut many) {
                    (Some(ev), _) => std::slice::from_mut(ev),
                    (None, Some(v)) => v.as_mut_slice(),
                    (None, None) => &mut [],
                };
                for ev in evs {
                    if discard {
                        // Drained and dropped (after --count or a write error): the sources
                        // must not wait on a full queue while they are being stopped.
                        continue;
                    }
                    let counted = !ev.is_lost();
                    if let Err(e) = pipe.handle_mut(ev) {
                        sink_err = Some(e);
                        discard = true;
                        stop.trigger();
                        stopping = true;
                        continue;
                    }
                    if counted {
                        written += 1;
                        if cfg.count == Some(written) {
                            discard = true;
                            stop.trigger();
                            stopping = true;
                        }
                    }
                }
                if let Some(v) = many {
                    rx.recycle(v);
                }
                if discard {
                    continue;
                }
                if last_flush.elapsed() >= TICK {
                    if let Err(e) = pipe.flush() {
                        sink_err = Some(e);
                        discard = true;
                        stop.trigger();
                    }
                    last_flush = Instant::now();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if !discard {
                    if let Err(e) = pipe.flush() {
                        sink_err = Some(e);
                        discard = true;
                        stop.trigger();
                    }
                }
                last_flush = Instant::now();
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }

    let mut first_err = None;
    for (kind, h) in threads {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                first_err.get_or_insert(Error::SourceFailed { kind, err });
            }
            Err(_) => {
                first_err.get_or_insert(Error::SourcePanicked(kind));
            }
        }
    }
    let finished = if sink_err.is_none() {
        pipe.finish()
    } else {
        Ok(())
    };
    let broken_pipe = sink_err.as_ref().is_some_and(|e| e.is_broken_pipe());
    if let Some(e) = sink_err.filter(|e| !e.is_broken_pipe()) {
        return Err(e.into());
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    if let Err(e) = finished {
        if !e.is_broken_pipe() {
            return Err(e.into());
        }
    }
    Ok(Outcome {
        totals: pipe.totals,
        broken_pipe,
    })
}

/// Opens a source after its doctor probe: a source that cannot run here fails with the
/// probe's reason, not with whatever its first syscall happens to say.
fn open_checked(spec: &Spec, opts: &source::Options) -> Result<Box<dyn source::Source>, Error> {
    let probe = crate::doctor::probe_spec(spec);
    if probe.status == crate::doctor::Status::No {
        return Err(Error::CannotRun {
            kind: spec.kind(),
            reason: probe.reason(),
        });
    }
    Ok(spec.open(opts)?)
}

/// The `letrace` event that says a source was skipped under --best-effort.
fn skipped_event(kind: SourceKind, why: String) -> crate::event::Event {
    let mut ev = crate::event::Event::new(SourceKind::Letrace, "SOURCE_SKIPPED");
    ev.extra.insert(
        "letrace",
        crate::event::Map::new()
            .with("skipped_source", kind.as_str())
            .with("reason", why),
    );
    ev
}

/// An absolute form of `p` without requiring it to exist (its parent is resolved if it can be).
pub fn absolute(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    match (
        abs.parent().and_then(|d| d.canonicalize().ok()),
        abs.file_name(),
    ) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => abs,
    }
}
