//! Report: the JSON object a sweep or an event returns (SPEC §6).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::apply::WriteOutcome;
use crate::plan::{Decision, Guard, HoldReason, KeepReason, Plan, Planned};

/// What started the run; the report's `trigger`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Schedule,
    EcsTaskStopped,
    Ec2InstanceState,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::EcsTaskStopped => "ecs-task-stopped",
            Self::Ec2InstanceState => "ec2-instance-state",
            Self::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordCounts {
    pub scanned: usize,
    pub owned: usize,
    pub foreign: usize,
}

/// One record in `deleted` or `held`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub set_identifier: Option<String>,
    pub target: String,
    pub reason: String,
    /// For `held`: the deletion reason that was decided and held back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GuardReport {
    pub tripped: bool,
    pub limit_percent: u8,
    pub negative: usize,
    pub owned: usize,
}

impl From<Guard> for GuardReport {
    fn from(g: Guard) -> Self {
        GuardReport {
            tripped: g.tripped,
            limit_percent: g.limit_percent,
            negative: g.negative,
            owned: g.owned,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub trigger: Trigger,
    pub dry_run: bool,
    /// `null` only when the run ended before the zone was looked up.
    pub hosted_zone_id: Option<String>,
    pub complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    pub records: RecordCounts,
    /// `healthy`, `grace`, `out-of-scope` always; `unchecked` when a deadline cut
    /// the health checks short.
    pub kept: BTreeMap<&'static str, usize>,
    pub deleted: Vec<ReportedRecord>,
    pub held: Vec<ReportedRecord>,
    pub guard: GuardReport,
    pub stopped_tasks: Vec<String>,
    pub errors: Vec<String>,
    pub duration_ms: u64,
}

impl Report {
    /// An empty report for `trigger`, to be filled in.
    pub fn new(trigger: Trigger, dry_run: bool, hosted_zone_id: Option<String>) -> Self {
        let kept = [
            KeepReason::Healthy,
            KeepReason::Grace,
            KeepReason::OutOfScope,
        ]
        .into_iter()
        .map(|k| (k.as_str(), 0))
        .collect();
        Report {
            trigger,
            dry_run,
            hosted_zone_id,
            complete: true,
            ignored: None,
            records: RecordCounts::default(),
            kept,
            deleted: Vec::new(),
            held: Vec::new(),
            guard: GuardReport::default(),
            stopped_tasks: Vec::new(),
            errors: Vec::new(),
            duration_ms: 0,
        }
    }

    /// Fills in the plan's decisions and what became of the deletions.
    /// `outcomes` holds one entry per [`Plan::deletions`] item, in order (in a dry
    /// run, every one `Deleted`: what would be).
    pub fn record_plan(&mut self, plan: &Plan, outcomes: &[WriteOutcome]) {
        self.guard = plan.guard.into();
        let mut outcomes = outcomes.iter();
        for p in &plan.items {
            match p.decision {
                Decision::Keep(k) => *self.kept.entry(k.as_str()).or_default() += 1,
                Decision::Hold { decided, hold } => {
                    self.held
                        .push(entry(p, hold.as_str(), Some(decided.as_str())))
                }
                Decision::Delete(reason) => match outcomes.next() {
                    Some(WriteOutcome::Deleted) => {
                        self.deleted.push(entry(p, reason.as_str(), None))
                    }
                    Some(WriteOutcome::Conflict(_)) => self.held.push(entry(
                        p,
                        HoldReason::WriteConflict.as_str(),
                        Some(reason.as_str()),
                    )),
                    Some(WriteOutcome::Failed(message)) => {
                        if !self.errors.contains(message) {
                            self.errors.push(message.clone());
                        }
                    }
                    // Gone already (not reported), or never attempted.
                    Some(WriteOutcome::Vanished | WriteOutcome::Skipped) | None => {}
                },
            }
        }
    }
}

/// Where an invocation's time went, for the summary log line (not the report).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    pub listing_ms: u64,
    pub inventory_ms: u64,
    pub health_ms: u64,
    pub apply_ms: u64,
}

impl Report {
    fn count_by_reason(list: &[ReportedRecord]) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for r in list {
            *counts.entry(r.reason.as_str()).or_default() += 1;
        }
        counts
    }

    /// Logs one line per deletion and one summary line for the invocation.
    pub fn log(&self, timings: &Timings) {
        for d in &self.deleted {
            tracing::info!(
                name = %d.name, r#type = %d.rtype, set_identifier = d.set_identifier.as_deref().unwrap_or(""),
                target = %d.target, reason = %d.reason, dry_run = self.dry_run,
                "{}", if self.dry_run { "would delete record" } else { "deleted record" }
            );
        }
        let deleted =
            serde_json::to_string(&Self::count_by_reason(&self.deleted)).unwrap_or_default();
        let held = serde_json::to_string(&Self::count_by_reason(&self.held)).unwrap_or_default();
        let kept = serde_json::to_string(&self.kept).unwrap_or_default();
        tracing::info!(
            trigger = self.trigger.as_str(),
            dry_run = self.dry_run,
            complete = self.complete,
            ignored = self.ignored.as_deref().unwrap_or(""),
            scanned = self.records.scanned,
            owned = self.records.owned,
            foreign = self.records.foreign,
            kept = %kept,
            deleted = %deleted,
            held = %held,
            guard_tripped = self.guard.tripped,
            errors = self.errors.len(),
            duration_ms = self.duration_ms,
            listing_ms = timings.listing_ms,
            inventory_ms = timings.inventory_ms,
            health_ms = timings.health_ms,
            apply_ms = timings.apply_ms,
            "sweep summary"
        );
    }

    /// The invocation's metrics as one CloudWatch Embedded Metric Format line
    /// (namespace `EcsDnsReaper`): CloudWatch extracts them from the log stream, so
    /// metrics cost no API call. Deleted and held counts carry a `Reason` dimension.
    pub fn emf_line(&self, timestamp_ms: u64) -> String {
        let metric = |name: &str, unit: &str| serde_json::json!({"Name": name, "Unit": unit});
        let mut lines = Vec::new();
        let base = serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "EcsDnsReaper",
                    "Dimensions": [[]],
                    "Metrics": [
                        metric("RecordsScanned", "Count"),
                        metric("RecordsOwned", "Count"),
                        metric("GuardTripped", "Count"),
                        metric("SweepDuration", "Milliseconds"),
                    ],
                }],
            },
            "Trigger": self.trigger.as_str(),
            "RecordsScanned": self.records.scanned,
            "RecordsOwned": self.records.owned,
            "GuardTripped": u8::from(self.guard.tripped),
            "SweepDuration": self.duration_ms,
        });
        lines.push(base.to_string());
        for (metric_name, list) in [("Deleted", &self.deleted), ("Held", &self.held)] {
            for (reason, count) in Self::count_by_reason(list) {
                lines.push(
                    serde_json::json!({
                        "_aws": {
                            "Timestamp": timestamp_ms,
                            "CloudWatchMetrics": [{
                                "Namespace": "EcsDnsReaper",
                                "Dimensions": [["Reason"]],
                                "Metrics": [metric(metric_name, "Count")],
                            }],
                        },
                        "Reason": reason,
                        metric_name: count,
                    })
                    .to_string(),
                );
            }
        }
        lines.join("\n")
    }
}

fn entry(p: &Planned, reason: &str, decided: Option<&str>) -> ReportedRecord {
    ReportedRecord {
        name: p.record.set.name.clone(),
        rtype: p.record.set.rtype.clone(),
        set_identifier: p.record.set.set_identifier.clone(),
        target: p.target.clone(),
        reason: reason.to_string(),
        decided: decided.map(String::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_report_has_every_spec_field() {
        let report = Report::new(Trigger::Schedule, false, Some("Z1".into()));
        let json = serde_json::to_value(&report).unwrap();
        for field in [
            "trigger",
            "dry_run",
            "hosted_zone_id",
            "complete",
            "records",
            "kept",
            "deleted",
            "held",
            "guard",
            "stopped_tasks",
            "errors",
            "duration_ms",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert_eq!(json["trigger"], "schedule");
        assert_eq!(
            json["kept"],
            serde_json::json!({"healthy": 0, "grace": 0, "out-of-scope": 0})
        );
        assert_eq!(
            json["records"],
            serde_json::json!({"scanned": 0, "owned": 0, "foreign": 0})
        );
        assert_eq!(
            json["guard"],
            serde_json::json!({"tripped": false, "limit_percent": 0, "negative": 0, "owned": 0})
        );
        assert!(json.get("ignored").is_none());
        for (t, s) in [
            (Trigger::EcsTaskStopped, "ecs-task-stopped"),
            (Trigger::Ec2InstanceState, "ec2-instance-state"),
            (Trigger::Manual, "manual"),
        ] {
            assert_eq!(serde_json::to_value(t).unwrap(), s);
            assert_eq!(t.as_str(), s);
        }
    }
}
