//! Command line: argument parsing and the glue from arguments to library calls.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::encode::Format;
use crate::record::{self, Target};
use crate::source::Spec;

#[derive(Parser, Debug)]
#[command(
    name = "letrace",
    version,
    about = "Event Tracing for Linux: kernel events as JSON lines, XML or CSV"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Record events from kernel sources into one or more outputs.
    Record(RecordArgs),
    /// Check which sources can run here, and if not, why and what to do.
    Doctor,
    /// Audit logs: `letrace audit parse` turns raw auditd logs into events.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run under auditd as a plugin: raw records on stdin, events appended to OUTPUT as JSON
    /// lines (one argument only: auditd passes at most two). See docs/audit.md.
    AuditPlugin(crate::audit::plugin::PluginArgs),
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Parse raw auditd logs (files, or stdin) into one event per audit event.
    /// Exit status: 0 ok, 3 some lines were rejected (reported on stderr), 1 error.
    Parse(crate::audit::cli::ParseArgs),
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Source to record (repeatable): inotify:PATH[,recursive], fanotify:PATH, epoll:PATH,
    /// route[:NETNS], input[:PATH], bpf[:file,process,network,user] (docs/bpf.md). Default:
    /// inotify on the current directory, route, and input when there are input devices (those
    /// that cannot run are skipped).
    #[arg(short = 's', long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Output file (repeatable); the format comes from the extension (.jsonl/.json, .xml,
    /// .csv) unless -f is given. "-" or none: standard output.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub outputs: Vec<String>,
    /// Output format: json, xml, csv or text (default: from the extension; on stdout text on
    /// a terminal, JSON lines otherwise).
    #[arg(short = 'f', long = "format", value_name = "FORMAT")]
    pub format: Option<String>,
    /// Stop after this many seconds (fractions allowed).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Stop after writing this many events (LOST reports not counted).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Events that may wait between sources and outputs; beyond it, loss is counted.
    #[arg(long, value_name = "N", default_value_t = 262_144)]
    pub queue_size: usize,
    /// route: receive buffer of the netlink socket in bytes (default 4 MiB). Smaller values
    /// make kernel-side loss (reported as LOST, then resynced) likelier.
    #[arg(long, value_name = "BYTES")]
    pub route_rcvbuf: Option<usize>,
    /// input: log key events without the key (KEY_PRESS etc. stay, the key name, code and
    /// scan code go). Mouse and joystick buttons (BTN_*) are kept.
    #[arg(long)]
    pub input_redact: bool,
    /// Skip sources that cannot run here (warning on stderr and a `letrace` event) instead
    /// of failing.
    #[arg(long)]
    pub best_effort: bool,
    /// Size of the bpf source's kernel ring buffer: a power of two (bytes, or with K/M/G).
    /// Default 8M. When it fills, the kernel counts what it drops and letrace writes LOST.
    #[arg(long, value_name = "SIZE", value_parser = crate::source::bpf::parse_ringbuf_size)]
    pub bpf_ringbuf_size: Option<u32>,
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Record(args) => record_cmd(args),
        Command::Doctor => {
            print!("{}", crate::doctor::table(&crate::doctor::all()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Parse(args)) => crate::audit::cli::parse_cmd(args),
        Command::AuditPlugin(args) => crate::audit::plugin::plugin_cmd(args),
    }
}

fn record_cmd(args: RecordArgs) -> Result<ExitCode> {
    let cfg = record_config(&args)?;
    let outcome = record::run(&cfg).context("record")?;
    if !outcome.broken_pipe {
        eprintln!("{}", outcome.totals.summary());
    }
    Ok(ExitCode::SUCCESS)
}

fn record_config(args: &RecordArgs) -> Result<record::Config> {
    let forced = args.format.as_deref().map(Format::from_name).transpose()?;
    let stdout_tty = std::io::stdout().is_terminal();
    let stdout_format = forced.unwrap_or(if stdout_tty {
        Format::Text
    } else {
        Format::Json
    });
    let mut outputs = Vec::new();
    for o in &args.outputs {
        if o == "-" {
            outputs.push((stdout_format, Target::Stdout));
        } else {
            let f = match forced {
                Some(f) => f,
                None => Format::from_path(o)?,
            };
            outputs.push((f, Target::File(o.clone())));
        }
    }
    if outputs.is_empty() {
        outputs.push((stdout_format, Target::Stdout));
    }
    let duration = match args.duration {
        None => None,
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => bail!("--duration {s}: must be a positive number of seconds"),
    };
    if args.count == Some(0) {
        bail!("--count 0: must be at least 1");
    }
    let sources = if args.sources.is_empty() {
        Spec::defaults()
    } else {
        args.sources
            .iter()
            .map(|s| Spec::parse(s))
            .collect::<Result<Vec<_>, _>>()?
    };
    let color = stdout_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    Ok(record::Config {
        sources,
        outputs,
        color,
        duration,
        count: args.count,
        queue_size: args.queue_size,
        source_options: crate::source::Options {
            route_rcvbuf: args.route_rcvbuf,
            input_redact: args.input_redact,
            bpf_ringbuf_size: args.bpf_ringbuf_size,
            ..Default::default()
        },
        // The defaults are "whatever can run here": skip, don't fail.
        best_effort: args.best_effort || args.sources.is_empty(),
    })
}
