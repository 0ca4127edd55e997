//! The reference auth API: the embedded target `loadtest` measures when no `--host` is given.
//!
//! Two modes: *baseline* (primary keys only, no cache) and *optimized* (secondary indexes,
//! token (quick_cache) and user (moka) caches, optional Redis second tier). Start it in-process with [`start`]
//! (on `127.0.0.1:0` it picks a free port) and stop it with [`RunningTarget::shutdown`].

pub mod auth;
pub mod cache;
pub mod faults;
pub mod http;
pub mod lookup;
pub mod metrics;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;

use auth::{Claims, HashCost, TokenSigner};
use cache::{AuthCache, CacheConfig, CacheError};
use faults::Faults;
use http::ApiError;
use lookup::Lookup;
use metrics::ServerMetrics;
use store::{Store, StoreError};

/// Baseline (no secondary indexes, no cache) or optimized (indexes + caches).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Baseline,
    #[default]
    Optimized,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Baseline => "baseline",
            Mode::Optimized => "optimized",
        })
    }
}

/// The password every seeded user has (`seed-{i}@seed.loadtest.invalid`).
pub const SEED_PASSWORD: &str = "seed-password-1";

/// Everything needed to start a reference API.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub bind: SocketAddr,
    pub mode: Mode,
    /// `None`: a temporary SQLite file, removed at shutdown.
    pub database_url: Option<String>,
    /// PostgreSQL schema to (re)create; `None`: a random one, dropped at shutdown.
    pub db_schema: Option<String>,
    pub hash_cost: HashCost,
    pub faults: Faults,
    pub seed_users: u64,
    pub token_ttl: Duration,
    pub refresh_ttl: Duration,
    /// HS256 secret; `None`: random per start.
    pub jwt_secret: Option<Vec<u8>>,
    /// Cache lifetimes, Redis tier and the invalidation fault (optimized mode only).
    pub cache: CacheConfig,
}

impl Default for TargetConfig {
    fn default() -> Self {
        TargetConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            mode: Mode::Optimized,
            database_url: None,
            db_schema: None,
            hash_cost: HashCost::FAST,
            faults: Faults::default(),
            seed_users: 0,
            token_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            jwt_secret: None,
            cache: CacheConfig::default(),
        }
    }
}

/// Why the reference API could not start.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("{0}")]
    Config(String),
}

impl TargetError {
    /// Exit code per DESIGN.md: 3 for a service that does not answer, 2 for bad input.
    pub fn exit_code(&self) -> i32 {
        match self {
            TargetError::Store(StoreError::Connect { .. }) | TargetError::Cache(_) => 3,
            TargetError::Store(StoreError::Interrupted { sig, .. }) => {
                crate::interrupt::exit_code(*sig)
            }
            _ => 2,
        }
    }
}

impl From<TargetError> for crate::error::Failure {
    fn from(e: TargetError) -> crate::error::Failure {
        crate::error::Failure {
            code: e.exit_code() as u8,
            message: e.to_string(),
        }
    }
}

/// Shared state of one server instance.
pub struct AppState {
    pub store: Store,
    /// Optimized mode only; read and invalidated through [`AppState::lookup`] alone.
    cache: Option<AuthCache>,
    pub signer: TokenSigner,
    pub metrics: ServerMetrics,
    pub faults: Faults,
    pub mode: Mode,
    pub started: Instant,
    hash_cost: HashCost,
    token_ttl: Duration,
    refresh_ttl: Duration,
    /// Bounds concurrent argon2 work (memory-hard: unbounded, it exhausts RAM under load).
    hash_slots: Semaphore,
    /// A valid hash verified for unknown users, so timing does not reveal them.
    dummy_hash: String,
}

impl AppState {
    /// Builds the state: store (fresh schema), cache (optimized mode), signer, metrics.
    pub async fn build(config: &TargetConfig) -> Result<AppState, TargetError> {
        let store = Store::connect(
            config.database_url.as_deref(),
            config.mode,
            config.db_schema.as_deref(),
        )
        .await?;
        let cache = match config.mode {
            Mode::Optimized => Some(AuthCache::new(config.cache.clone()).await?),
            Mode::Baseline => None,
        };
        let dummy_hash =
            auth::hash_password(SEED_PASSWORD, config.hash_cost).map_err(TargetError::Config)?;
        if config.seed_users > 0 {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            if let Err(e) = store.seed_users(config.seed_users, &dummy_hash, now).await {
                // Nothing will serve: remove the temporary database / schema now.
                store.close().await;
                return Err(e.into());
            }
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(AppState {
            store,
            cache,
            signer: match &config.jwt_secret {
                Some(s) => TokenSigner::new(s),
                None => TokenSigner::random(),
            },
            metrics: ServerMetrics::new(),
            faults: config.faults.clone(),
            mode: config.mode,
            started: Instant::now(),
            hash_cost: config.hash_cost,
            token_ttl: config.token_ttl,
            refresh_ttl: config.refresh_ttl,
            hash_slots: Semaphore::new(cores * 2),
            dummy_hash,
        })
    }

    /// Sessions and users through the caches (see [`lookup`]).
    pub fn lookup(&self) -> Lookup<'_> {
        Lookup {
            store: &self.store,
            cache: self.cache.as_ref(),
            metrics: &self.metrics,
        }
    }

    /// Whether this server caches sessions and users (optimized mode).
    pub fn has_cache(&self) -> bool {
        self.cache.is_some()
    }

    /// Drops this server's cache entries (its Redis keys too), then closes the store (removing
    /// its temporary database or schema). Best effort.
    pub async fn close(&self) {
        if let Some(cache) = &self.cache {
            cache.clear().await;
        }
        self.store.close().await;
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _slot = self
            .hash_slots
            .acquire()
            .await
            .map_err(|_| ApiError::Internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|_| ApiError::Internal)
    }

    pub(crate) async fn hash_password(&self, password: String) -> Result<String, ApiError> {
        let cost = self.hash_cost;
        self.blocking(move || auth::hash_password(&password, cost))
            .await?
            .map_err(|_| ApiError::Internal)
    }

    pub(crate) async fn verify_password(
        &self,
        password: String,
        phc: String,
    ) -> Result<bool, ApiError> {
        self.blocking(move || auth::verify_password(&password, &phc))
            .await
    }

    /// Creates a session in refresh-token family `family` (`None`: a new family, as at login)
    /// and returns the login response body.
    pub(crate) async fn issue_tokens(
        &self,
        user_id: i64,
        family: Option<&str>,
    ) -> Result<serde_json::Value, ApiError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let exp = now + self.token_ttl.as_secs() as i64;
        let refresh = auth::random_token();
        let access = self.signer.issue(&Claims {
            sub: user_id.to_string(),
            iat: now,
            exp,
            jti: auth::random_token(),
        });
        self.lookup()
            .create_session(
                user_id,
                &auth::token_digest(&access),
                &auth::token_hash(&refresh),
                family.unwrap_or(&uuid::Uuid::new_v4().simple().to_string()),
                now,
                exp,
                now + self.refresh_ttl.as_secs() as i64,
            )
            .await?;
        Ok(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.token_ttl.as_secs(),
            "refresh_token": refresh,
        }))
    }
}

/// A reference API running in this process.
pub struct RunningTarget {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Starts the reference API on `config.bind` and returns once it accepts connections.
pub async fn start(config: TargetConfig) -> Result<RunningTarget, TargetError> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| TargetError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| TargetError::Bind {
        addr: config.bind,
        source,
    })?;
    let state = Arc::new(AppState::build(&config).await?);
    let app = http::router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningTarget {
        url: format!("http://{addr}"),
        addr,
        state,
        stop: Some(stop),
        task,
    })
}

impl RunningTarget {
    /// Stops accepting, lets in-flight requests finish (at most 5 s), then removes the
    /// temporary database / schema and this instance's Redis keys.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
        self.state.close().await;
    }

    /// Waits until the server task ends (it only ends after [`RunningTarget::shutdown`] or an
    /// accept-loop error).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}
