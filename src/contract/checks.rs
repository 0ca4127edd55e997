//! Strict contract values at load time: header names and literal values that can be sent
//! safely, headers the HTTP client owns, origin-relative paths.

use reqwest::header::HeaderName;

/// Headers a contract may not set: hop-by-hop and message-framing headers belong to the HTTP
/// client (a wrong Content-Length or Transfer-Encoding desynchronises the connection), Host
/// and Cookie to the harness (the target's origin; the per-user cookie jar).
const FORBIDDEN: &[&str] = &[
    "connection",
    "content-length",
    "cookie",
    "expect",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A header name a contract may set.
pub fn header_name(name: &str) -> Result<HeaderName, String> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("'{}' is not a valid header name", name.escape_debug()))?;
    if FORBIDDEN.contains(&parsed.as_str()) {
        return Err(format!(
            "'{name}' cannot be set by a contract (hop-by-hop, framing, Host and Cookie headers belong to the client{})",
            if parsed.as_str() == "cookie" {
                "; use `cookies = true` and captures"
            } else {
                ""
            }
        ));
    }
    Ok(parsed)
}

/// A header value template: no control characters (CR/LF would split the header).
pub fn header_value(value: &str) -> Result<(), String> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "value contains the control character {:?} (CR/LF would split the header)",
            c
        ));
    }
    Ok(())
}

/// A path template: origin-relative (`/…`), never `//host` or a scheme, no whitespace, no
/// control characters or fragment.
pub fn path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!(
            "'{}' must start with '/' (paths are relative to --host)",
            path.escape_debug()
        ));
    }
    if path.starts_with("//") || path.starts_with("/\\") {
        return Err(format!(
            "'{}' must not start with '//' (that names another host)",
            path.escape_debug()
        ));
    }
    if let Some(c) = path
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || *c == '#' || *c == '\\')
    {
        return Err(format!(
            "'{}' contains {:?} (encode it, or drop the fragment)",
            path.escape_debug(),
            c
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_paths_are_checked() {
        assert!(header_name("X-Api-Key").is_ok());
        for bad in [
            "Host",
            "content-length",
            "Transfer-Encoding",
            "Connection",
            "Cookie",
            "Bad Name",
            "a\r\nb",
        ] {
            assert!(header_name(bad).is_err(), "{bad}");
        }
        assert!(header_value("Bearer {token}").is_ok());
        assert!(header_value("a\r\nX-Evil: 1").is_err());
        assert!(path("/api/v1/users/{user_id}?q={email}").is_ok());
        for bad in [
            "api",
            "//evil.example/x",
            "http://evil/x",
            "/a b",
            "/a\nb",
            "/a#frag",
            "/\\evil",
        ] {
            assert!(path(bad).is_err(), "{bad}");
        }
    }
}
