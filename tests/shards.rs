//! Distributed runs: three real shard processes against one reference API, merged by the
//! real binary and checked against the shards; refusals of shards that do not belong
//! together; second alignment; and the Kubernetes manifests' consistency.

mod common;
use common::loadtest_in_tmp as loadtest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::sample::{build, SampleFlow, SampleSecond};
use hdrhistogram::Histogram;
use loadtest::histogram::{decode, new_histogram};
use loadtest::record::{Phase, RunRecord, ShardMeta};
use loadtest::reference_api::{start, TargetConfig};
use loadtest::thresholds::Rule;
use serde_yaml::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Files a run wrote (names only), without Goose's own reports.
fn report_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with("goose-report"))
        .collect();
    names.sort();
    names
}

/// One histogram fed every sample the given histograms hold (value by value, not `add`).
fn fed_with_samples<'a>(parts: impl IntoIterator<Item = &'a Histogram<u64>>) -> Histogram<u64> {
    let mut all = new_histogram();
    for h in parts {
        for v in h.iter_recorded() {
            all.record_n(v.value_iterated_to(), v.count_at_value())
                .unwrap();
        }
    }
    all
}

const QUANTILES: [f64; 8] = [0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_local_shards_merge_exactly_and_are_judged_together() {
    let target = start(TargetConfig::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Each shard has 2 of the 6 users, so 2 signups: `signup: count>=6` fails on every
    // shard and passes only on the merged data.
    let rules = tmp.path().join("thresholds.toml");
    std::fs::write(
        &rules,
        "rules = [\"signup: count>=6\", \"all: error-rate<5%\", \"validate: p99<5s\"]\n",
    )
    .unwrap();
    let start_at = (OffsetDateTime::now_utc() + time::Duration::seconds(5))
        .format(&Rfc3339)
        .unwrap();
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| tmp.path().join(format!("shard-{i}")))
        .collect();
    let children: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            Command::new(env!("CARGO_BIN_EXE_loadtest"))
                .args([
                    "run",
                    "load",
                    "--users",
                    "6",
                    "--ramp",
                    "1s",
                    "--duration",
                    "3s",
                    "--quiet",
                    "--no-abort",
                    // Goose's transport, so the merge's sum of Goose's counts is checked too.
                    "--transport",
                    "goose",
                    "--host",
                    &target.url,
                    "--thresholds",
                    rules.to_str().unwrap(),
                    "--shard",
                    &format!("{i}/3"),
                    "--run-id",
                    "shardtest1",
                    "--start-at",
                    &start_at,
                    "--out",
                    dir.to_str().unwrap(),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (i, o) in outputs.iter().enumerate() {
        assert_eq!(
            o.status.code(),
            Some(1),
            "shard {i} fails `signup: count>=6` alone; stderr: {}",
            stderr(o)
        );
        assert!(
            stderr(o).contains(&format!("shard {i}/3: waiting")),
            "{}",
            stderr(o)
        );
    }
    let merged_dir = tmp.path().join("merged");
    let args: Vec<String> = dirs
        .iter()
        .map(|d| d.join("run.json").display().to_string())
        .chain(["--out".to_string(), merged_dir.display().to_string()])
        .collect();
    let o = tokio::task::spawn_blocking(move || {
        let mut all = vec!["merge"];
        all.extend(args.iter().map(String::as_str));
        loadtest(&all)
    })
    .await
    .unwrap();
    target.shutdown().await;
    assert_eq!(o.status.code(), Some(0), "merge: {}", stderr(&o));

    let shards: Vec<RunRecord> = dirs
        .iter()
        .map(|d| RunRecord::load(&d.join("run.json")).unwrap())
        .collect();
    let merged = RunRecord::load(&merged_dir.join("run.json")).unwrap();

    // Shards: their share of users, their own user-name slice, one run id and plan.
    for (i, s) in shards.iter().enumerate() {
        let shard = s.meta.shard.as_ref().unwrap();
        assert_eq!(shard.index, Some(i as u32));
        assert_eq!(shard.count, 3);
        assert_eq!(shard.user_offset, i as u64 * 10_000_000);
        assert_eq!(shard.profile_plan, "6,1s;6,3s;0,0");
        assert_eq!(s.meta.run_id, "shardtest1");
        assert_eq!(s.meta.max_users, 2);
        assert_eq!(s.flow("signup").unwrap().requests, 2);
        let t = s
            .thresholds
            .iter()
            .find(|v| v.rule == "signup: count>=6")
            .unwrap();
        assert!(!t.passed && t.observed == Some(2.0), "{t:?}");
    }

    // Counts: merged = sum of shards, flow by flow and class by class.
    assert_eq!(merged.flow_names(), shards[0].flow_names());
    for f in &merged.flows {
        let parts: Vec<_> = shards.iter().filter_map(|s| s.flow(&f.name)).collect();
        assert_eq!(f.requests, parts.iter().map(|p| p.requests).sum::<u64>());
        assert_eq!(f.ok, parts.iter().map(|p| p.ok).sum::<u64>());
        assert_eq!(f.failed, parts.iter().map(|p| p.failed).sum::<u64>());
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        for p in &parts {
            for (k, v) in &p.errors {
                *errors.entry(k.clone()).or_default() += v;
            }
        }
        assert_eq!(f.errors, errors, "flow {}", f.name);
        // Percentiles: exactly those of one histogram fed every shard's samples.
        let shard_hists: Vec<Histogram<u64>> = parts.iter().map(|p| p.hist().unwrap()).collect();
        let expected = fed_with_samples(&shard_hists);
        let got = f.hist().unwrap();
        assert_eq!(got.len(), expected.len());
        assert_eq!(got.len(), f.requests);
        for q in QUANTILES {
            assert_eq!(
                got.value_at_quantile(q),
                expected.value_at_quantile(q),
                "flow {} q {q}",
                f.name
            );
        }
        assert_eq!((got.min(), got.max()), (expected.min(), expected.max()));
        assert_eq!(got.mean(), expected.mean());
        // The per-second histograms add up to the whole.
        let seconds: Vec<Histogram<u64>> = f
            .per_second
            .iter()
            .map(|s| decode(&s.histogram).unwrap())
            .collect();
        let from_seconds = fed_with_samples(&seconds);
        for q in QUANTILES {
            assert_eq!(from_seconds.value_at_quantile(q), got.value_at_quantile(q));
        }
    }
    // No two shards used the same email: every signup succeeded.
    let signup = merged.flow("signup").unwrap();
    assert_eq!((signup.requests, signup.failed), (6, 0));

    // Thresholds re-judged on the merged data.
    let t = merged
        .thresholds
        .iter()
        .find(|v| v.rule == "signup: count>=6")
        .unwrap();
    assert!(t.passed && t.observed == Some(6.0), "{t:?}");
    assert_eq!(merged.thresholds.len(), 3);
    assert_eq!(merged.outcome.verdict, "pass");
    assert!(!merged.outcome.partial);

    // Metadata: one run of 6 users, from the earliest start to the latest end.
    assert_eq!(merged.meta.run_id, "shardtest1");
    assert_eq!(
        merged.meta.shard,
        Some(ShardMeta {
            index: None,
            count: 3,
            user_offset: 0,
            profile_plan: "6,1s;6,3s;0,0".into()
        })
    );
    assert_eq!(merged.meta.max_users, 6);
    let hold = merged.phases.iter().find(|p| p.name == "hold").unwrap();
    assert_eq!((hold.users_from, hold.users_to), (6, 6));
    assert_eq!(merged.users_per_second.iter().max(), Some(&6));
    let longest = shards.iter().map(|s| s.meta.duration_s).fold(0.0, f64::max);
    assert!(
        merged.meta.duration_s >= longest - 0.5,
        "{}",
        merged.meta.duration_s
    );
    assert!(!merged.meta.goose_requests.is_empty());
    for (k, v) in &merged.meta.goose_requests {
        let sum: u64 = shards
            .iter()
            .filter_map(|s| s.meta.goose_requests.get(k))
            .sum();
        assert_eq!(*v, sum, "{k}");
    }
    // Every report a run writes, the merge writes too.
    assert_eq!(report_names(&merged_dir), report_names(&dirs[0]));
}

/// A shard record with known latencies: `seconds` seconds of `validate` with `per_second`
/// requests each (latencies spread by `seed`), started `start_ms` after a fixed instant.
fn fake_shard(index: u32, count: u32, start_ms: i64, seed: u64, per_second: u64) -> RunRecord {
    let seconds = 5u32;
    let flow = |name: &str, scale: u64| SampleFlow {
        name: name.into(),
        seconds: (0..seconds)
            .map(|t| SampleSecond {
                t,
                latencies_us: (0..per_second)
                    .map(|k| 100 + (k * 7919 + seed * 104_729 + u64::from(t) * 31) % 50_000 * scale)
                    .collect(),
                errors: if t == 1 {
                    BTreeMap::from([("503".to_string(), seed % 3 + 1)])
                } else {
                    BTreeMap::new()
                },
            })
            .collect(),
        error_samples: vec![format!("503: shard {index}")],
    };
    let users = vec![index + 1; seconds as usize];
    let phases = vec![Phase {
        name: "hold".into(),
        start_s: 0.0,
        end_s: f64::from(seconds),
        users_from: index + 1,
        users_to: index + 1,
    }];
    let rule_texts = ["validate: count>=20", "all: error-rate<50%"];
    let rules: Vec<Rule> = rule_texts.iter().map(|r| r.parse().unwrap()).collect();
    let mut r = build(
        "load",
        "http://127.0.0.1:8080",
        vec![flow("login", 3), flow("validate", 1)],
        users,
        phases,
        &rules,
    );
    let t0 = OffsetDateTime::parse("2026-11-22T10:00:00Z", &Rfc3339).unwrap();
    let started = t0 + time::Duration::milliseconds(start_ms);
    r.meta.started_at = started.format(&Rfc3339).unwrap();
    r.meta.ended_at = (started + time::Duration::seconds(i64::from(seconds)))
        .format(&Rfc3339)
        .unwrap();
    r.meta.run_id = "fake1".into();
    r.meta.rules = Some(rules.iter().map(|r| r.text.clone()).collect());
    r.meta.shard = Some(ShardMeta {
        index: Some(index),
        count,
        user_offset: u64::from(index) * 10_000_000,
        profile_plan: "6,0s;6,5s;0,0".into(),
    });
    r
}

fn save(dir: &Path, name: &str, r: &RunRecord) -> String {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    r.save(&d).unwrap().display().to_string()
}

#[test]
fn merge_aligns_seconds_by_wall_clock_and_rejudges() {
    let tmp = tempfile::tempdir().unwrap();
    // Shard 1 started 2 s after shard 0; shard 2 0.4 s after (rounds to the same second).
    let shards = [
        fake_shard(0, 3, 0, 1, 4),
        fake_shard(1, 3, 2_000, 2, 5),
        fake_shard(2, 3, 400, 3, 6),
    ];
    let mut files: Vec<String> = shards
        .iter()
        .enumerate()
        .map(|(i, r)| save(tmp.path(), &format!("s{i}"), r))
        .collect();
    files.reverse(); // order of arguments does not matter
    let out = tmp.path().join("merged");
    let mut args = vec!["merge", "--quiet", "--out", out.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let o = loadtest(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = RunRecord::load(&out.join("run.json")).unwrap();
    let v = m.flow("validate").unwrap();
    let at = |t: u32| v.per_second.iter().find(|s| s.t == t).map(|s| s.requests);
    assert_eq!(at(0), Some(4 + 6));
    assert_eq!(at(1), Some(4 + 6));
    assert_eq!(at(2), Some(4 + 5 + 6));
    assert_eq!(at(5), Some(5));
    assert_eq!(at(6), Some(5));
    assert_eq!(at(7), None);
    assert_eq!(v.requests, 75);
    let errs_at_1: u64 = v.per_second.iter().find(|s| s.t == 1).unwrap().errors;
    assert_eq!(errs_at_1, 2 + 1, "shard 0 and 2 errors land at second 1");
    assert_eq!(m.users_per_second, vec![4, 4, 6, 6, 6, 2, 2]);
    assert!(
        (m.meta.duration_s - 7.0).abs() < 1e-9,
        "{}",
        m.meta.duration_s
    );
    assert_eq!(m.meta.started_at, "2026-11-22T10:00:00Z");
    assert_eq!(m.meta.max_users, 6);
    assert_eq!(m.phases[0].users_to, 6);
    assert_eq!(m.flow("login").unwrap().errors["503"], 2 + 3 + 1);
    assert_eq!(m.flow("login").unwrap().error_samples.len(), 3);
    let c = m
        .thresholds
        .iter()
        .find(|t| t.rule == "validate: count>=20")
        .unwrap();
    assert_eq!(c.observed, Some(75.0));
    assert_eq!(m.outcome.verdict, "pass");
    // Per-second histograms are the exact sums of the aligned shard seconds.
    let second = |r: &RunRecord, t: u32| {
        decode(
            &r.flow("validate")
                .unwrap()
                .per_second
                .iter()
                .find(|s| s.t == t)
                .unwrap()
                .histogram,
        )
        .unwrap()
    };
    let expected = fed_with_samples(&[
        second(&shards[0], 2),
        second(&shards[1], 0),
        second(&shards[2], 2),
    ]);
    let got = second(&m, 2);
    for q in QUANTILES {
        assert_eq!(got.value_at_quantile(q), expected.value_at_quantile(q));
    }
}

#[test]
fn merges_of_shards_that_do_not_belong_together_exit_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let a = save(dir, "a", &fake_shard(0, 3, 0, 1, 4));
    let b = save(dir, "b", &fake_shard(1, 3, 0, 2, 4));
    let c = save(dir, "c", &fake_shard(2, 3, 0, 3, 4));
    let mut other_run = fake_shard(2, 3, 0, 3, 4);
    other_run.meta.run_id = "other".into();
    let other_run = save(dir, "other-run", &other_run);
    let mut other_profile = fake_shard(2, 3, 0, 3, 4);
    other_profile.meta.shard.as_mut().unwrap().profile_plan = "9,0s;9,5s;0,0".into();
    let other_profile = save(dir, "other-profile", &other_profile);
    let mut other_contract = fake_shard(2, 3, 0, 3, 4);
    other_contract.meta.contract = "form-username".into();
    let other_contract = save(dir, "other-contract", &other_contract);
    let mut other_rules = fake_shard(2, 3, 0, 3, 4);
    other_rules.meta.rules = Some(vec!["all: p95<1ms".into()]);
    let other_rules = save(dir, "other-rules", &other_rules);
    let mut unsharded = fake_shard(2, 3, 0, 3, 4);
    unsharded.meta.shard = None;
    let unsharded = save(dir, "unsharded", &unsharded);
    let four = save(dir, "four", &fake_shard(2, 4, 0, 3, 4));
    // Counts that add up, but one more request than the histograms hold.
    let mut tampered = fake_shard(2, 3, 0, 3, 4);
    let v = tampered
        .flows
        .iter_mut()
        .find(|f| f.name == "validate")
        .unwrap();
    v.per_second[0].requests += 1;
    v.requests += 1;
    v.ok += 1;
    let tampered = save(dir, "tampered", &tampered);
    let old_schema = dir.join("old-schema.json");
    let text = std::fs::read_to_string(&c).unwrap().replacen(
        "\"schema_version\": 1",
        "\"schema_version\": 99",
        1,
    );
    std::fs::write(&old_schema, text).unwrap();
    let old_schema = old_schema.display().to_string();

    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec![&a, &b, &other_run],
            "other-run",
            "run id 'other' differs",
        ),
        (
            vec![&a, &b, &other_profile],
            "other-profile",
            "profile plan",
        ),
        (
            vec![&a, &b, &other_contract],
            "other-contract",
            "contract 'form-username'",
        ),
        (vec![&a, &b, &other_rules], "other-rules", "thresholds"),
        (vec![&a, &b, &unsharded], "unsharded", "not a shard"),
        (vec![&a, &b, &four], "four", "shard count '4' differs"),
        (
            vec![&a, &b, &old_schema],
            "old-schema.json",
            "schema_version 99",
        ),
        (
            vec![&a, &b, &tampered],
            "tampered",
            "histogram holds 20 samples, requests is 21",
        ),
        (vec![&a, &b, &b, &c], "b", "shard 1/3 given twice"),
        (vec![&a, &c], "", "shard 1/3 missing"),
        (vec![&b], "", "shard 0/3, shard 2/3 missing"),
    ];
    for (i, (files, names, says)) in cases.into_iter().enumerate() {
        let out = dir.join(format!("out-{i}"));
        let mut args = vec!["merge", "--out", out.to_str().unwrap()];
        args.extend(files);
        let o = loadtest(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "case {i}: {err}");
        assert_eq!(err.lines().count(), 1, "case {i}: one line: {err}");
        assert!(err.contains(says), "case {i}: wanted '{says}': {err}");
        assert!(err.contains(names), "case {i}: wanted '{names}': {err}");
        assert!(!out.join("run.json").exists(), "case {i}: nothing written");
    }
    // Sanity: the three good ones merge.
    let out = dir.join("good");
    let o = loadtest([
        "merge",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        &a,
        &b,
        &c,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn shard_flags_refuse_bad_values_with_exit_2() {
    let soon = (OffsetDateTime::now_utc() - time::Duration::minutes(5))
        .format(&Rfc3339)
        .unwrap();
    let far = (OffsetDateTime::now_utc() + time::Duration::hours(30))
        .format(&Rfc3339)
        .unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["smoke", "--shard", "3/3"], "0-based"),
        (vec!["smoke", "--shard", "x"], "I/N"),
        (vec!["smoke", "--shard", "1/2"], "peaks at 1 users"),
        (vec!["smoke", "--start-at", "noon"], "RFC 3339"),
        (vec!["smoke", "--start-at", &soon], "in the past"),
        (vec!["smoke", "--start-at", &far], "24 h"),
        (vec!["smoke", "--run-id", "a b"], "run id"),
    ];
    for (args, says) in cases {
        let o = loadtest(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: wanted '{says}': {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

// ---- Kubernetes manifests -------------------------------------------------------------------

fn manifest(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/k8s")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[k],
    })
}

fn s<'a>(v: &'a Value, path: &str) -> &'a str {
    get(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not a string: {:?}", get(v, path)))
}

fn env_of(container: &Value) -> BTreeMap<String, Value> {
    container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| (s(e, "name").to_string(), e.clone()))
        .collect()
}

/// The container's volume mounts as mount path → (volume name, claim or config map).
fn mounts(pod: &Value, container: &Value) -> BTreeMap<String, (String, String)> {
    let volumes = pod["volumes"].as_sequence().unwrap();
    container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            let name = s(m, "name");
            let vol = volumes
                .iter()
                .find(|v| s(v, "name") == name)
                .unwrap_or_else(|| panic!("volume '{name}' mounted but not declared"));
            let source = if let Some(c) = vol["persistentVolumeClaim"]["claimName"].as_str() {
                format!("pvc:{c}")
            } else if let Some(c) = vol["configMap"]["name"].as_str() {
                format!("configmap:{c}")
            } else {
                "other".to_string()
            };
            (s(m, "mountPath").to_string(), (name.to_string(), source))
        })
        .collect()
}

#[test]
fn kubernetes_manifests_are_consistent() {
    let shards = manifest("shards-job.yaml");
    let merge = manifest("merge-job.yaml");
    let config = manifest("config.yaml");
    let pvc = manifest("pvc.yaml");
    let results = manifest("results-pod.yaml");

    // The shards: an Indexed Job, one pod per shard, all at once, no retries.
    assert_eq!(s(&shards, "apiVersion"), "batch/v1");
    assert_eq!(s(&shards, "kind"), "Job");
    assert_eq!(s(&shards, "spec.completionMode"), "Indexed");
    let completions = get(&shards, "spec.completions").as_u64().unwrap();
    assert!(completions >= 2);
    assert_eq!(get(&shards, "spec.parallelism").as_u64(), Some(completions));
    assert_eq!(get(&shards, "spec.backoffLimit").as_u64(), Some(0));
    let pod = get(&shards, "spec.template.spec");
    assert_eq!(s(pod, "restartPolicy"), "Never");
    let c = &pod["containers"][0];
    let env = env_of(c);
    assert_eq!(
        env["SHARDS"]["value"].as_str(),
        Some(completions.to_string().as_str()),
        "SHARDS must equal completions"
    );
    for key in ["RUN_ID", "START_AT", "TARGET_URL"] {
        assert_eq!(
            s(&env[key], "valueFrom.configMapKeyRef.key"),
            key,
            "{key} comes from the run ConfigMap"
        );
        assert_eq!(
            s(&env[key], "valueFrom.configMapKeyRef.name"),
            "loadtest-run"
        );
    }
    let script = s(c, "args.0");
    assert!(script.contains("$JOB_COMPLETION_INDEX"), "{script}");
    assert!(script.contains("--shard \"env/$SHARDS\""), "{script}");
    for flag in [
        "--run-id \"$RUN_ID\"",
        "--start-at \"$START_AT\"",
        "--host \"$TARGET_URL\"",
    ] {
        assert!(script.contains(flag), "{flag} missing: {script}");
    }
    assert!(script.contains("out=\"/results/$RUN_ID/shard-$JOB_COMPLETION_INDEX\""));

    // Files the shard reads come from the ConfigMap, and the ConfigMap parses.
    let shard_mounts = mounts(pod, c);
    assert_eq!(
        shard_mounts["/config"].1,
        format!("configmap:{}", s(&config, "metadata.name"))
    );
    let data = &config["data"];
    for (flag, key) in [
        ("--profiles", "profiles.toml"),
        ("--contract", "contract.toml"),
        ("--thresholds", "thresholds.toml"),
    ] {
        assert!(
            script.contains(&format!("{flag} /config/{key}")),
            "{flag}: {script}"
        );
        assert!(data[key].is_string(), "ConfigMap lacks {key}");
    }
    // Keys hold dots: index the map directly.
    let file = |key: &str| data[key].as_str().unwrap();
    let profiles =
        loadtest::profile::Profiles::from_toml(file("profiles.toml"), "profiles.toml").unwrap();
    let profile = s(&env["PROFILE"], "value");
    let p = profiles.get(profile).unwrap();
    assert!(
        u64::from(p.stages.iter().map(|st| st.users).min().unwrap()) >= completions,
        "every shard gets users in every stage"
    );
    loadtest::contract::Contract::from_toml(file("contract.toml"), "contract.toml").unwrap();
    loadtest::thresholds::ThresholdSet::from_toml_str(file("thresholds.toml"), "t").unwrap();

    // Results: the same claim, at the same path, for shards, merge and the copy pod.
    let claim = format!("pvc:{}", s(&pvc, "metadata.name"));
    assert_eq!(s(&pvc, "kind"), "PersistentVolumeClaim");
    assert_eq!(s(&pvc, "spec.accessModes.0"), "ReadWriteMany");
    assert_eq!(shard_mounts["/results"].1, claim);
    assert_eq!(s(&merge, "kind"), "Job");
    let merge_pod = get(&merge, "spec.template.spec");
    let mc = &merge_pod["containers"][0];
    assert_eq!(mounts(merge_pod, mc)["/results"].1, claim);
    assert_eq!(
        mounts(&results["spec"], &results["spec"]["containers"][0])["/results"].1,
        claim
    );
    let merge_script = s(mc, "args.0");
    assert!(
        merge_script.contains("loadtest merge \"$dir\"/shard-* --out \"$dir/merged\""),
        "{merge_script}"
    );
    assert!(merge_script.contains("dir=\"/results/$RUN_ID\""));
    assert_eq!(
        s(&env_of(mc)["RUN_ID"], "valueFrom.configMapKeyRef.name"),
        "loadtest-run"
    );

    // One image everywhere, the one the Dockerfile/README build.
    let image = s(c, "image");
    assert_eq!(s(mc, "image"), image);
    assert_eq!(s(&results, "spec.containers.0.image"), image);
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("docker build -t {image} .")),
        "README builds {image}"
    );
    let dockerfile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM debian:bookworm-slim"));
    assert!(dockerfile.contains("ENTRYPOINT [\"loadtest\"]"));
    // The pods run as the image's user.
    let uid = get(pod, "securityContext.runAsUser").as_u64().unwrap();
    assert!(dockerfile.contains(&format!("USER {uid}")));
}
