//! `beeline-lab`: the research workflow apart from the product. The papers' reproductions
//! (`experiment`, each step a `beeline` command run in this process through the CLI's library)
//! and the benchmark tables of docs/BENCHMARKS.md (`benchmarks`). The product CLI, `beeline`,
//! keeps generate, view, info, eval, invert, edit, convert, bench (one measurement) and the
//! training commands.

mod benchmarks;
mod experiment;

use clap::{Parser, Subcommand};

/// Beeline's lab: reproductions of the papers and the benchmark tables of docs/.
#[derive(Parser, Debug)]
#[command(name = "beeline-lab", version, about)]
struct Lab {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one named reproduction end to end (train → pairs → student → eval → pictures);
    /// --quick at test size, --list to see them.
    Experiment(experiment::Args),
    /// Full generation of every bundled model on every backend, written into
    /// docs/BENCHMARKS.md and docs/bench/native.json.
    Benchmarks(benchmarks::Args),
}

fn main() -> std::process::ExitCode {
    let result = match Lab::parse().command {
        Command::Experiment(a) => experiment::run(a),
        Command::Benchmarks(a) => benchmarks::run_cmd(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            beeline_cli::exit::code_for(&e)
        }
    }
}
