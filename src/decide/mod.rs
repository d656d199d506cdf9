//! The decision core: plain data in, one decision with one reason per record (or
//! Cloud Map instance) out. Pure: no I/O, no SDK types.
//!
//! - `judge`: the one judge of every registry and trigger, in two steps around the
//!   health checks: a registry's [`Judge::assess`] gives each item a [`Verdict`]
//!   from what was read (and says which endpoints need a check); [`decide`] folds
//!   in the health results and the custom health marks, then the safety rules.
//! - The registries' sides: the zone's ([`ZoneJudge`], its decision table in
//!   `sweep`) and a namespace's ([`NamespaceJudge`], in [`cloud_map`]).
//! - [`policy`]: the safety rules, each a named [`policy::Policy`], applied to a
//!   plan after its items are decided; each may only turn a deletion into a hold
//!   or keep a mark back.
//! - `task_stopped` and `instance_gone`: which listed records an event is about;
//!   the zone's judge decides them on what the event read.
//! - `estate` indexes the inventory by what records name; `backing` says which
//!   running task backs a record and on which port; `ties` what ECS ties to a
//!   gone instance.

mod backing;
pub mod cloud_map;
mod estate;
mod evidence;
mod instance_gone;
mod judge;
pub mod policy;
mod sweep;
mod task_stopped;
mod ties;

use std::time::Duration;

use serde::Serialize;

use crate::classify::{OwnedRecord, Target};
use crate::model::cloud_map::HealthStatus;
pub use crate::model::TaskRef;
use crate::model::WriteOutcome;

pub use cloud_map::NamespaceJudge;
pub use evidence::{Backer, Evidence, Tie};
pub use instance_gone::{
    decide_instance_gone, ec2_says_not_gone, instance_record_names, tied_hosts, TiedHosts,
};
pub use judge::{decide, endpoints, Assessment, Judge, OnFailedCheck, Verdict};
pub use sweep::{assess, ZoneJudge};
pub use task_stopped::{
    decide_task_stopped, declared_names, ecs_says_not_stopped, needs_host, StoppedTask,
};

/// Settings the plan depends on (from the configuration).
#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub startup_grace: Duration,
    pub max_delete_percent: u8,
    pub keep_last_record: bool,
    /// `HEALTH_CHECK=off`: a backed record is healthy without a check.
    pub checks_off: bool,
}

/// Whether a deletion rests on something AWS said (positive) or on the absence of
/// something (negative). Only negative evidence is subject to the safety rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceKind {
    Positive,
    Negative,
}

/// Why a record is deleted: the report's `deleted[].reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteReason {
    InstanceGone,
    HostUnknown,
    TaskGone,
    Unhealthy,
    TaskStopped,
}

impl DeleteReason {
    pub fn evidence(self) -> EvidenceKind {
        match self {
            Self::InstanceGone | Self::TaskStopped => EvidenceKind::Positive,
            Self::HostUnknown | Self::TaskGone | Self::Unhealthy => EvidenceKind::Negative,
        }
    }
}

/// Why a record is kept: the report's `kept` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepReason {
    Healthy,
    Grace,
    OutOfScope,
    /// The sweep ran out of time before this record's endpoint was checked.
    Unchecked,
    /// Cloud Map only: an instance of a service with custom health whose check
    /// failed; kept, and marked `UNHEALTHY` in Cloud Map.
    Unhealthy,
}

/// Why a decided deletion was held back: the report's `held[].reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HoldReason {
    Guard,
    LastRecord,
    InventoryIncomplete,
    WriteConflict,
}

/// One outcome with one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Keep(KeepReason),
    Delete(DeleteReason),
    Hold {
        decided: DeleteReason,
        hold: HoldReason,
    },
}

/// One item's final decision: a record of the zone ([`OwnedRecord`], the default)
/// or an instance of a Cloud Map namespace ([`OwnedInstance`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned<T = OwnedRecord> {
    pub item: T,
    pub target: String,
    pub decision: Decision,
    /// The backing task to stop (`STOP_UNHEALTHY_TASKS`), when the record is deleted
    /// as `unhealthy` and every checked endpoint of that task failed.
    pub task: Option<TaskRef>,
    /// What a deletion (or a hold: what the decided deletion) rests on.
    pub evidence: Option<Evidence>,
}

/// The mass-deletion guard's arithmetic (the report's `guard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Guard {
    pub tripped: bool,
    pub limit_percent: u8,
    /// Negative-evidence deletion candidates, counted before last-record protection.
    pub negative: usize,
    pub owned: usize,
}

/// A custom health status to set (Cloud Map's UpdateInstanceCustomHealthStatus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthUpdate {
    pub service_id: String,
    pub service: String,
    pub instance_id: String,
    pub status: HealthStatus,
}

/// One registry's decisions: every owned item's, the guard's arithmetic, and the
/// custom health statuses to set (Cloud Map services with custom health only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<T = OwnedRecord> {
    pub items: Vec<Planned<T>>,
    pub guard: Guard,
    pub health_updates: Vec<HealthUpdate>,
}

impl<T> Default for Plan<T> {
    fn default() -> Self {
        Plan {
            items: Vec::new(),
            guard: Guard::default(),
            health_updates: Vec::new(),
        }
    }
}

/// What the safety rules need to know of a planned item, whatever it is.
pub trait PlanItem {
    /// What last-record protection counts by: a record's name (what resolvers ask
    /// for), an instance's Cloud Map service.
    fn group(&self) -> &str;
    /// Whether keeping this item keeps its group answering (a record of a service
    /// name; not a host's A record).
    fn answers_for_group(&self) -> bool;
    /// A stable tie-break between items of one group.
    fn identity(&self) -> Option<&str>;
    /// The custom health update that sets this item to `status`, for an item
    /// that can be marked (a Cloud Map instance); `None` otherwise.
    fn health_update(&self, _status: HealthStatus) -> Option<HealthUpdate> {
        None
    }
}

impl PlanItem for OwnedRecord {
    fn group(&self) -> &str {
        &self.set.name
    }

    fn answers_for_group(&self) -> bool {
        self.is_service()
    }

    fn identity(&self) -> Option<&str> {
        self.set.set_identifier.as_deref()
    }
}

impl<T> Plan<T> {
    pub fn deletions(&self) -> impl Iterator<Item = &Planned<T>> {
        self.items
            .iter()
            .filter(|p| matches!(p.decision, Decision::Delete(_)))
    }

    /// The tasks to stop (`STOP_UNHEALTHY_TASKS`): those behind records deleted
    /// as `unhealthy` whose deletion went through (`outcomes`: one per
    /// [`Plan::deletions`] item, in order).
    pub fn tasks_to_stop(&self, outcomes: &[WriteOutcome]) -> Vec<TaskRef> {
        self.deletions()
            .zip(outcomes)
            .filter(|(p, o)| {
                p.decision == Decision::Delete(DeleteReason::Unhealthy)
                    && **o == WriteOutcome::Deleted
            })
            .filter_map(|(p, _)| p.task.clone())
            .collect()
    }
}

/// The plain target of a record, without a declared port (events do not need one).
pub(crate) fn plain_target(record: &OwnedRecord) -> String {
    match &record.target {
        Target::Srv { host, port, .. } => format!("{host}:{port}"),
        Target::Cname { host, .. } => host.to_string(),
        Target::HostA { ip, .. } => ip.to_string(),
    }
}

fn event_plan<T>(items: Vec<Planned<T>>, owned: usize, settings: &PlanSettings) -> Plan<T> {
    Plan {
        items,
        guard: Guard {
            tripped: false,
            limit_percent: settings.max_delete_percent,
            negative: 0,
            owned,
        },
        health_updates: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
