//! Plain Goose, for comparison with `loadtest`: one GET transaction, N users, S seconds.
//! usage: cargo run --release --example plain_goose -- URL USERS SECONDS
//! Prints `plain-goose req/s: X`.

use goose::config::GooseConfiguration;
use goose::prelude::*;

async fn get(user: &mut GooseUser) -> TransactionResult {
    let _ = user.get("/health").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let args: Vec<String> = std::env::args().collect();
    let host = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let users: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let secs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let plan = format!("{users},0s;{users},{secs}s;0,0");
    let mut config = GooseConfiguration::parse_args_default(&["--test-plan", plan.as_str()])?;
    config.host = Some(host);
    config.no_telnet = true;
    config.quiet = 1;
    config.no_print_metrics = true;
    let metrics = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario!("plain").register_transaction(transaction!(get)))
        .execute()
        .await?;
    let total: usize = metrics.requests.values().map(|a| a.raw_data.counter).sum();
    println!("plain-goose req/s: {:.0}", total as f64 / secs as f64);
    Ok(())
}
