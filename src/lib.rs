//! `loadtest`: load-test and benchmark authentication APIs.
//!
//! See `docs/ARCHITECTURE.md` for the data flow and the module map.

// `loadtest::…` paths work inside the crate too: the test fixtures in `tests/support/` are
// compiled into the unit tests, the integration tests, the benches and the examples alike.
extern crate self as loadtest;

pub mod attack;
pub mod bench_summary;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod conclude;
pub mod console;
pub mod contract;
pub mod error;
pub mod export;
pub mod flow;
pub mod histogram;
pub mod input;
pub mod interrupt;
pub mod limits;
pub mod merge;
pub mod phases;
pub mod profile;
pub mod record;
pub mod reference_api;
pub mod schedule;
pub mod secrets;
pub mod server;
pub mod shard;
pub mod text;
pub mod thresholds;
pub mod units;
