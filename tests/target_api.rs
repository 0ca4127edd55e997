//! The reference auth API over real HTTP on loopback, on every available backend.

mod common;

use std::time::{Duration, Instant};

use common::{backends, client, Backend};
use loadtest::reference_api::auth::{Claims, TokenSigner};
use loadtest::reference_api::faults::Faults;
use loadtest::reference_api::store::{Store, Table};
use loadtest::reference_api::{start, Mode, TargetConfig, SEED_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(url: &str) -> Api {
        Api {
            base: format!("{url}/api/v1/auth"),
            http: client(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn post_auth(&self, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    async fn me(&self, auth: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}/me", self.base));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send().await.unwrap()
    }

    async fn signup(&self, email: &str, password: &str) -> reqwest::Response {
        self.post("/signup", json!({"email": email, "password": password}))
            .await
    }

    async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post("/login", json!({"email": email, "password": password}))
            .await
    }

    async fn tokens(&self, email: &str, password: &str) -> (String, String) {
        let r = self.login(email, password).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["token_type"], "Bearer");
        assert!(v["expires_in"].as_u64().unwrap() > 0);
        (
            v["access_token"].as_str().unwrap().to_string(),
            v["refresh_token"].as_str().unwrap().to_string(),
        )
    }
}

async fn status_codes_on(b: &Backend) {
    let target = start(b.config.clone()).await.expect("start");
    let api = Api::new(&target.url);
    let name = &b.name;

    // signup: 201, 409, 422 naming the rule
    let r = api.signup("Alice@Example.com", "password1").await;
    assert_eq!(r.status(), StatusCode::CREATED, "{name}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["email"], "alice@example.com");
    assert!(v["id"].as_i64().is_some());
    assert!(v.get("password").is_none() && v.get("password_hash").is_none());
    assert_eq!(
        api.signup("alice@example.com", "password2").await.status(),
        StatusCode::CONFLICT
    );
    let r = api.signup("not-an-email", "password1").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("email must contain '@'"));
    let r = api.signup("bob@example.com", "short").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("at least 8 characters"));
    let r = api.signup("bob@example.com", "nodigitshere").await;
    assert!(r.text().await.unwrap().contains("must contain a digit"));
    let r = api
        .http
        .post(format!("{}/signup", api.base))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "{name}: malformed JSON"
    );

    // login: 200; 401 with identical bodies for unknown user and wrong password
    let (access, refresh) = api.tokens("alice@example.com", "password1").await;
    let unknown = api.login("nobody@example.com", "password1").await;
    let wrong = api.login("alice@example.com", "password9").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.text().await.unwrap(),
        wrong.text().await.unwrap(),
        "{name}: user enumeration"
    );

    // me: 200 with a good token; 401 for missing, malformed, wrong scheme, wrong key, expired
    let r = api.me(Some(&format!("Bearer {access}"))).await;
    assert_eq!(r.status(), StatusCode::OK, "{name}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["email"], "alice@example.com");
    assert_eq!(api.me(None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        api.me(Some("Bearer not.a.jwt")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.me(Some(&format!("Basic {access}"))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        sub: "1".into(),
        iat: now,
        exp: now + 600,
        jti: "x".into(),
    };
    let forged = TokenSigner::new(b"someone-else").issue(&claims);
    assert_eq!(
        api.me(Some(&format!("Bearer {forged}"))).await.status(),
        StatusCode::UNAUTHORIZED,
        "{name}: wrong key"
    );
    let right_key = TokenSigner::new(b"integration-test-secret");
    let expired = right_key.issue(&Claims {
        exp: now - 5,
        ..claims.clone()
    });
    assert_eq!(
        api.me(Some(&format!("Bearer {expired}"))).await.status(),
        StatusCode::UNAUTHORIZED,
        "{name}: expired"
    );
    // Correctly signed, unexpired, but never issued: no session -> 401.
    let unissued = right_key.issue(&claims);
    assert_eq!(
        api.me(Some(&format!("Bearer {unissued}"))).await.status(),
        StatusCode::UNAUTHORIZED,
        "{name}: no session"
    );

    // refresh rotates: new pair works, old access and old refresh are dead at once
    let r = api
        .post("/refresh", json!({"refresh_token": refresh}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{name}: refresh");
    let v: Value = r.json().await.unwrap();
    let access2 = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        api.me(Some(&format!("Bearer {access}"))).await.status(),
        StatusCode::UNAUTHORIZED,
        "{name}: old access after refresh"
    );
    assert_eq!(
        api.me(Some(&format!("Bearer {access2}"))).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        api.post("/refresh", json!({"refresh_token": refresh}))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "{name}: refresh reuse"
    );
    // The reuse revoked the whole family (reusing_a_rotated_refresh_token_revokes_its_whole_family).
    assert_eq!(
        api.me(Some(&format!("Bearer {access2}"))).await.status(),
        StatusCode::UNAUTHORIZED,
        "{name}: newest pair after a reuse"
    );
    let (access2, _) = api.tokens("alice@example.com", "password1").await;

    // logout revokes immediately (cache invalidated in optimized mode)
    assert_eq!(
        api.post_auth("/logout", &access2, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.me(Some(&format!("Bearer {access2}"))).await.status(),
        StatusCode::UNAUTHORIZED,
        "{name}: revoked token accepted"
    );
    assert_eq!(
        api.post_auth("/logout", &access2, None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // password change revokes every session and the old password
    let (a1, _) = api.tokens("alice@example.com", "password1").await;
    let (a2, _) = api.tokens("alice@example.com", "password1").await;
    assert_eq!(
        api.me(Some(&format!("Bearer {a2}"))).await.status(),
        StatusCode::OK
    );
    let body = json!({"current_password": "password1", "new_password": "password2x"});
    assert_eq!(
        api.post_auth("/password", &a1, Some(body)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.me(Some(&format!("Bearer {a1}"))).await.status(),
        StatusCode::UNAUTHORIZED,
        "{name}: a1 after password change"
    );
    assert_eq!(
        api.me(Some(&format!("Bearer {a2}"))).await.status(),
        StatusCode::UNAUTHORIZED,
        "{name}: a2 after password change"
    );
    assert_eq!(
        api.login("alice@example.com", "password1").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.login("alice@example.com", "password2x").await.status(),
        StatusCode::OK
    );

    // health
    let r = api
        .http
        .get(format!("{}/health", target.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let audits = target.state.store.count(Table::AuditLogs).await.unwrap();
    assert!(audits >= 8, "{name}: audit log has {audits} events");
    target.shutdown().await;
    eprintln!("BACKEND EXERCISED: status codes on {name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_code_on_every_backend_and_mode() {
    let mut n = 0;
    for mode in [Mode::Baseline, Mode::Optimized] {
        for b in backends(mode) {
            status_codes_on(&b).await;
            n += 1;
        }
    }
    eprintln!("status-code suite ran on {n} backend combinations");
    assert!(n >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_injection_strings_are_inert() {
    for b in backends(Mode::Baseline)
        .into_iter()
        .chain(backends(Mode::Optimized))
    {
        let target = start(b.config.clone()).await.unwrap();
        let api = Api::new(&target.url);
        assert_eq!(
            api.signup("victim@example.com", "password1").await.status(),
            StatusCode::CREATED
        );
        for evil in [
            "' OR '1'='1",
            "victim@example.com' --",
            "x@y.co'; DROP TABLE users; --",
            "\" OR \"\"=\"",
            "a@b.co' UNION SELECT id, tenant_id, email, password_hash, created_at FROM users --",
        ] {
            let r = api.login(evil, "password1").await;
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{}: login with {evil:?}",
                b.name
            );
            let r = api.login("victim@example.com", evil).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
        // A quote-bearing but valid email is stored literally and can log in.
        let odd = "o'brien@example.com";
        assert_eq!(
            api.signup(odd, "password1").await.status(),
            StatusCode::CREATED
        );
        assert_eq!(api.login(odd, "password1").await.status(), StatusCode::OK);
        assert_eq!(
            target.state.store.count(Table::Users).await.unwrap(),
            2,
            "{}",
            b.name
        );
        target.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_headers_and_metrics_counters_move() {
    for (mode, b) in backends(Mode::Baseline)
        .into_iter()
        .map(|b| (Mode::Baseline, b))
        .chain(
            backends(Mode::Optimized)
                .into_iter()
                .map(|b| (Mode::Optimized, b)),
        )
    {
        let target = start(b.config.clone()).await.unwrap();
        let api = Api::new(&target.url);
        api.signup("m@example.com", "password1").await;
        let (access, _) = api.tokens("m@example.com", "password1").await;
        let metrics = || async {
            api.http
                .get(format!("{}/metrics", target.url))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        };
        let before = metrics().await;
        let mut queries = 0;
        for _ in 0..5 {
            let r = api.me(Some(&format!("Bearer {access}"))).await;
            assert_eq!(r.status(), StatusCode::OK);
            let q: u32 = r.headers()["x-db-queries"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            queries += q;
            let cache = r
                .headers()
                .get("x-cache")
                .map(|v| v.to_str().unwrap().to_string());
            match mode {
                Mode::Baseline => assert_eq!(cache, None, "{}: baseline has no cache", b.name),
                Mode::Optimized => assert_eq!(cache.as_deref(), Some("hit"), "{}", b.name),
            }
        }
        match mode {
            Mode::Baseline => assert!(
                queries >= 10,
                "{}: baseline validation queries {queries}",
                b.name
            ),
            Mode::Optimized => assert_eq!(queries, 0, "{}: cached validation hit the DB", b.name),
        }
        let after = metrics().await;
        let value = |text: &str, series: &str| -> f64 {
            text.lines()
                .find(|l| l.starts_with(series))
                .and_then(|l| l.rsplit(' ').next())
                .map(|v| v.parse().unwrap())
                .unwrap_or(0.0)
        };
        let me_ok = "http_requests_total{route=\"/api/v1/auth/me\",status=\"200\"}";
        assert_eq!(
            value(&after, me_ok) - value(&before, me_ok),
            5.0,
            "{}",
            b.name
        );
        let count = "http_request_duration_seconds_count{route=\"/api/v1/auth/me\"}";
        assert_eq!(
            value(&after, count) - value(&before, count),
            5.0,
            "{}",
            b.name
        );
        let hits = "cache_hits_total{cache=\"token\"}";
        let want_hits = if mode == Mode::Optimized { 5.0 } else { 0.0 };
        assert_eq!(
            value(&after, hits) - value(&before, hits),
            want_hits,
            "{}",
            b.name
        );
        assert!(
            value(&after, "db_queries_total")
                >= value(&before, "db_queries_total") + f64::from(queries)
        );
        assert!(after.contains("cache_misses_total{cache=\"token\"}"));
        target.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_error_rate_is_close_to_the_rate_asked() {
    let target = start(TargetConfig {
        faults: Faults {
            error_rate: 0.2,
            ..Faults::default()
        },
        ..TargetConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(&target.url);
    let n = 2000;
    let mut injected = 0;
    for _ in 0..n {
        let r = api.me(None).await;
        match r.status() {
            StatusCode::SERVICE_UNAVAILABLE => injected += 1,
            StatusCode::UNAUTHORIZED => {}
            s => panic!("unexpected status {s}"),
        }
    }
    // Binomial(2000, 0.2): sd = 17.9; ±100 is 5.6 sd — a false failure is ~1e-8.
    let rate = injected as f64 / n as f64;
    eprintln!("injected error rate: asked 0.200, observed {rate:.3} over {n} requests");
    assert!(
        (300..=500).contains(&injected),
        "observed {injected} of {n}"
    );
    // Health and metrics are never faulted.
    for _ in 0..50 {
        let r = api
            .http
            .get(format!("{}/health", target.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_latency_delays_every_api_request() {
    let target = start(TargetConfig {
        faults: Faults {
            latency: Some(Duration::from_millis(60)),
            ..Faults::default()
        },
        ..TargetConfig::default()
    })
    .await
    .unwrap();
    let api = Api::new(&target.url);
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(api.me(None).await.status(), StatusCode::UNAUTHORIZED);
        // A lower bound only: the server sleeps at least this long; nothing can make it faster.
        assert!(t.elapsed() >= Duration::from_millis(60));
    }
    let metrics = api
        .http
        .get(format!("{}/metrics", target.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let below_50ms = metrics
        .lines()
        .find(|l| {
            l.starts_with(
                "http_request_duration_seconds_bucket{route=\"/api/v1/auth/me\",le=\"0.05\"}",
            )
        })
        .unwrap();
    assert!(
        below_50ms.ends_with(" 0"),
        "server histogram saw a fast /me: {below_50ms}"
    );
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_users_exist_and_can_log_in() {
    for b in backends(Mode::Optimized) {
        let target = start(TargetConfig {
            seed_users: 1200,
            ..b.config.clone()
        })
        .await
        .unwrap();
        assert_eq!(target.state.store.count(Table::Users).await.unwrap(), 1200);
        assert_eq!(
            target.state.store.count(Table::Sessions).await.unwrap(),
            1200
        );
        let api = Api::new(&target.url);
        api.tokens("seed-777@seed.loadtest.invalid", SEED_PASSWORD)
            .await;
        // New signups get ids past the seeded ones.
        assert_eq!(
            api.signup("new@example.com", "password1").await.status(),
            StatusCode::CREATED
        );
        target.shutdown().await;
    }
}

async fn session_plan(config: &TargetConfig, mode: Mode) -> String {
    let store = Store::connect(config.database_url.as_deref(), mode, None)
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    store.seed_users(3000, "x", now).await.unwrap();
    // Live sessions too, as a running service has: expiry alone must not be selective.
    for i in 1..=1500_i64 {
        let hash = format!("{i:064x}");
        store
            .create_session(i, &hash, &hash, &hash, now, now + 900, now + 9000)
            .await
            .unwrap();
    }
    store.analyze().await.unwrap();
    let plan = store.explain_session_lookup().await.unwrap().join(" | ");
    store.close().await;
    plan
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_index_use_only_in_optimized_mode() {
    let mut checked = 0;
    for b in backends(Mode::Baseline) {
        if b.name.contains("redis") {
            continue;
        }
        let base = session_plan(&b.config, Mode::Baseline).await;
        let opt = session_plan(&b.config, Mode::Optimized).await;
        eprintln!(
            "{}: baseline plan: {base}\n{}: optimized plan: {opt}",
            b.name, b.name
        );
        if b.name.starts_with("sqlite") {
            assert!(base.contains("SCAN sessions"), "baseline: {base}");
            assert!(!base.contains("INDEX"), "baseline: {base}");
            assert!(
                opt.contains("USING INDEX idx_sessions_token_hash"),
                "optimized: {opt}"
            );
        } else {
            assert!(base.contains("Seq Scan on sessions"), "baseline: {base}");
            assert!(opt.contains("idx_sessions_token_hash"), "optimized: {opt}");
            assert!(!opt.contains("Seq Scan"), "optimized: {opt}");
        }
        checked += 1;
    }
    assert!(checked >= 1);
}

/// Many embedded targets starting at once, each on a brand-new temporary SQLite file: none may
/// fail (a pool whose connections raced to switch a new file to WAL used to get "database is
/// locked" now and then). Each target then serves a signup, so every pool is really usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_sqlite_targets_start_at_once_without_a_lock_error() {
    let starts = (0..50).map(|i| async move {
        let config = TargetConfig {
            mode: if i % 2 == 0 {
                Mode::Baseline
            } else {
                Mode::Optimized
            },
            ..TargetConfig::default()
        };
        let target = start(config)
            .await
            .unwrap_or_else(|e| panic!("target {i} failed to start: {e}"));
        let status = client()
            .post(format!("{}/api/v1/auth/signup", target.url))
            .json(&json!({"email": format!("wal{i}@example.com"), "password": "Str0ng-Passw0rd!"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("target {i}: signup request: {e}"))
            .status();
        target.shutdown().await;
        status
    });
    let statuses = futures::future::join_all(starts).await;
    assert_eq!(statuses.len(), 50);
    for (i, s) in statuses.iter().enumerate() {
        assert_eq!(*s, StatusCode::CREATED, "target {i}");
    }
}

/// Signup parses the address: what the harness, seeding and interop contracts generate passes;
/// malformed shapes get 422 `invalid_email` naming the rule, and nothing is stored for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_accepts_generated_addresses_and_refuses_malformed_ones() {
    let target = start(TargetConfig::default()).await.unwrap();
    let api = Api::new(&target.url);
    let good = [
        "lt-0a1b2c3d4e-17@example.com",
        "lt-my_run-3@loadtest.invalid",
        "seed-5@seed.loadtest.invalid",
        "lt-r1-2@example.org",
        "o'brien+tag@example.com",
    ];
    for email in good {
        let r = api.signup(email, "password1").await;
        assert_eq!(r.status(), StatusCode::CREATED, "{email}");
        assert_eq!(
            api.login(email, "password1").await.status(),
            StatusCode::OK,
            "{email}"
        );
    }
    for (email, rule) in [
        ("a'--@example.com", "begin and end with a letter or digit"),
        ("x@y.co'; --", "whitespace"),
        ("a..b@example.com", "not a valid address"),
        ("a;b@example.com", "not a valid address"),
        ("a@exa_mple.com", "must be a host name"),
        ("a@[127.0.0.1]", "not a valid address"),
        ("a@localhost", "must contain a dot"),
        ("a@b..co", "empty label"),
        ("\"q\"@example.com", "begin and end"),
    ] {
        let r = api.signup(email, "password1").await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_email", "{email}");
        let message = v["message"].as_str().unwrap();
        assert!(message.contains(rule), "{email}: {message}");
    }
    assert_eq!(
        target.state.store.count(Table::Users).await.unwrap(),
        good.len() as i64
    );
    target.shutdown().await;
}

fn assert_payload_too_large(status: u16, body: &str, what: &str) {
    assert_eq!(status, 413, "{what}: {body}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
    assert_eq!(v["error"], "payload_too_large", "{what}");
    assert!(
        v["message"].as_str().unwrap().contains("65536 bytes"),
        "{what}: {body}"
    );
}

/// Sends raw bytes on one connection and returns the status and body of the answer (the
/// server closes after a 413, so reading to the end terminates).
async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                });
                if len.is_some_and(|n| body.len() >= n) {
                    break;
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 10 s");
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Bodies over 64 KiB get 413 with the API's JSON error shape: a declared `Content-Length`
/// over the limit at once (before any body byte is sent), a chunked body once it passes the
/// limit; a body just under the limit is read and judged as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_with_the_json_error_shape() {
    const LIMIT: usize = 64 * 1024;
    let target = start(TargetConfig::default()).await.unwrap();
    let api = Api::new(&target.url);
    let padded = |total: usize| {
        let head = r#"{"email":"big@example.com","password":"password1","pad":""#;
        let tail = r#""}"#;
        format!(
            "{head}{}{tail}",
            "x".repeat(total - head.len() - tail.len())
        )
    };
    let send = |body: String| {
        api.http
            .post(format!("{}/signup", api.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Just under and at the limit: read and judged (unknown field `pad` is ignored).
    let r = send(padded(LIMIT)).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // One byte over.
    let r = send(padded(LIMIT + 1)).await.unwrap();
    let status = r.status().as_u16();
    assert_payload_too_large(status, &r.text().await.unwrap(), "content-length limit+1");
    // A declared 1 GiB: refused from the headers alone, nothing of the body is awaited.
    let (status, body) = raw_exchange(
        target.addr,
        b"POST /api/v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
          content-length: 1073741824\r\n\r\n",
    )
    .await;
    assert_payload_too_large(status, &body, "declared 1 GiB");
    // Chunked, no length declared: cut once the limit is passed.
    let mut req =
        b"POST /api/v1/auth/refresh HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
                    transfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..9 {
        req.extend_from_slice(format!("{:x}\r\n{}\r\n", 8192, "x".repeat(8192)).as_bytes());
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (status, body) = raw_exchange(target.addr, &req).await;
    assert_payload_too_large(status, &body, "chunked 72 KiB");
    // The refusals are counted like any answer.
    let metrics = api
        .http
        .get(format!("{}/metrics", target.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("http_requests_total{route=\"/api/v1/auth/signup\",status=\"413\"} 1"),
        "{metrics}"
    );
    target.shutdown().await;
}

async fn refresh_pair(api: &Api, refresh: &str) -> Result<(String, String), StatusCode> {
    let r = api
        .post("/refresh", json!({"refresh_token": refresh}))
        .await;
    if r.status() != StatusCode::OK {
        return Err(r.status());
    }
    let v: Value = r.json().await.unwrap();
    Ok((
        v["access_token"].as_str().unwrap().to_string(),
        v["refresh_token"].as_str().unwrap().to_string(),
    ))
}

async fn me_status(api: &Api, access: &str) -> StatusCode {
    api.me(Some(&format!("Bearer {access}"))).await.status()
}

async fn family_reuse_on(b: &Backend) {
    let target = start(b.config.clone()).await.expect("start");
    let api = Api::new(&target.url);
    let name = &b.name;
    assert_eq!(
        api.signup("fam@example.com", "password1").await.status(),
        StatusCode::CREATED
    );
    let (_, r0) = api.tokens("fam@example.com", "password1").await;
    // A second login: another family, which a reuse in the first must not touch.
    let (other_access, other_refresh) = api.tokens("fam@example.com", "password1").await;
    let (a1, r1) = refresh_pair(&api, &r0).await.expect("first rotation");
    let (a2, r2) = refresh_pair(&api, &r1).await.expect("second rotation");
    assert_eq!(
        me_status(&api, &a1).await,
        StatusCode::UNAUTHORIZED,
        "{name}: a1 rotated"
    );
    // Validate a2 twice: in optimized mode it is now served from the token cache.
    for _ in 0..2 {
        assert_eq!(
            me_status(&api, &a2).await,
            StatusCode::OK,
            "{name}: newest pair"
        );
    }
    // Reuse of the first, long-rotated refresh token: 401, and the whole family ends.
    assert_eq!(
        refresh_pair(&api, &r0).await,
        Err(StatusCode::UNAUTHORIZED),
        "{name}: reuse of r0"
    );
    assert_eq!(
        me_status(&api, &a2).await,
        StatusCode::UNAUTHORIZED,
        "{name}: newest access token still works after a reuse (cache not invalidated?)"
    );
    assert_eq!(
        refresh_pair(&api, &r2).await,
        Err(StatusCode::UNAUTHORIZED),
        "{name}: newest refresh token still works after a reuse"
    );
    // The other family is untouched, and rotates normally.
    assert_eq!(
        me_status(&api, &other_access).await,
        StatusCode::OK,
        "{name}"
    );
    let (other_a1, _) = refresh_pair(&api, &other_refresh)
        .await
        .unwrap_or_else(|s| panic!("{name}: other family refresh: {s}"));
    assert_eq!(me_status(&api, &other_a1).await, StatusCode::OK, "{name}");
    // A refresh token of a logged-out session is dead too.
    let (a, r) = api.tokens("fam@example.com", "password1").await;
    assert_eq!(
        api.post_auth("/logout", &a, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        refresh_pair(&api, &r).await,
        Err(StatusCode::UNAUTHORIZED),
        "{name}: refresh after logout"
    );
    target.shutdown().await;
    eprintln!("BACKEND EXERCISED: refresh-token family on {name}");
}

/// OWASP refresh-token rotation with reuse detection, on every backend and mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reusing_a_rotated_refresh_token_revokes_its_whole_family() {
    let mut n = 0;
    for mode in [Mode::Baseline, Mode::Optimized] {
        for b in backends(mode) {
            family_reuse_on(&b).await;
            n += 1;
        }
    }
    assert!(n >= 2);
}

/// Eight concurrent uses of one refresh token: at most one rotation succeeds, and since the
/// others are reuse, no pair handed out survives — whatever order the server ran them in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uses_of_one_refresh_token_leave_no_live_pair() {
    for mode in [Mode::Baseline, Mode::Optimized] {
        for b in backends(mode) {
            let target = start(b.config.clone()).await.expect("start");
            let api = Api::new(&target.url);
            api.signup("race@example.com", "password1").await;
            let (access, r0) = api.tokens("race@example.com", "password1").await;
            assert_eq!(me_status(&api, &access).await, StatusCode::OK);
            let results = futures::future::join_all((0..8).map(|_| refresh_pair(&api, &r0))).await;
            let issued: Vec<(String, String)> =
                results.into_iter().filter_map(Result::ok).collect();
            assert!(
                issued.len() <= 1,
                "{}: {} rotations of one token",
                b.name,
                issued.len()
            );
            for (a, r) in &issued {
                assert_eq!(
                    me_status(&api, a).await,
                    StatusCode::UNAUTHORIZED,
                    "{}",
                    b.name
                );
                assert_eq!(
                    refresh_pair(&api, r).await,
                    Err(StatusCode::UNAUTHORIZED),
                    "{}",
                    b.name
                );
            }
            assert_eq!(me_status(&api, &access).await, StatusCode::UNAUTHORIZED);
            eprintln!(
                "{}: {} of 8 concurrent refreshes rotated",
                b.name,
                issued.len()
            );
            target.shutdown().await;
        }
    }
}
