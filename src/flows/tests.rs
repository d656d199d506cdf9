//! The flows' own logic — which read follows which, the deadline, partial
//! failures, re-checks that stop an event, dry runs, what gets stopped — against
//! an in-memory AWS. The decisions themselves are tested in `decide`; the AWS
//! edges end to end against the local AWS (`tests/`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::aws::route53::{Listing, ZoneError};
use crate::aws::{EstateApi, ZoneApi};
use crate::config::Config;
use crate::handler::{handle, Deps, Invocation};
use crate::model::{
    ClusterScope, Container, ContainerDefinition, ContainerInstance, Ec2Instance, InstanceState,
    Inventory, NetworkMode, ReadFailure, RecordSet, Task, TaskDefinition, TaskRef, TaskStatus,
    WriteOutcome, ZoneInfo,
};
use crate::names::HostName;
use crate::report::Report;

const ZONE: &str = "Z1";
const APEX: &str = "sd.internal";
const VPC: &str = "vpc-1";
const CID: &str = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111";

/// An AWS in memory: what each read answers, how long reads take, and a log of
/// the calls made and of what was deleted and stopped.
struct FakeAws {
    records: Vec<RecordSet>,
    instances: Result<Vec<Ec2Instance>, ReadFailure>,
    clusters: Inventory,
    /// The task ECS describes for an event, and its host now.
    task: Option<Task>,
    host: Inventory,
    definition: Option<TaskDefinition>,
    read_delay: Duration,
    write_outcome: WriteOutcome,
    /// Every call as it starts, and every read again as it ends (`…:done`).
    calls: Mutex<Vec<String>>,
    deleted: Mutex<Vec<RecordSet>>,
    stopped: Mutex<Vec<String>>,
}

impl FakeAws {
    async fn read(&self, call: &'static str) {
        self.log(call);
        tokio::time::sleep(self.read_delay).await;
        self.log(&format!("{call}:done"));
    }

    fn log(&self, call: &str) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call.to_string());
        }
    }

    /// The calls, in the order they started.
    fn calls(&self) -> Vec<String> {
        let all = self.calls.lock().map(|c| c.clone()).unwrap_or_default();
        all.into_iter().filter(|c| !c.ends_with(":done")).collect()
    }

    fn log_position(&self, entry: &str) -> Option<usize> {
        let all = self.calls.lock().map(|c| c.clone()).unwrap_or_default();
        all.iter().position(|c| c == entry)
    }

    fn deleted(&self) -> Vec<RecordSet> {
        self.deleted.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

impl ZoneApi for FakeAws {
    async fn find_zone(&self, _namespace: &str) -> Result<String, ZoneError> {
        self.read("find_zone").await;
        Ok(ZONE.into())
    }

    async fn zone_info(&self, _zone_id: &str) -> Result<ZoneInfo, ZoneError> {
        self.read("zone_info").await;
        Ok(ZoneInfo {
            apex: APEX.into(),
            vpcs: BTreeSet::from([VPC.to_string()]),
        })
    }

    async fn list_zone(&self, _zone_id: &str) -> Listing {
        self.read("list_zone").await;
        Listing {
            records: self.records.clone(),
            pages: 1,
            failure: None,
        }
    }

    async fn list_names(&self, _zone_id: &str, names: &[String]) -> Listing {
        self.read("list_names").await;
        Listing {
            records: (self.records.iter())
                .filter(|r| names.contains(&r.name))
                .cloned()
                .collect(),
            pages: names.len(),
            failure: None,
        }
    }

    async fn delete_records(
        &self,
        _zone_id: &str,
        sets: &[RecordSet],
        _stop_at: Option<Instant>,
    ) -> Vec<WriteOutcome> {
        self.log("delete_records");
        if self.write_outcome == WriteOutcome::Deleted {
            if let Ok(mut deleted) = self.deleted.lock() {
                deleted.extend_from_slice(sets);
            }
        }
        vec![self.write_outcome.clone(); sets.len()]
    }
}

impl EstateApi for FakeAws {
    async fn instances(&self) -> Result<Vec<Ec2Instance>, ReadFailure> {
        self.read("instances").await;
        self.instances.clone()
    }

    async fn clusters(&self, _scope: &ClusterScope) -> Inventory {
        self.read("clusters").await;
        self.clusters.clone()
    }

    async fn task(&self, _cluster: &str, _arn: &str) -> Result<Option<Task>, ReadFailure> {
        self.read("task").await;
        Ok(self.task.clone())
    }

    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, ReadFailure> {
        self.read("task_definition").await;
        self.definition.clone().ok_or_else(|| ReadFailure {
            call: format!("ecs:DescribeTaskDefinition {arn}"),
            message: "no such definition".into(),
        })
    }

    async fn host(&self, _cluster: &str, _container_instance: &str) -> Inventory {
        self.read("host").await;
        self.host.clone()
    }

    async fn instance_tasks(&self, _scope: &ClusterScope, _instance_id: &str) -> Inventory {
        self.read("instance_tasks").await;
        Inventory::default()
    }

    async fn instance(&self, instance_id: &str) -> Inventory {
        self.read("instance").await;
        let instances = self.instances.clone().unwrap_or_default();
        Inventory {
            instances: instances
                .into_iter()
                .filter(|i| i.id == instance_id)
                .collect(),
            ..Inventory::default()
        }
    }

    async fn stop_tasks(&self, tasks: &[TaskRef]) -> (Vec<String>, Vec<String>) {
        self.log("stop_tasks");
        let arns: Vec<String> = tasks.iter().map(|t| t.arn.clone()).collect();
        if let Ok(mut stopped) = self.stopped.lock() {
            stopped.extend(arns.clone());
        }
        (arns, Vec::new())
    }
}

fn set(name: &str, rtype: &str, id: Option<&str>, value: &str) -> RecordSet {
    RecordSet {
        name: format!("{name}."),
        rtype: rtype.into(),
        set_identifier: id.map(String::from),
        weight: id.map(|_| 1),
        ttl: Some(0),
        values: vec![value.into()],
        health_check_id: None,
        special: None,
    }
}

fn instance(id: &str, last: u8, state: &str) -> Ec2Instance {
    Ec2Instance {
        id: id.into(),
        state: InstanceState::parse(state),
        private_ip: Some(Ipv4Addr::new(10, 0, 1, last)),
        private_dns: HostName::parse(&format!("ip-10-0-1-{last}.ec2.internal")),
        vpc_id: Some(VPC.into()),
    }
}

/// A zone with: a live host `.5` running the task behind one SRV record; a
/// record on `.6`, which EC2 reports terminated (positive evidence); and a record
/// on `.9`, which no instance has (negative evidence).
fn estate() -> FakeAws {
    let srv = |last: u8, id: &str| {
        let host = format!("ip-10-0-1-{last}.ec2.internal");
        set(
            &format!("calc.{APEX}"),
            "SRV",
            Some(&format!("{host}:{id}")),
            &format!("1 1 8080 {host}"),
        )
    };
    let task = Task {
        arn: "t1".into(),
        cluster: "web".into(),
        container_instance_arn: Some("ci-5".into()),
        last_status: TaskStatus::Running,
        desired_status: TaskStatus::Running,
        started_at: Some(SystemTime::UNIX_EPOCH),
        created_at: Some(SystemTime::UNIX_EPOCH),
        task_definition_arn: Some("calc:1".into()),
        containers: vec![Container {
            name: "app".into(),
            runtime_id: Some(CID.into()),
            bindings: vec![],
            env_overrides: vec![],
        }],
    };
    let registered = |id: &str, ci: &str| ContainerInstance {
        arn: ci.into(),
        cluster: "web".into(),
        ec2_instance_id: Some(id.into()),
    };
    FakeAws {
        records: vec![
            set(
                APEX,
                "SOA",
                None,
                "ns-1. hostmaster. 1 7200 900 1209600 86400",
            ),
            srv(5, CID),
            srv(6, "bbbbbbbbbbbb"),
            srv(9, "cccccccccccc"),
        ],
        instances: Ok(vec![
            instance("i-5", 5, "running"),
            instance("i-6", 6, "terminated"),
        ]),
        clusters: Inventory {
            container_instances: vec![registered("i-5", "ci-5"), registered("i-6", "ci-6")],
            tasks: vec![task.clone()],
            ..Inventory::default()
        },
        task: Some(task.clone()),
        host: Inventory {
            instances: vec![instance("i-5", 5, "running")],
            container_instances: vec![registered("i-5", "ci-5")],
            tasks: vec![task],
            ..Inventory::default()
        },
        definition: Some(TaskDefinition {
            network_mode: NetworkMode::Bridge,
            containers: vec![ContainerDefinition {
                name: "app".into(),
                environment: vec![("SERVICE_8080_NAME".into(), "calc".into())],
                port_mappings: vec![(8080, Some(8080))],
            }],
        }),
        read_delay: Duration::ZERO,
        write_outcome: WriteOutcome::Deleted,
        calls: Mutex::new(Vec::new()),
        deleted: Mutex::new(Vec::new()),
        stopped: Mutex::new(Vec::new()),
    }
}

fn deps(aws: FakeAws, extra: &[(&str, &str)]) -> Deps<FakeAws> {
    let mut vars = vec![
        ("HOSTED_ZONE_ID", ZONE),
        ("HEALTH_CHECK", "off"),
        ("MAX_DELETE_PERCENT", "100"),
        ("KEEP_LAST_RECORD", "false"),
    ];
    vars.extend_from_slice(extra);
    let config = Config::from_lookup(|k| {
        vars.iter()
            .rev()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    })
    .expect("configuration");
    Deps::with_aws(aws, config).expect("deps")
}

async fn run(deps: &Deps<FakeAws>, event: Value, invocation: Invocation) -> Report {
    handle(deps, &event, invocation).await.expect("handled")
}

fn reasons(list: &[crate::report::ReportedRecord]) -> Vec<String> {
    list.iter()
        .map(|r| crate::model::wire_name(&r.reason))
        .collect()
}

#[tokio::test]
async fn a_sweep_lists_the_zone_before_it_reads_ecs_and_deletes_what_it_decided() {
    let aws = FakeAws {
        read_delay: Duration::from_millis(20),
        ..estate()
    };
    let deps = deps(aws, &[]);
    let report = run(&deps, json!({"action": "sweep"}), Invocation::default()).await;
    // The listing has ended before the ECS read starts; EC2 runs beside the listing.
    let listed = deps.aws.log_position("list_zone:done");
    let ecs = deps.aws.log_position("clusters");
    assert!(listed.is_some() && listed < ecs, "{:?}", deps.aws.calls);
    assert!(deps.aws.log_position("instances") < listed);
    assert!(report.complete, "{report:?}");
    assert_eq!(reasons(&report.deleted), ["instance-gone", "host-unknown"]);
    assert_eq!(deps.aws.deleted().len(), 2);
    assert_eq!(report.records.owned, 3);
}

#[tokio::test]
async fn reads_that_outlast_the_deadline_decide_and_delete_nothing() {
    let aws = FakeAws {
        read_delay: Duration::from_millis(400),
        ..estate()
    };
    let deps = deps(aws, &[]);
    // 3 s of the deadline are kept back to reply: 100 ms are left for the work.
    let invocation = Invocation {
        deadline: Some(SystemTime::now() + Duration::from_millis(3100)),
        force_dry_run: false,
    };
    let report = run(&deps, json!({"action": "sweep"}), invocation).await;
    assert!(!report.complete);
    assert!(report.errors[0].starts_with("deadline near"), "{report:?}");
    assert!(report.deleted.is_empty() && deps.aws.deleted().is_empty());
    assert!(!deps.aws.calls().iter().any(|c| c == "delete_records"));
}

#[tokio::test]
async fn a_failed_ec2_read_holds_every_negative_deletion() {
    let failure = ReadFailure {
        call: "ec2:DescribeInstances".into(),
        message: "throttled".into(),
    };
    let aws = FakeAws {
        instances: Err(failure),
        ..estate()
    };
    let deps = deps(aws, &[]);
    let report = run(&deps, json!({"action": "sweep"}), Invocation::default()).await;
    // Without EC2 every host is unknown: negative evidence, all held.
    assert_eq!(reasons(&report.held), ["inventory-incomplete"; 3]);
    assert!(report.deleted.is_empty());
    assert_eq!(report.errors, ["ec2:DescribeInstances failed: throttled"]);
}

#[tokio::test]
async fn a_dry_run_decides_and_writes_nothing() {
    let deps = deps(estate(), &[("DRY_RUN", "true")]);
    let report = run(&deps, json!({"action": "sweep"}), Invocation::default()).await;
    assert!(report.dry_run);
    assert_eq!(reasons(&report.deleted), ["instance-gone", "host-unknown"]);
    assert!(!deps.aws.calls().iter().any(|c| c == "delete_records"));
}

#[tokio::test]
async fn deletions_left_unattempted_make_the_report_incomplete() {
    let aws = FakeAws {
        write_outcome: WriteOutcome::Skipped,
        ..estate()
    };
    let deps = deps(aws, &[]);
    let report = run(&deps, json!({"action": "sweep"}), Invocation::default()).await;
    assert!(!report.complete);
    assert!(report.deleted.is_empty(), "not attempted is not deleted");
    assert_eq!(
        report.errors,
        ["deadline near: some deletions were not attempted"]
    );
}

fn task_stopped_event() -> Value {
    json!({"source": "aws.ecs", "detail-type": "ECS Task State Change", "detail": {
        "taskArn": "t1", "clusterArn": "web", "containerInstanceArn": "ci-5",
        "lastStatus": "STOPPED", "containers": [{"runtimeId": CID}]}})
}

#[tokio::test]
async fn a_stopped_event_for_a_task_ecs_says_runs_is_ignored_without_reading_the_zone() {
    let deps = deps(estate(), &[]);
    let report = run(&deps, task_stopped_event(), Invocation::default()).await;
    let why = report.ignored.as_deref().unwrap_or_default();
    assert!(why.contains("as RUNNING (desired RUNNING)"), "{why}");
    assert_eq!(deps.aws.calls(), ["task"]);
}

fn stopped(mut aws: FakeAws) -> FakeAws {
    if let Some(task) = aws.task.as_mut() {
        task.last_status = TaskStatus::Stopped;
        task.desired_status = TaskStatus::Stopped;
    }
    aws.host.tasks.clear();
    aws
}

#[tokio::test]
async fn an_event_whose_re_check_fails_deletes_nothing() {
    let mut aws = stopped(estate());
    aws.host.failures.push(ReadFailure {
        call: "ecs:DescribeContainerInstances cluster=web".into(),
        message: "HTTP 500".into(),
    });
    let deps = deps(aws, &[]);
    let report = run(&deps, task_stopped_event(), Invocation::default()).await;
    assert!(!report.complete);
    assert!(report.deleted.is_empty() && deps.aws.deleted().is_empty());
    assert_eq!(
        report.errors,
        ["ecs:DescribeContainerInstances cluster=web failed: HTTP 500"]
    );
}

#[tokio::test]
async fn a_stopped_task_loses_its_record_and_only_its_declared_name_is_listed() {
    let deps = deps(stopped(estate()), &[]);
    let report = run(&deps, task_stopped_event(), Invocation::default()).await;
    assert_eq!(reasons(&report.deleted), ["task-stopped"]);
    let deleted = deps.aws.deleted();
    assert_eq!(
        deleted[0].set_identifier.as_deref(),
        Some(format!("ip-10-0-1-5.ec2.internal:{CID}").as_str())
    );
    assert_eq!(
        deps.aws.calls(),
        [
            "task",
            "task_definition",
            "zone_info",
            "list_names",
            "host",
            "delete_records"
        ]
    );
    assert_eq!(
        report.records.scanned, 3,
        "the three record sets at calc.sd.internal."
    );
}

#[tokio::test]
async fn a_replayed_event_whose_records_are_gone_reads_no_host() {
    let mut aws = stopped(estate());
    aws.records.retain(|r| r.rtype == "SOA");
    let deps = deps(aws, &[]);
    let report = run(&deps, task_stopped_event(), Invocation::default()).await;
    assert!(report.deleted.is_empty());
    assert!(!deps.aws.calls().iter().any(|c| c == "host"));
}

#[tokio::test]
async fn a_task_that_declares_no_name_ecs_can_show_has_the_whole_zone_listed() {
    let mut aws = stopped(estate());
    aws.definition = aws.definition.map(|mut d| {
        d.containers[0].environment.clear();
        d
    });
    let deps = deps(aws, &[]);
    let report = run(&deps, task_stopped_event(), Invocation::default()).await;
    assert_eq!(reasons(&report.deleted), ["task-stopped"]);
    assert!(deps.aws.calls().iter().any(|c| c == "list_zone"));
    assert!(!deps.aws.calls().iter().any(|c| c == "list_names"));
}

#[tokio::test]
async fn an_instance_event_ec2_does_not_confirm_is_ignored() {
    let deps = deps(estate(), &[]);
    let event = |id: &str| {
        json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification",
               "detail": {"instance-id": id, "state": "terminated"}})
    };
    for (id, why) in [
        (
            "i-5",
            "EC2 reports instance i-5 as running: nothing deleted",
        ),
        ("i-7", "EC2 does not know instance i-7: nothing deleted"),
    ] {
        let report = run(&deps, event(id), Invocation::default()).await;
        assert_eq!(report.ignored.as_deref(), Some(why));
        assert_eq!(report.guard.limit_percent, 100);
    }
    assert!(!deps.aws.calls().iter().any(|c| c == "list_zone"));
    let report = run(&deps, event("i-6"), Invocation::default()).await;
    assert_eq!(reasons(&report.deleted), ["instance-gone"]);
}
