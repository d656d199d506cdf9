//! What the storm did: each event's outcome against what it had to delete, its
//! listing time, and the zone after the storm against the zone before.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use serde_json::{json, Value};

use super::setup::report_key;
use super::{Delivered, Key, Planned, ZoneCheck};
use crate::summary::summary_line;
use crate::support::runtime_api::{Outcome, Posted};

/// How many records the event's report deleted, and what was wrong with it: it
/// must have deleted exactly `expected`, as `task-stopped`, held nothing, and
/// reported no error.
pub(super) fn check(outcome: Option<Outcome>, expected: &BTreeSet<Key>) -> (usize, Option<String>) {
    let report = match outcome.map(|o| o.posted) {
        None => return (0, Some("no response within the deadline".to_string())),
        Some(Posted::Error { body, .. }) => return (0, Some(format!("invocation error: {body}"))),
        Some(Posted::Response(report)) => report,
    };
    let deleted: Vec<&Value> = report["deleted"].as_array().into_iter().flatten().collect();
    let keys: BTreeSet<Key> = deleted.iter().map(|d| report_key(d)).collect();
    let mut problems = Vec::new();
    if report["trigger"] != "ecs-task-stopped" {
        problems.push(format!("trigger {}", report["trigger"]));
    }
    if !report["ignored"].is_null() {
        problems.push(format!("ignored: {}", report["ignored"]));
    }
    if report["complete"] != true {
        problems.push("incomplete".to_string());
    }
    for field in ["errors", "held"] {
        if report[field].as_array().is_some_and(|a| !a.is_empty()) {
            problems.push(format!("{field}: {}", report[field]));
        }
    }
    if deleted.iter().any(|d| d["reason"] != "task-stopped") {
        problems.push("a deletion not for `task-stopped`".to_string());
    }
    if keys != *expected || deleted.len() != expected.len() {
        problems.push(format!(
            "deleted {:?}, expected {expected:?}",
            keys.iter().collect::<Vec<_>>()
        ));
    }
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    (deleted.len(), problem)
}

/// Adds each event's `listing_ms`, from the function's `sweep summary` lines (one
/// per invocation, in order), when there is one line per event.
pub(super) fn with_listing_times(
    mut delivered: Vec<Delivered>,
    stderr_log: &Path,
) -> Vec<Delivered> {
    let text = std::fs::read_to_string(stderr_log).unwrap_or_default();
    let listings: Vec<Option<u64>> = text
        .lines()
        .filter_map(summary_line)
        .map(|s| s.get("listing_ms").and_then(Value::as_u64))
        .collect();
    if listings.len() == delivered.len() {
        for (d, ms) in delivered.iter_mut().zip(listings) {
            d.listing_ms = ms;
        }
    } else {
        eprintln!(
            "bench: event storm: {} summary lines for {} events: no listing times",
            listings.len(),
            delivered.len()
        );
    }
    delivered
}

/// One JSON line per event, for a closer look.
pub(super) fn save_events(delivered: &[Delivered], path: &Path) {
    let lines: Vec<String> = delivered
        .iter()
        .map(|e| {
            json!({
                "kind": e.kind.short(),
                "round_trip_ms": e.round_trip_ms,
                "route53": e.route53(),
                "minimum_route53": e.minimum_route53,
                "zone_sets": e.zone_sets,
                "answered": e.answered(),
                "throttled": e.throttled,
                "deleted": e.deleted,
                "expected": e.expected,
                "problem": e.problem,
                "listing_ms": e.listing_ms,
            })
            .to_string()
        })
        .collect();
    let _ = std::fs::write(path, lines.join("\n") + "\n");
}

/// The zone after the storm against the zone before, less the records the events
/// were to delete.
pub(super) fn zone_check(
    before: &HashSet<Key>,
    after: &HashSet<Key>,
    planned: &[Planned],
) -> ZoneCheck {
    let gone: HashSet<&Key> = planned.iter().flat_map(|p| &p.expected).collect();
    let also_gone = before
        .iter()
        .filter(|k| !gone.contains(k) && !after.contains(*k))
        .count();
    let left = gone.iter().filter(|k| after.contains(**k)).count();
    ZoneCheck {
        before: before.len(),
        after: after.len(),
        expected_gone: gone.len(),
        also_gone,
        left,
    }
}
