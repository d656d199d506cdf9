//! Table-driven tests of the decisions (docs/decisions.md, "What a sweep decides"): one row
//! per rule.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use super::*;
use crate::classify::classify;
use crate::decide::judge;
use crate::model::health::{Endpoint, HealthResult};
use crate::model::{
    Container, ContainerDefinition, ContainerInstance, Ec2Instance, InstanceState, Inventory,
    NetworkMode, PortBinding, ReadFailure, RecordSet, Task, TaskDefinition, TaskStatus,
};
use crate::names::HostName;

const CID1: &str = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111";
const CID2: &str = "bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222";
const CID3: &str = "cccccccccccc3333333333333333333333333333333333333333333333333333";
const CID9: &str = "999999999999";
/// The container of the task on `.6`, a terminated instance ECS still lists: a
/// record that carries it is tied to that instance through ECS.
const CID_ON_GONE: &str = "6666666666660000000000000000000000000000000000000000000000000000";
const APEX: &str = "sd.internal";
const HOUR: Duration = Duration::from_secs(3600);
/// The VPC the zone is associated with; `STAGING` has the same CIDR.
const VPC: &str = "vpc-prod";
const STAGING: &str = "vpc-staging";

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

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 1, last)
}

fn host(last: u8) -> String {
    format!("ip-10-0-1-{last}.ec2.internal")
}

fn instance(id: &str, last: u8, state: &str) -> Ec2Instance {
    Ec2Instance {
        id: id.into(),
        state: InstanceState::parse(state),
        private_ip: Some(ip(last)),
        private_dns: HostName::parse(&host(last)),
        vpc_id: Some(VPC.into()),
        launched_at: None,
    }
}

fn task(
    arn: &str,
    ci: &str,
    status: &str,
    age: Duration,
    def: &str,
    containers: Vec<Container>,
) -> Task {
    Task {
        arn: arn.into(),
        cluster: "web".into(),
        container_instance_arn: Some(ci.into()),
        last_status: TaskStatus::parse(status),
        desired_status: TaskStatus::Running,
        started_at: Some(now() - age),
        created_at: Some(now() - age),
        task_definition_arn: Some(def.into()),
        containers,
    }
}

fn container(runtime_id: Option<&str>, bindings: &[(u16, u16)]) -> Container {
    Container {
        name: "app".into(),
        runtime_id: runtime_id.map(String::from),
        bindings: bindings
            .iter()
            .map(|(c, h)| PortBinding {
                container_port: Some(*c),
                host_port: *h,
            })
            .collect(),
        env_overrides: vec![],
    }
}

fn definition(mode: NetworkMode, service: &str, mappings: &[(u16, Option<u16>)]) -> TaskDefinition {
    TaskDefinition {
        network_mode: mode,
        containers: vec![ContainerDefinition {
            name: "app".into(),
            environment: vec![("SERVICE_80_NAME".into(), service.into())],
            port_mappings: mappings.to_vec(),
        }],
    }
}

/// The estate every row runs against:
/// - `.5` running, container instance ci-1 (cluster web) with tasks t1 (up an hour,
///   CID1, 80→32768), t2 (up 10 s, CID2, 80→32769), t3 (up an hour, no bindings,
///   static mapping 80→8080 in its definition), t4 (awsvpc, CID… no: runtime id
///   CID3 short form reported);
/// - `.6` terminated, `.7` stopped — both still registered as container instances
///   with a running task (a stale ECS view);
/// - `.8` running in no swept cluster; `.9` running with a task still PENDING;
/// - `.10` terminated and `.11` running, both with private DNS name `.10`'s: an
///   address reused after a termination.
fn inventory() -> Inventory {
    let mut reused = instance("i-new", 11, "running");
    reused.private_dns = HostName::parse(&host(10));
    reused.private_ip = Some(ip(10));
    Inventory {
        instances: vec![
            instance("i-web", 5, "running"),
            instance("i-gone", 6, "terminated"),
            instance("i-stopped", 7, "stopped"),
            instance("i-free", 8, "running"),
            instance("i-starting", 9, "running"),
            instance("i-old", 10, "terminated"),
            reused,
        ],
        container_instances: ["i-web", "i-gone", "i-stopped", "i-starting", "i-new"]
            .iter()
            .map(|id| ContainerInstance {
                arn: format!("ci-{id}"),
                cluster: "web".into(),
                ec2_instance_id: Some(id.to_string()),
            })
            .collect(),
        tasks: vec![
            task(
                "t1",
                "ci-i-web",
                "RUNNING",
                HOUR,
                "calc:1",
                vec![container(Some(CID1), &[(80, 32768)])],
            ),
            task(
                "t2",
                "ci-i-web",
                "RUNNING",
                Duration::from_secs(10),
                "calc:1",
                vec![container(Some(CID2), &[(80, 32769)])],
            ),
            task(
                "t3",
                "ci-i-web",
                "RUNNING",
                HOUR,
                "static:1",
                vec![container(Some("dddddddddddd"), &[])],
            ),
            task(
                "t4",
                "ci-i-web",
                "RUNNING",
                HOUR,
                "vpc:1",
                vec![container(Some(&CID3[..12]), &[])],
            ),
            task(
                "t5",
                "ci-i-gone",
                "RUNNING",
                HOUR,
                "calc:1",
                vec![container(Some(CID_ON_GONE), &[(80, 32768)])],
            ),
            task(
                "t6",
                "ci-i-starting",
                "PENDING",
                Duration::ZERO,
                "calc:1",
                vec![container(None, &[])],
            ),
        ],
        task_definitions: HashMap::from([
            (
                "calc:1".to_string(),
                definition(NetworkMode::Bridge, "calc", &[(80, None)]),
            ),
            (
                "static:1".to_string(),
                definition(NetworkMode::Bridge, "static", &[(80, Some(8080))]),
            ),
            (
                "vpc:1".to_string(),
                definition(NetworkMode::Awsvpc, "vpc", &[(80, Some(80))]),
            ),
        ]),
        zone_vpcs: BTreeSet::from([VPC.to_string()]),
        unswept_hosts: BTreeSet::new(),
        failures: vec![],
    }
}

fn owned(set: RecordSet) -> OwnedRecord {
    match classify(&set, APEX) {
        Ok(o) => o,
        Err(why) => panic!("fixture record {set:?} is foreign: {why:?}"),
    }
}

fn srv(service: &str, last: u8, port: u16, cid: Option<&str>) -> OwnedRecord {
    let h = host(last);
    owned(RecordSet {
        name: format!("{service}.{APEX}."),
        rtype: "SRV".into(),
        set_identifier: Some(match cid {
            Some(c) => format!("{h}:{c}"),
            None => h.clone(),
        }),
        weight: Some(1),
        ttl: Some(60),
        values: vec![format!("1 1 {port} {h}")],
        health_check_id: None,
        special: None,
    })
}

fn cname(service: &str, last: u8, cid: &str) -> OwnedRecord {
    owned(RecordSet {
        name: format!("{service}.{APEX}."),
        rtype: "CNAME".into(),
        set_identifier: Some(cid.into()),
        weight: Some(1),
        ttl: Some(60),
        values: vec![host(last)],
        health_check_id: None,
        special: None,
    })
}

fn host_a(last: u8) -> OwnedRecord {
    owned(RecordSet {
        name: format!("ip-10-0-1-{last}.{APEX}."),
        rtype: "A".into(),
        set_identifier: None,
        weight: None,
        ttl: Some(60),
        values: vec![ip(last).to_string()],
        health_check_id: None,
        special: None,
    })
}

fn endpoint(last: u8, port: u16) -> Endpoint {
    Endpoint { ip: ip(last), port }
}

/// Every endpoint of the estate is healthy except `.5:32768`'s twin `.5:9999`.
fn health() -> HashMap<Endpoint, HealthResult> {
    let mut h: HashMap<Endpoint, HealthResult> = [32768, 32769, 8080, 80]
        .into_iter()
        .map(|p| (endpoint(5, p), HealthResult::Healthy))
        .collect();
    h.insert(
        endpoint(5, 9999),
        HealthResult::Unhealthy {
            failures: vec!["HTTP 500".into(); 3],
        },
    );
    h
}

fn run(
    records: &[OwnedRecord],
    inventory: &Inventory,
    health: &HashMap<Endpoint, HealthResult>,
    settings: &PlanSettings,
) -> Plan {
    let assessments = assess(records, inventory, settings, now());
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in records {
        *counts.entry(r.set.name.clone()).or_default() += 1;
    }
    decide(
        records,
        assessments,
        health,
        inventory.is_complete(),
        &counts,
        settings,
    )
}

use Decision::{Delete, Hold, Keep};
use DeleteReason::*;
use KeepReason::{Grace, Healthy, OutOfScope, Unchecked};

#[test]
fn each_rule_of_the_decision_table() {
    // A record whose container is unhealthy: backed by t1 on a port that fails.
    let mut unhealthy_inventory = inventory();
    unhealthy_inventory.tasks[0].containers[0].bindings[0].host_port = 9999;
    let rows: Vec<(&str, OwnedRecord, Decision, &str)> = vec![
        (
            "instance terminated → instance-gone",
            srv("calc", 6, 32768, Some(CID1)),
            Delete(InstanceGone),
            "ip-10-0-1-6.ec2.internal:32768",
        ),
        (
            "instance stopped → instance-gone",
            srv("calc", 7, 32768, Some(CID1)),
            Delete(InstanceGone),
            "ip-10-0-1-7.ec2.internal:32768",
        ),
        (
            "no instance has the name or its address → host-unknown",
            srv("calc", 99, 32768, Some(CID1)),
            Delete(HostUnknown),
            "ip-10-0-1-99.ec2.internal:32768",
        ),
        (
            "registered host, no task with that container → task-gone",
            srv("calc", 5, 32768, Some(CID9)),
            Delete(TaskGone),
            "ip-10-0-1-5.ec2.internal:32768",
        ),
        (
            "backed by a running task, check passes → healthy",
            srv("calc", 5, 32768, Some(CID1)),
            Keep(Healthy),
            "ip-10-0-1-5.ec2.internal:32768",
        ),
        (
            "short container id matches full runtime id",
            srv("calc", 5, 32768, Some(&CID1[..12])),
            Keep(Healthy),
            "ip-10-0-1-5.ec2.internal:32768",
        ),
        (
            "no container id: backed by host port binding",
            srv("calc", 5, 32768, None),
            Keep(Healthy),
            "ip-10-0-1-5.ec2.internal:32768",
        ),
        (
            "no container id, no binding on that port → task-gone",
            srv("calc", 5, 4444, None),
            Delete(TaskGone),
            "ip-10-0-1-5.ec2.internal:4444",
        ),
        (
            "task started 10 s ago → grace",
            srv("calc", 5, 32769, Some(CID2)),
            Keep(Grace),
            "ip-10-0-1-5.ec2.internal:32769",
        ),
        (
            "not backed, a task on the host is still starting → grace",
            srv("calc", 9, 32768, Some(CID3)),
            Keep(Grace),
            "ip-10-0-1-9.ec2.internal:32768",
        ),
        (
            "running instance in no swept cluster → out-of-scope",
            srv("calc", 8, 32768, Some(CID1)),
            Keep(OutOfScope),
            "ip-10-0-1-8.ec2.internal:32768",
        ),
        (
            "stale ECS view: task still listed on a terminated instance → instance-gone",
            srv("calc", 6, 32768, Some(CID1)),
            Delete(InstanceGone),
            "ip-10-0-1-6.ec2.internal:32768",
        ),
        (
            "address reused: the live instance holds the name, old container → task-gone",
            srv("calc", 10, 32768, Some(CID1)),
            Delete(TaskGone),
            "ip-10-0-1-10.ec2.internal:32768",
        ),
        (
            "CNAME backed, port from the binding of SERVICE_80_NAME",
            cname("calc", 5, CID1),
            Keep(Healthy),
            "ip-10-0-1-5.ec2.internal:32768",
        ),
        (
            "CNAME, no bindings: static hostPort of the definition",
            cname("static", 5, "dddddddddddd"),
            Keep(Healthy),
            "ip-10-0-1-5.ec2.internal:8080",
        ),
        (
            "CNAME, awsvpc: the container port",
            cname("vpc", 5, CID3),
            Keep(Healthy),
            "ip-10-0-1-5.ec2.internal:80",
        ),
        (
            "CNAME whose running container ECS shows no declaration for (ENV in the \
             image): backed by its container id, no port to check → healthy",
            cname("other", 5, CID1),
            Keep(Healthy),
            "ip-10-0-1-5.ec2.internal",
        ),
        (
            "CNAME whose container id runs nowhere on the host → task-gone",
            cname("calc", 5, CID9),
            Delete(TaskGone),
            "ip-10-0-1-5.ec2.internal",
        ),
        (
            "CNAME on a terminated host → instance-gone",
            cname("calc", 6, CID1),
            Delete(InstanceGone),
            "ip-10-0-1-6.ec2.internal",
        ),
        (
            "host A of a running instance → healthy",
            host_a(5),
            Keep(Healthy),
            "10.0.1.5",
        ),
        (
            "host A of a terminated instance → instance-gone",
            host_a(6),
            Delete(InstanceGone),
            "10.0.1.6",
        ),
        (
            "host A no instance has → host-unknown",
            host_a(99),
            Delete(HostUnknown),
            "10.0.1.99",
        ),
        (
            "host A of an instance in no cluster is still healthy",
            host_a(8),
            Keep(Healthy),
            "10.0.1.8",
        ),
    ];
    for (rule, record, expected, target) in rows {
        let plan = run(
            std::slice::from_ref(&record),
            &inventory(),
            &health(),
            &settings(),
        );
        assert_eq!(plan.items[0].decision, expected, "{rule}");
        assert_eq!(plan.items[0].target, target, "{rule}");
    }

    let plan = run(
        &[srv("calc", 5, 9999, Some(CID1))],
        &unhealthy_inventory,
        &health(),
        &settings(),
    );
    assert_eq!(
        plan.items[0].decision,
        Delete(Unhealthy),
        "every attempt failed → unhealthy"
    );
    assert_eq!(
        plan.items[0].task.as_ref().map(|t| t.arn.as_str()),
        Some("t1")
    );
    assert_eq!(
        plan.items[0]
            .evidence
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("3 attempts at 10.0.1.5:9999: HTTP 500, HTTP 500, HTTP 500")
    );
}

#[test]
fn checks_off_and_unchecked_endpoints_keep_the_record() {
    let record = srv("calc", 5, 32768, Some(CID1));
    let off = PlanSettings {
        checks_off: true,
        ..settings()
    };
    assert!(
        assess(std::slice::from_ref(&record), &inventory(), &off, now())
            .iter()
            .all(|a| matches!(a.verdict, Verdict::Decided(_))),
        "no endpoint is checked when checks are off"
    );
    assert_eq!(
        run(
            std::slice::from_ref(&record),
            &inventory(),
            &HashMap::new(),
            &off
        )
        .items[0]
            .decision,
        Keep(Healthy)
    );
    assert_eq!(
        run(&[record], &inventory(), &HashMap::new(), &settings()).items[0].decision,
        Keep(Unchecked)
    );
}

#[test]
fn each_endpoint_is_checked_once() {
    let records = [
        srv("calc", 5, 32768, Some(CID1)),
        cname("calc", 5, CID1),
        srv("calc", 5, 32768, None),
        srv("calc", 6, 32768, Some(CID1)),
    ];
    let assessed = assess(&records, &inventory(), &settings(), now());
    assert_eq!(endpoints(&assessed), BTreeSet::from([endpoint(5, 32768)]));
}

#[test]
fn names_match_instances_by_address_when_dns_names_differ() {
    // The record names the regional form; EC2 reports the short form.
    let mut inv = inventory();
    inv.instances[0].private_dns = HostName::parse("i-web.ec2.internal");
    let plan = run(
        &[srv("calc", 5, 32768, Some(CID1))],
        &inv,
        &health(),
        &settings(),
    );
    assert_eq!(plan.items[0].decision, Keep(Healthy));
    // A name that is not an EC2 private DNS name is never resolved: not the agent's.
    let mut custom = srv("calc", 5, 32768, Some(CID1)).set;
    custom.values = vec!["1 1 32768 app-host.corp.internal".into()];
    custom.set_identifier = Some(format!("app-host.corp.internal:{CID1}"));
    assert!(classify(&custom, APEX).is_err());
}

fn reasons(plan: &Plan) -> Vec<Decision> {
    plan.items.iter().map(|p| p.decision).collect()
}

#[test]
fn guard_holds_every_negative_deletion_above_the_limit_but_not_positive_ones() {
    let records = [
        srv("a", 99, 1, Some(CID1)),
        srv("b", 98, 1, Some(CID1)),
        srv("c", 6, 32768, Some(CID1)),
        srv("d", 5, 32768, Some(CID1)),
    ];
    let limited = |pct| PlanSettings {
        max_delete_percent: pct,
        ..settings()
    };
    // 2 negative of 4 owned = 50 %: not more than 50 → deleted.
    let plan = run(&records, &inventory(), &health(), &limited(50));
    assert!(!plan.guard.tripped);
    assert_eq!(
        plan.guard,
        Guard {
            tripped: false,
            limit_percent: 50,
            negative: 2,
            owned: 4
        }
    );
    assert_eq!(
        reasons(&plan),
        vec![
            Delete(HostUnknown),
            Delete(HostUnknown),
            Delete(InstanceGone),
            Keep(Healthy)
        ]
    );
    // 50 % > 49 → tripped: both held, the positive one still deleted.
    let plan = run(&records, &inventory(), &health(), &limited(49));
    assert!(plan.guard.tripped);
    let guard = |decided| Hold {
        decided,
        hold: HoldReason::Guard,
    };
    assert_eq!(
        reasons(&plan),
        vec![
            guard(HostUnknown),
            guard(HostUnknown),
            Delete(InstanceGone),
            Keep(Healthy)
        ]
    );
    // 0 % holds any negative deletion; 100 % never trips.
    assert!(
        run(&records, &inventory(), &health(), &limited(0))
            .guard
            .tripped
    );
    let all_dead = [srv("a", 99, 1, None), srv("b", 98, 1, None)];
    assert!(
        !run(&all_dead, &inventory(), &health(), &limited(100))
            .guard
            .tripped
    );
}

#[test]
fn incomplete_inventory_holds_negative_deletions_only() {
    let mut inv = inventory();
    inv.failures.push(ReadFailure {
        call: "ecs:ListTasks cluster=web".into(),
        message: "throttled".into(),
    });
    let records = [
        srv("a", 99, 1, Some(CID1)),
        srv("b", 6, 1, Some(CID1)),
        srv("c", 5, 1, Some(CID9)),
    ];
    let plan = run(&records, &inv, &health(), &settings());
    let held = |decided| Hold {
        decided,
        hold: HoldReason::InventoryIncomplete,
    };
    assert_eq!(
        reasons(&plan),
        vec![held(HostUnknown), Delete(InstanceGone), held(TaskGone)]
    );
}

#[test]
fn last_record_protection_keeps_one_answer_per_service_name() {
    let mut inv = inventory();
    inv.tasks[0].containers[0].bindings[0].host_port = 9999;
    let with_last = PlanSettings {
        keep_last_record: true,
        ..settings()
    };
    // calc: unhealthy + task-gone → the unhealthy one stays; the name still answers.
    // web: two host-unknown → one held (lowest set identifier).
    // gone: only positive deletions → all deleted.
    // host A → never protected.
    let records = [
        srv("calc", 5, 9999, Some(CID1)),
        srv("calc", 5, 32768, Some(CID9)),
        srv("web", 98, 1, None),
        srv("web", 99, 1, None),
        srv("gone", 6, 1, None),
        host_a(99),
    ];
    let plan = run(&records, &inv, &health(), &with_last);
    let last = |decided| Hold {
        decided,
        hold: HoldReason::LastRecord,
    };
    assert_eq!(
        reasons(&plan),
        vec![
            last(Unhealthy),
            Delete(TaskGone),
            last(HostUnknown),
            Delete(HostUnknown),
            Delete(InstanceGone),
            Delete(HostUnknown)
        ]
    );
    assert_eq!(
        plan.guard.negative, 5,
        "the guard counts candidates before last-record protection"
    );
    // KEEP_LAST_RECORD=false: everything goes.
    let plan = run(&records, &inv, &health(), &settings());
    assert!(plan.items.iter().all(|p| matches!(p.decision, Delete(_))));
    // Another record at the name (here a foreign one) keeps it answering: no hold.
    let assessments = assess(&records[2..4], &inv, &with_last, now());
    let counts = HashMap::from([(records[2].set.name.clone(), 3)]);
    let plan = decide(
        &records[2..4],
        assessments,
        &health(),
        true,
        &counts,
        &with_last,
    );
    assert_eq!(
        reasons(&plan),
        vec![Delete(HostUnknown), Delete(HostUnknown)]
    );
}

#[test]
fn evidence_of_each_reason() {
    for r in [InstanceGone, TaskStopped] {
        assert_eq!(r.evidence(), EvidenceKind::Positive);
    }
    for r in [HostUnknown, TaskGone, Unhealthy] {
        assert_eq!(r.evidence(), EvidenceKind::Negative);
    }
}

/// Each item's decision and what it rests on, as the report prints it.
fn evidence(plan: &Plan) -> Vec<(Decision, String)> {
    let said = |p: &Planned| p.evidence.as_ref().map(ToString::to_string);
    plan.items
        .iter()
        .map(|p| (p.decision, said(p).unwrap_or_default()))
        .collect()
}

#[test]
fn each_deletion_says_what_it_rests_on() {
    let mut inv = inventory();
    inv.tasks[0].containers[0].bindings[0].host_port = 9999;
    let records = [
        srv("calc", 7, 32768, None),
        srv("calc", 6, 32768, Some(CID_ON_GONE)),
        srv("calc", 6, 32770, None),
        srv("calc", 99, 80, None),
        host_a(99),
        host_a(7),
        srv("calc", 5, 40000, Some(CID9)),
        srv("calc", 5, 40001, None),
        srv("calc", 5, 9999, Some(CID1)),
        srv("calc", 5, 32769, Some(CID2)),
    ];
    let tie = "container 666666666666 of task t5 on container instance ci-i-gone of EC2 i-gone terminated";
    assert_eq!(
        evidence(&run(&records, &inv, &health(), &settings())),
        vec![
            (Delete(InstanceGone), "EC2 i-stopped stopped".into()),
            (Delete(InstanceGone), tie.into()),
            (
                Delete(InstanceGone),
                format!("ip-10-0-1-6.ec2.internal ran {tie}")
            ),
            (
                Delete(HostUnknown),
                "no EC2 instance of vpc-prod has ip-10-0-1-99.ec2.internal or 10.0.1.99".into()
            ),
            (
                Delete(HostUnknown),
                "no EC2 instance of vpc-prod has 10.0.1.99".into()
            ),
            (Delete(InstanceGone), "EC2 i-stopped stopped".into()),
            (
                Delete(TaskGone),
                "no running task on container instance ci-i-web backs container 999999999999"
                    .into()
            ),
            (
                Delete(TaskGone),
                "no running task on container instance ci-i-web backs host port 40001".into()
            ),
            (
                Delete(Unhealthy),
                "3 attempts at 10.0.1.5:9999: HTTP 500, HTTP 500, HTTP 500".into()
            ),
            (Keep(Grace), String::new()),
        ]
    );
}

#[test]
fn a_hold_says_what_the_deletion_it_holds_rests_on() {
    let mut inv = inventory();
    inv.failures.push(ReadFailure {
        call: "ecs:ListTasks cluster=web".into(),
        message: "throttled".into(),
    });
    let records = [srv("a", 99, 1, None), srv("b", 5, 1, Some(CID9))];
    let incomplete = run(&records, &inv, &health(), &settings());
    let unknown = "no EC2 instance of vpc-prod has ip-10-0-1-99.ec2.internal or 10.0.1.99";
    let not_backed = "no running task on container instance ci-i-web backs container 999999999999";
    let held = |decided, hold| Hold { decided, hold };
    use HoldReason::{Guard, InventoryIncomplete, LastRecord};
    assert_eq!(
        evidence(&incomplete),
        vec![
            (held(HostUnknown, InventoryIncomplete), unknown.into()),
            (held(TaskGone, InventoryIncomplete), not_backed.into()),
        ]
    );
    let guarded = PlanSettings {
        max_delete_percent: 10,
        ..settings()
    };
    assert_eq!(
        evidence(&run(&records, &inventory(), &health(), &guarded)),
        vec![
            (held(HostUnknown, Guard), unknown.into()),
            (held(TaskGone, Guard), not_backed.into()),
        ]
    );
    let last = PlanSettings {
        keep_last_record: true,
        ..settings()
    };
    assert_eq!(
        evidence(&run(&records[..1], &inventory(), &health(), &last)),
        vec![(held(HostUnknown, LastRecord), unknown.into())]
    );
}

#[test]
fn a_task_stopped_event_rests_on_what_ecs_says_of_the_task() {
    let records = [srv("calc", 5, 40000, Some(CID9))];
    let mut stopped = StoppedTask {
        arn: "arn:aws:ecs:us-east-1:123456789012:task/web/7c1d".into(),
        ecs: Some((TaskStatus::Stopped, TaskStatus::Stopped)),
        runtime_ids: vec![CID9.to_string()],
        instance_id: Some("i-web".into()),
        host_ports: vec![40000],
    };
    let said = |stopped: &StoppedTask| {
        let plan = decide_task_stopped(&records, stopped, &inventory(), &settings(), now());
        evidence(&plan)
    };
    assert_eq!(
        said(&stopped),
        vec![(Delete(TaskStopped), "ECS task web/7c1d STOPPED".into())]
    );
    stopped.ecs = Some((TaskStatus::Running, TaskStatus::Stopped));
    assert_eq!(
        said(&stopped)[0].1,
        "ECS task web/7c1d RUNNING, desired STOPPED"
    );
    stopped.ecs = None;
    assert_eq!(
        said(&stopped)[0].1,
        "the event says task web/7c1d STOPPED; ECS no longer reports it"
    );
}

#[test]
fn a_stopped_task_takes_its_records_unless_a_running_task_backs_them() {
    // t1 on .5 runs CID1 on host port 32768; the stopped task ran CID9 on 40000.
    let stopped = StoppedTask {
        runtime_ids: vec![CID9.to_string()],
        instance_id: Some("i-web".into()),
        host_ports: vec![40000, 32768],
        ..StoppedTask::default()
    };
    let records = [
        srv("calc", 5, 40000, Some(CID9)), // its own record, by id
        srv("calc", 5, 40000, None),       // no container id: by host and port
        srv("calc", 5, 32768, None),       // by port, but t1 runs there now
        srv("calc", 5, 32768, Some(CID1)), // another container: not a candidate
        srv("calc", 6, 40000, None),       // another host: not a candidate
        host_a(5),
    ];
    let plan = decide_task_stopped(&records, &stopped, &inventory(), &settings(), now());
    let got: Vec<_> = plan
        .items
        .iter()
        .map(|p| (p.item.set.set_identifier.clone(), p.decision))
        .collect();
    assert_eq!(
        got,
        vec![
            (records[0].set.set_identifier.clone(), Delete(TaskStopped)),
            (records[1].set.set_identifier.clone(), Delete(TaskStopped)),
            (records[2].set.set_identifier.clone(), Keep(Healthy)),
        ]
    );
    assert!(!plan.guard.tripped && plan.guard.owned == records.len());

    // With no runtime id in the event, every SRV record on that host and port is a candidate.
    let no_ids = StoppedTask {
        runtime_ids: vec![],
        ..stopped
    };
    let plan = decide_task_stopped(&records[..1], &no_ids, &inventory(), &settings(), now());
    assert_eq!(reasons(&plan), vec![Delete(TaskStopped)]);
}

#[test]
fn a_gone_instance_takes_the_records_that_target_it_unless_a_live_instance_holds_the_name() {
    let records = [
        srv("calc", 6, 1, Some(CID1)),
        cname("calc", 6, CID1),
        host_a(6),
        srv("calc", 5, 1, Some(CID1)),
        srv("calc", 10, 1, None),
    ];
    let plan = decide_instance_gone(&records, "i-gone", &inventory(), &settings(), now());
    assert_eq!(reasons(&plan), vec![Delete(InstanceGone); 3]);
    assert!(plan
        .items
        .iter()
        .all(|p| p.item.set.name.contains("calc") || p.item.set.rtype == "A"));
    // .10's old instance is gone, but i-new holds its name now.
    assert!(
        decide_instance_gone(&records, "i-old", &inventory(), &settings(), now())
            .items
            .is_empty()
    );
    assert!(
        decide_instance_gone(&records, "i-nosuch", &inventory(), &settings(), now())
            .items
            .is_empty()
    );
}

/// An estate with one resource-named host and weighted host A records.
const RESOURCE_ID: &str = "i-0123456789abcdef0";

fn weighted_host_a(name_label: &str, value: Ipv4Addr, host_name: &str) -> OwnedRecord {
    owned(RecordSet {
        name: format!("{name_label}.{APEX}."),
        rtype: "A".into(),
        set_identifier: Some(host_name.into()),
        weight: Some(1),
        ttl: Some(0),
        values: vec![value.to_string()],
        health_check_id: None,
        special: None,
    })
}

#[test]
fn weighted_and_resource_named_host_a_records_are_judged_by_their_host() {
    let mut inv = inventory();
    let mut resource = instance(RESOURCE_ID, 20, "terminated");
    // A terminated instance reports no address, name or VPC: only its id remains.
    resource.private_ip = None;
    resource.private_dns = None;
    resource.vpc_id = None;
    inv.instances.push(resource);
    let resource_name = format!("{RESOURCE_ID}.ec2.internal");
    let rows = [
        (
            weighted_host_a("ip-10-0-1-5", ip(5), &host(5)),
            Keep(Healthy),
        ),
        (
            weighted_host_a("ip-10-0-1-6", ip(6), &host(6)),
            Delete(InstanceGone),
        ),
        (
            weighted_host_a("ip-10-0-1-99", ip(99), &host(99)),
            Delete(HostUnknown),
        ),
        (
            weighted_host_a(RESOURCE_ID, ip(20), &resource_name),
            Delete(InstanceGone),
        ),
        (
            weighted_host_a(
                "i-0000000000000000a",
                ip(5),
                "i-0000000000000000a.ec2.internal",
            ),
            Delete(HostUnknown),
        ),
    ];
    for (record, expected) in rows {
        let plan = run(std::slice::from_ref(&record), &inv, &health(), &settings());
        assert_eq!(plan.items[0].decision, expected, "{:?}", record.set);
    }
    // A SRV record on the resource name is tied to the instance by its id too.
    let mut on_resource = srv("calc", 5, 32768, Some(CID1)).set;
    on_resource.values = vec![format!("1 1 32768 {resource_name}")];
    on_resource.set_identifier = Some(format!("{resource_name}:{CID1}"));
    let plan = run(&[owned(on_resource)], &inv, &health(), &settings());
    assert_eq!(plan.items[0].decision, Delete(InstanceGone));
}

/// The CNAME fork names a static mapping by its host port:
/// `SERVICE_8080_NAME=web` with container port 80 → host port 8080.
#[test]
fn the_cname_forks_host_port_declaration_is_checked() {
    let mut inv = inventory();
    let fork = TaskDefinition {
        network_mode: NetworkMode::Bridge,
        containers: vec![ContainerDefinition {
            name: "app".into(),
            environment: vec![("SERVICE_8080_NAME".into(), "web".into())],
            port_mappings: vec![(80, Some(8080))],
        }],
    };
    inv.task_definitions.insert("fork:1".into(), fork);
    let cid = "eeeeeeeeeeee5555555555555555555555555555555555555555555555555555";
    let nobind = "ffffffffffff6666666666666666666666666666666666666666666666666666";
    inv.tasks.push(task(
        "t-fork",
        "ci-i-web",
        "RUNNING",
        HOUR,
        "fork:1",
        vec![container(Some(cid), &[(80, 8080)])],
    ));
    inv.tasks.push(task(
        "t-fork-nobind",
        "ci-i-web",
        "RUNNING",
        HOUR,
        "fork:1",
        vec![container(Some(nobind), &[])],
    ));
    let dead = HashMap::from([(
        endpoint(5, 8080),
        HealthResult::Unhealthy {
            failures: vec!["connection refused".into()],
        },
    )]);
    for record in [cname("web", 5, &cid[..12]), cname("web", 5, nobind)] {
        let plan = run(std::slice::from_ref(&record), &inv, &dead, &settings());
        assert_eq!(plan.items[0].target, "ip-10-0-1-5.ec2.internal:8080");
        assert_eq!(plan.items[0].decision, Delete(Unhealthy));
    }
}

#[test]
fn an_instance_of_another_vpc_never_keeps_backs_or_condemns_a_record() {
    // Staging has the same CIDR: its instances share names and addresses.
    let mut inv = inventory();
    let mut twin = |id: &str, last: u8, state: &str| {
        let mut i = instance(id, last, state);
        i.vpc_id = Some(STAGING.into());
        inv.instances.push(i);
    };
    twin("i-stage-5", 5, "terminated"); // prod's .5 runs
    twin("i-stage-6", 6, "running"); // prod's .6 is terminated
    twin("i-stage-50", 50, "running"); // prod has no .50
    inv.container_instances.push(ContainerInstance {
        arn: "ci-i-stage-50".into(),
        cluster: "web".into(),
        ec2_instance_id: Some("i-stage-50".into()),
    });
    let rows = [
        (srv("calc", 5, 32768, Some(CID1)), Keep(Healthy)),
        (srv("calc", 6, 32768, Some(CID1)), Delete(InstanceGone)),
        (srv("calc", 50, 32768, Some(CID1)), Delete(HostUnknown)),
        (host_a(6), Delete(InstanceGone)),
        (host_a(50), Delete(HostUnknown)),
    ];
    for (record, expected) in rows {
        let plan = run(std::slice::from_ref(&record), &inv, &health(), &settings());
        assert_eq!(plan.items[0].decision, expected, "{:?}", record.set);
    }
    // The instance-gone event of a staging host deletes nothing of prod's.
    let records = [srv("calc", 5, 32768, Some(CID1)), host_a(5)];
    assert!(
        decide_instance_gone(&records, "i-stage-5", &inv, &settings(), now())
            .items
            .is_empty()
    );
    // A stopped prod host whose address a running staging host shares: deleted.
    let plan = decide_instance_gone(&[host_a(6)], "i-gone", &inv, &settings(), now());
    assert_eq!(reasons(&plan), vec![Delete(InstanceGone)]);
}

#[test]
fn a_task_under_any_registration_of_an_instance_backs() {
    let mut inv = inventory();
    // i-web registered again (a re-registered agent) with no tasks: read last.
    inv.container_instances.push(ContainerInstance {
        arn: "ci-i-web-again".into(),
        cluster: "api".into(),
        ec2_instance_id: Some("i-web".into()),
    });
    let plan = run(
        &[srv("calc", 5, 32768, Some(CID1))],
        &inv,
        &health(),
        &settings(),
    );
    assert_eq!(plan.items[0].decision, Keep(Healthy));
}

#[test]
fn a_starting_task_protects_its_hosts_records_for_ten_grace_periods_only() {
    let grace = settings().startup_grace;
    let record = srv("calc", 9, 32768, Some(CID3));
    for (age, expected) in [(grace * 9, Keep(Grace)), (grace * 11, Delete(TaskGone))] {
        let mut inv = inventory();
        inv.tasks[5].created_at = Some(now() - age);
        let plan = run(std::slice::from_ref(&record), &inv, &health(), &settings());
        assert_eq!(plan.items[0].decision, expected, "created {age:?} ago");
    }
    // A backing task stuck before RUNNING is checked once its window is over.
    let mut inv = inventory();
    inv.tasks[0].last_status = TaskStatus::Pending;
    inv.tasks[0].created_at = Some(now() - grace * 11);
    let plan = run(
        &[srv("calc", 5, 32768, Some(CID1))],
        &inv,
        &health(),
        &settings(),
    );
    assert_eq!(plan.items[0].decision, Keep(Healthy));
    inv.tasks[0].created_at = Some(now() - grace * 9);
    let plan = run(
        &[srv("calc", 5, 32768, Some(CID1))],
        &inv,
        &health(),
        &settings(),
    );
    assert_eq!(plan.items[0].decision, Keep(Grace));
}

#[test]
fn a_task_with_one_answering_endpoint_is_not_stopped() {
    // t1 serves calc on 32768 (healthy) and, say, calc-admin on 9999 (failing).
    let mut inv = inventory();
    inv.tasks[0].containers[0].bindings.push(PortBinding {
        container_port: Some(81),
        host_port: 9999,
    });
    let records = [
        srv("calc", 5, 32768, Some(CID1)),
        srv("calc-admin", 5, 9999, Some(CID1)),
    ];
    let plan = run(&records, &inv, &health(), &settings());
    assert_eq!(reasons(&plan), vec![Keep(Healthy), Delete(Unhealthy)]);
    assert_eq!(
        plan.items[1].task, None,
        "one endpoint answers: keep running"
    );
    // When every checked endpoint of the task fails, it is stopped.
    let plan = run(&records[1..], &inv, &health(), &settings());
    assert_eq!(
        plan.items[0].task.as_ref().map(|t| t.arn.as_str()),
        Some("t1")
    );
}

#[test]
fn a_stopped_tasks_host_is_matched_as_a_host_not_as_text() {
    // Records written with the agent's -hostname pointing at the zone's host A
    // name, and in upper case with a trailing dot: all name i-web's host.
    let stopped = StoppedTask {
        runtime_ids: vec![],
        instance_id: Some("i-web".into()),
        host_ports: vec![40000],
        ..StoppedTask::default()
    };
    let alias = format!("ip-10-0-1-5.{APEX}");
    let mut records = Vec::new();
    for h in [alias.clone(), "IP-10-0-1-5.EC2.INTERNAL.".to_string()] {
        let mut set = srv("calc", 5, 40000, None).set;
        set.values = vec![format!("1 1 40000 {h}")];
        set.set_identifier = Some(h.clone());
        records.push(owned(set));
    }
    let plan = decide_task_stopped(&records, &stopped, &inventory(), &settings(), now());
    assert_eq!(reasons(&plan), vec![Delete(TaskStopped); 2]);
    // Another host's record on the same port is not the task's.
    let other = StoppedTask {
        instance_id: Some("i-free".into()),
        ..stopped
    };
    assert!(
        decide_task_stopped(&records, &other, &inventory(), &settings(), now())
            .items
            .is_empty()
    );
}

mod coverage;

/// The zone's final decisions: the one judge with the zone's side.
fn decide(
    records: &[OwnedRecord],
    assessments: Vec<Assessment>,
    health: &HashMap<Endpoint, HealthResult>,
    inventory_complete: bool,
    name_counts: &HashMap<String, usize>,
    settings: &PlanSettings,
) -> Plan {
    let inventory = Inventory::default();
    let judge = ZoneJudge {
        inventory: &inventory,
        name_counts,
    };
    judge::decide(
        &judge,
        records,
        assessments,
        health,
        inventory_complete,
        settings,
    )
}
