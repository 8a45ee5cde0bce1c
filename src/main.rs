//! The `synsim` command line: arguments in, a command run, errors printed
//! with their causes behind a program prefix, exit status 2 on error.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = synsim::cli::Cli::parse();
    match synsim::cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`synsim trace normal | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("synsim: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
