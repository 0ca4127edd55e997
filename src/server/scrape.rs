//! Scraping the target's Prometheus endpoint during a run: once at the start, every
//! [`INTERVAL`], and once at the end, each scrape reduced by the [`Mapping`] to four numbers.

use std::time::{Duration, Instant};

use prometheus_parse::{Sample, Scrape};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::mapping::{Mapping, RoleValues};
use super::{ScrapePoint, ScrapeRecord};
use crate::error::Failure;
use crate::text::sanitize;

/// Time between scrapes.
pub const INTERVAL: Duration = Duration::from_secs(2);
/// Time one scrape may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// Largest exposition read.
const BODY_LIMIT: usize = 8 << 20;

/// Whether and where to scrape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScrapeConfig {
    /// `None`: do not scrape.
    pub url: Option<String>,
    /// True when the URL was derived from the host (`HOST/metrics`): a target that does not
    /// answer there is skipped quietly.
    pub auto: bool,
    pub mapping: Mapping,
    /// Where the mapping came from (`built-in` or the file).
    pub mapping_source: String,
}

impl ScrapeConfig {
    /// From the command line: `--server-metrics URL`, `--no-server-metrics`,
    /// `--server-metrics-map FILE`. Without a URL the target's `HOST/metrics` is tried: see
    /// [`ScrapeConfig::for_host`].
    pub fn from_args(
        url: Option<&str>,
        off: bool,
        map: Option<&std::path::Path>,
    ) -> Result<ScrapeConfig, Failure> {
        let (mapping, mapping_source) = match map {
            Some(p) => (Mapping::load(p)?, p.display().to_string()),
            None => (Mapping::builtin(), "built-in".to_string()),
        };
        if off {
            return Ok(ScrapeConfig {
                mapping,
                mapping_source,
                ..ScrapeConfig::default()
            });
        }
        let (url, auto) = match url {
            Some(u) => {
                let parsed = url::Url::parse(u).map_err(|e| {
                    Failure::bad_input(format!("--server-metrics '{u}': not a URL ({e})"))
                })?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(Failure::bad_input(format!(
                        "--server-metrics '{u}': scheme must be http or https"
                    )));
                }
                (Some(u.to_string()), false)
            }
            None => (None, true),
        };
        Ok(ScrapeConfig {
            url,
            auto,
            mapping,
            mapping_source,
        })
    }

    /// Fills in the automatic URL `HOST/metrics` (when no URL was given and scraping is on).
    pub fn for_host(mut self, host: &str) -> ScrapeConfig {
        if self.auto && self.url.is_none() {
            self.url = Some(format!("{}/metrics", host.trim_end_matches('/')));
        }
        self
    }
}

/// Parses Prometheus text exposition (comments, `# HELP` / `# TYPE`, labels, histograms,
/// summaries, optional timestamps). Lines that are not samples are skipped.
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    Scrape::parse(lines).map(|s| s.samples).unwrap_or_default()
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let mut resp = client
        .get(url)
        .header("accept", "text/plain; version=0.0.4")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timed out".to_string()
            } else if e.is_connect() {
                "connection failed".to_string()
            } else {
                e.to_string()
            }
        })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > BODY_LIMIT {
            return Err(format!("exposition larger than {} MiB", BODY_LIMIT >> 20));
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// One scrape: fetched, parsed and mapped.
async fn scrape_once(
    client: &reqwest::Client,
    url: &str,
    mapping: &Mapping,
) -> Result<RoleValues, String> {
    let text = fetch(client, url).await?;
    let samples = parse_exposition(&text);
    if samples.is_empty() {
        return Err("no Prometheus samples in the response".into());
    }
    Ok(mapping.apply(&samples))
}

/// A scraper running beside the attack.
pub struct Scraper {
    task: Option<(oneshot::Sender<()>, JoinHandle<Option<ScrapeRecord>>)>,
}

impl Scraper {
    /// Does nothing (no URL configured).
    pub fn off() -> Scraper {
        Scraper { task: None }
    }

    /// Starts scraping now; `origin` is the run's time origin (the recorder's start).
    pub fn start(config: &ScrapeConfig, origin: Instant) -> Scraper {
        let Some(url) = config.url.clone() else {
            return Scraper::off();
        };
        let client = match reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("loadtest: warning: server metrics not scraped: {e}");
                return Scraper::off();
            }
        };
        let config = config.clone();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut record = ScrapeRecord {
                url: crate::text::redact_url(&url),
                mapping: config.mapping_source.clone(),
                interval_s: INTERVAL.as_secs_f64(),
                ..ScrapeRecord::default()
            };
            let mut tick = tokio::time::interval(INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last = false;
            loop {
                if !last {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = &mut stopped => last = true,
                    }
                }
                let t = origin.elapsed().as_secs_f64();
                match scrape_once(&client, &url, &config.mapping).await {
                    Ok(v) => record.points.push(ScrapePoint::new(t, v)),
                    Err(e) => {
                        if config.auto && record.points.is_empty() && record.errors == 0 {
                            // The target has no metrics endpoint: nothing to report.
                            return None;
                        }
                        record.errors += 1;
                        record.last_error = Some(sanitize(
                            &crate::secrets::global().scrub_registered(&e),
                            200,
                        ));
                    }
                }
                if last {
                    break;
                }
            }
            Some(record)
        });
        Scraper {
            task: Some((stop, task)),
        }
    }

    /// Takes the last scrape and returns what was scraped (`None` when nothing was
    /// configured, or when an automatic `HOST/metrics` did not answer).
    pub async fn finish(self) -> Option<ScrapeRecord> {
        let (stop, task) = self.task?;
        let _ = stop.send(());
        match tokio::time::timeout(TIMEOUT + Duration::from_secs(3), task).await {
            Ok(Ok(r)) => r.map(ScrapeRecord::finished),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_args() {
        let c = ScrapeConfig::from_args(None, false, None)
            .unwrap()
            .for_host("http://127.0.0.1:9/");
        assert_eq!(c.url.as_deref(), Some("http://127.0.0.1:9/metrics"));
        assert!(c.auto && c.mapping == Mapping::builtin());
        let c = ScrapeConfig::from_args(Some("http://h:1/m"), false, None)
            .unwrap()
            .for_host("http://x");
        assert_eq!((c.url.as_deref(), c.auto), (Some("http://h:1/m"), false));
        let c = ScrapeConfig::from_args(Some("http://h:1/m"), true, None)
            .unwrap()
            .for_host("http://x");
        assert_eq!(c.url, None);
        let e = ScrapeConfig::from_args(Some("ftp://h/m"), false, None).unwrap_err();
        assert!(e.one_line().contains("scheme"), "{}", e.one_line());
        let e =
            ScrapeConfig::from_args(None, false, Some("/no/such/map.toml".as_ref())).unwrap_err();
        assert!(e.one_line().contains("cannot read"), "{}", e.one_line());
    }
}
