//! `beeline`: generate images or 2D samples from a rectified-flow model file, and inspect model
//! files. Run `beeline <command> --help` for each command's flags and an example.

mod exit;
mod generate;
mod info;
mod plot;

use clap::{Parser, Subcommand};

/// Few-step rectified-flow generators, on the GPU or the CPU.
#[derive(Parser, Debug)]
#[command(name = "beeline", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate samples and write them as a PNG (an image grid, or a 2D scatter plot with
    /// trajectories).
    Generate(generate::Args),
    /// Print a model file's config and tensor table.
    Info(info::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(a) => generate::run(a),
        Command::Info(a) => info::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::code_for(&e)
        }
    }
}
