//! Plain Goose, for comparison with `loadtest`: one GET transaction, N users, S seconds.
//! usage: cargo run --release --example plain_goose -- URL USERS SECONDS [PATH]
//! PATH defaults to /health; with PLAIN_GOOSE_BEARER set (a token), every request carries
//! `Authorization: Bearer TOKEN` (e.g. PATH /api/v1/auth/me for the validate flow).
//! Prints `plain-goose req/s: X`.

use std::sync::OnceLock;

use goose::config::GooseConfiguration;
use goose::prelude::*;

static PATH: OnceLock<String> = OnceLock::new();
static BEARER: OnceLock<Option<String>> = OnceLock::new();

async fn get(user: &mut GooseUser) -> TransactionResult {
    let path = PATH.get().map_or("/health", String::as_str);
    match BEARER.get().and_then(Option::as_deref) {
        Some(token) => {
            let rb = user
                .get_request_builder(&GooseMethod::Get, path)?
                .bearer_auth(token);
            let request = GooseRequest::builder().set_request_builder(rb).build();
            let _ = user.request(request).await?;
        }
        None => {
            let _ = user.get(path).await?;
        }
    }
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
    let _ = PATH.set(args.get(4).cloned().unwrap_or_else(|| "/health".into()));
    let _ = BEARER.set(
        std::env::var("PLAIN_GOOSE_BEARER")
            .ok()
            .filter(|t| !t.is_empty()),
    );
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
