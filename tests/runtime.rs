//! The Lambda runtime path, for real (docs/events.md; docs/operations.md, "Reading the report", "The command line"): the built binary runs with
//! no subcommand and `AWS_LAMBDA_RUNTIME_API` pointing at a minimal Lambda Runtime
//! API (`support::runtime_api`), against the local AWS (moto) and an estate with
//! real listeners on loopback addresses.
//!
//! The Runtime API hands out a queue of events one by one on
//! `GET /2018-06-01/runtime/invocation/next` (a long poll that blocks while the
//! queue is empty) and records every `…/response`, `…/error` and `init/error`
//! post. Every wait is bounded, and the child process is killed at the end (and
//! on drop, should a test fail).

mod support;

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use support::runtime_api::{epoch_ms, from_epoch_ms, Deadline, Posted, RuntimeApi, OUTCOME_WAIT};
use support::Outcome::{Kept, Removed};
use support::{Behaviour, Estate, Lambda, LocalAws};
use tokio::net::TcpListener;

const HOUR: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------
// The function, events, estates, assertions
// ---------------------------------------------------------------------------

/// Starts the function for `estate`, with `extra` configuration on top of the
/// Lambda environment, the local AWS and `HOSTED_ZONE_ID`.
fn start_function(
    aws: &LocalAws,
    estate: &Estate<'_>,
    api: &RuntimeApi,
    extra: &[(&str, &str)],
) -> Lambda {
    let mut env = api.lambda_env();
    env.extend(aws.env());
    env.push(("HOSTED_ZONE_ID", estate.zone_id.clone()));
    env.push(("HEALTH_CHECK_TIMEOUT_MS", "300".into()));
    env.push(("HEALTH_CHECK_ATTEMPTS", "2".into()));
    let mut env: Vec<(&str, String)> = env;
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push((k, (*v).to_string()));
    }
    Lambda::start(&env)
}

fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T02:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/reaper"],
        "detail": {}
    })
}

fn ec2_state_event(instance_id: &str, state: &str) -> Value {
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2026-01-01T02:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:ec2:us-east-1:123456789012:instance/{instance_id}")],
        "detail": {"instance-id": instance_id, "state": state}
    })
}

/// A record as the zone lists it: (name, type, set identifier).
type Listed = (String, String, Option<String>);

/// One cluster, one host, two healthy `calc` tasks with their SRV records, and a
/// `calc` SRV record on a host no EC2 instance has (`host-unknown`, and not the
/// last record of its name). Returns the unknown host's record as listed.
async fn small_estate(e: &mut Estate<'_>) -> Listed {
    let web = e.cluster("web").await;
    let host = e.host(Some(&web), 1, 1).await;
    for _ in 0..2 {
        let task = e.task(host, "calc", HOUR, Behaviour::Healthy).await;
        e.srv("calc", host, &task, Some(Kept("healthy")));
    }
    let unknown = e.unknown_host(1);
    let container = "0123456789ab";
    e.srv_raw(
        "calc",
        &unknown,
        8080,
        Some(container),
        Some(Removed("host-unknown")),
    );
    e.commit().await;
    (
        format!("calc.{}.", e.apex),
        "SRV".to_string(),
        Some(format!("{unknown}:{container}")),
    )
}

fn is_listed(report_entry: &Value, listed: &Listed) -> bool {
    report_entry["name"] == listed.0.as_str()
        && report_entry["type"] == listed.1.as_str()
        && report_entry["set_identifier"].as_str() == listed.2.as_deref()
}

fn sorted(mut v: Vec<Listed>) -> Vec<Listed> {
    v.sort();
    v
}

/// The JSON lines of `text` (other lines are skipped).
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// The invocation-level EMF lines of `stdout` (namespace `EcsDnsReaper`, with a
/// `Trigger`), in order.
fn emf_triggers(stdout: &str) -> Vec<String> {
    json_lines(stdout)
        .into_iter()
        .filter(|v| v["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "EcsDnsReaper")
        .filter_map(|v| v["Trigger"].as_str().map(String::from))
        .collect()
}

/// The `trigger` fields of the "sweep summary" log lines of `stderr`, in order.
fn summary_triggers(stderr: &str) -> Vec<String> {
    json_lines(stderr)
        .into_iter()
        .filter(|v| v["message"] == "sweep summary")
        .map(|v| v["trigger"].as_str().unwrap_or("(missing)").to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// Cases 1, 2, 3, 4 and 6 in one process lifetime: a manual dry run, a scheduled
/// sweep, an unsupported event, an EC2 state change in `running`, and a manual
/// sweep again — five events, one process, each answered on its own endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_serves_every_kind_of_event_in_turn() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "rt.internal").await;
    let unknown = small_estate(&mut e).await;
    let before = sorted(e.zone().await);
    assert!(
        before.contains(&unknown),
        "estate has the unknown host's record"
    );

    let mut api = RuntimeApi::start().await;
    let mut f = start_function(&aws, &e, &api, &[("MAX_DELETE_PERCENT", "100")]);

    // Case 2: a manual dry run reports what it would delete and changes nothing.
    let report = api
        .invoke(json!({"action": "sweep", "dry_run": true}), &mut f)
        .await;
    assert_eq!(report["trigger"], "manual", "{report}");
    assert_eq!(report["dry_run"], true, "{report}");
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["hosted_zone_id"], e.zone_id.as_str(), "{report}");
    let deleted = report["deleted"].as_array().expect("deleted");
    assert_eq!(deleted.len(), 1, "{report}");
    assert!(is_listed(&deleted[0], &unknown), "{report}");
    assert_eq!(deleted[0]["reason"], "host-unknown", "{report}");
    assert_eq!(report["kept"]["healthy"], 2, "{report}");
    assert_eq!(sorted(e.zone().await), before, "a dry run changes nothing");

    // Case 1: a scheduled event sweeps for real.
    let report = api.invoke(scheduled_event(), &mut f).await;
    assert_eq!(report["trigger"], "schedule", "{report}");
    assert_eq!(report["dry_run"], false, "{report}");
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(report["records"]["owned"], 3, "{report}");
    assert_eq!(report["kept"]["healthy"], 2, "{report}");
    assert_eq!(report["held"], json!([]), "{report}");
    assert_eq!(report["guard"]["tripped"], false, "{report}");
    let deleted = report["deleted"].as_array().expect("deleted");
    assert_eq!(deleted.len(), 1, "{report}");
    assert!(is_listed(&deleted[0], &unknown), "{report}");
    assert_eq!(deleted[0]["reason"], "host-unknown", "{report}");
    let after = sorted(e.zone().await);
    let expected: Vec<Listed> = before.iter().filter(|r| **r != unknown).cloned().collect();
    assert_eq!(
        after, expected,
        "the zone lost exactly the unknown host's record"
    );
    e.assert_outcome(&report, false).await;

    // Case 3: an unsupported event comes back on the error endpoint.
    let id = api.push(
        json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}),
        Deadline::In(Duration::from_secs(900)),
    );
    match api.outcome(&id, OUTCOME_WAIT, &mut f).await.posted {
        Posted::Error { header, body } => {
            assert_eq!(
                body["errorMessage"],
                "unsupported event: source=aws.s3, detail-type=Object Created",
                "{body}"
            );
            assert_eq!(body["errorType"], "UnsupportedEvent", "{body}");
            assert!(header.is_some(), "an error type header is sent");
        }
        Posted::Response(r) => panic!("an unsupported event got a response: {r}"),
    }

    // Case 4: the runtime keeps serving; an EC2 instance that is running is ignored.
    let instance = e.hosts[0].instance_id.clone();
    let report = api
        .invoke(ec2_state_event(&instance, "running"), &mut f)
        .await;
    assert_eq!(report["trigger"], "ec2-instance-state", "{report}");
    let why = report["ignored"]
        .as_str()
        .unwrap_or_else(|| panic!("ignored: {report}"));
    assert!(why.contains("running"), "the reason names the state: {why}");
    assert_eq!(report["deleted"], json!([]), "{report}");
    assert_eq!(
        sorted(e.zone().await),
        expected,
        "an ignored event changes nothing"
    );

    // And again: a manual sweep (not a dry run) finds nothing left to delete.
    let report = api.invoke(json!({"action": "sweep"}), &mut f).await;
    assert_eq!(report["trigger"], "manual", "{report}");
    assert_eq!(report["dry_run"], false, "{report}");
    assert_eq!(report["deleted"], json!([]), "{report}");
    assert_eq!(report["kept"]["healthy"], 2, "{report}");

    let unexpected = api.state(|s| s.unexpected.clone());
    assert!(unexpected.is_empty(), "unexpected requests: {unexpected:?}");
    assert!(api.state(|s| s.init_errors.is_empty()));
    let (stdout, stderr) = f.stop().await;
    eprintln!("--- function stdout ---\n{stdout}--- function stderr ---\n{stderr}");

    // Case 6: one EMF line per successful invocation, and a JSON "sweep summary"
    // log line with its trigger.
    let successes = ["manual", "schedule", "ec2-instance-state", "manual"];
    assert_eq!(
        emf_triggers(&stdout),
        successes,
        "EMF lines on stdout:\n{stdout}"
    );
    assert_eq!(
        summary_triggers(&stderr),
        successes,
        "sweep summary lines on stderr:\n{stderr}"
    );
    // Counts by reason are JSON objects (Logs Insights: `kept.healthy`), and
    // `ignored` appears only on the ignored event's line.
    for summary in json_lines(&stderr)
        .into_iter()
        .filter(|v| v["message"] == "sweep summary")
    {
        for field in ["kept", "deleted", "held"] {
            assert!(summary[field].is_object(), "{field} in {summary}");
        }
        let ignored = summary["trigger"] == "ec2-instance-state";
        assert_eq!(summary.get("ignored").is_some(), ignored, "{summary}");
    }
    // Every stdout line is JSON (stdout is the metrics stream; logs go to stderr).
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "non-JSON line on stdout: {line}"
        );
    }
    // The deletion of the scheduled sweep is logged too.
    assert!(
        json_lines(&stderr)
            .iter()
            .any(|v| v["message"] == "deleted record" && v["reason"] == "host-unknown"),
        "deletion log line:\n{stderr}"
    );
}

/// Case 5: a deadline that leaves no time for the health checks. 30 hanging
/// endpoints past grace, each needing 3 × 2 s to be judged: the reply comes back
/// before the deadline, incomplete, says why, and deletes none of them. A second
/// invocation with a deadline far enough for checks to start (but not to finish)
/// ends the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_near_deadline_ends_the_sweep_early_and_deletes_nothing_unjudged() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "deadline.internal").await;
    let web = e.cluster("web").await;
    for h in 0..2u8 {
        let host = e.host(Some(&web), 1, h + 1).await;
        for _ in 0..15 {
            let task = e.task(host, "slow", HOUR, Behaviour::Hang).await;
            e.srv("slow", host, &task, None);
        }
    }
    e.commit().await;
    let before = sorted(e.zone().await);
    assert_eq!(
        before.iter().filter(|r| r.1 == "SRV").count(),
        30,
        "30 hanging SRV records"
    );

    let mut api = RuntimeApi::start().await;
    let mut f = start_function(
        &aws,
        &e,
        &api,
        &[
            ("HEALTH_CHECK_TIMEOUT_MS", "2000"),
            ("HEALTH_CHECK_ATTEMPTS", "3"),
            ("MAX_DELETE_PERCENT", "100"),
            ("KEEP_LAST_RECORD", "false"),
        ],
    );

    for budget in [Duration::from_secs(4), Duration::from_secs(11)] {
        let id = api.push(scheduled_event(), Deadline::In(budget));
        let outcome = api
            .outcome(&id, budget + Duration::from_secs(30), &mut f)
            .await;
        let deadline = from_epoch_ms(outcome.deadline_ms);
        let took = outcome
            .received
            .duration_since(outcome.handed_out)
            .unwrap_or_default();
        eprintln!("deadline budget {budget:?}: replied after {took:?}");
        assert!(
            outcome.received <= deadline + Duration::from_secs(1),
            "budget {budget:?}: the reply came {took:?} after hand-out, past the deadline"
        );
        let report = match outcome.posted {
            Posted::Response(r) => r,
            Posted::Error { body, .. } => panic!("budget {budget:?}: error {body}"),
        };
        assert_eq!(report["trigger"], "schedule", "{report}");
        assert_eq!(report["complete"], false, "budget {budget:?}: {report}");
        let errors = report["errors"].as_array().expect("errors");
        assert!(
            errors
                .iter()
                .any(|m| m.as_str().is_some_and(|m| m.contains("deadline"))),
            "budget {budget:?}: errors say the deadline stopped it: {report}"
        );
        assert_eq!(report["deleted"], json!([]), "budget {budget:?}: {report}");
        assert_eq!(report["records"]["owned"], 30, "{report}");
        assert_eq!(
            sorted(e.zone().await),
            before,
            "budget {budget:?}: no hanging record deleted, nothing half-written"
        );
    }
    assert!(api.state(|s| s.unexpected.is_empty()));
    let (stdout, _) = f.stop().await;
    assert_eq!(emf_triggers(&stdout), ["schedule", "schedule"], "{stdout}");
}

/// Case 5, the other side: a deadline in the past (local emulators send one)
/// means no deadline. The sweep runs every check to the end: the hanging task's
/// record is judged unhealthy and deleted, and the report is complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_in_the_past_means_no_deadline() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "past.internal").await;
    let web = e.cluster("web").await;
    let host = e.host(Some(&web), 1, 1).await;
    for _ in 0..2 {
        let task = e.task(host, "calc", HOUR, Behaviour::Healthy).await;
        e.srv("calc", host, &task, Some(Kept("healthy")));
    }
    let hung = e.task(host, "calc", HOUR, Behaviour::Hang).await;
    e.srv("calc", host, &hung, Some(Removed("unhealthy")));
    e.commit().await;

    let mut api = RuntimeApi::start().await;
    let mut f = start_function(&aws, &e, &api, &[("MAX_DELETE_PERCENT", "100")]);

    // A fixed deadline years ago, as emulators send, then one a minute ago.
    let past = [
        1_542_409_706_888,
        epoch_ms(SystemTime::now() - Duration::from_secs(60)),
    ];
    for (i, deadline_ms) in past.into_iter().enumerate() {
        let id = api.push(
            json!({"action": "sweep", "dry_run": i == 0}),
            Deadline::EpochMs(deadline_ms),
        );
        let report = match api.outcome(&id, OUTCOME_WAIT, &mut f).await.posted {
            Posted::Response(r) => r,
            Posted::Error { body, .. } => panic!("deadline {deadline_ms}: error {body}"),
        };
        assert_eq!(report["complete"], true, "deadline {deadline_ms}: {report}");
        assert_eq!(
            report["errors"],
            json!([]),
            "deadline {deadline_ms}: {report}"
        );
        assert_eq!(report["kept"]["healthy"], 2, "{report}");
        let deleted = report["deleted"].as_array().expect("deleted");
        assert_eq!(deleted.len(), 1, "deadline {deadline_ms}: {report}");
        assert_eq!(deleted[0]["reason"], "unhealthy", "{report}");
        assert_eq!(
            deleted[0]["target"],
            format!("{}:{}", e.hosts[host].dns, hung.host_port).as_str(),
            "{report}"
        );
        e.assert_outcome(&report, i == 0).await;
    }
    let _ = f.stop().await;
}

/// README "Configuration", docs/operations.md "The command line": with a bad configuration the function refuses to start, naming
/// the variable, with exit status 2 — it never takes an invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_refuses_to_start_in_lambda_mode() {
    let api = RuntimeApi::start().await;
    let mut env = api.lambda_env();
    env.push(("AWS_REGION", "us-east-1".into()));
    env.push(("HOSTED_ZONE_ID", "Z0123456789".into()));
    env.push(("HEALTH_CHECK_ATTEMPTS", "many".into()));
    let f = Lambda::start(&env);
    let (code, _, stderr) = f.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("HEALTH_CHECK_ATTEMPTS"), "{stderr}");
    assert_eq!(api.state(|s| s.polls), 0, "no invocation was taken");

    // Neither zone variable (an empty value counts as unset).
    let mut env = api.lambda_env();
    env.push(("AWS_REGION", "us-east-1".into()));
    env.push(("HOSTED_ZONE_ID", String::new()));
    let f = Lambda::start(&env);
    let (code, _, stderr) = f.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("HOSTED_ZONE_ID") && stderr.contains("DNS_NAMESPACE"),
        "{stderr}"
    );
    assert_eq!(api.state(|s| s.polls), 0, "no invocation was taken");
}

/// Case 5, AWS side: the deadline bounds the inventory read too. ECS accepts
/// connections and never answers (the SDK would wait 30 s per attempt, five
/// attempts); with 6 s left the function must still reply before the deadline,
/// incomplete, saying why, having deleted nothing (docs/operations.md "Reading the report": `complete` is false
/// when the sweep stopped early because the Lambda deadline was near). A reply
/// that comes after the deadline is one Lambda never delivers: the invocation
/// times out with no report at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_aws_call_does_not_run_the_sweep_past_the_deadline() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "slowaws.internal").await;
    let _unknown = small_estate(&mut e).await;
    let before = sorted(e.zone().await);

    // An ECS endpoint on loopback that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the silent ECS endpoint");
    let silent_url = format!("http://{}", silent.local_addr().expect("address"));
    let silent_task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });

    let env = [("AWS_ENDPOINT_URL_ECS", silent_url.as_str())];
    let report = sweep_within(&aws, &e, &env, Duration::from_secs(6), "the ECS call").await;
    silent_task.abort();
    assert!(
        errors(&report).iter().any(|m| m.contains("deadline")),
        "errors say the deadline stopped it: {report}"
    );
    assert_eq!(report["deleted"], json!([]), "{report}");
    assert_eq!(sorted(e.zone().await), before, "nothing deleted");
}

/// Case 5, the writes: Route 53 takes the deletion and does not answer for a
/// minute (the SDK would wait up to 5 × its timeout). Every write's attempts and
/// timeouts come from the time left, so the function still replies before the
/// deadline: incomplete, the deletion not reported as made, and `errors` naming
/// the write that did not finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_write_does_not_run_the_sweep_past_the_deadline() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "slowwrite.internal").await;
    let _unknown = small_estate(&mut e).await;
    aws.faults(json!([{
        "service": "route53",
        "operation": "ChangeResourceRecordSets",
        "delay_ms": 60_000,
        "count": -1
    }]))
    .await;

    let report = sweep_within(&aws, &e, &[], Duration::from_secs(8), "the Route 53 write").await;
    assert_eq!(report["deleted"], json!([]), "{report}");
    assert!(
        errors(&report)
            .iter()
            .any(|m| m.contains("ChangeResourceRecordSets")),
        "errors name the write that did not finish: {report}"
    );
}

/// Runs one scheduled sweep through the Runtime API with `budget` left and
/// asserts that the reply came before the deadline and says it is incomplete;
/// the report. `waiting_on` names what a late reply would still be waiting for.
async fn sweep_within(
    aws: &LocalAws,
    e: &Estate<'_>,
    extra_env: &[(&str, &str)],
    budget: Duration,
    waiting_on: &str,
) -> Value {
    let mut api = RuntimeApi::start().await;
    let mut env = vec![("MAX_DELETE_PERCENT", "100")];
    env.extend_from_slice(extra_env);
    let f = start_function(aws, e, &api, &env);
    let id = api.push(scheduled_event(), Deadline::In(budget));
    // Bounded: a reply later than this is a failure anyway.
    let wait = budget + Duration::from_secs(5);
    let Some(outcome) = api.try_outcome(&id, wait).await else {
        let (_, stderr) = f.output_so_far();
        panic!(
            "no reply within {wait:?} of queueing the event with a {budget:?} deadline: the sweep is still \
             waiting on {waiting_on}, past the deadline (Lambda would kill it with no report)\n\
             --- function stderr ---\n{stderr}"
        );
    };
    let took = outcome
        .received
        .duration_since(outcome.handed_out)
        .unwrap_or_default();
    assert!(
        outcome.received <= from_epoch_ms(outcome.deadline_ms) + Duration::from_secs(1),
        "the reply came {took:?} after hand-out, past the {budget:?} deadline"
    );
    let report = match outcome.posted {
        Posted::Response(r) => r,
        Posted::Error { body, .. } => panic!("error {body}"),
    };
    assert_eq!(report["complete"], false, "{report}");
    let _ = f.stop().await;
    report
}

fn errors(report: &Value) -> Vec<String> {
    report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(String::from))
        .collect()
}
