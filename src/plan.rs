//! Plan: what a sweep decides for each owned record (SPEC §3). Pure: no I/O.
//!
//! Deciding happens in two steps around the health checks: [`assess`] judges each
//! record from the inventory alone and says which endpoints need a check, and
//! [`decide`] folds in the health results and applies the sweep-wide safety rules
//! (incomplete inventory, mass-deletion guard, last-record protection).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use crate::health::{Endpoint, HealthResult};
use crate::inventory::{
    Container, ContainerInstance, Ec2Instance, Inventory, NetworkMode, Task, TaskDefinition,
};
use crate::records::{Ec2Host, HostName, OwnedRecord, Target};

/// Settings the plan depends on (from SPEC §5).
#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub startup_grace: Duration,
    pub max_delete_percent: u8,
    pub keep_last_record: bool,
    /// `HEALTH_CHECK=off`: a backed record is healthy without a check.
    pub checks_off: bool,
}

/// Whether a deletion rests on something AWS said (positive) or on the absence of
/// something (negative). Only negative evidence is subject to the safety rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    Positive,
    Negative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeleteReason {
    InstanceGone,
    HostUnknown,
    TaskGone,
    Unhealthy,
    TaskStopped,
}

impl DeleteReason {
    pub fn evidence(self) -> Evidence {
        match self {
            Self::InstanceGone | Self::TaskStopped => Evidence::Positive,
            Self::HostUnknown | Self::TaskGone | Self::Unhealthy => Evidence::Negative,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InstanceGone => "instance-gone",
            Self::HostUnknown => "host-unknown",
            Self::TaskGone => "task-gone",
            Self::Unhealthy => "unhealthy",
            Self::TaskStopped => "task-stopped",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeepReason {
    Healthy,
    Grace,
    OutOfScope,
    /// The sweep ran out of time before this record's endpoint was checked.
    Unchecked,
}

impl KeepReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Grace => "grace",
            Self::OutOfScope => "out-of-scope",
            Self::Unchecked => "unchecked",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HoldReason {
    Guard,
    LastRecord,
    InventoryIncomplete,
    WriteConflict,
}

impl HoldReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Guard => "guard",
            Self::LastRecord => "last-record",
            Self::InventoryIncomplete => "inventory-incomplete",
            Self::WriteConflict => "write-conflict",
        }
    }
}

/// One outcome with one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Keep(KeepReason),
    Delete(DeleteReason),
    Hold {
        decided: DeleteReason,
        hold: HoldReason,
    },
}

/// A task a record is backed by, for `STOP_UNHEALTHY_TASKS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    pub arn: String,
    pub cluster: String,
}

/// What [`assess`] concluded for one record before health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// Where the record points, for the report (`host:port`, or an address).
    pub target: String,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Decided(Decision),
    /// Backed by a running task past its grace period: the endpoint decides.
    Check {
        endpoint: Endpoint,
        task: TaskRef,
    },
}

/// One record's final decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub record: OwnedRecord,
    pub target: String,
    pub decision: Decision,
    /// The backing task to stop (`STOP_UNHEALTHY_TASKS`), when the record is deleted
    /// as `unhealthy` and every checked endpoint of that task failed.
    pub task: Option<TaskRef>,
    /// How the health check failed, for `unhealthy`.
    pub detail: Option<String>,
}

/// The mass-deletion guard's arithmetic (SPEC §3, report `guard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Guard {
    pub tripped: bool,
    pub limit_percent: u8,
    /// Negative-evidence deletion candidates, counted before last-record protection.
    pub negative: usize,
    pub owned: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub items: Vec<Planned>,
    pub guard: Guard,
}

impl Plan {
    pub fn deletions(&self) -> impl Iterator<Item = &Planned> {
        self.items
            .iter()
            .filter(|p| matches!(p.decision, Decision::Delete(_)))
    }
}

/// The inventory, indexed for lookups by record target. Only instances of the
/// zone's VPCs are indexed: an instance of another VPC never keeps, backs or
/// condemns a record, whatever name or address it shares with one.
struct Estate<'a> {
    by_dns: HashMap<&'a HostName, Vec<&'a Ec2Instance>>,
    by_ip: HashMap<Ipv4Addr, Vec<&'a Ec2Instance>>,
    by_id: HashMap<&'a str, &'a Ec2Instance>,
    /// Container instances by EC2 instance id: an instance may be registered more
    /// than once (a re-registered agent, a move between clusters).
    registrations: HashMap<&'a str, Vec<&'a ContainerInstance>>,
    tasks: HashMap<&'a str, Vec<&'a Task>>,
    inventory: &'a Inventory,
}

impl<'a> Estate<'a> {
    fn new(inventory: &'a Inventory) -> Self {
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
        for ci in &inventory.container_instances {
            if let Some(id) = ci.ec2_instance_id.as_deref() {
                registrations.entry(id).or_default().push(ci);
            }
        }
        let mut tasks: HashMap<&str, Vec<&Task>> = HashMap::new();
        for t in &inventory.tasks {
            if let (Some(ci), "RUNNING") = (
                t.container_instance_arn.as_deref(),
                t.desired_status.as_str(),
            ) {
                tasks.entry(ci).or_default().push(t);
            }
        }
        Estate {
            by_dns,
            by_ip,
            by_id,
            registrations,
            tasks,
            inventory,
        }
    }

    /// The instance a record's host name stands for: by private DNS name, else by
    /// what the name names (the address of an IP name, the id of a resource name).
    /// When several match (an address reused after a termination), the live one
    /// holds the name now.
    fn instance_for_host(&self, host: &HostName) -> Option<&'a Ec2Instance> {
        match self.by_dns.get(host) {
            Some(found) => pick(found),
            None => self.instance_for(&host.ec2_host()?),
        }
    }

    fn instance_for(&self, host: &Ec2Host) -> Option<&'a Ec2Instance> {
        match host {
            Ec2Host::Address(ip) => self.by_ip.get(ip).and_then(|found| pick(found)),
            Ec2Host::Instance(id) => self.by_id.get(id.as_str()).copied(),
        }
    }

    /// Whether the instance is registered in a swept cluster, and the running
    /// tasks of all its registrations.
    fn running_on(&self, instance: &Ec2Instance) -> Option<Vec<&'a Task>> {
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

    fn definition(&self, task: &Task) -> Option<&'a TaskDefinition> {
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

/// A task that has not reached RUNNING yet, or runs without container ids so far.
fn is_starting(task: &Task) -> bool {
    matches!(
        task.last_status.as_str(),
        "PROVISIONING" | "PENDING" | "ACTIVATING"
    ) || (task.last_status == "RUNNING" && task.containers.iter().all(|c| c.runtime_id.is_none()))
}

/// How long a starting task protects the records on its host: a task stuck in
/// PENDING must not keep stale records forever.
const STARTING_GRACE_FACTOR: u32 = 10;

/// Whether `at` is less than `window` before `now` (an unknown time counts as recent).
fn within(at: Option<SystemTime>, window: Duration, now: SystemTime) -> bool {
    at.is_none_or(|at| now.duration_since(at).map_or(true, |age| age < window))
}

/// A task still starting, created less than 10 × the grace period ago.
fn recently_starting(task: &Task, settings: &PlanSettings, now: SystemTime) -> bool {
    let window = settings.startup_grace * STARTING_GRACE_FACTOR;
    is_starting(task) && within(task.created_at, window, now)
}

/// A backing task in its grace period: started less than the grace period ago, or
/// still starting (for at most 10 × the grace period).
fn in_grace(task: &Task, settings: &PlanSettings, now: SystemTime) -> bool {
    if is_starting(task) {
        return recently_starting(task, settings, now);
    }
    within(task.started_at, settings.startup_grace, now)
}

/// The port `p` of a container's `SERVICE_<p>_NAME=<service>` declaration
/// (definition environment plus overrides).
fn declared_port(
    container: &Container,
    definition: Option<&TaskDefinition>,
    service: &str,
) -> Option<u16> {
    let from_definition = definition
        .and_then(|d| d.container(&container.name))
        .map(|c| c.environment.as_slice())
        .unwrap_or_default();
    from_definition
        .iter()
        .chain(&container.env_overrides)
        .find_map(|(key, value)| {
            let port = key.strip_prefix("SERVICE_")?.strip_suffix("_NAME")?;
            value
                .eq_ignore_ascii_case(service)
                .then(|| port.parse().ok())?
        })
}

/// The host port to check for a CNAME record's service (README, declared port).
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

/// The task and port backing a record on one host ("Backs", README): a running
/// container whose runtime id matches the record's container id, whether or not
/// ECS shows its `SERVICE_<p>_NAME` (it may come from the image, an environment
/// file or a secret). A SRV record without a container id, or whose container ECS
/// reports no id for, is backed by a binding on its port.
fn backing<'a>(
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

fn decided(target: String, decision: Decision) -> Assessment {
    Assessment {
        target,
        verdict: Verdict::Decided(decision),
    }
}

/// Judges each record from the inventory alone (SPEC §3 table, first pass).
pub fn assess(
    records: &[OwnedRecord],
    inventory: &Inventory,
    settings: &PlanSettings,
    now: SystemTime,
) -> Vec<Assessment> {
    let estate = Estate::new(inventory);
    records
        .iter()
        .map(|r| assess_one(r, &estate, settings, now))
        .collect()
}

fn assess_one(
    record: &OwnedRecord,
    estate: &Estate,
    settings: &PlanSettings,
    now: SystemTime,
) -> Assessment {
    use Decision::{Delete, Keep};
    let (host, instance) = match &record.target {
        Target::HostA { ip, host } => {
            let target = ip.to_string();
            return match estate.instance_for(host) {
                None => decided(target, Delete(DeleteReason::HostUnknown)),
                Some(i) if i.state.is_gone() => decided(target, Delete(DeleteReason::InstanceGone)),
                Some(_) => decided(target, Keep(KeepReason::Healthy)),
            };
        }
        Target::Srv { host, .. } | Target::Cname { host, .. } => {
            (host, estate.instance_for_host(host))
        }
    };
    let srv_port = match &record.target {
        Target::Srv { port, .. } => Some(*port),
        _ => None,
    };
    let target_with = |port: Option<u16>| match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let Some(instance) = instance else {
        return decided(target_with(srv_port), Delete(DeleteReason::HostUnknown));
    };
    if instance.state.is_gone() {
        return decided(target_with(srv_port), Delete(DeleteReason::InstanceGone));
    }
    let Some(tasks) = estate.running_on(instance) else {
        return decided(target_with(srv_port), Keep(KeepReason::OutOfScope));
    };
    let Some((task, port)) = backing(record, &tasks, estate) else {
        let reason = if tasks.iter().any(|t| recently_starting(t, settings, now)) {
            Keep(KeepReason::Grace)
        } else {
            Delete(DeleteReason::TaskGone)
        };
        return decided(target_with(srv_port), reason);
    };
    let target = target_with(port);
    if in_grace(task, settings, now) {
        return decided(target, Keep(KeepReason::Grace));
    }
    let ip = instance.private_ip.or_else(|| host.embedded_ip());
    match (settings.checks_off, ip, port) {
        (false, Some(ip), Some(port)) => Assessment {
            target,
            verdict: Verdict::Check {
                endpoint: Endpoint { ip, port },
                task: TaskRef {
                    arn: task.arn.clone(),
                    cluster: task.cluster.clone(),
                },
            },
        },
        // Checks off, or nothing to check against (no address, or a CNAME whose task
        // declares no reachable port): backed by a running task, so it stays.
        _ => decided(target, Keep(KeepReason::Healthy)),
    }
}

/// The distinct endpoints the assessments need checked.
pub fn endpoints(assessments: &[Assessment]) -> BTreeSet<Endpoint> {
    assessments
        .iter()
        .filter_map(|a| match &a.verdict {
            Verdict::Check { endpoint, .. } => Some(*endpoint),
            Verdict::Decided(_) => None,
        })
        .collect()
}

/// The tasks with at least one checked endpoint that answered: never stopped,
/// whatever their other endpoints did.
fn tasks_answering(
    assessments: &[Assessment],
    health: &HashMap<Endpoint, HealthResult>,
) -> HashSet<String> {
    assessments
        .iter()
        .filter_map(|a| match &a.verdict {
            Verdict::Check { endpoint, task }
                if health.get(endpoint).is_some_and(HealthResult::is_healthy) =>
            {
                Some(task.arn.clone())
            }
            _ => None,
        })
        .collect()
}

/// Final decisions (SPEC §3): health results, then the incomplete-inventory rule,
/// the mass-deletion guard and last-record protection.
///
/// `name_counts` counts every record set in the zone by name, foreign ones
/// included: last-record protection is about the name answering at all.
pub fn decide(
    records: &[OwnedRecord],
    assessments: Vec<Assessment>,
    health: &HashMap<Endpoint, HealthResult>,
    inventory_complete: bool,
    name_counts: &HashMap<String, usize>,
    settings: &PlanSettings,
) -> Plan {
    let answering = tasks_answering(&assessments, health);
    let mut items: Vec<Planned> = records
        .iter()
        .zip(assessments)
        .map(|(record, a)| {
            let (decision, task, detail) = match a.verdict {
                Verdict::Decided(d) => (d, None, None),
                Verdict::Check { endpoint, task } => match health.get(&endpoint) {
                    Some(HealthResult::Healthy) => {
                        (Decision::Keep(KeepReason::Healthy), None, None)
                    }
                    Some(HealthResult::Unhealthy { last_error }) => (
                        Decision::Delete(DeleteReason::Unhealthy),
                        (!answering.contains(&task.arn)).then_some(task),
                        Some(last_error.clone()),
                    ),
                    None => (Decision::Keep(KeepReason::Unchecked), None, None),
                },
            };
            Planned {
                record: record.clone(),
                target: a.target,
                decision,
                task,
                detail,
            }
        })
        .collect();

    let is_negative =
        |d: &Decision| matches!(d, Decision::Delete(r) if r.evidence() == Evidence::Negative);
    let negative = items.iter().filter(|p| is_negative(&p.decision)).count();
    let owned = items.len();
    let limit = settings.max_delete_percent;
    let guard = Guard {
        tripped: negative > 0 && negative * 100 > usize::from(limit) * owned,
        limit_percent: limit,
        negative,
        owned,
    };
    let blanket_hold = if !inventory_complete {
        Some(HoldReason::InventoryIncomplete)
    } else if guard.tripped {
        Some(HoldReason::Guard)
    } else {
        None
    };
    if let Some(hold) = blanket_hold {
        for p in items.iter_mut().filter(|p| is_negative(&p.decision)) {
            if let Decision::Delete(decided) = p.decision {
                p.decision = Decision::Hold { decided, hold };
            }
        }
    }
    if settings.keep_last_record {
        protect_last_records(&mut items, name_counts);
    }
    Plan { items, guard }
}

/// Holds one negative-evidence deletion per service name that would otherwise be
/// left with no record: an empty name answers NXDOMAIN, which resolvers cache for
/// the zone's negative TTL, so a dead answer is kinder than none. The one kept is
/// the likeliest to answer: unhealthy (a task runs there) before task-gone before
/// host-unknown.
fn protect_last_records(items: &mut [Planned], name_counts: &HashMap<String, usize>) {
    let mut deleting: HashMap<&str, usize> = HashMap::new();
    for p in items
        .iter()
        .filter(|p| matches!(p.decision, Decision::Delete(_)))
    {
        *deleting.entry(p.record.set.name.as_str()).or_default() += 1;
    }
    let emptied: Vec<String> = deleting
        .into_iter()
        .filter(|(name, n)| name_counts.get(*name).copied().unwrap_or(*n) <= *n)
        .map(|(name, _)| name.to_string())
        .collect();
    for name in emptied {
        let rank = |r: DeleteReason| match r {
            DeleteReason::Unhealthy => 0,
            DeleteReason::TaskGone => 1,
            _ => 2,
        };
        let keep = items
            .iter()
            .enumerate()
            .filter(|(_, p)| p.record.set.name == name && p.record.is_service())
            .filter_map(|(i, p)| match p.decision {
                Decision::Delete(r) if r.evidence() == Evidence::Negative => {
                    Some((rank(r), p.record.set.set_identifier.clone(), i))
                }
                _ => None,
            })
            .min()
            .map(|(_, _, i)| i);
        if let Some(i) = keep {
            if let Decision::Delete(decided) = items[i].decision {
                items[i].decision = Decision::Hold {
                    decided,
                    hold: HoldReason::LastRecord,
                };
            }
        }
    }
}

/// What an `ECS Task State Change` to STOPPED says about one task (SPEC §4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoppedTask {
    /// Container ids of the task's containers, as the event or ECS reports them.
    pub runtime_ids: Vec<String>,
    /// The EC2 instance the task ran on, when known.
    pub instance_id: Option<String>,
    /// Host ports the task's containers were bound to.
    pub host_ports: Vec<u16>,
}

/// The plain target of a record, without a declared port (events do not need one).
fn plain_target(record: &OwnedRecord) -> String {
    match &record.target {
        Target::Srv { host, port, .. } => format!("{host}:{port}"),
        Target::Cname { host, .. } => host.to_string(),
        Target::HostA { ip, .. } => ip.to_string(),
    }
}

fn event_plan(items: Vec<Planned>, owned: usize, settings: &PlanSettings) -> Plan {
    Plan {
        items,
        guard: Guard {
            tripped: false,
            limit_percent: settings.max_delete_percent,
            negative: 0,
            owned,
        },
    }
}

/// The records of a stopped task: those whose container id matches one of its
/// containers' runtime ids, and SRV records on its host and host ports that carry
/// no container id (or when the event reports none). Events come at least once and
/// out of order, so each is re-checked against `inventory` (the task's container
/// instance now): a record that a running task backs — a replacement on the same
/// host port, say — is kept.
pub fn decide_task_stopped(
    records: &[OwnedRecord],
    stopped: &StoppedTask,
    inventory: &Inventory,
    settings: &PlanSettings,
) -> Plan {
    let estate = Estate::new(inventory);
    let running: Vec<&Task> = inventory
        .container_instances
        .iter()
        .filter_map(|ci| estate.tasks.get(ci.arn.as_str()))
        .flatten()
        .copied()
        .collect();
    let on_its_host = |host: &HostName| {
        let holder = estate.instance_for_host(host);
        holder.is_some_and(|i| stopped.instance_id.as_deref() == Some(i.id.as_str()))
    };
    let matches = |record: &OwnedRecord| {
        let container = match &record.target {
            Target::Srv { container, .. } => container.as_ref(),
            Target::Cname { container, .. } => Some(container),
            Target::HostA { .. } => return false,
        };
        let by_id = container.is_some_and(|c| stopped.runtime_ids.iter().any(|r| c.matches(r)));
        let by_port = match &record.target {
            Target::Srv {
                host,
                port,
                container,
            } => {
                (container.is_none() || stopped.runtime_ids.is_empty())
                    && stopped.host_ports.contains(port)
                    && on_its_host(host)
            }
            _ => false,
        };
        by_id || by_port
    };
    let items = records
        .iter()
        .filter(|r| matches(r))
        .map(|record| {
            let decision = match backing(record, &running, &estate) {
                Some(_) => Decision::Keep(KeepReason::Healthy),
                None => Decision::Delete(DeleteReason::TaskStopped),
            };
            Planned {
                record: record.clone(),
                target: plain_target(record),
                decision,
                task: None,
                detail: None,
            }
        })
        .collect();
    event_plan(items, records.len(), settings)
}

/// The records whose target is `instance_id`, which EC2 reports gone. A record
/// whose name or address another live instance of the zone's VPCs holds now is
/// not the gone instance's any more and is left alone; so is everything when the
/// gone instance is in another VPC.
pub fn decide_instance_gone(
    records: &[OwnedRecord],
    instance_id: &str,
    inventory: &Inventory,
    settings: &PlanSettings,
) -> Plan {
    let estate = Estate::new(inventory);
    let Some(gone) = estate.by_id.get(instance_id).copied() else {
        return event_plan(Vec::new(), records.len(), settings);
    };
    let targets_gone = |record: &OwnedRecord| match &record.target {
        Target::HostA { host, .. } => gone.is(host),
        Target::Srv { host, .. } | Target::Cname { host, .. } => gone.is_named_by(host),
    };
    let holder_is_gone = |record: &OwnedRecord| {
        let holder = match &record.target {
            Target::HostA { host, .. } => estate.instance_for(host),
            Target::Srv { host, .. } | Target::Cname { host, .. } => estate.instance_for_host(host),
        };
        holder.is_none_or(|i| i.state.is_gone())
    };
    let items = records
        .iter()
        .filter(|r| targets_gone(r) && holder_is_gone(r))
        .map(|record| Planned {
            record: record.clone(),
            target: plain_target(record),
            decision: Decision::Delete(DeleteReason::InstanceGone),
            task: None,
            detail: None,
        })
        .collect();
    event_plan(items, records.len(), settings)
}

#[cfg(test)]
mod tests;
