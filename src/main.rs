//! The `aqnn` binary: parse the command line ([`cli`]), run a command ([`commands`]) on the
//! library, draw progress bars, and map the library's errors (which name config keys and
//! values) to the flags the user typed and to exit codes. None of this is in the library.

// The commands were written inside the library, as `crate::data`, `crate::store`, ...: the
// library's modules are brought to this crate's root so those paths name the library's.
use aqnn::{
    analog, analysis, bench, config, data, encode, experiment, nn, optim, quant, report, store,
    train,
};

mod cli;
mod commands;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => commands::train::run(&a),
        Command::Levels(a) => commands::levels::run(&a),
        Command::Data(c) => commands::data::run(&c),
        Command::Sweep(a) => commands::sweep::run(&a),
        Command::Collect(a) => commands::sweep::collect(&a),
        Command::Analyze(a) => commands::analyze::run(&a),
        Command::Reproduce(a) => commands::reproduce::run(&a),
        Command::Bench(a) => commands::bench::run(&a),
        Command::Plot(a) => commands::report::plot(&a),
        Command::Report(a) => commands::report::run(&a),
        Command::Eval(a) => commands::eval::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes, joined as `{e:#}` would (multi-line hints
            // folded in), each in the words of the command line.
            let msg = e
                .chain()
                .map(commands::cli_text)
                .collect::<Vec<_>>()
                .join(": ");
            let one_line: Vec<&str> = msg
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("error: {}", one_line.join(" "));
            ExitCode::from(1)
        }
    }
}
