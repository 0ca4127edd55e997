//! HTTP layer of the reference API: thin axum handlers, one error type mapped to responses in
//! one place ([`ApiError`]), and one middleware for faults, timing and per-request metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::auth::{self, Claims};
use super::faults::Decision;
use super::metrics::{with_request_stats, ServerMetrics};
use super::store::{Session, StoreError};
use super::{AppState, Mode};

/// Every error the API answers with, mapped to a status and a JSON body in one place.
#[derive(Debug)]
pub enum ApiError {
    /// Malformed request body (not JSON, wrong fields).
    BadRequest(String),
    /// A request body over [`MAX_BODY_BYTES`].
    PayloadTooLarge,
    /// Input that breaks a signup rule; the message names the rule.
    Unprocessable(&'static str, &'static str),
    /// Unknown user or wrong password: one body for both (no user enumeration).
    InvalidCredentials,
    /// Missing, malformed, expired, wrongly signed or revoked token.
    InvalidToken,
    Conflict,
    /// Fault injection.
    Injected,
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body larger than {MAX_BODY_BYTES} bytes"),
            ),
            ApiError::Unprocessable(code, m) => {
                (StatusCode::UNPROCESSABLE_ENTITY, code, m.to_string())
            }
            ApiError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "invalid email or password".to_string(),
            ),
            ApiError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "missing, malformed, expired or revoked token".to_string(),
            ),
            ApiError::Conflict => (
                StatusCode::CONFLICT,
                "email_taken",
                "email already registered".to_string(),
            ),
            ApiError::Injected => (
                StatusCode::SERVICE_UNAVAILABLE,
                "injected_fault",
                "injected error (--inject-error-rate)".to_string(),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error".to_string(),
            ),
        };
        let mut resp = (status, Json(json!({ "error": code, "message": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate => ApiError::Conflict,
            _ => ApiError::Internal,
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::PayloadTooLarge;
        }
        ApiError::BadRequest(r.body_text())
    }
}

type ApiResult = Result<Response, ApiError>;

/// Largest request body the API reads (64 KiB; its JSON bodies are a few hundred bytes). A
/// larger one is answered 413 with the usual JSON error body: at once when `Content-Length`
/// declares more, as soon as the limit is passed otherwise (chunked bodies).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The router with every route and the tracking middleware.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/auth/signup", post(signup))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/password", post(change_password))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Faults (API routes only), timing, `X-DB-Queries` / `X-Cache` headers, Prometheus series.
async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = ServerMetrics::route_label(req.uri().path());
    let faulty = route.starts_with("/api/") || route == "other";
    let (mut resp, queries, cache) = with_request_stats(async {
        if declared_length(req.headers()).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return ApiError::PayloadTooLarge.into_response();
        }
        if faulty && !state.faults.is_off() {
            if let Decision::InjectError = state.faults.apply(state.started).await {
                return ApiError::Injected.into_response();
            }
        }
        next.run(req).await
    })
    .await;
    let headers = resp.headers_mut();
    headers.insert("x-db-queries", HeaderValue::from(queries));
    if let Some(hit) = cache {
        let v = if hit { "hit" } else { "miss" };
        headers.insert("x-cache", HeaderValue::from_static(v));
    }
    let status = resp.status().as_u16();
    state
        .metrics
        .observe_request(route, status, start.elapsed().as_secs_f64(), queries);
    resp
}

/// The `Content-Length` a request declares (a body that declares more than the limit is
/// refused before any of it is read; one that does not is cut at the limit while reading).
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn signup(
    State(st): State<Arc<AppState>>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> ApiResult {
    let Json(c) = body?;
    let email = c.email.trim().to_ascii_lowercase();
    auth::check_email(&email).map_err(|m| ApiError::Unprocessable("invalid_email", m))?;
    auth::check_password(&c.password).map_err(|m| ApiError::Unprocessable("weak_password", m))?;
    let hash = st.hash_password(c.password).await?;
    let user = st.store.insert_user(&email, &hash, now()).await?;
    st.store.audit(Some(user.id), "signup", now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": user.id, "email": user.email })),
    )
        .into_response())
}

async fn login(
    State(st): State<Arc<AppState>>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> ApiResult {
    let Json(c) = body?;
    let email = c.email.trim().to_ascii_lowercase();
    let user = st.store.find_user_by_email(&email).await?;
    // Unknown users cost a verification too, so timing does not reveal them either.
    let phc = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| st.dummy_hash.clone());
    let ok = st.verify_password(c.password, phc).await?;
    let user = match (user, ok) {
        (Some(u), true) => u,
        _ => return Err(ApiError::InvalidCredentials),
    };
    st.store.audit(Some(user.id), "login", now()).await?;
    st.lookup().remember_user(&user).await;
    Ok(Json(st.issue_tokens(user.id, None).await?).into_response())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Verifies the bearer token and finds its active session (cache first in optimized mode).
async fn authenticate(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<(Claims, Session, String), ApiError> {
    let token = bearer(headers).ok_or(ApiError::InvalidToken)?;
    let claims = st.signer.verify(token).ok_or(ApiError::InvalidToken)?;
    let digest = auth::token_digest(token);
    let hash = hex::encode(digest);
    let session = st
        .lookup()
        .session(&digest, &hash, now())
        .await?
        .ok_or(ApiError::InvalidToken)?;
    if session.user_id.to_string() != claims.sub {
        return Err(ApiError::InvalidToken);
    }
    Ok((claims, session, hash))
}

async fn me(State(st): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult {
    let (_, session, _) = authenticate(&st, &headers).await?;
    let user = st
        .lookup()
        .user(session.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    Ok(
        Json(json!({ "id": user.id, "email": user.email, "created_at": user.created_at }))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

/// Rotation with reuse detection (OWASP): a refresh token works once; it is exchanged for a
/// new pair in the same family and its own pair ends. Presenting one that no longer works
/// (rotated, logged out, revoked) — or losing a race to a concurrent use of it — revokes the
/// whole family, so whoever holds the newest pair, owner or thief, must log in again.
async fn refresh(
    State(st): State<Arc<AppState>>,
    body: Result<Json<RefreshBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let found = st
        .store
        .find_refresh(&auth::token_hash(&b.refresh_token))
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let user_id = found.session.user_id;
    if !found.active {
        return Err(revoke_family(&st, user_id, &found.family).await);
    }
    if found.refresh_expires_at <= now() {
        return Err(ApiError::InvalidToken);
    }
    // Rotation: the old session (and its access token) ends now.
    if !st
        .lookup()
        .revoke_session(found.session.id, &found.token_hash)
        .await?
    {
        return Err(revoke_family(&st, user_id, &found.family).await);
    }
    st.store.audit(Some(user_id), "refresh", now()).await?;
    let tokens = st.issue_tokens(user_id, Some(&found.family)).await?;
    // A reuse detected while this rotation ran may have missed the session just created.
    if st.store.family_revoked(&found.family).await? {
        return Err(revoke_family(&st, user_id, &found.family).await);
    }
    Ok(Json(tokens).into_response())
}

/// Ends a refresh-token family (store and caches) after a reuse; the error to answer with.
async fn revoke_family(st: &AppState, user_id: i64, family: &str) -> ApiError {
    if let Err(e) = st.lookup().revoke_family(family, now()).await {
        return e.into();
    }
    match st.store.audit(Some(user_id), "refresh_reuse", now()).await {
        Ok(()) => ApiError::InvalidToken,
        Err(e) => e.into(),
    }
}

async fn logout(State(st): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult {
    let (_, session, hash) = authenticate(&st, &headers).await?;
    st.lookup().revoke_session(session.id, &hash).await?;
    st.store
        .audit(Some(session.user_id), "logout", now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<PasswordChange>, JsonRejection>,
) -> ApiResult {
    let (_, session, _) = authenticate(&st, &headers).await?;
    let Json(b) = body?;
    auth::check_password(&b.new_password)
        .map_err(|m| ApiError::Unprocessable("weak_password", m))?;
    // From the store, not the cache: the password hash it checks must be current.
    let user = st
        .store
        .find_user_by_id(session.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    if !st
        .verify_password(b.current_password, user.password_hash)
        .await?
    {
        return Err(ApiError::InvalidCredentials);
    }
    let hash = st.hash_password(b.new_password).await?;
    st.lookup().change_password(user.id, &hash, now()).await?;
    st.store
        .audit(Some(user.id), "password_change", now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn health(State(st): State<Arc<AppState>>) -> Response {
    let mode = match st.mode {
        Mode::Baseline => "baseline",
        Mode::Optimized => "optimized",
    };
    Json(json!({ "status": "ok", "mode": mode })).into_response()
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}
