//! Request bodies: typed TOML fields → JSON as written (tables, arrays, numbers, booleans),
//! strings as templates; or form fields (scalars only). Parsed once at load time.

use std::collections::BTreeMap;

use serde_json::Value;

use super::file::BodyFormat;
use super::template::{Encoding, Template, Values, Var};

/// A JSON body template.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    Str(Template),
    /// A number, boolean or date: sent as written.
    Fixed(Value),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

/// How an endpoint's body is built.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    None,
    Json(Vec<(String, JsonTemplate)>),
    Form(Vec<(String, Template)>),
}

type Resolve<'a> = &'a dyn Fn(&str) -> Option<Var>;

fn json_template(at: &str, v: &toml::Value, resolve: Resolve) -> Result<JsonTemplate, String> {
    Ok(match v {
        toml::Value::String(s) => {
            JsonTemplate::Str(Template::parse(s, resolve).map_err(|e| format!("{at}: {e}"))?)
        }
        toml::Value::Integer(i) => JsonTemplate::Fixed(Value::from(*i)),
        toml::Value::Float(f) => JsonTemplate::Fixed(
            serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .ok_or_else(|| format!("{at}: {f} cannot be sent as JSON"))?,
        ),
        toml::Value::Boolean(b) => JsonTemplate::Fixed(Value::Bool(*b)),
        toml::Value::Datetime(d) => JsonTemplate::Fixed(Value::String(d.to_string())),
        toml::Value::Array(a) => JsonTemplate::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| json_template(&format!("{at}[{i}]"), x, resolve))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => JsonTemplate::Object(
            t.iter()
                .map(|(k, x)| Ok((k.clone(), json_template(&format!("{at}.{k}"), x, resolve)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

impl Body {
    /// Compiles `fields`; `at` is the key path for errors (`login.fields`).
    pub fn compile(
        at: &str,
        format: BodyFormat,
        fields: &BTreeMap<String, toml::Value>,
        resolve: Resolve,
    ) -> Result<Body, String> {
        match format {
            BodyFormat::None if !fields.is_empty() => Err(format!(
                "{at} given but body = \"none\" (use \"json\" or \"form\")"
            )),
            BodyFormat::None => Ok(Body::None),
            BodyFormat::Json => Ok(Body::Json(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), json_template(&format!("{at}.{k}"), v, resolve)?)))
                    .collect::<Result<_, String>>()?,
            )),
            BodyFormat::Form => Ok(Body::Form(
                fields
                    .iter()
                    .map(|(k, v)| {
                        let text = match v {
                            toml::Value::String(s) => s.clone(),
                            toml::Value::Integer(i) => i.to_string(),
                            toml::Value::Float(f) => f.to_string(),
                            toml::Value::Boolean(b) => b.to_string(),
                            _ => {
                                return Err(format!(
                                    "{at}.{k}: a form field must be a string, number or boolean (tables and arrays need body = \"json\")"
                                ))
                            }
                        };
                        Ok((
                            k.clone(),
                            Template::parse(&text, resolve).map_err(|e| format!("{at}.{k}: {e}"))?,
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            )),
        }
    }

    /// Every template in the body.
    pub fn templates(&self) -> Vec<&Template> {
        fn walk<'a>(t: &'a JsonTemplate, out: &mut Vec<&'a Template>) {
            match t {
                JsonTemplate::Str(s) => out.push(s),
                JsonTemplate::Fixed(_) => {}
                JsonTemplate::Array(a) => a.iter().for_each(|x| walk(x, out)),
                JsonTemplate::Object(o) => o.iter().for_each(|(_, x)| walk(x, out)),
            }
        }
        let mut out = Vec::new();
        match self {
            Body::None => {}
            Body::Json(fields) => fields.iter().for_each(|(_, x)| walk(x, &mut out)),
            Body::Form(fields) => out.extend(fields.iter().map(|(_, t)| t)),
        }
        out
    }
}

impl JsonTemplate {
    pub fn render(&self, values: &Values) -> Value {
        match self {
            JsonTemplate::Str(t) => Value::String(t.render(values, Encoding::Raw)),
            JsonTemplate::Fixed(v) => v.clone(),
            JsonTemplate::Array(a) => Value::Array(a.iter().map(|x| x.render(values)).collect()),
            JsonTemplate::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), x.render(values)))
                    .collect(),
            ),
        }
    }
}

/// Renders a JSON body's top-level object.
pub fn render_json(fields: &[(String, JsonTemplate)], values: &Values) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, x)| (k.clone(), x.render(values)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(name: &str) -> Option<Var> {
        (name == "email").then_some(Var::Email)
    }

    #[test]
    fn typed_fields_become_json_as_written() {
        let fields: BTreeMap<String, toml::Value> = toml::from_str(
            r#"
            user = { email = "{email}", tags = ["a", 2, true] }
            remember = true
            n = 3
            q = "{ me { id } }"
            "#,
        )
        .unwrap();
        let body = Body::compile("login.fields", BodyFormat::Json, &fields, &resolve).unwrap();
        let Body::Json(f) = &body else { panic!() };
        let v = Values {
            email: "a@b.co",
            username: "",
            password: "",
            run: "",
            user: "",
            origin: "",
            captures: &[],
        };
        assert_eq!(
            render_json(f, &v),
            serde_json::json!({"user": {"email": "a@b.co", "tags": ["a", 2, true]}, "remember": true, "n": 3, "q": "{ me { id } }"})
        );
        assert_eq!(body.templates().len(), 3);
        let e = Body::compile("login.fields", BodyFormat::Form, &fields, &resolve).unwrap_err();
        assert!(e.starts_with("login.fields.user: a form field"), "{e}");
        let bad: BTreeMap<String, toml::Value> = toml::from_str("a = { b = \"{nope}\" }").unwrap();
        let e = Body::compile("x.fields", BodyFormat::Json, &bad, &resolve).unwrap_err();
        assert_eq!(e, "x.fields.a.b: unknown placeholder '{nope}'");
    }
}
