//! The `sweep summary` log line: the phases of a sweep (or an event), in either
//! log format.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The phases of the last `sweep summary` line of `stderr`.
pub(super) fn phases(stderr: &str) -> BTreeMap<&'static str, u64> {
    let summary = summary_fields(stderr).unwrap_or_default();
    let mut phases = BTreeMap::new();
    for key in [
        "listing_ms",
        "inventory_ms",
        "health_ms",
        "apply_ms",
        "duration_ms",
    ] {
        if let Some(v) = summary.get(key).and_then(Value::as_u64) {
            phases.insert(key, v);
        }
    }
    if phases.len() < 5 {
        let last = stderr
            .lines()
            .rev()
            .find(|l| l.contains("sweep summary"))
            .unwrap_or("(none)");
        eprintln!("bench: no complete `sweep summary` line on the sweep's stderr:\n{last}");
    }
    phases
}

/// The fields of the last `sweep summary` line of `stderr`.
fn summary_fields(stderr: &str) -> Option<Map<String, Value>> {
    stderr.lines().rev().find_map(summary_line)
}

/// The fields of one `sweep summary` log line, in either log format: a JSON line
/// (Lambda) has them at top level, next to `"message": "sweep summary"`; a plain
/// line (the command line) carries them as one JSON object, `summary={…}`.
pub(super) fn summary_line(line: &str) -> Option<Map<String, Value>> {
    if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(line) {
        let is_summary = fields.get("message").and_then(Value::as_str) == Some("sweep summary");
        return is_summary.then_some(fields);
    }
    if !line.contains("sweep summary") {
        return None;
    }
    const FIELD: &str = "summary={";
    let at = line.find(FIELD)? + FIELD.len() - 1;
    // The object ends where its JSON ends: read one value, ignore what follows.
    let mut values = serde_json::Deserializer::from_str(&line[at..]).into_iter::<Value>();
    match values.next()? {
        Ok(Value::Object(fields)) => Some(fields),
        _ => None,
    }
}
