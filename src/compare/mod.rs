//! Comparing runs: statistics ([`stats`]) and verdicts.

pub mod stats;
