//! The target API contract: how to talk to *this* auth API — paths, bodies, field names,
//! where the token is in the response and how it is sent back. A contract file is all it
//! takes to point the harness at another auth API (docs/CONTRACTS.md).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::Failure;

/// The contract of the built-in reference API (`scenarios/contracts/reference.toml`).
pub const REFERENCE_CONTRACT_TOML: &str = include_str!("../scenarios/contracts/reference.toml");

/// Placeholders a template may use.
pub const VARIABLES: &[&str] = &[
    "email",
    "username",
    "password",
    "token",
    "refresh_token",
    "run",
    "user",
];

/// Request body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    #[default]
    None,
    Json,
    Form,
}

/// HTTP methods a contract may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// One endpoint of the contract.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub method: Method,
    pub path: String,
    #[serde(default)]
    pub body: BodyFormat,
    /// Body fields: name → template.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Statuses that count as success.
    pub success: Vec<u16>,
    /// JSON pointer of the access token in the response (login / refresh).
    pub token: Option<String>,
    /// JSON pointer of the refresh token in the response (login / refresh).
    pub refresh_token: Option<String>,
    /// Send the auth header (default: on for validate and logout, off otherwise).
    pub send_token: Option<bool>,
    /// Extra headers for this endpoint: name → template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// How the token goes back to the API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthHeader {
    pub header: String,
    /// Template such as `Bearer {token}`.
    pub value: String,
}

/// Identity templates: each virtual user's unique email and username.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub email: String,
    pub username: String,
}

/// A whole contract.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub identity: Identity,
    pub auth: AuthHeader,
    /// Headers sent on every request: name → template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub signup: Endpoint,
    pub login: Endpoint,
    pub validate: Endpoint,
    pub refresh: Option<Endpoint>,
    pub logout: Option<Endpoint>,
}

/// Values for template placeholders.
#[derive(Debug, Clone, Default)]
pub struct Vars<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub token: &'a str,
    pub refresh_token: &'a str,
    pub run: &'a str,
    pub user: &'a str,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "email" => self.email,
            "username" => self.username,
            "password" => self.password,
            "token" => self.token,
            "refresh_token" => self.refresh_token,
            "run" => self.run,
            "user" => self.user,
            _ => return None,
        })
    }
}

/// Replaces `{name}` placeholders; unknown names are left as written (load-time validation
/// rejects them, see [`Contract::validate`]).
pub fn render(template: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => match vars.get(&after[..close]) {
                Some(v) => {
                    out.push_str(v);
                    rest = &after[close + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            },
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Placeholder names used in a template.
fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push(&after[..close]);
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out
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
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Failure::bad_input(format!("{}: cannot read contract: {e}", p.display()))
                })?;
                Contract::from_toml(&text, &p.display().to_string())
            }
        }
    }

    /// Parses and validates a contract; errors name the source and the field.
    pub fn from_toml(text: &str, source: &str) -> Result<Contract, Failure> {
        let c: Contract = toml::from_str(text).map_err(|e| {
            let msg = e.to_string();
            let first = msg.lines().last().unwrap_or("invalid TOML").trim();
            let line = e
                .span()
                .map(|s| format!(" (line {})", text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            Failure::bad_input(format!("{source}: {first}{line}"))
        })?;
        c.validate()
            .map_err(|e| Failure::bad_input(format!("{source}: {e}")))?;
        Ok(c)
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

    fn validate(&self) -> Result<(), String> {
        let check = |at: &str, template: &str| -> Result<(), String> {
            for p in placeholders(template) {
                if !VARIABLES.contains(&p) {
                    return Err(format!(
                        "{at}: unknown placeholder '{{{p}}}' (known: {})",
                        VARIABLES
                            .iter()
                            .map(|v| format!("{{{v}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            Ok(())
        };
        check("identity.email", &self.identity.email)?;
        check("identity.username", &self.identity.username)?;
        if !self.identity.email.contains("{user}") || !self.identity.username.contains("{user}") {
            return Err("identity.email and identity.username must contain {user} so every virtual user is unique".into());
        }
        check("auth.value", &self.auth.value)?;
        if !self.auth.value.contains("{token}") {
            return Err("auth.value must contain {token}".into());
        }
        header_name(&self.auth.header).map_err(|e| format!("auth.header: {e}"))?;
        for (k, v) in &self.headers {
            header_name(k).map_err(|e| format!("headers: {e}"))?;
            check(&format!("headers.{k}"), v)?;
        }
        for (flow, ep) in self.endpoints() {
            if !ep.path.starts_with('/') {
                return Err(format!("{flow}.path '{}' must start with '/'", ep.path));
            }
            check(&format!("{flow}.path"), &ep.path)?;
            if ep.success.is_empty() {
                return Err(format!("{flow}.success must list at least one status"));
            }
            if let Some(bad) = ep.success.iter().find(|s| !(100..=599).contains(*s)) {
                return Err(format!("{flow}.success: {bad} is not an HTTP status"));
            }
            if ep.body == BodyFormat::None && !ep.fields.is_empty() {
                return Err(format!(
                    "{flow}.fields given but body = \"none\" (use \"json\" or \"form\")"
                ));
            }
            for (k, v) in &ep.fields {
                check(&format!("{flow}.fields.{k}"), v)?;
            }
            for (k, v) in &ep.headers {
                header_name(k).map_err(|e| format!("{flow}.headers: {e}"))?;
                check(&format!("{flow}.headers.{k}"), v)?;
            }
            for (what, ptr) in [("token", &ep.token), ("refresh_token", &ep.refresh_token)] {
                if let Some(p) = ptr {
                    if !(p.is_empty() || p.starts_with('/')) {
                        return Err(format!(
                            "{flow}.{what} '{p}' is not a JSON pointer (it must start with '/', e.g. /access_token)"
                        ));
                    }
                }
            }
        }
        if self.login.token.is_none() {
            return Err("login.token must give the JSON pointer of the access token, e.g. \"/access_token\"".into());
        }
        if let Some(r) = &self.refresh {
            if self.login.refresh_token.is_none() {
                return Err(
                    "refresh is configured but login.refresh_token (JSON pointer) is missing"
                        .into(),
                );
            }
            if r.token.is_none() {
                return Err(
                    "refresh.token must give the JSON pointer of the new access token".into(),
                );
            }
        }
        Ok(())
    }
}

impl Endpoint {
    /// Whether this endpoint carries the auth header.
    pub fn sends_token(&self, flow: &str) -> bool {
        self.send_token
            .unwrap_or(matches!(flow, "validate" | "logout"))
    }
}

fn header_name(name: &str) -> Result<(), String> {
    reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .map(|_| ())
        .map_err(|_| format!("'{name}' is not a valid header name"))
}

/// Extracts a string at a JSON pointer (numbers are turned into text).
pub fn extract(body: &serde_json::Value, pointer: &str) -> Option<String> {
    match body.pointer(pointer)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_contracts_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/contracts");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let c = Contract::load(Some(&path)).unwrap_or_else(|e| panic!("{}", e.message));
            assert!(c.login.token.is_some());
            n += 1;
        }
        assert!(n >= 3);
        let r = Contract::reference();
        assert_eq!(r.validate.path, "/api/v1/auth/me");
        assert!(r.validate.sends_token("validate"));
        assert!(!r.login.sends_token("login"));
    }

    #[test]
    fn templates_render_known_placeholders() {
        let vars = Vars {
            email: "a@b.co",
            token: "T",
            run: "r1",
            user: "7",
            ..Vars::default()
        };
        assert_eq!(render("Bearer {token}", &vars), "Bearer T");
        assert_eq!(render("lt-{run}-{user}@x", &vars), "lt-r1-7@x");
        assert_eq!(render("{nope} {token", &vars), "{nope} {token");
        assert_eq!(render("", &vars), "");
        assert_eq!(placeholders("a{b}c{d}"), vec!["b", "d"]);
    }

    #[test]
    fn invalid_contracts_name_the_field() {
        let good = REFERENCE_CONTRACT_TOML;
        let cases = [
            (
                good.replace("\"Bearer {token}\"", "\"Bearer {tokn}\""),
                "auth.value: unknown placeholder '{tokn}'",
            ),
            (
                good.replace(
                    "token = \"/access_token\"\nrefresh_token = \"/refresh_token\"\n\n[validate]",
                    "refresh_token = \"/refresh_token\"\n\n[validate]",
                ),
                "login.token",
            ),
            (
                good.replace("path = \"/api/v1/auth/me\"", "path = \"api/v1/auth/me\""),
                "validate.path",
            ),
            (
                good.replace("success = [201]", "success = [999]"),
                "signup.success: 999",
            ),
            (
                good.replace("method = \"GET\"", "method = \"FETCH\""),
                "FETCH",
            ),
            (
                good.replace("lt-{run}-{user}@example.com", "fixed@example.com"),
                "must contain {user}",
            ),
            (format!("{good}\nbogus = 1\n"), "bogus"),
        ];
        for (text, want) in cases {
            let e = Contract::from_toml(&text, "c.toml").unwrap_err();
            assert_eq!(e.code, 2);
            assert!(e.message.starts_with("c.toml: "), "{}", e.message);
            assert!(e.message.contains(want), "want {want:?} in {}", e.message);
            assert!(!e.message.contains('\n'));
        }
    }

    #[test]
    fn extract_follows_json_pointers() {
        let v = serde_json::json!({"data": {"token": "abc", "n": 5}, "empty": ""});
        assert_eq!(extract(&v, "/data/token").as_deref(), Some("abc"));
        assert_eq!(extract(&v, "/data/n").as_deref(), Some("5"));
        assert_eq!(extract(&v, "/empty"), None);
        assert_eq!(extract(&v, "/missing"), None);
    }
}
