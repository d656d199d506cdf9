//! The one judge every registry and every trigger goes through: each owned item
//! gets a [`Verdict`] from what was read ([`Judge::assess`]), the endpoints the
//! verdicts name are checked, and [`decide`] folds the results in and applies the
//! safety rules ([`policy`]). A registry says only what is its own: how its items
//! are judged, what a failed check does to one (deleted, or kept and marked where
//! the reaper is the registry's health checker), and what last-record protection
//! counts.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::SystemTime;

use super::policy::{self, Listed};
use super::{
    Decision, DeleteReason, Evidence, HealthUpdate, KeepReason, Plan, PlanItem, PlanSettings,
    Planned, TaskRef,
};
use crate::model::cloud_map::HealthStatus;
use crate::model::health::{Endpoint, HealthResult};

/// What the first pass concluded for one item, before health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// Where the item points, for the report (`host:port`, `ip:port`, an address).
    pub target: String,
    pub verdict: Verdict,
    /// What a decided deletion rests on.
    pub evidence: Option<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Decided(Decision),
    /// Nothing read decides: the check of `endpoint` does. `task`: the running task
    /// behind it, which `STOP_UNHEALTHY_TASKS` may stop (a zone record's backer).
    Check {
        endpoint: Endpoint,
        task: Option<TaskRef>,
    },
}

impl From<Verdict> for Assessment {
    /// A verdict that rests on nothing said, with no target of its own.
    fn from(verdict: Verdict) -> Self {
        Assessment {
            target: String::new(),
            verdict,
            evidence: None,
        }
    }
}

/// How a failed check ends for one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailedCheck {
    /// Deleted (deregistered) as `unhealthy`: a zone record, or a Cloud Map
    /// instance of a service without custom health.
    Delete,
    /// Kept and marked `UNHEALTHY` (a Cloud Map service with
    /// `HealthCheckCustomConfig`: the reaper is its health checker); `now` is what
    /// Cloud Map says of it now.
    Mark { now: Option<HealthStatus> },
}

/// A registry's side of the judging: the zone ([`super::ZoneJudge`]) and each
/// Cloud Map namespace ([`super::NamespaceJudge`]).
pub trait Judge {
    type Item: PlanItem + Clone;

    /// Judges each item from what was read alone (the decision table's first pass).
    fn assess(
        &self,
        items: &[Self::Item],
        settings: &PlanSettings,
        now: SystemTime,
    ) -> Vec<Assessment>;

    /// What a failed check does to `item`.
    fn on_failed_check(&self, item: &Self::Item) -> OnFailedCheck;

    /// Everything the registry listed, owned or not, as the safety rules count it.
    fn listed(&self) -> Listed<'_>;
}

/// The distinct endpoints the assessments need checked.
pub fn endpoints(assessments: &[Assessment]) -> BTreeSet<Endpoint> {
    assessments
        .iter()
        .filter_map(|a| match &a.verdict {
            Verdict::Check { endpoint, .. } => Some(*endpoint),
            Verdict::Decided(_) => None,
        })
        .collect()
}

/// Final decisions: health results (and the custom health marks they change),
/// then the safety rules ([`policy`]).
pub fn decide<J: Judge>(
    judge: &J,
    items: &[J::Item],
    assessments: impl IntoIterator<Item = impl Into<Assessment>>,
    health: &HashMap<Endpoint, HealthResult>,
    inventory_complete: bool,
    settings: &PlanSettings,
) -> Plan<J::Item> {
    let assessments: Vec<Assessment> = assessments.into_iter().map(Into::into).collect();
    let answering = tasks_answering(&assessments, health);
    let mut health_updates: Vec<HealthUpdate> = Vec::new();
    let items = items
        .iter()
        .zip(assessments)
        .map(|(item, a)| {
            let (decision, task, evidence) = match a.verdict {
                Verdict::Decided(d) => (d, None, a.evidence),
                Verdict::Check { endpoint, task } => {
                    let result = health.get(&endpoint);
                    let on_failure = judge.on_failed_check(item);
                    let (decision, evidence, mark) = checked(endpoint, result, on_failure);
                    health_updates.extend(mark.and_then(|status| item.health_update(status)));
                    let stop = decision == Decision::Delete(DeleteReason::Unhealthy);
                    let task = task.filter(|t| stop && !answering.contains(&t.arn));
                    (decision, task, evidence)
                }
            };
            Planned {
                item: item.clone(),
                target: a.target,
                decision,
                task,
                evidence,
            }
        })
        .collect();
    let mut plan = Plan {
        items,
        guard: Default::default(),
        health_updates,
    };
    policy::apply_safety_rules(&mut plan, inventory_complete, &judge.listed(), settings);
    plan
}

/// One checked item's decision, how its check failed, and the custom health
/// status to set when it changes what the registry says.
fn checked(
    endpoint: Endpoint,
    result: Option<&HealthResult>,
    on_failure: OnFailedCheck,
) -> (Decision, Option<Evidence>, Option<HealthStatus>) {
    let failed = |failures: &Vec<String>| {
        Some(Evidence::ChecksFailed {
            endpoint,
            failures: failures.clone(),
        })
    };
    let mark = |now: Option<HealthStatus>, to: HealthStatus| changes(now, to).then_some(to);
    match (result, on_failure) {
        (None, _) => (Decision::Keep(KeepReason::Unchecked), None, None),
        (Some(HealthResult::Healthy), OnFailedCheck::Delete) => {
            (Decision::Keep(KeepReason::Healthy), None, None)
        }
        (Some(HealthResult::Healthy), OnFailedCheck::Mark { now }) => (
            Decision::Keep(KeepReason::Healthy),
            None,
            mark(now, HealthStatus::Healthy),
        ),
        (Some(HealthResult::Unhealthy { failures }), OnFailedCheck::Delete) => (
            Decision::Delete(DeleteReason::Unhealthy),
            failed(failures),
            None,
        ),
        (Some(HealthResult::Unhealthy { failures }), OnFailedCheck::Mark { now }) => (
            Decision::Keep(KeepReason::Unhealthy),
            failed(failures),
            mark(now, HealthStatus::Unhealthy),
        ),
    }
}

/// Whether setting `to` changes what Cloud Map says: `UNHEALTHY` unless it says
/// so already; `HEALTHY` only to undo an `UNHEALTHY` (an instance Cloud Map has
/// never been told about starts healthy, or as `AWS_INIT_HEALTH_STATUS` said).
fn changes(now: Option<HealthStatus>, to: HealthStatus) -> bool {
    match to {
        HealthStatus::Unhealthy => now != Some(HealthStatus::Unhealthy),
        _ => now == Some(HealthStatus::Unhealthy),
    }
}

/// The tasks with at least one checked endpoint that answered: never stopped,
/// whatever their other endpoints did.
fn tasks_answering(
    assessments: &[Assessment],
    health: &HashMap<Endpoint, HealthResult>,
) -> HashSet<String> {
    assessments
        .iter()
        .filter_map(|a| match &a.verdict {
            Verdict::Check {
                endpoint,
                task: Some(task),
            } if health.get(endpoint).is_some_and(HealthResult::is_healthy) => {
                Some(task.arn.clone())
            }
            _ => None,
        })
        .collect()
}
