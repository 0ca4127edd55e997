//! Contract templates: `{name}` placeholders parsed once at load time into literal and
//! variable parts, rendered per request without re-parsing (values URL-encoded in paths).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Built-in values every template may use; any other `{name}` is a capture.
pub const BUILTINS: &[&str] = &["email", "username", "password", "run", "user", "origin"];

/// Capture slots every contract has, whether or not a step fills them: the access token and
/// the refresh token (v1 `token` / `refresh_token` pointers fill them).
pub const TOKEN_SLOT: usize = 0;
pub const REFRESH_SLOT: usize = 1;

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    Email,
    Username,
    Password,
    Run,
    User,
    /// The target's origin, `http://127.0.0.1:8080` (for Referer / Origin headers).
    Origin,
    /// A captured value, by slot (see [`super::Contract::capture_names`]).
    Capture(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Var(Var),
}

/// How rendered values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As they are (headers, bodies — the body encoder escapes for its own format).
    Raw,
    /// Percent-encoded as one path segment or query component (everything but
    /// `A-Z a-z 0-9 - . _ ~`), so a value can neither add a path segment nor a parameter.
    Url,
}

const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Values of one virtual user for rendering.
pub struct Values<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub run: &'a str,
    pub user: &'a str,
    pub origin: &'a str,
    /// Captured values by slot; a missing one renders as "".
    pub captures: &'a [Option<String>],
}

impl Values<'_> {
    pub fn get(&self, v: Var) -> &str {
        match v {
            Var::Email => self.email,
            Var::Username => self.username,
            Var::Password => self.password,
            Var::Run => self.run,
            Var::User => self.user,
            Var::Origin => self.origin,
            Var::Capture(i) => self
                .captures
                .get(i)
                .and_then(|c| c.as_deref())
                .unwrap_or(""),
        }
    }
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
    source: String,
}

/// Whether `name` can be a placeholder (`[A-Za-z_][A-Za-z0-9_]*`); braces around anything
/// else (`{ me { id } }` in a GraphQL query) are literal text.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Template {
    /// Parses `text`; `resolve` maps a placeholder name to its variable, or `None` when the
    /// name is unknown (the error names it and the known ones).
    pub fn parse(text: &str, resolve: &dyn Fn(&str) -> Option<Var>) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            lit.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find(['}', '{']) {
                Some(close) if after.as_bytes()[close] == b'}' && is_name(&after[..close]) => {
                    let name = &after[..close];
                    let var =
                        resolve(name).ok_or_else(|| format!("unknown placeholder '{{{name}}}'"))?;
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(var));
                    rest = &after[close + 1..];
                }
                _ => {
                    lit.push('{');
                    rest = after;
                }
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template {
            parts,
            source: text.to_string(),
        })
    }

    /// The text as written in the contract.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template uses `var`.
    pub fn uses(&self, var: Var) -> bool {
        self.parts.contains(&Part::Var(var))
    }

    /// The variables used, in order.
    pub fn vars(&self) -> impl Iterator<Item = Var> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(*v),
            Part::Lit(_) => None,
        })
    }

    /// Whether the template is one literal (no placeholder).
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    pub fn render(&self, values: &Values, encoding: Encoding) -> String {
        let mut out = String::with_capacity(self.source.len() + 48);
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Var(v) => {
                    let value = values.get(*v);
                    match encoding {
                        Encoding::Raw => out.push_str(value),
                        Encoding::Url => out.extend(utf8_percent_encode(value, COMPONENT)),
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(name: &str) -> Option<Var> {
        match name {
            "email" => Some(Var::Email),
            "user" => Some(Var::User),
            "run" => Some(Var::Run),
            "token" => Some(Var::Capture(TOKEN_SLOT)),
            "id" => Some(Var::Capture(2)),
            _ => None,
        }
    }

    fn values(captures: &[Option<String>]) -> Values<'_> {
        Values {
            email: "a+b@x.co",
            username: "u",
            password: "p",
            run: "r1",
            user: "7",
            origin: "http://h",
            captures,
        }
    }

    #[test]
    fn renders_placeholders_and_keeps_other_braces() {
        let caps = [Some("T".to_string()), None, Some("a/b c&d=e".to_string())];
        let v = values(&caps);
        let t = Template::parse("Bearer {token}", &resolve).unwrap();
        assert_eq!(t.render(&v, Encoding::Raw), "Bearer T");
        let t = Template::parse("lt-{run}-{user}@x", &resolve).unwrap();
        assert_eq!(t.render(&v, Encoding::Raw), "lt-r1-7@x");
        let t = Template::parse("{ me { id } } {token", &resolve).unwrap();
        assert_eq!(t.render(&v, Encoding::Raw), "{ me { id } } {token");
        assert_eq!(t.literal(), Some("{ me { id } } {token"));
        let t = Template::parse("/users/{id}?email={email}", &resolve).unwrap();
        assert_eq!(
            t.render(&v, Encoding::Url),
            "/users/a%2Fb%20c%26d%3De?email=a%2Bb%40x.co"
        );
        assert!(t.uses(Var::Capture(2)));
        assert!(!t.uses(Var::Capture(TOKEN_SLOT)));
        // A missing capture renders empty.
        let t = Template::parse("x{token}y", &resolve).unwrap();
        assert_eq!(t.render(&values(&[]), Encoding::Raw), "xy");
    }

    #[test]
    fn unknown_placeholders_are_named() {
        let e = Template::parse("Bearer {tokn}", &resolve).unwrap_err();
        assert_eq!(e, "unknown placeholder '{tokn}'");
    }
}
