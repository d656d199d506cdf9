//! Faults injected at the local AWS endpoint, and hostile input: the function keeps
//! working, deletes nothing it should not, and says what happened. Each case is a
//! row of RELIABILITY.md.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_route53::types::RrType;
use serde_json::{json, Value};
use support::Outcome::{Held, Kept, Removed, Vanished};
use support::{invoke_with, record, Behaviour, Estate, LocalAws};

const HOUR: Duration = Duration::from_secs(3600);

/// Every AWS operation a sweep reads through.
const READS: [(&str, &str); 7] = [
    ("route53", "ListResourceRecordSets"),
    ("ecs", "ListClusters"),
    ("ecs", "ListContainerInstances"),
    ("ecs", "DescribeContainerInstances"),
    ("ecs", "ListTasks"),
    ("ecs", "DescribeTasks"),
    ("ec2", "DescribeInstances"),
];

/// Settings that keep the guard and last-record protection out of the way, so
/// every decision shows in `deleted`.
const ENV: [(&str, &str); 2] = [("MAX_DELETE_PERCENT", "100"), ("KEEP_LAST_RECORD", "false")];

/// An estate with one record of each kind of decision: healthy ×3, unhealthy,
/// task-gone, host-unknown (negative) and instance-gone (positive).
async fn estate(aws: &LocalAws) -> Estate<'_> {
    let mut e = Estate::new(aws, "sd.internal").await;
    let web = e.cluster("web").await;
    let jobs = e.cluster("jobs").await;
    let h1 = e.host(Some(&web), 1, 1).await;
    let h2 = e.host(Some(&jobs), 1, 2).await;
    let gone = e.host(Some(&web), 1, 3).await;
    for h in [h1, h2] {
        let t = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
        e.srv("calc", h, &t, Some(Kept("healthy")));
    }
    let t = e.task(h1, "calc", HOUR, Behaviour::Healthy).await;
    e.cname("calc", h1, &t, Some(Kept("healthy")));
    let t = e.task(h1, "calc", HOUR, Behaviour::Http500).await;
    e.srv("calc", h1, &t, Some(Removed("unhealthy")));
    let stopped = e.task(h2, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h2, &stopped, Some(Removed("task-gone")));
    let t = e.task(gone, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", gone, &t, Some(Removed("instance-gone")));
    e.srv_raw(
        "calc",
        &e.unknown_host(9),
        80,
        None,
        Some(Removed("host-unknown")),
    );
    e.commit().await;
    e.stop_task(&stopped).await;
    e.shutting_down(gone).await;
    e
}

/// What a report decided, independent of timing: (set identifier → outcome: reason).
fn decisions(report: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (list, label) in [("deleted", "deleted"), ("held", "held")] {
        for r in report[list].as_array().expect(list) {
            out.insert(
                r["set_identifier"].as_str().unwrap_or_default().to_string(),
                format!("{label}: {}", r["reason"].as_str().unwrap_or_default()),
            );
        }
    }
    out.insert("kept".into(), report["kept"].to_string());
    out
}

fn fault(service: &str, operation: &str, count: i64, kind: &str) -> Value {
    match kind {
        "reset" => {
            json!({"service": service, "operation": operation, "reset": true, "count": count})
        }
        _ => json!({"service": service, "operation": operation, "status": 500,
                    "code": if service == "ec2" { "InternalError" } else if service == "ecs" { "ServerException" } else { "InternalFailure" },
                    "count": count}),
    }
}

async fn clear_faults(aws: &LocalAws) {
    aws.control(reqwest::Method::DELETE, "faults", Value::Null)
        .await;
}

/// HTTP 500 and dropped connections, once, from every API the sweep reads: the
/// SDK retries and the sweep decides exactly as without the fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_once_from_any_api_is_retried_to_the_same_result() {
    let aws = LocalAws::start().await;
    let e = estate(&aws).await;
    let baseline = e.dry_run(&ENV).await;
    assert_eq!(baseline["errors"], json!([]));
    assert_eq!(
        baseline["deleted"].as_array().map(Vec::len),
        Some(4),
        "{baseline:#}"
    );
    let expected = decisions(&baseline);
    let mut injected = 0;
    for (service, operation) in READS.iter().chain(&[("ecs", "DescribeTaskDefinition")]) {
        for kind in ["http500", "reset"] {
            aws.faults(json!([fault(service, operation, 1, kind)]))
                .await;
            let report = e.dry_run(&ENV).await;
            assert_eq!(
                report["errors"],
                json!([]),
                "{service}:{operation} {kind}: {report:#}"
            );
            assert_eq!(decisions(&report), expected, "{service}:{operation} {kind}");
            injected += 1;
            clear_faults(&aws).await;
        }
    }
    eprintln!("faults injected once: {injected}");
}

/// The same faults, persistently: no negative-evidence deletion, positive ones
/// still go, and `errors` names the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_fault_from_any_read_holds_negative_deletions_and_names_the_call() {
    let aws = LocalAws::start().await;
    let e = estate(&aws).await;
    let before = e.zone().await;
    for (service, operation) in READS {
        for kind in ["http500", "reset"] {
            aws.faults(json!([fault(service, operation, -1, kind)]))
                .await;
            let report = e.dry_run(&ENV).await;
            clear_faults(&aws).await;
            let errors = report["errors"].to_string();
            assert!(
                errors.contains(&format!("{service}:{operation}")),
                "{service}:{operation} {kind}: {errors}"
            );
            let deleted: Vec<&str> = report["deleted"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d["reason"].as_str())
                .collect();
            assert!(
                deleted.iter().all(|r| *r == "instance-gone"),
                "{service}:{operation} {kind}: only positive evidence may be acted on, got {deleted:?}"
            );
            for held in report["held"].as_array().unwrap() {
                assert_eq!(
                    held["reason"], "inventory-incomplete",
                    "{service}:{operation} {kind}"
                );
            }
            if operation == "ListResourceRecordSets" {
                assert_eq!(report["records"]["scanned"], 0);
            } else if service != "ec2" {
                // EC2 still answers: the host shutting down's record goes on positive evidence.
                assert_eq!(
                    deleted,
                    vec!["instance-gone"],
                    "{service}:{operation} {kind}"
                );
            }
        }
    }
    assert_eq!(e.zone().await, before, "a dry run changed the zone");
}

/// Writes that keep failing change nothing and say so; writes that fail once are retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_writes_are_retried_or_reported_never_half_done() {
    let aws = LocalAws::start().await;
    let e = estate(&aws).await;
    let before = e.zone().await;
    aws.faults(json!([fault(
        "route53",
        "ChangeResourceRecordSets",
        -1,
        "http500"
    )]))
    .await;
    let deps = e.deps(&ENV);
    let report = invoke_with(&deps, &json!({"action": "sweep"})).await;
    assert_eq!(report["deleted"], json!([]), "{report:#}");
    assert!(
        report["errors"]
            .to_string()
            .contains("route53:ChangeResourceRecordSets"),
        "{report:#}"
    );
    assert_eq!(e.zone().await, before);

    clear_faults(&aws).await;
    aws.faults(json!([fault(
        "route53",
        "ChangeResourceRecordSets",
        1,
        "reset"
    )]))
    .await;
    let report = invoke_with(&deps, &json!({"action": "sweep"})).await;
    assert_eq!(report["errors"], json!([]), "{report:#}");
    e.assert_outcome(&report, false).await;
}

/// Within a batch of 300 deletions, three records change under the sweep: one
/// changed, one deleted, one deleted and re-created with another value. Only the
/// changed ones are held; the vanished one is not reported; the rest go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_records_changed_mid_batch_are_held() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let gone = e.host(Some(&c), 1, 1).await;
    let live = e.host(Some(&c), 1, 2).await;
    let t = e.task(live, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", live, &t, Some(Kept("healthy")));
    let dns = e.hosts[gone].dns.clone();
    for i in 0..300u16 {
        let expect = match i {
            10 | 290 => Held("write-conflict", None),
            150 => Vanished,
            _ => Removed("instance-gone"),
        };
        e.srv_raw(
            "calc",
            &dns,
            20000 + i,
            Some(&format!("{i:012x}")),
            Some(expect),
        );
    }
    e.commit().await;
    e.shutting_down(gone).await;
    let rec = |i: u16, ttl: i64, weight: i64| {
        json!({"Name": "calc.sd.internal.", "Type": "SRV", "TTL": ttl, "Weight": weight, "SetIdentifier": format!("{dns}:{i:012x}"),
               "ResourceRecords": [{"Value": format!("1 1 {} {dns}", 20000 + i)}]})
    };
    aws.control(
        reqwest::Method::POST,
        "hooks/before-change",
        json!({"zoneId": e.zone_id, "changes": [
            {"action": "UPSERT", "record": rec(10, 10, 1)},
            {"action": "DELETE", "record": rec(150, 60, 1)},
            {"action": "DELETE", "record": rec(290, 60, 1)},
            {"action": "CREATE", "record": rec(290, 60, 5)},
        ]}),
    )
    .await;
    aws.reset_calls().await;
    let report = e.sweep(&[]).await;
    e.assert_outcome(&report, false).await;
    assert_eq!(report["deleted"].as_array().map(Vec::len), Some(297));
    assert_eq!(report["errors"], json!([]));
    // Route 53 names the failing changes: one rejected batch, one resend.
    assert_eq!(
        aws.calls().await.get("route53:ChangeResourceRecordSets"),
        Some(&2)
    );
}

/// Malformed and foreign records in the zone are counted, never touched, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_records_are_foreign_and_untouched() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h = e.host(Some(&c), 1, 1).await;
    let t = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h, &t, Some(Kept("healthy")));
    let dead = e.unknown_host(9);
    // (name, type, set identifier, weight, values)
    type Hostile = (
        &'static str,
        RrType,
        Option<String>,
        Option<i64>,
        Vec<String>,
    );
    let hostile: Vec<Hostile> = vec![
        (
            "calc",
            RrType::Srv,
            Some(format!("{dead}:aaaaaaaaaaaa")),
            Some(1),
            vec!["1 1 80".into()],
        ),
        (
            "calc",
            RrType::Srv,
            Some(format!("{dead}:aaaaaaaaaaab")),
            Some(1),
            vec![format!("x 1 80 {dead}")],
        ),
        (
            "calc",
            RrType::Srv,
            Some(format!("{dead}:aaaaaaaaaaac")),
            Some(1),
            vec![format!("1 1 0 {dead}")],
        ),
        (
            "calc",
            RrType::Srv,
            Some(format!("{dead}:aaaaaaaaaaad")),
            Some(1),
            vec![format!("1 1 70000 {dead}")],
        ),
        (
            "calc",
            RrType::Srv,
            Some(format!("{dead}:aaaaaaaaaaae")),
            Some(1),
            vec![format!("1 1 80 {dead}"), format!("1 1 81 {dead}")],
        ),
        (
            "calc",
            RrType::Srv,
            Some("ip-127-0-0-1.ec2.internal:aaaaaaaaaaaf".into()),
            Some(1),
            vec![format!("1 1 80 {dead}")],
        ),
        (
            "calc",
            RrType::Srv,
            Some(format!("{dead}:not-a-container")),
            Some(1),
            vec![format!("1 1 80 {dead}")],
        ),
        (
            "calc",
            RrType::Srv,
            None,
            None,
            vec![format!("1 1 80 {dead}")],
        ),
        (
            "www",
            RrType::Cname,
            Some("aaaaaaaaaaaa".into()),
            Some(1),
            vec!["127.0.0.9".into()],
        ),
        (
            "www2",
            RrType::Cname,
            Some("blue".into()),
            Some(1),
            vec![dead.clone()],
        ),
        ("db", RrType::A, None, None, vec!["127.0.0.9".into()]),
        (
            "ip-127-0-9-9",
            RrType::A,
            None,
            None,
            vec!["127.0.9.8".into()],
        ),
        (
            "ip-127-0-9-7",
            RrType::A,
            None,
            None,
            vec!["127.0.9.7".into(), "127.0.9.6".into()],
        ),
        (
            "txt",
            RrType::Txt,
            Some("w".into()),
            Some(1),
            vec!["\"1 1 80 host\"".into()],
        ),
    ];
    let count = hostile.len();
    for (name, rtype, id, weight, values) in hostile {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        e.raw(
            record(
                &format!("{name}.sd.internal."),
                rtype,
                id.as_deref(),
                weight,
                &values,
            ),
            Some(Kept("foreign")),
        );
    }
    e.commit().await;
    let report = e.sweep(&[("MAX_DELETE_PERCENT", "100")]).await;
    assert_eq!(report["records"]["owned"], 1, "{report:#}");
    assert_eq!(report["records"]["foreign"], count + 2);
    assert_eq!(report["deleted"], json!([]));
    assert_eq!(
        e.zone().await.len(),
        count + 3,
        "every hostile record is still there"
    );
    eprintln!("hostile records tried: {count}");
}

/// A zone whose only records are the apex SOA and NS: nothing owned, nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_zone_is_a_quiet_sweep() {
    let aws = LocalAws::start().await;
    let e = Estate::new(&aws, "sd.internal").await;
    let report = e.dry_run(&ENV).await;
    assert_eq!(
        report["records"],
        json!({"scanned": 2, "owned": 0, "foreign": 2})
    );
    assert_eq!(
        report["guard"],
        json!({"tripped": false, "limit_percent": 100, "negative": 0, "owned": 0})
    );
    assert_eq!(
        (report["complete"].as_bool(), report["errors"].clone()),
        (Some(true), json!([]))
    );
}

/// Malformed events and configuration: a clear message and the right exit status,
/// no panic, no change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_and_configuration_exit_with_a_clear_message() {
    let aws = LocalAws::start().await;
    let e = estate(&aws).await;
    let before = e.zone().await;
    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", e.zone_id.clone()));
    let events: &[(&str, i32, &str)] = &[
        ("not json", 2, "is not JSON"),
        ("[1, 2, 3]", 1, "unsupported event: source=(none), detail-type=(none)"),
        ("{}", 1, "unsupported event"),
        ("{\"action\": \"nuke\"}", 1, "unknown action"),
        ("{\"action\": \"sweep\", \"dry_run\": \"yes\"}", 1, "malformed manual event"),
        ("{\"action\": \"sweep\", \"extra\": 1}", 1, "malformed manual event"),
        ("{\"source\": \"aws.ecs\", \"detail-type\": \"ECS Task State Change\", \"detail\": {\"lastStatus\": \"STOPPED\"}}", 1, "malformed ECS Task State Change event"),
        ("{\"source\": \"aws.ec2\", \"detail-type\": \"EC2 Instance State-change Notification\", \"detail\": {\"state\": 7}}", 1, "malformed EC2"),
        ("{\"source\": \"aws.events\", \"detail-type\": \"Object Created\"}", 1, "unsupported event: source=aws.events, detail-type=Object Created"),
        ("\"sweep\"", 1, "unsupported event"),
    ];
    for (event, code, message) in events {
        let (got, stdout, stderr) =
            support::run_binary(&["invoke", "--event", "-"], &env, Some(event));
        assert_eq!((got, stdout.as_str()), (*code, ""), "{event}: {stderr}");
        assert!(stderr.contains(message), "{event}: {stderr}");
        assert!(!stderr.contains("panicked"), "{event}: {stderr}");
    }
    let configs: &[(&str, &str)] = &[
        ("HEALTH_CHECK", "ping"),
        ("HEALTH_CHECK_TIMEOUT_MS", "soon"),
        ("HEALTH_CHECK_ATTEMPTS", "-1"),
        ("STARTUP_GRACE_SECONDS", "99999999999999999999"),
        ("MAX_DELETE_PERCENT", "50%"),
        ("KEEP_LAST_RECORD", "no"),
        ("DRY_RUN", "1"),
        ("STOP_UNHEALTHY_TASKS", "yes"),
        ("ECS_CLUSTERS", "web,,jobs"),
        ("HEALTH_CHECK_PATH", "health"),
        ("HOSTED_ZONE_ID", "not a zone"),
    ];
    for (variable, value) in configs {
        let mut bad = env.clone();
        bad.retain(|(k, _)| k != variable);
        bad.push((variable, value.to_string()));
        let (got, stdout, stderr) = support::run_binary(&["sweep"], &bad, None);
        assert_eq!(
            (got, stdout.as_str()),
            (2, ""),
            "{variable}={value}: {stderr}"
        );
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
    }
    assert_eq!(e.zone().await, before, "bad input changed the zone");
    eprintln!(
        "bad inputs tried: {} events, {} configurations",
        events.len(),
        configs.len()
    );
}
