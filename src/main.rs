//! The `synsim` command line: arguments in, a command run, errors printed
//! with their causes behind a program prefix, exit status 2 on error.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = synsim::cli::Cli::parse();
    // Ctrl-C: one line on what was kept and how to go on, then exit 130
    // (as a shell reports an interrupted command).
    let _ = ctrlc::set_handler(|| {
        synsim::console::note(&synsim::study::interrupted());
        std::process::exit(130);
    });
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
            synsim::console::note(&format!("synsim: error: {e}"));
            for cause in e.chain().skip(1) {
                synsim::console::note(&format!("  caused by: {cause}"));
            }
            ExitCode::from(2)
        }
    }
}
