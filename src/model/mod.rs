//! Plain data: what the reaper reads from Route 53, ECS and EC2, as the `aws`
//! edges turn it into its own types. No SDK types and no decisions here.
//! [`cloud_map`] holds the Cloud Map side.

pub mod cloud_map;
mod event;
pub mod health;

pub use event::TaskStoppedEvent;

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::names::{Ec2Host, HostName};

/// The hosted zone being swept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Id without the `/hostedzone/` prefix.
    pub id: String,
    /// Zone apex, lower case, without the trailing dot (`servicediscovery.internal`).
    pub apex: String,
}

/// A VPC a private hosted zone is associated with, and its Region (GetHostedZone's
/// `VPCRegion`). A zone may be associated with VPCs of several Regions (a DR
/// Region whose agents write into the same zone), and of other accounts (through
/// a VPC association authorization): EC2 must be read where each VPC is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vpc {
    pub region: String,
    pub id: String,
}

/// The ids of `vpcs` (VPC ids are unique across Regions and accounts).
pub fn vpc_ids(vpcs: &BTreeSet<Vpc>) -> BTreeSet<String> {
    vpcs.iter().map(|v| v.id.clone()).collect()
}

/// What GetHostedZone says of the zone being swept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneInfo {
    /// Zone apex, lower case, without the trailing dot.
    pub apex: String,
    /// The VPCs the zone is associated with, each in its Region.
    pub vpcs: BTreeSet<Vpc>,
}

/// What EC2 said, read in every Region of a zone's (or namespace's) VPCs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ec2Read {
    pub instances: Vec<Ec2Instance>,
    /// Reads that failed, and VPCs of the zone this account cannot read: either
    /// makes every absence unproven.
    pub failures: Vec<ReadFailure>,
}

/// A record set exactly as Route 53 listed it: enough to send it back in a DELETE,
/// which Route 53 accepts only when every field matches the current record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    /// As listed: lower case, fully qualified, with Route 53's octal escapes.
    pub name: String,
    pub rtype: String,
    pub set_identifier: Option<String>,
    pub weight: Option<i64>,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
    pub health_check_id: Option<String>,
    /// Alias target, or a routing policy other than simple / weighted (latency,
    /// failover, geolocation, multivalue, CIDR, traffic policy): never owned.
    pub special: Option<&'static str>,
}

impl RecordSet {
    /// Identity of a record set within a zone: Route 53 allows one set per
    /// name, type and set identifier.
    pub fn key(&self) -> (&str, &str, Option<&str>) {
        (&self.name, &self.rtype, self.set_identifier.as_deref())
    }

    /// Characters Route 53 counts against its 32,000-character batch limit.
    pub fn value_chars(&self) -> usize {
        self.values.iter().map(String::len).sum()
    }
}

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
    pub launched_at: Option<SystemTime>,
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

/// The name of a unit enum variant on the wire, from its serde table: each status
/// and reason has its names written once, in its `#[serde(rename_all)]`.
pub fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

fn from_wire<T: DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

/// EC2 instance state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
    #[serde(other)]
    Unknown,
}

impl InstanceState {
    pub fn parse(name: &str) -> Self {
        from_wire(name).unwrap_or(Self::Unknown)
    }

    /// The states in which an instance counts as gone.
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            Self::ShuttingDown | Self::Terminated | Self::Stopping | Self::Stopped
        )
    }

    pub fn name(self) -> String {
        wire_name(&self)
    }
}

/// An ECS task status (`lastStatus`, `desiredStatus`), in life-cycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
    Deleted,
    #[serde(other)]
    Unknown,
}

impl TaskStatus {
    pub fn parse(name: &str) -> Self {
        from_wire(name).unwrap_or(Self::Unknown)
    }

    /// Not RUNNING yet.
    pub fn is_starting(self) -> bool {
        matches!(self, Self::Provisioning | Self::Pending | Self::Activating)
    }

    pub fn name(self) -> String {
        wire_name(&self)
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
    pub last_status: TaskStatus,
    pub desired_status: TaskStatus,
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
pub struct ReadFailure {
    /// `service:Operation` plus what it was about, e.g. `ecs:ListTasks cluster=web`.
    pub call: String,
    pub message: String,
}

impl std::fmt::Display for ReadFailure {
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
    /// EC2 instances with a registration (ACTIVE or DRAINING) in a cluster that
    /// `ECS_CLUSTERS` leaves out: their tasks there are not read, so no absence
    /// of a backing task is evidence for them.
    pub unswept_hosts: BTreeSet<String>,
    pub failures: Vec<ReadFailure>,
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

impl ClusterScope {
    /// Whether the cluster named `name` is swept (`ECS_CLUSTERS` holds names or ARNs).
    pub fn includes(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Named(names) => names
                .iter()
                .any(|n| n == name || n.rsplit_once(":cluster/").is_some_and(|(_, c)| c == name)),
        }
    }
}

/// What became of one DELETE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    Deleted,
    /// Not there any more: someone else deleted it. Gone is what we wanted.
    Vanished,
    /// The record changed since it was listed; it is left as it now is.
    Conflict(String),
    /// Route 53 failed the request for another reason (after the SDK's retries).
    Failed(String),
    /// Not attempted: the sweep ran out of time.
    Skipped,
    /// Sent, but not seen through before the deadline: a Route 53 change that
    /// did not answer in the time left, a Cloud Map deregistration whose
    /// operation was still in progress. It may still take effect.
    Unconfirmed(String),
}

/// A task to stop (`STOP_UNHEALTHY_TASKS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    pub arn: String,
    pub cluster: String,
}

/// A record set for tests: TTL 60, no health check, no other routing policy.
#[cfg(test)]
pub(crate) fn test_record_set(
    name: &str,
    rtype: &str,
    id: Option<&str>,
    weight: Option<i64>,
    values: &[&str],
) -> RecordSet {
    RecordSet {
        name: name.to_string(),
        rtype: rtype.to_string(),
        set_identifier: id.map(String::from),
        weight,
        ttl: Some(60),
        values: values.iter().map(|v| v.to_string()).collect(),
        health_check_id: None,
        special: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_states_are_the_four_of_the_spec() {
        for s in ["shutting-down", "terminated", "stopping", "stopped"] {
            assert!(InstanceState::parse(s).is_gone(), "{s}");
            assert_eq!(InstanceState::parse(s).name(), s);
        }
        for s in ["pending", "running", "rebooting"] {
            assert!(!InstanceState::parse(s).is_gone(), "{s}");
        }
    }
}
