//! `loadtest` binary: parse, dispatch, map errors to exit codes — nothing else.

use std::process::ExitCode;

use clap::Parser;
use loadtest::cli::{Cli, Command};
use loadtest::commands;
use loadtest::error::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help / --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid usage").trim();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("loadtest: {first} (see loadtest --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadtest: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let result: Result<u8, Failure> = runtime.block_on(async {
        match cli.command {
            Command::Smoke(args) => commands::run::run("smoke", args).await,
            Command::Load(args) => commands::run::run("load", args).await,
            Command::Stress(args) => commands::run::run("stress", args).await,
            Command::Spike(args) => commands::run::run("spike", args).await,
            Command::Run { profile, args } => commands::run::run(&profile, args).await,
            Command::Profiles { profiles } => commands::profiles::run(profiles.as_deref()),
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Compare(args) => commands::compare::run(args),
            Command::Ab(args) => commands::compare::ab(args).await,
            Command::Report(args) => commands::report::run(&args),
            Command::Merge(args) => commands::merge::run(&args),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("loadtest: {}", f.one_line());
            ExitCode::from(f.code)
        }
    }
}
