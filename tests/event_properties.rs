//! Property tests of the events against the sweep (docs/coverage.md): for random
//! estates — instances live, gone or forgotten by EC2, registered once, twice or
//! not at all, tasks running, starting or stopped — an event never deletes a
//! record that a sweep of the same estate would keep. Each event judges what it
//! read: its task's host (every registration of the EC2 instance, whoever holds
//! its address) or its instance (its registrations and their tasks).

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use ecs_dns_reaper::classify::{classify, OwnedRecord, Target};
use ecs_dns_reaper::decide::{
    assess, decide_instance_gone, decide_task_stopped, Decision, PlanSettings, StoppedTask, Verdict,
};
use ecs_dns_reaper::model::{
    Container, ContainerDefinition, ContainerInstance, Ec2Instance, InstanceState, Inventory,
    NetworkMode, PortBinding, RecordSet, Task, TaskDefinition, TaskStatus,
};
use ecs_dns_reaper::names::HostName;
use proptest::prelude::*;

const APEX: &str = "sd.internal";
const VPC: &str = "vpc-1";
const PORTS: [u16; 3] = [32768, 32769, 8080];

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn settings() -> PlanSettings {
    PlanSettings {
        startup_grace: Duration::from_secs(60),
        max_delete_percent: 100,
        keep_last_record: false,
        checks_off: false,
    }
}

fn address(slot: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 1, 5 + slot)
}

fn host_name(slot: u8) -> String {
    format!("ip-10-0-1-{}.ec2.internal", 5 + slot)
}

fn runtime_id(n: usize) -> String {
    format!("{:064x}", n + 1)
}

/// One instance: its address slot, state, whether EC2 forgot its address (only a
/// terminated one), and how many times it is registered.
type InstanceSpec = (u8, u8, bool, u8);
/// One task: the registration it runs on (an index into all of them), its status
/// (0 running, 1 starting, 2 stopped), whether it started long ago, its port.
type TaskSpec = (usize, u8, bool, usize);
/// One record: its kind (0 SRV with a task's container id, 1 SRV without id, 2
/// SRV with an unknown id, 3 CNAME, 4 host A), the task or slot it names, a port.
type RecordSpec = (u8, usize, usize);

fn instances(specs: &[InstanceSpec]) -> Vec<Ec2Instance> {
    let states = [
        "running",
        "running",
        "terminated",
        "stopped",
        "shutting-down",
    ];
    specs
        .iter()
        .enumerate()
        .map(|(i, &(slot, state, forgotten, _))| {
            let state = InstanceState::parse(states[usize::from(state) % states.len()]);
            let forgotten = forgotten && state == InstanceState::Terminated;
            Ec2Instance {
                id: format!("i-{i}"),
                state,
                private_ip: (!forgotten).then(|| address(slot)),
                private_dns: if forgotten {
                    None
                } else {
                    HostName::parse(&host_name(slot))
                },
                vpc_id: (!forgotten).then(|| VPC.to_string()),
                launched_at: None,
            }
        })
        .collect()
}

fn registrations(specs: &[InstanceSpec]) -> Vec<ContainerInstance> {
    let clusters = ["web", "api"];
    specs
        .iter()
        .enumerate()
        .flat_map(|(i, &(_, _, _, times))| {
            (0..usize::from(times % 3)).map(move |k| ContainerInstance {
                arn: format!("ci-{i}-{k}"),
                cluster: clusters[k % 2].to_string(),
                ec2_instance_id: Some(format!("i-{i}")),
            })
        })
        .collect()
}

fn tasks(specs: &[TaskSpec], registrations: &[ContainerInstance]) -> Vec<Task> {
    if registrations.is_empty() {
        return Vec::new();
    }
    specs
        .iter()
        .enumerate()
        .map(|(n, &(on, status, old, port))| {
            let ci = &registrations[on % registrations.len()];
            let (last, desired) = match status % 3 {
                0 => (TaskStatus::Running, TaskStatus::Running),
                1 => (TaskStatus::Pending, TaskStatus::Running),
                _ => (TaskStatus::Stopped, TaskStatus::Stopped),
            };
            let age = if old {
                Duration::from_secs(3600)
            } else {
                Duration::from_secs(5)
            };
            let starting = last == TaskStatus::Pending;
            Task {
                arn: format!("task-{n}"),
                cluster: ci.cluster.clone(),
                container_instance_arn: Some(ci.arn.clone()),
                last_status: last,
                desired_status: desired,
                started_at: (!starting).then(|| now() - age),
                created_at: Some(now() - age),
                task_definition_arn: Some("calc:1".into()),
                containers: vec![Container {
                    name: "app".into(),
                    runtime_id: (!starting).then(|| runtime_id(n)),
                    bindings: vec![PortBinding {
                        container_port: Some(80),
                        host_port: PORTS[port % PORTS.len()],
                    }],
                    env_overrides: vec![],
                }],
            }
        })
        .collect()
}

fn record(spec: RecordSpec, tasks: &[Task], hosts: &HashMap<String, u8>, slots: u8) -> RecordSet {
    let (kind, which, port) = spec;
    let task = (!tasks.is_empty()).then(|| &tasks[which % tasks.len().max(1)]);
    // The host a record names: its task's host, or any slot.
    let slot = task
        .and_then(|t| hosts.get(t.container_instance_arn.as_deref().unwrap_or_default()))
        .copied()
        .unwrap_or((which % usize::from(slots.max(1))) as u8);
    let host = host_name(slot);
    let id = task.map_or_else(
        || runtime_id(900),
        |t| runtime_id(t.arn[5..].parse().unwrap_or(0)),
    );
    let port = PORTS[port % PORTS.len()];
    let set = |name: &str, rtype: &str, set_id: Option<String>, value: String| RecordSet {
        name: name.to_string(),
        rtype: rtype.to_string(),
        set_identifier: set_id,
        weight: Some(1),
        ttl: Some(0),
        values: vec![value],
        health_check_id: None,
        special: None,
    };
    let service = format!("calc.{APEX}.");
    match kind % 5 {
        0 => set(
            &service,
            "SRV",
            Some(format!("{host}:{id}")),
            format!("1 1 {port} {host}"),
        ),
        1 => set(
            &service,
            "SRV",
            Some(host.clone()),
            format!("1 1 {port} {host}"),
        ),
        2 => set(
            &service,
            "SRV",
            Some(format!("{host}:{}", runtime_id(999))),
            format!("1 1 {port} {host}"),
        ),
        3 => set(&service, "CNAME", Some(id), host),
        _ => {
            let label = host.split('.').next().unwrap_or_default().to_string();
            set(
                &format!("{label}.{APEX}."),
                "A",
                Some(host),
                address(slot).to_string(),
            )
        }
    }
}

#[derive(Debug)]
struct Case {
    estate: Inventory,
    records: Vec<OwnedRecord>,
}

fn case() -> impl Strategy<Value = Case> {
    let instance = (0u8..3, 0u8..5, any::<bool>(), 0u8..3);
    let task = (0usize..8, 0u8..3, any::<bool>(), 0usize..3);
    let record_spec = (0u8..5, 0usize..8, 0usize..3);
    (
        prop::collection::vec(instance, 1..5),
        prop::collection::vec(task, 0..6),
        prop::collection::vec(record_spec, 1..8),
        prop::collection::vec(any::<bool>(), 5),
    )
        .prop_filter("one instance per address", |(specs, _, _, _)| {
            let held: Vec<u8> = instances(specs)
                .iter()
                .filter_map(|i| i.private_ip.map(|ip| ip.octets()[3]))
                .collect();
            held.len() == held.iter().collect::<BTreeSet<_>>().len()
        })
        .prop_map(|(specs, task_specs, record_specs, unswept)| {
            let instances = instances(&specs);
            let container_instances = registrations(&specs);
            let tasks = tasks(&task_specs, &container_instances);
            let hosts: HashMap<String, u8> = container_instances
                .iter()
                .filter_map(|ci| {
                    let i: usize = ci.ec2_instance_id.as_deref()?[2..].parse().ok()?;
                    Some((ci.arn.clone(), specs[i].0))
                })
                .collect();
            let records = record_specs
                .iter()
                .map(|&r| record(r, &tasks, &hosts, 3))
                .filter_map(|set| classify(&set, APEX).ok())
                .collect();
            let unswept_hosts = instances
                .iter()
                .zip(&unswept)
                .filter(|(_, u)| **u)
                .map(|(i, _)| i.id.clone())
                .collect();
            let definition = TaskDefinition {
                network_mode: NetworkMode::Bridge,
                containers: vec![ContainerDefinition {
                    name: "app".into(),
                    environment: vec![("SERVICE_80_NAME".into(), "calc".into())],
                    port_mappings: vec![(80, None)],
                }],
            };
            let estate = Inventory {
                instances,
                container_instances,
                tasks,
                task_definitions: HashMap::from([("calc:1".to_string(), definition)]),
                zone_vpcs: BTreeSet::from([VPC.to_string()]),
                unswept_hosts,
                failures: vec![],
            };
            Case { estate, records }
        })
}

/// What a sweep reads of ECS: tasks whose desired status is RUNNING, and the
/// stopped ones on the registrations of instances EC2 reports gone.
fn sweep_view(estate: &Inventory) -> Inventory {
    let mut view = estate.clone();
    let on_gone_host = |t: &Task| {
        ec2_instance_of(estate, t).is_some_and(|id| {
            estate
                .instances
                .iter()
                .any(|i| i.id == id && i.state.is_gone())
        })
    };
    view.tasks
        .retain(|t| t.desired_status == TaskStatus::Running || on_gone_host(t));
    view
}

/// The instances EC2 shows an event about `instance_id`: it, and every instance
/// that holds its address.
fn ec2_view(estate: &Inventory, instance_id: &str) -> Vec<Ec2Instance> {
    let Some(it) = estate.instances.iter().find(|i| i.id == instance_id) else {
        return Vec::new();
    };
    estate
        .instances
        .iter()
        .filter(|i| {
            i.id == instance_id || (it.private_ip.is_some() && i.private_ip == it.private_ip)
        })
        .cloned()
        .collect()
}

/// What a task-stopped event reads of its task's host: the EC2 instance and its
/// address's holders, every registration of the instance, their running tasks.
fn host_view(estate: &Inventory, instance_id: &str) -> Inventory {
    let mut view = sweep_view(estate);
    view.instances = ec2_view(estate, instance_id);
    view.container_instances
        .retain(|ci| ci.ec2_instance_id.as_deref() == Some(instance_id));
    let arns: BTreeSet<&str> = view
        .container_instances
        .iter()
        .map(|c| c.arn.as_str())
        .collect();
    view.tasks.retain(|t| {
        t.container_instance_arn
            .as_deref()
            .is_some_and(|a| arns.contains(a))
    });
    view
}

/// What an instance-gone event reads: the instance and its address's holders, its
/// registrations and every task on them (stopped ones too), and whoever holds the
/// addresses its records' host names spell (a superset of the tied ones it reads).
fn instance_view(estate: &Inventory, instance_id: &str, records: &[OwnedRecord]) -> Inventory {
    let mut view = estate.clone();
    let spelled: BTreeSet<Ipv4Addr> = records
        .iter()
        .filter_map(|r| match &r.target {
            Target::Srv { host, .. } | Target::Cname { host, .. } => host.embedded_ip(),
            Target::HostA { .. } => None,
        })
        .collect();
    view.instances = ec2_view(estate, instance_id);
    let holders: Vec<Ec2Instance> = estate
        .instances
        .iter()
        .filter(|i| i.private_ip.is_some_and(|ip| spelled.contains(&ip)))
        .filter(|i| !view.instances.iter().any(|v| v.id == i.id))
        .cloned()
        .collect();
    view.instances.extend(holders);
    view.container_instances
        .retain(|ci| ci.ec2_instance_id.as_deref() == Some(instance_id));
    let arns: BTreeSet<&str> = view
        .container_instances
        .iter()
        .map(|c| c.arn.as_str())
        .collect();
    view.tasks.retain(|t| {
        t.container_instance_arn
            .as_deref()
            .is_some_and(|a| arns.contains(a))
    });
    view
}

fn ec2_instance_of(estate: &Inventory, task: &Task) -> Option<String> {
    let ci = task.container_instance_arn.as_deref()?;
    estate
        .container_instances
        .iter()
        .find(|c| c.arn == ci)?
        .ec2_instance_id
        .clone()
}

/// The records a sweep of `estate` keeps: kept outright, or backed by a running
/// task so that only a health check could condemn them.
fn kept_by_sweep(case: &Case) -> Vec<bool> {
    assess(&case.records, &sweep_view(&case.estate), &settings(), now())
        .into_iter()
        .map(|a| !matches!(a.verdict, Verdict::Decided(Decision::Delete(_))))
        .collect()
}

fn deleted(plan: &ecs_dns_reaper::decide::Plan) -> Vec<&RecordSet> {
    plan.items
        .iter()
        .filter(|p| matches!(p.decision, Decision::Delete(_)))
        .map(|p| &p.item.set)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_task_stopped_event_never_deletes_what_a_sweep_keeps(case in case()) {
        let kept = kept_by_sweep(&case);
        for task in case.estate.tasks.iter().filter(|t| t.last_status == TaskStatus::Stopped) {
            let Some(instance_id) = ec2_instance_of(&case.estate, task) else { continue };
            let stopped = StoppedTask {
                runtime_ids: task.containers.iter().filter_map(|c| c.runtime_id.clone()).collect(),
                instance_id: Some(instance_id.clone()),
                host_ports: task.containers.iter().flat_map(|c| c.bindings.iter().map(|b| b.host_port)).collect(),
                ..StoppedTask::default()
            };
            let view = host_view(&case.estate, &instance_id);
            let plan = decide_task_stopped(&case.records, &stopped, &view, &settings(), now());
            for set in deleted(&plan) {
                let i = case.records.iter().position(|r| &r.set == set).unwrap_or(usize::MAX);
                prop_assert!(!kept.get(i).copied().unwrap_or(true),
                    "task {} deleted {:?}, which a sweep keeps", task.arn, set);
            }
        }
    }

    #[test]
    fn an_instance_gone_event_never_deletes_what_a_sweep_keeps(case in case()) {
        let kept = kept_by_sweep(&case);
        for gone in case.estate.instances.iter().filter(|i| i.state.is_gone()) {
            let view = instance_view(&case.estate, &gone.id, &case.records);
            let plan = decide_instance_gone(&case.records, &gone.id, &view, &settings(), now());
            for set in deleted(&plan) {
                let i = case.records.iter().position(|r| &r.set == set).unwrap_or(usize::MAX);
                prop_assert!(!kept.get(i).copied().unwrap_or(true),
                    "instance {} deleted {:?}, which a sweep keeps", gone.id, set);
            }
        }
    }
}
