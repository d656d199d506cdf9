//! Plain data of AWS Cloud Map: the namespaces swept, their services and
//! registered instances, and what ECS and EC2 say about those instances.
//!
//! Attribute names are Cloud Map's and ECS's own (Cloud Map API reference,
//! `RegisterInstance`: `AWS_INSTANCE_IPV4`, `AWS_INSTANCE_PORT`,
//! `AWS_INIT_HEALTH_STATUS`; ECS adds `ECS_CLUSTER_NAME`, `ECS_SERVICE_NAME`,
//! `ECS_TASK_DEFINITION_FAMILY`, `AVAILABILITY_ZONE`, `REGION`, and
//! `EC2_INSTANCE_ID` for a task on an EC2 container instance, and registers each
//! task under its task id).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::{Ec2Instance, ReadFailure, Task, Vpc};

pub const ATTR_IPV4: &str = "AWS_INSTANCE_IPV4";
pub const ATTR_PORT: &str = "AWS_INSTANCE_PORT";
pub const ATTR_ECS_CLUSTER: &str = "ECS_CLUSTER_NAME";
pub const ATTR_EC2_INSTANCE: &str = "EC2_INSTANCE_ID";

/// A Cloud Map namespace, as ListNamespaces reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// `ns-…`
    pub id: String,
    pub name: String,
    /// The account that owns it (`ResourceOwner`).
    pub owner: Option<String>,
    /// `DNS_PRIVATE`, `DNS_PUBLIC` or `HTTP`.
    pub kind: String,
    /// The Route 53 zone Cloud Map writes the namespace's records into (DNS
    /// namespaces only), without the `/hostedzone/` prefix.
    pub hosted_zone_id: Option<String>,
}

/// A namespace being swept: itself and the VPCs its hosted zone is associated
/// with (only their instances and network interfaces are evidence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweptNamespace {
    pub namespace: Namespace,
    pub vpcs: BTreeSet<Vpc>,
}

/// A Cloud Map service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudMapService {
    /// `srv-…`
    pub id: String,
    pub name: String,
    /// `HealthCheckCustomConfig` is set: the status of its instances is whatever
    /// UpdateInstanceCustomHealthStatus last said.
    pub custom_health: bool,
}

/// A registered instance, as ListInstances reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub service_id: String,
    pub id: String,
    pub attributes: BTreeMap<String, String>,
    /// The account that registered it (`CreatedByAccount`), when Cloud Map says.
    pub created_by: Option<String>,
}

/// A custom health status (GetInstancesHealthStatus, UpdateInstanceCustomHealthStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
    #[serde(other)]
    Unknown,
}

impl HealthStatus {
    pub fn parse(name: &str) -> Self {
        super::from_wire(name).unwrap_or(Self::Unknown)
    }
}

/// Everything one namespace holds, as listed.
#[derive(Debug, Clone, Default)]
pub struct RegistryListing {
    pub services: Vec<CloudMapService>,
    pub instances: Vec<Registration>,
    /// Custom health status by (service id, instance id), for services with
    /// `HealthCheckCustomConfig`.
    pub health: HashMap<(String, String), HealthStatus>,
    pub failures: Vec<ReadFailure>,
}

impl RegistryListing {
    pub fn service(&self, id: &str) -> Option<&CloudMapService> {
        self.services.iter().find(|s| s.id == id)
    }
}

/// What ECS and EC2 say about a namespace's instances.
#[derive(Debug, Clone, Default)]
pub struct RegistryEvidence {
    /// Tasks ECS knows, by task id (running and stopped ones).
    pub tasks: HashMap<String, Task>,
    /// Clusters named by `ECS_CLUSTER_NAME` that no longer exist.
    pub clusters_gone: BTreeSet<String>,
    /// Every EC2 instance of every Region of the namespace's VPCs.
    pub instances: Vec<Ec2Instance>,
    /// Every private address of a network interface in the namespace's VPCs, with
    /// the VPCs whose interfaces hold it (VPCs may share a CIDR).
    pub addresses: BTreeMap<Ipv4Addr, BTreeSet<String>>,
    /// The IPv4 prefixes delegated to those interfaces: every address in one is
    /// the interface's.
    pub prefixes: Vec<DelegatedPrefix>,
    pub failures: Vec<ReadFailure>,
}

/// An IPv4 prefix delegated to a network interface (prefix delegation hands out
/// whole /28s), and the interface's VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatedPrefix {
    pub net: Ipv4Addr,
    pub len: u8,
    pub vpc: String,
}

impl DelegatedPrefix {
    fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
        u32::from(ip) & mask == u32::from(self.net) & mask
    }
}

impl RegistryEvidence {
    /// The namespace's VPCs in which a network interface has `ip`.
    pub fn holders(&self, ip: Ipv4Addr) -> BTreeSet<&str> {
        let listed = self.addresses.get(&ip).into_iter().flatten();
        let delegated = self.prefixes.iter().filter(|p| p.contains(ip));
        listed
            .map(String::as_str)
            .chain(delegated.map(|p| p.vpc.as_str()))
            .collect()
    }

    /// Whether a network interface of the namespace's VPCs has `ip`.
    pub fn has_address(&self, ip: Ipv4Addr) -> bool {
        !self.holders(ip).is_empty()
    }

    /// Whether an interface of a namespace VPC other than `vpc` has `ip`: then an
    /// instance of `vpc` found by that address may not be the one registered.
    pub fn held_elsewhere(&self, ip: Ipv4Addr, vpc: Option<&str>) -> bool {
        self.holders(ip).into_iter().any(|v| Some(v) != vpc)
    }

    /// Adds what another read (another Region) found.
    pub fn merge(&mut self, mut other: RegistryEvidence) {
        self.tasks.extend(other.tasks);
        self.clusters_gone.append(&mut other.clusters_gone);
        self.instances.append(&mut other.instances);
        for (ip, vpcs) in other.addresses {
            self.addresses.entry(ip).or_default().extend(vpcs);
        }
        self.prefixes.append(&mut other.prefixes);
        self.failures.append(&mut other.failures);
    }
}

/// A task's id: the last segment of its ARN (both ARN formats).
pub fn task_id(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delegated_prefixes_hold_their_addresses() {
        let evidence = RegistryEvidence {
            addresses: BTreeMap::from([(
                Ipv4Addr::new(10, 0, 0, 5),
                BTreeSet::from(["vpc-a".into()]),
            )]),
            prefixes: vec![DelegatedPrefix {
                net: Ipv4Addr::new(10, 0, 1, 16),
                len: 28,
                vpc: "vpc-a".into(),
            }],
            ..RegistryEvidence::default()
        };
        assert!(evidence.has_address(Ipv4Addr::new(10, 0, 0, 5)));
        assert!(evidence.has_address(Ipv4Addr::new(10, 0, 1, 31)));
        assert!(!evidence.has_address(Ipv4Addr::new(10, 0, 1, 32)));
        assert!(!evidence.has_address(Ipv4Addr::new(10, 0, 0, 6)));
    }

    #[test]
    fn an_address_of_two_vpcs_is_held_elsewhere_and_merges_keep_both() {
        let one = |vpc: &str| RegistryEvidence {
            addresses: BTreeMap::from([(Ipv4Addr::new(10, 0, 0, 5), BTreeSet::from([vpc.into()]))]),
            ..RegistryEvidence::default()
        };
        let mut evidence = one("vpc-a");
        let ip = Ipv4Addr::new(10, 0, 0, 5);
        assert!(!evidence.held_elsewhere(ip, Some("vpc-a")));
        assert!(evidence.held_elsewhere(ip, Some("vpc-b")));
        assert!(evidence.held_elsewhere(ip, None));
        evidence.merge(one("vpc-b"));
        assert_eq!(evidence.holders(ip), BTreeSet::from(["vpc-a", "vpc-b"]));
        assert!(evidence.held_elsewhere(ip, Some("vpc-a")));
    }

    #[test]
    fn task_ids_come_from_either_arn_format() {
        assert_eq!(
            task_id("arn:aws:ecs:us-east-1:1:task/prod/abc123"),
            "abc123"
        );
        assert_eq!(task_id("arn:aws:ecs:us-east-1:1:task/abc123"), "abc123");
        assert_eq!(task_id("abc123"), "abc123");
    }
}
