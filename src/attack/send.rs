//! Sends one contract step: builds it ([`steps::build`]), sends it on the run's transport (the
//! user's own [`http1`] connection, or Goose's request path), times it into our HDR recorder
//! and judges it ([`steps::judge`]). On Goose's transport, Goose is told the same verdict, so
//! both sets of counts agree.

use std::time::Instant;

use goose::goose::{GooseMethod, GooseRequest, GooseUser, TransactionError};
use goose::metrics::GooseRequestMetric;
use reqwest::header::{HeaderMap, HeaderName};

use super::flows::{FlowContext, BODY_LIMIT, SECURITY_FINDING};
use super::http1;
use super::recorder::{Flow, Outcome};
use super::steps::{self, Session};
use crate::contract::{Endpoint, Method};

/// What a transport brought back: a response (its body, or why reading it failed: class and
/// detail), a transport failure, or nothing because the run was interrupted.
enum Got {
    Response {
        status: u16,
        headers: HeaderMap,
        body: Result<Vec<u8>, (&'static str, String)>,
    },
    Failed {
        class: &'static str,
        detail: String,
    },
    Interrupted,
}

/// A step's result as the flows need it.
pub struct Reply {
    pub ok: bool,
    pub status: Option<u16>,
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

impl FlowContext {
    /// Whether a header's value must never be kept: Authorization, the auth header, and every
    /// name given with `--redact`.
    pub(super) fn is_redacted(&self, name: &HeaderName) -> bool {
        name == reqwest::header::AUTHORIZATION
            || self
                .contract
                .auth
                .as_ref()
                .is_some_and(|a| a.header == name)
            || self
                .redact_headers
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name.as_str()))
    }

    /// A response body kept as an error sample: scrubbed whole (values at the step's JSON
    /// capture pointers and secret-looking JSON keys masked) before the recorder cuts it.
    fn body_sample(&self, ep: &Endpoint, bytes: &[u8]) -> String {
        crate::secrets::global().scrub_body(bytes, &ep.json_capture_pointers())
    }

    /// A flow: its pre-steps (each a `prepare` request), then its own step. A failing
    /// pre-step ends the flow unsent (a CSRF page that did not load cannot be posted to).
    pub(super) async fn call(
        &self,
        user: &mut GooseUser,
        flow: Flow,
        ep: &Endpoint,
        st: &mut Session,
        mut intended: Option<Instant>,
    ) -> Result<Reply, Box<TransactionError>> {
        for pre in &ep.pre {
            let r = self
                .step(user, Flow::Prepare, pre, st, intended.take())
                .await?;
            if !r.ok {
                return Ok(r);
            }
        }
        self.step(user, flow, ep, st, intended).await
    }

    /// Sends one step, times it, records it, and (on Goose's transport) aligns Goose's verdict.
    async fn step(
        &self,
        user: &mut GooseUser,
        flow: Flow,
        ep: &Endpoint,
        st: &mut Session,
        intended: Option<Instant>,
    ) -> Result<Reply, Box<TransactionError>> {
        let values = st.values(&self.password, &self.run_id);
        let mut built = steps::build(&self.contract, ep, flow.name(), st, &values, &|n| {
            self.is_redacted(n)
        });
        // A literal path's URL was joined once for the run; others are joined here (once,
        // where Goose's own builder would parse the URL three times).
        let url = match ep.path.literal().and_then(|p| self.literal_urls.get(p)) {
            Some(url) => std::borrow::Cow::Borrowed(url),
            None => std::borrow::Cow::Owned(
                user.base_url
                    .join(&built.path)
                    .map_err(|e| Box::new(TransactionError::from(e)))?,
            ),
        };
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
        let (got, mut goose) = match &self.origin {
            Some(origin) => (self.send_lean(origin, ep, &url, &built, st).await, None),
            None => {
                self.send_goose(user, flow, ep, url.into_owned(), &mut built)
                    .await?
            }
        };
        if let Got::Response { headers, .. } = &got {
            self.recorder.headers.observe(flow.name(), headers);
        }
        let (status, latency, outcome) = match got {
            // A first SIGINT/SIGTERM cancels what is in flight: such a request is counted as
            // interrupted, never as a target error (the target did nothing wrong).
            Got::Interrupted => {
                self.recorder.record_interrupted();
                return Ok(Reply {
                    ok: false,
                    status: None,
                });
            }
            Got::Response {
                status,
                headers,
                body: Ok(bytes),
            } => {
                let latency = started.elapsed();
                let host = user.base_url.host_str().unwrap_or_default();
                let j = steps::judge(
                    &self.contract,
                    ep,
                    flow.name(),
                    status,
                    &headers,
                    &bytes,
                    st,
                    host,
                    &built.path,
                    built.sent_auth,
                );
                let outcome = match j.class {
                    None => Outcome::Ok,
                    Some(class) => {
                        // A revoked token the API still accepts is a security finding.
                        let accepted_revoked =
                            flow == Flow::Reuse && self.contract.validate.success.contains(&status);
                        let detail = if self.recorder.wants_sample(flow) {
                            // The diagnosis first: it survives the sample's cut.
                            let diagnosis = j.diagnosis.map(|d| crate::secrets::scrub(&d));
                            match (diagnosis, j.show_body) {
                                (Some(d), true) => {
                                    format!("{d}; body: {}", self.body_sample(ep, &bytes))
                                }
                                (Some(d), false) => d,
                                (None, _) => self.body_sample(ep, &bytes),
                            }
                        } else {
                            String::new()
                        };
                        Outcome::Failed {
                            class: if accepted_revoked {
                                SECURITY_FINDING.to_string()
                            } else {
                                class
                            },
                            detail,
                        }
                    }
                };
                (Some(status), latency, outcome)
            }
            Got::Response {
                status,
                body: Err((class, detail)),
                ..
            } => (
                Some(status),
                started.elapsed(),
                Outcome::Failed {
                    class: class.to_string(),
                    detail: format!("reading the body failed: {detail}"),
                },
            ),
            Got::Failed { class, detail } => (
                None,
                started.elapsed(),
                Outcome::Failed {
                    class: class.to_string(),
                    detail,
                },
            ),
        };
        let ok = outcome == Outcome::Ok;
        let class = match &outcome {
            Outcome::Ok => None,
            Outcome::Failed { class, .. } => Some(class.clone()),
        };
        self.recorder.record(flow, latency, outcome);
        if let Some(goose) = &mut goose {
            if ok && !goose.success {
                let _ = user.set_success(goose);
            } else if let (false, true, Some(class)) = (ok, goose.success, class) {
                // Returns Err(RequestFailed) by design; the verdict is what matters here.
                let _ = user.set_failure(&format!("{}: {class}", flow.name()), goose, None, None);
            }
        }
        Ok(Reply { ok, status })
    }

    /// The lean transport: the session's own connection, within the request timeout.
    async fn send_lean(
        &self,
        origin: &http1::Origin,
        ep: &Endpoint,
        url: &url::Url,
        built: &steps::Built,
        st: &mut Session,
    ) -> Got {
        // A path that resolved to another origin is never sent (credentials stay home).
        if !origin.holds(url) {
            return Got::Failed {
                class: "other",
                detail: "the step's URL is not on the target's origin; not sent".to_string(),
            };
        }
        let method = steps::reqwest_method(ep.method);
        let req = http1::Request {
            method: method.as_str(),
            target: &url[url::Position::BeforePath..url::Position::AfterQuery],
            headers: &built.headers,
            body: built.body.as_deref(),
        };
        let sent = tokio::select! {
            sent = tokio::time::timeout(self.request_timeout, st.conn.send(origin, &req, BODY_LIMIT)) => sent,
            _ = crate::interrupt::cancelled() => return Got::Interrupted,
        };
        match sent {
            Ok(Ok(r)) => Got::Response {
                status: r.status,
                headers: r.headers,
                body: Ok(r.body),
            },
            Ok(Err(e)) => Got::Failed {
                class: e.class(),
                detail: e.to_string(),
            },
            Err(_) => Got::Failed {
                class: "timeout",
                detail: format!(
                    "no complete response within {}",
                    crate::units::format_duration(self.request_timeout)
                ),
            },
        }
    }

    /// Goose's transport: Goose sends through the shared reqwest pool and counts the request.
    async fn send_goose(
        &self,
        user: &mut GooseUser,
        flow: Flow,
        ep: &Endpoint,
        url: url::Url,
        built: &mut steps::Built,
    ) -> Result<(Got, Option<GooseRequestMetric>), Box<TransactionError>> {
        // The request's headers and body move into the request (judging needs neither).
        let mut rb = user
            .client
            .request(steps::reqwest_method(ep.method), url)
            .headers(std::mem::take(&mut built.headers));
        if let Some(b) = built.body.take() {
            rb = rb.body(b);
        }
        let request = GooseRequest::builder()
            .method(goose_method(ep.method))
            .name(flow.name())
            .set_request_builder(rb)
            .build();
        let goose::goose::GooseResponse { request, response } = tokio::select! {
            sent = user.request(request) => sent?,
            _ = crate::interrupt::cancelled() => return Ok((Got::Interrupted, None)),
        };
        let got = match response {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let read = tokio::select! {
                    read = steps::read_capped(&mut resp, BODY_LIMIT) => read,
                    _ = crate::interrupt::cancelled() => return Ok((Got::Interrupted, None)),
                };
                Got::Response {
                    status,
                    headers: std::mem::take(resp.headers_mut()),
                    body: read.map_err(|e| {
                        (
                            steps::error_class(&e),
                            crate::secrets::scrub(&e.to_string()),
                        )
                    }),
                }
            }
            Err(e) => Got::Failed {
                class: steps::error_class(&e),
                detail: crate::secrets::scrub(&e.to_string()),
            },
        };
        Ok((got, Some(request)))
    }
}
