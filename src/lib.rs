//! `loadtest`: load-test and benchmark authentication APIs.
//!
//! See `docs/ARCHITECTURE.md` for the data flow and the module map.

pub mod cli;
pub mod commands;
pub mod error;
pub mod target;
pub mod thresholds;
pub mod units;
