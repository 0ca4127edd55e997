//! The auth flows as Goose transactions: each virtual user signs up once with a unique
//! identity, logs in, then loops token validation (re-logging in on 401 or a missing token),
//! with occasional re-login, refresh and logout by weight. Every request is timed here, into
//! the HDR [`Recorder`], and its success decided by the contract — and Goose is told the same
//! verdict, so both sets of counts agree.

use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::goose::{GooseMethod, GooseRequest, GooseUser, Scenario, Transaction, TransactionError};
use goose::prelude::TransactionResult;
use reqwest::header::{HeaderName, HeaderValue};

use super::pacing::{Pace, Pacer};
use super::recorder::{Flow, Outcome, Recorder};
use crate::contract::{extract, render, BodyFormat, Contract, Endpoint, Method, Vars};
use crate::profile::Weights;

/// Failure class of a revoked token that was accepted after logout.
pub const SECURITY_FINDING: &str = "security-finding";

/// Largest response body read; beyond it the body is dropped (a hostile 100 MB body is never
/// buffered whole).
pub const BODY_LIMIT: usize = 1 << 20;

/// What every user of a run shares.
pub struct FlowContext {
    pub contract: Contract,
    pub recorder: Arc<Recorder>,
    pub run_id: String,
    /// Generated per run; never written anywhere.
    pub password: String,
    /// Added to Goose's user index (shards use disjoint ranges).
    pub user_offset: usize,
    /// Open model: hands out intended send times for the looped flows.
    pub pacer: Option<Arc<Pacer>>,
    /// Header names (lower case) whose values are secret (`--redact`): sent as sensitive
    /// headers and replaced by `[redacted]` in anything kept.
    pub redact_headers: Vec<String>,
}

/// One virtual user's identity and tokens (Goose session data).
#[derive(Clone, Default)]
struct UserState {
    email: String,
    username: String,
    index: String,
    token: Option<String>,
    refresh: Option<String>,
}

/// A request's result as the flows need it.
struct Reply {
    ok: bool,
    status: Option<u16>,
    body: Option<serde_json::Value>,
}

fn goose_method(m: Method) -> GooseMethod {
    match m {
        Method::Get => GooseMethod::Get,
        Method::Post => GooseMethod::Post,
        Method::Put => GooseMethod::Put,
        Method::Patch => GooseMethod::Patch,
        Method::Delete => GooseMethod::Delete,
    }
}

/// Reads at most `limit` bytes of a body; the rest is dropped with the connection.
async fn read_capped(
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

fn error_class(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "other"
    }
}

impl FlowContext {
    fn vars<'a>(&'a self, st: &'a UserState) -> Vars<'a> {
        Vars {
            email: &st.email,
            username: &st.username,
            password: &self.password,
            token: st.token.as_deref().unwrap_or(""),
            refresh_token: st.refresh.as_deref().unwrap_or(""),
            run: &self.run_id,
            user: &st.index,
        }
    }

    /// Removes this user's secrets from text that will be kept (error samples).
    fn redact(&self, st: &UserState, text: &str) -> String {
        let mut out = text.to_string();
        let vars = self.vars(st);
        let redacted_values: Vec<String> = self
            .contract
            .headers
            .iter()
            .filter(|(k, _)| self.is_redacted(k))
            .map(|(_, v)| render(v, &vars))
            .collect();
        let mut secrets: Vec<&String> =
            [Some(&self.password), st.token.as_ref(), st.refresh.as_ref()]
                .into_iter()
                .flatten()
                .chain(redacted_values.iter())
                .collect();
        // Longest first, so a short secret inside a longer one cannot break its match; values
        // of 1–3 characters are not secrets worth mangling every sample for.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets {
            if secret.len() >= 4 {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        out
    }

    /// Whether a header's value must never be kept: Authorization, the auth header, and every
    /// name given with `--redact`.
    fn is_redacted(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case(&self.contract.auth.header)
            || self
                .redact_headers
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name))
    }

    /// Sends one contract request, times it, records it, and aligns Goose's verdict.
    async fn call(
        &self,
        user: &mut GooseUser,
        flow: Flow,
        ep: &Endpoint,
        st: &UserState,
        want_body: bool,
        intended: Option<Instant>,
    ) -> Result<Reply, Box<TransactionError>> {
        let vars = self.vars(st);
        let method = goose_method(ep.method);
        let mut rb = user.get_request_builder(&method, &render(&ep.path, &vars))?;
        for (k, v) in self.contract.headers.iter().chain(ep.headers.iter()) {
            let value = render(v, &vars);
            match (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                (Ok(name), Ok(mut hv)) => {
                    hv.set_sensitive(self.is_redacted(k));
                    rb = rb.header(name, hv);
                }
                _ => rb = rb.header(k.as_str(), value),
            }
        }
        if ep.sends_token(flow.name()) {
            // Sensitive: Goose's logs print such headers as `Sensitive`, never the value.
            let value = render(&self.contract.auth.value, &vars);
            if let (Ok(name), Ok(mut value)) = (
                HeaderName::from_bytes(self.contract.auth.header.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                value.set_sensitive(true);
                rb = rb.header(name, value);
            }
        }
        let fields: Vec<(String, String)> = ep
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), render(v, &vars)))
            .collect();
        rb = match ep.body {
            BodyFormat::None => rb,
            BodyFormat::Form => rb.form(&fields),
            BodyFormat::Json => {
                let map: serde_json::Map<String, serde_json::Value> = fields
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                rb.json(&map)
            }
        };
        let request = GooseRequest::builder()
            .method(method)
            .name(flow.name())
            .set_request_builder(rb)
            .build();
        let now = Instant::now();
        // Open model: latency counts from the intended send time (a send held up by a slow
        // target is charged to it), except within the timer's own slack, which is the
        // generator's and is only recorded as send lag.
        let started = match intended {
            Some(i) => {
                let lag = now.saturating_duration_since(i);
                self.recorder.record_send_lag(lag);
                if lag <= super::pacing::TIMER_SLACK {
                    now
                } else {
                    i
                }
            }
            None => now,
        };
        let mut goose = user.request(request).await?;
        let (status, outcome, body) = match &mut goose.response {
            Ok(resp) => {
                let status = resp.status().as_u16();
                self.recorder.headers.observe(flow.name(), resp.headers());
                let bytes = read_capped(resp, BODY_LIMIT).await;
                match bytes {
                    Ok(bytes) => {
                        let ok = ep.success.contains(&status);
                        // A revoked token the API still accepts is a security finding.
                        let accepted_revoked =
                            flow == Flow::Reuse && self.contract.validate.success.contains(&status);
                        let outcome = if ok {
                            Outcome::Ok
                        } else {
                            Outcome::Failed {
                                class: if accepted_revoked {
                                    SECURITY_FINDING.to_string()
                                } else {
                                    status.to_string()
                                },
                                detail: self.redact(
                                    st,
                                    &String::from_utf8_lossy(&bytes[..bytes.len().min(512)]),
                                ),
                            }
                        };
                        let body = if want_body || !ok {
                            serde_json::from_slice(&bytes).ok()
                        } else {
                            None
                        };
                        (Some(status), outcome, body)
                    }
                    Err(e) => (
                        Some(status),
                        Outcome::Failed {
                            class: error_class(&e).to_string(),
                            detail: format!(
                                "reading the body failed: {}",
                                self.redact(st, &e.to_string())
                            ),
                        },
                        None,
                    ),
                }
            }
            Err(e) => (
                None,
                Outcome::Failed {
                    class: error_class(e).to_string(),
                    detail: self.redact(st, &e.to_string()),
                },
                None,
            ),
        };
        let latency = started.elapsed();
        let mut ok = outcome == Outcome::Ok;
        // A login/refresh that succeeded but carries no token is a failure of its own class.
        let outcome = match (&outcome, want_body, &ep.token) {
            (Outcome::Ok, true, Some(ptr))
                if body.as_ref().and_then(|b| extract(b, ptr)).is_none() =>
            {
                ok = false;
                Outcome::Failed {
                    class: "token-missing".into(),
                    detail: format!("no string at JSON pointer {ptr} in the response"),
                }
            }
            _ => outcome,
        };
        let class = match &outcome {
            Outcome::Ok => None,
            Outcome::Failed { class, .. } => Some(class.clone()),
        };
        self.recorder.record(flow, latency, outcome);
        if ok && !goose.request.success {
            let _ = user.set_success(&mut goose.request);
        } else if let (false, true, Some(class)) = (ok, goose.request.success, class) {
            // Returns Err(RequestFailed) by design; the verdict is what matters here.
            let _ = user.set_failure(
                &format!("{}: {class}", flow.name()),
                &mut goose.request,
                None,
                None,
            );
        }
        Ok(Reply { ok, status, body })
    }

    async fn signup(&self, user: &mut GooseUser) -> TransactionResult {
        let index = (user.weighted_users_index + self.user_offset).to_string();
        let base = Vars {
            run: &self.run_id,
            user: &index,
            ..Vars::default()
        };
        let st = UserState {
            email: render(&self.contract.identity.email, &base),
            username: render(&self.contract.identity.username, &base),
            index: index.clone(),
            token: None,
            refresh: None,
        };
        self.recorder.user_started();
        self.call(user, Flow::Signup, &self.contract.signup, &st, false, None)
            .await?;
        user.set_session_data(st);
        Ok(())
    }

    fn state(user: &GooseUser) -> UserState {
        user.get_session_data::<UserState>()
            .cloned()
            .unwrap_or_default()
    }

    /// The next intended send time: `Some(None)` in the closed model, `Some(Some(t))` when
    /// paced, `None` when this iteration must not send (dropped arrival, schedule over).
    async fn pace(&self) -> Option<Option<Instant>> {
        let Some(pacer) = &self.pacer else {
            return Some(None);
        };
        match pacer.next().await {
            Pace::Go { intended } => Some(Some(intended)),
            Pace::Dropped => None,
            Pace::Done => {
                // Nothing left to send: idle until Goose stops the user.
                tokio::time::sleep(Duration::from_millis(200)).await;
                None
            }
        }
    }

    /// The on-start login; it also tells the pacer this user is ready.
    async fn login(&self, user: &mut GooseUser) -> TransactionResult {
        let result = self.login_at(user, None).await;
        if let Some(p) = &self.pacer {
            p.user_ready();
        }
        result
    }

    async fn loop_login(&self, user: &mut GooseUser) -> TransactionResult {
        match self.pace().await {
            Some(at) => self.login_at(user, at).await,
            None => Ok(()),
        }
    }

    async fn login_at(&self, user: &mut GooseUser, at: Option<Instant>) -> TransactionResult {
        let mut st = Self::state(user);
        let reply = self
            .call(user, Flow::Login, &self.contract.login, &st, true, at)
            .await?;
        self.take_tokens(&mut st, &reply, &self.contract.login);
        user.set_session_data(st);
        Ok(())
    }

    fn take_tokens(&self, st: &mut UserState, reply: &Reply, ep: &Endpoint) {
        if !reply.ok {
            st.token = None;
            return;
        }
        let body = reply.body.as_ref();
        st.token = ep
            .token
            .as_ref()
            .and_then(|p| body.and_then(|b| extract(b, p)));
        if let Some(p) = &ep.refresh_token {
            st.refresh = body.and_then(|b| extract(b, p));
        }
    }

    async fn validate(&self, user: &mut GooseUser) -> TransactionResult {
        let Some(at) = self.pace().await else {
            return Ok(());
        };
        let mut st = Self::state(user);
        if st.token.is_none() {
            return self.login_at(user, at).await;
        }
        let reply = self
            .call(
                user,
                Flow::Validate,
                &self.contract.validate,
                &st,
                false,
                at,
            )
            .await?;
        if reply.status == Some(401) {
            st.token = None;
            user.set_session_data(st);
        }
        Ok(())
    }

    async fn refresh(&self, user: &mut GooseUser) -> TransactionResult {
        let (Some(ep), mut st) = (&self.contract.refresh, Self::state(user)) else {
            return Ok(());
        };
        let Some(at) = self.pace().await else {
            return Ok(());
        };
        if st.refresh.is_none() {
            return self.login_at(user, at).await;
        }
        let reply = self.call(user, Flow::Refresh, ep, &st, true, at).await?;
        self.take_tokens(&mut st, &reply, ep);
        if !reply.ok {
            st.refresh = None;
        }
        user.set_session_data(st);
        Ok(())
    }

    async fn logout(&self, user: &mut GooseUser) -> TransactionResult {
        let (Some(ep), mut st) = (&self.contract.logout, Self::state(user)) else {
            return Ok(());
        };
        let Some(at) = self.pace().await else {
            return Ok(());
        };
        if st.token.is_none() {
            return self.login_at(user, at).await;
        }
        let reply = self.call(user, Flow::Logout, ep, &st, false, at).await?;
        if reply.ok {
            // Reuse the token just revoked: it must be rejected at once.
            let mut reuse = self.contract.validate.clone();
            reuse.success = vec![401, 403];
            reuse.send_token = Some(true);
            self.call(user, Flow::Reuse, &reuse, &st, false, None)
                .await?;
        }
        st.token = None;
        st.refresh = None;
        user.set_session_data(st);
        Ok(())
    }
}

macro_rules! tx {
    ($ctx:expr, $method:ident) => {{
        let ctx = $ctx.clone();
        Transaction::new(Arc::new(move |user| {
            let ctx = ctx.clone();
            Box::pin(async move { ctx.$method(user).await })
        }))
        .set_name(stringify!($method))
    }};
}

/// Flows a run with this contract and these weights produces.
pub fn active_flows(contract: &Contract, w: &Weights) -> Vec<Flow> {
    let mut v = vec![Flow::Signup, Flow::Login, Flow::Validate];
    if contract.refresh.is_some() && w.refresh > 0 {
        v.push(Flow::Refresh);
    }
    if contract.logout.is_some() && w.logout > 0 {
        v.push(Flow::Logout);
        v.push(Flow::Reuse);
    }
    v
}

/// The Goose scenario: signup and login once per user, then the weighted loop.
pub fn scenario(ctx: Arc<FlowContext>, w: &Weights) -> Result<Scenario, goose::GooseError> {
    let stop = {
        let ctx = ctx.clone();
        Transaction::new(Arc::new(move |_user| {
            let ctx = ctx.clone();
            Box::pin(async move {
                ctx.recorder.user_stopped();
                Ok(())
            })
        }))
        .set_name("stop")
        .set_on_stop()
    };
    let mut s = Scenario::new("auth")
        .register_transaction(tx!(ctx, signup).set_on_start().set_sequence(1))
        .register_transaction(tx!(ctx, login).set_on_start().set_sequence(2))
        .register_transaction(stop);
    let looped = [
        (w.validate, tx!(ctx, validate)),
        (w.login, tx!(ctx, loop_login)),
        (
            if ctx.contract.refresh.is_some() {
                w.refresh
            } else {
                0
            },
            tx!(ctx, refresh),
        ),
        (
            if ctx.contract.logout.is_some() {
                w.logout
            } else {
                0
            },
            tx!(ctx, logout),
        ),
    ];
    for (weight, t) in looped {
        if weight > 0 {
            s = s.register_transaction(t.set_weight(weight as usize)?);
        }
    }
    Ok(s)
}

/// A per-run password that satisfies common strength rules (letters, digits, a symbol).
pub fn generate_password() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    format!(
        "Lt-{}-9z",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 20)
    )
}

/// The run's time budget check: Goose should end by itself; this is the bound if it does not.
pub fn watchdog_limit(planned: Duration) -> Duration {
    planned + Duration::from_secs(30) + planned / 10
}
