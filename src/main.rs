//! The `aqnn` binary: parse the command line, call the library, map errors to exit codes.

use aqnn::cli::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => aqnn::commands::train::run(&a),
        Command::Levels(a) => aqnn::commands::levels::run(&a),
        Command::Data(c) => aqnn::commands::data::run(&c),
        Command::Sweep(a) => aqnn::commands::sweep::run(&a),
        Command::Collect(a) => aqnn::commands::sweep::collect(&a),
        Command::Analyze(a) => aqnn::commands::analyze::run(&a),
        Command::Reproduce(a) => aqnn::commands::reproduce::run(&a),
        Command::Bench(a) => aqnn::commands::bench::run(&a),
        Command::Plot(a) => aqnn::commands::report::plot(&a),
        Command::Report(a) => aqnn::commands::report::run(&a),
        Command::Eval(a) => aqnn::commands::eval::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes, joined (multi-line hints folded in).
            let msg = format!("{e:#}");
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
