//! The one sweep: the listing and the EC2 read alone for reference, then one
//! `ecs-dns-reaper sweep` of the release binary under Lambda's open-file limit,
//! with the CPU the local AWS and the estate's listeners used alongside it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use super::summary::phases;
use super::support::LocalAws;
use super::timed::{gnu_time_figures, run_timed};
use super::{target_dir, Args, Built, LAMBDA_NOFILE};

/// The listing alone, then the one sweep, with its AWS calls and the CPU the
/// local AWS and the listeners used alongside it.
pub(super) async fn measure_sweep(
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

/// What else was measured around the sweep.
pub(super) struct Context {
    /// A walk of the zone's pages with nothing else asking the local AWS:
    /// (milliseconds, pages).
    pub listing_alone: Option<(f64, usize)>,
    /// The sweep's EC2 read (DescribeInstances, every page) with nothing else
    /// asking the local AWS, in ms: the part of `inventory_ms` that runs alongside
    /// the listing.
    pub ec2_alone: Option<f64>,
    /// CPU seconds the local AWS and this process (the estate's listeners) used
    /// while the sweep ran.
    pub localaws_cpu_s: Option<f64>,
    pub listeners_cpu_s: f64,
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
pub(super) struct CpuSnapshot {
    pub own: f64,
    pub localaws: Option<f64>,
}

pub(super) fn cpu_snapshot() -> CpuSnapshot {
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
pub(super) struct Sweep {
    pub wall_ms: f64,
    pub peak_rss_kib: Option<u64>,
    pub rss_source: &'static str,
    /// /proc/loadavg just before the sweep: other work on the machine skews timings.
    pub loadavg: String,
    /// User and system CPU seconds (GNU time).
    pub cpu_secs: Option<(f64, f64)>,
    pub report: Value,
    /// `listing_ms`, `inventory_ms`, `health_ms`, `apply_ms`, `duration_ms`.
    pub phases: BTreeMap<&'static str, u64>,
    pub max_delete_percent: Option<u8>,
}

pub(super) fn sweep_env(aws: &LocalAws, built: &Built, args: &Args) -> Vec<(&'static str, String)> {
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
    eprintln!(
        "bench: one sweep ({} ms × {} attempts per endpoint)",
        args.timeout_ms, args.attempts
    );
    run_measured(binary, args, env, max_delete_percent, "sweep").await
}

/// Runs `binary sweep` (`--dry-run` with `--dry-run`) with exactly `env` under
/// Lambda's open-file limit, timed from spawn to exit, with its peak RSS from GNU
/// time when present (else polled from /proc); its logs go to
/// `target/bench/<name>.*`. A failed sweep ends the bench.
pub(super) async fn run_measured(
    binary: &Path,
    args: &Args,
    env: Vec<(&'static str, String)>,
    max_delete_percent: Option<u8>,
    name: &str,
) -> Sweep {
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "?".into());
    let gnu_time = Path::new("/usr/bin/time").exists();
    let rss_file =
        std::env::temp_dir().join(format!("ecs-dns-reaper-bench-{}.rss", std::process::id()));
    let cmd = sweep_command(binary, args, env, gnu_time.then_some(rss_file.as_path()));
    let timed = tokio::task::spawn_blocking(move || run_timed(cmd))
        .await
        .expect("sweep thread");
    let (stdout, stderr) = (&timed.stdout, &timed.stderr);
    save_logs(name, stdout, stderr);
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

/// The sweep's logs and report, for a closer look, in `target/bench/<name>.*`.
fn save_logs(name: &str, stdout: &str, stderr: &str) {
    let logs = target_dir().join("bench");
    if std::fs::create_dir_all(&logs).is_ok() {
        let _ = std::fs::write(logs.join(format!("{name}.stderr.log")), stderr);
        let _ = std::fs::write(logs.join(format!("{name}.report.json")), stdout);
        eprintln!(
            "bench: the sweep's log and report are in {}",
            logs.display()
        );
    }
}
