//! The report: the JSON object every invocation returns (the command line prints
//! it), built once from the plan and the write outcomes. [`log`] writes its log
//! lines, [`emf`] its CloudWatch metrics.

mod assemble;
pub mod cloud_map;
pub mod emf;
pub mod log;
pub mod text;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::classify::OwnedRecord;
use crate::decide::{
    Decision, DeleteReason, Evidence, Guard, HoldReason, KeepReason, Plan, Planned,
};
pub use crate::events::Trigger;
use crate::model::WriteOutcome;
pub use assemble::{NamespaceRan, Ran, Shape, Swept};
use cloud_map::{NamespaceReport, ReportedHealthUpdate};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordCounts {
    pub scanned: usize,
    pub owned: usize,
    pub foreign: usize,
}

/// The reason of an entry in `deleted` (why it went) or `held` (why it stayed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Reason {
    Deleted(DeleteReason),
    Held(HoldReason),
}

/// One record in `deleted` or `held`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub set_identifier: Option<String>,
    pub target: String,
    pub reason: Reason,
    /// For `held`: the deletion reason that was decided and held back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided: Option<DeleteReason>,
    /// What the deletion (for `held`: the decided one) rests on.
    pub evidence: Option<Evidence>,
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
    pub kept: BTreeMap<KeepReason, usize>,
    pub deleted: Vec<ReportedRecord>,
    pub held: Vec<ReportedRecord>,
    pub guard: Guard,
    pub stopped_tasks: Vec<String>,
    pub errors: Vec<String>,
    /// One entry per Cloud Map namespace swept; present only with
    /// `CLOUD_MAP_NAMESPACES` set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_map: Option<Vec<NamespaceReport>>,
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
        .map(|k| (k, 0))
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
            guard: Guard::default(),
            stopped_tasks: Vec::new(),
            errors: Vec::new(),
            cloud_map: None,
            duration_ms: 0,
        }
    }

    /// Adds a Cloud Map namespace's entry; an incomplete namespace makes the
    /// whole report incomplete (its `errors` say why).
    pub fn add_namespace(&mut self, entry: NamespaceReport) {
        self.complete &= entry.complete;
        self.cloud_map.get_or_insert_with(Vec::new).push(entry);
    }

    /// Fills in the zone's plan and what became of its writes.
    pub fn record(&mut self, plan: &Plan, written: &Written) {
        self.guard = plan.guard;
        let folded = fold(plan, written);
        self.complete &= folded.complete;
        for (k, n) in folded.kept {
            *self.kept.entry(k).or_default() += n;
        }
        self.deleted.extend(folded.removed);
        self.held.extend(folded.held);
        self.stopped_tasks
            .extend(written.stopped_tasks.iter().cloned());
        for e in folded.errors {
            add_error(&mut self.errors, &e);
        }
    }
}

/// What became of a plan's writes, in the plan's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// One per deletion ([`Plan::deletions`]).
    pub outcomes: Vec<WriteOutcome>,
    /// One per custom health update.
    pub marks: Vec<Result<(), String>>,
    /// Tasks stopped (`STOP_UNHEALTHY_TASKS`).
    pub stopped_tasks: Vec<String>,
    /// Why tasks could not be stopped.
    pub errors: Vec<String>,
}

/// How a registry's items appear in its report entry.
pub(crate) trait ReportItem: Sized {
    type Entry;
    /// What a deletion is called in `errors` ("deletions", "deregistrations").
    const REMOVALS: &'static str;
    fn entry(p: &Planned<Self>, reason: Reason, decided: Option<DeleteReason>) -> Self::Entry;
}

/// One registry's part of the report: the one assembly the zone's fields and each
/// `cloud_map` entry are both made from.
pub(crate) struct Folded<E> {
    pub kept: BTreeMap<KeepReason, usize>,
    /// Deleted (deregistered), or in a dry run what would be.
    pub removed: Vec<E>,
    pub held: Vec<E>,
    pub health_updates: Vec<ReportedHealthUpdate>,
    pub errors: Vec<String>,
    /// False when a write was accepted but not seen through, or not attempted.
    pub complete: bool,
}

/// Folds a plan and what became of its writes: kept items counted, held and
/// deleted ones listed with their reason (and the reason decided, for a hold),
/// failed writes into `errors`, writes accepted but not seen through or not
/// attempted making it incomplete. A deletion that found its item gone already,
/// or was never attempted (said once), is not listed.
pub(crate) fn fold<T: ReportItem>(plan: &Plan<T>, written: &Written) -> Folded<T::Entry> {
    let mut folded = Folded {
        kept: BTreeMap::new(),
        removed: Vec::new(),
        held: Vec::new(),
        health_updates: Vec::new(),
        errors: Vec::new(),
        complete: true,
    };
    if written.outcomes.contains(&WriteOutcome::Skipped) {
        folded.complete = false;
        let why = format!("deadline near: some {} were not attempted", T::REMOVALS);
        folded.errors.push(why);
    }
    let mut outcomes = written.outcomes.iter();
    for p in &plan.items {
        let (list, reason, decided) = match p.decision {
            Decision::Keep(k) => {
                *folded.kept.entry(k).or_default() += 1;
                continue;
            }
            Decision::Hold { decided, hold } => {
                (&mut folded.held, Reason::Held(hold), Some(decided))
            }
            Decision::Delete(reason) => match outcomes.next() {
                Some(WriteOutcome::Deleted) => (&mut folded.removed, Reason::Deleted(reason), None),
                Some(WriteOutcome::Conflict(_)) => {
                    let held = Reason::Held(HoldReason::WriteConflict);
                    (&mut folded.held, held, Some(reason))
                }
                Some(WriteOutcome::Failed(message)) => {
                    add_error(&mut folded.errors, message);
                    continue;
                }
                Some(WriteOutcome::Unconfirmed(message)) => {
                    folded.complete = false;
                    add_error(&mut folded.errors, message);
                    continue;
                }
                Some(WriteOutcome::Vanished | WriteOutcome::Skipped) | None => continue,
            },
        };
        list.push(T::entry(p, reason, decided));
    }
    for (update, mark) in plan.health_updates.iter().zip(&written.marks) {
        match mark {
            Ok(()) => folded.health_updates.push(ReportedHealthUpdate {
                service: update.service.clone(),
                instance_id: update.instance_id.clone(),
                status: update.status,
            }),
            Err(message) => add_error(&mut folded.errors, message),
        }
    }
    folded.errors.extend(written.errors.iter().cloned());
    folded
}

/// Adds `message` to `errors` unless it is there already.
pub(crate) fn add_error(errors: &mut Vec<String>, message: &str) {
    if !errors.iter().any(|e| e == message) {
        errors.push(message.to_string());
    }
}

impl ReportItem for OwnedRecord {
    type Entry = ReportedRecord;
    const REMOVALS: &'static str = "deletions";

    fn entry(p: &Planned<Self>, reason: Reason, decided: Option<DeleteReason>) -> ReportedRecord {
        ReportedRecord {
            name: p.item.set.name.clone(),
            rtype: p.item.set.rtype.clone(),
            set_identifier: p.item.set.set_identifier.clone(),
            target: p.target.clone(),
            reason,
            decided,
            evidence: p.evidence.clone(),
        }
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
            assert_eq!(crate::model::wire_name(&t), s);
        }
    }
}
