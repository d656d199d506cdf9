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
//!     [--startup-runs N] [--storm-events N] [--storm-extra N] [--binary PATH]
//!     [--out FILE | --no-write] [--dry-run] [--hold-secs N]
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
//! Then the zone's pages are walked once as the sweep walks them (`list_zone`)
//! with nothing else running (a reference for the listing phase), the call
//! counters are reset and ONE `ecs-dns-reaper sweep` runs (the release
//! build, `RUST_LOG=info`, the SPEC's default health settings, under Lambda's
//! open-file limit of 1,024), timed from spawn to exit, its peak RSS read by GNU
//! time (or from /proc). The phases come from its `sweep summary` log line (the
//! JSON object of its `summary=` field). Then the same binary is started ~10
//! times as a Lambda runtime against the tests' Runtime API
//! (`tests/support/runtime_api.rs`), timed from spawn to its first
//! `GET …/invocation/next`.
//!
//! Last, the event storm (`bench/storm.rs`): `--storm-events` tasks of the estate
//! are stopped in ECS and their `ECS Task State Change` STOPPED events delivered
//! one after the other to ONE warm process of the release binary through the same
//! Runtime API (as Lambda does with reserved concurrency 1), with Route 53's rate
//! limit on (5 requests a second, burst 5), then `--storm-extra` events of tasks
//! declaring one name and as many of tasks declaring none ECS can show (the whole
//! zone is listed: the behaviour before). Per event: the AWS calls by operation,
//! the throttled replies, the round trip, and what the report deleted.
//!
//! `bench/estate.rs` builds the estate, `bench/minimum.rs` counts the fewest calls
//! a sweep (and an event) of it can make, `bench/storm.rs` runs the event storm,
//! `bench/report.rs` writes the report.
//!
//! The table goes to stdout and into `BENCHMARKS.md`, between the markers
//! `<!-- bench:begin -->` and `<!-- bench:end -->` (the rest of the file is kept);
//! the sweep's stderr and report, and the storm's logs, go to `target/bench/`.
//! `--dry-run` measures `sweep --dry-run` and runs no storm (the estate stays as
//! built), and `--hold-secs` keeps the estate up afterwards, for profiling against
//! it; everything stops by itself.

#[path = "bench/estate.rs"]
mod estate;
#[path = "bench/minimum.rs"]
mod minimum;
#[path = "bench/report.rs"]
mod report;
#[path = "bench/storm.rs"]
mod storm;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_route53::types::ResourceRecordSet;
use clap::Parser;
use serde_json::{Map, Value};
use support::runtime_api::RuntimeApi;
use support::{Estate, LocalAws};

const APEX: &str = "servicediscovery.internal";
/// 127.NET.0.0/16: tests use 127.1–219 (tests/support/estate.rs), the bench its own.
const NET: u8 = 230;
const SEED: u64 = 5;
/// Lambda's open-file limit; the sweep runs under it.
const LAMBDA_NOFILE: u64 = 1024;
/// StartTask places one task per listed container instance; at most this many per call.
const START_BATCH: usize = 100;

/// A sweep still running after this is stopped (the bench must end by itself).
const SWEEP_LIMIT: Duration = Duration::from_secs(1800);

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
    /// Task-stopped events of the estate's tasks in the event storm (at most one a
    /// task; 0 and `--storm-extra 0`: no storm).
    #[arg(long, default_value_t = 100)]
    storm_events: usize,
    /// Events of each extra kind in the storm: tasks declaring one name, and tasks
    /// declaring none that ECS can show (the whole zone is listed, as before).
    #[arg(long, default_value_t = 5)]
    storm_extra: usize,
    /// After the report, keep the estate up this many seconds (at most an hour) and
    /// print the environment for more sweeps against it: `sweep --dry-run` leaves it
    /// as built, for profiling (with `--dry-run`, no event storm changes it first).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3600))]
    hold_secs: u64,
}

impl Args {
    fn task_count(&self) -> usize {
        self.tasks
            .unwrap_or_else(|| self.records.saturating_sub(self.instances) / 2)
    }
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
    /// The tasks started, in order (the event storm stops some of them).
    started: Vec<estate::BuiltTask>,
    /// Every record set written (the event storm writes back what the sweep deleted).
    sets: Vec<ResourceRecordSet>,
    build_secs: f64,
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
    let built = estate::build(&aws, &mut estate, &args).await;
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

    let (sweep, context, calls) = measure_sweep(&aws, &built, &args, &binary).await;
    eprintln!(
        "bench: timing start-to-ready ({} starts)",
        args.startup_runs
    );
    let ready = startup(&aws, &built, &binary, args.startup_runs).await;
    let storm = if args.dry_run || args.storm_events + args.storm_extra == 0 {
        None
    } else {
        Some(storm::run(&aws, &mut estate, &built, &sweep, &binary, &args).await)
    };
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);

    let table = report::render(&report::Run {
        args: &args,
        built: &built,
        sweep: &sweep,
        context: &context,
        calls: &calls,
        ready: &ready,
        storm: storm.as_ref(),
        binary: &binary,
        size,
    });
    println!("{table}");
    if !args.no_write {
        match report::write_report(&args.out, &table) {
            Ok(()) => eprintln!("bench: wrote {}", args.out.display()),
            Err(e) => eprintln!("bench: cannot write {}: {e}", args.out.display()),
        }
    }
    if args.hold_secs > 0 {
        hold(&aws, &built, &args).await;
    }
    drop(estate);
    drop(aws);
}

/// The listing alone, then the one sweep, with its AWS calls and the CPU the
/// local AWS and the listeners used alongside it.
async fn measure_sweep(
    aws: &LocalAws,
    built: &Built,
    args: &Args,
    binary: &Path,
) -> (Sweep, Context, BTreeMap<String, u64>) {
    eprintln!("bench: timing a listing of the zone alone, and the EC2 read alone");
    let alone = listing_alone(aws, &built.zone_id).await;
    let ec2_alone = ec2_alone(aws).await;
    aws.reset_calls().await;
    let before = cpu_snapshot();
    let sweep = run_sweep(aws, built, args, binary).await;
    let after = cpu_snapshot();
    let calls = aws.calls().await;
    let context = Context {
        listing_alone: alone,
        ec2_alone,
        localaws_cpu_s: match (before.localaws, after.localaws) {
            (Some(b), Some(a)) => Some(a - b),
            _ => None,
        },
        listeners_cpu_s: after.own - before.own,
    };
    (sweep, context, calls)
}

/// Keeps the estate up `--hold-secs`, printing the environment for more sweeps.
async fn hold(aws: &LocalAws, built: &Built, args: &Args) {
    eprintln!(
        "bench: the estate stays up {} s (a sweep deletes its dead records; `sweep --dry-run` changes nothing). Environment:",
        args.hold_secs
    );
    for (k, v) in sweep_env(aws, built, args) {
        eprintln!("export {k}={v}");
    }
    tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
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

/// What else was measured around the sweep.
struct Context {
    /// A walk of the zone's pages with nothing else asking the local AWS:
    /// (milliseconds, pages).
    listing_alone: Option<(f64, usize)>,
    /// The sweep's EC2 read (DescribeInstances, every page) with nothing else
    /// asking the local AWS, in ms: the part of `inventory_ms` that runs alongside
    /// the listing.
    ec2_alone: Option<f64>,
    /// CPU seconds the local AWS and this process (the estate's listeners) used
    /// while the sweep ran.
    localaws_cpu_s: Option<f64>,
    listeners_cpu_s: f64,
}

/// Lists the zone as the sweep does (`list_zone`: pages of 300), with nothing
/// else asking the local AWS: (milliseconds, pages), or `None` if it failed.
async fn listing_alone(aws: &LocalAws, zone_id: &str) -> Option<(f64, usize)> {
    let client = aws.route53();
    let started = Instant::now();
    let listing = ecs_dns_reaper::aws::route53::list_zone(&client, zone_id).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(failure) = listing.failure {
        eprintln!("bench: the listing alone failed: {failure}");
        return None;
    }
    Some((ms, listing.pages))
}

/// Reads EC2 as the sweep does (`describe_instances`, every page), with nothing
/// else asking the local AWS: milliseconds, or `None` if it failed.
async fn ec2_alone(aws: &LocalAws) -> Option<f64> {
    use ecs_dns_reaper::aws::ec2::{describe_instances, InstanceQuery};
    let client = aws.ec2();
    let started = Instant::now();
    match describe_instances(&client, InstanceQuery::All).await {
        Ok(_) => Some(started.elapsed().as_secs_f64() * 1000.0),
        Err(failure) => {
            eprintln!("bench: the EC2 read alone failed: {failure}");
            None
        }
    }
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
    let cmd = sweep_command(binary, args, env, gnu_time.then_some(rss_file.as_path()));
    eprintln!(
        "bench: one sweep ({} ms × {} attempts per endpoint)",
        args.timeout_ms, args.attempts
    );
    let timed = tokio::task::spawn_blocking(move || run_timed(cmd))
        .await
        .expect("sweep thread");
    let (stdout, stderr) = (&timed.stdout, &timed.stderr);
    save_logs(stdout, stderr);
    if !timed.status.success() {
        eprintln!("bench: the sweep failed ({}):\n{stderr}", timed.status);
        std::process::exit(1);
    }
    let report: Value = serde_json::from_str(stdout).unwrap_or_else(|e| {
        eprintln!("bench: the sweep's report is not JSON ({e}):\n{stdout}");
        std::process::exit(1);
    });
    let phases = phases(stderr);
    let (gnu_rss_kib, cpu_secs) = gnu_time_figures(&rss_file);
    let (peak_rss_kib, rss_source) = match gnu_rss_kib {
        Some(kib) if gnu_time => (Some(kib), "GNU time (ru_maxrss)"),
        _ => (timed.polled_rss_kib, "VmHWM polled every 5 ms"),
    };
    let _ = std::fs::remove_file(&rss_file);
    Sweep {
        wall_ms: timed.wall_ms,
        peak_rss_kib,
        rss_source,
        cpu_secs,
        loadavg,
        report,
        phases,
        max_delete_percent,
    }
}

/// `binary sweep` with exactly `env` (plus PATH) under Lambda's open-file limit;
/// under GNU time writing to `rss_file` when given.
fn sweep_command(
    binary: &Path,
    args: &Args,
    env: Vec<(&'static str, String)>,
    rss_file: Option<&Path>,
) -> Command {
    let mut cmd = match rss_file {
        Some(rss_file) => {
            let mut c = Command::new("/usr/bin/time");
            c.arg("-f")
                .arg("%M %U %S")
                .arg("-o")
                .arg(rss_file)
                .arg("sh");
            c
        }
        None => Command::new("sh"),
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
    cmd
}

/// A process run to its end.
struct Timed {
    wall_ms: f64,
    stdout: String,
    stderr: String,
    status: std::process::ExitStatus,
    /// The highest VmHWM seen while it ran, in KiB.
    polled_rss_kib: Option<u64>,
}

/// Runs `cmd` to its end (stopped past `SWEEP_LIMIT`), timed from spawn to exit,
/// polling its VmHWM every 5 ms. Blocking.
fn run_timed(mut cmd: Command) -> Timed {
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn the sweep");
    let pid = child.id();
    let out_reader = read_all(child.stdout.take().expect("stdout"));
    let err_reader = read_all(child.stderr.take().expect("stderr"));
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
    Timed {
        wall_ms,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        status,
        polled_rss_kib: polled,
    }
}

/// Reads `pipe` to its end on a thread of its own.
fn read_all(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

/// The sweep's logs and report, for a closer look, in `target/bench/`.
fn save_logs(stdout: &str, stderr: &str) {
    let logs = target_dir().join("bench");
    if std::fs::create_dir_all(&logs).is_ok() {
        let _ = std::fs::write(logs.join("sweep.stderr.log"), stderr);
        let _ = std::fs::write(logs.join("sweep.report.json"), stdout);
        eprintln!(
            "bench: the sweep's log and report are in {}",
            logs.display()
        );
    }
}

/// The phases of the last `sweep summary` line of `stderr`.
fn phases(stderr: &str) -> BTreeMap<&'static str, u64> {
    let summary = summary_fields(stderr).unwrap_or_default();
    let mut phases = BTreeMap::new();
    for key in [
        "listing_ms",
        "inventory_ms",
        "health_ms",
        "apply_ms",
        "duration_ms",
    ] {
        if let Some(v) = summary.get(key).and_then(Value::as_u64) {
            phases.insert(key, v);
        }
    }
    if phases.len() < 5 {
        let last = stderr
            .lines()
            .rev()
            .find(|l| l.contains("sweep summary"))
            .unwrap_or("(none)");
        eprintln!("bench: no complete `sweep summary` line on the sweep's stderr:\n{last}");
    }
    phases
}

/// The fields of the last `sweep summary` line of `stderr`.
fn summary_fields(stderr: &str) -> Option<Map<String, Value>> {
    stderr.lines().rev().find_map(summary_line)
}

/// The fields of one `sweep summary` log line, in either log format: a JSON line
/// (Lambda) has them at top level, next to `"message": "sweep summary"`; a plain
/// line (the command line) carries them as one JSON object, `summary={…}`.
fn summary_line(line: &str) -> Option<Map<String, Value>> {
    if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(line) {
        let is_summary = fields.get("message").and_then(Value::as_str) == Some("sweep summary");
        return is_summary.then_some(fields);
    }
    if !line.contains("sweep summary") {
        return None;
    }
    const FIELD: &str = "summary={";
    let at = line.find(FIELD)? + FIELD.len() - 1;
    // The object ends where its JSON ends: read one value, ignore what follows.
    let mut values = serde_json::Deserializer::from_str(&line[at..]).into_iter::<Value>();
    match values.next()? {
        Ok(Value::Object(fields)) => Some(fields),
        _ => None,
    }
}

/// GNU time's last line in `rss_file`, `<max RSS KiB> <user s> <system s>`: the
/// peak RSS and the (user, system) CPU seconds.
fn gnu_time_figures(rss_file: &Path) -> (Option<u64>, Option<(f64, f64)>) {
    let timed: Vec<String> = std::fs::read_to_string(rss_file)
        .ok()
        .and_then(|t| t.lines().last().map(String::from))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let cpu_secs = match (
        timed.get(1).and_then(|u| u.parse().ok()),
        timed.get(2).and_then(|s| s.parse().ok()),
    ) {
        (Some(user), Some(sys)) => Some((user, sys)),
        _ => None,
    };
    (timed.first().and_then(|k| k.parse().ok()), cpu_secs)
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

/// Start-to-ready of the Lambda runtime: spawn → first `GET …/invocation/next`.
struct Ready {
    samples_ms: Vec<f64>,
}

impl Ready {
    fn median(&self) -> Option<f64> {
        median(&self.samples_ms)
    }
}

/// The median of `samples` (the mean of the middle two for an even count).
fn median(samples: &[f64]) -> Option<f64> {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

/// The `p`th percentile of `samples`, nearest rank: the smallest sample with at
/// least `p` % of the samples at or below it (the 99th of 100 is the 99th smallest,
/// of 5 the largest).
fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s.get(rank.clamp(1, s.len().max(1)) - 1).copied()
}

/// Starts `binary` as a Lambda runtime `runs` times against a Runtime API here,
/// timing each from spawn to its first `GET …/invocation/next`.
async fn startup(aws: &LocalAws, built: &Built, binary: &Path, runs: usize) -> Ready {
    let api = RuntimeApi::start().await;
    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", built.zone_id.clone()));
    env.extend(api.lambda_env());
    let mut samples = Vec::new();
    for run in 0..runs {
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let polls = api.state(|s| s.polls);
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn the Lambda runtime");
        let ready = api.poll_arrival(polls + 1, Duration::from_secs(10)).await;
        let _ = child.kill();
        let _ = child.wait();
        match ready {
            Some(at) => samples.push(at.duration_since(started).as_secs_f64() * 1000.0),
            None => eprintln!("bench: start {run}: no `next` request within 10 s"),
        }
    }
    Ready {
        samples_ms: samples,
    }
}
