//! The cache layer of the reference API (optimized mode only).
//!
//! Two caches, each an in-process moka cache, optionally backed by Redis as a second tier:
//! - token validation: raw SHA-256 token digest → active session (TTL 5 min by default); a
//!   synchronous `quick_cache` map keyed by the 32-byte digest and hashed by its first 8 bytes
//!   (the digest is already uniform and no client chooses it: the token was signed by the
//!   server before it is looked up), so a memory hit neither allocates, awaits nor hashes —
//!   only the Redis tier is asynchronous;
//! - users: user id → user row (TTL 15 min by default).
//!
//! Logout, password change and a revoked refresh-token family invalidate both tiers at once,
//! so a revoked token is rejected on the very next request. Redis failures degrade to a miss; they never fail a request.

use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

use moka::future::Cache;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{de::DeserializeOwned, Serialize};

use super::auth::{digest_from_hex, TokenDigest};
use super::store::{Session, User};

/// Cache sizes and lifetimes.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub token_ttl: Duration,
    pub user_ttl: Duration,
    pub max_entries: u64,
    /// `redis://…` for the optional second tier.
    pub redis_url: Option<String>,
    /// Test-only fault: never invalidate (the harness must catch the resulting reuse).
    pub skip_invalidation: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            token_ttl: Duration::from_secs(5 * 60),
            user_ttl: Duration::from_secs(15 * 60),
            max_entries: 1_000_000,
            redis_url: None,
            skip_invalidation: false,
        }
    }
}

/// Errors of the cache layer (only at start: a Redis URL that does not answer).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis unreachable ({url}): {source}")]
    Connect {
        url: String,
        #[source]
        source: redis::RedisError,
    },
}

/// Which tier answered a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Memory,
    Redis,
}

/// Hashes a token digest by its first 8 bytes (see the module comment).
#[derive(Default, Clone, Copy)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A `[u8; 32]` writes its length first, then its bytes: fold both in.
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(17) ^ u64::from_le_bytes(word);
    }
}

/// A cached session and the second (unix time) from which the cache stops answering for it:
/// the session's own expiry or the cache TTL after it was stored, whichever comes first.
#[derive(Clone)]
struct Fresh {
    session: Session,
    until: i64,
}

type DigestMap = quick_cache::sync::Cache<
    TokenDigest,
    Fresh,
    quick_cache::UnitWeighter,
    BuildHasherDefault<DigestHasher>,
>;

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Token and user caches with an optional Redis tier.
#[derive(Clone)]
pub struct AuthCache {
    tokens: std::sync::Arc<DigestMap>,
    users: Cache<i64, User>,
    redis: Option<ConnectionManager>,
    /// Key prefix in Redis, unique per cache instance so several servers can share a Redis.
    prefix: String,
    config: CacheConfig,
}

impl AuthCache {
    /// Builds the caches and, when configured, connects to Redis (within 5 s).
    pub async fn new(config: CacheConfig) -> Result<AuthCache, CacheError> {
        let redis = match &config.redis_url {
            Some(url) => Some(connect_redis(url).await?),
            None => None,
        };
        Ok(AuthCache {
            tokens: std::sync::Arc::new(DigestMap::with(
                config.max_entries.min(65_536) as usize,
                config.max_entries,
                quick_cache::UnitWeighter,
                BuildHasherDefault::default(),
                Default::default(),
            )),
            users: Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.user_ttl)
                .build(),
            redis,
            prefix: format!(
                "loadtest:{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
            config,
        })
    }

    /// Whether a Redis second tier is in use.
    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    fn token_key(&self, digest: &TokenDigest) -> String {
        format!("{}:tok:{}", self.prefix, hex::encode(digest))
    }

    fn user_key(&self, id: i64) -> String {
        format!("{}:user:{id}", self.prefix)
    }

    /// The memory tier alone: the cached session for a token digest if it is still valid at
    /// `now`. Synchronous — a hit neither allocates nor awaits; callers go to
    /// [`AuthCache::get_session_redis`] only on a miss and only when [`AuthCache::has_redis`].
    pub fn get_session_memory(&self, digest: &TokenDigest, now: i64) -> Option<Session> {
        let fresh = self.tokens.get(digest)?;
        if fresh.until <= now {
            self.tokens.remove(digest);
            return None;
        }
        Some(fresh.session)
    }

    /// The Redis tier alone (after a memory miss): the session, copied into memory, if it is
    /// still valid at `now`.
    pub async fn get_session_redis(&self, digest: &TokenDigest, now: i64) -> Option<Session> {
        let s: Session = self.redis_get(&self.token_key(digest)).await?;
        if s.expires_at <= now {
            return None;
        }
        self.remember(digest, &s);
        Some(s)
    }

    /// The cached session for a token digest, if it is still valid at `now`: memory first
    /// (synchronously), then Redis.
    pub async fn get_session(&self, digest: &TokenDigest, now: i64) -> Option<(Session, Tier)> {
        if let Some(s) = self.get_session_memory(digest, now) {
            return Some((s, Tier::Memory));
        }
        self.redis.as_ref()?;
        self.get_session_redis(digest, now)
            .await
            .map(|s| (s, Tier::Redis))
    }

    /// The memory tier's copy of a session, fresh for at most the token TTL.
    fn remember(&self, digest: &TokenDigest, session: &Session) {
        let ttl = i64::try_from(self.config.token_ttl.as_secs()).unwrap_or(i64::MAX);
        let until = session.expires_at.min(unix_now().saturating_add(ttl));
        let session = session.clone();
        self.tokens.insert(*digest, Fresh { session, until });
    }

    /// Caches a validated session.
    pub async fn put_session(&self, digest: &TokenDigest, session: &Session) {
        self.remember(digest, session);
        let ttl = self.config.token_ttl;
        self.redis_set(&self.token_key(digest), session, ttl).await;
    }

    /// Drops a token from both tiers (logout, refresh rotation).
    pub async fn invalidate_session(&self, digest: &TokenDigest) {
        if self.config.skip_invalidation {
            return;
        }
        self.tokens.remove(digest);
        self.redis_del(&[self.token_key(digest)]).await;
    }

    /// Drops a user and all the given token hashes (hex, as stored; password change).
    pub async fn invalidate_user(&self, user_id: i64, token_hashes: &[String]) {
        if self.config.skip_invalidation {
            return;
        }
        self.users.invalidate(&user_id).await;
        self.drop_tokens(token_hashes, Some(self.user_key(user_id)))
            .await;
    }

    /// Drops the given token hashes (hex, as stored) from both tiers (a revoked
    /// refresh-token family).
    pub async fn invalidate_sessions(&self, token_hashes: &[String]) {
        if self.config.skip_invalidation || token_hashes.is_empty() {
            return;
        }
        self.drop_tokens(token_hashes, None).await;
    }

    async fn drop_tokens(&self, token_hashes: &[String], extra_key: Option<String>) {
        let digests: Vec<TokenDigest> = token_hashes
            .iter()
            .filter_map(|h| digest_from_hex(h))
            .collect();
        for d in &digests {
            self.tokens.remove(d);
        }
        let mut keys: Vec<String> = digests.iter().map(|d| self.token_key(d)).collect();
        keys.extend(extra_key);
        if !keys.is_empty() {
            self.redis_del(&keys).await;
        }
    }

    /// The cached user row.
    pub async fn get_user(&self, id: i64) -> Option<(User, Tier)> {
        if let Some(u) = self.users.get(&id).await {
            return Some((u, Tier::Memory));
        }
        let u: User = self.redis_get(&self.user_key(id)).await?;
        self.users.insert(id, u.clone()).await;
        Some((u, Tier::Redis))
    }

    /// Caches a user row.
    pub async fn put_user(&self, user: &User) {
        self.users.insert(user.id, user.clone()).await;
        let ttl = self.config.user_ttl;
        self.redis_set(&self.user_key(user.id), user, ttl).await;
    }

    /// Removes this instance's keys from Redis (best effort, at shutdown).
    pub async fn clear(&self) {
        self.tokens.clear();
        self.users.invalidate_all();
        if let Some(conn) = &self.redis {
            let mut conn = conn.clone();
            let pattern = format!("{}:*", self.prefix);
            let keys: Vec<String> = conn.keys(pattern).await.unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = conn.del(keys).await;
            }
        }
    }

    async fn redis_get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let mut conn = self.redis.clone()?;
        let raw: Option<String> = conn.get(key).await.ok()?;
        serde_json::from_str(&raw?).ok()
    }

    async fn redis_set<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) {
        if let Some(mut conn) = self.redis.clone() {
            if let Ok(json) = serde_json::to_string(value) {
                let _: Result<(), _> = conn.set_ex(key, json, ttl.as_secs().max(1)).await;
            }
        }
    }

    async fn redis_del(&self, keys: &[String]) {
        if let Some(mut conn) = self.redis.clone() {
            let _: Result<(), _> = conn.del(keys).await;
        }
    }
}

/// Opens a Redis connection manager, failing within 5 s when nothing answers.
pub async fn connect_redis(url: &str) -> Result<ConnectionManager, CacheError> {
    let err = |source| CacheError::Connect {
        url: crate::text::redact_url(url),
        source,
    };
    let client = redis::Client::open(url).map_err(err)?;
    let connect = ConnectionManager::new(client);
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(conn) => conn.map_err(err),
        Err(_) => Err(err(redis::RedisError::from((
            redis::ErrorKind::IoError,
            "timed out after 5 s",
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_at: i64) -> Session {
        Session {
            id: 1,
            user_id: 7,
            expires_at,
        }
    }

    #[tokio::test]
    async fn memory_tier_hits_expires_and_invalidates_synchronously() {
        let cache = AuthCache::new(CacheConfig::default()).await.unwrap();
        let a = super::super::auth::token_digest("a");
        let b = super::super::auth::token_digest("b");
        cache.put_session(&a, &session(100)).await;
        assert_eq!(cache.get_session_memory(&a, 99).map(|s| s.user_id), Some(7));
        assert!(cache.get_session_memory(&b, 99).is_none(), "other digest");
        assert!(matches!(
            cache.get_session(&a, 99).await,
            Some((_, Tier::Memory))
        ));
        assert!(
            cache.get_session_memory(&a, 100).is_none(),
            "expired at 100"
        );
        assert!(
            cache.get_session(&a, 50).await.is_none(),
            "dropped on expiry"
        );
        cache.put_session(&b, &session(100)).await;
        cache.invalidate_session(&b).await;
        assert!(cache.get_session_memory(&b, 0).is_none());
    }

    #[tokio::test]
    async fn the_memory_tier_stops_answering_after_the_cache_ttl() {
        let cache = AuthCache::new(CacheConfig {
            token_ttl: Duration::from_secs(60),
            ..CacheConfig::default()
        })
        .await
        .unwrap();
        let a = super::super::auth::token_digest("a");
        let now = unix_now();
        // The session itself is valid for a day; the cache vouches for it 60 s only.
        cache.put_session(&a, &session(now + 86_400)).await;
        assert!(cache.get_session_memory(&a, now).is_some());
        assert!(cache.get_session_memory(&a, now + 59).is_some());
        assert!(cache.get_session_memory(&a, now + 61).is_none());
    }

    #[tokio::test]
    async fn no_room_means_every_read_misses() {
        let cache = AuthCache::new(CacheConfig {
            max_entries: 0,
            ..CacheConfig::default()
        })
        .await
        .unwrap();
        let a = super::super::auth::token_digest("a");
        cache.put_session(&a, &session(i64::MAX)).await;
        assert!(cache.get_session_memory(&a, 0).is_none());
    }

    #[test]
    fn the_digest_hasher_spreads_digests() {
        use std::hash::BuildHasher;
        let b = BuildHasherDefault::<DigestHasher>::default();
        let hashes: std::collections::BTreeSet<u64> = (0..1000)
            .map(|i| b.hash_one(super::super::auth::token_digest(&i.to_string())))
            .collect();
        assert_eq!(hashes.len(), 1000);
        // Shard selection uses high bits, table slots low bits: both vary.
        let high: std::collections::BTreeSet<u64> = hashes.iter().map(|h| h >> 60).collect();
        let low: std::collections::BTreeSet<u64> = hashes.iter().map(|h| h & 0xF).collect();
        assert_eq!((high.len(), low.len()), (16, 16));
    }
}
