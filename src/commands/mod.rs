//! One module per subcommand: what `main` dispatches to.

pub mod bench_summary;
pub mod capacity;
pub mod compare;
pub mod completions;
pub mod merge;
pub mod probe;
pub mod profiles;
pub mod report;
pub mod run;
pub mod serve;
