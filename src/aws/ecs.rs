//! The ECS edge: clusters, container instances, tasks and task definitions, read
//! into the plain types of [`crate::model`]; and StopTask. Every list call is
//! paginated with a cursor that must advance, every describe call is batched at
//! its API maximum, and each task definition is described once.

use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

use aws_sdk_ecs::types::DesiredStatus;
use futures::stream::{self, StreamExt};

use super::{failure, paginate};
use crate::model::{
    ClusterScope, Container, ContainerDefinition, ContainerInstance, Inventory, NetworkMode,
    PortBinding, ReadFailure, Task, TaskDefinition, TaskRef, TaskStatus,
};

/// DescribeTasks and DescribeContainerInstances take at most 100 ids per call.
pub const DESCRIBE_BATCH: usize = 100;
/// ListTasks, ListContainerInstances and ListClusters return at most 100 per page.
pub const LIST_PAGE: i32 = 100;
/// Distinct task definitions described at once.
const TASK_DEFINITION_CONCURRENCY: usize = 8;
/// Clusters, and describe batches within one, read at once: ECS throttles bursts
/// (`ThrottlingException`), and a read that is all started at once is one.
const READ_CONCURRENCY: usize = 4;
/// The reason ECS records on a task stopped by `STOP_UNHEALTHY_TASKS`.
pub const STOP_REASON: &str = "ecs-dns-reaper: health check failed";

/// The clusters to read: those named, or every cluster of the account and Region.
pub(super) async fn clusters_in(
    ecs: &aws_sdk_ecs::Client,
    scope: &ClusterScope,
) -> Result<Vec<String>, ReadFailure> {
    match scope {
        ClusterScope::Named(names) => Ok(names.clone()),
        ClusterScope::All => list_clusters(ecs).await,
    }
}

pub(super) async fn read_clusters(ecs: &aws_sdk_ecs::Client, scope: &ClusterScope) -> Inventory {
    let mut inventory = Inventory::default();
    let clusters = match clusters_in(ecs, scope).await {
        Ok(clusters) => clusters,
        Err(f) => {
            inventory.failures.push(f);
            return inventory;
        }
    };
    let per_cluster: Vec<_> = stream::iter(clusters)
        .map(|c| async move { read_cluster(ecs, &c).await })
        .buffered(READ_CONCURRENCY)
        .collect()
        .await;
    for (container_instances, tasks, mut failures) in per_cluster {
        inventory.container_instances.extend(container_instances);
        inventory.tasks.extend(tasks);
        inventory.failures.append(&mut failures);
    }

    describe_definitions(ecs, &mut inventory).await;
    inventory
}

/// Describes each distinct task definition of the inventory's tasks once.
pub(super) async fn describe_definitions(ecs: &aws_sdk_ecs::Client, inventory: &mut Inventory) {
    let definitions: BTreeSet<String> = inventory
        .tasks
        .iter()
        .filter_map(|t| t.task_definition_arn.clone())
        .filter(|arn| !inventory.task_definitions.contains_key(arn))
        .collect();
    let described: Vec<_> = stream::iter(definitions)
        .map(|arn| async move {
            let result = describe_task_definition(ecs, &arn).await;
            (arn, result)
        })
        .buffer_unordered(TASK_DEFINITION_CONCURRENCY)
        .collect()
        .await;
    for (arn, result) in described {
        match result {
            Ok(def) => {
                inventory.task_definitions.insert(arn, def);
            }
            Err(f) => inventory.failures.push(f),
        }
    }
}

async fn list_clusters(ecs: &aws_sdk_ecs::Client) -> Result<Vec<String>, ReadFailure> {
    paginate("ecs:ListClusters", |token| async move {
        let page = ecs
            .list_clusters()
            .max_results(LIST_PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failure("ecs:ListClusters", e))?;
        Ok((
            page.cluster_arns().to_vec(),
            page.next_token().map(String::from),
        ))
    })
    .await
}

/// Reads one cluster. A cluster named in `ECS_CLUSTERS` that does not exist shows
/// up here as ListContainerInstances' `ClusterNotFoundException`.
async fn read_cluster(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> (Vec<ContainerInstance>, Vec<Task>, Vec<ReadFailure>) {
    let mut failures = Vec::new();
    let (instance_arns, task_arns) = tokio::join!(
        list_container_instances(ecs, cluster),
        list_tasks(ecs, cluster, None)
    );
    let mut container_instances = Vec::new();
    match instance_arns {
        Ok(arns) => {
            let batches: Vec<_> = stream::iter(in_batches(&arns))
                .map(|batch| describe_container_instances(ecs, cluster, batch))
                .buffered(READ_CONCURRENCY)
                .collect()
                .await;
            for batch in batches {
                match batch {
                    Ok(mut cis) => container_instances.append(&mut cis),
                    Err(f) => failures.push(f),
                }
            }
        }
        Err(f) => failures.push(f),
    }
    let tasks = match task_arns {
        Ok(arns) => describe_all_tasks(ecs, cluster, &arns, &mut failures).await,
        Err(f) => {
            failures.push(f);
            Vec::new()
        }
    };
    (container_instances, tasks, failures)
}

pub(super) fn in_batches(arns: &[String]) -> Vec<Vec<String>> {
    arns.chunks(DESCRIBE_BATCH)
        .map(<[String]>::to_vec)
        .collect()
}

/// Describes `arns` in batches of [`DESCRIBE_BATCH`], [`READ_CONCURRENCY`] at once.
pub(super) async fn describe_all_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    failures: &mut Vec<ReadFailure>,
) -> Vec<Task> {
    let batches: Vec<_> = stream::iter(in_batches(arns))
        .map(|batch| describe_tasks(ecs, cluster, batch))
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

pub(super) async fn list_container_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<Vec<String>, ReadFailure> {
    let call = format!("ecs:ListContainerInstances cluster={cluster}");
    paginate(&call, |token| {
        let call = call.clone();
        async move {
            let page = ecs
                .list_container_instances()
                .cluster(cluster)
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

/// The `failures` of an ECS describe call. A task or container instance listed a
/// moment ago may be gone by the describe (`MISSING`): it no longer runs or is no
/// longer registered, which is what a listing taken now would say (for
/// DescribeClusters: the cluster does not exist). Any other failure is a failed
/// read.
pub(super) fn describe_failures(
    call: String,
    failures: &[aws_sdk_ecs::types::Failure],
) -> Result<(), ReadFailure> {
    match failures.iter().find(|f| f.reason() != Some("MISSING")) {
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
) -> Result<Vec<ContainerInstance>, ReadFailure> {
    let call = format!("ecs:DescribeContainerInstances cluster={cluster}");
    let out = ecs
        .describe_container_instances()
        .cluster(cluster)
        .set_container_instances(Some(arns))
        .send()
        .await
        .map_err(|e| failure(&call, e))?;
    describe_failures(call, out.failures())?;
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
) -> Result<Vec<Task>, ReadFailure> {
    let call = format!("ecs:DescribeTasks cluster={cluster}");
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|e| failure(&call, e))?;
    describe_failures(call, out.failures())?;
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
pub(super) async fn stop_tasks(
    ecs: &aws_sdk_ecs::Client,
    tasks: &[TaskRef],
) -> (Vec<String>, Vec<String>) {
    let mut stopped = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for task in tasks.iter().filter(|t| seen.insert(t.arn.clone())) {
        match ecs
            .stop_task()
            .cluster(&task.cluster)
            .task(&task.arn)
            .reason(STOP_REASON)
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
