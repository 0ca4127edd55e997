//! Helpers shared by the benchmarks: the runtime and clock of the reference API's (cache,
//! query, validate_path) and the synthetic records of `harness`.

#![allow(dead_code)]

use tokio::runtime::Runtime;

/// Synthetic records (the integration tests' fixture file).
#[path = "../../tests/support/sample.rs"]
pub mod sample;

/// The runtime every async benchmark runs on: two workers, like the 2-core CI runner.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Now, in Unix seconds (the store's timestamps).
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
