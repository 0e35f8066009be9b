//! One module per subcommand: glue between the CLI and the library.

pub mod analyze;
pub mod bench;
pub mod data;
pub mod eval;
pub mod levels;
pub mod report;
pub mod reproduce;
pub mod sweep;
pub mod train;

use std::io::IsTerminal;

/// True when progress bars should be drawn (stderr is a terminal).
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// The command line as typed, for provenance.
pub fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}
