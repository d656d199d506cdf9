//! The Cloud Map decision table, one row per rule.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use super::*;
use crate::decide::HoldReason;
use crate::model::cloud_map::{CloudMapService, Registration};
use crate::model::health::HealthResult;
use crate::model::{InstanceState, Task};

const VPC: &str = "vpc-ns";

fn settings() -> PlanSettings {
    PlanSettings {
        startup_grace: Duration::from_secs(60),
        max_delete_percent: 50,
        keep_last_record: true,
        checks_off: false,
    }
}

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, 0, last)
}

fn owned(service: &str, id: &str, last: u8, registrar: Registrar) -> OwnedInstance {
    OwnedInstance {
        service_id: format!("srv-{service}"),
        service: service.into(),
        id: id.into(),
        ipv4: ip(last),
        port: Some(8080),
        registrar,
        ec2_instance_id: None,
    }
}

fn ecs(service: &str, task: &str, last: u8) -> OwnedInstance {
    owned(
        service,
        task,
        last,
        Registrar::Ecs {
            cluster: "prod".into(),
        },
    )
}

fn script(service: &str, id: &str, last: u8, ec2: Option<&str>) -> OwnedInstance {
    OwnedInstance {
        ec2_instance_id: ec2.map(String::from),
        ..owned(service, id, last, Registrar::Other)
    }
}

fn task(id: &str, last: &str, started_ago: u64) -> Task {
    let at = SystemTime::now() - Duration::from_secs(started_ago);
    Task {
        arn: format!("arn:aws:ecs:us-east-1:1:task/prod/{id}"),
        cluster: "prod".into(),
        container_instance_arn: None,
        last_status: TaskStatus::parse(last),
        desired_status: TaskStatus::parse("RUNNING"),
        started_at: Some(at),
        created_at: Some(at),
        task_definition_arn: None,
        containers: Vec::new(),
    }
}

fn ec2(id: &str, last: u8, state: &str, vpc: &str) -> Ec2Instance {
    Ec2Instance {
        id: id.into(),
        state: InstanceState::parse(state),
        private_ip: Some(ip(last)),
        private_dns: None,
        vpc_id: Some(vpc.into()),
        launched_at: Some(SystemTime::now() - Duration::from_secs(3600)),
    }
}

/// Network interfaces of `vpc` at the addresses ending in `lasts`.
fn interfaces(lasts: &[u8], vpc: &str) -> BTreeMap<Ipv4Addr, BTreeSet<String>> {
    lasts
        .iter()
        .map(|l| (ip(*l), BTreeSet::from([vpc.to_string()])))
        .collect()
}

fn listing(instances: &[OwnedInstance], custom: &[&str]) -> RegistryListing {
    let services: BTreeSet<&str> = instances.iter().map(|i| i.service.as_str()).collect();
    RegistryListing {
        services: services
            .iter()
            .map(|s| CloudMapService {
                id: format!("srv-{s}"),
                name: s.to_string(),
                custom_health: custom.contains(s),
            })
            .collect(),
        instances: instances
            .iter()
            .map(|i| Registration {
                service_id: i.service_id.clone(),
                id: i.id.clone(),
                attributes: BTreeMap::new(),
                created_by: None,
            })
            .collect(),
        health: HashMap::new(),
        failures: Vec::new(),
    }
}

fn assess(instances: &[OwnedInstance], evidence: &RegistryEvidence) -> Vec<Verdict> {
    let vpcs = BTreeSet::from([VPC.to_string()]);
    let context = RegistryContext {
        evidence,
        vpcs: &vpcs,
        scope: &ClusterScope::All,
    };
    verdicts(assess_instances(
        instances,
        &context,
        &settings(),
        SystemTime::now(),
    ))
}

fn verdicts(assessed: Vec<Assessment>) -> Vec<Verdict> {
    assessed.into_iter().map(|a| a.verdict).collect()
}

/// The check of `endpoint` (no task: Cloud Map's checks stop nothing).
fn check(endpoint: Endpoint) -> Verdict {
    Verdict::Check {
        endpoint,
        task: None,
    }
}

fn decided(v: &Verdict) -> Decision {
    match v {
        Verdict::Decided(d) => *d,
        Verdict::Check { endpoint, .. } => {
            panic!("expected a decision, got a check of {endpoint:?}")
        }
    }
}

#[test]
fn ecs_registered_instances_are_judged_by_their_task_only() {
    let instances = [
        ecs("web", "running", 1),
        ecs("web", "young", 2),
        ecs("web", "stopped", 3),
        ecs("web", "unknown", 4),
    ];
    let evidence = RegistryEvidence {
        tasks: [
            ("running", task("running", "RUNNING", 600)),
            ("young", task("young", "RUNNING", 5)),
            ("stopped", task("stopped", "STOPPED", 600)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        ..Default::default()
    };
    let got: Vec<Decision> = assess(&instances, &evidence).iter().map(decided).collect();
    assert_eq!(
        got,
        vec![
            Decision::Keep(KeepReason::Healthy),
            Decision::Keep(KeepReason::Grace),
            Decision::Delete(DeleteReason::TaskStopped),
            Decision::Delete(DeleteReason::TaskGone),
        ]
    );
}

#[test]
fn a_deleted_cluster_condemns_its_instances_and_an_unswept_one_keeps_them() {
    let instances = [ecs("web", "t1", 1)];
    let evidence = RegistryEvidence {
        clusters_gone: BTreeSet::from(["prod".to_string()]),
        ..Default::default()
    };
    assert_eq!(
        decided(&assess(&instances, &evidence)[0]),
        Decision::Delete(DeleteReason::TaskGone)
    );
    let vpcs = BTreeSet::new();
    let scope = ClusterScope::Named(vec!["arn:aws:ecs:us-east-1:1:cluster/staging".into()]);
    let context = RegistryContext {
        evidence: &evidence,
        vpcs: &vpcs,
        scope: &scope,
    };
    let got = verdicts(assess_instances(
        &instances,
        &context,
        &settings(),
        SystemTime::now(),
    ));
    assert_eq!(decided(&got[0]), Decision::Keep(KeepReason::OutOfScope));
}

#[test]
fn other_instances_are_judged_by_ec2_then_network_interfaces_then_the_check() {
    let instances = [
        script("db", "by-id", 1, Some("i-gone")),
        script("db", "by-ip", 2, None),
        script("db", "no-eni", 3, None),
        script("db", "other-vpc", 4, None),
        script("db", "young", 5, Some("i-young")),
        script("db", "check", 6, None),
    ];
    let mut young = ec2("i-young", 5, "running", VPC);
    young.launched_at = Some(SystemTime::now());
    let evidence = RegistryEvidence {
        instances: vec![
            // Terminated: no address any more, only its id ties it.
            Ec2Instance {
                private_ip: None,
                vpc_id: None,
                ..ec2("i-gone", 1, "terminated", VPC)
            },
            ec2("i-stopping", 2, "stopping", VPC),
            // The same address in another VPC, gone: proves nothing here.
            ec2("i-elsewhere", 4, "terminated", "vpc-other"),
            young,
        ],
        addresses: interfaces(&[1, 2, 4, 5, 6], VPC),
        ..Default::default()
    };
    let got = assess(&instances, &evidence);
    assert_eq!(
        decided(&got[0]),
        Decision::Delete(DeleteReason::InstanceGone)
    );
    assert_eq!(
        decided(&got[1]),
        Decision::Delete(DeleteReason::InstanceGone)
    );
    assert_eq!(
        decided(&got[2]),
        Decision::Delete(DeleteReason::HostUnknown)
    );
    assert_eq!(
        got[3],
        check(Endpoint {
            ip: ip(4),
            port: 8080
        })
    );
    assert_eq!(decided(&got[4]), Decision::Keep(KeepReason::Grace));
    assert!(matches!(got[5], Verdict::Check { .. }));
}

fn checked_plan(
    custom: &[&str],
    status: Option<HealthStatus>,
    healthy: bool,
) -> Plan<OwnedInstance> {
    let instances = [script("db", "a", 1, None), script("db", "b", 2, None)];
    let mut listing = listing(&instances, custom);
    if let Some(status) = status {
        listing.health.insert(("srv-db".into(), "a".into()), status);
    }
    let endpoint = Endpoint {
        ip: ip(1),
        port: 8080,
    };
    let result = if healthy {
        HealthResult::Healthy
    } else {
        HealthResult::Unhealthy {
            failures: vec!["connection refused".into()],
        }
    };
    let verdicts = vec![
        check(endpoint),
        Verdict::Decided(Decision::Keep(KeepReason::Healthy)),
    ];
    let health = HashMap::from([(endpoint, result)]);
    decide_instances(&instances, verdicts, &health, &listing, true, &settings())
}

#[test]
fn a_failed_check_deregisters_unless_the_service_has_custom_health() {
    let plain = checked_plan(&[], None, false);
    assert_eq!(
        plain.items[0].decision,
        Decision::Delete(DeleteReason::Unhealthy)
    );
    assert!(plain.health_updates.is_empty());

    let custom = checked_plan(&["db"], Some(HealthStatus::Healthy), false);
    assert_eq!(
        custom.items[0].decision,
        Decision::Keep(KeepReason::Unhealthy)
    );
    assert_eq!(custom.health_updates.len(), 1);
    assert_eq!(custom.health_updates[0].status, HealthStatus::Unhealthy);
    assert_eq!(custom.health_updates[0].instance_id, "a");
}

#[test]
fn custom_health_is_only_changed_when_cloud_map_says_otherwise() {
    let already = checked_plan(&["db"], Some(HealthStatus::Unhealthy), false);
    assert!(already.health_updates.is_empty(), "UNHEALTHY already");
    let back = checked_plan(&["db"], Some(HealthStatus::Unhealthy), true);
    assert_eq!(back.items[0].decision, Decision::Keep(KeepReason::Healthy));
    assert_eq!(back.health_updates[0].status, HealthStatus::Healthy);
    let fine = checked_plan(&["db"], Some(HealthStatus::Healthy), true);
    assert!(fine.health_updates.is_empty(), "HEALTHY already");
}

#[test]
fn the_last_instance_of_a_service_is_held_and_positive_evidence_goes_through() {
    let instances = [
        script("db", "a", 1, None),
        script("db", "b", 2, None),
        script("cache", "c", 3, None),
    ];
    let listing = listing(&instances, &[]);
    let verdicts = vec![
        Verdict::Decided(Decision::Delete(DeleteReason::HostUnknown)),
        Verdict::Decided(Decision::Delete(DeleteReason::InstanceGone)),
        Verdict::Decided(Decision::Keep(KeepReason::Healthy)),
    ];
    let mut s = settings();
    s.max_delete_percent = 100;
    let plan = decide_instances(&instances, verdicts, &HashMap::new(), &listing, true, &s);
    assert_eq!(
        plan.items[0].decision,
        Decision::Hold {
            decided: DeleteReason::HostUnknown,
            hold: HoldReason::LastRecord
        }
    );
    assert_eq!(
        plan.items[1].decision,
        Decision::Delete(DeleteReason::InstanceGone)
    );
}

#[test]
fn guard_and_incomplete_inventory_hold_negative_deregistrations_per_namespace() {
    let instances: Vec<OwnedInstance> = (1..=4)
        .map(|n| script("db", &format!("i{n}"), n, None))
        .collect();
    let listing = listing(&instances, &[]);
    let verdicts = |reasons: [DeleteReason; 4]| {
        reasons
            .into_iter()
            .map(|r| Verdict::Decided(Decision::Delete(r)))
            .collect::<Vec<_>>()
    };
    use DeleteReason::{HostUnknown, InstanceGone};
    let mut s = settings();
    s.keep_last_record = false;
    let guarded = decide_instances(
        &instances,
        verdicts([HostUnknown, HostUnknown, HostUnknown, InstanceGone]),
        &HashMap::new(),
        &listing,
        true,
        &s,
    );
    assert!(guarded.guard.tripped);
    assert_eq!((guarded.guard.negative, guarded.guard.owned), (3, 4));
    assert_eq!(guarded.deletions().count(), 1, "instance-gone goes through");

    let incomplete = decide_instances(
        &instances,
        verdicts([HostUnknown, InstanceGone, InstanceGone, InstanceGone]),
        &HashMap::new(),
        &listing,
        false,
        &s,
    );
    assert!(!incomplete.guard.tripped);
    assert_eq!(
        incomplete.items[0].decision,
        Decision::Hold {
            decided: HostUnknown,
            hold: HoldReason::InventoryIncomplete
        }
    );
    assert_eq!(incomplete.deletions().count(), 3);
}

#[test]
fn a_reused_address_is_judged_by_the_live_instance_that_holds_it_now() {
    let instances = [
        script("db", "by-ip", 1, None),
        script("db", "by-id", 1, Some("i-new")),
        ecs("web", "on-gone-host", 2),
    ];
    let mut on_gone_host = instances[2].clone();
    on_gone_host.ec2_instance_id = Some("i-host".into());
    let instances = [instances[0].clone(), instances[1].clone(), on_gone_host];
    let evidence = RegistryEvidence {
        instances: vec![
            // Stopped, still reporting the address; a new instance holds it too.
            ec2("i-old", 1, "stopped", VPC),
            ec2("i-new", 1, "running", VPC),
            ec2("i-host", 2, "terminated", VPC),
        ],
        tasks: [("on-gone-host", task("on-gone-host", "RUNNING", 600))]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        addresses: interfaces(&[1, 2], VPC),
        ..Default::default()
    };
    let got = assess(&instances, &evidence);
    assert!(matches!(got[0], Verdict::Check { .. }), "{:?}", got[0]);
    assert!(matches!(got[1], Verdict::Check { .. }), "{:?}", got[1]);
    // EC2's word on the host wins over ECS's stale view of a running task.
    assert_eq!(
        decided(&got[2]),
        Decision::Delete(DeleteReason::InstanceGone)
    );
}

/// Verdicts for `instances`: a check that failed for those `failing` picks, kept
/// `healthy` otherwise; and the check results.
fn with_failed_checks(
    instances: &[OwnedInstance],
    failing: impl Fn(&OwnedInstance) -> bool,
) -> (Vec<Verdict>, HashMap<Endpoint, HealthResult>) {
    let failed = HealthResult::Unhealthy {
        failures: vec!["refused".into()],
    };
    let mut health = HashMap::new();
    let verdicts = instances
        .iter()
        .map(|i| {
            let endpoint = Endpoint {
                ip: i.ipv4,
                port: 8080,
            };
            if failing(i) {
                health.insert(endpoint, failed.clone());
                check(endpoint)
            } else {
                Verdict::Decided(Decision::Keep(KeepReason::Healthy))
            }
        })
        .collect();
    (verdicts, health)
}

/// Every instance of `db` fails its check in a custom-health service; `others`
/// more instances elsewhere answer.
fn all_failing(n: u8, others: u8, complete: bool, keep_last: bool) -> Plan<OwnedInstance> {
    let mut instances: Vec<OwnedInstance> = (1..=n)
        .map(|i| script("db", &format!("d{i}"), i, None))
        .collect();
    instances.extend((1..=others).map(|i| script("web", &format!("w{i}"), 100 + i, None)));
    let listing = listing(&instances, &["db"]);
    let (verdicts, health) = with_failed_checks(&instances, |i| i.service == "db");
    let mut s = settings();
    s.keep_last_record = keep_last;
    decide_instances(&instances, verdicts, &health, &listing, complete, &s)
}

#[test]
fn unhealthy_marks_count_toward_the_guard_and_wait_for_a_complete_inventory() {
    // 2 marks of 10 owned: under the 50 % guard, both made but the last answering
    // instance of the service is spared.
    let plan = all_failing(2, 8, true, true);
    assert!(!plan.guard.tripped);
    assert_eq!(plan.guard.negative, 2);
    assert_eq!(plan.health_updates.len(), 1, "{:?}", plan.health_updates);
    assert_eq!(plan.health_updates[0].instance_id, "d2");

    let plan = all_failing(2, 8, true, false);
    assert_eq!(plan.health_updates.len(), 2, "KEEP_LAST_RECORD=false");

    // 6 of 10: the guard trips and nothing is marked.
    let plan = all_failing(6, 4, true, false);
    assert!(plan.guard.tripped);
    assert!(plan.health_updates.is_empty());

    let plan = all_failing(2, 8, false, false);
    assert!(plan.health_updates.is_empty(), "inventory incomplete");
}

#[test]
fn only_new_unhealthy_marks_count_toward_the_guard() {
    // `db` (custom health): six instances Cloud Map has as UNHEALTHY already,
    // failing again, and one whose address no interface has; three elsewhere answer.
    let mut instances: Vec<OwnedInstance> = (1..=6)
        .map(|i| script("db", &format!("dead{i}"), i, None))
        .collect();
    instances.push(script("db", "ghost", 50, None));
    instances.extend((1..=3).map(|i| script("web", &format!("w{i}"), 100 + i, None)));
    let mut listing = listing(&instances, &["db"]);
    let dead = |i: &OwnedInstance| i.id.starts_with("dead");
    for i in instances.iter().filter(|i| dead(i)) {
        let key = (i.service_id.clone(), i.id.clone());
        listing.health.insert(key, HealthStatus::Unhealthy);
    }
    let (mut verdicts, health) = with_failed_checks(&instances, dead);
    // The ghost: no interface has its address.
    verdicts[6] = Verdict::Decided(Decision::Delete(DeleteReason::HostUnknown));
    let plan = decide_instances(&instances, verdicts, &health, &listing, true, &settings());
    assert!(!plan.guard.tripped, "{:?}", plan.guard);
    assert_eq!((plan.guard.negative, plan.guard.owned), (1, 10));
    assert!(plan.health_updates.is_empty(), "marked already");
    let ghost = plan.items.iter().find(|p| p.item.id == "ghost");
    assert_eq!(
        ghost.map(|p| p.decision),
        Some(Decision::Delete(DeleteReason::HostUnknown))
    );
    let dead = plan.items.iter().filter(|p| p.item.id.starts_with("dead"));
    assert!(dead
        .into_iter()
        .all(|p| p.decision == Decision::Keep(KeepReason::Unhealthy)));
}

#[test]
fn an_address_two_namespace_vpcs_hold_is_no_positive_evidence() {
    let instances = [
        script("db", "twin", 1, None),
        script("db", "twin-terminated", 2, None),
        script("db", "own", 3, None),
        script("db", "twin-by-id", 4, Some("i-twin-4")),
    ];
    let mut addresses = interfaces(&[1, 2, 3, 4], VPC);
    // The twin VPC (same CIDR) holds address 1 too: its stopped instance's.
    addresses
        .entry(ip(1))
        .or_default()
        .insert("vpc-twin".into());
    addresses
        .entry(ip(4))
        .or_default()
        .insert("vpc-twin".into());
    let evidence = RegistryEvidence {
        instances: vec![
            ec2("i-twin-1", 1, "stopped", "vpc-twin"),
            // Terminated in the twin VPC, its interface gone; a Fargate-like
            // interface of the namespace's first VPC holds the address now.
            ec2("i-twin-2", 2, "terminated", "vpc-twin"),
            ec2("i-own-3", 3, "stopped", VPC),
            ec2("i-twin-4", 4, "stopped", "vpc-twin"),
        ],
        addresses,
        ..Default::default()
    };
    let vpcs = BTreeSet::from([VPC.to_string(), "vpc-twin".to_string()]);
    let context = RegistryContext {
        evidence: &evidence,
        vpcs: &vpcs,
        scope: &ClusterScope::All,
    };
    let got = verdicts(assess_instances(
        &instances,
        &context,
        &settings(),
        SystemTime::now(),
    ));
    assert!(matches!(got[0], Verdict::Check { .. }), "{:?}", got[0]);
    assert!(matches!(got[1], Verdict::Check { .. }), "{:?}", got[1]);
    // Held by one VPC only: its stopped instance is the one.
    assert_eq!(
        decided(&got[2]),
        Decision::Delete(DeleteReason::InstanceGone)
    );
    // EC2_INSTANCE_ID names the instance: no address to doubt.
    assert_eq!(
        decided(&got[3]),
        Decision::Delete(DeleteReason::InstanceGone)
    );
}

#[test]
fn each_deregistration_says_what_it_rests_on() {
    let instances = [
        ecs("web", "stopped", 1),
        ecs("web", "unknown", 2),
        script("db", "by-id", 3, Some("i-gone")),
        script("db", "no-eni", 4, None),
        script("db", "check", 5, None),
    ];
    let evidence = RegistryEvidence {
        tasks: HashMap::from([("stopped".to_string(), task("stopped", "STOPPED", 600))]),
        instances: vec![ec2("i-gone", 3, "terminated", VPC)],
        addresses: interfaces(&[3, 5], VPC),
        ..Default::default()
    };
    let vpcs = BTreeSet::from([VPC.to_string()]);
    let context = RegistryContext {
        evidence: &evidence,
        vpcs: &vpcs,
        scope: &ClusterScope::All,
    };
    let assessed = assess_instances(&instances, &context, &settings(), SystemTime::now());
    let endpoint = Endpoint {
        ip: ip(5),
        port: 8080,
    };
    let failures = vec![
        "HTTP 500".to_string(),
        "timed out after 2000 ms".to_string(),
    ];
    let health = HashMap::from([(endpoint, HealthResult::Unhealthy { failures })]);
    let mut s = settings();
    s.max_delete_percent = 100;
    s.keep_last_record = false;
    let listing = listing(&instances, &[]);
    let plan = decide_instances(&instances, assessed, &health, &listing, true, &s);
    let said: Vec<(Decision, String)> = plan
        .items
        .iter()
        .map(|p| {
            (
                p.decision,
                p.evidence
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            )
        })
        .collect();
    let deleted = |r| Decision::Delete(r);
    use DeleteReason::{HostUnknown, InstanceGone, TaskGone, TaskStopped, Unhealthy};
    assert_eq!(
        said,
        vec![
            (deleted(TaskStopped), "ECS task prod/stopped STOPPED".into()),
            (
                deleted(TaskGone),
                "no listing of cluster prod shows task unknown, and DescribeTasks reports it MISSING".into()
            ),
            (deleted(InstanceGone), "EC2 i-gone terminated".into()),
            (
                deleted(HostUnknown),
                format!("no network interface of {VPC} has 10.1.0.4")
            ),
            (
                deleted(Unhealthy),
                "2 attempts at 10.1.0.5:8080: HTTP 500, timed out after 2000 ms".into()
            ),
        ]
    );

    // A cluster that no longer exists, and a task-stopped event's deregistration.
    let gone = RegistryEvidence {
        clusters_gone: BTreeSet::from(["prod".to_string()]),
        ..Default::default()
    };
    let context = RegistryContext {
        evidence: &gone,
        ..context
    };
    let assessed = assess_instances(&instances[..1], &context, &s, SystemTime::now());
    assert_eq!(
        assessed[0]
            .evidence
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("ECS cluster prod no longer exists")
    );
    let event = decide_task_stopped_instance(
        instances[0].clone(),
        &task("stopped", "STOPPED", 1),
        &ClusterScope::All,
        &s,
        SystemTime::now(),
    );
    assert_eq!(
        event.items[0]
            .evidence
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("ECS task prod/stopped STOPPED")
    );
}

/// A namespace's final decisions: the one judge with the namespace's side (the
/// listing is what these rows vary; the evidence was used by `assess` already).
fn decide_instances(
    instances: &[OwnedInstance],
    assessed: impl IntoIterator<Item = impl Into<Assessment>>,
    health: &HashMap<Endpoint, HealthResult>,
    listing: &RegistryListing,
    inventory_complete: bool,
    settings: &PlanSettings,
) -> Plan<OwnedInstance> {
    let (evidence, vpcs) = (RegistryEvidence::default(), BTreeSet::new());
    let context = RegistryContext {
        evidence: &evidence,
        vpcs: &vpcs,
        scope: &ClusterScope::All,
    };
    let judge = NamespaceJudge { context, listing };
    crate::decide::decide(
        &judge,
        instances,
        assessed,
        health,
        inventory_complete,
        settings,
    )
}
