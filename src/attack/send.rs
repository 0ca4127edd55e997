//! Sends one contract step through Goose: builds it ([`steps::build`]), times it into our HDR
//! recorder, judges it ([`steps::judge`]) and tells Goose the same verdict, so both sets of
//! counts agree.

use std::time::Instant;

use goose::goose::{GooseMethod, GooseRequest, GooseUser, TransactionError};
use reqwest::header::HeaderName;

use super::flows::{FlowContext, BODY_LIMIT, SECURITY_FINDING};
use super::recorder::{Flow, Outcome};
use super::steps::{self, Session};
use crate::contract::{Endpoint, Method};

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

    /// Sends one step, times it, records it, and aligns Goose's verdict.
    async fn step(
        &self,
        user: &mut GooseUser,
        flow: Flow,
        ep: &Endpoint,
        st: &mut Session,
        intended: Option<Instant>,
    ) -> Result<Reply, Box<TransactionError>> {
        let values = st.values(&self.password, &self.run_id);
        let built = steps::build(&self.contract, ep, flow.name(), st, &values, &|n| {
            self.is_redacted(n)
        });
        let method = goose_method(ep.method);
        // A literal path's URL was joined once for the run; others are joined here (once,
        // where Goose's own builder would parse the URL three times).
        let url = match ep.path.literal().and_then(|p| self.literal_urls.get(p)) {
            Some(url) => url.clone(),
            None => user
                .base_url
                .join(&built.path)
                .map_err(|e| Box::new(TransactionError::from(e)))?,
        };
        let mut rb = user
            .client
            .request(steps::reqwest_method(ep.method), url)
            .headers(built.headers);
        if let Some(b) = built.body {
            rb = rb.body(b);
        }
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
        // A first SIGINT/SIGTERM cancels what is in flight: such a request is counted as
        // interrupted, never as a target error (the target did nothing wrong).
        let interrupted = || {
            self.recorder.record_interrupted();
            Ok(Reply {
                ok: false,
                status: None,
            })
        };
        let mut goose = tokio::select! {
            sent = user.request(request) => sent?,
            _ = crate::interrupt::cancelled() => return interrupted(),
        };
        let (status, latency, outcome) = match &mut goose.response {
            Ok(resp) => {
                let status = resp.status().as_u16();
                self.recorder.headers.observe(flow.name(), resp.headers());
                let read = tokio::select! {
                    read = steps::read_capped(resp, BODY_LIMIT) => read,
                    _ = crate::interrupt::cancelled() => return interrupted(),
                };
                match read {
                    Ok(bytes) => {
                        let latency = started.elapsed();
                        let host = user.base_url.host_str().unwrap_or_default();
                        let j = steps::judge(
                            &self.contract,
                            ep,
                            flow.name(),
                            status,
                            resp.headers(),
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
                                let accepted_revoked = flow == Flow::Reuse
                                    && self.contract.validate.success.contains(&status);
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
                    Err(e) => (
                        Some(status),
                        started.elapsed(),
                        Outcome::Failed {
                            class: steps::error_class(&e).to_string(),
                            detail: format!(
                                "reading the body failed: {}",
                                crate::secrets::scrub(&e.to_string())
                            ),
                        },
                    ),
                }
            }
            Err(e) => (
                None,
                started.elapsed(),
                Outcome::Failed {
                    class: steps::error_class(e).to_string(),
                    detail: crate::secrets::scrub(&e.to_string()),
                },
            ),
        };
        let ok = outcome == Outcome::Ok;
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
        Ok(Reply { ok, status })
    }
}
