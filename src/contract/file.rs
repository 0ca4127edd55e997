//! The contract file as written (serde): v1 keys plus the v2 additions, before templates are
//! parsed and names resolved. Unknown keys are errors so typos are caught.

use std::collections::BTreeMap;

use serde::Deserialize;

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

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Request body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    #[default]
    None,
    Json,
    Form,
}

/// One capture: exactly one source key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureFile {
    pub json: Option<String>,
    pub header: Option<String>,
    pub cookie: Option<String>,
    pub regex: Option<String>,
    #[serde(default)]
    pub optional: bool,
}

/// One success predicate over the JSON body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectFile {
    pub pointer: String,
    pub equals: Option<toml::Value>,
}

/// One endpoint (or pre-step) as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointFile {
    pub method: Method,
    pub path: String,
    #[serde(default)]
    pub body: BodyFormat,
    /// Body fields: name → value (strings are templates; tables, arrays, numbers and
    /// booleans are JSON as written).
    #[serde(default)]
    pub fields: BTreeMap<String, toml::Value>,
    pub success: Vec<u16>,
    /// v1 shorthand: JSON pointer of the access token (= `capture.token = { json = … }`).
    pub token: Option<String>,
    /// v1 shorthand: JSON pointer of the refresh token (an optional capture).
    pub refresh_token: Option<String>,
    pub send_token: Option<bool>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub capture: BTreeMap<String, CaptureFile>,
    #[serde(default)]
    pub expect: Vec<ExpectFile>,
    #[serde(default)]
    pub pre: Vec<EndpointFile>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    pub header: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityFile {
    pub email: String,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractFile {
    pub version: Option<i64>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub identity: IdentityFile,
    pub auth: Option<AuthFile>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub cookies: bool,
    pub signup: EndpointFile,
    pub login: EndpointFile,
    pub validate: EndpointFile,
    pub refresh: Option<EndpointFile>,
    pub logout: Option<EndpointFile>,
}
