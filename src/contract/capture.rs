//! Captures (named values taken from a response: JSON pointer, header, cookie, body regex)
//! and success predicates over the JSON body, plus the hints that name what *was* there when
//! a pointer found nothing.

use reqwest::header::HeaderName;
use serde_json::Value;

/// Where a capture takes its value.
#[derive(Debug, Clone)]
pub enum Source {
    Json(String),
    Header(HeaderName),
    Cookie(String),
    /// The first group (or the whole match when there is none).
    Regex(regex::Regex),
}

/// One named capture of a step.
#[derive(Debug, Clone)]
pub struct Capture {
    pub name: String,
    pub slot: usize,
    pub source: Source,
    /// A missing optional value is no failure (the slot is cleared).
    pub optional: bool,
}

impl PartialEq for Source {
    fn eq(&self, other: &Self) -> bool {
        self.describe() == other.describe()
    }
}

impl PartialEq for Capture {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.slot, &self.source, self.optional)
            == (&other.name, other.slot, &other.source, other.optional)
    }
}

impl Source {
    /// How the contract wrote it: `json /access_token`, `header X-Auth-Token`, …
    pub fn describe(&self) -> String {
        match self {
            Source::Json(p) => format!("JSON pointer {p}"),
            Source::Header(h) => format!("header {h}"),
            Source::Cookie(c) => format!("cookie {c}"),
            Source::Regex(r) => format!("regex {}", r.as_str()),
        }
    }
}

/// A JSON body predicate: the pointer must exist (not null) and, if given, equal the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub pointer: String,
    pub equals: Option<Value>,
}

impl Expect {
    /// `None` when satisfied, else why not.
    pub fn check(&self, body: Option<&Value>) -> Option<String> {
        let Some(body) = body else {
            return Some(format!(
                "expected JSON with {} but the body is not JSON",
                self.pointer
            ));
        };
        match (body.pointer(&self.pointer), &self.equals) {
            (None | Some(Value::Null), _) => Some(format!(
                "expected {} in the body; {}",
                self.pointer,
                keys_hint(body, &self.pointer)
            )),
            (Some(found), Some(want)) if !json_equal(found, want) => Some(format!(
                "expected {} = {want}, found {}",
                self.pointer,
                clip(&found.to_string(), 60)
            )),
            _ => None,
        }
    }
}

/// Numbers compare by value (`1` equals `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// A JSON value as captured text: strings as they are, numbers and booleans as written;
/// empty strings, null, arrays and objects are no value.
pub fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Extracts a string at a JSON pointer (numbers are turned into text).
pub fn extract(body: &Value, pointer: &str) -> Option<String> {
    json_text(body.pointer(pointer)?)
}

/// Names the keys that *are* there, at the deepest part of `pointer` that exists:
/// `keys at /: data, expires_in`.
pub fn keys_hint(body: &Value, pointer: &str) -> String {
    let mut at = String::new();
    let mut node = body;
    for token in pointer.split('/').skip(1) {
        let next = format!("{at}/{token}");
        match body.pointer(&next) {
            Some(v) if v.is_object() || v.is_array() => {
                at = next;
                node = v;
            }
            Some(v) => {
                return format!("{next} is {}", kind(v));
            }
            None => break,
        }
    }
    let shown = if at.is_empty() { "/" } else { at.as_str() };
    match node {
        Value::Object(m) if m.is_empty() => format!("{shown} is an empty object"),
        Value::Object(m) => format!(
            "keys at {shown}: {}",
            m.keys()
                .take(12)
                .map(|k| clip(k, 40))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(a) => format!("{shown} is an array of {}", a.len()),
        other => format!("the body is {}", kind(other)),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(s) if s.is_empty() => "an empty string",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Runs a body regex: group 1 if the pattern has one, else the whole match.
pub fn regex_capture(re: &regex::Regex, body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let caps = re.captures(text)?;
    caps.get(1)
        .or_else(|| caps.get(0))
        .map(|m| m.as_str().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_follows_json_pointers() {
        let v = serde_json::json!({"data": {"token": "abc", "n": 5}, "empty": ""});
        assert_eq!(extract(&v, "/data/token").as_deref(), Some("abc"));
        assert_eq!(extract(&v, "/data/n").as_deref(), Some("5"));
        assert_eq!(extract(&v, "/empty"), None);
        assert_eq!(extract(&v, "/missing"), None);
    }

    #[test]
    fn hints_name_the_keys_that_are_there() {
        let v = serde_json::json!({"data": {"token": "abc", "user": {"id": 1}}, "ok": true});
        assert_eq!(keys_hint(&v, "/access_token"), "keys at /: data, ok");
        assert_eq!(keys_hint(&v, "/data/access"), "keys at /data: token, user");
        assert_eq!(keys_hint(&v, "/data/token/x"), "/data/token is a string");
        assert_eq!(
            keys_hint(&serde_json::json!([1]), "/a"),
            "/ is an array of 1"
        );
    }

    #[test]
    fn predicates_check_existence_and_values() {
        let v = serde_json::json!({"ok": false, "n": 1, "errors": null});
        let e = |p: &str, eq: Option<Value>| Expect {
            pointer: p.into(),
            equals: eq,
        };
        assert_eq!(e("/n", None).check(Some(&v)), None);
        assert_eq!(e("/n", Some(serde_json::json!(1.0))).check(Some(&v)), None);
        assert_eq!(
            e("/ok", Some(Value::Bool(true))).check(Some(&v)).unwrap(),
            "expected /ok = true, found false"
        );
        assert!(e("/errors", None)
            .check(Some(&v))
            .unwrap()
            .ends_with("/errors is null"));
        assert!(e("/data", None)
            .check(Some(&v))
            .unwrap()
            .ends_with("keys at /: errors, n, ok"));
        assert!(e("/x", None).check(None).unwrap().contains("not JSON"));
    }

    #[test]
    fn regex_takes_the_first_group() {
        let re = regex::Regex::new(r#"name="csrfmiddlewaretoken" value="([^"]+)""#).unwrap();
        let html = br#"<input type="hidden" name="csrfmiddlewaretoken" value="abc123">"#;
        assert_eq!(regex_capture(&re, html).as_deref(), Some("abc123"));
        assert_eq!(regex_capture(&re, b"nothing"), None);
    }
}
