//! Secret hygiene: the run's registry of secret values and the one scrubber that every byte the
//! tool keeps or prints goes through, before any truncation.
//!
//! What is registered: the generated password, the rendered values of secret headers
//! (`Authorization`, the contract's auth header, `--redact` names), and every captured token or
//! cookie ([`register_captured`]). What the scrubber does, in order: replace every registered
//! value (4 characters or more) by [`MASK`], then mask token-looking words (JWTs; 32+ character
//! runs of base64url/hex with mixed case and digits, or all hex). [`Secrets::scrub_body`] also
//! masks, in a JSON body, every string value whose key names a secret (`*token*`, `password`,
//! `secret`, `cookie`, `session`, …) and the values at given JSON pointers.
//!
//! The registry is process-wide ([`global`]): one process runs one attack at a time, and a value
//! registered by an earlier run of the same process (`ab`, `capacity`) is still a secret.
//! Captured values are many (one token per login): the most recent [`MAX_CAPTURED`] are kept,
//! so memory stays bounded however long the run is; fixed values are kept for the process.
//! This module imports nothing from the crate (bottom layer).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret is replaced by.
pub const MASK: &str = "[redacted]";

/// Shorter values are not worth mangling every text for (and would match everywhere).
pub const MIN_SECRET_LEN: usize = 4;

/// How many captured values (tokens, cookies) the registry keeps, most recent first.
pub const MAX_CAPTURED: usize = 4096;

/// A kept response body is scrubbed over at most this many bytes (the kept sample is far
/// shorter; the cut is made before scrubbing so a token crossing the sample's cut is whole).
pub const BODY_SCRUB_LIMIT: usize = 64 * 1024;

/// A registry of secret values plus the scrubber built from it.
#[derive(Default)]
pub struct Secrets {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    fixed: Vec<String>,
    captured: VecDeque<String>,
    /// Built on demand from `fixed` + `captured`; `None` when stale.
    matcher: Option<Arc<AhoCorasick>>,
}

static GLOBAL: LazyLock<Secrets> = LazyLock::new(Secrets::default);

/// The process-wide registry every writer and printer scrubs with.
pub fn global() -> &'static Secrets {
    &GLOBAL
}

/// Registers a secret for the rest of the process (password, secret header value, userinfo).
pub fn register(value: &str) {
    global().register(value);
}

/// Registers a captured value (token, refresh token, cookie); bounded, most recent kept.
pub fn register_captured(value: &str) {
    global().register_captured(value);
}

/// Scrubs `text` with the process-wide registry (see the module docs).
pub fn scrub(text: &str) -> String {
    global().scrub(text)
}

impl Secrets {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a value kept for the registry's life.
    pub fn register(&self, value: &str) {
        if value.len() < MIN_SECRET_LEN {
            return;
        }
        let mut st = self.lock();
        if !st.fixed.iter().any(|v| v == value) {
            st.fixed.push(value.to_string());
            st.matcher = None;
        }
    }

    /// Registers a captured value; the oldest is forgotten beyond [`MAX_CAPTURED`].
    pub fn register_captured(&self, value: &str) {
        if value.len() < MIN_SECRET_LEN {
            return;
        }
        let mut st = self.lock();
        if st.captured.back().is_some_and(|v| v == value) {
            return;
        }
        if st.captured.len() >= MAX_CAPTURED {
            st.captured.pop_front();
        }
        st.captured.push_back(value.to_string());
        st.matcher = None;
    }

    fn matcher(&self) -> Option<Arc<AhoCorasick>> {
        let mut st = self.lock();
        if st.fixed.is_empty() && st.captured.is_empty() {
            return None;
        }
        if st.matcher.is_none() {
            let mut values: Vec<&str> = st
                .fixed
                .iter()
                .chain(st.captured.iter())
                .map(String::as_str)
                .collect();
            values.sort_unstable();
            values.dedup();
            // Leftmost-longest: a short secret inside a longer one cannot break its match.
            st.matcher = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&values)
                .ok()
                .map(Arc::new);
        }
        st.matcher.clone()
    }

    /// Text that came from the target (error samples): every registered value replaced by
    /// [`MASK`], then token-looking words masked. The tool's own messages (paths of temporary
    /// folders look like tokens) use [`Self::scrub_registered`].
    pub fn scrub(&self, text: &str) -> String {
        let replaced = match self.matcher() {
            Some(m) => m.replace_all(text, &vec![MASK; m.patterns_len()]),
            None => text.to_string(),
        };
        mask_token_words(&replaced).into_owned()
    }

    /// [`Self::scrub`] for bytes that may or may not be UTF-8 (files being written): text is
    /// scrubbed, other bytes are left alone.
    pub fn scrub_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                let m = self.matcher();
                let hit = m.as_ref().is_some_and(|m| m.is_match(text));
                if hit {
                    Cow::Owned(self.scrub_registered(text).into_bytes())
                } else {
                    Cow::Borrowed(bytes)
                }
            }
            Err(_) => Cow::Borrowed(bytes),
        }
    }

    /// Only the registered values (no token-shape masking: a written record holds encoded
    /// histograms that look like tokens and must stay intact).
    pub fn scrub_registered(&self, text: &str) -> String {
        match self.matcher() {
            Some(m) => m.replace_all(text, &vec![MASK; m.patterns_len()]),
            None => text.to_string(),
        }
    }

    /// A response body about to be kept as a sample: cut to [`BODY_SCRUB_LIMIT`] bytes, then,
    /// if it is JSON, values at `pointers` and under secret-looking keys masked and the rest
    /// scrubbed string by string; otherwise scrubbed as text. Truncate only the result.
    pub fn scrub_body(&self, body: &[u8], pointers: &[&str]) -> String {
        let cut = &body[..body.len().min(BODY_SCRUB_LIMIT)];
        if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(cut) {
            for p in pointers {
                if let Some(v) = value.pointer_mut(p) {
                    *v = serde_json::Value::String(MASK.into());
                }
            }
            mask_json(&mut value, false);
            let text = serde_json::to_string(&value).unwrap_or_default();
            return self.scrub(&text);
        }
        self.scrub(&String::from_utf8_lossy(cut))
    }
}

/// Whether a JSON key names a secret value.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "token",
        "password",
        "passwd",
        "secret",
        "cookie",
        "session",
        "jwt",
        "credential",
        "apikey",
        "api_key",
        "api-key",
        "authorization",
        "assertion",
        "otp",
    ]
    .iter()
    .any(|s| k.contains(s))
}

fn mask_json(v: &mut serde_json::Value, secret: bool) {
    use serde_json::Value;
    match v {
        Value::String(_) | Value::Number(_) if secret => *v = Value::String(MASK.into()),
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                mask_json(child, secret || is_secret_key(k));
            }
        }
        Value::Array(items) => {
            for child in items {
                mask_json(child, secret);
            }
        }
        _ => {}
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '=' | '~')
}

/// Whether a word (a maximal run of token characters) looks like a credential.
fn looks_like_token(word: &str) -> bool {
    let trimmed = word.trim_matches(|c| c == '.' || c == '/');
    if trimmed.starts_with("eyJ") && trimmed.matches('.').count() >= 1 && trimmed.len() >= 16 {
        return true;
    }
    if trimmed.len() < 32 {
        return false;
    }
    let hex = trimmed.chars().all(|c| c.is_ascii_hexdigit());
    let upper = trimmed.chars().any(|c| c.is_ascii_uppercase());
    let lower = trimmed.chars().any(|c| c.is_ascii_lowercase());
    let digit = trimmed.chars().any(|c| c.is_ascii_digit());
    hex || (upper && lower && digit)
}

/// Masks token-looking words in free text.
pub fn mask_token_words(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut last = 0;
    let mut start = None;
    let mut changed = false;
    let bytes_end = text.len();
    for (i, c) in text.char_indices().chain(std::iter::once((bytes_end, ' '))) {
        match (start, is_token_char(c) && i < bytes_end) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                if looks_like_token(&text[s..i]) {
                    out.push_str(&text[last..s]);
                    out.push_str(MASK);
                    last = i;
                    changed = true;
                }
                start = None;
            }
            _ => {}
        }
    }
    if !changed {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_replaced_longest_first() {
        let s = Secrets::default();
        s.register("abcd");
        s.register("abcdefgh");
        s.register("xy"); // too short to register
        assert_eq!(
            s.scrub("1 abcdefgh 2 abcd 3 xy"),
            "1 [redacted] 2 [redacted] 3 xy"
        );
    }

    #[test]
    fn captured_values_are_bounded() {
        let s = Secrets::default();
        for i in 0..MAX_CAPTURED + 10 {
            s.register_captured(&format!("tok-{i:06}"));
        }
        assert_eq!(s.lock().captured.len(), MAX_CAPTURED);
        assert_eq!(s.scrub("tok-000000"), "tok-000000");
        assert_eq!(s.scrub(&format!("tok-{:06}", MAX_CAPTURED + 9)), MASK);
    }

    #[test]
    fn token_shapes_are_masked_in_text() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert_eq!(mask_token_words(&format!("bad {jwt}!")), "bad [redacted]!");
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(mask_token_words(hex), MASK);
        // Ordinary words and paths stay.
        let plain = "error sending request for url (http://127.0.0.1:8080/api/v1/auth/validate)";
        assert_eq!(mask_token_words(plain), plain);
    }

    #[test]
    fn json_bodies_mask_secret_keys_and_pointers_before_any_cut() {
        let s = Secrets::default();
        let body = br#"{"error":"nope","data":{"access_token":"short-one","t":"opaque-x"},"refresh":"r-1"}"#;
        let out = s.scrub_body(body, &["/data/t", "/refresh"]);
        assert!(!out.contains("short-one"), "{out}");
        assert!(!out.contains("opaque-x"), "{out}");
        assert!(!out.contains("r-1"), "{out}");
        assert!(out.contains("nope"), "{out}");
    }

    #[test]
    fn bytes_that_are_not_text_are_left_alone() {
        let s = Secrets::default();
        s.register("secret-value");
        assert_eq!(&*s.scrub_bytes(&[0xff, 0xfe]), &[0xff, 0xfe]);
        assert_eq!(&*s.scrub_bytes(b"a secret-value b"), b"a [redacted] b");
    }
}
