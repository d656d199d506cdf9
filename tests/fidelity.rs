//! The records the agents really write, and EC2 and ECS as they really behave: a
//! terminated instance without an address, VPCs that share a CIDR, a deployment
//! during a sweep. Each test is a way the reaper once got them wrong.

mod support;

use std::time::Duration;

use aws_sdk_route53::types::RrType;
use serde_json::{json, Value};
use support::Outcome::{Kept, Removed};
use support::{agent_record, ago, Behaviour, Estate, LocalAws};

const HOUR: Duration = Duration::from_secs(3600);
/// Every negative deletion goes through: these tests are about the decisions of
/// each record, not about the sweep-wide safety rules.
const PLAIN: &[(&str, &str)] = &[("MAX_DELETE_PERCENT", "100"), ("KEEP_LAST_RECORD", "false")];

fn present(zone: &[(String, String, Option<String>)], name: &str, id: &str) -> bool {
    zone.iter()
        .any(|(n, _, i)| n == name && i.as_deref() == Some(id))
}

/// Reference agent 1.4+ writes its host A records weighted, with the host name as
/// set identifier; a resource-named host's is named after its instance id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_host_a_records_of_gone_and_unknown_hosts_are_deleted() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let live = e.host(Some(&c), 1, 1).await;
    let leaving = e.host(Some(&c), 1, 2).await;
    let terminated = e.host(Some(&c), 1, 3).await;
    let named = e.host(Some(&c), 1, 4).await;
    e.host_a(live, Some(Kept("healthy")));
    e.host_a(leaving, Some(Removed("instance-gone")));
    // Terminated: EC2 reports no address any more, so no instance has it.
    e.host_a(terminated, Some(Removed("host-unknown")));
    let resource_name = e.resource_name(named);
    e.host_a_named(named, &resource_name, Some(Removed("instance-gone")));
    let ghost = e.unknown_host(7);
    let label = ghost.split('.').next().unwrap_or_default().to_string();
    let ghost_a = agent_record(
        &format!("{label}.sd.internal."),
        RrType::A,
        Some(&ghost),
        &format!("127.{}.9.7", e.net),
    );
    e.raw(ghost_a, Some(Removed("host-unknown")));
    e.commit().await;
    e.shutting_down(leaving).await;
    e.terminate(terminated).await;
    e.terminate(named).await;

    let report = e.sweep(PLAIN).await;
    assert_eq!(report["records"]["owned"], 5, "{report:#}");
    e.assert_outcome(&report, false).await;
}

/// The CNAME fork registers a container only for a static mapping, declared by
/// its host port: container port 80 → host port 8080, `SERVICE_8080_NAME=web`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cname_forks_records_are_checked_on_their_declared_host_port() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h1 = e.host(Some(&c), 1, 1).await;
    let h2 = e.host(Some(&c), 1, 2).await;
    let ok = e.fork_task(h1, "web", 8080, HOUR, Behaviour::Healthy).await;
    e.fork_cname("web", h1, &ok, Some(Kept("healthy")));
    let dead = e.fork_task(h2, "web", 8080, HOUR, Behaviour::Http500).await;
    e.fork_cname("web", h2, &dead, Some(Removed("unhealthy")));
    e.commit().await;

    let report = e.sweep(PLAIN).await;
    e.assert_outcome(&report, false).await;
    assert_eq!(
        report["deleted"][0]["target"],
        format!("{}:8080", e.hosts[h2].dns)
    );
}

/// `SERVICE_<p>_NAME` set by `ENV` in the image (or an environment file, or a
/// secret) is invisible to ECS; the record's container id still names a running
/// container, which backs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cname_whose_declaration_ecs_cannot_show_is_kept_while_its_container_runs() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h = e.host(Some(&c), 1, 1).await;
    let definition = e.register_definition("from-image", &[], &[(80, 0)]).await;
    let t = e.start(h, &definition, HOUR, Behaviour::Healthy).await;
    e.fork_cname("web", h, &t, Some(Kept("healthy")));
    // Its neighbour's container is gone: that one is still task-gone.
    e.raw(
        agent_record(
            "web.sd.internal.",
            RrType::Cname,
            Some("0123456789ab"),
            &e.hosts[h].dns,
        ),
        Some(Removed("task-gone")),
    );
    e.commit().await;

    let report = e.sweep(PLAIN).await;
    e.assert_outcome(&report, false).await;
}

/// Records the agents never write are foreign, whatever their set identifier looks
/// like: a weighted CNAME to a load balancer with a commit id as set identifier, a
/// SRV record on a name outside EC2. And names are never resolved: `localhost`
/// resolves, to an address no instance has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_that_do_not_point_at_ec2_hosts_are_foreign_and_never_resolved() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    e.cluster("web").await;
    let commit_id = "3f2a9c0d1e4b5a6978877665544332211001aabb";
    let lb = "internal-web-1234567890.us-east-1.elb.amazonaws.com";
    e.raw(
        agent_record("web.sd.internal.", RrType::Cname, Some(commit_id), lb),
        None,
    );
    e.srv_raw("calc", "localhost", 8080, Some("0123456789ab"), None);
    e.commit().await;
    let before = e.zone().await;

    let report = e.sweep(PLAIN).await;
    assert_eq!(report["records"]["owned"], 0, "{report:#}");
    assert_eq!(report["records"]["foreign"], 4, "SOA, NS and the two");
    assert_eq!(report["deleted"], json!([]));
    assert_eq!(e.zone().await, before);
}

/// Staging and production often share a CIDR: the same addresses and `ip-…`
/// names exist in both. Only the zone's VPC is evidence.
async fn twin_estates(aws: &LocalAws) -> (Estate<'_>, usize, usize) {
    let mut e = Estate::new(aws, "sd.internal").await;
    let prod = e.cluster("web").await;
    let staging = e.cluster("staging").await;
    // Staging's instances are created first, so EC2 lists them first.
    e.staging_host(Some(&staging), 1, 1).await;
    e.staging_host(Some(&staging), 1, 2).await;
    let stray = e.staging_host(None, 1, 9).await;
    let leaving = e.host(Some(&prod), 1, 1).await;
    let live = e.host(Some(&prod), 1, 2).await;
    let t = e.task(leaving, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", leaving, &t, Some(Removed("instance-gone")));
    e.host_a(leaving, Some(Removed("instance-gone")));
    let t = e.task(live, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", live, &t, Some(Kept("healthy")));
    e.host_a(live, Some(Kept("healthy")));
    // A prod record on an address only staging has.
    let stray_dns = e.hosts[stray].dns.clone();
    e.srv_raw(
        "calc",
        &stray_dns,
        8080,
        Some("0123456789ab"),
        Some(Removed("host-unknown")),
    );
    e.commit().await;
    e.shutting_down(leaving).await;
    (e, leaving, live)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_judges_records_by_the_zones_vpc_only() {
    let aws = LocalAws::start().await;
    let (e, _, _) = twin_estates(&aws).await;
    let report = e.sweep(PLAIN).await;
    e.assert_outcome(&report, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_event_is_not_blocked_by_another_vpcs_instance_on_the_same_address() {
    let aws = LocalAws::start().await;
    let (e, leaving, _) = twin_estates(&aws).await;
    let event = json!({"version": "0", "id": "1", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": "123456789012", "time": "2026-11-22T02:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"instance-id": e.hosts[leaving].instance_id, "state": "shutting-down"}});
    let report = e.invoke(&event, &[]).await;
    let reasons: Vec<&str> = report["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .filter_map(|d| d["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["instance-gone", "instance-gone"], "{report:#}");
    // The live prod host's staging twin stops: that says nothing about prod.
    let twin = json!({"version": "0", "id": "2", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": "123456789012", "time": "2026-11-22T02:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"instance-id": e.hosts[1].instance_id, "state": "stopped"}});
    e.set_state(1, "stopped").await;
    let report = e.invoke(&twin, &[]).await;
    assert_eq!(report["deleted"], json!([]), "{report:#}");
}

/// The agent writes a record once. A task that starts after the sweep read ECS,
/// whose record the agent wrote before the listing reached it, must not be
/// deleted for want of the task: the listing comes first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_written_for_a_task_started_mid_sweep_is_kept() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h = e.host(Some(&c), 1, 1).await;
    let t = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h, &t, Some(Kept("healthy")));
    e.commit().await;

    // A slow listing (a large zone), and a deployment: right after the sweep
    // lists the cluster's tasks, ECS starts one and its agent writes its record.
    aws.faults(json!([{"service": "route53", "operation": "ListResourceRecordSets", "delay_ms": 1500, "count": 1}]))
        .await;
    let armed = json!({"after": "ecs:ListTasks", "cluster": c, "taskDefinition": "calc",
        "containerInstance": e.hosts[h].container_instance_arn, "containerPort": 80,
        "zoneId": e.zone_id, "name": "calc.sd.internal."});
    aws.control(reqwest::Method::POST, "hooks/agent", armed)
        .await;

    let report = e.sweep(PLAIN).await;
    let hooks = aws
        .control(reqwest::Method::GET, "hooks", Value::Null)
        .await;
    let written = hooks["fired"][0]["record"]["SetIdentifier"]
        .as_str()
        .unwrap_or_else(|| panic!("the agent hook did not fire: {hooks:#}"))
        .to_string();
    e.assert_outcome(&report, false).await;
    assert!(
        present(&e.zone().await, "calc.sd.internal.", &written),
        "the new task's record was deleted: {report:#}"
    );
    // The next sweep sees the task and its record together: a task in its grace.
    let report = e.sweep(PLAIN).await;
    assert_eq!(report["kept"]["grace"], 1, "{report:#}");
    assert!(present(&e.zone().await, "calc.sd.internal.", &written));
}

/// One EC2 instance registered twice (a re-registered agent, a move between
/// clusters): a running task under either registration backs its records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_registration_without_tasks_does_not_condemn_a_live_host() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h = e.host(Some(&c), 1, 1).await;
    let t = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h, &t, Some(Kept("healthy")));
    e.cname("calc", h, &t, Some(Kept("healthy")));
    e.commit().await;
    let moved = e.cluster("web-next").await;
    e.register_again(h, &moved).await;

    let report = e.sweep(PLAIN).await;
    e.assert_outcome(&report, false).await;
}

/// A task on the host that is still starting protects records nothing backs yet,
/// but a task stuck in PENDING must not protect stale records forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_task_protects_its_hosts_records_for_ten_grace_periods_only() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let stuck_host = e.host(Some(&c), 1, 1).await;
    let starting_host = e.host(Some(&c), 1, 2).await;
    let stuck = e.task(stuck_host, "calc", HOUR, Behaviour::Closed).await;
    let starting = e.task(starting_host, "calc", HOUR, Behaviour::Closed).await;
    for (h, expect) in [
        (stuck_host, Removed("task-gone")),
        (starting_host, Kept("grace")),
    ] {
        let dns = e.hosts[h].dns.clone();
        e.srv_raw("calc", &dns, 40000, Some("0123456789ab"), Some(expect));
    }
    e.commit().await;
    // Grace 60 s: PENDING for 11 minutes, and for 5.
    let pending = |task: &support::StartedTask, created: Duration| {
        json!({"cluster": task.cluster, "taskArn": task.arn, "lastStatus": "PENDING",
               "startedAt": null, "createdAt": ago(created)})
    };
    let tasks = json!({"tasks": [pending(&stuck, Duration::from_secs(660)), pending(&starting, Duration::from_secs(300))]});
    aws.control(reqwest::Method::POST, "ecs/tasks", tasks).await;

    let mut env = PLAIN.to_vec();
    env.push(("STARTUP_GRACE_SECONDS", "60"));
    let report = e.sweep(&env).await;
    e.assert_outcome(&report, false).await;
}

/// `STOP_UNHEALTHY_TASKS` stops a task only when every endpoint of it that was
/// checked failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_with_one_answering_endpoint_keeps_running() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h = e.host(Some(&c), 1, 1).await;
    // Port 80's endpoint answers, port 81's (the -www CNAME) is closed.
    let half = e.task(h, "calc", HOUR, Behaviour::Closed).await;
    let ip = e.hosts[h].ip;
    e.listen(ip, half.host_port, Behaviour::Healthy).await;
    e.srv("calc", h, &half, Some(Kept("healthy")));
    e.cname("calc", h, &half, Some(Removed("unhealthy")));
    let dead = e.task(h, "calc", HOUR, Behaviour::Http500).await;
    e.srv("calc", h, &dead, Some(Removed("unhealthy")));
    e.cname("calc", h, &dead, Some(Removed("unhealthy")));
    e.commit().await;

    let mut env = PLAIN.to_vec();
    env.push(("STOP_UNHEALTHY_TASKS", "true"));
    let report = e.sweep(&env).await;
    e.assert_outcome(&report, false).await;
    assert_eq!(report["stopped_tasks"], json!([dead.arn]), "{report:#}");
    let described = aws
        .ecs()
        .describe_tasks()
        .cluster(&c)
        .tasks(&half.arn)
        .tasks(&dead.arn)
        .send()
        .await
        .expect("DescribeTasks");
    for task in described.tasks() {
        let expected = if task.task_arn() == Some(dead.arn.as_str()) {
            "STOPPED"
        } else {
            "RUNNING"
        };
        assert_eq!(task.desired_status(), Some(expected));
    }
}

/// The agent's `-hostname` option may point its records at the zone's own host A
/// name (`ip-a-b-c-d.<ns>`): the task-stopped event matches hosts as hosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_tasks_records_are_found_whatever_form_the_host_name_takes() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h = e.host(Some(&c), 1, 1).await;
    let t = e.task(h, "calc", HOUR, Behaviour::Closed).await;
    let label = e.hosts[h]
        .dns
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string();
    let alias = format!("{label}.sd.internal");
    e.srv_raw(
        "calc",
        &alias,
        t.host_port,
        None,
        Some(Removed("task-stopped")),
    );
    let upper = format!("{}.", e.hosts[h].dns.to_uppercase());
    e.srv_raw(
        "calc-www",
        &upper,
        t.www_port.unwrap_or_default(),
        None,
        Some(Removed("task-stopped")),
    );
    e.commit().await;
    e.stop_task(&t).await;

    let event = json!({"version": "0", "id": "1", "detail-type": "ECS Task State Change", "source": "aws.ecs",
        "account": "123456789012", "time": "2026-11-22T02:00:00Z", "region": "us-east-1", "resources": [t.arn],
        "detail": {"taskArn": t.arn, "clusterArn": format!("arn:aws:ecs:us-east-1:123456789012:cluster/{c}"),
            "containerInstanceArn": t.container_instance_arn, "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
            "containers": [{"name": "app", "networkBindings": [
                {"containerPort": 80, "hostPort": t.host_port}, {"containerPort": 81, "hostPort": t.www_port}]}]}});
    let report = e.invoke(&event, &[]).await;
    e.assert_outcome(&report, false).await;
}

/// `DNS_NAMESPACE` must name exactly one private zone, and the error says which
/// variable is wrong; so does a health-check path that could never be used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_name_the_variable() {
    let aws = LocalAws::start().await;
    let e = Estate::new(&aws, "sd.internal").await;
    let twin = Estate::new(&aws, "sd.internal").await;
    let mut env = aws.env();
    env.push(("DNS_NAMESPACE", "sd.internal".into()));
    let (code, _, stderr) = support::run_binary(&["sweep", "--dry-run"], &env, None);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("DNS_NAMESPACE")
            && stderr.contains(&e.zone_id)
            && stderr.contains(&twin.zone_id),
        "{stderr}"
    );
    env.pop();
    env.push(("DNS_NAMESPACE", "nowhere.internal".into()));
    let (code, _, stderr) = support::run_binary(&["sweep", "--dry-run"], &env, None);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("DNS_NAMESPACE=nowhere.internal"),
        "{stderr}"
    );

    env.pop();
    env.push(("HOSTED_ZONE_ID", e.zone_id.clone()));
    env.push(("HEALTH_CHECK_PATH", "/x#y".into()));
    let (code, _, stderr) = support::run_binary(&["sweep", "--dry-run"], &env, None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("HEALTH_CHECK_PATH"), "{stderr}");

    // An ignored event's report shows the configured guard limit.
    env.pop();
    env.push(("MAX_DELETE_PERCENT", "30".into()));
    let running = json!({"version": "0", "id": "1", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": "123456789012", "time": "2026-11-22T02:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"instance-id": "i-0123456789abcdef0", "state": "running"}});
    let (code, stdout, stderr) = support::run_binary(
        &["invoke", "--event", "-"],
        &env,
        Some(&running.to_string()),
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("report");
    assert_eq!(report["guard"]["limit_percent"], 30, "{report:#}");
}
