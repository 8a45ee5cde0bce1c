//! Lines for the user on stderr that never panic: a closed pipe
//! (`synsim run ... 2>&1 | head -1`) silences them and the work goes on;
//! `println!`/`eprintln!` would panic there.

use std::io::Write;

/// Writes one line to stderr; a write error (a closed pipe) is ignored.
pub fn note(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}
