//! The demo estate: small and realistic, built the same way every time (moto is
//! seeded), so the sample events in `events/` name its real ids. `make demo`
//! sweeps it, with a Cloud Map namespace added to its VPC ([`build_cloud_map`]);
//! `tests/events.rs` proves each sample event against it.

use std::time::Duration;

use aws_sdk_route53::types::RrType;
use serde_json::{json, Value};

use super::Outcome::{Held, Kept, Removed};
use super::{record, Behaviour, Estate, LocalAws, StartedTask};

pub const SEED: u64 = 2026;
pub const NET: u8 = 10;
pub const APEX: &str = "servicediscovery.internal";
const HOUR: Duration = Duration::from_secs(3600);
const TIME: &str = "2026-11-22T06:00:00Z";
const ACCOUNT: &str = "123456789012";

/// What the demo built, for the sample events and their tests.
pub struct Demo<'a> {
    pub estate: Estate<'a>,
    /// web host 1: healthy tasks (one also has a CNAME), one answering 500.
    pub live_host: usize,
    /// web host 3: named by its instance id (EC2 resource names); terminated
    /// after its records were written, while its listeners still answer.
    pub terminated_host: usize,
    /// A healthy running task on the live host.
    pub running_task: StartedTask,
    /// batch tasks stopped while their records stayed behind.
    pub stopped_task: StartedTask,
    pub stopped_task_no_runtime_id: StartedTask,
    /// A live host of the zone's second Region (us-west-2), in no cluster here.
    pub other_region_host: usize,
    /// web host 4: terminated after its records were written; EC2 no longer
    /// reports its address, only ECS ties its records to it.
    pub scaled_in_host: usize,
}

/// Builds the demo estate on `aws` (which must be fresh: the ids depend on it).
///
/// - cluster `web`: host 1 with two healthy `calc` tasks (SRV, one also a
///   `calc-www` CNAME) and one answering HTTP 500; host 2 with a healthy task, a
///   hung one (accepts, never answers) and one started 10 s ago (grace); host 3,
///   whose records use its resource name (`i-….ec2.internal`), with two healthy
///   tasks, terminated although its listeners still answer;
/// - a `web` service registered by the CNAME fork (container port 80 on static
///   host port 8080, `SERVICE_8080_NAME=web`): healthy on host 2, answering
///   HTTP 500 on host 1;
/// - cluster `batch`: one host with two healthy `report` tasks and two stopped
///   ones whose records were left behind;
/// - cluster `edge`: empty;
/// - a running instance in no cluster, with a `metrics` record (out of scope);
/// - two `legacy` records on hosts that do not exist;
/// - each host's A record (weighted, as agent 1.4+ writes it; host 5's simple, as
///   older agents did), a TXT and an MX record (foreign);
/// - a host of the zone's DR Region (us-west-2) with a record of its own, and a
///   `web` host terminated after its records were written ([`coverage_hosts`]).
pub async fn build(aws: &LocalAws) -> Demo<'_> {
    aws.seed(SEED).await;
    let mut e = Estate::with_net(aws, APEX, NET).await;
    let web = e.cluster("web").await;
    let batch = e.cluster("batch").await;
    e.cluster("edge").await;

    let h1 = e.host(Some(&web), 1, 11).await;
    let h2 = e.host(Some(&web), 1, 12).await;
    let h3 = e.host(Some(&web), 1, 13).await;
    let h4 = e.host(Some(&batch), 2, 21).await;
    let h5 = e.host(None, 3, 31).await;
    for h in [h1, h2, h4] {
        e.host_a(h, Some(Kept("healthy")));
    }
    e.simple_host_a(h5, Some(Kept("healthy")));
    let h3_name = e.resource_name(h3);
    e.host_a_named(h3, &h3_name, Some(Removed("instance-gone")));

    let running_task = web_tasks(&mut e, [h1, h2, h3]).await;
    let (stopped_task, stopped_task_no_runtime_id) = batch_tasks(&mut e, h4).await;
    stray_records(&mut e, h5);
    e.commit().await;

    e.stop_task(&stopped_task).await;
    e.stop_task(&stopped_task_no_runtime_id).await;
    e.terminate(h3).await;
    let (other_region_host, scaled_in_host) = coverage_hosts(&mut e, &web).await;

    Demo {
        estate: e,
        live_host: h1,
        terminated_host: h3,
        running_task,
        stopped_task,
        stopped_task_no_runtime_id,
        other_region_host,
        scaled_in_host,
    }
}

/// Cluster `web`'s tasks and records on hosts 1, 2 and 3 (named by its resource
/// name), and the CNAME fork's `web` service; returns a healthy running task.
async fn web_tasks(e: &mut Estate<'_>, [h1, h2, h3]: [usize; 3]) -> StartedTask {
    let running_task = e.task(h1, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h1, &running_task, Some(Kept("healthy")));
    e.cname("calc", h1, &running_task, Some(Kept("healthy")));
    let t = e.task(h1, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h1, &t, Some(Kept("healthy")));
    let t = e.task(h1, "calc", HOUR, Behaviour::Http500).await;
    e.srv("calc", h1, &t, Some(Removed("unhealthy")));

    let t = e.task(h2, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h2, &t, Some(Kept("healthy")));
    let t = e.task(h2, "calc", HOUR, Behaviour::Hang).await;
    e.srv("calc", h2, &t, Some(Removed("unhealthy")));
    let t = e
        .task(h2, "calc", Duration::from_secs(10), Behaviour::Closed)
        .await;
    e.srv("calc", h2, &t, Some(Kept("grace")));

    let h3_name = e.resource_name(h3);
    for _ in 0..2 {
        let t = e.task(h3, "calc", HOUR, Behaviour::Healthy).await;
        let id = Some(t.runtime_id.as_str());
        e.srv_raw(
            "calc",
            &h3_name,
            t.host_port,
            id,
            Some(Removed("instance-gone")),
        );
    }

    let t = e.fork_task(h2, "web", 8080, HOUR, Behaviour::Healthy).await;
    e.fork_cname("web", h2, &t, Some(Kept("healthy")));
    let t = e.fork_task(h1, "web", 8080, HOUR, Behaviour::Http500).await;
    e.fork_cname("web", h1, &t, Some(Removed("unhealthy")));
    running_task
}

/// Cluster `batch`'s tasks and records on host `h4`: two healthy, two to be
/// stopped with their records left behind (the second's record has no container
/// id); returns those two.
async fn batch_tasks(e: &mut Estate<'_>, h4: usize) -> (StartedTask, StartedTask) {
    for _ in 0..2 {
        let t = e.task(h4, "report", HOUR, Behaviour::Healthy).await;
        e.srv("report", h4, &t, Some(Kept("healthy")));
    }
    let stopped_task = e.task(h4, "report", HOUR, Behaviour::Closed).await;
    e.srv("report", h4, &stopped_task, Some(Removed("task-gone")));
    let stopped_task_no_runtime_id = e.task(h4, "report", HOUR, Behaviour::Closed).await;
    let h4_dns = e.hosts[h4].dns.clone();
    e.srv_raw(
        "report",
        &h4_dns,
        stopped_task_no_runtime_id.host_port,
        None,
        Some(Removed("task-gone")),
    );
    (stopped_task, stopped_task_no_runtime_id)
}

/// What docs/coverage.md is about: a host of the zone's DR Region, us-west-2,
/// whose records are kept (EC2 is read there too); and a host of `web` named by
/// its address, terminated after its records were written: EC2 no longer reports
/// its address, but ECS ties its task's container to it, so its records are
/// `instance-gone`, its host A record with them.
async fn coverage_hosts(e: &mut Estate<'_>, web: &str) -> (usize, usize) {
    let dr = e.region_host("us-west-2", 8, 41).await;
    let dr_dns = e.hosts[dr].dns.clone();
    e.srv_raw(
        "calc",
        &dr_dns,
        32768,
        Some("0d0d0d0d0d0d"),
        Some(Kept("out-of-scope")),
    );
    e.host_a(dr, Some(Kept("healthy")));

    let scaled_in = e.host(Some(web), 1, 14).await;
    let t = e.task(scaled_in, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", scaled_in, &t, Some(Removed("instance-gone")));
    e.host_a(scaled_in, Some(Removed("instance-gone")));
    e.commit().await;
    e.terminate(scaled_in).await;
    (dr, scaled_in)
}

/// Records outside the clusters: a `metrics` record on host `h5` (in no
/// cluster), two `legacy` records on hosts that do not exist, a TXT and an MX.
fn stray_records(e: &mut Estate<'_>, h5: usize) {
    let h5_dns = e.hosts[h5].dns.clone();
    e.srv_raw(
        "metrics",
        &h5_dns,
        9100,
        Some("00000000a1b2"),
        Some(Kept("out-of-scope")),
    );
    e.srv_raw(
        "legacy",
        &e.unknown_host(1),
        8080,
        None,
        Some(Held("last-record", None)),
    );
    e.srv_raw(
        "legacy",
        &e.unknown_host(2),
        8080,
        None,
        Some(Removed("host-unknown")),
    );

    e.raw(
        record(
            &format!("{APEX}."),
            RrType::Txt,
            None,
            None,
            &["\"owner=platform-team\""],
        ),
        None,
    );
    e.raw(
        record(
            &format!("mail.{APEX}."),
            RrType::Mx,
            None,
            None,
            &["10 mx.example.com."],
        ),
        None,
    );
}

fn eventbridge(
    source: &str,
    detail_type: &str,
    id: &str,
    resources: Vec<String>,
    detail: Value,
) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": TIME,
        "region": "us-east-1",
        "resources": resources,
        "detail": detail,
    })
}

fn task_event(task: &StartedTask, last_status: &str, with_runtime_id: bool, id: &str) -> Value {
    let cluster_arn = format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{}", task.cluster);
    let task_definition = format!(
        "arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{}:1",
        if task.cluster == "batch" {
            "report"
        } else {
            "calc"
        }
    );
    let mut container = json!({
        "containerArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:container/{}/{}", task.cluster, task.arn.rsplit('/').next().unwrap_or_default()),
        "lastStatus": last_status,
        "name": "app",
        "taskArn": task.arn,
        "networkBindings": [
            {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": task.host_port, "protocol": "tcp"},
            {"bindIP": "0.0.0.0", "containerPort": 81, "hostPort": task.www_port.unwrap_or_default(), "protocol": "tcp"},
        ],
    });
    if with_runtime_id {
        container["runtimeId"] = json!(task.runtime_id);
        if last_status == "STOPPED" {
            container["exitCode"] = json!(137);
        }
    }
    let stopped = last_status == "STOPPED";
    let mut detail = json!({
        "clusterArn": cluster_arn,
        "containerInstanceArn": task.container_instance_arn,
        "containers": [container],
        "createdAt": "2026-11-22T05:00:00.000Z",
        "desiredStatus": last_status,
        "group": format!("family:{}", task_definition.rsplit('/').next().unwrap_or_default().split(':').next().unwrap_or_default()),
        "launchType": "EC2",
        "lastStatus": last_status,
        "startedAt": "2026-11-22T05:00:01.000Z",
        "taskArn": task.arn,
        "taskDefinitionArn": task_definition,
        "updatedAt": TIME,
        "version": if stopped { 5 } else { 2 },
    });
    if stopped {
        detail["stoppedAt"] = json!(TIME);
        detail["stoppedReason"] = json!("Task stopped by user");
        detail["stopCode"] = json!("UserInitiated");
    }
    eventbridge(
        "aws.ecs",
        "ECS Task State Change",
        id,
        vec![task.arn.clone()],
        detail,
    )
}

fn instance_event(demo: &Demo, h: usize, state: &str, id: &str) -> Value {
    let instance = &demo.estate.hosts[h].instance_id;
    eventbridge(
        "aws.ec2",
        "EC2 Instance State-change Notification",
        id,
        vec![format!(
            "arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{instance}"
        )],
        json!({"instance-id": instance, "state": state}),
    )
}

/// The sample events of `events/`, by file name, for this demo estate.
pub fn events(demo: &Demo) -> Vec<(&'static str, Value)> {
    vec![
        (
            "scheduled.json",
            json!({
                "version": "0",
                "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT,
                "time": TIME,
                "region": "us-east-1",
                "resources": [format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/ecs-dns-reaper-schedule")],
                "detail": {},
            }),
        ),
        ("manual-sweep.json", json!({"action": "sweep"})),
        (
            "manual-dry-run.json",
            json!({"action": "sweep", "dry_run": true}),
        ),
        (
            "ecs-task-stopped.json",
            task_event(
                &demo.stopped_task,
                "STOPPED",
                true,
                "6c1a7d2e-5b0e-4f1a-9d43-1f4c0f7e2a01",
            ),
        ),
        (
            "ecs-task-stopped-no-runtime-id.json",
            task_event(
                &demo.stopped_task_no_runtime_id,
                "STOPPED",
                false,
                "6c1a7d2e-5b0e-4f1a-9d43-1f4c0f7e2a02",
            ),
        ),
        (
            "ecs-task-running.json",
            task_event(
                &demo.running_task,
                "RUNNING",
                true,
                "6c1a7d2e-5b0e-4f1a-9d43-1f4c0f7e2a03",
            ),
        ),
        (
            "ec2-terminated.json",
            instance_event(
                demo,
                demo.terminated_host,
                "terminated",
                "9a0f1c52-2f3b-4c55-8e1e-6d7f0b1c2d01",
            ),
        ),
        (
            "ec2-running.json",
            instance_event(
                demo,
                demo.live_host,
                "running",
                "9a0f1c52-2f3b-4c55-8e1e-6d7f0b1c2d02",
            ),
        ),
    ]
}

// ---------------------------------------------------------------------------
// Cloud Map: a private DNS namespace in the demo VPC (`make demo` only)
// ---------------------------------------------------------------------------

/// The Cloud Map namespace of the demo, in the demo VPC.
pub const NAMESPACE: &str = "apps.internal";

/// What the Cloud Map part of the demo built.
pub struct CloudMapDemo {
    pub namespace_id: String,
}

/// A Cloud Map service of the demo: its name, whether it has
/// `HealthCheckCustomConfig`, and its DNS record type.
async fn cloud_map_service(
    client: &aws_sdk_servicediscovery::Client,
    namespace_id: &str,
    name: &str,
    custom_health: bool,
    record: aws_sdk_servicediscovery::types::RecordType,
) -> String {
    use aws_sdk_servicediscovery::types::{
        DnsConfig, DnsRecord, HealthCheckCustomConfig, RoutingPolicy,
    };
    let dns = DnsConfig::builder()
        .routing_policy(RoutingPolicy::Multivalue)
        .dns_records(
            DnsRecord::builder()
                .r#type(record)
                .ttl(10)
                .build()
                .expect("dns record"),
        )
        .build()
        .expect("dns config");
    let mut request = client
        .create_service()
        .name(name)
        .namespace_id(namespace_id)
        .dns_config(dns);
    if custom_health {
        request = request.health_check_custom_config(HealthCheckCustomConfig::builder().build());
    }
    request
        .send()
        .await
        .expect("CreateService")
        .service()
        .and_then(|s| s.id())
        .expect("service id")
        .to_string()
}

/// Registers instance `id` of service `service_id` with `attributes`.
async fn register(
    client: &aws_sdk_servicediscovery::Client,
    service_id: &str,
    id: &str,
    attributes: &[(&str, String)],
) {
    let mut request = client
        .register_instance()
        .service_id(service_id)
        .instance_id(id);
    for (k, v) in attributes {
        request = request.attributes(*k, v);
    }
    request.send().await.expect("RegisterInstance");
}

/// The attributes ECS registers for a task of `service` in `cluster` (bridge
/// network mode: the host's address and the task's host port, for SRV records).
fn ecs_attributes(
    cluster: &str,
    service: &str,
    ip: std::net::Ipv4Addr,
    port: u16,
) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_INSTANCE_IPV4", ip.to_string()),
        ("AWS_INSTANCE_PORT", port.to_string()),
        ("AVAILABILITY_ZONE", "us-east-1a".into()),
        ("REGION", "us-east-1".into()),
        ("ECS_CLUSTER_NAME", cluster.into()),
        ("ECS_SERVICE_NAME", service.into()),
        ("ECS_TASK_DEFINITION_FAMILY", service.into()),
    ]
}

/// Adds a Cloud Map private DNS namespace, `apps.internal`, to the demo VPC, with
/// the instances Cloud Map accumulates when nobody cleans up. Built after
/// [`build`] (so the zone estate and the sample events keep their ids):
///
/// - `orders` (ECS service `orders` of cluster `web`, SRV records, custom health
///   as ECS sets it up): a live task (kept: ECS-registered instances are judged
///   by their task, never checked); a task ECS reports STOPPED that was never
///   deregistered (`task-stopped`); a task ECS does not know at all (`task-gone`);
/// - `reports` (registered by a script on EC2 hosts, A records, no health check of
///   its own): a live host answering on 9200 (kept after its check); the
///   terminated host 3, named by `EC2_INSTANCE_ID` (`instance-gone`); an address
///   no network interface of the VPC has (`host-unknown`);
/// - `payments` (script-registered, `HealthCheckCustomConfig`: the reaper is its
///   health checker): one answering, one whose listener is down (kept, marked
///   `UNHEALTHY`);
/// - `legacy-api`: its only instance on an address nobody has (`host-unknown`,
///   held: the last instance of its service);
/// - `docs`: a CNAME instance (no `AWS_INSTANCE_IPV4`: foreign, never touched).
pub async fn build_cloud_map(demo: &mut Demo<'_>) -> CloudMapDemo {
    use aws_sdk_servicediscovery::types::{NamespaceFilter, NamespaceFilterName, RecordType};
    let e = &mut demo.estate;
    let client = aws_sdk_servicediscovery::Client::new(&e.aws.sdk);
    client
        .create_private_dns_namespace()
        .name(NAMESPACE)
        .vpc(e.vpc.clone())
        .send()
        .await
        .expect("CreatePrivateDnsNamespace");
    let namespace_id = client
        .list_namespaces()
        .filters(
            NamespaceFilter::builder()
                .name(NamespaceFilterName::Name)
                .values(NAMESPACE)
                .build()
                .expect("namespace filter"),
        )
        .send()
        .await
        .expect("ListNamespaces")
        .namespaces()
        .first()
        .and_then(|n| n.id())
        .expect("the demo namespace")
        .to_string();

    // The hosts have been up for an hour (a script-registered instance on a host
    // launched less than STARTUP_GRACE_SECONDS ago would be in its grace period).
    // The hosts of `build`, in the order it made them (host 4 is `batch`'s).
    let (h1, h2, h3, h4, h5) = (0, 1, 2, 3, 4);
    let launched: Vec<Value> = [h1, h2, h4, h5]
        .iter()
        .map(|&h| json!({"instanceId": e.hosts[h].instance_id, "launchTime": super::ago(HOUR)}))
        .collect();
    e.aws
        .control(
            reqwest::Method::POST,
            "ec2/instances",
            json!({ "instances": launched }),
        )
        .await;

    // orders: ECS-registered tasks of cluster `web`.
    let orders = cloud_map_service(&client, &namespace_id, "orders", true, RecordType::Srv).await;
    let definition = e.register_definition("orders", &[], &[(80, 0)]).await;
    let live = e.start(h1, &definition, HOUR, Behaviour::Healthy).await;
    let stopped = e.start(h2, &definition, HOUR, Behaviour::Closed).await;
    e.commit().await;
    e.stop_task(&stopped).await;
    for (task, h) in [(&live, h1), (&stopped, h2)] {
        let id = task.arn.rsplit('/').next().expect("task id");
        let attributes = ecs_attributes("web", "orders", e.hosts[h].ip, task.host_port);
        register(&client, &orders, id, &attributes).await;
    }
    // A task of a deployment long gone: ECS no longer knows it.
    let orphan = "5e0d2c7a9b314f68a1c2d3e4f5a6b7c8";
    let attributes = ecs_attributes("web", "orders", e.hosts[h1].ip, 32799);
    register(&client, &orders, orphan, &attributes).await;

    // reports: registered by a script on the EC2 hosts, by instance id.
    let reports = cloud_map_service(&client, &namespace_id, "reports", false, RecordType::A).await;
    let host_attributes = |ip: std::net::Ipv4Addr, port: u16, instance: Option<&str>| {
        let mut a = vec![
            ("AWS_INSTANCE_IPV4", ip.to_string()),
            ("AWS_INSTANCE_PORT", port.to_string()),
        ];
        if let Some(i) = instance {
            a.push(("EC2_INSTANCE_ID", i.to_string()));
        }
        a
    };
    let h5_ip = e.hosts[h5].ip;
    e.listen(h5_ip, 9200, Behaviour::Healthy).await;
    let id = e.hosts[h5].instance_id.clone();
    register(
        &client,
        &reports,
        &id,
        &host_attributes(h5_ip, 9200, Some(&id)),
    )
    .await;
    let id = e.hosts[h3].instance_id.clone();
    let attributes = host_attributes(e.hosts[h3].ip, 9200, Some(&id));
    register(&client, &reports, &id, &attributes).await;
    let gone = std::net::Ipv4Addr::new(127, NET, 9, 7);
    register(
        &client,
        &reports,
        &format!("ip-127-{NET}-9-7"),
        &host_attributes(gone, 9200, None),
    )
    .await;

    // payments: the reaper is its health checker.
    let payments = cloud_map_service(&client, &namespace_id, "payments", true, RecordType::A).await;
    e.listen(h5_ip, 9300, Behaviour::Healthy).await;
    let id = e.hosts[h5].instance_id.clone();
    register(
        &client,
        &payments,
        &id,
        &host_attributes(h5_ip, 9300, Some(&id)),
    )
    .await;
    // Nothing listens on host 2's 9300 any more.
    let id = e.hosts[h2].instance_id.clone();
    let attributes = host_attributes(e.hosts[h2].ip, 9300, Some(&id));
    register(&client, &payments, &id, &attributes).await;

    // legacy-api: its last instance, on an address nobody has.
    let legacy =
        cloud_map_service(&client, &namespace_id, "legacy-api", false, RecordType::A).await;
    let gone = std::net::Ipv4Addr::new(127, NET, 9, 8);
    register(
        &client,
        &legacy,
        &format!("ip-127-{NET}-9-8"),
        &host_attributes(gone, 8080, None),
    )
    .await;

    // docs: a CNAME instance, foreign.
    let docs = cloud_map_service(&client, &namespace_id, "docs", false, RecordType::Cname).await;
    register(
        &client,
        &docs,
        "docs-site",
        &[("AWS_INSTANCE_CNAME", "docs.example.com".to_string())],
    )
    .await;

    CloudMapDemo { namespace_id }
}
