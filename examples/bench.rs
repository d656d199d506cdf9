//! `make bench`: a synthetic estate on the local AWS, one sweep of the release
//! binary, and a report of where the time, the API calls and the memory went.
//!
//! It is a benchmark, not a test: it measures and reports, it asserts nothing.
//! Every figure in the table comes from the one run it prints.
//!
//! ```text
//! cargo build --release --bin ecs-dns-reaper
//! cargo run --example bench -- [--records N] [--dead-percent P] [--clusters C]
//!     [--instances I] [--tasks T] [--services S] [--timeout-ms MS] [--attempts N]
//!     [--startup-runs N] [--binary PATH] [--out FILE | --no-write] [--dry-run]
//!     [--hold-secs N]
//! ```
//!
//! The estate: `--clusters` ECS clusters sharing `--instances` container instances
//! on 127.230.x.y (a net no test uses), `--services` task definitions, and running
//! tasks each with one container that has two dynamic host ports: port 80 behind a
//! weighted SRV record `<svc>.<apex>`, port 81 behind a weighted CNAME record
//! `<svc>-www.<apex>`, both with a real listener. Every host also has its A record.
//! So records = instances + 2 × tasks; `--records` picks the task count.
//! `--dead-percent` of the tasks (spread at random, seeded) are dead: half answer
//! HTTP 500, half accept and never answer.
//!
//! Then the zone's pages are walked once over plain HTTP with nothing else running
//! (a reference for the listing phase), the call counters are reset and ONE
//! `ecs-dns-reaper sweep` runs (the release
//! build, `RUST_LOG=info`, the SPEC's default health settings, under Lambda's
//! open-file limit of 1,024), timed from spawn to exit, its peak RSS read by GNU
//! time (or from /proc). The phases come from its `sweep summary` log line. Then the
//! same binary is started ~10 times as a Lambda runtime against a Runtime API
//! listener here, timed from spawn to its first `GET …/invocation/next`.
//!
//! The table goes to stdout and into `BENCHMARKS.md`, between the markers
//! `<!-- bench:begin -->` and `<!-- bench:end -->` (the rest of the file is kept);
//! the sweep's stderr and report go to `target/bench/`. `--dry-run` measures
//! `sweep --dry-run` (the estate stays as built) and `--hold-secs` keeps the estate
//! up afterwards, for profiling against it; everything stops by itself.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Read as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, NetworkMode, PortMapping};
use aws_sdk_route53::types::RrType;
use clap::Parser;
use serde_json::{json, Value};
use support::{record, Behaviour, Estate, LocalAws};

const APEX: &str = "servicediscovery.internal";
/// 127.NET.0.0/16: tests use 127.1–219 (tests/support/mod.rs), the bench its own.
const NET: u8 = 230;
const SEED: u64 = 5;
/// Lambda's open-file limit; the sweep runs under it.
const LAMBDA_NOFILE: u64 = 1024;
/// StartTask places one task per listed container instance; at most this many per call.
const START_BATCH: usize = 100;

/// Route 53 and ECS / EC2 page and batch limits, for the minimum call counts.
const R53_PAGE: usize = 300;
use ecs_dns_reaper::aws::changes::{
    MAX_BATCH_RECORDS as R53_BATCH_RECORDS, MAX_BATCH_VALUE_CHARS as R53_BATCH_CHARS,
};
const ECS_PAGE: usize = 100;
const ECS_DESCRIBE: usize = 100;
const EC2_PAGE: usize = 1000;

/// A sweep still running after this is stopped (the bench must end by itself).
const SWEEP_LIMIT: Duration = Duration::from_secs(1800);

/// Targets (issue 5).
const TARGET_SWEEP_WINDOWS: f64 = 1.5;
const TARGET_RSS_MIB: f64 = 64.0;
const TARGET_READY_MS: f64 = 50.0;

#[derive(Parser, Debug, Clone)]
#[command(about = "Benchmark one sweep of the release build against a synthetic estate.")]
struct Args {
    /// Owned records to build: one A record per instance, an SRV and a CNAME per task.
    #[arg(long, default_value_t = 10_000)]
    records: usize,
    /// Share of tasks whose targets are dead (half HTTP 500, half never answer).
    #[arg(long, default_value_t = 10)]
    dead_percent: u8,
    /// ECS clusters.
    #[arg(long, default_value_t = 2)]
    clusters: usize,
    /// Container instances (EC2 instances on loopback addresses), across the clusters.
    #[arg(long, default_value_t = 100)]
    instances: usize,
    /// Running tasks; overrides the count `--records` implies.
    #[arg(long)]
    tasks: Option<usize>,
    /// Distinct services (task definitions).
    #[arg(long, default_value_t = 20)]
    services: usize,
    /// HEALTH_CHECK_TIMEOUT_MS for the sweep (SPEC default).
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// HEALTH_CHECK_ATTEMPTS for the sweep (SPEC default).
    #[arg(long, default_value_t = 3)]
    attempts: u32,
    /// Starts of the Lambda runtime timed for start-to-ready.
    #[arg(long, default_value_t = 10)]
    startup_runs: usize,
    /// The binary to measure (default: target/release/ecs-dns-reaper).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Where the table goes (between the bench markers).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Print the table only.
    #[arg(long)]
    no_write: bool,
    /// Measure a `sweep --dry-run` (decides, deletes nothing: the estate stays as built).
    #[arg(long)]
    dry_run: bool,
    /// After the report, keep the estate up this many seconds (at most an hour) and
    /// print the environment for more sweeps against it: `sweep --dry-run` leaves it
    /// as built, for profiling.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3600))]
    hold_secs: u64,
}

impl Args {
    fn task_count(&self) -> usize {
        self.tasks
            .unwrap_or_else(|| self.records.saturating_sub(self.instances) / 2)
    }
}

/// One started task, as the estate needs it.
struct BuiltTask {
    cluster: usize,
    host: usize,
    service: usize,
    arn: String,
    runtime_id: String,
    srv_port: u16,
    www_port: u16,
}

/// What was built, for the minimum call counts and the expected outcome.
struct Built {
    zone_id: String,
    clusters: Vec<String>,
    /// Container instances per cluster.
    instances_per_cluster: Vec<usize>,
    /// Running tasks per cluster.
    tasks_per_cluster: Vec<usize>,
    instances: usize,
    tasks: usize,
    definitions: usize,
    records: usize,
    dead_tasks: usize,
    hang_endpoints: usize,
    /// (name, type, set identifier) → characters in the value, for the delete batches.
    value_chars: HashMap<(String, String, Option<String>), usize>,
    build_secs: f64,
}

/// Deterministic pseudo-random numbers (splitmix64) for spreading the dead tasks.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.clusters == 0 || args.instances < args.clusters || args.services == 0 {
        eprintln!("bench: need at least one cluster, one instance per cluster and one service");
        std::process::exit(2);
    }
    if args.dead_percent > 100 {
        eprintln!("bench: --dead-percent is 0-100");
        std::process::exit(2);
    }
    let binary = args.binary.clone().unwrap_or_else(release_binary);
    if !binary.exists() {
        eprintln!(
            "bench: {} not found: run `cargo build --release --bin ecs-dns-reaper` (make bench does)",
            binary.display()
        );
        std::process::exit(2);
    }
    check_open_files(&args);

    eprintln!("bench: starting the local AWS");
    let aws = LocalAws::start().await;
    aws.seed(SEED).await;
    let mut estate = Estate::with_net(&aws, APEX, NET).await;
    let built = build(&aws, &mut estate, &args).await;
    eprintln!(
        "bench: estate built in {:.1} s: {} records, {} clusters, {} instances, {} tasks ({} dead), {} listeners",
        built.build_secs,
        built.records,
        built.clusters.len(),
        built.instances,
        built.tasks,
        built.dead_tasks,
        2 * built.tasks,
    );

    eprintln!("bench: timing a listing of the zone alone");
    let alone = listing_alone(&aws, &built.zone_id).await;
    aws.reset_calls().await;
    let before = cpu_snapshot();
    let sweep = run_sweep(&aws, &built, &args, &binary).await;
    let after = cpu_snapshot();
    let calls = aws.calls().await;
    let context = Context {
        listing_alone: alone,
        localaws_cpu_s: match (before.localaws, after.localaws) {
            (Some(b), Some(a)) => Some(a - b),
            _ => None,
        },
        listeners_cpu_s: after.own - before.own,
    };
    eprintln!(
        "bench: timing start-to-ready ({} starts)",
        args.startup_runs
    );
    let ready = startup(&aws, &built, &binary, args.startup_runs).await;
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);

    let table = render(
        &args, &built, &sweep, &context, &calls, &ready, size, &binary,
    );
    println!("{table}");
    if !args.no_write {
        match write_report(&args.out, &table) {
            Ok(()) => eprintln!("bench: wrote {}", args.out.display()),
            Err(e) => eprintln!("bench: cannot write {}: {e}", args.out.display()),
        }
    }
    if args.hold_secs > 0 {
        eprintln!(
            "bench: the estate stays up {} s (a sweep deletes its dead records; `sweep --dry-run` changes nothing). Environment:",
            args.hold_secs
        );
        for (k, v) in sweep_env(&aws, &built, &args) {
            eprintln!("export {k}={v}");
        }
        tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
    }
    drop(estate);
    drop(aws);
}

/// The cargo target directory this example runs from (`target/<profile>/examples/bench`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("target/<profile>/examples")
        .to_path_buf()
}

/// `target/release/ecs-dns-reaper`.
fn release_binary() -> PathBuf {
    target_dir().join("release").join("ecs-dns-reaper")
}

/// The estate holds a listener per endpoint plus the connections the hung ones
/// keep: the soft open-file limit must allow them (`make bench` raises it).
fn check_open_files(args: &Args) {
    let tasks = args.task_count();
    let dead = tasks * usize::from(args.dead_percent) / 100;
    let needed = 2 * tasks + 2 * dead * args.attempts as usize + 2048;
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(String::from))
        })
        .and_then(|soft| soft.parse::<usize>().ok());
    if let Some(limit) = limit.filter(|&l| l < needed) {
        eprintln!(
            "bench: the open-file limit is {limit}, the estate needs about {needed}: \
             run `ulimit -n {needed}` first (make bench raises it to the hard limit)"
        );
        std::process::exit(2);
    }
}

async fn build(aws: &LocalAws, estate: &mut Estate<'_>, args: &Args) -> Built {
    let started = Instant::now();
    let ecs = aws.ecs();
    let n_tasks = args.task_count();

    let mut clusters = Vec::new();
    for c in 0..args.clusters {
        clusters.push(estate.cluster(&format!("bench-{c}")).await);
    }
    eprintln!("bench: {} container instances", args.instances);
    // Hosts round-robin over the clusters, on 127.230.<i/200>.<10 + i%200>.
    let mut hosts_of: Vec<Vec<usize>> = vec![Vec::new(); args.clusters];
    for i in 0..args.instances {
        let c = i % args.clusters;
        let subnet = u8::try_from(i / 200).expect("at most 51,200 instances");
        let last = u8::try_from(10 + i % 200).expect("host byte");
        let h = estate.host(Some(&clusters[c]), subnet, last).await;
        hosts_of[c].push(h);
    }
    let ci_host: HashMap<String, usize> = estate
        .hosts
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.container_instance_arn.clone().map(|a| (a, i)))
        .collect();

    let mut definitions = Vec::new();
    for s in 0..args.services {
        definitions.push(register_definition(aws, &service_name(s)).await);
    }

    eprintln!("bench: {n_tasks} tasks");
    let mut tasks: Vec<BuiltTask> = Vec::with_capacity(n_tasks);
    let mut tasks_per_cluster = vec![0usize; args.clusters];
    let mut calls = 0usize;
    for (c, hosts) in hosts_of.iter().enumerate() {
        let mut remaining = n_tasks / args.clusters + usize::from(c < n_tasks % args.clusters);
        tasks_per_cluster[c] = remaining;
        // Rounds of one task per instance; each StartTask call one service.
        while remaining > 0 {
            let round = &hosts[..remaining.min(hosts.len())];
            for chunk in round.chunks(START_BATCH) {
                let service = calls % args.services;
                calls += 1;
                let arns: Vec<String> = chunk
                    .iter()
                    .map(|&h| estate.hosts[h].container_instance_arn.clone().expect("ci"))
                    .collect();
                let out = ecs
                    .start_task()
                    .cluster(&clusters[c])
                    .task_definition(&definitions[service])
                    .set_container_instances(Some(arns))
                    .send()
                    .await
                    .expect("StartTask");
                for t in out.tasks() {
                    let container = &t.containers()[0];
                    let port = |p: i32| {
                        container
                            .network_bindings()
                            .iter()
                            .find(|b| b.container_port() == Some(p))
                            .and_then(|b| b.host_port())
                            .and_then(|p| u16::try_from(p).ok())
                            .expect("dynamic host port")
                    };
                    tasks.push(BuiltTask {
                        cluster: c,
                        host: ci_host[t.container_instance_arn().expect("ci arn")],
                        service,
                        arn: t.task_arn().expect("task arn").to_string(),
                        runtime_id: container.runtime_id().expect("runtime id").to_string(),
                        srv_port: port(80),
                        www_port: port(81),
                    });
                }
                remaining -= chunk.len();
            }
        }
    }

    // Started an hour ago: past STARTUP_GRACE_SECONDS, so every target is checked.
    let started_at = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        - 3600.0;
    for chunk in tasks.chunks(500) {
        let entries: Vec<Value> = chunk
            .iter()
            .map(|t| json!({"cluster": clusters[t.cluster], "taskArn": t.arn, "startedAt": started_at}))
            .collect();
        aws.control(
            reqwest::Method::POST,
            "ecs/tasks",
            json!({ "tasks": entries }),
        )
        .await;
    }

    // Dead tasks: an exact share, spread at random (seeded).
    let n_dead = n_tasks * usize::from(args.dead_percent) / 100;
    let mut order: Vec<usize> = (0..n_tasks).collect();
    let mut rng = SplitMix(SEED);
    for i in (1..order.len()).rev() {
        let j = usize::try_from(rng.next() % (i as u64 + 1)).expect("index");
        order.swap(i, j);
    }
    let mut behaviour = vec![Behaviour::Healthy; n_tasks];
    for (k, &t) in order[..n_dead].iter().enumerate() {
        behaviour[t] = if k % 2 == 0 {
            Behaviour::Http500
        } else {
            Behaviour::Hang
        };
    }
    let hang_endpoints = 2 * behaviour.iter().filter(|b| **b == Behaviour::Hang).count();

    eprintln!("bench: {} listeners", 2 * n_tasks);
    for (t, b) in tasks.iter().zip(&behaviour) {
        let ip = estate.hosts[t.host].ip;
        estate.listen(ip, t.srv_port, *b).await;
        estate.listen(ip, t.www_port, *b).await;
    }

    let mut value_chars = HashMap::new();
    let mut sets = Vec::new();
    for t in &tasks {
        let dns = estate.hosts[t.host].dns.clone();
        let svc = service_name(t.service);
        let srv_value = format!("1 1 {} {dns}", t.srv_port);
        sets.push(record(
            &format!("{svc}.{APEX}."),
            RrType::Srv,
            Some(&format!("{dns}:{}", t.runtime_id)),
            Some(1),
            &[&srv_value],
        ));
        sets.push(record(
            &format!("{svc}-www.{APEX}."),
            RrType::Cname,
            Some(&t.runtime_id[..12]),
            Some(1),
            &[&dns],
        ));
    }
    for h in &estate.hosts {
        let [a, b, c, d] = h.ip.octets();
        sets.push(record(
            &format!("ip-{a}-{b}-{c}-{d}.{APEX}."),
            RrType::A,
            None,
            None,
            &[&h.ip.to_string()],
        ));
    }
    for s in &sets {
        let chars = s.resource_records().iter().map(|r| r.value().len()).sum();
        value_chars.insert(
            (
                s.name().to_string(),
                s.r#type().as_str().to_string(),
                s.set_identifier().map(String::from),
            ),
            chars,
        );
    }
    eprintln!("bench: {} records", sets.len());
    aws.create_records(&estate.zone_id, &sets).await;

    Built {
        zone_id: estate.zone_id.clone(),
        instances_per_cluster: hosts_of.iter().map(Vec::len).collect(),
        clusters,
        tasks_per_cluster,
        instances: args.instances,
        tasks: n_tasks,
        definitions: args.services.min(calls),
        records: sets.len(),
        dead_tasks: n_dead,
        hang_endpoints,
        value_chars,
        build_secs: started.elapsed().as_secs_f64(),
    }
}

fn service_name(s: usize) -> String {
    format!("svc-{s:02}")
}

/// A service's task definition: one container `app` declaring `SERVICE_80_NAME`
/// (the SRV record) and `SERVICE_81_NAME=<svc>-www` (the CNAME), dynamic host ports.
async fn register_definition(aws: &LocalAws, service: &str) -> String {
    let env = |k: &str, v: String| KeyValuePair::builder().name(k).value(v).build();
    let port = |p: i32| {
        PortMapping::builder()
            .container_port(p)
            .host_port(0)
            .build()
    };
    aws.ecs()
        .register_task_definition()
        .family(service)
        .network_mode(NetworkMode::Bridge)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("example/app:1")
                .memory(16)
                .cpu(8)
                .environment(env("SERVICE_80_NAME", service.to_string()))
                .environment(env("SERVICE_81_NAME", format!("{service}-www")))
                .port_mappings(port(80))
                .port_mappings(port(81))
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition")
        .task_definition()
        .and_then(|d| d.task_definition_arn())
        .expect("task definition arn")
        .to_string()
}

/// What else was measured around the sweep.
struct Context {
    /// A walk of the zone's pages with nothing else asking the local AWS:
    /// (milliseconds, pages).
    listing_alone: Option<(f64, usize)>,
    /// CPU seconds the local AWS and this process (the estate's listeners) used
    /// while the sweep ran.
    localaws_cpu_s: Option<f64>,
    listeners_cpu_s: f64,
}

/// Lists the zone page by page (MaxItems 300) over plain HTTP, without parsing
/// more than the cursor, as the sweep's listing would if nothing else ran.
async fn listing_alone(aws: &LocalAws, zone_id: &str) -> Option<(f64, usize)> {
    let http = reqwest::Client::builder().no_proxy().build().ok()?;
    let tag = |xml: &str, name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let at = xml.find(&open)? + open.len();
        let len = xml[at..].find(&format!("</{name}>"))?;
        Some(xml[at..at + len].to_string())
    };
    let started = Instant::now();
    let mut cursor: Option<(String, String, Option<String>)> = None;
    // Bounded: a zone of up to 3 million record sets.
    for page in 1..=10_000usize {
        let mut url = reqwest::Url::parse(&format!(
            "{}/2013-04-01/hostedzone/{zone_id}/rrset",
            aws.url
        ))
        .ok()?;
        url.query_pairs_mut().append_pair("maxitems", "300");
        if let Some((name, rtype, id)) = &cursor {
            url.query_pairs_mut()
                .append_pair("name", name)
                .append_pair("type", rtype);
            if let Some(id) = id {
                url.query_pairs_mut().append_pair("identifier", id);
            }
        }
        // The local AWS routes by the SigV4 credential scope; it checks no signature.
        let xml = http
            .get(url)
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/route53/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        if tag(&xml, "IsTruncated").as_deref() != Some("true") {
            return Some((started.elapsed().as_secs_f64() * 1000.0, page));
        }
        cursor = Some((
            tag(&xml, "NextRecordName")?,
            tag(&xml, "NextRecordType")?,
            tag(&xml, "NextRecordIdentifier"),
        ));
    }
    None
}

/// CPU seconds used so far by this process and by the local AWS (its Python child).
struct CpuSnapshot {
    own: f64,
    localaws: Option<f64>,
}

fn cpu_snapshot() -> CpuSnapshot {
    // utime + stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 Hz).
    let cpu = |pid: &str| -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    };
    let comm = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let mut children = Vec::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Ok(c) = std::fs::read_to_string(t.path().join("children")) {
                children.extend(c.split_whitespace().map(String::from));
            }
        }
    }
    CpuSnapshot {
        own: cpu("self").unwrap_or(0.0),
        localaws: children
            .iter()
            .find(|pid| comm(pid).starts_with("python"))
            .and_then(|pid| cpu(pid)),
    }
}

/// What the one sweep showed.
struct Sweep {
    wall_ms: f64,
    peak_rss_kib: Option<u64>,
    rss_source: &'static str,
    /// /proc/loadavg just before the sweep: other work on the machine skews timings.
    loadavg: String,
    /// User and system CPU seconds (GNU time).
    cpu_secs: Option<(f64, f64)>,
    report: Value,
    /// `listing_ms`, `inventory_ms`, `health_ms`, `apply_ms`, `duration_ms`.
    phases: BTreeMap<&'static str, u64>,
    max_delete_percent: Option<u8>,
}

fn sweep_env(aws: &LocalAws, built: &Built, args: &Args) -> Vec<(&'static str, String)> {
    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", built.zone_id.clone()));
    env.push(("HEALTH_CHECK_TIMEOUT_MS", args.timeout_ms.to_string()));
    env.push(("HEALTH_CHECK_ATTEMPTS", args.attempts.to_string()));
    env
}

/// Runs one sweep of `binary` under Lambda's open-file limit, timed from spawn to
/// exit, with its peak RSS from GNU time when present (else polled from /proc).
async fn run_sweep(aws: &LocalAws, built: &Built, args: &Args, binary: &Path) -> Sweep {
    let mut env = sweep_env(aws, built, args);
    env.push(("RUST_LOG", "info".into()));
    // Dead records are negative evidence: keep them under the default guard, or say so.
    let max_delete_percent = (args.dead_percent >= 50).then_some(100u8);
    if let Some(p) = max_delete_percent {
        env.push(("MAX_DELETE_PERCENT", p.to_string()));
    }
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "?".into());
    let gnu_time = Path::new("/usr/bin/time").exists();
    let rss_file =
        std::env::temp_dir().join(format!("ecs-dns-reaper-bench-{}.rss", std::process::id()));
    let mut cmd = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f")
            .arg("%M %U %S")
            .arg("-o")
            .arg(&rss_file)
            .arg("sh");
        c
    } else {
        Command::new("sh")
    };
    cmd.arg("-c")
        .arg(format!("ulimit -n {LAMBDA_NOFILE} && exec \"$0\" \"$@\""))
        .arg(binary)
        .arg("sweep")
        .args(args.dry_run.then_some("--dry-run"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    eprintln!(
        "bench: one sweep ({} ms × {} attempts per endpoint)",
        args.timeout_ms, args.attempts
    );
    let (wall_ms, stdout, stderr, status, polled) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn the sweep");
        let pid = child.id();
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let out_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        // Fallback RSS: VmHWM of the process (or of its child under GNU time).
        let mut polled: Option<u64> = None;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > SWEEP_LIMIT {
                eprintln!("bench: the sweep ran past {SWEEP_LIMIT:?}: stopping it");
                let _ = child.kill();
            }
            if let Some(hwm) = vm_hwm_kib(pid) {
                polled = Some(polled.map_or(hwm, |p: u64| p.max(hwm)));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
        (
            wall_ms,
            out_reader.join().unwrap_or_default(),
            err_reader.join().unwrap_or_default(),
            status,
            polled,
        )
    })
    .await
    .expect("sweep thread");
    // The sweep's logs and report, for a closer look.
    let logs = target_dir().join("bench");
    if std::fs::create_dir_all(&logs).is_ok() {
        let _ = std::fs::write(logs.join("sweep.stderr.log"), &stderr);
        let _ = std::fs::write(logs.join("sweep.report.json"), &stdout);
        eprintln!(
            "bench: the sweep's log and report are in {}",
            logs.display()
        );
    }
    if !status.success() {
        eprintln!("bench: the sweep failed ({status}):\n{stderr}");
        std::process::exit(1);
    }
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        eprintln!("bench: the sweep's report is not JSON ({e}):\n{stdout}");
        std::process::exit(1);
    });
    let summary = stderr
        .lines()
        .rev()
        .find(|l| l.contains("sweep summary"))
        .unwrap_or_default()
        .to_string();
    let mut phases = BTreeMap::new();
    for key in [
        "listing_ms",
        "inventory_ms",
        "health_ms",
        "apply_ms",
        "duration_ms",
    ] {
        if let Some(v) = log_field(&summary, key) {
            phases.insert(key, v);
        }
    }
    if phases.len() < 5 {
        eprintln!("bench: no complete `sweep summary` line on the sweep's stderr:\n{summary}");
    }
    // GNU time's last line: `<max RSS KiB> <user s> <system s>`.
    let timed: Vec<String> = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|t| t.lines().last().map(String::from))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let (peak_rss_kib, rss_source) = match timed.first().and_then(|k| k.parse().ok()) {
        Some(kib) if gnu_time => (Some(kib), "GNU time (ru_maxrss)"),
        _ => (polled, "VmHWM polled every 5 ms"),
    };
    let cpu_secs = match (
        timed.get(1).and_then(|u| u.parse().ok()),
        timed.get(2).and_then(|s| s.parse().ok()),
    ) {
        (Some(user), Some(sys)) => Some((user, sys)),
        _ => None,
    };
    let _ = std::fs::remove_file(&rss_file);
    Sweep {
        wall_ms,
        peak_rss_kib,
        rss_source,
        cpu_secs,
        loadavg,
        report,
        phases,
        max_delete_percent,
    }
}

/// VmHWM of `pid`, or of its only child (the sweep under `/usr/bin/time`), in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let read = |pid: &str| -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok();
    match children
        .as_deref()
        .and_then(|c| c.split_whitespace().next())
    {
        Some(child) => read(child).or_else(|| read(&pid.to_string())),
        None => read(&pid.to_string()),
    }
}

/// `key=123` in a plain tracing line.
fn log_field(line: &str, key: &str) -> Option<u64> {
    let needle = format!(" {key}=");
    let at = line.find(&needle)? + needle.len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Start-to-ready of the Lambda runtime: spawn → first `GET …/invocation/next`.
struct Ready {
    samples_ms: Vec<f64>,
}

impl Ready {
    fn median(&self) -> Option<f64> {
        let mut s = self.samples_ms.clone();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(s[n / 2]),
            _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
        }
    }
}

async fn startup(aws: &LocalAws, built: &Built, binary: &Path, runs: usize) -> Ready {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the Runtime API listener");
    let api = listener.local_addr().expect("addr").to_string();
    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", built.zone_id.clone()));
    env.extend(support::lambda_env(&api));
    let mut samples = Vec::new();
    for run in 0..runs {
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn the Lambda runtime");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut ready = None;
        // Connections until the `next` request arrives (bounded by the deadline).
        while ready.is_none() {
            let Ok(Ok((stream, _))) = tokio::time::timeout_at(deadline, listener.accept()).await
            else {
                break;
            };
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if let Ok(Ok(n)) = tokio::time::timeout_at(deadline, reader.read_line(&mut line)).await
            {
                if n > 0 && line.starts_with("GET /2018-06-01/runtime/invocation/next") {
                    ready = Some(started.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        match ready {
            Some(ms) => samples.push(ms),
            None => eprintln!("bench: start {run}: no `next` request within 10 s"),
        }
    }
    Ready {
        samples_ms: samples,
    }
}

/// The minimum number of calls of each operation this estate allows.
fn minimum_calls(built: &Built, sweep: &Sweep) -> BTreeMap<String, (u64, String)> {
    let ceil = |n: usize, per: usize| n.div_ceil(per) as u64;
    let pages = |n: usize, per: usize| ceil(n, per).max(1);
    let mut min = BTreeMap::new();
    let scanned = sweep.report["records"]["scanned"].as_u64().unwrap_or(0) as usize;
    min.insert(
        "route53:ListResourceRecordSets".to_string(),
        (
            pages(scanned, R53_PAGE),
            format!("⌈{scanned} record sets / {R53_PAGE}⌉"),
        ),
    );
    let deleted = sweep.report["deleted"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let chars: usize = deleted
        .iter()
        .map(|d| {
            let key = (
                d["name"].as_str().unwrap_or_default().to_string(),
                d["type"].as_str().unwrap_or_default().to_string(),
                d["set_identifier"].as_str().map(String::from),
            );
            built.value_chars.get(&key).copied().unwrap_or(0)
        })
        .sum();
    let batches = if sweep.report["dry_run"] == true {
        0
    } else {
        ceil(deleted.len(), R53_BATCH_RECORDS).max(ceil(chars, R53_BATCH_CHARS))
    };
    min.insert(
        "route53:ChangeResourceRecordSets".to_string(),
        (
            batches,
            format!(
                "max(⌈{} deletes / {R53_BATCH_RECORDS}⌉, ⌈{chars} value chars / {R53_BATCH_CHARS}⌉)",
                deleted.len()
            ),
        ),
    );
    let n = built.clusters.len();
    min.insert(
        "ecs:ListClusters".to_string(),
        (pages(n, ECS_PAGE), format!("⌈{n} clusters / {ECS_PAGE}⌉")),
    );
    let per_cluster = |counts: &[usize], per: usize, at_least_one: bool| -> u64 {
        counts
            .iter()
            .map(|&c| {
                if at_least_one {
                    pages(c, per)
                } else {
                    ceil(c, per)
                }
            })
            .sum()
    };
    let cis = &built.instances_per_cluster;
    let tasks = &built.tasks_per_cluster;
    let list = |v: &[usize]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" + ")
    };
    min.insert(
        "ecs:ListContainerInstances".to_string(),
        (
            per_cluster(cis, ECS_PAGE, true),
            format!("Σ ⌈({}) / {ECS_PAGE}⌉ per cluster", list(cis)),
        ),
    );
    min.insert(
        "ecs:DescribeContainerInstances".to_string(),
        (
            per_cluster(cis, ECS_DESCRIBE, false),
            format!("Σ ⌈({}) / {ECS_DESCRIBE}⌉ per cluster", list(cis)),
        ),
    );
    min.insert(
        "ecs:ListTasks".to_string(),
        (
            per_cluster(tasks, ECS_PAGE, true),
            format!("Σ ⌈({}) / {ECS_PAGE}⌉ per cluster", list(tasks)),
        ),
    );
    min.insert(
        "ecs:DescribeTasks".to_string(),
        (
            per_cluster(tasks, ECS_DESCRIBE, false),
            format!("Σ ⌈({}) / {ECS_DESCRIBE}⌉ per cluster", list(tasks)),
        ),
    );
    min.insert(
        "ecs:DescribeTaskDefinition".to_string(),
        (
            built.definitions as u64,
            format!("{} distinct definitions", built.definitions),
        ),
    );
    min.insert(
        "ec2:DescribeInstances".to_string(),
        (
            pages(built.instances, EC2_PAGE),
            format!("⌈{} instances / {EC2_PAGE}⌉", built.instances),
        ),
    );
    min
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quoted = args
        .iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=./".contains(c))
            {
                a.clone()
            } else {
                format!("'{a}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if std::env::var_os("MAKELEVEL").is_some() {
        if quoted.is_empty() {
            "make bench".to_string()
        } else {
            format!("make bench BENCH_ARGS=\"{quoted}\"")
        }
    } else {
        format!("cargo run --example bench -- {quoted}")
            .trim_end()
            .to_string()
    }
}

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim_end().to_string())
        .unwrap_or_else(|| "?".to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".to_string())
}

fn verdict(ratio: f64) -> &'static str {
    if ratio <= 1.0 {
        "met"
    } else {
        "missed"
    }
}

#[allow(clippy::too_many_arguments)]
fn render(
    args: &Args,
    built: &Built,
    sweep: &Sweep,
    context: &Context,
    calls: &BTreeMap<String, u64>,
    ready: &Ready,
    size: u64,
    binary: &Path,
) -> String {
    let mut o = String::new();
    let p = |k: &str| sweep.phases.get(k).copied();
    let fmt_ms = |v: Option<u64>| v.map_or("?".to_string(), |v| format!("{v} ms"));
    let window_ms = args.timeout_ms as f64 * f64::from(args.attempts);
    let listing = p("listing_ms").unwrap_or(0) as f64;
    let target_sweep = listing + TARGET_SWEEP_WINDOWS * window_ms;
    let sweep_ratio = sweep.wall_ms / target_sweep;
    let one_window_ratio = sweep.wall_ms / (listing + window_ms);
    let mins = minimum_calls(built, sweep);

    let _ = writeln!(o, "## `make bench` run\n");
    let _ = writeln!(o, "- command: `{}`", command_line());
    let _ = writeln!(
        o,
        "- date: {}",
        shell("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    );
    let _ = writeln!(
        o,
        "- machine: {} CPUs (`nproc`), {}; {}",
        shell("nproc", &[]),
        cpu_model(),
        shell("uname", &["-sr"])
    );
    let free = shell("free", &["-h"]);
    let mem = free
        .lines()
        .find(|l| l.starts_with("Mem:"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .map(|f| {
            format!(
                "{} total, {} available",
                f.get(1).unwrap_or(&"?"),
                f.last().unwrap_or(&"?")
            )
        })
        .unwrap_or_else(|| "?".into());
    let _ = writeln!(o, "- memory (`free -h`): {mem}");
    let _ = writeln!(o, "- toolchain: {}", shell("rustc", &["--version"]));
    let _ = writeln!(
        o,
        "- load average (1, 5, 15 min) just before the sweep: {}",
        sweep.loadavg
    );
    let _ = writeln!(
        o,
        "- source: `{}`; binary `{}` ({} bytes)",
        shell("git", &["describe", "--always", "--dirty"]),
        binary.display(),
        size
    );
    let _ = writeln!(
        o,
        "- estate: {} record sets scanned ({} owned: {} SRV + {} CNAME + {} host A), {} clusters, \
         {} container instances, {} running tasks of {} services, {} listeners; \
         {} dead tasks ({} %: {} answering HTTP 500, {} never answering = {} hung endpoints); built in {:.0} s",
        sweep.report["records"]["scanned"],
        sweep.report["records"]["owned"],
        built.tasks,
        built.tasks,
        built.instances,
        built.clusters.len(),
        built.instances,
        built.tasks,
        built.definitions,
        2 * built.tasks,
        built.dead_tasks,
        args.dead_percent,
        built.dead_tasks - built.hang_endpoints / 2,
        built.hang_endpoints / 2,
        built.hang_endpoints,
        built.build_secs,
    );
    let _ = writeln!(
        o,
        "- sweep settings: HEALTH_CHECK=http, HEALTH_CHECK_TIMEOUT_MS={}, HEALTH_CHECK_ATTEMPTS={}, \
         MAX_DELETE_PERCENT={}, open-file limit {LAMBDA_NOFILE} (Lambda's)",
        args.timeout_ms,
        args.attempts,
        sweep
            .max_delete_percent
            .map_or("50 (default)".to_string(), |p| format!("{p} (set: the dead share is over the default guard)")),
    );
    let r = &sweep.report;
    let deleted = r["deleted"].as_array().map_or(0, Vec::len);
    let unhealthy = r["deleted"].as_array().map_or(0, |d| {
        d.iter().filter(|x| x["reason"] == "unhealthy").count()
    });
    let held = r["held"].as_array().map_or(0, Vec::len);
    let _ = writeln!(
        o,
        "- outcome: kept {} (healthy {}, grace {}), deleted {} ({} unhealthy; expected {} = 2 × dead tasks), \
         held {}, guard tripped {}, complete {}, errors {}",
        r["records"]["owned"].as_u64().unwrap_or(0) as usize - deleted - held,
        r["kept"]["healthy"],
        r["kept"]["grace"],
        deleted,
        unhealthy,
        2 * built.dead_tasks,
        held,
        r["guard"]["tripped"],
        r["complete"],
        r["errors"].as_array().map_or(0, Vec::len),
    );

    let _ = writeln!(o, "\n### Targets\n");
    let _ = writeln!(o, "| target | measured | limit | measured / limit | |");
    let _ = writeln!(o, "|---|---:|---:|---:|---|");
    let _ = writeln!(
        o,
        "| sweep ≤ listing + 1.5 × window | {:.0} ms | {:.0} ms ({:.0} + 1.5 × {:.0}) | {:.2} | {} |",
        sweep.wall_ms,
        target_sweep,
        listing,
        window_ms,
        sweep_ratio,
        verdict(sweep_ratio)
    );
    let excess: Vec<String> = mins
        .iter()
        .filter(|(op, (m, _))| calls.get(*op).copied().unwrap_or(0) != *m)
        .map(|(op, _)| op.clone())
        .chain(calls.keys().filter(|op| !mins.contains_key(*op)).cloned())
        .collect();
    let total_calls: u64 = calls.values().sum();
    let total_min: u64 = mins.values().map(|(m, _)| m).sum();
    let calls_ratio = total_calls as f64 / total_min.max(1) as f64;
    let _ = writeln!(
        o,
        "| API calls = minimum, every operation | {total_calls} | {total_min} | {:.2} | {} |",
        calls_ratio,
        if excess.is_empty() {
            "met".to_string()
        } else {
            format!("missed: {}", excess.join(", "))
        }
    );
    match sweep.peak_rss_kib {
        Some(kib) => {
            let mib = kib as f64 / 1024.0;
            let ratio = mib / TARGET_RSS_MIB;
            let _ = writeln!(
                o,
                "| peak RSS of the sweep | {mib:.1} MiB | {TARGET_RSS_MIB:.0} MiB | {ratio:.2} | {} |",
                verdict(ratio)
            );
        }
        None => {
            let _ = writeln!(
                o,
                "| peak RSS of the sweep | ? | {TARGET_RSS_MIB:.0} MiB | ? | not measured |"
            );
        }
    }
    match ready.median() {
        Some(median) => {
            let ratio = median / TARGET_READY_MS;
            let _ = writeln!(
                o,
                "| start-to-ready (median of {}) | {median:.1} ms | {TARGET_READY_MS:.0} ms | {ratio:.2} | {} |",
                ready.samples_ms.len(),
                verdict(ratio)
            );
        }
        None => {
            let _ = writeln!(
                o,
                "| start-to-ready | ? | {TARGET_READY_MS:.0} ms | ? | not measured |"
            );
        }
    }

    let _ = writeln!(o, "\n### Sweep time\n");
    let _ = writeln!(o, "| | ms |");
    let _ = writeln!(o, "|---|---:|");
    let _ = writeln!(o, "| sweep, process spawn to exit | {:.0} |", sweep.wall_ms);
    let _ = writeln!(
        o,
        "| handler (`duration_ms`) | {} |",
        fmt_ms(p("duration_ms")).trim_end_matches(" ms")
    );
    let _ = writeln!(
        o,
        "| listing (Route 53) | {} |",
        fmt_ms(p("listing_ms")).trim_end_matches(" ms")
    );
    let _ = writeln!(
        o,
        "| inventory (ECS + EC2, alongside the listing) | {} |",
        fmt_ms(p("inventory_ms")).trim_end_matches(" ms")
    );
    let _ = writeln!(
        o,
        "| health checks | {} |",
        fmt_ms(p("health_ms")).trim_end_matches(" ms")
    );
    let _ = writeln!(
        o,
        "| deletes (apply) | {} |",
        fmt_ms(p("apply_ms")).trim_end_matches(" ms")
    );
    if let (Some(d), Some(l), Some(i), Some(h), Some(a)) = (
        p("duration_ms"),
        p("listing_ms"),
        p("inventory_ms"),
        p("health_ms"),
        p("apply_ms"),
    ) {
        let other = d as i64 - l.max(i) as i64 - h as i64 - a as i64;
        let _ = writeln!(
            o,
            "| rest of the handler (classify, plan, report) | {other} |"
        );
        let _ = writeln!(
            o,
            "| process start and exit around the handler | {:.0} |",
            sweep.wall_ms - d as f64
        );
    }
    let _ = writeln!(
        o,
        "| health-check window = {} ms × {} attempts | {window_ms:.0} |",
        args.timeout_ms, args.attempts
    );
    let _ = writeln!(
        o,
        "| sweep / (listing + one window) | {one_window_ratio:.2} |"
    );
    let _ = writeln!(
        o,
        "| (sweep − listing) / window (the target: ≤ {TARGET_SWEEP_WINDOWS}) | {:.2} |",
        (sweep.wall_ms - listing) / window_ms
    );
    if let (Some(l), Some(i)) = (p("listing_ms"), p("inventory_ms")) {
        let reads = l.max(i) as f64;
        let _ = writeln!(
            o,
            "| (sweep − AWS reads) / window, AWS reads = max(listing, inventory) = {reads:.0} ms | {:.2} |",
            (sweep.wall_ms - reads) / window_ms
        );
    }
    if let Some((ms, pages)) = context.listing_alone {
        let _ = writeln!(
            o,
            "| listing alone: the same {pages} pages with nothing else asking the local AWS | {ms:.0} |"
        );
    }

    let _ = writeln!(o, "\n### AWS API calls of the sweep\n");
    let _ = writeln!(
        o,
        "| operation | calls | minimum | minimum from | calls / minimum |"
    );
    let _ = writeln!(o, "|---|---:|---:|---|---:|");
    let mut ops: Vec<&String> = mins.keys().chain(calls.keys()).collect();
    ops.sort();
    ops.dedup();
    for op in ops {
        let got = calls.get(op).copied().unwrap_or(0);
        let (m, how) = mins
            .get(op)
            .cloned()
            .unwrap_or((0, "not needed".to_string()));
        let ratio = if m == 0 {
            if got == 0 {
                "1.00".to_string()
            } else {
                "∞".to_string()
            }
        } else {
            format!("{:.2}", got as f64 / m as f64)
        };
        let _ = writeln!(o, "| {op} | {got} | {m} | {how} | {ratio} |");
    }

    let _ = writeln!(o, "\n### Process\n");
    let _ = writeln!(o, "| | |");
    let _ = writeln!(o, "|---|---:|");
    if let Some(kib) = sweep.peak_rss_kib {
        let _ = writeln!(
            o,
            "| peak RSS of the sweep ({}) | {:.1} MiB |",
            sweep.rss_source,
            kib as f64 / 1024.0
        );
    }
    if let Some((user, sys)) = sweep.cpu_secs {
        let _ = writeln!(
            o,
            "| CPU time of the sweep: user + system (per distinct endpoint checked) | {user:.2} s + {sys:.2} s ({:.0} µs) |",
            (user + sys) * 1e6 / (2 * built.tasks).max(1) as f64
        );
    }
    let _ = writeln!(
        o,
        "| CPU used alongside the sweep: local AWS, estate listeners (machine: {} CPUs × {:.1} s) | {} s, {:.2} s |",
        shell("nproc", &[]),
        sweep.wall_ms / 1000.0,
        context
            .localaws_cpu_s
            .map_or("?".to_string(), |c| format!("{c:.2}")),
        context.listeners_cpu_s
    );
    let mut s = ready.samples_ms.clone();
    s.sort_by(f64::total_cmp);
    if let (Some(first), Some(last), Some(median)) = (s.first(), s.last(), ready.median()) {
        let _ = writeln!(
            o,
            "| start-to-ready, spawn → first `GET /2018-06-01/runtime/invocation/next`: median (min – max of {}) | {median:.1} ms ({first:.1} – {last:.1}) |",
            s.len()
        );
    }
    let _ = writeln!(
        o,
        "| release binary size | {} bytes ({:.2} MiB) |",
        size,
        size as f64 / (1024.0 * 1024.0)
    );
    o
}

const BEGIN: &str = "<!-- bench:begin (written by `make bench`; edit outside the markers) -->";
const END: &str = "<!-- bench:end -->";

/// Replaces the text between the markers in `path`, or writes a new file.
fn write_report(path: &Path, table: &str) -> std::io::Result<()> {
    let block = format!("{BEGIN}\n{table}{END}");
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find("<!-- bench:begin"), old.find(END)) {
            (Some(b), Some(e)) if b < e => {
                format!("{}{block}{}", &old[..b], &old[e + END.len()..])
            }
            _ => format!("{old}\n{block}\n"),
        },
        Err(_) => format!("# Benchmarks\n\n{block}\n"),
    };
    std::fs::write(path, text)
}
