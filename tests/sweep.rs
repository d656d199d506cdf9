//! End-to-end sweeps against the local AWS (moto + tests/localaws), with real
//! listeners on loopback addresses behind the records.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_route53::types::RrType;
use ecs_dns_reaper::handler::{handle, Invocation};
use serde_json::{json, Value};
use support::Outcome::{Held, Kept, Removed, Vanished};
use support::{record, Behaviour, Estate, LocalAws};

const HOUR: Duration = Duration::from_secs(3600);

fn reasons(report: &Value, list: &str) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for r in report[list].as_array().expect(list) {
        *out.entry(r["reason"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    out
}

/// Three clusters, 190 tasks (120 in one cluster), 336 owned records with several
/// weighted records per name, foreign records, and every rule of the decision table at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_estate_loses_exactly_its_stale_records() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let services = ["calc", "shop", "auth", "feed", "search"];

    // web: 8 hosts × 15 tasks. Every 20th task from the 3rd answers 500, from the
    // 7th hangs, from the 11th is closed; from the 15th is 5 s old (grace).
    let web = e.cluster("web").await;
    for h in 0..8u8 {
        let host = e.host(Some(&web), 1, h + 1).await;
        e.host_a(host, Some(Kept("healthy")));
        for i in 0..15usize {
            let k = usize::from(h) * 15 + i;
            let service = services[k % services.len()];
            let (behaviour, age, expect) = match k % 20 {
                3 => (Behaviour::Http500, HOUR, Removed("unhealthy")),
                7 => (Behaviour::Hang, HOUR, Removed("unhealthy")),
                11 => (Behaviour::Closed, HOUR, Removed("unhealthy")),
                15 => (Behaviour::Closed, Duration::from_secs(5), Kept("grace")),
                _ => (Behaviour::Healthy, HOUR, Kept("healthy")),
            };
            let task = e.task(host, service, age, behaviour).await;
            e.srv(service, host, &task, Some(expect));
            e.cname(service, host, &task, Some(expect));
        }
    }

    // api: 4 hosts × 10 tasks; host 0 is shutting down (EC2 still reports its
    // address) while its listeners still answer, host 1 is stopped.
    let api = e.cluster("api").await;
    let mut api_hosts = Vec::new();
    for h in 0..4u8 {
        let host = e.host(Some(&api), 2, h + 1).await;
        api_hosts.push(host);
        let gone = h < 2;
        e.host_a(
            host,
            Some(if gone {
                Removed("instance-gone")
            } else {
                Kept("healthy")
            }),
        );
        for _ in 0..10 {
            let task = e.task(host, "api", HOUR, Behaviour::Healthy).await;
            e.srv(
                "api",
                host,
                &task,
                Some(if gone {
                    Removed("instance-gone")
                } else {
                    Kept("healthy")
                }),
            );
        }
    }

    // jobs: 3 hosts × 10 tasks, 5 of them stopped since their records were written.
    let jobs = e.cluster("jobs").await;
    for h in 0..3u8 {
        let host = e.host(Some(&jobs), 3, h + 1).await;
        e.host_a(host, Some(Kept("healthy")));
        for i in 0..10 {
            let task = e.task(host, "batch", HOUR, Behaviour::Healthy).await;
            let stopped = h == 0 && i < 5;
            e.srv(
                "batch",
                host,
                &task,
                Some(if stopped {
                    Removed("task-gone")
                } else {
                    Kept("healthy")
                }),
            );
            if stopped {
                e.stop_task(&task).await;
            }
        }
    }

    // A running instance in no swept cluster, and five records on hosts that do
    // not exist, all under one name: the last of them is held.
    let outside = e.host(None, 4, 1).await;
    e.host_a(outside, Some(Kept("healthy")));
    let outside_dns = e.hosts[outside].dns.clone();
    for port in 0..5 {
        e.srv_raw(
            "metrics",
            &outside_dns,
            9100 + port,
            Some(&format!("{port:012x}")),
            Some(Kept("out-of-scope")),
        );
    }
    let net = e.net;
    for x in 1..=5u8 {
        let dns = e.unknown_host(x);
        let expect = if x == 1 {
            Held("last-record", None)
        } else {
            Removed("host-unknown")
        };
        e.srv_raw("legacy", &dns, 8080, None, Some(expect));
    }

    // Foreign records: never touched.
    e.raw(
        record(
            "sd.internal.",
            RrType::Txt,
            None,
            None,
            &["\"owner=platform\""],
        ),
        None,
    );
    e.raw(
        record(
            "mail.sd.internal.",
            RrType::Mx,
            None,
            None,
            &["10 mx.example.com."],
        ),
        None,
    );
    e.raw(
        record("db.sd.internal.", RrType::A, None, None, &["127.0.0.1"]),
        None,
    );
    e.raw(
        record(
            "calc.sd.internal.",
            RrType::Srv,
            Some("ip-127-0-9-9.ec2.internal:zz"),
            Some(1),
            &["1 1 80 ip-127-0-9-9.ec2.internal"],
        ),
        None,
    );
    e.raw(
        record(
            "calc.sd.internal.",
            RrType::Txt,
            Some("note"),
            Some(1),
            &["\"weighted note\""],
        ),
        None,
    );
    e.commit().await;

    e.shutting_down(api_hosts[0]).await;
    e.stop(api_hosts[1]).await;

    let before = e.zone().await;
    let started = Instant::now();
    let report = e.sweep(&[]).await;
    let wall = started.elapsed();
    eprintln!(
        "large estate sweep: {} record sets, wall time {wall:?}",
        before.len()
    );

    assert_eq!(report["trigger"], "manual");
    assert_eq!(report["complete"], true);
    assert_eq!(report["errors"], json!([]), "{report:#}");
    assert_eq!(report["records"]["owned"], 336);
    assert_eq!(report["records"]["scanned"], before.len());
    assert_eq!(report["records"]["foreign"], before.len() - 336);
    assert_eq!(report["guard"]["tripped"], false);
    assert_eq!(report["guard"]["negative"], 18 * 2 + 5 + 5);
    let deleted = reasons(&report, "deleted");
    assert_eq!(deleted.get("unhealthy"), Some(&36));
    assert_eq!(deleted.get("instance-gone"), Some(&(20 + 2)));
    assert_eq!(deleted.get("task-gone"), Some(&5));
    assert_eq!(deleted.get("host-unknown"), Some(&4));
    e.assert_outcome(&report, false).await;
    let unhealthy = report["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"] == "unhealthy")
        .unwrap();
    assert!(
        unhealthy["target"]
            .as_str()
            .unwrap()
            .starts_with(&format!("ip-127-{net}-1-")),
        "{unhealthy}"
    );

    // Every foreign record set is still there.
    let after = e.zone().await;
    for foreign in ["mail.sd.internal.", "db.sd.internal."] {
        assert!(after.iter().any(|(n, _, _)| n == foreign), "{foreign} gone");
    }
    assert_eq!(
        after
            .iter()
            .filter(|(n, t, _)| n == "sd.internal." && t == "TXT")
            .count(),
        1
    );
    assert_eq!(
        after
            .iter()
            .filter(|(_, t, _)| t == "SOA" || t == "NS")
            .count(),
        2
    );

    // A second sweep finds nothing more to delete.
    let again = e.sweep(&[]).await;
    assert_eq!(again["deleted"], json!([]), "{again:#}");
    assert_eq!(again["held"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_holds_negative_deletions_and_lets_positive_ones_through() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let host = e.host(Some(&c), 1, 1).await;
    let gone = e.host(Some(&c), 1, 2).await;
    for _ in 0..3 {
        let t = e.task(host, "calc", HOUR, Behaviour::Healthy).await;
        e.srv("calc", host, &t, Some(Kept("healthy")));
    }
    let t = e.task(gone, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", gone, &t, Some(Removed("instance-gone")));
    for x in 1..=6u8 {
        e.srv_raw(
            "calc",
            &e.unknown_host(x),
            80,
            None,
            Some(Held("guard", None)),
        );
    }
    e.commit().await;
    e.shutting_down(gone).await;

    let report = e.sweep(&[("MAX_DELETE_PERCENT", "50")]).await;
    assert_eq!(
        report["guard"],
        json!({"tripped": true, "limit_percent": 50, "negative": 6, "owned": 10})
    );
    e.assert_outcome(&report, false).await;
    for h in report["held"].as_array().unwrap() {
        assert_eq!(h["decided"], "host-unknown");
        // Held by the guard: the evidence is that of the host-unknown decided.
        let host = h["target"].as_str().unwrap().trim_end_matches(":80");
        let evidence = h["evidence"].as_str().unwrap();
        assert!(
            evidence.starts_with("no EC2 instance of vpc-") && evidence.contains(host),
            "{h}"
        );
    }
    // Tied through ECS: the task's container on the container instance of the
    // instance shutting down.
    let deleted = &report["deleted"][0];
    let evidence = deleted["evidence"].as_str().unwrap();
    let gone_id = &e.hosts[gone].instance_id;
    assert!(evidence.starts_with("container "), "{deleted}");
    assert!(
        evidence.ends_with(&format!("of EC2 {gone_id} shutting-down")),
        "{deleted}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_and_changes_nothing() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let host = e.host(Some(&c), 1, 1).await;
    let ok = e.task(host, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", host, &ok, Some(Kept("healthy")));
    let bad = e.task(host, "calc", HOUR, Behaviour::Http500).await;
    e.srv("calc", host, &bad, Some(Removed("unhealthy")));
    e.srv_raw(
        "calc",
        &e.unknown_host(1),
        80,
        None,
        Some(Removed("host-unknown")),
    );
    e.commit().await;
    let before = e.zone().await;

    let report = e
        .sweep(&[("DRY_RUN", "true"), ("MAX_DELETE_PERCENT", "100")])
        .await;
    assert_eq!(report["dry_run"], true);
    e.assert_outcome(&report, true).await;
    assert_eq!(e.zone().await, before, "a dry run changed the zone");

    // The manual event's dry_run overrides DRY_RUN=false.
    let deps = e.deps(&[("MAX_DELETE_PERCENT", "100")]);
    let report = handle(
        &deps,
        &json!({"action": "sweep", "dry_run": true}),
        Invocation::default(),
    )
    .await
    .unwrap();
    assert!(report.dry_run);
    assert_eq!(report.deleted.len(), 2);
    assert_eq!(e.zone().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_changed_mid_sweep_is_held_and_the_rest_of_its_batch_is_deleted() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let gone = e.host(Some(&c), 1, 1).await;
    let live = e.host(Some(&c), 1, 2).await;
    let keep = e.task(live, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", live, &keep, Some(Kept("healthy")));
    let gone_dns = e.hosts[gone].dns.clone();
    // 400 records of a host shutting down: one batch of 400 DELETEs.
    for i in 0..400u16 {
        let expect = match i {
            17 => Held("write-conflict", None),
            250 => Vanished,
            _ => Removed("instance-gone"),
        };
        e.srv_raw(
            "calc",
            &gone_dns,
            30000 + i,
            Some(&format!("{i:012x}")),
            Some(expect),
        );
    }
    e.commit().await;
    e.shutting_down(gone).await;

    // Between listing and deleting, another writer changes record 17's TTL and
    // deletes record 250.
    let changed = |i: u16, ttl: i64| {
        json!({"Name": "calc.sd.internal.", "Type": "SRV", "TTL": ttl, "SetIdentifier": format!("{gone_dns}:{i:012x}"),
               "Weight": 1, "ResourceRecords": [{"Value": format!("1 1 {} {gone_dns}", 30000 + i)}]})
    };
    aws.control(
        reqwest::Method::POST,
        "hooks/before-change",
        json!({"zoneId": e.zone_id, "changes": [
            {"action": "UPSERT", "record": changed(17, 300)},
            {"action": "DELETE", "record": changed(250, 60)},
        ]}),
    )
    .await;

    let report = e.sweep(&[]).await;
    e.assert_outcome(&report, false).await;
    assert_eq!(
        report["deleted"].as_array().unwrap().len(),
        398,
        "record 250 vanished: not reported"
    );
    let held = &report["held"].as_array().unwrap()[0];
    assert_eq!(held["decided"], "instance-gone");
    // A write conflict holds the deletion; the evidence is the decided one's.
    let shutting = format!("EC2 {} shutting-down", e.hosts[gone].instance_id);
    assert_eq!(held["evidence"], shutting.as_str());
    assert!(report["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["evidence"] == shutting.as_str()));
    assert_eq!(report["errors"], json!([]));
    let zone = e.zone().await;
    assert!(
        zone.iter()
            .any(|(_, _, i)| i.as_deref() == Some(&format!("{gone_dns}:{:012x}", 17))),
        "the changed record stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_missing_cluster_read_holds_negative_deletions() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let web = e.cluster("web").await;
    let jobs = e.cluster("jobs").await;
    let w = e.host(Some(&web), 1, 1).await;
    let j = e.host(Some(&jobs), 1, 2).await;
    let gone = e.host(Some(&web), 1, 3).await;
    let t = e.task(w, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", w, &t, Some(Kept("healthy")));
    let stopped = e.task(w, "calc", HOUR, Behaviour::Healthy).await;
    e.srv(
        "calc",
        w,
        &stopped,
        Some(Held("inventory-incomplete", None)),
    );
    // The jobs host's tasks are unknown while its cluster cannot be read.
    let jt = e.task(j, "batch", HOUR, Behaviour::Healthy).await;
    e.srv("batch", j, &jt, Some(Held("inventory-incomplete", None)));
    let gt = e.task(gone, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", gone, &gt, Some(Removed("instance-gone")));
    e.commit().await;
    e.stop_task(&stopped).await;
    e.shutting_down(gone).await;

    aws.faults(json!([{"service": "ecs", "operation": "ListTasks", "status": 500, "code": "ServerException", "count": -1,
                            "match": {"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/jobs"}}])).await;
    let report = e.sweep(&[]).await;
    e.assert_outcome(&report, false).await;
    let errors = report["errors"].to_string();
    assert!(
        errors.contains(
            "ecs:ListTasks cluster=arn:aws:ecs:us-east-1:123456789012:cluster/jobs failed"
        ),
        "{errors}"
    );
    assert_eq!(report["held"][0]["decided"], "task-gone");

    // A cluster named in ECS_CLUSTERS that does not exist: same protection.
    aws.control(reqwest::Method::DELETE, "faults", Value::Null)
        .await;
    let report = e.sweep(&[("ECS_CLUSTERS", "web,nosuch")]).await;
    assert_eq!(report["held"][0]["reason"], "inventory-incomplete");
    assert!(
        report["errors"].to_string().contains("cluster=nosuch"),
        "{}",
        report["errors"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_to_the_same_result() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let host = e.host(Some(&c), 1, 1).await;
    for _ in 0..2 {
        let t = e.task(host, "calc", HOUR, Behaviour::Healthy).await;
        e.srv("calc", host, &t, Some(Kept("healthy")));
    }
    let bad = e.task(host, "calc", HOUR, Behaviour::Http500).await;
    e.srv("calc", host, &bad, Some(Removed("unhealthy")));
    e.commit().await;
    aws.faults(json!([
        {"service": "route53", "operation": "ListResourceRecordSets", "status": 400, "code": "Throttling", "count": 2},
        {"service": "route53", "operation": "ChangeResourceRecordSets", "status": 400, "code": "PriorRequestNotComplete", "count": 1},
        {"service": "ecs", "operation": "DescribeTasks", "status": 400, "code": "ThrottlingException", "count": 2},
        {"service": "ec2", "operation": "DescribeInstances", "status": 503, "code": "RequestLimitExceeded", "count": 2},
    ]))
    .await;
    let report = e.sweep(&[]).await;
    assert_eq!(report["errors"], json!([]), "{report:#}");
    e.assert_outcome(&report, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_tasks_are_stopped_when_asked() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let host = e.host(Some(&c), 1, 1).await;
    let ok = e.task(host, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", host, &ok, Some(Kept("healthy")));
    let bad = e.task(host, "calc", HOUR, Behaviour::Hang).await;
    e.srv("calc", host, &bad, Some(Removed("unhealthy")));
    e.cname("calc", host, &bad, Some(Removed("unhealthy")));
    e.commit().await;

    let report = e
        .sweep(&[
            ("STOP_UNHEALTHY_TASKS", "true"),
            ("KEEP_LAST_RECORD", "false"),
            ("MAX_DELETE_PERCENT", "100"),
        ])
        .await;
    e.assert_outcome(&report, false).await;
    assert_eq!(
        report["stopped_tasks"],
        json!([bad.arn]),
        "stopped once although two records named it"
    );
    let described = aws
        .ecs()
        .describe_tasks()
        .cluster(&c)
        .tasks(&bad.arn)
        .send()
        .await
        .unwrap();
    let task = &described.tasks()[0];
    assert_eq!(task.last_status(), Some("STOPPED"));
    assert_eq!(
        task.stopped_reason(),
        Some("ecs-dns-reaper: health check failed")
    );
    let kept = aws
        .ecs()
        .describe_tasks()
        .cluster(&c)
        .tasks(&ok.arn)
        .send()
        .await
        .unwrap();
    assert_eq!(kept.tasks()[0].last_status(), Some("RUNNING"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_zone_is_found_by_name_and_an_unknown_one_is_an_error() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let host = e.host(Some(&c), 1, 1).await;
    let t = e.task(host, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", host, &t, Some(Kept("healthy")));
    e.commit().await;
    // A public zone of the same name does not count.
    aws.route53()
        .create_hosted_zone()
        .name("sd.internal")
        .caller_reference("public")
        .send()
        .await
        .unwrap();

    let report = e
        .sweep(&[("HOSTED_ZONE_ID", ""), ("DNS_NAMESPACE", "sd.internal")])
        .await;
    assert_eq!(report["hosted_zone_id"], e.zone_id.as_str());
    assert_eq!(report["records"]["owned"], 1);

    for env in [
        [("HOSTED_ZONE_ID", ""), ("DNS_NAMESPACE", "other.internal")],
        [("HOSTED_ZONE_ID", "ZNOSUCHZONE1"), ("DNS_NAMESPACE", "")],
    ] {
        let deps = e.deps(&env);
        let err = handle(&deps, &json!({"action": "sweep"}), Invocation::default())
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("other.internal") || message.contains("NoSuchHostedZone"),
            "{message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_prints_the_report_and_exits_with_the_right_status() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let host = e.host(Some(&c), 1, 1).await;
    let t = e.task(host, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", host, &t, Some(Kept("healthy")));
    e.srv_raw(
        "calc",
        &e.unknown_host(1),
        80,
        None,
        Some(Removed("host-unknown")),
    );
    e.commit().await;

    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", e.zone_id.clone()));
    env.push(("HEALTH_CHECK_TIMEOUT_MS", "300".into()));

    let (code, stdout, stderr) = support::run_binary(&["sweep", "--dry-run"], &env, None);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("stdout is the JSON report");
    assert_eq!(report["trigger"], "manual");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["deleted"][0]["reason"], "host-unknown");

    let scheduled = json!({"version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-22T02:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    let (code, stdout, stderr) = support::run_binary(
        &["invoke", "--event", "-"],
        &env,
        Some(&scheduled.to_string()),
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["trigger"], "schedule");
    e.assert_outcome(&report, false).await;

    let unsupported = json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}});
    let (code, stdout, stderr) = support::run_binary(
        &["invoke", "--event", "-"],
        &env,
        Some(&unsupported.to_string()),
    );
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(
        stderr.contains("unsupported event: source=aws.s3, detail-type=Object Created"),
        "{stderr}"
    );

    let (code, _, stderr) =
        support::run_binary(&["invoke", "--event", "/nonexistent.json"], &env, None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("/nonexistent.json"), "{stderr}");

    let mut bad = env.clone();
    bad.push(("HEALTH_CHECK_ATTEMPTS", "0".into()));
    let (code, _, stderr) = support::run_binary(&["sweep"], &bad, None);
    assert_eq!(code, 2);
    assert!(stderr.contains("HEALTH_CHECK_ATTEMPTS"), "{stderr}");

    let mut unknown = aws.env();
    unknown.push(("HOSTED_ZONE_ID", "ZNOSUCHZONE1".into()));
    let (code, stdout, stderr) = support::run_binary(&["sweep"], &unknown, None);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.contains("NoSuchHostedZone"), "{stderr}");

    let (code, _, stderr) = support::run_binary(&[], &env, None);
    assert_eq!(code, 2);
    assert!(stderr.contains("AWS_LAMBDA_RUNTIME_API"), "{stderr}");
    let (code, _, _) = support::run_binary(&["frobnicate"], &env, None);
    assert_eq!(code, 2);

    // Nothing above changed the zone except the one non-dry-run invoke.
    assert_eq!(e.zone().await.len(), 2 + 1);
}
