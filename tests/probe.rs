//! `loadtest probe` through the real binary: against the embedded reference API it prints
//! every step and exits 0; each contract mistake (wrong token pointer, wrong auth scheme, a
//! success status missing from `success`, a refresh pointer that finds nothing, a cookie
//! session driven without cookies) prints its diagnosis and exits 1, within 10 s; a bad
//! contract exits 2, an unreachable target 3. Never a secret in the output.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use loadtest::contract::REFERENCE_CONTRACT_TOML;

/// Runs `loadtest probe ARGS`, killed (and failed) if it takes more than 10 s.
fn probe(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .arg("probe")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn loadtest probe");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("probe {args:?} did not finish within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (status.code().unwrap_or(-1), out)
}

fn edited(dir: &tempfile::TempDir, name: &str, from: &str, to: &str) -> String {
    assert!(REFERENCE_CONTRACT_TOML.contains(from), "{from:?}");
    let path = dir.path().join(name);
    std::fs::write(&path, REFERENCE_CONTRACT_TOML.replacen(from, to, 1)).unwrap();
    path.display().to_string()
}

/// No token-looking value (JWT or long base64url run) in the output.
fn assert_no_token(out: &str) {
    for word in out.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c))) {
        assert!(
            !(word.starts_with("eyJ") && word.len() > 30),
            "a JWT in the output: {out}"
        );
    }
}

#[test]
fn the_reference_contract_probes_clean_and_each_mistake_is_diagnosed() {
    let (mut server, host) = common::serve_child("127.0.0.1:0", &[]);
    let dir = tempfile::tempdir().unwrap();

    // Embedded API, no --host: every step printed, exit 0.
    let (code, out) = probe(&[]);
    assert_eq!(code, 0, "{out}");
    for step in [
        "signup ",
        "login ",
        "validate ",
        "refresh ",
        "logout ",
        "logout-reuse ",
        "captured: token, refresh_token",
        "every step behaved as the contract says",
    ] {
        assert!(out.contains(step), "{step:?} missing in:\n{out}");
    }
    assert_no_token(&out);

    let cases = [
        (
            edited(
                &dir,
                "ptr.toml",
                "token = \"/access_token\"",
                "token = \"/accessToken\"",
            ),
            vec![
                "login: nothing for token at JSON pointer /accessToken",
                "keys at /: ",
                "access_token",
            ],
        ),
        (
            edited(
                &dir,
                "scheme.toml",
                "value = \"Bearer {token}\"",
                "value = \"JWT {token}\"",
            ),
            vec!["401 on validate: check `auth.value` (sent `JWT …`)"],
        ),
        (
            edited(&dir, "status.toml", "success = [201]", "success = [200]"),
            vec!["status 201 is not in signup.success [200]"],
        ),
        (
            edited(
                &dir,
                "refresh.toml",
                "token = \"/access_token\"\nrefresh_token = \"/refresh_token\"\n\n[logout]",
                "token = \"/access_token\"\nrefresh_token = \"/refreshToken\"\n\n[logout]",
            ),
            vec!["refresh returned no new refresh token at /refreshToken"],
        ),
    ];
    for (path, wants) in cases {
        let (code, out) = probe(&["--host", &host, "--contract", &path]);
        assert_eq!(code, 1, "{path}:\n{out}");
        for want in wants {
            assert!(out.contains(want), "{want:?} missing for {path}:\n{out}");
        }
        assert_no_token(&out);
    }

    // A bad contract is exit 2; an unreachable target exit 3.
    let bad = edited(
        &dir,
        "bad.toml",
        "path = \"/api/v1/auth/me\"",
        "path = \"//evil/me\"",
    );
    let (code, out) = probe(&["--host", &host, "--contract", &bad]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("validate.path"), "{out}");
    let (code, out) = probe(&["--host", "http://127.0.0.1:9"]);
    assert_eq!(code, 3, "{out}");
    server.kill().ok();
    server.wait().ok();
}

/// A cookie-session API driven by a contract that sends no cookie: validate is refused and
/// the probe points at the cookie it ignored.
#[test]
fn a_cookie_session_without_cookies_is_diagnosed() {
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::routing::{get, post};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/signup", post(|| async { StatusCode::CREATED }))
        .route(
            "/login",
            post(|| async {
                (
                    [(header::SET_COOKIE, "sid=s3ss10nVALUEzz9; Path=/; HttpOnly")],
                    "{\"ok\":true}",
                )
            }),
        )
        .route(
            "/me",
            get(|h: HeaderMap| async move {
                let cookie = h.get(header::COOKIE).and_then(|v| v.to_str().ok());
                if cookie.is_some_and(|c| c.contains("sid=s3ss10nVALUEzz9")) {
                    (StatusCode::OK, "{\"user\":1}")
                } else {
                    (StatusCode::UNAUTHORIZED, "{\"error\":\"no session\"}")
                }
            }),
        );
    rt.spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    let base = "version = 2\nname = \"cookie\"\n[identity]\nemail = \"e{user}@x.co\"\nusername = \"u{user}\"\n\
        [signup]\nmethod = \"POST\"\npath = \"/signup\"\nsuccess = [201]\n\
        [login]\nmethod = \"POST\"\npath = \"/login\"\nsuccess = [200]\ncapture.sid = { cookie = \"sid\" }\n\
        [validate]\nmethod = \"GET\"\npath = \"/me\"\nsuccess = [200]\n";
    let without = dir.path().join("without.toml");
    std::fs::write(
        &without,
        base.replace(
            "[signup]",
            "[auth]\nheader = \"X-Session\"\nvalue = \"{sid}\"\n[signup]",
        ),
    )
    .unwrap();
    let host = format!("http://{addr}");
    let (code, out) = probe(&[
        "--host",
        &host,
        "--contract",
        &without.display().to_string(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("a Set-Cookie arrived (sid) but the contract sends no cookie"),
        "{out}"
    );
    assert!(
        out.contains("401 on validate: check `auth.value` (sent `…`)"),
        "{out}"
    );
    assert!(
        !out.contains("s3ss10nVALUEzz9"),
        "cookie value printed:\n{out}"
    );

    // The same API with the jar on: every step as the contract says.
    let with = dir.path().join("with.toml");
    std::fs::write(
        &with,
        base.replace("name = \"cookie\"", "name = \"cookie\"\ncookies = true"),
    )
    .unwrap();
    let (code, out) = probe(&["--host", &host, "--contract", &with.display().to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("captured: sid"), "{out}");
    assert!(
        !out.contains("s3ss10nVALUEzz9"),
        "cookie value printed:\n{out}"
    );
}
