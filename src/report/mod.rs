//! The report: the JSON object every invocation returns (the command line prints
//! it), built once from the plan and the write outcomes. [`log`] writes its log
//! lines, [`emf`] its CloudWatch metrics.

pub mod cloud_map;
pub mod emf;
pub mod log;
pub mod text;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::decide::{
    Decision, DeleteReason, Evidence, Guard, HoldReason, KeepReason, Plan, Planned,
};
pub use crate::events::Trigger;
use crate::model::WriteOutcome;
use cloud_map::NamespaceReport;

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

    /// The run did not get through everything: `why` goes to `errors`.
    pub fn incomplete(&mut self, why: impl Into<String>) {
        self.complete = false;
        self.errors.push(why.into());
    }

    /// Fills in the plan's decisions and what became of the deletions.
    /// `outcomes` holds one entry per [`Plan::deletions`] item, in order (in a dry
    /// run, every one `Deleted`: what would be).
    pub fn record_plan(&mut self, plan: &Plan, outcomes: &[WriteOutcome]) {
        self.guard = plan.guard;
        let (deleted, held) = (&mut self.deleted, &mut self.held);
        let tally = Tally {
            kept: &mut self.kept,
            errors: &mut self.errors,
            complete: &mut self.complete,
        };
        record_outcomes(plan, outcomes, tally, |p, reason, decided| {
            let list = match reason {
                Reason::Deleted(_) => &mut *deleted,
                Reason::Held(_) => &mut *held,
            };
            list.push(entry(p, reason, decided));
        });
    }
}

/// The parts of a report (or of a namespace's entry) that a plan's outcomes
/// are counted into, besides its lists.
pub(crate) struct Tally<'a> {
    pub kept: &'a mut BTreeMap<KeepReason, usize>,
    pub errors: &'a mut Vec<String>,
    pub complete: &'a mut bool,
}

/// Folds a plan and what became of its deletions (`outcomes`: one per
/// [`Plan::deletions`] item, in order) into a report: kept items counted, held
/// and deleted ones handed to `list` with their reason (and the reason decided,
/// for a hold), failed writes into `errors`, writes accepted but not seen
/// through making it incomplete. A deletion that found its item gone already,
/// or was never attempted (said once, by the writer), is not reported.
pub(crate) fn record_outcomes<T>(
    plan: &Plan<T>,
    outcomes: &[WriteOutcome],
    tally: Tally,
    mut list: impl FnMut(&Planned<T>, Reason, Option<DeleteReason>),
) {
    let mut outcomes = outcomes.iter();
    for p in &plan.items {
        match p.decision {
            Decision::Keep(k) => *tally.kept.entry(k).or_default() += 1,
            Decision::Hold { decided, hold } => list(p, Reason::Held(hold), Some(decided)),
            Decision::Delete(reason) => match outcomes.next() {
                Some(WriteOutcome::Deleted) => list(p, Reason::Deleted(reason), None),
                Some(WriteOutcome::Conflict(_)) => {
                    list(p, Reason::Held(HoldReason::WriteConflict), Some(reason))
                }
                Some(WriteOutcome::Failed(message)) => add_error(tally.errors, message),
                Some(WriteOutcome::Unconfirmed(message)) => {
                    *tally.complete = false;
                    add_error(tally.errors, message);
                }
                Some(WriteOutcome::Vanished | WriteOutcome::Skipped) | None => {}
            },
        }
    }
}

/// Adds `message` to `errors` unless it is there already.
pub(crate) fn add_error(errors: &mut Vec<String>, message: &str) {
    if !errors.iter().any(|e| e == message) {
        errors.push(message.to_string());
    }
}

fn entry(p: &Planned, reason: Reason, decided: Option<DeleteReason>) -> ReportedRecord {
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
