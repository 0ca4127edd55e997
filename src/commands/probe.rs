//! `loadtest probe`: one fresh user walks every flow of the contract once — signup, login,
//! validate, refresh, logout, reuse after logout — and each step is printed (method, path,
//! status, latency, names captured) with a diagnosis when it is not what the contract says.
//! Exit 0 all as the contract says, 1 otherwise, 2 bad contract, 3 unreachable.

use std::time::{Duration, Instant};

use crate::attack::steps::{self, Session};
use crate::attack::{self, flows::generate_password};
use crate::cli::ProbeArgs;
use crate::contract::{Contract, Endpoint, Source, REFRESH_SLOT};
use crate::error::Failure;
use crate::reference_api::{start, TargetConfig};
use crate::text::sanitize;

/// Largest body read per step.
const BODY_LIMIT: usize = 1 << 20;

/// What one step came to.
struct StepResult {
    ok: bool,
    status: u16,
}

struct Probe<'a> {
    contract: &'a Contract,
    client: reqwest::Client,
    base: url::Url,
    host: String,
    password: String,
    run: String,
    problems: usize,
}

/// Terminal-safe, secret-free text.
fn clean(text: &str, max: usize) -> String {
    sanitize(&crate::secrets::scrub(text), max)
}

impl Probe<'_> {
    /// Sends one step for `flow` and prints it; `Err` only when the target cannot be reached.
    async fn step(
        &mut self,
        flow: &str,
        label: &str,
        ep: &Endpoint,
        st: &mut Session,
    ) -> Result<StepResult, Failure> {
        let values = st.values(&self.password, &self.run);
        let built = steps::build(self.contract, ep, flow, st, &values, &|_| true);
        let url = self.base.join(&built.path).map_err(|e| {
            Failure::bad_input(format!("{}.path: cannot be joined to --host ({e})", ep.key))
        })?;
        let mut rb = self
            .client
            .request(steps::reqwest_method(ep.method), url)
            .headers(built.headers);
        if let Some(b) = built.body {
            rb = rb.body(b);
        }
        let started = Instant::now();
        let sent = rb.send().await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Err(Failure::unjudgeable(format!(
                    "target {} is unreachable: {}",
                    self.base,
                    clean(&e.to_string(), 200)
                )))
            }
            Err(e) => {
                println!(
                    "  ✗ {label:<13} {:<6} {:<32} {}",
                    ep.method.as_str(),
                    clean(&built.path, 32),
                    steps::error_class(&e)
                );
                println!("      {}", clean(&e.to_string(), 200));
                self.problems += 1;
                return Ok(StepResult {
                    ok: false,
                    status: 0,
                });
            }
        };
        let status = resp.status().as_u16();
        let body = steps::read_capped(&mut resp, BODY_LIMIT)
            .await
            .unwrap_or_default();
        let latency = started.elapsed();
        let j = steps::judge(
            self.contract,
            ep,
            flow,
            status,
            resp.headers(),
            &body,
            st,
            &self.host,
            &built.path,
            built.sent_auth,
        );
        let captured = if j.captured.is_empty() {
            String::new()
        } else {
            format!("  captured: {}", j.captured.join(", "))
        };
        println!(
            "  {} {label:<13} {:<6} {:<32} {status}  {:>8.1} ms{captured}",
            if j.ok { "✓" } else { "✗" },
            ep.method.as_str(),
            clean(&built.path, 32),
            latency.as_secs_f64() * 1000.0,
        );
        if !j.ok {
            self.problems += 1;
            match (&j.diagnosis, &j.class) {
                (Some(d), _) => println!("      {}", clean(d, 300)),
                (None, Some(class)) => println!(
                    "      failed as {class}; status {status} is not in {}.success {:?}",
                    ep.key, ep.success
                ),
                _ => {}
            }
            if j.show_body && !body.is_empty() {
                let sample =
                    crate::secrets::global().scrub_body(&body, &ep.json_capture_pointers());
                println!("      body: {}", sanitize(&sample, 200));
            }
        }
        if j.set_cookie && !self.contract.cookies {
            let names: Vec<String> = crate::attack::cookies::from_headers(
                resp.headers(),
                &self.host,
                std::time::SystemTime::now(),
            )
            .map(|c| clean(&c.name, 40))
            .collect();
            println!(
                "      note: a Set-Cookie arrived ({}) but the contract sends no cookie (set cookies = true if the API keeps its session in a cookie)",
                names.join(", ")
            );
        }
        Ok(StepResult { ok: j.ok, status })
    }

    /// A flow: pre-steps (`prepare`), then its step; stops at the first failing step.
    async fn flow(
        &mut self,
        flow: &str,
        ep: &Endpoint,
        st: &mut Session,
    ) -> Result<StepResult, Failure> {
        for (i, pre) in ep.pre.iter().enumerate() {
            let r = self
                .step("prepare", &format!("{flow}.pre[{i}]"), pre, st)
                .await?;
            if !r.ok {
                return Ok(r);
            }
        }
        self.step(flow, flow, ep, st).await
    }
}

pub async fn run(args: &ProbeArgs) -> Result<u8, Failure> {
    let contract = Contract::load(args.contract.as_deref())?;
    let (host, target) = match &args.host {
        Some(h) => {
            attack::preflight(h).await?;
            (h.trim_end_matches('/').to_string(), None)
        }
        None => {
            let t = start(TargetConfig::default()).await?;
            eprintln!("embedded reference API at {}", t.url);
            (t.url.clone(), Some(t))
        }
    };
    let result = probe(&contract, &host, args.timeout).await;
    if let Some(t) = target {
        t.shutdown().await;
    }
    result
}

async fn probe(contract: &Contract, host: &str, timeout: Duration) -> Result<u8, Failure> {
    let base = url::Url::parse(host)
        .map_err(|e| Failure::bad_input(format!("--host '{host}': not a URL ({e})")))?;
    let password = generate_password();
    crate::secrets::register(&password);
    let run = format!("probe{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut p = Probe {
        contract,
        client: attack::http_client(timeout)?,
        host: base.host_str().unwrap_or_default().to_string(),
        base: base.clone(),
        password,
        run: run.clone(),
        problems: 0,
    };
    let mut st = Session::new(
        contract,
        &run,
        "0".to_string(),
        base.origin().ascii_serialization(),
    );
    println!(
        "probe: contract '{}' (v{}) against {}",
        clean(&contract.name, 60),
        contract.version,
        clean(host, 100)
    );
    let walked = walk(&mut p, &mut st).await;
    let problems = p.problems;
    walked?;
    if problems == 0 {
        println!("probe: every step behaved as the contract says");
        Ok(0)
    } else {
        println!("probe: {problems} step(s) not as the contract says");
        Ok(1)
    }
}

/// signup → login → validate → refresh → validate → logout → reuse; a failing signup or login
/// ends the walk (nothing after them can work).
async fn walk(p: &mut Probe<'_>, st: &mut Session) -> Result<(), Failure> {
    let c = p.contract;
    if !p.flow("signup", &c.signup, st).await?.ok {
        return Ok(());
    }
    if !p.flow("login", &c.login, st).await?.ok {
        return Ok(());
    }
    st.logged_in = true;
    p.flow("validate", &c.validate, st).await?;
    if let Some(r) = &c.refresh {
        let had = st.captures.get(REFRESH_SLOT).cloned().flatten();
        let res = p.flow("refresh", r, st).await?;
        if res.ok {
            let pointer = r.captures.iter().find_map(|c| match (&c.source, c.slot) {
                (Source::Json(ptr), REFRESH_SLOT) => Some(ptr.clone()),
                _ => None,
            });
            if let Some(ptr) = pointer {
                if !st.has_refresh() {
                    p.problems += 1;
                    println!(
                        "      refresh returned no new refresh token at {ptr} (the users would quietly fall back to logging in)"
                    );
                } else if had.is_some() && had == st.captures[REFRESH_SLOT] {
                    println!("      note: refresh returned the same refresh token (not rotated)");
                }
            }
            p.flow("validate", &c.validate, st).await?;
        }
    }
    if let Some(l) = &c.logout {
        let before = st.clone();
        if p.flow("logout", l, st).await?.ok {
            let mut reuse = c.validate.clone();
            reuse.success = vec![401, 403];
            reuse.send_token = Some(true).filter(|_| c.auth.is_some());
            reuse.captures.clear();
            reuse.expect.clear();
            reuse.pre.clear();
            let mut old = before;
            let r = p
                .step("logout-reuse", "logout-reuse", &reuse, &mut old)
                .await?;
            if !r.ok && c.validate.success.contains(&r.status) {
                println!("      security finding: the credentials still work after logout");
            }
        }
    }
    Ok(())
}
