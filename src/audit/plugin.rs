//! `letrace audit-plugin OUTPUT`: letrace as an auditd plugin (plugins.d, `format = string`).
//!
//! auditd passes a plugin at most two arguments, so this is its own command: the output path
//! is the only argument. auditd writes raw record lines to our stdin and signals us:
//! SIGTERM when it stops (we finish the events in flight and exit 0), SIGHUP when it reloads
//! (we reopen the output, which is how a rotated log is followed). A copier thread moves stdin
//! into a pipe that the normal `audit parse` pipeline reads, so a stop is simply the end of
//! that pipe's input: every event already received is written, none is cut off.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use super::cli::EXIT_BAD_LINES;
use super::coalesce;
use super::parse::{self, Input};
use crate::encode::Format;
use crate::sink::Dest;

#[derive(Args, Debug)]
pub struct PluginArgs {
    /// File the events are appended to, as JSON lines (created 0600 if missing; reopened on
    /// SIGHUP). "-": standard output.
    #[arg(value_name = "OUTPUT")]
    pub output: String,
}

pub fn plugin_cmd(args: PluginArgs) -> Result<ExitCode> {
    let reopen = Arc::new(AtomicBool::new(false));
    let dest = if args.output == "-" {
        Dest::stdout()
    } else {
        // Appending is what makes a restart by auditd (or a reload) keep the earlier events;
        // an XML document or a CSV header cannot be appended to, so JSON lines only.
        if let Ok(f @ (Format::Xml | Format::Csv)) = Format::from_path(&args.output) {
            bail!(
                "{}: audit-plugin appends JSON lines, not {f:?}: use a .jsonl path",
                args.output
            );
        }
        Dest::append_file(&args.output, Some(reopen.clone()))?
    };
    let stop = crate::sys::eventfd().context("audit-plugin: eventfd")?;
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .context("audit-plugin: cannot install signal handlers")?;
    let stop = Arc::new(stop);
    let stop2 = stop.clone();
    std::thread::Builder::new()
        .name("audit-plugin-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGHUP {
                    reopen.store(true, std::sync::atomic::Ordering::Relaxed);
                } else {
                    crate::sys::eventfd_signal(stop2.as_fd());
                }
            }
        })
        .context("audit-plugin: cannot start the signal thread")?;
    let (rx, tx) = pipe().context("audit-plugin: pipe")?;
    let copier = std::thread::Builder::new()
        .name("audit-plugin-stdin".into())
        .spawn(move || copy_until_stop(libc::STDIN_FILENO, tx, &stop))
        .context("audit-plugin: cannot start the stdin thread")?;
    let cfg = parse::Config {
        inputs: vec![Input::File("<auditd>".into(), rx)],
        coalesce: coalesce::Config::default(),
        max_reports: 100,
        progress: false,
    };
    let report = parse::run(&cfg, Format::Json, false, dest).context("audit-plugin")?;
    if let Ok(Err(e)) = copier.join() {
        bail!("audit-plugin: reading stdin: {e}");
    }
    if report.bad_lines > 0 {
        return Ok(ExitCode::from(EXIT_BAD_LINES));
    }
    Ok(ExitCode::SUCCESS)
}

fn pipe() -> std::io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// Copies `from` into `to` until end of input, or until `stop` is signalled; then takes what
/// is already waiting on `from` (auditd may have written the end of an event just before
/// its signal) and returns, closing `to`: the parser sees the end of its input.
fn copy_until_stop(from: i32, mut to: File, stop: &OwnedFd) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    let mut stopping = false;
    loop {
        let fds = [from, stop.as_raw_fd()];
        let timeout = if stopping { 0 } else { -1 };
        let ready = crate::sys::poll(&fds, timeout)?;
        if !stopping && ready[1] != 0 {
            stopping = true;
            continue;
        }
        if ready[0] == 0 {
            if stopping {
                return Ok(());
            }
            continue;
        }
        // SAFETY: reading into our own buffer of buf.len() bytes.
        let n = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n as usize])?;
    }
}
