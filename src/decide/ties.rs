//! Ties through ECS (docs/coverage.md): positive evidence that outlives EC2's
//! memory of an address.
//!
//! EC2 deletes a terminated instance's network interface: from then on it reports
//! no private address and no DNS name, and a record that names the host by its
//! address can no longer be matched to it. ECS still knows which tasks ran on the
//! instance's container instances and the ids of their containers — the ids the
//! agent's records carry. Such a record is the gone instance's (`instance-gone`),
//! and so is every other owned record of the host name it targets (its host A
//! record among them), unless a live instance of the zone's VPCs holds that name
//! or address now.

use std::collections::HashMap;

use super::estate::Estate;
use crate::classify::{OwnedRecord, Target};
use crate::model::Ec2Instance;
use crate::names::HostName;

/// The records tied through ECS to a gone instance, found once per plan.
pub(super) struct Ties<'a> {
    /// Container ids of every task (whatever its status) on a container instance
    /// whose EC2 instance is gone, with that instance.
    containers: Vec<(&'a str, &'a Ec2Instance)>,
    /// The host names that tied records target, and no live instance holds now.
    hosts: HashMap<HostName, &'a Ec2Instance>,
}

impl<'a> Ties<'a> {
    pub(super) fn new(records: &[OwnedRecord], estate: &Estate<'a>) -> Self {
        let containers: Vec<(&str, &Ec2Instance)> = estate
            .all_tasks()
            .filter_map(|task| {
                let gone = estate.ec2_of_registration(task.container_instance_arn.as_deref()?)?;
                gone.state.is_gone().then_some((task, gone))
            })
            .flat_map(|(task, gone)| {
                task.containers
                    .iter()
                    .filter_map(move |c| Some((c.runtime_id.as_deref()?, gone)))
            })
            .collect();
        let mut ties = Ties {
            containers,
            hosts: HashMap::new(),
        };
        for record in records {
            let (Some(gone), Some(host)) = (ties.by_container(record), host_of(record)) else {
                continue;
            };
            let held_now = estate
                .instance_for_host(host)
                .is_some_and(|i| !i.state.is_gone());
            if !held_now {
                ties.hosts.insert(host.clone(), gone);
            }
        }
        ties
    }

    /// The gone instance a record is tied to: by its container id, or by the host
    /// name it targets (a host A record by its set identifier, or — a simple one —
    /// by the address or id its name spells), unless a live instance holds it now.
    pub(super) fn gone_instance(
        &self,
        record: &OwnedRecord,
        estate: &Estate<'a>,
    ) -> Option<&'a Ec2Instance> {
        if let Some(gone) = self.by_container(record) {
            return Some(gone);
        }
        match &record.target {
            Target::Srv { host, .. } | Target::Cname { host, .. } => self.hosts.get(host).copied(),
            Target::HostA { host, .. } => {
                if estate
                    .instance_for(host)
                    .is_some_and(|i| !i.state.is_gone())
                {
                    return None;
                }
                let named = record
                    .set
                    .set_identifier
                    .as_deref()
                    .and_then(HostName::parse);
                match named {
                    Some(name) => self.hosts.get(&name).copied(),
                    None => self
                        .hosts
                        .iter()
                        .find(|(name, _)| name.ec2_host().as_ref() == Some(host))
                        .map(|(_, gone)| *gone),
                }
            }
        }
    }

    /// The host names tied to a gone instance, with it.
    pub(super) fn hosts(&self) -> impl Iterator<Item = (&HostName, &'a Ec2Instance)> {
        self.hosts.iter().map(|(name, gone)| (name, *gone))
    }

    fn by_container(&self, record: &OwnedRecord) -> Option<&'a Ec2Instance> {
        let container = match &record.target {
            Target::Srv { container, .. } => container.as_ref()?,
            Target::Cname { container, .. } => container,
            Target::HostA { .. } => return None,
        };
        self.containers
            .iter()
            .find(|(runtime_id, _)| container.matches(runtime_id))
            .map(|(_, gone)| *gone)
    }
}

fn host_of(record: &OwnedRecord) -> Option<&HostName> {
    match &record.target {
        Target::Srv { host, .. } | Target::Cname { host, .. } => Some(host),
        Target::HostA { .. } => None,
    }
}
