//! One virtual user's cookie jar: cookies from `Set-Cookie` answers of the target, sent back
//! only to the target (every request of a run goes to its one origin), path and expiry
//! honoured, a `Domain` naming another host refused. Bounded in count and size.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, SET_COOKIE};

/// Most cookies one user keeps, and the longest name=value accepted (browsers: 4096).
const MAX_COOKIES: usize = 50;
const MAX_COOKIE_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
struct Cookie {
    name: String,
    value: String,
    path: String,
    expires: Option<SystemTime>,
}

/// A parsed `Set-Cookie`: `None` from [`parse`] when it must be ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    path: Option<String>,
    /// Some(past) means "delete".
    expires: Option<SystemTime>,
}

/// Parses one `Set-Cookie` value for a response from `host`.
pub fn parse(header: &str, host: &str, now: SystemTime) -> Option<SetCookie> {
    if header.len() > MAX_COOKIE_BYTES {
        return None;
    }
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let value = value.trim().trim_matches('"');
    let mut c = SetCookie {
        name: name.to_string(),
        value: value.to_string(),
        path: None,
        expires: None,
    };
    let mut max_age = None;
    for attr in parts {
        let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("path") && v.starts_with('/') {
            c.path = Some(v.to_string());
        } else if k.eq_ignore_ascii_case("max-age") {
            max_age = v.parse::<i64>().ok();
        } else if k.eq_ignore_ascii_case("expires") {
            c.expires = httpdate::parse_http_date(v).ok();
        } else if k.eq_ignore_ascii_case("domain") {
            let d = v.trim_start_matches('.').to_ascii_lowercase();
            let h = host.to_ascii_lowercase();
            let h = h.trim_start_matches('[').trim_end_matches(']');
            if !(d.is_empty() || h == d || h.ends_with(&format!(".{d}"))) {
                return None;
            }
        }
    }
    if let Some(secs) = max_age {
        c.expires = Some(if secs <= 0 {
            SystemTime::UNIX_EPOCH
        } else {
            now + Duration::from_secs(secs as u64)
        });
    }
    Some(c)
}

/// The default path of a cookie set by a response to `request_path` (RFC 6265 5.1.4).
fn default_path(request_path: &str) -> String {
    let p = request_path.split('?').next().unwrap_or("/");
    match p.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => p[..i].to_string(),
    }
}

fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    let p = request_path.split('?').next().unwrap_or("/");
    p == cookie_path
        || (p.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || p.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// The `Set-Cookie` values of a response that a jar would take.
pub fn from_headers<'a>(
    headers: &'a HeaderMap,
    host: &'a str,
    now: SystemTime,
) -> impl Iterator<Item = SetCookie> + 'a {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(move |v| parse(v.to_str().ok()?, host, now))
}

/// Cookies of one virtual user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
}

impl CookieJar {
    /// Takes the cookies of a response to `request_path`.
    pub fn store(&mut self, headers: &HeaderMap, host: &str, request_path: &str, now: SystemTime) {
        for set in from_headers(headers, host, now) {
            self.put(set, request_path, now);
        }
    }

    /// Takes one parsed cookie set by a response to `request_path`.
    pub fn put(&mut self, set: SetCookie, request_path: &str, now: SystemTime) {
        let path = set.path.unwrap_or_else(|| default_path(request_path));
        self.cookies
            .retain(|c| !(c.name == set.name && c.path == path));
        if set.expires.is_some_and(|e| e <= now) {
            return;
        }
        if self.cookies.len() >= MAX_COOKIES {
            self.cookies.remove(0);
        }
        self.cookies.push(Cookie {
            name: set.name,
            value: set.value,
            path,
            expires: set.expires,
        });
    }

    /// The `Cookie` header for a request to `request_path`, if any cookie applies. Longer
    /// paths first (RFC 6265 5.4).
    pub fn header(&self, request_path: &str, now: SystemTime) -> Option<String> {
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| c.expires.is_none_or(|e| e > now) && path_matches(&c.path, request_path))
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let mut out = String::new();
        for c in matching {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&c.name);
            out.push('=');
            out.push_str(&c.value);
        }
        Some(out)
    }

    /// A live cookie's value by name.
    pub fn get(&self, name: &str, now: SystemTime) -> Option<&str> {
        self.cookies
            .iter()
            .find(|c| c.name == name && c.expires.is_none_or(|e| e > now))
            .map(|c| c.value.as_str())
    }

    /// Every value held (for redaction).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.cookies.iter().map(|c| c.value.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Cookie names held (probe output: names only).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.cookies.iter().map(|c| c.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(SET_COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn stores_sends_and_expires_by_path() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut jar = CookieJar::default();
        jar.store(
            &headers(&[
                "sessionid=abc; Path=/; HttpOnly; SameSite=Lax",
                "csrftoken=\"x1\"; Max-Age=60",
                "admin=1; Path=/admin",
                "evil=1; Domain=evil.example",
                "mine=2; Domain=.127.0.0.1",
            ]),
            "127.0.0.1",
            "/accounts/login/",
            now,
        );
        assert_eq!(jar.get("csrftoken", now), Some("x1"));
        assert_eq!(jar.get("evil", now), None);
        // Without Path, the default path is /accounts/login: sent there (longest path
        // first), not to /api.
        assert_eq!(
            jar.header("/accounts/login/?next=/", now).as_deref(),
            Some("csrftoken=x1; mine=2; sessionid=abc")
        );
        assert_eq!(jar.header("/api/me", now).as_deref(), Some("sessionid=abc"));
        assert_eq!(
            jar.header("/administrator", now).as_deref(),
            Some("sessionid=abc")
        );
        assert!(jar
            .header("/admin/x", now)
            .unwrap()
            .starts_with("admin=1; "));
        // Expiry: Max-Age passes; a deleting Set-Cookie removes.
        let later = now + Duration::from_secs(61);
        assert_eq!(jar.get("csrftoken", later), None);
        jar.store(
            &headers(&["sessionid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]),
            "127.0.0.1",
            "/logout",
            now,
        );
        assert_eq!(jar.get("sessionid", now), None);
        assert_eq!(jar.values().count(), 3);
    }

    #[test]
    fn bounded_in_count_and_size() {
        let now = SystemTime::now();
        let mut jar = CookieJar::default();
        let many: Vec<String> = (0..80).map(|i| format!("c{i}=v")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        jar.store(&headers(&refs), "localhost", "/", now);
        assert_eq!(jar.names().count(), MAX_COOKIES);
        assert_eq!(jar.get("c79", now), Some("v"));
        let big = format!("big={}", "x".repeat(5000));
        assert!(parse(&big, "localhost", now).is_none());
        assert!(parse("=v", "localhost", now).is_none());
        assert!(parse("novalue", "localhost", now).is_none());
    }
}
