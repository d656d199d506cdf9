//! Which running task backs a record, on which port, and whether it is still in
//! its grace period ("Backs" and "grace" in docs/decisions.md).

use std::time::{Duration, SystemTime};

use super::estate::Estate;
use super::PlanSettings;
use crate::classify::{OwnedRecord, Target};
use crate::model::{Container, NetworkMode, Task, TaskDefinition, TaskStatus};

/// A task that has not reached RUNNING yet, or runs without container ids so far.
pub(super) fn is_starting(task: &Task) -> bool {
    task.last_status.is_starting()
        || (task.last_status == TaskStatus::Running
            && task.containers.iter().all(|c| c.runtime_id.is_none()))
}

/// How long a starting task protects the records on its host: a task stuck in
/// PENDING must not keep stale records forever.
const STARTING_GRACE_FACTOR: u32 = 10;

/// Whether `at` is less than `window` before `now` (an unknown time counts as recent).
fn within(at: Option<SystemTime>, window: Duration, now: SystemTime) -> bool {
    at.is_none_or(|at| now.duration_since(at).map_or(true, |age| age < window))
}

/// A task still starting, created less than 10 × the grace period ago.
pub(super) fn recently_starting(task: &Task, settings: &PlanSettings, now: SystemTime) -> bool {
    let window = settings.startup_grace * STARTING_GRACE_FACTOR;
    is_starting(task) && within(task.created_at, window, now)
}

/// A backing task in its grace period: started less than the grace period ago, or
/// still starting (for at most 10 × the grace period).
pub(super) fn in_grace(task: &Task, settings: &PlanSettings, now: SystemTime) -> bool {
    if is_starting(task) {
        return recently_starting(task, settings, now);
    }
    within(task.started_at, settings.startup_grace, now)
}

/// A container's `SERVICE_<p>_NAME=<service>` declarations as (`p`, service), from
/// the definition's environment and the task's overrides.
pub(super) fn declarations<'a>(
    container: &'a Container,
    definition: Option<&'a TaskDefinition>,
) -> impl Iterator<Item = (u16, &'a str)> {
    let from_definition = definition
        .and_then(|d| d.container(&container.name))
        .map(|c| c.environment.as_slice())
        .unwrap_or_default();
    from_definition
        .iter()
        .chain(&container.env_overrides)
        .filter_map(|(key, value)| {
            let port = key.strip_prefix("SERVICE_")?.strip_suffix("_NAME")?;
            Some((port.parse().ok()?, value.as_str()))
        })
}

/// The port `p` of a container's `SERVICE_<p>_NAME=<service>` declaration.
fn declared_port(
    container: &Container,
    definition: Option<&TaskDefinition>,
    service: &str,
) -> Option<u16> {
    declarations(container, definition)
        .find_map(|(port, name)| name.eq_ignore_ascii_case(service).then_some(port))
}

/// The host port to check for a CNAME record's service (docs/decisions.md, declared port).
/// The reference agent names a container port in `SERVICE_<p>_NAME`: check the
/// host port bound to it. The CNAME fork registers only static mappings and names
/// them by host port: when a binding's host port is `<p>`, check `<p>`. With no
/// bindings reported: the definition's static mapping (either way); in `awsvpc` /
/// `host` mode the container port itself.
fn declared_host_port(
    container: &Container,
    definition: Option<&TaskDefinition>,
    service: &str,
) -> Option<u16> {
    let p = declared_port(container, definition, service)?;
    if !container.bindings.is_empty() {
        let by_container_port = container
            .bindings
            .iter()
            .find(|b| b.container_port == Some(p));
        return match by_container_port {
            Some(b) => Some(b.host_port),
            None => container
                .bindings
                .iter()
                .any(|b| b.host_port == p)
                .then_some(p),
        };
    }
    if let Some(NetworkMode::Awsvpc | NetworkMode::Host) = definition.map(|d| d.network_mode) {
        return Some(p);
    }
    let mappings = &definition?.container(&container.name)?.port_mappings;
    match mappings.iter().find(|(cp, _)| *cp == p) {
        Some((_, host_port)) => *host_port,
        None => mappings.iter().any(|(_, hp)| *hp == Some(p)).then_some(p),
    }
}

/// The task and port backing a record on one host ("Backs", docs/decisions.md): a running
/// container whose runtime id matches the record's container id, whether or not
/// ECS shows its `SERVICE_<p>_NAME` (it may come from the image, an environment
/// file or a secret). A SRV record without a container id, or whose container ECS
/// reports no id for, is backed by a binding on its port.
pub(super) fn backing<'a>(
    record: &OwnedRecord,
    tasks: &[&'a Task],
    estate: &Estate<'a>,
) -> Option<(&'a Task, Option<u16>)> {
    tasks.iter().find_map(|task| {
        task.containers.iter().find_map(|c| match &record.target {
            Target::Srv {
                port, container, ..
            } => {
                let by_id = container
                    .as_ref()
                    .zip(c.runtime_id.as_deref())
                    .map(|(id, runtime)| id.matches(runtime));
                let backs =
                    by_id.unwrap_or_else(|| c.bindings.iter().any(|b| b.host_port == *port));
                backs.then_some((*task, Some(*port)))
            }
            Target::Cname {
                service, container, ..
            } => {
                let runs = c
                    .runtime_id
                    .as_deref()
                    .is_some_and(|r| container.matches(r));
                runs.then(|| {
                    (
                        *task,
                        declared_host_port(c, estate.definition(task), service),
                    )
                })
            }
            Target::HostA { .. } => None,
        })
    })
}
