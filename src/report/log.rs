//! Log lines: one per deletion, and one summary per invocation, built from the
//! report with its counts by reason as JSON objects (Lambda's JSON log format
//! keeps them queryable in CloudWatch Logs Insights: `kept.healthy`,
//! `deleted.unhealthy`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::cloud_map::NamespaceReport;
use super::{Reason, Report, ReportedRecord};
use crate::decide::Evidence;
use crate::model::wire_name;

/// Where an invocation's time went, for the summary line (not the report).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    pub listing_ms: u64,
    pub inventory_ms: u64,
    pub health_ms: u64,
    pub apply_ms: u64,
}

/// How many of `reasons` there are of each reason.
pub fn count_by_reason(reasons: impl IntoIterator<Item = Reason>) -> BTreeMap<Reason, usize> {
    let mut counts = BTreeMap::new();
    for r in reasons {
        *counts.entry(r).or_default() += 1;
    }
    counts
}

fn reasons(list: &[ReportedRecord]) -> impl Iterator<Item = Reason> + '_ {
    list.iter().map(|r| r.reason)
}

/// An entry's evidence for a log line (empty when there is none).
fn evidence(evidence: &Option<Evidence>) -> String {
    evidence
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// A namespace's counts for the summary line.
fn namespace_summary(entry: &NamespaceReport) -> serde_json::Value {
    json!({
        "namespace": entry.namespace,
        "complete": entry.complete,
        "scanned": entry.instances.scanned,
        "owned": entry.instances.owned,
        "kept": entry.kept,
        "deregistered": count_by_reason(entry.deregistered.iter().map(|r| r.reason)),
        "held": count_by_reason(entry.held.iter().map(|r| r.reason)),
        "health_updates": entry.health_updates.len(),
        "guard_tripped": entry.guard.tripped,
        "errors": entry.errors.len(),
    })
}

impl Report {
    /// The fields of the summary line: what the report counts, nested as objects,
    /// with the phase timings; `ignored` only when the event was ignored.
    pub fn summary(&self, timings: &Timings) -> serde_json::Value {
        let mut summary = json!({
            "trigger": self.trigger,
            "dry_run": self.dry_run,
            "complete": self.complete,
            "scanned": self.records.scanned,
            "owned": self.records.owned,
            "foreign": self.records.foreign,
            "kept": self.kept,
            "deleted": count_by_reason(reasons(&self.deleted)),
            "held": count_by_reason(reasons(&self.held)),
            "guard_tripped": self.guard.tripped,
            "errors": self.errors.len(),
            "duration_ms": self.duration_ms,
            "listing_ms": timings.listing_ms,
            "inventory_ms": timings.inventory_ms,
            "health_ms": timings.health_ms,
            "apply_ms": timings.apply_ms,
        });
        if let Some(why) = &self.ignored {
            summary["ignored"] = json!(why);
        }
        if let Some(entries) = &self.cloud_map {
            summary["cloud_map"] = entries.iter().map(namespace_summary).collect();
        }
        summary
    }

    /// Logs one line per deletion and one summary line for the invocation. The
    /// summary's fields travel as one JSON object in the `summary` field, which the
    /// Lambda log format merges into the line ([`crate::logging`]).
    pub fn log(&self, timings: &Timings) {
        for d in &self.deleted {
            tracing::info!(
                name = %d.name, r#type = %d.rtype, set_identifier = d.set_identifier.as_deref().unwrap_or(""),
                target = %d.target, reason = %wire_name(&d.reason), evidence = %evidence(&d.evidence),
                dry_run = self.dry_run,
                "{}", if self.dry_run { "would delete record" } else { "deleted record" }
            );
        }
        for (entry, d) in self
            .cloud_map
            .iter()
            .flatten()
            .flat_map(|e| e.deregistered.iter().map(move |d| (e, d)))
        {
            tracing::info!(
                namespace = %entry.namespace, service = %d.service, instance_id = %d.instance_id,
                target = %d.target, reason = %wire_name(&d.reason), evidence = %evidence(&d.evidence),
                dry_run = self.dry_run,
                "{}", if self.dry_run { "would deregister instance" } else { "deregistered instance" }
            );
        }
        for (entry, u) in self
            .cloud_map
            .iter()
            .flatten()
            .flat_map(|e| e.health_updates.iter().map(move |u| (e, u)))
        {
            tracing::info!(
                namespace = %entry.namespace, service = %u.service, instance_id = %u.instance_id,
                status = %wire_name(&u.status), dry_run = self.dry_run,
                "{}", if self.dry_run { "would set custom health" } else { "set custom health" }
            );
        }
        tracing::info!(summary = %self.summary(timings), "sweep summary");
    }
}
