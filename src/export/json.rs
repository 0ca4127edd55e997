//! The run record itself, pretty-printed: what `run.json` holds.

use super::{ExportError, Exporter};
use crate::record::RunRecord;

pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn name(&self) -> &'static str {
        "json"
    }

    fn file_name(&self) -> &'static str {
        "run.json"
    }

    fn render(&self, record: &RunRecord) -> Result<String, ExportError> {
        serde_json::to_string_pretty(record).map_err(|e| ExportError::Json(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample::fixture;

    #[test]
    fn json_round_trips_through_the_loader() {
        let r = fixture();
        let text = JsonExporter.render(&r).unwrap();
        assert!(text.contains("\n  \"schema_version\": 1,"), "pretty JSON");
        assert_eq!(RunRecord::from_json(&text, "test").unwrap(), r);
    }
}
