//! HdrHistogram interval log (`latency.hlog`): the standard text format HdrHistogram's own
//! `HistogramLogReader`s, HistogramLogAnalyzer and hdr-plot read. One line per flow per second
//! that saw requests, tagged with the flow:
//!
//! ```text
//! #[Histogram log format version 1.3]
//! #[StartTime: 1764496800.000 (seconds since epoch), 2026-11-30T10:00:00Z]
//! #[BaseTime: 1764496800.000 (seconds since epoch)]
//! "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//! Tag=login,0.000,1.000,12.345,HISTFAAAA…
//! ```
//!
//! Timestamps are seconds since `BaseTime` (= the run's start); values in the histograms are
//! microseconds, as in run.json (the payloads are run.json's per-second histograms, byte for
//! byte); `Interval_Max` is in milliseconds (max µs ÷ 1000, HdrHistogram's "max value unit
//! ratio" of 1000 for µs data). Lines are in time order, flows in run.json order within a
//! second. A tag is the flow name with anything but `[A-Za-z0-9._-]` replaced by `_`, since
//! the format ends a tag at the first comma and readers split on whitespace.

use super::{ExportError, Exporter};
use crate::histogram::decode;
use crate::record::RunRecord;

pub struct HlogExporter;

/// The flow name as a log tag.
pub fn tag(flow: &str) -> String {
    let t: String = flow
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() {
        "_".into()
    } else {
        t
    }
}

/// Seconds since the epoch of an RFC 3339 time, or `None`.
fn epoch_seconds(rfc3339: &str) -> Option<f64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

impl Exporter for HlogExporter {
    fn name(&self) -> &'static str {
        "hlog"
    }

    fn file_name(&self) -> &'static str {
        "latency.hlog"
    }

    fn render(&self, record: &RunRecord) -> Result<String, ExportError> {
        let start = epoch_seconds(&record.meta.started_at).unwrap_or(0.0);
        let mut out = String::new();
        out.push_str("#[Histogram log format version 1.3]\n");
        out.push_str(&format!(
            "#[StartTime: {start:.3} (seconds since epoch), {}]\n",
            crate::text::sanitize(&record.meta.started_at, 40)
        ));
        out.push_str(&format!("#[BaseTime: {start:.3} (seconds since epoch)]\n"));
        out.push_str(&format!(
            "#[loadtest run {}, profile {}: values in microseconds, Interval_Max in milliseconds]\n",
            tag(&record.meta.run_id),
            tag(&record.meta.profile)
        ));
        out.push_str(
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
        );
        let duration = record.meta.duration_s;
        let mut lines: Vec<(u32, usize, String)> = Vec::new();
        for (i, flow) in record.flows.iter().enumerate() {
            let tag = tag(&flow.name);
            for s in &flow.per_second {
                let h = decode(&s.histogram).map_err(|message| ExportError::Histogram {
                    flow: flow.name.clone(),
                    message,
                })?;
                if h.is_empty() {
                    continue;
                }
                // The last second of a run may be partial.
                let left = duration - f64::from(s.t);
                let length = if left > 0.0 && left < 1.0 { left } else { 1.0 };
                lines.push((
                    s.t,
                    i,
                    format!(
                        "Tag={tag},{}.000,{length:.3},{:.3},{}\n",
                        s.t,
                        h.max() as f64 / 1000.0,
                        s.histogram.trim()
                    ),
                ));
            }
        }
        lines.sort_by_key(|(t, i, _)| (*t, *i));
        for (_, _, line) in lines {
            out.push_str(&line);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample::{fixture, HOSTILE_FLOW};

    #[test]
    fn header_legend_and_one_tagged_line_per_flow_second() {
        let r = fixture();
        let text = HlogExporter.render(&r).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#[Histogram log format version 1.3]");
        assert!(lines[1].starts_with("#[StartTime: 1795341600.000 (seconds since epoch), "));
        assert_eq!(
            lines[2],
            "#[BaseTime: 1795341600.000 (seconds since epoch)]"
        );
        assert!(lines[4].starts_with("\"StartTimestamp\""));
        let data: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with("Tag="))
            .collect();
        let expected: usize = r.flows.iter().map(|f| f.per_second.len()).sum();
        assert_eq!(data.len(), expected);
        assert_eq!(data[0].split(',').nth(1), Some("0.000"));
        // Time order: the start timestamps never go down.
        let starts: Vec<f64> = data
            .iter()
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
        // The hostile flow name becomes a plain tag: no comma, space or markup.
        let evil = tag(HOSTILE_FLOW);
        assert!(evil
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        assert!(data.iter().any(|l| l.starts_with(&format!("Tag={evil},"))));
        // The payload is run.json's histogram; Interval_Max is its max in ms.
        let login = &r.flows[0].per_second[3];
        let line = data
            .iter()
            .find(|l| l.starts_with("Tag=login,3.000,"))
            .unwrap();
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[4], login.histogram);
        let max = decode(&login.histogram).unwrap().max() as f64 / 1000.0;
        assert_eq!(fields[3], format!("{max:.3}"));
    }
}
