//! One HTTP step of a flow, shared by the load loop and `loadtest probe`: the per-user
//! [`Session`] (identity, captured values, cookie jar), building a request from a contract
//! step, and judging its answer (status, body predicates, captures) with a diagnosis that
//! names what the contract got wrong.

use std::time::SystemTime;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::Value;

use super::cookies::{self, CookieJar};
use crate::contract::{
    extract, keys_hint, regex_capture, render_json, Body, Contract, Encoding, Endpoint, Method,
    Source, Values, REFRESH_SLOT, TOKEN_SLOT,
};

/// Failure class of a success status whose token could not be found.
pub const TOKEN_MISSING: &str = "token-missing";
/// Failure class of a success status missing another required capture.
pub const CAPTURE_MISSING: &str = "capture-missing";
/// Failure class of a success status whose body fails an `expect` predicate.
pub const UNEXPECTED_BODY: &str = "unexpected-body";

/// One virtual user's state (Goose session data; the probe's one user).
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub email: String,
    pub username: String,
    pub index: String,
    /// The target's origin (`{origin}`).
    pub origin: String,
    /// Captured values by slot ([`Contract::capture_names`]).
    pub captures: Vec<Option<String>>,
    pub jar: CookieJar,
    /// Logged in: the last login (or refresh) succeeded and nothing has revoked it since.
    pub logged_in: bool,
    /// This session's own connection (the lean transport); a copy opens its own.
    pub conn: super::http1::Conn,
}

impl Session {
    pub fn new(contract: &Contract, run: &str, index: String, origin: String) -> Session {
        let base = Values {
            email: "",
            username: "",
            password: "",
            run,
            user: &index,
            origin: "",
            captures: &[],
        };
        Session {
            email: contract.identity.email.render(&base, Encoding::Raw),
            username: contract.identity.username.render(&base, Encoding::Raw),
            captures: vec![None; contract.capture_names.len()],
            index,
            origin,
            jar: CookieJar::default(),
            logged_in: false,
            conn: Default::default(),
        }
    }

    pub fn values<'a>(&'a self, password: &'a str, run: &'a str) -> Values<'a> {
        Values {
            email: &self.email,
            username: &self.username,
            password,
            run,
            user: &self.index,
            origin: &self.origin,
            captures: &self.captures,
        }
    }

    pub fn has(&self, slot: usize) -> bool {
        self.captures.get(slot).is_some_and(|c| c.is_some())
    }

    pub fn has_refresh(&self) -> bool {
        self.has(REFRESH_SLOT)
    }

    /// Forgets the login: tokens and (optionally) cookies.
    pub fn log_out(&mut self) {
        self.logged_in = false;
        for slot in [TOKEN_SLOT, REFRESH_SLOT] {
            if let Some(c) = self.captures.get_mut(slot) {
                *c = None;
            }
        }
    }

    /// Every secret this user holds, for redaction: captured values and cookie values.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.captures
            .iter()
            .flatten()
            .map(String::as_str)
            .chain(self.jar.values())
    }
}

pub fn reqwest_method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

/// A request built from a step, ready to go onto any client's request builder.
pub struct Built {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Option<Vec<u8>>,
    /// Whether the auth header was sent (its shape, `Bearer …`, is only rendered for a
    /// diagnosis: see [`shape`]).
    pub sent_auth: bool,
}

impl Built {
    pub fn apply(self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let rb = rb.headers(self.headers);
        match self.body {
            Some(b) => rb.body(b),
            None => rb,
        }
    }
}

/// Builds a step's request for `flow` (whose name decides whether the token is sent by
/// default). `redacted` says which header values are secret (sent as sensitive).
pub fn build(
    contract: &Contract,
    ep: &Endpoint,
    flow: &str,
    session: &Session,
    values: &Values,
    redacted: &dyn Fn(&HeaderName) -> bool,
) -> Built {
    let path = ep.path.render(values, Encoding::Url);
    let mut headers = HeaderMap::new();
    for (name, t) in contract.headers.iter().chain(ep.headers.iter()) {
        // A captured value with control characters cannot be sent; the header is left out.
        if let Ok(mut v) = HeaderValue::from_str(&t.render(values, Encoding::Raw)) {
            v.set_sensitive(redacted(name));
            headers.insert(name.clone(), v);
        }
    }
    let mut sent_auth = false;
    if let (true, Some(auth)) = (ep.sends_token(flow), &contract.auth) {
        let value = auth.value.render(values, Encoding::Raw);
        sent_auth = true;
        // Sensitive: Goose's logs print such headers as `Sensitive`, never the value.
        if let Ok(mut v) = HeaderValue::from_str(&value) {
            v.set_sensitive(true);
            headers.insert(auth.header.clone(), v);
        }
    }
    if contract.cookies {
        if let Some(c) = session.jar.header(&path, SystemTime::now()) {
            if let Ok(mut v) = HeaderValue::from_str(&c) {
                v.set_sensitive(true);
                headers.insert(COOKIE, v);
            }
        }
    }
    let body = match &ep.body {
        Body::None => None,
        Body::Json(fields) => {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Some(serde_json::to_vec(&render_json(fields, values)).unwrap_or_default())
        }
        Body::Form(fields) => {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
            }
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, t) in fields {
                form.append_pair(k, &t.render(values, Encoding::Raw));
            }
            Some(form.finish().into_bytes())
        }
    };
    Built {
        path,
        headers,
        body,
        sent_auth,
    }
}

/// The auth value as sent, with every placeholder shown as `…` (`Bearer …`, `JWT …`).
pub fn shape(template_source: &str) -> String {
    let mut out = String::new();
    let mut rest = template_source;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        match rest[open..].find('}') {
            Some(close) => {
                out.push('…');
                rest = &rest[open + close + 1..];
            }
            None => {
                rest = &rest[open..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A judged answer.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    pub ok: bool,
    /// Failure class: the status (`401`), `token-missing`, `capture-missing`,
    /// `unexpected-body`.
    pub class: Option<String>,
    /// What the contract likely got wrong (not yet scrubbed): `status 201 is not in
    /// signup.success [200]`, the keys present where a pointer found nothing, …
    pub diagnosis: Option<String>,
    /// Whether the body belongs in an error sample (a status failure).
    pub show_body: bool,
    /// Names captured by this step.
    pub captured: Vec<String>,
    pub set_cookie: bool,
}

/// Whether a step needs the body parsed as JSON.
fn wants_json(ep: &Endpoint) -> bool {
    !ep.expect.is_empty()
        || ep
            .captures
            .iter()
            .any(|c| matches!(c.source, Source::Json(_)))
}

/// The first line of a diagnosis for a status outside `success`, when the contract is the
/// likely culprit (the request was answered, with another success or an auth rejection).
/// `sent_auth`: whether the auth header went out (shown by its shape, never its value).
pub fn status_diagnosis(
    ep: &Endpoint,
    flow: &str,
    status: u16,
    sent_auth: bool,
    contract: &Contract,
) -> Option<String> {
    if (200..400).contains(&status) {
        return Some(format!(
            "status {status} is not in {}.success {:?}",
            ep.key, ep.success
        ));
    }
    if matches!(status, 401 | 403) {
        return Some(match (sent_auth, &contract.auth) {
            (true, Some(auth)) => {
                let sent = shape(auth.value.source());
                format!("{status} on {flow}: check `auth.value` (sent `{sent}`)")
            }
            _ if contract.cookies => format!(
                "{status} on {flow}: the session cookie was not accepted (check the login step's cookies and CSRF captures)"
            ),
            _ => format!("{status} on {flow}: no auth header was sent (send_token = false?)"),
        });
    }
    None
}

/// Judges one answer: stores cookies, checks the status and the body predicates, takes the
/// captures into the session.
#[allow(clippy::too_many_arguments)]
pub fn judge(
    contract: &Contract,
    ep: &Endpoint,
    flow: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    session: &mut Session,
    host: &str,
    path: &str,
    sent_auth: bool,
) -> Judged {
    let now = SystemTime::now();
    let set_cookie = headers.contains_key(SET_COOKIE);
    if set_cookie {
        for set in cookies::from_headers(headers, host, now) {
            crate::secrets::register_captured(&set.value);
            if contract.cookies {
                session.jar.put(set, path, now);
            }
        }
    }
    let mut j = Judged {
        set_cookie,
        ..Judged::default()
    };
    if !ep.success.contains(&status) {
        j.class = Some(status.to_string());
        j.diagnosis = status_diagnosis(ep, flow, status, sent_auth, contract);
        j.show_body = true;
        return j;
    }
    let json: Option<Value> = if wants_json(ep) {
        serde_json::from_slice(body).ok()
    } else {
        None
    };
    for e in &ep.expect {
        if let Some(why) = e.check(json.as_ref()) {
            j.class = Some(UNEXPECTED_BODY.into());
            j.diagnosis = Some(format!("{}: {why}", ep.key));
            return j;
        }
    }
    for c in &ep.captures {
        let value = match &c.source {
            Source::Json(p) => json.as_ref().and_then(|b| extract(b, p)),
            Source::Header(h) => headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            Source::Cookie(name) => cookies::from_headers(headers, host, now)
                .find(|s| &s.name == name)
                .map(|s| s.value)
                .or_else(|| session.jar.get(name, now).map(str::to_string))
                .filter(|v| !v.is_empty()),
            Source::Regex(re) => regex_capture(re, body),
        };
        match value {
            Some(v) => {
                crate::secrets::register_captured(&v);
                session.captures[c.slot] = Some(v);
                j.captured.push(c.name.clone());
            }
            None if c.optional => session.captures[c.slot] = None,
            None => {
                j.class = Some(
                    if c.slot == TOKEN_SLOT {
                        TOKEN_MISSING
                    } else {
                        CAPTURE_MISSING
                    }
                    .into(),
                );
                let hint = match (&c.source, &json) {
                    (Source::Json(p), Some(b)) => format!("; {}", keys_hint(b, p)),
                    (Source::Json(_), None) => "; the body is not JSON".to_string(),
                    (Source::Header(_), _) => {
                        format!("; headers present: {}", header_names(headers))
                    }
                    (Source::Cookie(_), _) if !set_cookie => "; no Set-Cookie in the answer".into(),
                    _ => String::new(),
                };
                j.diagnosis = Some(format!(
                    "{}: nothing for {} at {}{hint}",
                    ep.key,
                    c.name,
                    c.source.describe()
                ));
                return j;
            }
        }
    }
    j.ok = true;
    j
}

fn header_names(headers: &HeaderMap) -> String {
    let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
    names.dedup();
    names.truncate(15);
    names.join(", ")
}

/// Reads at most `limit` bytes of a body; the rest is dropped with the connection.
pub async fn read_capped(
    resp: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = limit.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            break;
        }
    }
    Ok(buf)
}

/// Class of a transport error.
pub fn error_class(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "other"
    }
}
