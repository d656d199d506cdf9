//! An `ECS Task State Change` to STOPPED, re-checked against ECS before anything
//! is deleted: events come at least once and out of order.

use super::backing::backing;
use super::estate::Estate;
use super::{
    event_plan, plain_target, Decision, DeleteReason, KeepReason, Plan, PlanSettings, Planned,
};
use crate::classify::{OwnedRecord, Target};
use crate::events::EcsTaskStateChange;
use crate::model::{Inventory, Task, TaskStatus};
use crate::names::HostName;

/// What an `ECS Task State Change` to STOPPED says about one task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoppedTask {
    /// Container ids of the task's containers, as the event or ECS reports them.
    pub runtime_ids: Vec<String>,
    /// The EC2 instance the task ran on, when known.
    pub instance_id: Option<String>,
    /// Host ports the task's containers were bound to.
    pub host_ports: Vec<u16>,
}

impl StoppedTask {
    /// The event's word and ECS's (`task`, `inventory`: the task and its
    /// container instance as ECS describes them now), merged.
    pub fn new(detail: &EcsTaskStateChange, task: Option<&Task>, inventory: &Inventory) -> Self {
        let from_ecs = task.map(|t| t.containers.as_slice()).unwrap_or_default();
        let runtime_ids = detail
            .containers
            .iter()
            .filter_map(|c| c.runtime_id.clone())
            .chain(from_ecs.iter().filter_map(|c| c.runtime_id.clone()))
            .collect();
        let host_ports = detail
            .containers
            .iter()
            .flat_map(|c| c.network_bindings.iter().filter_map(|b| b.host_port))
            .chain(
                from_ecs
                    .iter()
                    .flat_map(|c| c.bindings.iter().map(|b| b.host_port)),
            )
            .collect();
        StoppedTask {
            runtime_ids,
            instance_id: inventory
                .container_instances
                .first()
                .and_then(|ci| ci.ec2_instance_id.clone()),
            host_ports,
        }
    }
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
/// out of order, so each is re-checked against `inventory` (the task's container
/// instance now): a record that a running task backs — a replacement on the same
/// host port, say — is kept.
pub fn decide_task_stopped(
    records: &[OwnedRecord],
    stopped: &StoppedTask,
    inventory: &Inventory,
    settings: &PlanSettings,
) -> Plan {
    let estate = Estate::new(inventory);
    let running: Vec<&Task> = inventory
        .container_instances
        .iter()
        .filter_map(|ci| estate.tasks.get(ci.arn.as_str()))
        .flatten()
        .copied()
        .collect();
    let on_its_host = |host: &HostName| {
        let holder = estate.instance_for_host(host);
        holder.is_some_and(|i| stopped.instance_id.as_deref() == Some(i.id.as_str()))
    };
    let matches = |record: &OwnedRecord| {
        let container = match &record.target {
            Target::Srv { container, .. } => container.as_ref(),
            Target::Cname { container, .. } => Some(container),
            Target::HostA { .. } => return false,
        };
        let by_id = container.is_some_and(|c| stopped.runtime_ids.iter().any(|r| c.matches(r)));
        let by_port = match &record.target {
            Target::Srv {
                host,
                port,
                container,
            } => {
                (container.is_none() || stopped.runtime_ids.is_empty())
                    && stopped.host_ports.contains(port)
                    && on_its_host(host)
            }
            _ => false,
        };
        by_id || by_port
    };
    let items = records
        .iter()
        .filter(|r| matches(r))
        .map(|record| {
            let decision = match backing(record, &running, &estate) {
                Some(_) => Decision::Keep(KeepReason::Healthy),
                None => Decision::Delete(DeleteReason::TaskStopped),
            };
            Planned {
                record: record.clone(),
                target: plain_target(record),
                decision,
                task: None,
                detail: None,
            }
        })
        .collect();
    event_plan(items, records.len(), settings)
}
