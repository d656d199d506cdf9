//! Inventory: what ECS and EC2 say is running (SPEC §1, §3).
//!
//! The ECS and EC2 edge lives here. Every list call is paginated with a cursor that
//! must advance, every describe call is batched at its API maximum, and each task
//! definition is described once. Failures do not abort the read: they are collected
//! in [`Inventory::failures`], and the plan then makes no negative-evidence deletion.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::Ipv4Addr;
use std::time::SystemTime;

use aws_sdk_ec2::error::DisplayErrorContext;
use futures::future::join_all;
use futures::stream::{self, StreamExt};

use crate::names::{Ec2Host, HostName};

/// DescribeTasks and DescribeContainerInstances take at most 100 ids per call.
pub const DESCRIBE_BATCH: usize = 100;
/// ListTasks, ListContainerInstances and ListClusters return at most 100 per page.
pub const LIST_PAGE: i32 = 100;
/// DescribeInstances returns at most 1,000 instances per page.
pub const EC2_PAGE: i32 = 1000;
/// Distinct task definitions described at once.
const TASK_DEFINITION_CONCURRENCY: usize = 8;

/// EC2's view of an instance.
///
/// A terminated instance loses its primary network interface: EC2 then reports no
/// private address, an empty private DNS name and no VPC (for up to about an hour,
/// before it drops out of DescribeInstances). From then on only its instance id
/// ties records to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2Instance {
    pub id: String,
    pub state: InstanceState,
    pub private_ip: Option<Ipv4Addr>,
    pub private_dns: Option<HostName>,
    pub vpc_id: Option<String>,
}

impl Ec2Instance {
    /// Whether `host` names this instance: as its private DNS name, by the address
    /// an IP name spells, or by the instance id a resource name carries.
    pub fn is_named_by(&self, host: &HostName) -> bool {
        self.private_dns.as_ref() == Some(host) || host.ec2_host().is_some_and(|h| self.is(&h))
    }

    /// Whether this is the instance an [`Ec2Host`] names.
    pub fn is(&self, host: &Ec2Host) -> bool {
        match host {
            Ec2Host::Address(ip) => self.private_ip == Some(*ip),
            Ec2Host::Instance(id) => self.id == *id,
        }
    }
}

/// EC2 instance state names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
    Other(String),
}

impl InstanceState {
    pub fn parse(name: &str) -> Self {
        match name {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "shutting-down" => Self::ShuttingDown,
            "terminated" => Self::Terminated,
            "stopping" => Self::Stopping,
            "stopped" => Self::Stopped,
            other => Self::Other(other.to_string()),
        }
    }

    /// The states in which SPEC §3 counts an instance as gone.
    pub fn is_gone(&self) -> bool {
        matches!(
            self,
            Self::ShuttingDown | Self::Terminated | Self::Stopping | Self::Stopped
        )
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::ShuttingDown => "shutting-down",
            Self::Terminated => "terminated",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Other(s) => s,
        }
    }
}

/// An EC2 instance registered in a swept ECS cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInstance {
    pub arn: String,
    pub cluster: String,
    pub ec2_instance_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    pub container_port: Option<u16>,
    pub host_port: u16,
}

/// One container of a task, as DescribeTasks reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    /// The Docker container id; absent until the agent has started the container.
    pub runtime_id: Option<String>,
    pub bindings: Vec<PortBinding>,
    /// Environment from `overrides.containerOverrides`, which adds to the definition's.
    pub env_overrides: Vec<(String, String)>,
}

/// A task whose desired status is RUNNING (it may still be starting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub arn: String,
    pub cluster: String,
    pub container_instance_arn: Option<String>,
    pub last_status: String,
    pub desired_status: String,
    pub started_at: Option<SystemTime>,
    pub created_at: Option<SystemTime>,
    pub task_definition_arn: Option<String>,
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    Bridge,
    Awsvpc,
    Host,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerDefinition {
    pub name: String,
    pub environment: Vec<(String, String)>,
    /// `(containerPort, hostPort)`; a host port of 0 or none means dynamic.
    pub port_mappings: Vec<(u16, Option<u16>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinition {
    pub network_mode: NetworkMode,
    pub containers: Vec<ContainerDefinition>,
}

impl TaskDefinition {
    pub fn container(&self, name: &str) -> Option<&ContainerDefinition> {
        self.containers.iter().find(|c| c.name == name)
    }
}

/// One inventory read that failed after the SDK's retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryFailure {
    /// `service:Operation` plus what it was about, e.g. `ecs:ListTasks cluster=web`.
    pub call: String,
    pub message: String,
}

impl std::fmt::Display for InventoryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.call, self.message)
    }
}

/// Everything the plan needs to know about the estate.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub instances: Vec<Ec2Instance>,
    pub container_instances: Vec<ContainerInstance>,
    pub tasks: Vec<Task>,
    pub task_definitions: HashMap<String, TaskDefinition>,
    /// The VPCs the hosted zone is associated with: only their instances are
    /// evidence (accounts often run VPCs with the same CIDR side by side).
    pub zone_vpcs: BTreeSet<String>,
    pub failures: Vec<InventoryFailure>,
}

impl Inventory {
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty()
    }

    /// Whether EC2's word about `instance` counts for this zone: it is in one of
    /// the zone's VPCs, or it reports no VPC and no address (terminated), so that
    /// only its instance id, unique across VPCs, can match it.
    pub fn in_zone_vpcs(&self, instance: &Ec2Instance) -> bool {
        match &instance.vpc_id {
            Some(vpc) => self.zone_vpcs.contains(vpc),
            None => instance.private_ip.is_none() && instance.private_dns.is_none(),
        }
    }
}

/// Which clusters to read.
#[derive(Debug, Clone)]
pub enum ClusterScope {
    All,
    Named(Vec<String>),
}

/// The ECS and EC2 clients the inventory reads through.
#[derive(Debug, Clone)]
pub struct InventoryClients {
    pub ecs: aws_sdk_ecs::Client,
    pub ec2: aws_sdk_ec2::Client,
}

fn failure<E: std::error::Error>(call: impl Into<String>, err: E) -> InventoryFailure {
    InventoryFailure {
        call: call.into(),
        message: DisplayErrorContext(&err).to_string(),
    }
}

/// Walks a token-paginated list call. The SDK's paginators stop silently on a
/// repeated token, which would pass a truncated list off as complete; here a token
/// that does not advance is an error.
async fn paginate<T, F, Fut>(call: &str, mut page: F) -> Result<Vec<T>, InventoryFailure>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), InventoryFailure>>,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (mut got, next) = page(token.clone()).await?;
        items.append(&mut got);
        match next.filter(|t| !t.is_empty()) {
            None => return Ok(items),
            Some(next) if Some(&next) == token.as_ref() => {
                return Err(InventoryFailure {
                    call: call.to_string(),
                    message: "page token did not advance; stopped listing".to_string(),
                })
            }
            Some(next) => token = Some(next),
        }
    }
}

/// Every EC2 instance of the region (the plan keeps those of the zone's VPCs).
/// A terminated instance reports no VPC, so a `vpc-id` filter would hide it.
pub async fn read_instances(
    clients: &InventoryClients,
) -> Result<Vec<Ec2Instance>, InventoryFailure> {
    describe_instances(&clients.ec2, InstanceQuery::All).await
}

/// The container instances, running tasks and task definitions of the swept
/// clusters.
pub async fn read_clusters(clients: &InventoryClients, scope: &ClusterScope) -> Inventory {
    read_ecs(&clients.ecs, scope).await
}

/// Which instances to describe.
#[derive(Debug, Clone)]
enum InstanceQuery {
    All,
    Id(String),
    /// Instances holding this private address (or EC2 IP-based name) now.
    Address(Ipv4Addr),
}

async fn describe_instances(
    ec2: &aws_sdk_ec2::Client,
    query: InstanceQuery,
) -> Result<Vec<Ec2Instance>, InventoryFailure> {
    use aws_sdk_ec2::types::Filter;
    paginate("ec2:DescribeInstances", |token| async {
        let request = ec2.describe_instances().set_next_token(token);
        let request = match &query {
            InstanceQuery::All => request.max_results(EC2_PAGE),
            InstanceQuery::Id(id) => request.instance_ids(id),
            InstanceQuery::Address(ip) => request.filters(
                Filter::builder()
                    .name("private-ip-address")
                    .values(ip.to_string())
                    .build(),
            ),
        };
        let page = request
            .send()
            .await
            .map_err(|e| failure("ec2:DescribeInstances", e))?;
        let instances = page
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                Some(Ec2Instance {
                    id: i.instance_id()?.to_string(),
                    state: InstanceState::parse(
                        i.state()
                            .and_then(|s| s.name())
                            .map(|n| n.as_str())
                            .unwrap_or(""),
                    ),
                    private_ip: i.private_ip_address().and_then(|ip| ip.parse().ok()),
                    private_dns: i.private_dns_name().and_then(HostName::parse),
                    vpc_id: i.vpc_id().filter(|v| !v.is_empty()).map(String::from),
                })
            })
            .collect();
        Ok((instances, page.next_token().map(String::from)))
    })
    .await
}

async fn read_ecs(ecs: &aws_sdk_ecs::Client, scope: &ClusterScope) -> Inventory {
    let mut inventory = Inventory::default();
    let clusters = match scope {
        ClusterScope::Named(names) => names.clone(),
        ClusterScope::All => match list_clusters(ecs).await {
            Ok(arns) => arns,
            Err(f) => {
                inventory.failures.push(f);
                return inventory;
            }
        },
    };
    let per_cluster = join_all(clusters.iter().map(|c| read_cluster(ecs, c))).await;
    for (container_instances, tasks, mut failures) in per_cluster {
        inventory.container_instances.extend(container_instances);
        inventory.tasks.extend(tasks);
        inventory.failures.append(&mut failures);
    }

    describe_definitions(ecs, &mut inventory).await;
    inventory
}

/// Describes each distinct task definition of the inventory's tasks once.
async fn describe_definitions(ecs: &aws_sdk_ecs::Client, inventory: &mut Inventory) {
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

async fn list_clusters(ecs: &aws_sdk_ecs::Client) -> Result<Vec<String>, InventoryFailure> {
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
) -> (Vec<ContainerInstance>, Vec<Task>, Vec<InventoryFailure>) {
    let mut failures = Vec::new();
    let (instance_arns, task_arns) = tokio::join!(
        list_container_instances(ecs, cluster),
        list_tasks(ecs, cluster, None)
    );
    let mut container_instances = Vec::new();
    match instance_arns {
        Ok(arns) => {
            let batches = join_all(
                arns.chunks(DESCRIBE_BATCH)
                    .map(|batch| describe_container_instances(ecs, cluster, batch.to_vec())),
            )
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

/// Describes `arns` in batches of [`DESCRIBE_BATCH`], all at once.
async fn describe_all_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
    failures: &mut Vec<InventoryFailure>,
) -> Vec<Task> {
    let batches = join_all(
        arns.chunks(DESCRIBE_BATCH)
            .map(|batch| describe_tasks(ecs, cluster, batch.to_vec())),
    )
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

async fn list_container_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<Vec<String>, InventoryFailure> {
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
async fn list_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container_instance: Option<&str>,
) -> Result<Vec<String>, InventoryFailure> {
    let call = format!("ecs:ListTasks cluster={cluster}");
    paginate(&call, |token| {
        let call = call.clone();
        async move {
            let page = ecs
                .list_tasks()
                .cluster(cluster)
                .set_container_instance(container_instance.map(String::from))
                .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
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
/// longer registered, which is what a listing taken now would say. Any other
/// failure is a failed read.
fn describe_failures(
    call: String,
    failures: &[aws_sdk_ecs::types::Failure],
) -> Result<(), InventoryFailure> {
    match failures.iter().find(|f| f.reason() != Some("MISSING")) {
        None => Ok(()),
        Some(f) => Err(InventoryFailure {
            call,
            message: format!(
                "{} for {}",
                f.reason().unwrap_or("failure"),
                f.arn().unwrap_or("?")
            ),
        }),
    }
}

async fn describe_container_instances(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: Vec<String>,
) -> Result<Vec<ContainerInstance>, InventoryFailure> {
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

async fn describe_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: Vec<String>,
) -> Result<Vec<Task>, InventoryFailure> {
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
        last_status: t.last_status().unwrap_or_default().to_string(),
        desired_status: t.desired_status().unwrap_or_default().to_string(),
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

async fn describe_task_definition(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
) -> Result<TaskDefinition, InventoryFailure> {
    let call = format!("ecs:DescribeTaskDefinition {arn}");
    let out = ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| failure(&call, e))?;
    let Some(def) = out.task_definition() else {
        return Err(InventoryFailure {
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

/// The state around one task now, for an `ECS Task State Change` event: the task
/// as ECS describes it (`None` when ECS no longer knows it), and the container
/// instance it ran on with its EC2 instance, running tasks and their definitions.
pub async fn read_around_task(
    clients: &InventoryClients,
    cluster: &str,
    task_arn: &str,
    container_instance_hint: Option<&str>,
) -> (Option<Task>, Inventory) {
    let ecs = &clients.ecs;
    let mut inventory = Inventory::default();
    let task = match describe_tasks(ecs, cluster, vec![task_arn.to_string()]).await {
        Ok(mut tasks) => tasks.pop(),
        Err(f) => {
            inventory.failures.push(f);
            return (None, inventory);
        }
    };
    let ci_arn = task
        .as_ref()
        .and_then(|t| t.container_instance_arn.clone())
        .or_else(|| container_instance_hint.map(String::from));
    let Some(ci_arn) = ci_arn else {
        return (task, inventory);
    };
    match describe_container_instances(ecs, cluster, vec![ci_arn.clone()]).await {
        Ok(cis) => inventory.container_instances = cis,
        Err(f) => inventory.failures.push(f),
    }
    let ec2_id = inventory
        .container_instances
        .first()
        .and_then(|ci| ci.ec2_instance_id.clone());
    let (instances, arns) = tokio::join!(
        async {
            match ec2_id {
                Some(id) => describe_instances(&clients.ec2, InstanceQuery::Id(id)).await,
                None => Ok(Vec::new()),
            }
        },
        list_tasks(ecs, cluster, Some(&ci_arn))
    );
    match instances {
        Ok(i) => inventory.instances = i,
        Err(f) => inventory.failures.push(f),
    }
    match arns {
        Ok(arns) => {
            let mut failures = Vec::new();
            inventory.tasks = describe_all_tasks(ecs, cluster, &arns, &mut failures).await;
            inventory.failures.append(&mut failures);
        }
        Err(f) => inventory.failures.push(f),
    }
    describe_definitions(ecs, &mut inventory).await;
    (task, inventory)
}

/// The state of one instance now, for an `EC2 Instance State-change Notification`:
/// the instance, and any other instance that holds its private address now.
pub async fn read_instance(clients: &InventoryClients, instance_id: &str) -> Inventory {
    let mut inventory = Inventory::default();
    match describe_instances(&clients.ec2, InstanceQuery::Id(instance_id.to_string())).await {
        Ok(found) => inventory.instances = found,
        Err(f) => {
            inventory.failures.push(f);
            return inventory;
        }
    }
    let address = inventory
        .instances
        .iter()
        .find(|i| i.id == instance_id)
        .and_then(|i| {
            i.private_ip
                .or_else(|| i.private_dns.as_ref()?.embedded_ip())
        });
    if let Some(ip) = address {
        match describe_instances(&clients.ec2, InstanceQuery::Address(ip)).await {
            Ok(holders) => inventory
                .instances
                .extend(holders.into_iter().filter(|h| h.id != instance_id)),
            Err(f) => inventory.failures.push(f),
        }
    }
    inventory
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn pagination_follows_tokens_and_stops_on_a_stuck_cursor() {
        let pages = ["a", "b", "c"];
        let got = paginate("test:List", |token| async move {
            let i = token.map(|t| t.parse::<usize>().unwrap()).unwrap_or(0);
            let next = (i + 1 < pages.len()).then(|| (i + 1).to_string());
            Ok((vec![pages[i]], next))
        })
        .await
        .unwrap();
        assert_eq!(got, vec!["a", "b", "c"]);

        let calls = Cell::new(0);
        let err = paginate("test:List", |_| {
            calls.set(calls.get() + 1);
            async { Ok((vec![1], Some("same".to_string()))) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.get(), 2, "stops as soon as the token repeats");
        assert!(err.to_string().contains("did not advance"), "{err}");
    }

    #[test]
    fn gone_states_are_the_four_of_the_spec() {
        for s in ["shutting-down", "terminated", "stopping", "stopped"] {
            assert!(InstanceState::parse(s).is_gone(), "{s}");
            assert_eq!(InstanceState::parse(s).as_str(), s);
        }
        for s in ["pending", "running", "rebooting"] {
            assert!(!InstanceState::parse(s).is_gone(), "{s}");
        }
    }
}
