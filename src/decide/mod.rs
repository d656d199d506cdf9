//! The decision core: plain data in, one decision with one reason per record out.
//! Pure: no I/O, no SDK types.
//!
//! - [`sweep`]: a full sweep, in two steps around the health checks: [`assess`]
//!   judges each record from the inventory alone and says which endpoints need a
//!   check; [`decide`] folds in the health results.
//! - [`policy`]: the safety rules, applied to a plan after its records are decided
//!   (mass-deletion guard, incomplete inventory, last-record protection); each may
//!   only turn a deletion into a hold.
//! - [`task_stopped`] and [`instance_gone`]: what an event's re-check decides.
//! - [`estate`] indexes the inventory by what records name; [`backing`] says which
//!   running task backs a record and on which port.

mod backing;
mod estate;
mod instance_gone;
pub mod policy;
mod sweep;
mod task_stopped;

use std::time::Duration;

use serde::Serialize;

use crate::classify::{OwnedRecord, Target};
pub use crate::model::TaskRef;
use crate::model::WriteOutcome;

pub use instance_gone::{decide_instance_gone, ec2_says_not_gone, instance_record_names};
pub use sweep::{assess, decide, endpoints, Assessment, Verdict};
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
pub enum Evidence {
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
    pub fn evidence(self) -> Evidence {
        match self {
            Self::InstanceGone | Self::TaskStopped => Evidence::Positive,
            Self::HostUnknown | Self::TaskGone | Self::Unhealthy => Evidence::Negative,
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

/// One record's final decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub record: OwnedRecord,
    pub target: String,
    pub decision: Decision,
    /// The backing task to stop (`STOP_UNHEALTHY_TASKS`), when the record is deleted
    /// as `unhealthy` and every checked endpoint of that task failed.
    pub task: Option<TaskRef>,
    /// How the health check failed, for `unhealthy`.
    pub detail: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub items: Vec<Planned>,
    pub guard: Guard,
}

impl Plan {
    pub fn deletions(&self) -> impl Iterator<Item = &Planned> {
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

fn event_plan(items: Vec<Planned>, owned: usize, settings: &PlanSettings) -> Plan {
    Plan {
        items,
        guard: Guard {
            tripped: false,
            limit_percent: settings.max_delete_percent,
            negative: 0,
            owned,
        },
    }
}

#[cfg(test)]
mod tests;
