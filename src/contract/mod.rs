//! The target API contract: how to talk to *this* auth API — the steps of each flow (paths,
//! typed bodies, headers), what each step captures from its response (tokens, CSRF values,
//! ids, cookies), what counts as success, and how the token goes back. Version 2 of the
//! format; a v1 file is its shorthand and loads unchanged (docs/CONTRACTS.md).

mod body;
mod capture;
pub mod checks;
mod file;
mod template;

use std::path::Path;

use reqwest::header::HeaderName;

pub use body::{render_json, Body, JsonTemplate};
pub use capture::{extract, json_text, keys_hint, regex_capture, Capture, Expect, Source};
pub use file::{BodyFormat, Method};
pub use template::{Encoding, Template, Values, Var, BUILTINS, REFRESH_SLOT, TOKEN_SLOT};

use crate::error::Failure;
use file::{CaptureFile, ContractFile, EndpointFile};

/// The contract of the built-in reference API (`scenarios/contracts/reference.toml`).
pub const REFERENCE_CONTRACT_TOML: &str = include_str!("../../scenarios/contracts/reference.toml");

/// The newest contract format version.
pub const VERSION: i64 = 2;

/// Largest compiled size of a capture regex (a hostile or careless pattern cannot take the
/// memory of a run).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Identity templates: each virtual user's unique email and username.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub email: Template,
    pub username: Template,
}

/// How the token goes back to the API (validate, logout, and steps with `send_token`).
#[derive(Debug, Clone, PartialEq)]
pub struct Auth {
    pub header: HeaderName,
    pub value: Template,
}

/// One HTTP step: a flow's endpoint or one of its pre-steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Where it is in the file: `login`, `login.pre[0]`.
    pub key: String,
    pub method: Method,
    pub path: Template,
    pub body: Body,
    /// Statuses that count as success.
    pub success: Vec<u16>,
    /// Send the auth header (default: on for validate and logout, off otherwise).
    pub send_token: Option<bool>,
    pub headers: Vec<(HeaderName, Template)>,
    pub captures: Vec<Capture>,
    pub expect: Vec<Expect>,
    /// Steps sent first, in order (e.g. `GET /login/` for a CSRF token); never nested.
    pub pre: Vec<Endpoint>,
}

/// A whole contract.
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    pub version: i64,
    pub name: String,
    pub description: String,
    pub identity: Identity,
    pub auth: Option<Auth>,
    /// Headers sent on every request.
    pub headers: Vec<(HeaderName, Template)>,
    /// Keep a cookie jar per virtual user.
    pub cookies: bool,
    pub signup: Endpoint,
    pub login: Endpoint,
    pub validate: Endpoint,
    pub refresh: Option<Endpoint>,
    pub logout: Option<Endpoint>,
    /// Capture names by slot (`token`, `refresh_token`, then the contract's own).
    pub capture_names: Vec<String>,
}

fn known_list(names: &[String]) -> String {
    BUILTINS
        .iter()
        .copied()
        .chain(names.iter().map(String::as_str))
        .map(|v| format!("{{{v}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Name resolution while compiling one file.
struct Names {
    captures: Vec<String>,
}

impl Names {
    fn resolve(&self, name: &str) -> Option<Var> {
        Some(match name {
            "email" => Var::Email,
            "username" => Var::Username,
            "password" => Var::Password,
            "run" => Var::Run,
            "user" => Var::User,
            "origin" => Var::Origin,
            _ => Var::Capture(self.captures.iter().position(|c| c == name)?),
        })
    }

    fn template(&self, at: &str, text: &str) -> Result<Template, String> {
        Template::parse(text, &|n| self.resolve(n))
            .map_err(|e| format!("{at}: {e} (known: {})", known_list(&self.captures)))
    }

    fn slot(&mut self, name: &str) -> usize {
        match self.captures.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                self.captures.push(name.to_string());
                self.captures.len() - 1
            }
        }
    }
}

/// Every capture name an endpoint (and its pre-steps) declares.
fn declared(ep: &EndpointFile, out: &mut Vec<String>) {
    for p in &ep.pre {
        declared(p, out);
    }
    if ep.token.is_some() {
        out.push("token".into());
    }
    if ep.refresh_token.is_some() {
        out.push("refresh_token".into());
    }
    out.extend(ep.capture.keys().cloned());
}

fn json_pointer(at: &str, p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "{at} '{p}' is not a JSON pointer (it must start with '/', e.g. /access_token)"
        ))
    }
}

fn headers(
    names: &Names,
    at: &str,
    map: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, Template)>, String> {
    map.iter()
        .map(|(k, v)| {
            let name = checks::header_name(k).map_err(|e| format!("{at}: {e}"))?;
            checks::header_value(v).map_err(|e| format!("{at}.{k}: {e}"))?;
            Ok((name, names.template(&format!("{at}.{k}"), v)?))
        })
        .collect()
}

fn capture(names: &mut Names, at: &str, name: &str, c: &CaptureFile) -> Result<Capture, String> {
    let at = format!("{at}.capture.{name}");
    if !is_identifier(name) || BUILTINS.contains(&name) {
        return Err(format!(
            "{at}: a capture name must be a word ([A-Za-z_][A-Za-z0-9_]*) other than {}",
            BUILTINS.join(", ")
        ));
    }
    let given = [&c.json, &c.header, &c.cookie, &c.regex]
        .iter()
        .filter(|s| s.is_some())
        .count();
    if given != 1 {
        return Err(format!(
            "{at}: give exactly one of json, header, cookie, regex"
        ));
    }
    let source = if let Some(p) = &c.json {
        json_pointer(&format!("{at}.json"), p)?;
        Source::Json(p.clone())
    } else if let Some(h) = &c.header {
        Source::Header(
            HeaderName::from_bytes(h.as_bytes())
                .map_err(|_| format!("{at}.header: '{h}' is not a valid header name"))?,
        )
    } else if let Some(k) = &c.cookie {
        if k.is_empty() || k.contains(|ch: char| ch.is_control() || ";=, \"".contains(ch)) {
            return Err(format!(
                "{at}.cookie: '{}' is not a cookie name",
                k.escape_debug()
            ));
        }
        Source::Cookie(k.clone())
    } else {
        let pattern = c.regex.as_deref().unwrap_or_default();
        Source::Regex(
            regex::RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    let first = e.to_string();
                    let last = first.lines().last().unwrap_or("invalid").trim().to_string();
                    format!("{at}.regex: {last}")
                })?,
        )
    };
    Ok(Capture {
        name: name.to_string(),
        slot: names.slot(name),
        source,
        optional: c.optional,
    })
}

fn endpoint(
    names: &mut Names,
    at: &str,
    f: &EndpointFile,
    nested: bool,
) -> Result<Endpoint, String> {
    checks::path(&f.path).map_err(|e| format!("{at}.path {e}"))?;
    let path = names.template(&format!("{at}.path"), &f.path)?;
    if f.success.is_empty() {
        return Err(format!("{at}.success must list at least one status"));
    }
    if let Some(bad) = f.success.iter().find(|s| !(100..=599).contains(*s)) {
        return Err(format!("{at}.success: {bad} is not an HTTP status"));
    }
    let body = Body::compile(&format!("{at}.fields"), f.body, &f.fields, &|n| {
        names.resolve(n)
    })
    .map_err(|e| {
        if e.contains("unknown placeholder") {
            format!("{e} (known: {})", known_list(&names.captures))
        } else {
            e
        }
    })?;
    let hdrs = headers(names, &format!("{at}.headers"), &f.headers)?;
    let mut captures = Vec::new();
    for (what, ptr) in [("token", &f.token), ("refresh_token", &f.refresh_token)] {
        if let Some(p) = ptr {
            json_pointer(&format!("{at}.{what}"), p)?;
            if f.capture.contains_key(what) {
                return Err(format!(
                    "{at}: both {what} and capture.{what} are given (keep one)"
                ));
            }
            captures.push(Capture {
                name: what.to_string(),
                slot: names.slot(what),
                source: Source::Json(p.clone()),
                optional: what == "refresh_token",
            });
        }
    }
    for (name, c) in &f.capture {
        captures.push(capture(names, at, name, c)?);
    }
    let expect = f
        .expect
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json_pointer(&format!("{at}.expect[{i}].pointer"), &e.pointer)?;
            let equals = match &e.equals {
                None => None,
                Some(v) => Some(
                    serde_json::to_value(v)
                        .map_err(|err| format!("{at}.expect[{i}].equals: {err}"))?,
                ),
            };
            Ok(Expect {
                pointer: e.pointer.clone(),
                equals,
            })
        })
        .collect::<Result<_, String>>()?;
    if nested && !f.pre.is_empty() {
        return Err(format!("{at}.pre: a pre-step cannot have pre-steps"));
    }
    let pre = f
        .pre
        .iter()
        .enumerate()
        .map(|(i, p)| endpoint(names, &format!("{at}.pre[{i}]"), p, true))
        .collect::<Result<_, String>>()?;
    Ok(Endpoint {
        key: at.to_string(),
        method: f.method,
        path,
        body,
        success: f.success.clone(),
        send_token: f.send_token,
        headers: hdrs,
        captures,
        expect,
        pre,
    })
}

impl Endpoint {
    /// Whether this endpoint carries the auth header.
    pub fn sends_token(&self, flow: &str) -> bool {
        self.send_token
            .unwrap_or(matches!(flow, "validate" | "logout"))
    }

    /// Whether this step captures into `slot`.
    pub fn captures_slot(&self, slot: usize) -> bool {
        self.captures.iter().any(|c| c.slot == slot)
    }

    /// Every template of this step (not its pre-steps).
    pub fn templates(&self) -> Vec<&Template> {
        let mut v = vec![&self.path];
        v.extend(self.headers.iter().map(|(_, t)| t));
        v.extend(self.body.templates());
        v
    }

    /// JSON pointers this step captures from: the values whose text is secret in a body kept
    /// as a sample (see `secrets::scrub_body`).
    pub fn json_capture_pointers(&self) -> Vec<&str> {
        self.captures
            .iter()
            .filter_map(|c| match &c.source {
                Source::Json(p) => Some(p.as_str()),
                _ => None,
            })
            .collect()
    }

    /// This step and its pre-steps, pre-steps first.
    pub fn steps(&self) -> impl Iterator<Item = &Endpoint> {
        self.pre.iter().chain(std::iter::once(self))
    }
}

impl Contract {
    /// The built-in reference contract.
    pub fn reference() -> Contract {
        // Tested at build time; a failure here is a defect in the shipped file.
        Contract::from_toml(REFERENCE_CONTRACT_TOML, "built-in reference.toml")
            .expect("built-in reference contract is valid")
    }

    /// Loads `--contract FILE`, or the reference contract.
    pub fn load(path: Option<&Path>) -> Result<Contract, Failure> {
        match path {
            None => Ok(Contract::reference()),
            Some(p) => {
                let text =
                    crate::input::read_text(p, crate::input::MAX_INPUT_BYTES).map_err(|e| {
                        Failure::bad_input(format!("{}: cannot read contract: {e}", p.display()))
                    })?;
                Contract::from_toml(&text, &p.display().to_string())
            }
        }
    }

    /// Parses and validates a contract; errors name the source and the field.
    pub fn from_toml(text: &str, source: &str) -> Result<Contract, Failure> {
        let f: ContractFile = toml::from_str(text).map_err(|e| {
            let msg = e.to_string();
            let first = msg.lines().last().unwrap_or("invalid TOML").trim();
            let line = e
                .span()
                .map(|s| format!(" (line {})", text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            Failure::bad_input(format!("{source}: {first}{line}"))
        })?;
        Contract::compile(&f)
            .map_err(|e| Failure::bad_input(format!("{source}: {}", e.replace(['\r', '\n'], " "))))
    }

    fn compile(f: &ContractFile) -> Result<Contract, String> {
        let version = f.version.unwrap_or(1);
        if !(1..=VERSION).contains(&version) {
            return Err(format!(
                "version = {version} is not supported (this loadtest reads 1 and {VERSION})"
            ));
        }
        let mut all = vec!["token".to_string(), "refresh_token".to_string()];
        let flows: Vec<(&str, &EndpointFile)> = [
            ("signup", Some(&f.signup)),
            ("login", Some(&f.login)),
            ("validate", Some(&f.validate)),
            ("refresh", f.refresh.as_ref()),
            ("logout", f.logout.as_ref()),
        ]
        .into_iter()
        .filter_map(|(n, e)| e.map(|e| (n, e)))
        .collect();
        for (_, ep) in &flows {
            declared(ep, &mut all);
        }
        let mut names = Names {
            captures: Vec::new(),
        };
        for n in &all {
            names.slot(n);
        }
        let identity = Identity {
            email: names.template("identity.email", &f.identity.email)?,
            username: names.template("identity.username", &f.identity.username)?,
        };
        if !identity.email.uses(Var::User) || !identity.username.uses(Var::User) {
            return Err("identity.email and identity.username must contain {user} so every virtual user is unique".into());
        }
        if identity
            .email
            .vars()
            .chain(identity.username.vars())
            .any(|v| !matches!(v, Var::Run | Var::User))
        {
            return Err(
                "identity.email and identity.username may use only {run} and {user}".into(),
            );
        }
        let auth = match &f.auth {
            None => None,
            Some(a) => {
                let header =
                    checks::header_name(&a.header).map_err(|e| format!("auth.header: {e}"))?;
                checks::header_value(&a.value).map_err(|e| format!("auth.value: {e}"))?;
                let value = names.template("auth.value", &a.value)?;
                if !value.vars().any(|v| matches!(v, Var::Capture(_))) {
                    return Err(
                        "auth.value must contain {token} (or another captured value)".into(),
                    );
                }
                Some(Auth { header, value })
            }
        };
        if auth.is_none() && !f.cookies {
            return Err("[auth] is required unless cookies = true (a cookie session)".into());
        }
        let global = headers(&names, "headers", &f.headers)?;
        let mut compiled = Vec::new();
        for (flow, ep) in &flows {
            compiled.push(endpoint(&mut names, flow, ep, false)?);
        }
        let mut it = compiled.into_iter();
        let (signup, login, validate) =
            (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let refresh = f.refresh.as_ref().and_then(|_| it.next());
        let logout = f.logout.as_ref().and_then(|_| it.next());
        let c = Contract {
            version,
            name: f.name.clone(),
            description: f.description.clone(),
            identity,
            auth,
            headers: global,
            cookies: f.cookies,
            signup,
            login,
            validate,
            refresh,
            logout,
            capture_names: names.captures,
        };
        c.check_flow_rules()?;
        Ok(c)
    }

    /// Rules across steps: tokens captured where the flows need them, every capture a
    /// template uses captured somewhere, the auth header present where it is sent.
    fn check_flow_rules(&self) -> Result<(), String> {
        let auth_slots: Vec<usize> = self
            .auth
            .iter()
            .flat_map(|a| a.value.vars())
            .filter_map(|v| match v {
                Var::Capture(slot) => Some(slot),
                _ => None,
            })
            .collect();
        for &slot in &auth_slots {
            if !self.login.steps().any(|s| s.captures_slot(slot)) {
                return Err(if slot == TOKEN_SLOT {
                    "login.token must give the JSON pointer of the access token, e.g. \"/access_token\" (or capture token from a header or cookie)".into()
                } else {
                    format!(
                        "auth.value uses {{{0}}} but login does not capture {0}",
                        self.capture_names[slot]
                    )
                });
            }
        }
        if let Some(r) = &self.refresh {
            let needs_refresh = r.steps().any(|s| {
                s.templates()
                    .iter()
                    .any(|t| t.uses(Var::Capture(REFRESH_SLOT)))
            });
            if needs_refresh && !self.login.steps().any(|s| s.captures_slot(REFRESH_SLOT)) {
                return Err(
                    "refresh is configured but login.refresh_token (JSON pointer) is missing"
                        .into(),
                );
            }
            if auth_slots.contains(&TOKEN_SLOT) && !r.steps().any(|s| s.captures_slot(TOKEN_SLOT)) {
                return Err(
                    "refresh.token must give the JSON pointer of the new access token".into(),
                );
            }
        }
        let captured: Vec<usize> = self
            .endpoints()
            .iter()
            .flat_map(|(_, e)| e.steps().flat_map(|s| s.captures.iter().map(|c| c.slot)))
            .collect();
        let mut used: Vec<(String, &Template)> = Vec::new();
        if let Some(a) = &self.auth {
            used.push(("auth.value".into(), &a.value));
        }
        used.extend(
            self.headers
                .iter()
                .map(|(k, t)| (format!("headers.{k}"), t)),
        );
        for (_, ep) in self.endpoints() {
            for s in ep.steps() {
                used.extend(s.templates().into_iter().map(|t| (s.key.clone(), t)));
                if s.send_token == Some(true) && self.auth.is_none() {
                    return Err(format!(
                        "{}.send_token = true but there is no [auth]",
                        s.key
                    ));
                }
            }
        }
        for (at, t) in used {
            for v in t.vars() {
                if let Var::Capture(slot) = v {
                    if !captured.contains(&slot) {
                        let name = &self.capture_names[slot];
                        return Err(format!(
                            "{at}: '{{{name}}}' is never captured (add capture.{name} to a step)"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The optional and required endpoints, with their flow names.
    pub fn endpoints(&self) -> Vec<(&'static str, &Endpoint)> {
        let mut v = vec![
            ("signup", &self.signup),
            ("login", &self.login),
            ("validate", &self.validate),
        ];
        if let Some(r) = &self.refresh {
            v.push(("refresh", r));
        }
        if let Some(l) = &self.logout {
            v.push(("logout", l));
        }
        v
    }

    /// Whether any flow has pre-steps (a `prepare` flow appears in runs).
    pub fn has_pre_steps(&self) -> bool {
        self.endpoints().iter().any(|(_, e)| !e.pre.is_empty())
    }
}

#[cfg(test)]
mod tests;
