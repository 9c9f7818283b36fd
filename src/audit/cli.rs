//! `letrace audit parse` arguments and glue (kept here so src/cli.rs stays a thin dispatcher).

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::coalesce;
use super::parse::{self, Input};
use crate::encode::Format;
use crate::sink::Dest;

/// Exit status when some input lines were rejected (the rest was parsed and written).
pub const EXIT_BAD_LINES: u8 = 3;

#[derive(Args, Debug)]
pub struct ParseArgs {
    /// Log files to read, in order; "-" or none: standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
    /// Output format: json, xml, csv or text (default: from the -o extension; on stdout
    /// text on a terminal, JSON lines otherwise).
    #[arg(short = 'f', long = "format", value_name = "FORMAT")]
    pub format: Option<String>,
    /// Output file ("-": standard output).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<String>,
    /// Emit an event whose end marker never came once the log's own clock has moved this
    /// many seconds past it.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    pub timeout: f64,
    /// Most events waiting for their last record at once; beyond it the oldest is emitted.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_pending: usize,
    /// Do not report gaps in the serial numbers as LOST events (for excerpts of logs).
    #[arg(long)]
    pub no_gaps: bool,
    /// Bad lines shown on stderr before only counting them.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_errors: u64,
}

pub fn parse_cmd(args: ParseArgs) -> Result<ExitCode> {
    let forced = args.format.as_deref().map(Format::from_name).transpose()?;
    let stdout_tty = std::io::stdout().is_terminal();
    if !(args.timeout.is_finite() && args.timeout >= 0.0) {
        bail!(
            "--timeout {}: must be a number of seconds >= 0",
            args.timeout
        );
    }
    if args.max_pending == 0 {
        bail!("--max-pending 0: must be at least 1");
    }
    let mut inputs: Vec<Input> = if args.files.is_empty() {
        vec![Input::Stdin]
    } else {
        args.files
            .iter()
            .map(|f| {
                if f == "-" {
                    Input::Stdin
                } else {
                    Input::Path(f.clone())
                }
            })
            .collect()
    };
    // Open every file first: a typo must not leave a half-written output behind unnoticed.
    // The parser reads these open files (a FIFO must be opened once only).
    for i in inputs.iter_mut() {
        if let Input::Path(p) = i {
            let f = std::fs::File::open(&*p)
                .with_context(|| format!("{p}: cannot open (check the path and permissions)"))?;
            *i = Input::File(std::mem::take(p), f);
        }
    }
    // Only now create (truncate) the output, and never over one of the inputs.
    if let Some(out) = args.output.as_deref().filter(|o| *o != "-") {
        use std::os::unix::fs::MetadataExt;
        if let Ok(om) = std::fs::metadata(out) {
            for i in &inputs {
                if let Input::File(_, f) = i {
                    if f.metadata()
                        .is_ok_and(|m| m.dev() == om.dev() && m.ino() == om.ino())
                    {
                        bail!("{out}: is also an input; writing it would destroy the log: pick another output path");
                    }
                }
            }
        }
    }
    let (format, dest) = match args.output.as_deref() {
        None | Some("-") => (
            forced.unwrap_or(if stdout_tty {
                Format::Text
            } else {
                Format::Json
            }),
            Dest::stdout(),
        ),
        Some(p) => {
            let f = match forced {
                Some(f) => f,
                None => Format::from_path(p)?,
            };
            (f, Dest::create_file(p)?)
        }
    };
    let color = stdout_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let cfg = parse::Config {
        inputs,
        coalesce: coalesce::Config {
            timeout_ms: (args.timeout * 1000.0) as u64,
            max_pending: args.max_pending,
            gaps: !args.no_gaps,
            ..coalesce::Config::default()
        },
        max_reports: args.max_errors,
        progress: parse::progress_wanted(),
    };
    let report = parse::run(&cfg, format, color, dest).context("audit parse")?;
    if report.bad_lines > 0 {
        return Ok(ExitCode::from(EXIT_BAD_LINES));
    }
    Ok(ExitCode::SUCCESS)
}
