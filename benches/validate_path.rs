//! The whole token-validation path of the reference API, in-process: `GET /api/v1/auth/me`
//! through the real axum router (middleware, bearer parsing, JWT verification, token hash,
//! cache, store, JSON response) without a network — `tower::ServiceExt::oneshot`.
//!
//! Benchmark ids are `validate_path/{backend}/me/{users}/{mode}`, e.g.
//! `validate_path/sqlite/me/10k/baseline` and `.../10k/optimized`. Baseline: no cache, no
//! secondary indexes (the session lookup scans `sessions`). Optimized: the session and the user
//! come from the memory caches (filled at login).
//!
//! SQLite (a temporary file) always; PostgreSQL too when `DATABASE_URL` is set. Tokens are
//! obtained through the same router: one signup + login, plus logins of seeded users spread
//! over the table.
//!
//! Run: `cargo bench --bench validate_path` (add `-- --test` to run each benchmark once).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use tower::ServiceExt;

mod common;
use common::runtime;

use loadtest::reference_api::auth::HashCost;
use loadtest::reference_api::{http, AppState, Mode, TargetConfig, SEED_PASSWORD};

const SEED_USERS: u64 = 10_000;
const SEED_LABEL: &str = "10k";
/// Seeded users that log in (besides the one that signs up), so several sessions are active.
const SEEDED_LOGINS: u64 = 63;
const MODES: [Mode; 2] = [Mode::Baseline, Mode::Optimized];

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("response body");
    (status, body.to_vec())
}

async fn post_json(app: &Router, path: &str, body: Value) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let (status, bytes) = call(app, req).await;
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

async fn login(app: &Router, email: &str, password: &str) -> HeaderValue {
    let (status, body) = post_json(
        app,
        "/api/v1/auth/login",
        json!({ "email": email, "password": password }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "login of {email} failed: {body}");
    let token = body["access_token"].as_str().expect("access_token");
    HeaderValue::from_str(&format!("Bearer {token}")).expect("header value")
}

/// A router over a fresh, seeded state and bearer headers of active sessions.
async fn setup(
    mode: Mode,
    database_url: Option<&str>,
) -> (Arc<AppState>, Router, Vec<HeaderValue>) {
    let config = TargetConfig {
        mode,
        database_url: database_url.map(str::to_string),
        seed_users: SEED_USERS,
        hash_cost: HashCost::FAST,
        ..TargetConfig::default()
    };
    let state = Arc::new(
        AppState::build(&config)
            .await
            .expect("cannot build the reference API state"),
    );
    let app = http::router(state.clone());

    let (email, password) = ("bench-user@bench.loadtest.invalid", "bench-password-1");
    let (status, body) = post_json(
        &app,
        "/api/v1/auth/signup",
        json!({ "email": email, "password": password }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "signup failed: {body}");
    let mut bearers = vec![login(&app, email, password).await];
    for k in 0..SEEDED_LOGINS {
        let id = (k * 7_919 + 1_234) % SEED_USERS + 1;
        let seeded = format!("seed-{id}@seed.loadtest.invalid");
        bearers.push(login(&app, &seeded, SEED_PASSWORD).await);
    }
    (state, app, bearers)
}

fn me_request(bearer: &HeaderValue) -> Request<Body> {
    let mut req = Request::new(Body::empty());
    *req.uri_mut() = "/api/v1/auth/me".parse().expect("uri");
    req.headers_mut()
        .insert(header::AUTHORIZATION, bearer.clone());
    req
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, backend: &str, url: Option<&str>) {
    let mut group = c.benchmark_group(format!("validate_path/{backend}/me/{SEED_LABEL}"));
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for mode in MODES {
        let (state, app, bearers) = rt.block_on(setup(mode, url));
        // One request outside the timing: it must succeed (and shows the cache outcome).
        rt.block_on(async {
            let (status, body) = call(&app, me_request(&bearers[0])).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "GET /me failed: {}",
                String::from_utf8_lossy(&body)
            );
        });
        group.bench_function(mode.to_string(), |b| {
            let mut i = 0usize;
            b.to_async(rt).iter(|| {
                i = (i + 1) % bearers.len();
                let (app, req) = (&app, me_request(&bearers[i]));
                async move {
                    let (status, body) = call(app, req).await;
                    assert_eq!(status, StatusCode::OK);
                    body
                }
            })
        });
        rt.block_on(state.close());
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    bench_backend(c, &rt, "sqlite", None);
    match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => bench_backend(c, &rt, "postgres", Some(&url)),
        None => println!("DATABASE_URL not set: skipping the PostgreSQL benchmarks"),
    }
}

criterion_group!(validate_path, benches);
criterion_main!(validate_path);
