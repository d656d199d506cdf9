//! The report's `cloud_map` entries: one per namespace, built from its plan and
//! what became of the deregistrations and health updates.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{add_error, fold, Reason, RecordCounts, ReportItem, Written};
use crate::classify::OwnedInstance;
use crate::decide::{DeleteReason, Evidence, Guard, KeepReason, Plan, Planned};
use crate::model::cloud_map::HealthStatus;

/// One namespace's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceReport {
    /// `null` when the configured name or id matched no namespace.
    pub namespace_id: Option<String>,
    pub namespace: String,
    pub complete: bool,
    pub instances: RecordCounts,
    /// `healthy`, `grace`, `out-of-scope` always; `unhealthy` (custom health,
    /// marked) and `unchecked` when non-zero.
    pub kept: BTreeMap<KeepReason, usize>,
    pub deregistered: Vec<ReportedInstance>,
    pub held: Vec<ReportedInstance>,
    pub health_updates: Vec<ReportedHealthUpdate>,
    pub guard: Guard,
    pub errors: Vec<String>,
}

/// One instance in `deregistered` or `held`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedInstance {
    pub service: String,
    pub instance_id: String,
    /// `ip:port`, or `ip`.
    pub target: String,
    pub reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided: Option<DeleteReason>,
    /// What the deregistration (for `held`: the decided one) rests on.
    pub evidence: Option<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedHealthUpdate {
    pub service: String,
    pub instance_id: String,
    pub status: HealthStatus,
}

impl NamespaceReport {
    /// An empty entry for the namespace configured as `namespace`.
    pub fn new(namespace: &str, limit_percent: u8) -> Self {
        NamespaceReport {
            namespace_id: None,
            namespace: namespace.to_string(),
            complete: true,
            instances: RecordCounts::default(),
            kept: [
                KeepReason::Healthy,
                KeepReason::Grace,
                KeepReason::OutOfScope,
            ]
            .into_iter()
            .map(|k| (k, 0))
            .collect(),
            deregistered: Vec::new(),
            held: Vec::new(),
            health_updates: Vec::new(),
            guard: Guard {
                limit_percent,
                ..Guard::default()
            },
            errors: Vec::new(),
        }
    }

    /// Fills in the namespace's plan and what became of its writes.
    pub fn record(&mut self, plan: &Plan<OwnedInstance>, written: &Written) {
        self.guard = plan.guard;
        let folded = fold(plan, written);
        self.complete &= folded.complete;
        for (k, n) in folded.kept {
            *self.kept.entry(k).or_default() += n;
        }
        self.deregistered.extend(folded.removed);
        self.held.extend(folded.held);
        self.health_updates.extend(folded.health_updates);
        for e in folded.errors {
            add_error(&mut self.errors, &e);
        }
    }
}

impl ReportItem for OwnedInstance {
    type Entry = ReportedInstance;
    const REMOVALS: &'static str = "deregistrations";

    fn entry(p: &Planned<Self>, reason: Reason, decided: Option<DeleteReason>) -> ReportedInstance {
        ReportedInstance {
            service: p.item.service.clone(),
            instance_id: p.item.id.clone(),
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
    fn an_empty_entry_has_every_field() {
        let json = serde_json::to_value(NamespaceReport::new("web.local", 50)).unwrap();
        for field in [
            "namespace_id",
            "namespace",
            "complete",
            "instances",
            "kept",
            "deregistered",
            "held",
            "health_updates",
            "guard",
            "errors",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert_eq!(json["guard"]["limit_percent"], 50);
        assert_eq!(
            json["kept"],
            serde_json::json!({"healthy": 0, "grace": 0, "out-of-scope": 0})
        );
        assert_eq!(
            serde_json::to_value(HealthStatus::Unhealthy).unwrap(),
            "UNHEALTHY"
        );
    }

    #[test]
    fn a_namespaces_guard_and_counts_reach_the_metrics_and_the_summary() {
        use crate::report::{Report, Trigger};
        let mut report = Report::new(Trigger::Schedule, false, None);
        let mut entry = NamespaceReport::new("web.local", 50);
        entry.guard.tripped = true;
        entry.deregistered.push(ReportedInstance {
            service: "web".into(),
            instance_id: "i1".into(),
            target: "10.0.0.5:80".into(),
            reason: Reason::Deleted(DeleteReason::TaskStopped),
            decided: None,
            evidence: None,
        });
        report.add_namespace(entry);

        let emf = report.emf_line(0);
        let lines: Vec<serde_json::Value> = emf
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["GuardTripped"], 1, "{emf}");
        assert!(lines
            .iter()
            .any(|l| l["Deregistered"] == 1 && l["Reason"] == "task-stopped"));

        let summary = report.summary(&Default::default());
        assert_eq!(summary["cloud_map"][0]["guard_tripped"], true);
        assert_eq!(summary["cloud_map"][0]["deregistered"]["task-stopped"], 1);
    }
}
