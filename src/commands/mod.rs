//! One module per subcommand: what `main` dispatches to.

pub mod compare;
pub mod merge;
pub mod profiles;
pub mod report;
pub mod run;
pub mod serve;
