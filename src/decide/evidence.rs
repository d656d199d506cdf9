//! What a decision rests on: the report's `evidence`, one short sentence per
//! deleted, held or deregistered item. The decision core fills it in from what it
//! read, next to the decision itself; this is its one rendering (the report, the
//! text plan and the log lines all print it through [`Display`]).
//!
//! [`Display`]: std::fmt::Display

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Serialize, Serializer};

use crate::classify::{OwnedRecord, Target};
use crate::model::health::Endpoint;
use crate::model::{Ec2Instance, InstanceState, Task, TaskStatus};
use crate::names::{Ec2Host, HostName};

/// What one decision rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// EC2 reports the instance in this (gone) state (`instance-gone`).
    InstanceState {
        instance: String,
        state: InstanceState,
    },
    /// A tie through ECS (`instance-gone`): a container of a task on a container
    /// instance whose EC2 instance is gone. `host`: the record is another record
    /// of a host name such a container's record targets.
    Tied { host: Option<String>, tie: Tie },
    /// No EC2 instance of `vpcs` has any of `names` (`host-unknown`): the host
    /// name, and the address or instance id it spells.
    NoInstance {
        vpcs: Vec<String>,
        names: Vec<String>,
    },
    /// No running task on the host's container instances backs the record
    /// (`task-gone`).
    NotBacked {
        container_instances: Vec<String>,
        by: Backer,
    },
    /// Every health-check attempt failed (`unhealthy`), each as said.
    ChecksFailed {
        endpoint: Endpoint,
        failures: Vec<String>,
    },
    /// ECS reports the task stopped or stopping (`task-stopped`); `ecs`: its last
    /// and desired status, or `None` when ECS no longer reports it and the event's
    /// word stands.
    TaskStopped {
        task: String,
        ecs: Option<(TaskStatus, TaskStatus)>,
    },
    /// Cloud Map `task-gone`: no listing of the cluster shows the task, and
    /// DescribeTasks reports it `MISSING`.
    TaskMissing { task: String, cluster: String },
    /// Cloud Map `task-gone`: the instance's ECS cluster no longer exists.
    ClusterGone { cluster: String },
    /// Cloud Map `host-unknown`: no network interface of `vpcs` has the address.
    NoInterface { vpcs: Vec<String>, ip: Ipv4Addr },
}

/// What a backing task would have to have (`task-gone`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backer {
    /// A container with this id.
    Container(String),
    /// A network binding on this host port (a SRV without a container id).
    HostPort(u16),
    /// The host's address (a host A record; never judged by its tasks).
    Address(Ipv4Addr),
}

/// A container of a task on a container instance of a gone EC2 instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tie {
    pub container: String,
    pub task: String,
    pub container_instance: String,
    pub instance: String,
    pub state: InstanceState,
}

impl Evidence {
    /// EC2's word on a gone instance.
    pub fn gone(instance: &Ec2Instance) -> Self {
        Evidence::InstanceState {
            instance: instance.id.clone(),
            state: instance.state,
        }
    }

    /// No instance of `vpcs` has the host name, nor what it spells.
    pub fn host_unknown(host: &HostName, vpcs: &BTreeSet<String>) -> Self {
        let spelled = host.ec2_host().map(|h| ec2_host(&h));
        Evidence::NoInstance {
            vpcs: vpcs.iter().cloned().collect(),
            names: std::iter::once(host.to_string()).chain(spelled).collect(),
        }
    }

    /// No instance of `vpcs` has the address or id (a host A record).
    pub fn address_unknown(host: &Ec2Host, vpcs: &BTreeSet<String>) -> Self {
        Evidence::NoInstance {
            vpcs: vpcs.iter().cloned().collect(),
            names: vec![ec2_host(host)],
        }
    }

    /// ECS's word on a stopped task.
    pub fn stopped(task: &Task) -> Self {
        Evidence::TaskStopped {
            task: task.arn.clone(),
            ecs: Some((task.last_status, task.desired_status)),
        }
    }

    /// No running task on `container_instances` backs `record`.
    pub fn not_backed(container_instances: Vec<String>, record: &OwnedRecord) -> Self {
        let by = match &record.target {
            Target::Srv {
                container: Some(c), ..
            }
            | Target::Cname { container: c, .. } => Backer::Container(c.as_str().to_string()),
            Target::Srv { port, .. } => Backer::HostPort(*port),
            Target::HostA { ip, .. } => Backer::Address(*ip),
        };
        Evidence::NotBacked {
            container_instances,
            by,
        }
    }
}

fn ec2_host(host: &Ec2Host) -> String {
    match host {
        Ec2Host::Address(ip) => ip.to_string(),
        Ec2Host::Instance(id) => id.clone(),
    }
}

/// An ECS ARN's resource after its type: `cluster/id` (or the id alone, in the
/// old ARN format), what `aws ecs describe-…` takes with `--cluster`.
fn ecs_resource(arn: &str) -> &str {
    arn.split_once('/').map_or(arn, |(_, rest)| rest)
}

/// A Docker container id as `docker ps` shows it: the first 12 characters.
fn short(container: &str) -> &str {
    container.get(..12).unwrap_or(container)
}

fn status(s: TaskStatus) -> String {
    crate::model::wire_name(&s)
}

impl fmt::Display for Tie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "container {} of task {} on container instance {} of EC2 {} {}",
            short(&self.container),
            ecs_resource(&self.task),
            ecs_resource(&self.container_instance),
            self.instance,
            self.state.name()
        )
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::InstanceState { instance, state } => {
                write!(f, "EC2 {instance} {}", state.name())
            }
            Evidence::Tied { host: None, tie } => write!(f, "{tie}"),
            Evidence::Tied {
                host: Some(host),
                tie,
            } => write!(f, "{host} ran {tie}"),
            Evidence::NoInstance { vpcs, names } => write!(
                f,
                "no EC2 instance of {} has {}",
                vpcs.join(", "),
                names.join(" or ")
            ),
            Evidence::NotBacked {
                container_instances,
                by,
            } => {
                let noun = match container_instances.len() {
                    1 => "container instance",
                    _ => "container instances",
                };
                let on: Vec<&str> = container_instances
                    .iter()
                    .map(|ci| ecs_resource(ci))
                    .collect();
                write!(f, "no running task on {noun} {} backs ", on.join(", "))?;
                match by {
                    Backer::Container(id) => write!(f, "container {}", short(id)),
                    Backer::HostPort(port) => write!(f, "host port {port}"),
                    Backer::Address(ip) => write!(f, "address {ip}"),
                }
            }
            Evidence::ChecksFailed { endpoint, failures } => {
                let noun = match failures.len() {
                    1 => "attempt",
                    _ => "attempts",
                };
                let n = failures.len();
                write!(f, "{n} {noun} at {endpoint}: {}", failures.join(", "))
            }
            Evidence::TaskStopped { task, ecs } => {
                let task = ecs_resource(task);
                match ecs {
                    Some((TaskStatus::Stopped, _)) => write!(f, "ECS task {task} STOPPED"),
                    Some((last, desired)) => write!(
                        f,
                        "ECS task {task} {}, desired {}",
                        status(*last),
                        status(*desired)
                    ),
                    None => write!(
                        f,
                        "the event says task {task} STOPPED; ECS no longer reports it"
                    ),
                }
            }
            Evidence::TaskMissing { task, cluster } => write!(
                f,
                "no listing of cluster {cluster} shows task {task}, and DescribeTasks reports it MISSING"
            ),
            Evidence::ClusterGone { cluster } => {
                write!(f, "ECS cluster {cluster} no longer exists")
            }
            Evidence::NoInterface { vpcs, ip } => write!(
                f,
                "no network interface of {} has {ip}",
                vpcs.join(", ")
            ),
        }
    }
}

/// On the wire, the sentence.
impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
