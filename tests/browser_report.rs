//! Browser tests: headless Chromium loads report.html and capacity.html from disk (no
//! network: file:// pages whose CSP forbids every fetch), dumps the DOM and takes
//! screenshots. The DOM must hold the expected charts (SVG elements per chart section), the
//! console must stay empty (a CSP violation or a script error would log there), and no
//! script from target text may have run: the fixture's error samples try to set
//! `document.title = 'pwned'`. capacity.html's rows must match capacity.json.
//!
//! Without Chromium the tests fail when `CI` is set (scripts/ci-setup.sh installs it) and
//! print a loud skip line otherwise. Screenshots for humans are written to reports/
//! (`browser-report.png` of the fixture, `report-spike.png` of a spike run, `capacity.png`).

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::sample::{self, fixture, HOSTILE_SAMPLES};
use loadtest::export::{capacity, write_reports};

fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// What a headless Chromium run printed: the page output (DOM dump) and the console lines
/// the page logged (`--enable-logging=stderr` prints them as `…:CONSOLE:…` lines).
struct Output {
    stdout: String,
    console: Vec<String>,
}

/// Runs headless Chromium on `page` with `extra` flags; returns stdout. Kills it after 90 s.
fn chromium(bin: &Path, profile: &Path, page: &Path, extra: &[String]) -> String {
    chromium_output(bin, profile, page, extra).stdout
}

fn chromium_output(bin: &Path, profile: &Path, page: &Path, extra: &[String]) -> Output {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let read_all = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = from.read_to_string(&mut s);
            s
        })
    };
    let reader = read_all(Box::new(child.stdout.take().expect("piped stdout")));
    let errors = read_all(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Output {
        stdout: reader.join().expect("stdout reader"),
        console: errors
            .join()
            .expect("stderr reader")
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
    }
}

/// Screenshot of the top `height` CSS pixels of `page` at `scale` (device pixels per CSS
/// pixel) into reports/`name` (PNG, checked to be one and < 300 KB).
fn screenshot(
    bin: &Path,
    profile: &Path,
    page: &Path,
    name: &str,
    height: u32,
    scale: f64,
) -> PathBuf {
    let shot_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
    std::fs::create_dir_all(&shot_dir).unwrap();
    let shot = shot_dir.join(name);
    let _ = std::fs::remove_file(&shot);
    chromium(
        bin,
        profile,
        page,
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size=1180,{height}"),
            format!("--force-device-scale-factor={scale}"),
            "--hide-scrollbars".into(),
        ],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000 && png.len() < 300_000,
        "{}: {} bytes",
        shot.display(),
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
    shot
}

/// The Chromium binary, or `None` after printing a loud skip line (outside CI).
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let bin = find_chromium();
    if bin.is_none() {
        if in_ci() {
            panic!("chromium is not installed: CI must run the browser test (scripts/ci-setup.sh installs it)");
        }
        // Written to the stderr handle directly: libtest captures eprintln!, and this line
        // must be seen.
        let _ = std::io::stderr().write_all(
            format!(
                "\n########################################################################\n\
                 SKIPPED {test}: chromium not found (apt-get install chromium, or run\n\
                 scripts/ci-setup.sh); with CI set this test fails instead.\n\
                 ########################################################################\n\n"
            )
            .as_bytes(),
        );
    }
    bin
}

/// The markup of the element with `id`, up to its closing `</section>`.
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the DOM"));
    let end = dom[start..].find("</section>").expect("section end") + start;
    &dom[start..end]
}

fn title(dom: &str) -> &str {
    let start = dom.find("<title>").expect("<title>") + "<title>".len();
    let end = dom[start..].find("</title>").expect("</title>") + start;
    &dom[start..end]
}

#[test]
fn report_renders_in_chromium_and_runs_no_target_text() {
    let Some(bin) = chromium_or_skip("browser_report") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();

    // Control: a page whose own script changes the title, proving a script that runs would
    // show in the dumped DOM (so the check below is not vacuous).
    let control = dir.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><html><head><title>before</title></head><body>\
         <script>document.title='ran';console.error('control')</script></body></html>",
    )
    .unwrap();
    let out = chromium_output(&bin, profile.path(), &control, &["--dump-dom".into()]);
    assert_eq!(
        title(&out.stdout),
        "ran",
        "control script must run: {}",
        out.stdout
    );
    assert!(
        out.console.iter().any(|l| l.contains("\"control\"")),
        "the console check must see a logged line: {:?}",
        out.console
    );

    let record = fixture();
    write_reports(&record, dir.path()).unwrap();
    let page = dir.path().join("report.html");
    let out = chromium_output(&bin, profile.path(), &page, &["--dump-dom".into()]);
    assert!(out.console.is_empty(), "console: {:?}", out.console);
    let dom = out.stdout;

    // No script from target text ran, and none is in the DOM as an element.
    assert_eq!(title(&dom), "loadtest smoke: FAIL");
    assert!(
        !dom.contains("pwned\">") && !dom.contains("<script"),
        "live script element"
    );
    assert!(!dom.contains("<img"), "live img element from target text");
    // The hostile samples are there, as text.
    let errors = section(&dom, "errors");
    assert!(
        errors.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{errors}"
    );
    assert_eq!(errors.matches("<li>").count(), HOSTILE_SAMPLES.len() + 1);

    // The charts: one spectrum, per flow one latency chart and one throughput panel, users.
    let svgs = |id| section(&dom, id).matches("<svg").count();
    assert_eq!(svgs("chart-spectrum"), 1);
    assert_eq!(svgs("chart-latency-time"), record.flows.len());
    assert_eq!(svgs("chart-throughput"), record.flows.len());
    assert_eq!(svgs("chart-users"), 1);
    assert_eq!(dom.matches("<svg").count(), 2 + 2 * record.flows.len());
    for svg in dom.split("<svg").skip(1) {
        let body = &svg[..svg.find("</svg>").expect("closed svg")];
        assert!(body.contains("<polyline"), "every chart draws lines");
        assert!(body.contains("<text"), "every chart has axis labels");
    }

    // Screenshot for humans.
    screenshot(
        &bin,
        profile.path(),
        &page,
        "browser-report.png",
        4600,
        0.75,
    );
}

#[test]
fn capacity_report_renders_in_chromium_and_matches_capacity_json() {
    let Some(bin) = chromium_or_skip("capacity browser test") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    // As `loadtest capacity` writes it: capacity.json and capacity.html side by side, each
    // step's run (with its report) in the folder the row links to.
    let cap = sample::capacity();
    std::fs::write(
        dir.path().join("capacity.json"),
        serde_json::to_string_pretty(&cap).unwrap(),
    )
    .unwrap();
    for s in &cap.steps {
        let run = dir.path().join(&s.run_dir);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("report.html"),
            "<!DOCTYPE html><title>step</title>",
        )
        .unwrap();
    }
    let page = dir.path().join("capacity.html");
    std::fs::write(&page, capacity::render(&cap).unwrap()).unwrap();
    let out = chromium_output(&bin, profile.path(), &page, &["--dump-dom".into()]);
    assert!(out.console.is_empty(), "console: {:?}", out.console);
    let dom = out.stdout;
    assert!(title(&dom).starts_with("loadtest capacity: validate"));
    assert!(!dom.contains("<script"));

    // The verdict first, then the chart with the metric and its unit and whole-rate ticks.
    let summary = section(&dom, "summary");
    assert!(summary.contains("highest rate that held: 600 req/s (failed at 700 req/s)"));
    assert!(summary.contains("class=\"headline pass\""));
    let chart = section(&dom, "chart");
    assert_eq!(chart.matches("<svg").count(), 1);
    assert!(chart.contains("<polyline") && chart.contains("<circle"));
    assert!(chart.contains("p95 latency (ms)"));
    assert!(chart.contains("600/s") && !chart.contains(".0/s"));

    // One row per step of capacity.json, in order, held/failed as recorded, each linking to
    // its step's report by a relative path that exists.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("capacity.json")).unwrap())
            .unwrap();
    let steps = json["steps"].as_array().unwrap();
    let table = section(&dom, "steps");
    let rows: Vec<&str> = table.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), steps.len());
    for (row, step) in rows.iter().zip(steps) {
        let held = step["held"].as_bool().unwrap();
        let class = if held { "passed" } else { "failed" };
        assert!(row.starts_with(&format!(" class=\"{class}\"")), "{row}");
        let rate = format!(">{:.0}/s<", step["target_rps"].as_f64().unwrap());
        assert!(row.contains(&rate), "{rate} in {row}");
        assert!(row.contains(&format!(">{}<", step["observed_text"].as_str().unwrap())));
        let href = row
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(
            href,
            format!("{}/report.html", step["run_dir"].as_str().unwrap())
        );
        assert!(dir.path().join(href).is_file(), "{href}");
    }

    screenshot(&bin, profile.path(), &page, "capacity.png", 1300, 1.0);
}

#[test]
fn spike_report_shows_recovery_in_chromium() {
    let Some(bin) = chromium_or_skip("spike browser test") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let record = sample::spike();
    write_reports(&record, dir.path()).unwrap();
    let page = dir.path().join("report.html");
    let out = chromium_output(&bin, profile.path(), &page, &["--dump-dom".into()]);
    assert!(out.console.is_empty(), "console: {:?}", out.console);
    let dom = out.stdout;
    let recovery = section(&dom, "recovery");
    assert!(recovery.contains("Recovery after the spike"), "{recovery}");
    assert_eq!(recovery.matches("<svg").count(), 1);
    // Small multiples: one throughput panel per flow, phases named on them.
    let throughput = section(&dom, "chart-throughput");
    assert_eq!(throughput.matches("<svg").count(), record.flows.len());
    assert!(throughput.contains("spike") && throughput.contains("recovery"));
    screenshot(&bin, profile.path(), &page, "report-spike.png", 5200, 0.65);
}
