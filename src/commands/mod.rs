//! One module per subcommand: what `main` dispatches to.

pub mod serve;
