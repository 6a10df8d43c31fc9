//! `beeline`: generate images or 2D samples from a rectified-flow model file, inspect model
//! files, and (with the cargo feature `train`) train models. Run `beeline <command> --help` for
//! each command's flags and an example.

mod bench;
mod exit;
mod generate;
mod info;
mod plot;
#[cfg(feature = "train")]
mod train;

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
    /// Time one network evaluation on the WGSL runtime, the CPU reference and burn's backends.
    Bench(bench::Args),
    /// Train a rectified flow from data (1-RF) and export it as a model file.
    #[cfg(feature = "train")]
    Train(train::Args),
    /// Not in this build: training needs the `train` cargo feature (burn).
    #[cfg(not(feature = "train"))]
    #[command(disable_help_flag = true)]
    Train {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(a) => generate::run(a),
        Command::Info(a) => info::run(a),
        Command::Bench(a) => bench::run(a),
        #[cfg(feature = "train")]
        Command::Train(a) => train::run_cmd(a),
        #[cfg(not(feature = "train"))]
        Command::Train { .. } => Err(exit::Usage(
            "this beeline was built without training; build it with the `train` feature (it compiles burn):\n  \
             cargo run --release -p beeline-cli --features train -- train --help"
                .into(),
        )
        .into()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::code_for(&e)
        }
    }
}
