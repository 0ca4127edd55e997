//! Sessions and users through the caches: the one place that reads through them (cache first,
//! then the store, filling the cache) and that writes to the store and then invalidates them.
//!
//! Handlers call one [`Lookup`] method per step; none of them touches [`AuthCache`] itself, so
//! the invalidation the harness's logout-reuse check exists to catch lives here alone. In
//! baseline mode (no cache) every method is the bare store call.

use super::auth::{digest_from_hex, TokenDigest};
use super::cache::AuthCache;
use super::metrics::{note_cache, ServerMetrics};
use super::store::{Session, Store, StoreError, User};

/// A borrowed view of one server's store, caches and metrics ([`super::AppState::lookup`]).
#[derive(Clone, Copy)]
pub struct Lookup<'a> {
    pub(super) store: &'a Store,
    pub(super) cache: Option<&'a AuthCache>,
    pub(super) metrics: &'a ServerMetrics,
}

impl Lookup<'_> {
    /// The active, unexpired session of an access token (`digest` its SHA-256, `hash` the same
    /// in hex, as stored): the memory tier synchronously (a hit neither allocates nor awaits),
    /// the async Redis tier only on a miss, then the store — whose answer fills the cache.
    pub async fn session(
        &self,
        digest: &TokenDigest,
        hash: &str,
        now: i64,
    ) -> Result<Option<Session>, StoreError> {
        if let Some(cache) = self.cache {
            let hit = match cache.get_session_memory(digest, now) {
                Some(s) => Some(s),
                None if cache.has_redis() => cache.get_session_redis(digest, now).await,
                None => None,
            };
            self.metrics.cache_outcome("token", hit.is_some());
            note_cache(hit.is_some());
            if hit.is_some() {
                return Ok(hit);
            }
        }
        let found = self.store.find_active_session(hash, now).await?;
        if let (Some(cache), Some(s)) = (self.cache, &found) {
            cache.put_session(digest, s).await;
        }
        Ok(found)
    }

    /// A user by id: the cache (memory, then Redis), then the store — whose answer fills the
    /// cache.
    pub async fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        if let Some(cache) = self.cache {
            let hit = cache.get_user(id).await;
            self.metrics.cache_outcome("user", hit.is_some());
            if let Some((u, _)) = hit {
                return Ok(Some(u));
            }
        }
        let found = self.store.find_user_by_id(id).await?;
        if let (Some(cache), Some(u)) = (self.cache, &found) {
            cache.put_user(u).await;
        }
        Ok(found)
    }

    /// Caches a user row the caller has just read from the store (a successful login).
    pub async fn remember_user(&self, user: &User) {
        if let Some(cache) = self.cache {
            cache.put_user(user).await;
        }
    }

    /// Creates an active session (store) and caches it under its access token's `digest`,
    /// so the first validation is a hit. Returns the session.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_session(
        &self,
        user_id: i64,
        digest: &TokenDigest,
        refresh_hash: &str,
        family: &str,
        now: i64,
        expires_at: i64,
        refresh_expires_at: i64,
    ) -> Result<Session, StoreError> {
        let id = self
            .store
            .create_session(
                user_id,
                &hex::encode(digest),
                refresh_hash,
                family,
                now,
                expires_at,
                refresh_expires_at,
            )
            .await?;
        let session = Session {
            id,
            user_id,
            expires_at,
        };
        if let Some(cache) = self.cache {
            cache.put_session(digest, &session).await;
        }
        Ok(session)
    }

    /// Ends a session (logout, refresh rotation), then drops its access token (`token_hash`,
    /// hex as stored) from the cache — whether or not this call was the one that ended it.
    /// Returns whether the session was still active.
    pub async fn revoke_session(
        &self,
        session_id: i64,
        token_hash: &str,
    ) -> Result<bool, StoreError> {
        let revoked = self.store.revoke_session(session_id).await?;
        if let (Some(cache), Some(digest)) = (self.cache, digest_from_hex(token_hash)) {
            cache.invalidate_session(&digest).await;
        }
        Ok(revoked)
    }

    /// Revokes a refresh-token family (a reused refresh token), then drops every access token
    /// it revoked from the cache.
    pub async fn revoke_family(&self, family: &str, now: i64) -> Result<(), StoreError> {
        let revoked = self.store.revoke_family(family, now).await?;
        if let Some(cache) = self.cache {
            cache.invalidate_sessions(&revoked).await;
        }
        Ok(())
    }

    /// Replaces a user's password hash and revokes all the user's sessions, then drops the
    /// user and every revoked access token from the cache.
    pub async fn change_password(
        &self,
        user_id: i64,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.store
            .update_password(user_id, password_hash, now)
            .await?;
        let revoked = self.store.revoke_user_sessions(user_id).await?;
        if let Some(cache) = self.cache {
            cache.invalidate_user(user_id, &revoked).await;
        }
        Ok(())
    }
}
