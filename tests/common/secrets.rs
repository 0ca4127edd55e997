//! The secret scan shared by integration tests: every file a run wrote plus its stdout and
//! stderr must contain none of the secrets the target saw or issued (generated passwords,
//! tokens, cookies, CSRF values, captured values).

use std::path::{Path, PathBuf};
use std::process::Output;

/// Every file directly in `dir`, as text (lossy UTF-8).
pub fn written_files(dir: &Path) -> Vec<(PathBuf, String)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).to_string();
            (p, text)
        })
        .collect()
}

/// Every file a run wrote into `dir`, plus its stdout and stderr.
pub fn run_outputs(dir: &Path, o: &Output) -> Vec<(PathBuf, String)> {
    let mut texts = written_files(dir);
    texts.push((
        PathBuf::from("stdout"),
        String::from_utf8_lossy(&o.stdout).to_string(),
    ));
    texts.push((
        PathBuf::from("stderr"),
        String::from_utf8_lossy(&o.stderr).to_string(),
    ));
    texts
}

/// True when `text` holds a password of the harness's generated shape (`Lt-` + 20
/// alphanumerics + `-9z`).
pub fn has_generated_password(text: &str) -> bool {
    text.match_indices("Lt-").any(|(i, _)| {
        let rest = &text[i + 3..];
        rest.len() >= 23
            && rest[..20].chars().all(|c| c.is_ascii_alphanumeric())
            && &rest[20..23] == "-9z"
    })
}

/// Panics naming the file when any text holds a generated password or one of `secrets`
/// (the secret itself is never printed).
pub fn assert_no_secret(texts: &[(PathBuf, String)], secrets: &[String]) {
    for (path, text) in texts {
        assert!(
            !has_generated_password(text),
            "{}: contains a generated password",
            path.display()
        );
        for (i, secret) in secrets.iter().enumerate() {
            assert!(
                !text.contains(secret.as_str()),
                "{}: contains secret #{i} ({} chars)",
                path.display(),
                secret.len()
            );
        }
    }
}
