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
use super::evidence::{Evidence, Tie};
use crate::classify::{OwnedRecord, Target};
use crate::model::{Ec2Instance, Task};
use crate::names::HostName;

/// One tie: a container (by its runtime id) of a task on a container instance
/// whose EC2 instance is gone.
#[derive(Clone, Copy)]
pub(super) struct Tied<'a> {
    container: &'a str,
    task: &'a Task,
    pub(super) gone: &'a Ec2Instance,
}

impl Tied<'_> {
    /// What the tie rests on; `host` when the record is tied by the host name a
    /// tied record targets.
    pub(super) fn evidence(&self, host: Option<&HostName>) -> Evidence {
        Evidence::Tied {
            host: host.map(ToString::to_string),
            tie: Tie {
                container: self.container.to_string(),
                task: self.task.arn.clone(),
                container_instance: self.task.container_instance_arn.clone().unwrap_or_default(),
                instance: self.gone.id.clone(),
                state: self.gone.state,
            },
        }
    }
}

/// The records tied through ECS to a gone instance, found once per plan.
pub(super) struct Ties<'a> {
    /// Container ids of every task (whatever its status) on a container instance
    /// whose EC2 instance is gone, with that tie.
    containers: Vec<Tied<'a>>,
    /// The host names that tied records target, and no live instance holds now.
    hosts: HashMap<HostName, Tied<'a>>,
}

impl<'a> Ties<'a> {
    pub(super) fn new(records: &[OwnedRecord], estate: &Estate<'a>) -> Self {
        let containers: Vec<Tied<'a>> = estate
            .all_tasks()
            .filter_map(|task| {
                let gone = estate.ec2_of_registration(task.container_instance_arn.as_deref()?)?;
                gone.state.is_gone().then_some((task, gone))
            })
            .flat_map(|(task, gone)| {
                task.containers.iter().filter_map(move |c| {
                    Some(Tied {
                        container: c.runtime_id.as_deref()?,
                        task,
                        gone,
                    })
                })
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

    /// The gone instance a record is tied to.
    pub(super) fn gone_instance(
        &self,
        record: &OwnedRecord,
        estate: &Estate<'a>,
    ) -> Option<&'a Ec2Instance> {
        self.tie(record, estate).map(|(tied, _)| tied.gone)
    }

    /// The tie of a record: by its container id, or by the host name it targets
    /// (a host A record by its set identifier, or — a simple one — by the address
    /// or id its name spells), unless a live instance holds it now; with that
    /// host name when it is by one.
    pub(super) fn tie(
        &self,
        record: &OwnedRecord,
        estate: &Estate<'a>,
    ) -> Option<(Tied<'a>, Option<&HostName>)> {
        if let Some(tied) = self.by_container(record) {
            return Some((tied, None));
        }
        let by_host = |name: &HostName| self.hosts.get_key_value(name).map(|(h, t)| (*t, Some(h)));
        match &record.target {
            Target::Srv { host, .. } | Target::Cname { host, .. } => by_host(host),
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
                    Some(name) => by_host(&name),
                    None => self
                        .hosts
                        .iter()
                        .find(|(name, _)| name.ec2_host().as_ref() == Some(host))
                        .map(|(name, tied)| (*tied, Some(name))),
                }
            }
        }
    }

    /// The host names tied to a gone instance, with it.
    pub(super) fn hosts(&self) -> impl Iterator<Item = (&HostName, &'a Ec2Instance)> {
        self.hosts.iter().map(|(name, tied)| (name, tied.gone))
    }

    fn by_container(&self, record: &OwnedRecord) -> Option<Tied<'a>> {
        let container = match &record.target {
            Target::Srv { container, .. } => container.as_ref()?,
            Target::Cname { container, .. } => container,
            Target::HostA { .. } => return None,
        };
        self.containers
            .iter()
            .find(|tied| container.matches(tied.container))
            .copied()
    }
}

fn host_of(record: &OwnedRecord) -> Option<&HostName> {
    match &record.target {
        Target::Srv { host, .. } | Target::Cname { host, .. } => Some(host),
        Target::HostA { .. } => None,
    }
}
