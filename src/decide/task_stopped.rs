//! An `ECS Task State Change` to STOPPED, re-checked against ECS before anything
//! is deleted: events come at least once and out of order.

use std::collections::BTreeSet;

use std::time::SystemTime;

use super::backing::declarations;
use super::estate::Estate;
use super::judge::Verdict;
use super::sweep::assess;
use super::{
    event_plan, plain_target, Decision, DeleteReason, Evidence, KeepReason, Plan, PlanSettings,
    Planned,
};
use crate::classify::{OwnedRecord, Target};
use crate::model::{Inventory, Task, TaskDefinition, TaskStatus, TaskStoppedEvent};
use crate::names::{ContainerId, HostName};

/// What an `ECS Task State Change` to STOPPED says about one task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoppedTask {
    /// The task's ARN, as the event names it.
    pub arn: String,
    /// What ECS reports of it now (last and desired status); `None` when ECS no
    /// longer knows it.
    pub ecs: Option<(TaskStatus, TaskStatus)>,
    /// Container ids of the task's containers, as the event or ECS reports them.
    pub runtime_ids: Vec<String>,
    /// The EC2 instance the task ran on, when known.
    pub instance_id: Option<String>,
    /// Host ports the task's containers were bound to.
    pub host_ports: Vec<u16>,
}

impl StoppedTask {
    /// The event's word and ECS's (`task`: the task as ECS describes it now),
    /// merged. The host is not known yet: see [`needs_host`].
    pub fn new(event: &TaskStoppedEvent, task: Option<&Task>) -> Self {
        let from_ecs = task.map(|t| t.containers.as_slice()).unwrap_or_default();
        let runtime_ids = event
            .runtime_ids
            .iter()
            .cloned()
            .chain(from_ecs.iter().filter_map(|c| c.runtime_id.clone()))
            .collect();
        let host_ports = event
            .host_ports
            .iter()
            .copied()
            .chain(
                from_ecs
                    .iter()
                    .flat_map(|c| c.bindings.iter().map(|b| b.host_port)),
            )
            .collect();
        StoppedTask {
            arn: event.task_arn.clone(),
            ecs: task.map(|t| (t.last_status, t.desired_status)),
            runtime_ids,
            instance_id: None,
            host_ports,
        }
    }
}

/// The record names the task's containers declare (`SERVICE_<p>_NAME`, from its
/// definition and overrides), fully qualified under `apex`: the only names a
/// task-stopped event lists. Empty when ECS shows no declaration (it may be set in
/// the image): then the whole zone is listed.
pub fn declared_names(
    task: Option<&Task>,
    definition: Option<&TaskDefinition>,
    apex: &str,
) -> Vec<String> {
    let containers = task.map(|t| t.containers.as_slice()).unwrap_or_default();
    let names: BTreeSet<String> = containers
        .iter()
        .flat_map(|c| declarations(c, definition))
        .map(|(_, service)| service.trim_end_matches('.').to_ascii_lowercase())
        .filter(|service| !service.is_empty())
        .map(|service| format!("{service}.{apex}."))
        .collect();
    names.into_iter().collect()
}

/// Whether the re-check needs the host (its EC2 instance and running tasks):
/// only when a listed record can be one of the task's — by container id, or a
/// SRV record that could be by host and port. Nothing else needs it, so a
/// replayed event whose records are gone costs no read of the host.
pub fn needs_host(records: &[OwnedRecord], stopped: &StoppedTask) -> bool {
    records.iter().any(|record| match &record.target {
        Target::Srv { container, .. } => {
            container.is_none()
                || stopped.runtime_ids.is_empty()
                || by_id(container.as_ref(), stopped)
        }
        Target::Cname { container, .. } => by_id(Some(container), stopped),
        Target::HostA { .. } => false,
    })
}

fn by_id(container: Option<&ContainerId>, stopped: &StoppedTask) -> bool {
    container.is_some_and(|c| stopped.runtime_ids.iter().any(|r| c.matches(r)))
}

/// Why the event is ignored when ECS reports the task neither stopped nor
/// stopping (a late or replayed event); `None` when ECS agrees, or no longer knows
/// the task.
pub fn ecs_says_not_stopped(task: Option<&Task>) -> Option<String> {
    let task = task?;
    let stopped = TaskStatus::Stopped;
    if task.desired_status == stopped || task.last_status == stopped {
        return None;
    }
    Some(format!(
        "ECS reports task {} as {} (desired {}), not stopped: nothing deleted",
        task.arn,
        task.last_status.name(),
        task.desired_status.name()
    ))
}

/// The records of a stopped task: those whose container id matches one of its
/// containers' runtime ids, and SRV records on its host and host ports that carry
/// no container id (or when the event reports none). Events come at least once and
/// out of order, so each is judged again by the sweep's judge ([`assess`]) on what
/// the event read (`inventory`: the task's host, every registration of its EC2
/// instance and their running tasks): a record the sweep would keep — backed by a
/// running task under any registration, or on a host where a task is still
/// starting — is kept; one the sweep would delete goes, as `task-stopped`.
pub fn decide_task_stopped(
    records: &[OwnedRecord],
    stopped: &StoppedTask,
    inventory: &Inventory,
    settings: &PlanSettings,
    now: SystemTime,
) -> Plan {
    let estate = Estate::new(inventory);
    let on_its_host = |host: &HostName| {
        let holder = estate.instance_for_host(host);
        holder.is_some_and(|i| stopped.instance_id.as_deref() == Some(i.id.as_str()))
    };
    let is_the_tasks = |record: &OwnedRecord| match &record.target {
        Target::Srv {
            host,
            port,
            container,
        } => {
            by_id(container.as_ref(), stopped)
                || ((container.is_none() || stopped.runtime_ids.is_empty())
                    && stopped.host_ports.contains(port)
                    && on_its_host(host))
        }
        Target::Cname { container, .. } => by_id(Some(container), stopped),
        Target::HostA { .. } => false,
    };
    let assessments = assess(records, inventory, settings, now);
    let items = records
        .iter()
        .zip(assessments)
        .filter(|(record, _)| is_the_tasks(record))
        .map(|(record, assessment)| {
            let (decision, evidence) = match assessment.verdict {
                Verdict::Decided(Decision::Delete(_)) => {
                    let evidence = Evidence::TaskStopped {
                        task: stopped.arn.clone(),
                        ecs: stopped.ecs,
                    };
                    (Decision::Delete(DeleteReason::TaskStopped), Some(evidence))
                }
                Verdict::Decided(keep) => (keep, None),
                Verdict::Check { .. } => (Decision::Keep(KeepReason::Healthy), None),
            };
            Planned {
                item: record.clone(),
                target: plain_target(record),
                decision,
                task: None,
                evidence,
            }
        })
        .collect();
    event_plan(items, records.len(), settings)
}
