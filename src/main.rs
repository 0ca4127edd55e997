//! `loadtest` binary: parse, dispatch, map errors to exit codes — nothing else.

use std::process::ExitCode;

use clap::Parser;
use loadtest::cli::{Cli, Command};
use loadtest::commands;
use loadtest::error::Failure;

/// A usage error on one line: clap's first line plus the indented lines that complete it
/// (the missing arguments, the possible values); a missing subcommand lists the subcommands.
fn usage_line(e: &clap::Error) -> String {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand
    ) {
        let names: Vec<String> = <Cli as clap::CommandFactory>::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        return format!("a subcommand is required: {}", names.join(", "));
    }
    let text = e.render().to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("invalid usage").trim();
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_string();
    for more in lines.take_while(|l| l.starts_with(' ') && !l.trim().is_empty()) {
        line.push(' ');
        line.push_str(more.trim());
    }
    line
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help / --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("loadtest: {} (see loadtest --help)", usage_line(&e));
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
        loadtest::interrupt::install();
        match cli.command {
            Command::Smoke(args) => commands::run::run("smoke", args).await,
            Command::Load(args) => commands::run::run("load", args).await,
            Command::Stress(args) => commands::run::run("stress", args).await,
            Command::Spike(args) => commands::run::run("spike", args).await,
            Command::Run { profile, args } => commands::run::run(&profile, args).await,
            Command::Profiles { profiles } => commands::profiles::run(profiles.as_deref()),
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Probe(args) => commands::probe::run(&args).await,
            Command::Compare(args) => commands::compare::run(args),
            Command::Capacity(args) => commands::capacity::run(args).await,
            Command::Ab(args) => commands::compare::ab(args).await,
            Command::Report(args) => commands::report::run(&args),
            Command::Merge(args) => commands::merge::run(&args),
            Command::BenchSummary(args) => commands::bench_summary::run(&args),
            Command::Completions { shell } => commands::completions::run(shell),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            // The one scrubber: no registered secret reaches stderr.
            eprintln!(
                "loadtest: {}",
                loadtest::secrets::global().scrub_registered(&f.one_line())
            );
            ExitCode::from(f.code)
        }
    }
}
