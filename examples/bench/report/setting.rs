//! The report's setting: the command, machine, source, estate, sweep settings
//! and outcome.

use std::fmt::Write as _;
use std::process::Command;

use super::Run;
use crate::LAMBDA_NOFILE;

/// `## make bench run`: the command, machine, source, estate, settings, outcome.
pub(super) fn render_setting(o: &mut String, run: &Run) {
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
    let _ = writeln!(o, "- memory (`free -h`): {}", memory());
    let _ = writeln!(o, "- toolchain: {}", shell("rustc", &["--version"]));
    let _ = writeln!(
        o,
        "- load average (1, 5, 15 min) just before the sweep: {}",
        run.sweep.loadavg
    );
    let _ = writeln!(
        o,
        "- source: `{}`; binary `{}` ({} bytes)",
        shell("git", &["describe", "--always", "--dirty"]),
        run.binary.display(),
        run.size
    );
    render_estate(o, run);
    render_settings(o, run);
    render_outcome(o, run);
}

/// Total and available memory, from `free -h`.
fn memory() -> String {
    let free = shell("free", &["-h"]);
    free.lines()
        .find(|l| l.starts_with("Mem:"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .map(|f| {
            format!(
                "{} total, {} available",
                f.get(1).unwrap_or(&"?"),
                f.last().unwrap_or(&"?")
            )
        })
        .unwrap_or_else(|| "?".into())
}

fn render_estate(o: &mut String, run: &Run) {
    let (args, built, report) = (run.args, run.built, &run.sweep.report);
    let _ = writeln!(
        o,
        "- estate: {} record sets scanned ({} owned: {} SRV + {} CNAME + {} host A), {} clusters, \
         {} container instances, {} running tasks of {} services, {} listeners; \
         {} dead tasks ({} %: {} answering HTTP 500, {} never answering = {} hung endpoints); built in {:.0} s",
        report["records"]["scanned"],
        report["records"]["owned"],
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
}

fn render_settings(o: &mut String, run: &Run) {
    let _ = writeln!(
        o,
        "- sweep settings: HEALTH_CHECK=http, HEALTH_CHECK_TIMEOUT_MS={}, HEALTH_CHECK_ATTEMPTS={}, \
         MAX_DELETE_PERCENT={}, open-file limit {LAMBDA_NOFILE} (Lambda's)",
        run.args.timeout_ms,
        run.args.attempts,
        run.sweep
            .max_delete_percent
            .map_or("50 (default)".to_string(), |p| format!("{p} (set: the dead share is over the default guard)")),
    );
}

fn render_outcome(o: &mut String, run: &Run) {
    let r = &run.sweep.report;
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
        2 * run.built.dead_tasks,
        held,
        r["guard"]["tripped"],
        r["complete"],
        r["errors"].as_array().map_or(0, Vec::len),
    );
}

/// The command line that ran the bench, as one would type it again.
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

pub(super) fn shell(cmd: &str, args: &[&str]) -> String {
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
