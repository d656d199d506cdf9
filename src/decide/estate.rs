//! The inventory, indexed by what records name.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::model::{ContainerInstance, Ec2Instance, Inventory, Task, TaskDefinition, TaskStatus};
use crate::names::{Ec2Host, HostName};

/// The inventory, indexed for lookups by record target. Only instances of the
/// zone's VPCs are indexed: an instance of another VPC never keeps, backs or
/// condemns a record, whatever name or address it shares with one.
pub(super) struct Estate<'a> {
    by_dns: HashMap<&'a HostName, Vec<&'a Ec2Instance>>,
    by_ip: HashMap<Ipv4Addr, Vec<&'a Ec2Instance>>,
    pub(super) by_id: HashMap<&'a str, &'a Ec2Instance>,
    /// Container instances by EC2 instance id: an instance may be registered more
    /// than once (a re-registered agent, a move between clusters).
    registrations: HashMap<&'a str, Vec<&'a ContainerInstance>>,
    /// Container instances by ARN.
    container_instances: HashMap<&'a str, &'a ContainerInstance>,
    pub(super) tasks: HashMap<&'a str, Vec<&'a Task>>,
    inventory: &'a Inventory,
}

impl<'a> Estate<'a> {
    pub(super) fn new(inventory: &'a Inventory) -> Self {
        let mut by_dns: HashMap<&HostName, Vec<&Ec2Instance>> = HashMap::new();
        let mut by_ip: HashMap<Ipv4Addr, Vec<&Ec2Instance>> = HashMap::new();
        let mut by_id = HashMap::new();
        for i in inventory
            .instances
            .iter()
            .filter(|i| inventory.in_zone_vpcs(i))
        {
            if let Some(dns) = &i.private_dns {
                by_dns.entry(dns).or_default().push(i);
            }
            if let Some(ip) = i.private_ip {
                by_ip.entry(ip).or_default().push(i);
            }
            by_id.insert(i.id.as_str(), i);
        }
        let mut registrations: HashMap<&str, Vec<&ContainerInstance>> = HashMap::new();
        let container_instances = inventory
            .container_instances
            .iter()
            .map(|ci| (ci.arn.as_str(), ci))
            .collect();
        for ci in &inventory.container_instances {
            if let Some(id) = ci.ec2_instance_id.as_deref() {
                registrations.entry(id).or_default().push(ci);
            }
        }
        let mut tasks: HashMap<&str, Vec<&Task>> = HashMap::new();
        for t in &inventory.tasks {
            if let (Some(ci), TaskStatus::Running) =
                (t.container_instance_arn.as_deref(), t.desired_status)
            {
                tasks.entry(ci).or_default().push(t);
            }
        }
        Estate {
            by_dns,
            by_ip,
            by_id,
            registrations,
            container_instances,
            tasks,
            inventory,
        }
    }

    /// The instance a record's host name stands for: by private DNS name, else by
    /// what the name names (the address of an IP name, the id of a resource name).
    /// When several match (an address reused after a termination), the live one
    /// holds the name now.
    pub(super) fn instance_for_host(&self, host: &HostName) -> Option<&'a Ec2Instance> {
        match self.by_dns.get(host) {
            Some(found) => pick(found),
            None => self.instance_for(&host.ec2_host()?),
        }
    }

    pub(super) fn instance_for(&self, host: &Ec2Host) -> Option<&'a Ec2Instance> {
        match host {
            Ec2Host::Address(ip) => self.by_ip.get(ip).and_then(|found| pick(found)),
            Ec2Host::Instance(id) => self.by_id.get(id.as_str()).copied(),
        }
    }

    /// The EC2 instance of a container instance (by its ARN), when EC2 reports it.
    pub(super) fn ec2_of_registration(&self, arn: &str) -> Option<&'a Ec2Instance> {
        let id = self
            .container_instances
            .get(arn)?
            .ec2_instance_id
            .as_deref()?;
        self.by_id.get(id).copied()
    }

    /// Every task read, whatever its status.
    pub(super) fn all_tasks(&self) -> impl Iterator<Item = &'a Task> {
        self.inventory.tasks.iter()
    }

    /// Whether the instance also has a registration in a cluster `ECS_CLUSTERS`
    /// leaves out: the tasks there were not read.
    pub(super) fn registered_elsewhere(&self, instance: &Ec2Instance) -> bool {
        self.inventory.unswept_hosts.contains(&instance.id)
    }

    /// Whether the instance is registered in a swept cluster, and the running
    /// tasks of all its registrations.
    pub(super) fn running_on(&self, instance: &Ec2Instance) -> Option<Vec<&'a Task>> {
        let registrations = self.registrations.get(instance.id.as_str())?;
        Some(
            registrations
                .iter()
                .filter_map(|ci| self.tasks.get(ci.arn.as_str()))
                .flatten()
                .copied()
                .collect(),
        )
    }

    /// The ARNs of the instance's registrations in the swept clusters.
    pub(super) fn registration_arns(&self, instance: &Ec2Instance) -> Vec<String> {
        let registrations = self.registrations.get(instance.id.as_str());
        registrations
            .into_iter()
            .flatten()
            .map(|ci| ci.arn.clone())
            .collect()
    }

    /// The VPCs whose instances are evidence.
    pub(super) fn vpcs(&self) -> &'a std::collections::BTreeSet<String> {
        &self.inventory.zone_vpcs
    }

    pub(super) fn definition(&self, task: &Task) -> Option<&'a TaskDefinition> {
        self.inventory
            .task_definitions
            .get(task.task_definition_arn.as_deref()?)
    }
}

fn pick<'a>(found: &[&'a Ec2Instance]) -> Option<&'a Ec2Instance> {
    found
        .iter()
        .find(|i| !i.state.is_gone())
        .or_else(|| found.first())
        .copied()
}
