//! Contract loading: shipped files, v1 compatibility, v2 keys, every rejection naming its key.

use super::*;

#[test]
fn shipped_contracts_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/contracts");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let c = Contract::load(Some(&path)).unwrap_or_else(|e| panic!("{}", e.message));
        assert!(c.cookies || c.auth.is_some());
        n += 1;
    }
    assert!(n >= 3);
    let r = Contract::reference();
    assert_eq!(r.validate.path.source(), "/api/v1/auth/me");
    assert!(r.validate.sends_token("validate"));
    assert!(!r.login.sends_token("login"));
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
fn v2_examples_compile_to_steps() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/contracts");
    let load =
        |f: &str| Contract::load(Some(&dir.join(f))).unwrap_or_else(|e| panic!("{}", e.message));

    let s = load("session-csrf.toml");
    assert_eq!(s.version, 2);
    assert!(s.cookies && s.auth.is_none() && s.has_pre_steps());
    assert_eq!(s.login.pre.len(), 1);
    assert_eq!(s.login.pre[0].key, "login.pre[0]");
    assert!(matches!(
        s.login.pre[0].captures[0].source,
        Source::Regex(_)
    ));
    let names: Vec<&str> = s.login.captures.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["csrftoken", "session"]);
    // One slot per name, shared by every step that captures it.
    assert_eq!(
        s.signup.pre[0].captures[0].slot,
        s.login.pre[0].captures[0].slot
    );
    assert_eq!(s.logout.as_ref().unwrap().success, [302]);

    let j = load("jwt-cookie.toml");
    let Body::Json(fields) = &j.signup.body else {
        panic!("json body")
    };
    assert!(matches!(
        &fields[0].1,
        JsonTemplate::Fixed(serde_json::Value::Bool(true))
    ));
    assert_eq!(j.validate.expect[0].pointer, "/email");

    let o = load("oauth2-password.toml");
    let Body::Form(f) = &o.login.body else {
        panic!("form body")
    };
    assert!(f
        .iter()
        .any(|(k, t)| k == "grant_type" && t.literal() == Some("password")));
    assert_eq!(
        o.login.expect[0].equals,
        Some(serde_json::Value::String("bearer".into()))
    );

    let k = load("api-key.toml");
    assert_eq!(k.auth.as_ref().unwrap().header.as_str(), "x-api-key");
    assert!(k
        .logout
        .as_ref()
        .unwrap()
        .path
        .vars()
        .any(|v| matches!(v, Var::Capture(_))));

    // A v1 file is the shorthand: token/refresh_token pointers are captures in fixed slots.
    let r = Contract::reference();
    assert_eq!(r.version, 1);
    let c: Vec<(usize, bool)> = r
        .login
        .captures
        .iter()
        .map(|c| (c.slot, c.optional))
        .collect();
    assert_eq!(c, [(TOKEN_SLOT, false), (REFRESH_SLOT, true)]);
}

#[test]
fn v2_mistakes_name_the_key() {
    let base = |extra_login: &str, extra_top: &str| {
        format!(
            "version = 2\nname = \"x\"\n{extra_top}\n[identity]\nemail = \"e{{user}}\"\nusername = \"u{{user}}\"\n\
             [auth]\nheader = \"Authorization\"\nvalue = \"Bearer {{token}}\"\n\
             [signup]\nmethod = \"POST\"\npath = \"/s\"\nsuccess = [201]\n\
             [login]\nmethod = \"POST\"\npath = \"/l\"\nsuccess = [200]\ntoken = \"/t\"\n{extra_login}\n\
             [validate]\nmethod = \"GET\"\npath = \"/v\"\nsuccess = [200]\n"
        )
    };
    assert!(Contract::from_toml(&base("", ""), "c.toml").is_ok());
    let cases = [
        (base("", "").replace("version = 2", "version = 3"), "version = 3 is not supported"),
        (base("capture.x = { json = \"/a\", header = \"X\" }", ""), "login.capture.x: give exactly one of"),
        (base("capture.email = { json = \"/a\" }", ""), "login.capture.email: a capture name"),
        (base("capture.x = { regex = \"(\" }", ""), "login.capture.x.regex"),
        (base("capture.x = { cookie = \"a;b\" }", ""), "login.capture.x.cookie"),
        (base("capture.x = { json = \"a\" }", ""), "login.capture.x.json 'a' is not a JSON pointer"),
        (base("", "").replace("path = \"/v\"", "path = \"/v/{user_id}\""), "validate.path: unknown placeholder '{user_id}'"),
        (base("capture.user_id = { json = \"/id\", optional = true }", "").replace("path = \"/s\"", "path = \"/s/{user_id}\""), ""),
        (base("body = \"form\"\nfields = { a = { b = 1 } }", ""), "login.fields.a: a form field must be"),
        (base("headers = { Host = \"evil\" }", ""), "login.headers: 'Host' cannot be set"),
        (base("headers = { \"Content-Length\" = \"5\" }", ""), "'Content-Length' cannot be set"),
        (base("headers = { \"Transfer-Encoding\" = \"chunked\" }", ""), "'Transfer-Encoding' cannot be set"),
        (base("headers = { \"X-A\" = \"a\\r\\nX-B: 1\" }", ""), "login.headers.X-A: value contains the control character"),
        (base("", "").replace("path = \"/v\"", "path = \"//evil.example/v\""), "validate.path '//evil.example/v' must not start with '//'"),
        (base("", "").replace("path = \"/v\"", "path = \"http://evil/v\""), "validate.path 'http://evil/v' must start with '/'"),
        (base("[[login.pre]]\nmethod = \"GET\"\npath = \"/p\"\nsuccess = [200]\npre = [{ method = \"GET\", path = \"/q\", success = [200] }]", ""), "login.pre[0].pre: a pre-step cannot have pre-steps"),
        (base("capture.token = { header = \"X-T\" }", ""), "login: both token and capture.token"),
        (base("expect = [{ pointer = \"ok\" }]", ""), "login.expect[0].pointer"),
        (base("", "").replace("[auth]\nheader = \"Authorization\"\nvalue = \"Bearer {token}\"\n", ""), "[auth] is required unless cookies = true"),
        (base("", "").replace("Bearer {token}", "Key {api_key}"), "auth.value: unknown placeholder '{api_key}'"),
        (base("", "").replace("Bearer {token}", "Bearer {nope_never}").replace("[validate]", "[validate]\ncapture.nope_never = { json = \"/n\" }"), "auth.value uses {nope_never} but login does not capture nope_never"),
        (base("", "").replace("email = \"e{user}\"", "email = \"e{user}{password}\""), "identity.email and identity.username may use only"),
    ];
    for (text, want) in cases {
        match Contract::from_toml(&text, "c.toml") {
            Ok(_) => assert!(want.is_empty(), "accepted, want {want:?}:\n{text}"),
            Err(e) => {
                assert!(!want.is_empty(), "rejected: {}\n{text}", e.message);
                assert_eq!(e.code, 2);
                assert!(e.message.starts_with("c.toml: "), "{}", e.message);
                assert!(e.message.contains(want), "want {want:?} in {}", e.message);
                assert!(!e.message.contains('\n'));
            }
        }
    }
}
