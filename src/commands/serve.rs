//! `loadtest serve`: run the reference auth API until Ctrl-C / SIGTERM.

use std::time::Instant;

use crate::cli::ServeArgs;
use crate::error::Failure;
use crate::reference_api::cache::CacheConfig;
use crate::reference_api::faults::Faults;
use crate::reference_api::{start, TargetConfig};
use crate::text::redact_url;

/// The library configuration a `serve` command line describes.
pub fn config_from(args: &ServeArgs) -> TargetConfig {
    TargetConfig {
        bind: args.bind,
        mode: args.mode,
        database_url: args.database_url.clone(),
        db_schema: args.db_schema.clone(),
        hash_cost: args.hash_cost,
        faults: Faults {
            latency: args.inject_latency,
            error_rate: args.inject_error_rate,
            stall: args.stall,
        },
        seed_users: args.seed_users,
        token_ttl: args.token_ttl,
        cache: CacheConfig {
            redis_url: args.redis_url.clone(),
            skip_invalidation: args.unsafe_skip_invalidation,
            ..CacheConfig::default()
        },
        ..TargetConfig::default()
    }
}

pub async fn run(args: ServeArgs) -> Result<u8, Failure> {
    let config = config_from(&args);
    if config.seed_users > 0 {
        eprintln!("seeding {} users…", config.seed_users);
    }
    let t0 = Instant::now();
    let mut target = start(config).await?;
    let db = args
        .database_url
        .as_deref()
        .map(redact_url)
        .unwrap_or_else(|| "temporary SQLite file".into());
    let redis = match (&args.redis_url, target.state.has_cache()) {
        (Some(u), true) => format!(", redis tier {}", redact_url(u)),
        _ => String::new(),
    };
    eprintln!(
        "reference auth API ({} mode, {db}{redis}) ready in {:.1} s",
        args.mode,
        t0.elapsed().as_secs_f64()
    );
    println!("listening on {}", target.url);
    eprintln!("Ctrl-C to stop");
    let ended = tokio::select! {
        _ = shutdown_signal() => None,
        r = target.wait() => Some(r),
    };
    match ended {
        None => {
            eprintln!("stopping…");
            target.shutdown().await;
            Ok(0)
        }
        Some(r) => {
            target.shutdown().await;
            r.map(|_| 0)
                .map_err(|e| Failure::unjudgeable(format!("server stopped: {e}")))
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
