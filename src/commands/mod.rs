//! One module per subcommand: what `main` dispatches to.

pub mod profiles;
pub mod run;
pub mod serve;
