//! The ECS edge's calls: container instances, tasks and task definitions, read
//! into the plain types of [`crate::model`]; and StopTask. Every list call is
//! paginated with a cursor that must advance and every describe call is batched
//! at its API maximum. What a sweep reads of its clusters is [`super::clusters`].

use std::collections::HashMap;
use std::time::SystemTime;

use aws_sdk_ecs::types::DesiredStatus;
use futures::stream::{self, StreamExt};

use super::{failure, paginate};
use crate::model::{
    Container, ContainerDefinition, ContainerInstance, NetworkMode, PortBinding, ReadFailure, Task,
    TaskDefinition, TaskRef, TaskStatus,
};

/// DescribeTasks and DescribeContainerInstances take at most 100 ids per call.
pub const DESCRIBE_BATCH: usize = 100;
/// ListTasks, ListContainerInstances and ListClusters return at most 100 per page.
pub const LIST_PAGE: i32 = 100;
/// Clusters, and describe batches within one, read at once: ECS throttles bursts
/// (`ThrottlingException`), and a read that is all started at once is one.
pub(super) const READ_CONCURRENCY: usize = 4;
/// The reason ECS records on a task stopped by `STOP_UNHEALTHY_TASKS`.
pub const STOP_REASON: &str = "ecs-dns-reaper: health check failed";

pub(super) fn in_batches(arns: &[String]) -> Vec<Vec<String>> {
    arns.chunks(DESCRIBE_BATCH)
        .map(<[String]>::to_vec)
        .collect()
}

/// Describes `arns`, which a listing of the same read returned, in batches of
/// [`DESCRIBE_BATCH`], [`READ_CONCURRENCY`] at once.
pub(super) async fn describe_all_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    failures: &mut Vec<ReadFailure>,
) -> Vec<Task> {
    let batches: Vec<_> = stream::iter(in_batches(arns))
        .map(|batch| describe_tasks(ecs, cluster, batch, Missing::Failed))
        .buffered(READ_CONCURRENCY)
        .collect()
        .await;
    let mut tasks = Vec::new();
    for batch in batches {
        match batch {
            Ok(mut t) => tasks.append(&mut t),
            Err(f) => failures.push(f),
        }
    }
    tasks
}

/// The container instances of a cluster that are not `INACTIVE` (ListContainerInstances'
/// default: `ACTIVE` and `DRAINING`); with `ec2_instance`, only that EC2 instance's
/// (the cluster query language's `ec2InstanceId == …`).
pub(super) async fn list_container_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    ec2_instance: Option<&str>,
) -> Result<Vec<String>, ReadFailure> {
    let call = format!("ecs:ListContainerInstances cluster={cluster}");
    let filter = ec2_instance.map(|id| format!("ec2InstanceId == {id}"));
    paginate(&call, |token| {
        let call = call.clone();
        let filter = filter.clone();
        async move {
            let page = ecs
                .list_container_instances()
                .cluster(cluster)
                .set_filter(filter)
                .max_results(LIST_PAGE)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| failure(call, e))?;
            Ok((
                page.container_instance_arns().to_vec(),
                page.next_token().map(String::from),
            ))
        }
    })
    .await
}

/// Tasks whose desired status is RUNNING (ListTasks' default), including ones
/// still starting.
pub(super) async fn list_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container_instance: Option<&str>,
) -> Result<Vec<String>, ReadFailure> {
    list_tasks_in(ecs, cluster, container_instance, DesiredStatus::Running).await
}

/// Tasks of one desired status; ECS lists stopped tasks for at least an hour.
pub(super) async fn list_tasks_in(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container_instance: Option<&str>,
    desired: DesiredStatus,
) -> Result<Vec<String>, ReadFailure> {
    let call = format!("ecs:ListTasks cluster={cluster}");
    paginate(&call, |token| {
        let call = call.clone();
        let desired = desired.clone();
        async move {
            let page = ecs
                .list_tasks()
                .cluster(cluster)
                .set_container_instance(container_instance.map(String::from))
                .desired_status(desired)
                .max_results(LIST_PAGE)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| failure(call, e))?;
            Ok((
                page.task_arns().to_vec(),
                page.next_token().map(String::from),
            ))
        }
    })
    .await
}

/// What a `MISSING` failure of an ECS describe call means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The ids came from a listing of the same read. ECS keeps a stopped task
    /// describable for at least an hour after it stopped, and a deregistered
    /// container instance as `INACTIVE`: `MISSING` for one it has just listed is an
    /// eventually consistent read, not an absence — the read failed.
    Failed,
    /// The ids came from elsewhere (an event, a Cloud Map attribute, the
    /// configuration): `MISSING` says ECS does not know the thing.
    Absent,
}

/// The `failures` of an ECS describe call: `MISSING` as `missing` says; any other
/// failure is a failed read.
pub(super) fn describe_failures(
    call: String,
    failures: &[aws_sdk_ecs::types::Failure],
    missing: Missing,
) -> Result<(), ReadFailure> {
    let failed = |f: &&aws_sdk_ecs::types::Failure| {
        f.reason() != Some("MISSING") || missing == Missing::Failed
    };
    match failures.iter().find(failed) {
        None => Ok(()),
        Some(f) => Err(ReadFailure {
            call,
            message: format!(
                "{} for {}",
                f.reason().unwrap_or("failure"),
                f.arn().unwrap_or("?")
            ),
        }),
    }
}

pub(super) async fn describe_container_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: Vec<String>,
    missing: Missing,
) -> Result<Vec<ContainerInstance>, ReadFailure> {
    let call = format!("ecs:DescribeContainerInstances cluster={cluster}");
    let out = ecs
        .describe_container_instances()
        .cluster(cluster)
        .set_container_instances(Some(arns))
        .send()
        .await
        .map_err(|e| failure(&call, e))?;
    describe_failures(call, out.failures(), missing)?;
    Ok(out
        .container_instances()
        .iter()
        .filter_map(|ci| {
            Some(ContainerInstance {
                arn: ci.container_instance_arn()?.to_string(),
                cluster: cluster.to_string(),
                ec2_instance_id: ci.ec2_instance_id().map(String::from),
            })
        })
        .collect())
}

pub(super) async fn describe_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: Vec<String>,
    missing: Missing,
) -> Result<Vec<Task>, ReadFailure> {
    let call = format!("ecs:DescribeTasks cluster={cluster}");
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|e| failure(&call, e))?;
    describe_failures(call, out.failures(), missing)?;
    Ok(out
        .tasks()
        .iter()
        .filter_map(|t| task_from_sdk(t, cluster))
        .collect())
}

/// SDK task → domain task.
pub fn task_from_sdk(t: &aws_sdk_ecs::types::Task, cluster: &str) -> Option<Task> {
    let overrides: HashMap<&str, Vec<(String, String)>> = t
        .overrides()
        .map(|o| o.container_overrides())
        .unwrap_or_default()
        .iter()
        .filter_map(|o| Some((o.name()?, key_values(o.environment()))))
        .collect();
    Some(Task {
        arn: t.task_arn()?.to_string(),
        cluster: t.cluster_arn().unwrap_or(cluster).to_string(),
        container_instance_arn: t.container_instance_arn().map(String::from),
        last_status: TaskStatus::parse(t.last_status().unwrap_or_default()),
        desired_status: TaskStatus::parse(t.desired_status().unwrap_or_default()),
        started_at: t.started_at().and_then(to_system_time),
        created_at: t.created_at().and_then(to_system_time),
        task_definition_arn: t.task_definition_arn().map(String::from),
        containers: t
            .containers()
            .iter()
            .map(|c| {
                let name = c.name().unwrap_or_default().to_string();
                Container {
                    env_overrides: overrides.get(name.as_str()).cloned().unwrap_or_default(),
                    name,
                    runtime_id: c.runtime_id().filter(|r| !r.is_empty()).map(String::from),
                    bindings: c
                        .network_bindings()
                        .iter()
                        .filter_map(|b| {
                            Some(PortBinding {
                                container_port: b.container_port().and_then(port),
                                host_port: b.host_port().and_then(port)?,
                            })
                        })
                        .collect(),
                }
            })
            .collect(),
    })
}

fn key_values(pairs: &[aws_sdk_ecs::types::KeyValuePair]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter_map(|kv| Some((kv.name()?.to_string(), kv.value()?.to_string())))
        .collect()
}

fn port(p: i32) -> Option<u16> {
    u16::try_from(p).ok().filter(|p| *p > 0)
}

fn to_system_time(t: &aws_smithy_types::DateTime) -> Option<SystemTime> {
    SystemTime::try_from(*t).ok()
}

pub(super) async fn describe_task_definition(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
) -> Result<TaskDefinition, ReadFailure> {
    let call = format!("ecs:DescribeTaskDefinition {arn}");
    let out = ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| failure(&call, e))?;
    let Some(def) = out.task_definition() else {
        return Err(ReadFailure {
            call,
            message: "response has no task definition".to_string(),
        });
    };
    use aws_sdk_ecs::types::NetworkMode as Sdk;
    let network_mode = match def.network_mode() {
        Some(Sdk::Awsvpc) => NetworkMode::Awsvpc,
        Some(Sdk::Host) => NetworkMode::Host,
        Some(Sdk::None) => NetworkMode::None,
        _ => NetworkMode::Bridge,
    };
    Ok(TaskDefinition {
        network_mode,
        containers: def
            .container_definitions()
            .iter()
            .map(|c| ContainerDefinition {
                name: c.name().unwrap_or_default().to_string(),
                environment: key_values(c.environment()),
                port_mappings: c
                    .port_mappings()
                    .iter()
                    .filter_map(|m| {
                        Some((
                            m.container_port().and_then(port)?,
                            m.host_port().and_then(port),
                        ))
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// Stops each task once (`STOP_UNHEALTHY_TASKS`). Returns the stopped task ARNs and
/// the errors of the ones that could not be stopped.
/// Stops each task once; none is started after `stop_at`, and each call ends,
/// retries included, soon after it.
pub(super) async fn stop_tasks(
    ecs: &aws_sdk_ecs::Client,
    tasks: &[TaskRef],
    stop_at: Option<tokio::time::Instant>,
) -> (Vec<String>, Vec<String>) {
    let mut stopped = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for task in tasks.iter().filter(|t| seen.insert(t.arn.clone())) {
        if super::past(stop_at) {
            errors.push(format!(
                "ecs:StopTask {} not attempted: deadline near",
                task.arn
            ));
            continue;
        }
        let mut timeouts = aws_sdk_ecs::config::Builder::default();
        timeouts.set_timeout_config(super::write_timeouts(stop_at));
        match ecs
            .stop_task()
            .cluster(&task.cluster)
            .task(&task.arn)
            .reason(STOP_REASON)
            .customize()
            .config_override(timeouts)
            .send()
            .await
        {
            Ok(_) => stopped.push(task.arn.clone()),
            Err(e) => errors.push(format!(
                "ecs:StopTask {} failed: {}",
                task.arn,
                aws_sdk_ecs::error::DisplayErrorContext(&e)
            )),
        }
    }
    (stopped, errors)
}
