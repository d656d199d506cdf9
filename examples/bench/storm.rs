//! The event storm: ECS task-stopped events delivered one after the other to ONE
//! warm process of the release binary, through the tests' Runtime API
//! (`tests/support/runtime_api.rs`), as Lambda delivers them to a function with
//! reserved concurrency 1, with Route 53's rate limit on, on the bench's estate.
//!
//! Three kinds of event, in this order:
//!
//! 1. `--storm-events` tasks of the estate, spread over its clusters, hosts and
//!    services; each declares two names (`SERVICE_80_NAME=svc-NN` for its SRV
//!    record, `SERVICE_81_NAME=svc-NN-www` for its CNAME record);
//! 2. `--storm-extra` tasks declaring one name, `SERVICE_80_NAME=svc-00` (a SRV
//!    record among the ~250 of that name);
//! 3. `--storm-extra` tasks whose definition declares no name ECS can show (the
//!    agent read it from the image): their records (`img`, `img-www`) still carry
//!    the container id, and the event finds them by id after listing the whole
//!    zone — what every task-stopped event cost before.
//!
//! Set-up, with the rate limit off: the sweep's deletions are written back (the
//! storm runs on the estate as built), the extra tasks are started and their
//! records written, and every task of the storm is stopped in ECS (StopTask).
//! Then the function starts, the rate limit goes on, and the events follow one
//! another, the call counters reset before each. After the last, the limit goes
//! off and the zone is walked: it must have lost exactly the stopped tasks'
//! records.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_ecs::primitives::{DateTime, DateTimeFormat};
use aws_sdk_route53::types::ResourceRecordSet;
use serde_json::{json, Value};

use super::estate::service_name;
use super::minimum::task_stopped_route53;
use super::support::runtime_api::{Deadline, Outcome, Posted, RuntimeApi};
use super::support::{Behaviour, Estate, LocalAws};
use super::{summary_line, target_dir, Args, Built, Sweep, APEX};

/// Route 53's documented limit: five requests a second per account.
pub(super) const RATE: u32 = 5;
pub(super) const BURST: u32 = 5;
/// Each invocation's deadline: the template's default function timeout.
pub(super) const TIMEOUT: Duration = Duration::from_secs(120);
/// The definition of the one-name tasks, and the name it declares.
const ONE_NAME_FAMILY: &str = "storm-one-name";
/// The definition of the tasks that declare no name ECS can show, and the
/// service their records are named after (declared in the image).
const NO_NAME_FAMILY: &str = "storm-name-in-image";
const NO_NAME_SERVICE: &str = "img";
const HOUR: Duration = Duration::from_secs(3600);

/// What kind of task stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    OneName,
    TwoNames,
    WholeZone,
}

impl Kind {
    pub(super) const ALL: [Kind; 3] = [Kind::OneName, Kind::TwoNames, Kind::WholeZone];

    pub(super) fn label(self) -> &'static str {
        match self {
            Kind::OneName => "one declared name (`SERVICE_80_NAME=svc-00`: a SRV record)",
            Kind::TwoNames => {
                "two declared names (`svc-NN` SRV + `svc-NN-www` CNAME: the estate's tasks)"
            }
            Kind::WholeZone => {
                "whole zone (the behaviour before): no name ECS can show, records found by container id"
            }
        }
    }

    pub(super) fn short(self) -> &'static str {
        match self {
            Kind::OneName => "one name",
            Kind::TwoNames => "two names",
            Kind::WholeZone => "whole zone",
        }
    }
}

/// A record set as the report names it: (name, type, set identifier).
type Key = (String, String, Option<String>);

/// A task of the storm, and what its event must delete.
struct Planned {
    kind: Kind,
    cluster: String,
    arn: String,
    container_instance_arn: String,
    runtime_id: String,
    /// (container port, host port) of the container `app`.
    bindings: Vec<(i32, u16)>,
    /// The task's records: exactly what its event must delete.
    expected: BTreeSet<Key>,
    /// The names it declares, fully qualified (none: the whole zone is listed).
    names: Vec<String>,
}

/// One event as delivered.
pub(super) struct Delivered {
    pub kind: Kind,
    /// Queued on the Runtime API (the function waiting on `/next`) → its response.
    pub round_trip_ms: f64,
    /// Requests the local AWS received, by operation, throttled ones included.
    pub requests: BTreeMap<String, u64>,
    /// Requests Route 53's rate limit answered with `Throttling`, by operation.
    pub throttled: BTreeMap<String, u64>,
    /// The fewest Route 53 calls the event can make (GetHostedZone included in
    /// the first event of the process).
    pub minimum_route53: u64,
    /// Record sets in the zone when the event came.
    pub zone_sets: usize,
    pub deleted: usize,
    pub expected: usize,
    /// What was wrong with the outcome, if anything.
    pub problem: Option<String>,
    /// `listing_ms` of the invocation's `sweep summary` line.
    pub listing_ms: Option<u64>,
}

impl Delivered {
    /// Calls answered (requests minus throttled replies), by operation.
    pub(super) fn answered(&self) -> BTreeMap<String, u64> {
        let mut calls = self.requests.clone();
        for (op, n) in &self.throttled {
            if let Some(c) = calls.get_mut(op) {
                *c = c.saturating_sub(*n);
            }
        }
        calls.retain(|_, n| *n > 0);
        calls
    }

    /// Route 53 calls answered.
    pub(super) fn route53(&self) -> u64 {
        self.answered()
            .iter()
            .filter(|(op, _)| op.starts_with("route53:"))
            .map(|(_, n)| n)
            .sum()
    }

    pub(super) fn throttled_total(&self) -> u64 {
        self.throttled.values().sum()
    }
}

/// The zone before and after the storm.
pub(super) struct ZoneCheck {
    pub before: usize,
    pub after: usize,
    /// Record sets the events were expected to delete.
    pub expected_gone: usize,
    /// Gone although no event should have deleted them.
    pub also_gone: usize,
    /// Still there although an event should have deleted them.
    pub left: usize,
}

/// Everything the storm measured.
pub(super) struct Storm {
    pub events: Vec<Delivered>,
    /// Events planned (all delivered unless the function stopped answering).
    pub planned: usize,
    /// Record sets the sweep had deleted, written back before the storm.
    pub restored: usize,
    /// Record sets of the storm's extra tasks.
    pub extra_sets: usize,
    pub zone: ZoneCheck,
    pub setup_secs: f64,
    pub storm_secs: f64,
}

impl Storm {
    pub(super) fn of(&self, kind: Kind) -> Vec<&Delivered> {
        self.events.iter().filter(|e| e.kind == kind).collect()
    }
}

/// Sets up, delivers and checks the storm (see the top of this file).
pub(super) async fn run(
    aws: &LocalAws,
    estate: &mut Estate<'_>,
    built: &Built,
    sweep: &Sweep,
    binary: &Path,
    args: &Args,
) -> Storm {
    let setup_started = Instant::now();
    eprintln!("bench: event storm: set-up (rate limit off)");
    let restored = restore(aws, built, sweep).await;
    let mut planned = estate_tasks(estate, built, args.storm_events);
    let extra = extra_tasks(estate, args.storm_extra).await;
    let extra_sets = extra.iter().map(|p| p.expected.len()).sum();
    planned.extend(extra);
    estate.commit().await;
    let before: HashSet<Key> = estate.zone().await.into_iter().collect();
    let mut events = Vec::with_capacity(planned.len());
    for (seq, p) in planned.iter().enumerate() {
        events.push(stop(aws, p, seq).await);
    }
    let setup_secs = setup_started.elapsed().as_secs_f64();

    let logs = target_dir().join("bench");
    let _ = std::fs::create_dir_all(&logs);
    let mut api = RuntimeApi::start().await;
    let mut function = spawn_function(aws, built, &api, binary, &logs);
    let limit = json!({"route53": {"rate": RATE, "burst": BURST}});
    aws.control(reqwest::Method::POST, "limits", limit).await;
    eprintln!(
        "bench: event storm: {} events to one process, Route 53 at {RATE} requests/s",
        planned.len()
    );
    let storm_started = Instant::now();
    let delivered = deliver(aws, &mut api, &planned, events, &before).await;
    let storm_secs = storm_started.elapsed().as_secs_f64();
    aws.control(
        reqwest::Method::POST,
        "limits",
        json!({"route53": Value::Null}),
    )
    .await;
    let _ = function.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(10), function.wait()).await;
    let delivered = with_listing_times(delivered, &logs.join("storm.stderr.log"));
    save_events(&delivered, &logs.join("storm.events.jsonl"));

    let after: HashSet<Key> = estate.zone().await.into_iter().collect();
    let zone = zone_check(&before, &after, &planned);
    Storm {
        events: delivered,
        planned: planned.len(),
        restored,
        extra_sets,
        zone,
        setup_secs,
        storm_secs,
    }
}

/// Writes back the record sets the sweep deleted: the storm runs on the estate as
/// built. How many.
async fn restore(aws: &LocalAws, built: &Built, sweep: &Sweep) -> usize {
    let deleted: HashSet<Key> = sweep.report["deleted"]
        .as_array()
        .into_iter()
        .flatten()
        .map(report_key)
        .collect();
    let sets: Vec<ResourceRecordSet> = built
        .sets
        .iter()
        .filter(|s| deleted.contains(&set_key(s)))
        .cloned()
        .collect();
    if !sets.is_empty() {
        aws.create_records(&built.zone_id, &sets).await;
    }
    sets.len()
}

fn set_key(s: &ResourceRecordSet) -> Key {
    (
        s.name().to_string(),
        s.r#type().as_str().to_string(),
        s.set_identifier().map(String::from),
    )
}

fn report_key(entry: &Value) -> Key {
    (
        entry["name"].as_str().unwrap_or_default().to_string(),
        entry["type"].as_str().unwrap_or_default().to_string(),
        entry["set_identifier"].as_str().map(String::from),
    )
}

/// `n` of the estate's tasks, evenly spaced in the order they were started (so
/// spread over the clusters, hosts and services).
fn estate_tasks(estate: &Estate<'_>, built: &Built, n: usize) -> Vec<Planned> {
    if n == 0 {
        return Vec::new();
    }
    let stride = (built.started.len() / n).max(1);
    built
        .started
        .iter()
        .step_by(stride)
        .take(n)
        .map(|t| {
            let host = &estate.hosts[t.host];
            let svc = service_name(t.service);
            let (srv, www) = (format!("{svc}.{APEX}."), format!("{svc}-www.{APEX}."));
            let expected = BTreeSet::from([
                (
                    srv.clone(),
                    "SRV".to_string(),
                    Some(format!("{}:{}", host.dns, t.runtime_id)),
                ),
                (
                    www.clone(),
                    "CNAME".to_string(),
                    Some(t.runtime_id[..12].to_string()),
                ),
            ]);
            Planned {
                kind: Kind::TwoNames,
                cluster: built.clusters[t.cluster].clone(),
                arn: t.arn.clone(),
                container_instance_arn: host.container_instance_arn.clone().expect("ci"),
                runtime_id: t.runtime_id.clone(),
                bindings: vec![(80, t.srv_port), (81, t.www_port)],
                expected,
                names: vec![srv, www],
            }
        })
        .collect()
}

/// `n` tasks declaring one name and `n` declaring none ECS can show, on hosts
/// spread over the estate, with their records queued (written by `commit`).
async fn extra_tasks(estate: &mut Estate<'_>, n: usize) -> Vec<Planned> {
    if n == 0 {
        return Vec::new();
    }
    let svc = service_name(0);
    let env = [("SERVICE_80_NAME".to_string(), svc.clone())];
    let one_name = estate
        .register_definition(ONE_NAME_FAMILY, &env, &[(80, 0)])
        .await;
    let no_name = estate
        .register_definition(NO_NAME_FAMILY, &[], &[(80, 0), (81, 0)])
        .await;
    let hosts = estate.hosts.len();
    let mut planned = Vec::new();
    for (kind, definition) in [(Kind::OneName, &one_name), (Kind::WholeZone, &no_name)] {
        for k in 0..n {
            let offset = usize::from(kind == Kind::WholeZone);
            let h = ((2 * k + offset) * hosts / (2 * n)).min(hosts - 1);
            let t = estate.start(h, definition, HOUR, Behaviour::Healthy).await;
            let dns = estate.hosts[h].dns.clone();
            let srv_id = Some(format!("{dns}:{}", t.runtime_id));
            let (expected, names, bindings) = if kind == Kind::OneName {
                estate.srv(&svc, h, &t, None);
                let name = format!("{svc}.{APEX}.");
                let expected = BTreeSet::from([(name.clone(), "SRV".to_string(), srv_id)]);
                (expected, vec![name], vec![(80, t.host_port)])
            } else {
                estate.srv(NO_NAME_SERVICE, h, &t, None);
                estate.cname(NO_NAME_SERVICE, h, &t, None);
                let expected = BTreeSet::from([
                    (
                        format!("{NO_NAME_SERVICE}.{APEX}."),
                        "SRV".to_string(),
                        srv_id,
                    ),
                    (
                        format!("{NO_NAME_SERVICE}-www.{APEX}."),
                        "CNAME".to_string(),
                        Some(t.runtime_id[..12].to_string()),
                    ),
                ]);
                let www = t.www_port.expect("a binding for container port 81");
                (expected, Vec::new(), vec![(80, t.host_port), (81, www)])
            };
            planned.push(Planned {
                kind,
                cluster: t.cluster.clone(),
                arn: t.arn.clone(),
                container_instance_arn: t.container_instance_arn.clone(),
                runtime_id: t.runtime_id.clone(),
                bindings,
                expected,
                names,
            });
        }
    }
    planned
}

/// Stops the task in ECS (StopTask); its `ECS Task State Change` STOPPED event,
/// shaped as ECS sends it (events/ecs-task-stopped.json), ARNs from ECS.
async fn stop(aws: &LocalAws, p: &Planned, seq: usize) -> Value {
    let out = aws
        .ecs()
        .stop_task()
        .cluster(&p.cluster)
        .task(&p.arn)
        .reason("bench: event storm")
        .send()
        .await
        .expect("StopTask");
    let task = out.task().expect("the stopped task");
    let now = DateTime::from(SystemTime::now())
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default();
    let bindings: Vec<Value> = p
        .bindings
        .iter()
        .map(|(container, host)| {
            json!({"bindIP": "0.0.0.0", "containerPort": container, "hostPort": host, "protocol": "tcp"})
        })
        .collect();
    let container = task.containers().first();
    json!({
        "version": "0",
        "id": format!("bench-storm-{seq:04}"),
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": "123456789012",
        "time": now,
        "region": "us-east-1",
        "resources": [p.arn],
        "detail": {
            "clusterArn": task.cluster_arn().unwrap_or(&p.cluster),
            "containerInstanceArn": p.container_instance_arn,
            "containers": [{
                "containerArn": container.and_then(|c| c.container_arn()),
                "lastStatus": "STOPPED",
                "name": "app",
                "taskArn": p.arn,
                "networkBindings": bindings,
                "runtimeId": p.runtime_id,
                "exitCode": 137
            }],
            "desiredStatus": "STOPPED",
            "lastStatus": "STOPPED",
            "launchType": "EC2",
            "taskArn": p.arn,
            "taskDefinitionArn": task.task_definition_arn(),
            "stoppedReason": "bench: event storm",
            "stopCode": "UserInitiated",
            "updatedAt": now,
            "stoppedAt": now,
            "version": 5
        }
    })
}

/// The release binary as a Lambda function against `api`: stdout (metrics) and
/// stderr (JSON log lines) to `target/bench/storm.*.log`; killed on drop.
fn spawn_function(
    aws: &LocalAws,
    built: &Built,
    api: &RuntimeApi,
    binary: &Path,
    logs: &Path,
) -> tokio::process::Child {
    let file = |name: &str| {
        std::fs::File::create(logs.join(name))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null())
    };
    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", built.zone_id.clone()));
    env.extend(api.lambda_env());
    tokio::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdin(Stdio::null())
        .stdout(file("storm.stdout.log"))
        .stderr(file("storm.stderr.log"))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the Lambda function")
}

/// Delivers the events one after the other, each once the function waits on
/// `/next` again, with the call counters reset before each.
async fn deliver(
    aws: &LocalAws,
    api: &mut RuntimeApi,
    planned: &[Planned],
    events: Vec<Value>,
    before: &HashSet<Key>,
) -> Vec<Delivered> {
    // Record sets by name, and in the zone, as the events leave them.
    let mut at_name: HashMap<String, usize> = HashMap::new();
    for (name, _, _) in before {
        *at_name.entry(name.clone()).or_default() += 1;
    }
    let mut zone_sets = before.len();
    let mut delivered = Vec::with_capacity(planned.len());
    for (i, (p, event)) in planned.iter().zip(events).enumerate() {
        if api
            .poll_arrival(i + 1, Duration::from_secs(30))
            .await
            .is_none()
        {
            eprintln!("bench: event storm: the function stopped polling after {i} events");
            break;
        }
        aws.reset_calls().await;
        let started = Instant::now();
        let id = api.push(event, Deadline::In(TIMEOUT));
        let outcome = api
            .try_outcome(&id, TIMEOUT + Duration::from_secs(30))
            .await;
        let round_trip_ms = started.elapsed().as_secs_f64() * 1000.0;
        let requests = aws.calls().await;
        let throttled = throttled(aws).await;
        let (deleted, problem) = check(outcome, &p.expected);
        if let Some(problem) = &problem {
            eprintln!("bench: event storm: event {i} ({}): {problem}", p.arn);
        }
        let sets_at: Vec<usize> = p
            .names
            .iter()
            .map(|n| at_name.get(n).copied().unwrap_or(0))
            .collect();
        let minimum_route53 = task_stopped_route53(&sets_at, zone_sets) + u64::from(i == 0);
        for (name, _, _) in &p.expected {
            if let Some(n) = at_name.get_mut(name) {
                *n = n.saturating_sub(1);
            }
        }
        zone_sets = zone_sets.saturating_sub(p.expected.len());
        delivered.push(Delivered {
            kind: p.kind,
            round_trip_ms,
            requests,
            throttled,
            minimum_route53,
            zone_sets,
            deleted,
            expected: p.expected.len(),
            problem,
            listing_ms: None,
        });
        if (i + 1) % 25 == 0 {
            eprintln!("bench: event storm: {} of {} events", i + 1, planned.len());
        }
    }
    delivered
}

/// Route 53 requests the rate limit answered with `Throttling`, by operation.
async fn throttled(aws: &LocalAws) -> BTreeMap<String, u64> {
    let v = aws
        .control(reqwest::Method::GET, "throttled", Value::Null)
        .await;
    serde_json::from_value(v).unwrap_or_default()
}

/// How many records the event's report deleted, and what was wrong with it: it
/// must have deleted exactly `expected`, as `task-stopped`, held nothing, and
/// reported no error.
fn check(outcome: Option<Outcome>, expected: &BTreeSet<Key>) -> (usize, Option<String>) {
    let report = match outcome.map(|o| o.posted) {
        None => return (0, Some("no response within the deadline".to_string())),
        Some(Posted::Error { body, .. }) => return (0, Some(format!("invocation error: {body}"))),
        Some(Posted::Response(report)) => report,
    };
    let deleted: Vec<&Value> = report["deleted"].as_array().into_iter().flatten().collect();
    let keys: BTreeSet<Key> = deleted.iter().map(|d| report_key(d)).collect();
    let mut problems = Vec::new();
    if report["trigger"] != "ecs-task-stopped" {
        problems.push(format!("trigger {}", report["trigger"]));
    }
    if !report["ignored"].is_null() {
        problems.push(format!("ignored: {}", report["ignored"]));
    }
    if report["complete"] != true {
        problems.push("incomplete".to_string());
    }
    for field in ["errors", "held"] {
        if report[field].as_array().is_some_and(|a| !a.is_empty()) {
            problems.push(format!("{field}: {}", report[field]));
        }
    }
    if deleted.iter().any(|d| d["reason"] != "task-stopped") {
        problems.push("a deletion not for `task-stopped`".to_string());
    }
    if keys != *expected || deleted.len() != expected.len() {
        problems.push(format!(
            "deleted {:?}, expected {expected:?}",
            keys.iter().collect::<Vec<_>>()
        ));
    }
    let problem = (!problems.is_empty()).then(|| problems.join("; "));
    (deleted.len(), problem)
}

/// Adds each event's `listing_ms`, from the function's `sweep summary` lines (one
/// per invocation, in order), when there is one line per event.
fn with_listing_times(mut delivered: Vec<Delivered>, stderr_log: &Path) -> Vec<Delivered> {
    let text = std::fs::read_to_string(stderr_log).unwrap_or_default();
    let listings: Vec<Option<u64>> = text
        .lines()
        .filter_map(summary_line)
        .map(|s| s.get("listing_ms").and_then(Value::as_u64))
        .collect();
    if listings.len() == delivered.len() {
        for (d, ms) in delivered.iter_mut().zip(listings) {
            d.listing_ms = ms;
        }
    } else {
        eprintln!(
            "bench: event storm: {} summary lines for {} events: no listing times",
            listings.len(),
            delivered.len()
        );
    }
    delivered
}

/// One JSON line per event, for a closer look.
fn save_events(delivered: &[Delivered], path: &Path) {
    let lines: Vec<String> = delivered
        .iter()
        .map(|e| {
            json!({
                "kind": e.kind.short(),
                "round_trip_ms": e.round_trip_ms,
                "route53": e.route53(),
                "minimum_route53": e.minimum_route53,
                "zone_sets": e.zone_sets,
                "answered": e.answered(),
                "throttled": e.throttled,
                "deleted": e.deleted,
                "expected": e.expected,
                "problem": e.problem,
                "listing_ms": e.listing_ms,
            })
            .to_string()
        })
        .collect();
    let _ = std::fs::write(path, lines.join("\n") + "\n");
}

/// The zone after the storm against the zone before, less the records the events
/// were to delete.
fn zone_check(before: &HashSet<Key>, after: &HashSet<Key>, planned: &[Planned]) -> ZoneCheck {
    let gone: HashSet<&Key> = planned.iter().flat_map(|p| &p.expected).collect();
    let also_gone = before
        .iter()
        .filter(|k| !gone.contains(k) && !after.contains(*k))
        .count();
    let left = gone.iter().filter(|k| after.contains(**k)).count();
    ZoneCheck {
        before: before.len(),
        after: after.len(),
        expected_gone: gone.len(),
        also_gone,
        left,
    }
}
