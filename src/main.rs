use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = letrace::cli::Cli::parse();
    match letrace::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed stdout (`letrace ... | head`) is the reader's choice, not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("letrace: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
