//! `loadtest completions SHELL`: print a shell completion script (bash, zsh, fish, elvish,
//! powershell) to stdout, generated from the clap definitions in `crate::cli`.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::Failure;

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "loadtest", &mut out);
    out
}

pub fn run(shell: Shell) -> Result<u8, Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(&script(shell)).and_then(|()| out.flush()) {
        // `loadtest completions bash | head` is fine.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Failure::bad_input(format!("cannot write to stdout: {e}"))),
        Ok(()) => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(script(shell)).unwrap();
            for word in ["loadtest", "smoke", "compare", "completions", "threshold"] {
                assert!(text.contains(word), "{shell}: no {word}");
            }
        }
    }
}
