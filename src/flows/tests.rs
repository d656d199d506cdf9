//! The flows' own logic — which read follows which, the deadline, partial
//! failures, re-checks that stop an event, dry runs, what gets stopped — against
//! an in-memory AWS. The decisions themselves are tested in `decide`; the AWS
//! edges end to end against the local AWS (`tests/`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::aws::route53::{Listing, ZoneError};
use crate::aws::{EstateApi, RegistryApi, ZoneApi};
use crate::config::Config;
use crate::handler::{handle, Deps, Invocation};
use crate::model::cloud_map::{
    CloudMapService, HealthStatus, Namespace, Registration, RegistryEvidence, RegistryListing,
};
use crate::model::{
    ClusterScope, Container, ContainerDefinition, ContainerInstance, Ec2Instance, Ec2Read,
    InstanceState, Inventory, NetworkMode, ReadFailure, RecordSet, Task, TaskDefinition, TaskRef,
    TaskStatus, Vpc, WriteOutcome, ZoneInfo,
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
    /// One Cloud Map namespace, `ns-1`, and what ECS and EC2 say of it.
    registry: RegistryListing,
    registry_evidence: RegistryEvidence,
    /// Deregistered and marked instances, as `service/instance[=STATUS]`.
    cloud_map_writes: Mutex<Vec<String>>,
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
            vpcs: BTreeSet::from([Vpc {
                region: "us-east-1".into(),
                id: VPC.to_string(),
            }]),
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

impl RegistryApi for FakeAws {
    async fn namespaces(&self) -> Result<Vec<Namespace>, ReadFailure> {
        self.read("namespaces").await;
        Ok(vec![Namespace {
            id: "ns-1".into(),
            name: "cm.internal".into(),
            owner: Some("123456789012".into()),
            kind: "DNS_PRIVATE".into(),
            hosted_zone_id: Some("ZNS".into()),
        }])
    }

    async fn registry(&self, _namespace_id: &str) -> RegistryListing {
        self.read("registry").await;
        self.registry.clone()
    }

    async fn registry_evidence(
        &self,
        _tasks: &BTreeMap<String, Vec<String>>,
        _vpcs: &BTreeSet<Vpc>,
    ) -> RegistryEvidence {
        self.read("registry_evidence").await;
        self.registry_evidence.clone()
    }

    async fn deregister(
        &self,
        instances: &[(String, String)],
        _: Option<Instant>,
    ) -> Vec<WriteOutcome> {
        self.log("deregister");
        if let Ok(mut w) = self.cloud_map_writes.lock() {
            w.extend(instances.iter().map(|(s, i)| format!("{s}/{i}")));
        }
        vec![WriteOutcome::Deleted; instances.len()]
    }

    async fn set_health(
        &self,
        service: &str,
        instance: &str,
        status: HealthStatus,
        _: Option<Instant>,
    ) -> Result<(), String> {
        self.log("set_health");
        if let Ok(mut w) = self.cloud_map_writes.lock() {
            w.push(format!("{service}/{instance}={status:?}"));
        }
        Ok(())
    }

    async fn service_registries(&self, _: &str, _: &str) -> Result<Vec<String>, ReadFailure> {
        self.read("service_registries").await;
        Ok(vec!["srv-web".into()])
    }

    async fn cloud_map_service(
        &self,
        service_id: &str,
    ) -> Result<Option<(String, CloudMapService)>, ReadFailure> {
        self.read("cloud_map_service").await;
        Ok(self
            .registry
            .service(service_id)
            .map(|s| ("ns-1".to_string(), s.clone())))
    }

    async fn registration(
        &self,
        service_id: &str,
        instance_id: &str,
    ) -> Result<Option<Registration>, ReadFailure> {
        self.read("registration").await;
        Ok(self
            .registry
            .instances
            .iter()
            .find(|r| r.service_id == service_id && r.id == instance_id)
            .cloned())
    }
}

impl EstateApi for FakeAws {
    async fn instances(&self, _vpcs: &BTreeSet<Vpc>) -> Ec2Read {
        self.read("instances").await;
        match self.instances.clone() {
            Ok(instances) => Ec2Read {
                instances,
                failures: Vec::new(),
            },
            Err(failure) => Ec2Read {
                instances: Vec::new(),
                failures: vec![failure],
            },
        }
    }

    async fn clusters(&self, _scope: &ClusterScope, _gone: &BTreeSet<String>) -> Inventory {
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

    async fn host(&self, _: &ClusterScope, _cluster: &str, _container_instance: &str) -> Inventory {
        self.read("host").await;
        self.host.clone()
    }

    async fn instance_tasks(&self, _scope: &ClusterScope, _instance_id: &str) -> Inventory {
        self.read("instance_tasks").await;
        Inventory::default()
    }

    async fn instance(&self, instance_id: &str, _vpcs: &BTreeSet<Vpc>) -> Inventory {
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

    async fn holders(&self, _: &[std::net::Ipv4Addr], _: &BTreeSet<Vpc>) -> Inventory {
        self.read("holders").await;
        Inventory::default()
    }

    async fn stop_tasks(
        &self,
        tasks: &[TaskRef],
        _: Option<Instant>,
    ) -> (Vec<String>, Vec<String>) {
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
        launched_at: None,
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
        registry: RegistryListing::default(),
        registry_evidence: RegistryEvidence::default(),
        cloud_map_writes: Mutex::new(Vec::new()),
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
    // What it listed before the re-check failed is still counted.
    let listed = crate::report::RecordCounts {
        scanned: 3,
        owned: 3,
        foreign: 0,
    };
    assert_eq!(report.records, listed, "{report:?}");
    assert_eq!(report.guard.limit_percent, 100);
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

/// The estate with a Cloud Map service `web` (custom health): the running task's
/// instance, a stopped task's, and a script-registered one whose address no
/// network interface holds.
fn with_namespace(mut aws: FakeAws) -> FakeAws {
    let attrs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let ecs = |id: &str, last: u8| Registration {
        service_id: "srv-web".into(),
        id: id.into(),
        attributes: attrs(&[
            ("AWS_INSTANCE_IPV4", &format!("10.0.1.{last}")),
            ("AWS_INSTANCE_PORT", "8080"),
            ("ECS_CLUSTER_NAME", "prod"),
        ]),
        created_by: Some("123456789012".into()),
    };
    aws.registry = RegistryListing {
        services: vec![CloudMapService {
            id: "srv-web".into(),
            name: "web".into(),
            custom_health: true,
        }],
        instances: vec![
            ecs("t-run", 5),
            ecs("t-stop", 5),
            Registration {
                service_id: "srv-web".into(),
                id: "script".into(),
                attributes: attrs(&[("AWS_INSTANCE_IPV4", "10.0.1.9")]),
                created_by: None,
            },
        ],
        ..RegistryListing::default()
    };
    let mut running = aws.task.clone().expect("a task");
    running.arn = "arn:aws:ecs:us-east-1:1:task/prod/t-run".into();
    running.started_at = Some(SystemTime::now() - Duration::from_secs(3600));
    let mut stopped = running.clone();
    stopped.arn = "arn:aws:ecs:us-east-1:1:task/prod/t-stop".into();
    stopped.last_status = TaskStatus::Stopped;
    aws.registry_evidence = RegistryEvidence {
        tasks: [("t-run", running), ("t-stop", stopped)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        addresses: BTreeMap::from([(
            Ipv4Addr::new(10, 0, 1, 5),
            BTreeSet::from([VPC.to_string()]),
        )]),
        ..RegistryEvidence::default()
    };
    aws
}

fn cloud_map_writes(aws: &FakeAws) -> Vec<String> {
    aws.cloud_map_writes
        .lock()
        .map(|w| w.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_namespace_alone_is_swept_listing_before_reading_ecs_and_ec2() {
    let mut aws = with_namespace(estate());
    aws.read_delay = Duration::from_millis(20);
    let deps = deps(
        aws,
        &[
            ("HOSTED_ZONE_ID", ""),
            ("CLOUD_MAP_NAMESPACES", "cm.internal"),
        ],
    );
    let report = run(&deps, json!({"action": "sweep"}), Invocation::default()).await;

    assert_eq!(report.hosted_zone_id, None, "no zone configured");
    assert!(!deps.aws.calls().iter().any(|c| c == "list_zone"));
    let listed = deps.aws.log_position("registry:done").expect("listed");
    let read = deps.aws.log_position("registry_evidence").expect("read");
    assert!(listed < read, "{:?}", deps.aws.calls());
    let entries = report.cloud_map.expect("cloud_map");
    assert_eq!(entries[0].namespace_id.as_deref(), Some("ns-1"));
    let gone: Vec<_> = entries[0]
        .deregistered
        .iter()
        .map(|d| (d.instance_id.as_str(), crate::model::wire_name(&d.reason)))
        .collect();
    assert_eq!(
        gone,
        vec![
            ("t-stop", "task-stopped".to_string()),
            ("script", "host-unknown".to_string())
        ]
    );
    assert_eq!(
        cloud_map_writes(&deps.aws),
        vec!["srv-web/t-stop", "srv-web/script"]
    );
}

#[tokio::test]
async fn a_namespace_dry_run_deregisters_and_marks_nothing() {
    let deps = deps(
        with_namespace(estate()),
        &[("CLOUD_MAP_NAMESPACES", "ns-1"), ("DRY_RUN", "true")],
    );
    let report = run(&deps, json!({"action": "sweep"}), Invocation::default()).await;
    let entries = report.cloud_map.expect("cloud_map");
    assert_eq!(entries[0].deregistered.len(), 2, "what would be");
    assert!(cloud_map_writes(&deps.aws).is_empty());
    assert!(!deps.aws.calls().iter().any(|c| c == "deregister"));
}

#[tokio::test]
async fn a_stopped_event_deregisters_the_tasks_instance_from_its_services_registry() {
    let mut aws = stopped(with_namespace(estate()));
    if let Some(task) = aws.task.as_mut() {
        task.arn = "arn:aws:ecs:us-east-1:1:task/prod/t-stop".into();
    }
    let deps = deps(aws, &[("CLOUD_MAP_NAMESPACES", "cm.internal")]);
    let mut event = task_stopped_event();
    event["detail"]["taskArn"] = json!("arn:aws:ecs:us-east-1:1:task/prod/t-stop");
    event["detail"]["group"] = json!("service:web");
    let report = run(&deps, event, Invocation::default()).await;

    assert_eq!(cloud_map_writes(&deps.aws), vec!["srv-web/t-stop"]);
    let entries = report.cloud_map.expect("cloud_map");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].deregistered[0].instance_id, "t-stop");
    assert!(
        !deps.aws.calls().iter().any(|c| c == "registry"),
        "no sweep"
    );
}

#[tokio::test]
async fn a_namespace_whose_reads_outlast_the_deadline_is_incomplete_and_untouched() {
    let mut aws = with_namespace(estate());
    aws.read_delay = Duration::from_millis(60);
    let deps = deps(
        aws,
        &[("HOSTED_ZONE_ID", ""), ("CLOUD_MAP_NAMESPACES", "ns-1")],
    );
    // 3 s kept back to reply: 150 ms left, enough to resolve the namespace and
    // list it (2 reads), not to read ECS and EC2 as well.
    let invocation = Invocation {
        deadline: Some(SystemTime::now() + Duration::from_millis(3150)),
        force_dry_run: false,
    };
    let report = run(&deps, json!({"action": "sweep"}), invocation).await;
    let entry = &report.cloud_map.as_ref().expect("cloud_map")[0];
    assert!(!entry.complete && !report.complete, "{report:?}");
    assert!(entry.errors[0].starts_with("deadline near"), "{entry:?}");
    assert!(entry.deregistered.is_empty());
    assert!(cloud_map_writes(&deps.aws).is_empty());
    assert_eq!(entry.guard.limit_percent, 100, "the configured limit");
}

#[tokio::test]
async fn a_stopped_event_for_a_task_ecs_no_longer_shows_leaves_cloud_map_to_the_sweep() {
    let mut aws = with_namespace(estate());
    aws.task = None;
    let deps = deps(aws, &[("CLOUD_MAP_NAMESPACES", "cm.internal")]);
    let mut event = task_stopped_event();
    event["detail"]["taskArn"] = json!("arn:aws:ecs:us-east-1:1:task/prod/t-stop");
    event["detail"]["group"] = json!("service:web");
    let report = run(&deps, event, Invocation::default()).await;

    assert!(cloud_map_writes(&deps.aws).is_empty());
    assert!(!deps.aws.calls().iter().any(|c| c == "service_registries"));
    assert_eq!(report.cloud_map, Some(Vec::new()));
}

#[tokio::test]
async fn running_out_of_time_in_cloud_map_keeps_the_zones_deletions_and_every_namespace_entry() {
    let mut aws = with_namespace(estate());
    aws.read_delay = Duration::from_millis(150);
    let deps = deps(aws, &[("CLOUD_MAP_NAMESPACES", "ns-1,other.internal")]);
    // 3 s kept back to reply: 700 ms left, enough for the zone's three reads
    // (450 ms), not to resolve the namespaces as well (ListNamespaces, then the
    // namespace zone's VPCs).
    let invocation = Invocation {
        deadline: Some(SystemTime::now() + Duration::from_millis(3700)),
        force_dry_run: false,
    };
    let report = run(&deps, json!({"action": "sweep"}), invocation).await;

    assert!(!deps.aws.deleted().is_empty(), "the zone's deletions stand");
    assert!(!report.deleted.is_empty(), "{report:?}");
    assert!(!report.complete, "{report:?}");
    assert!(
        report
            .errors
            .iter()
            .all(|e| !e.contains("nothing was decided")),
        "{:?}",
        report.errors
    );
    let entries = report.cloud_map.as_ref().expect("cloud_map");
    let names: Vec<&str> = entries.iter().map(|e| e.namespace.as_str()).collect();
    assert_eq!(names, ["ns-1", "other.internal"]);
    for entry in entries {
        assert!(!entry.complete, "{entry:?}");
        assert!(entry.errors[0].starts_with("deadline near"), "{entry:?}");
    }
    assert!(cloud_map_writes(&deps.aws).is_empty());
}
