//! A process run to its end, timed from spawn to exit, with its peak RSS
//! (polled from /proc, or from GNU time) and CPU time.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::SWEEP_LIMIT;

/// A process run to its end.
pub(super) struct Timed {
    pub wall_ms: f64,
    pub stdout: String,
    pub stderr: String,
    pub status: std::process::ExitStatus,
    /// The highest VmHWM seen while it ran, in KiB.
    pub polled_rss_kib: Option<u64>,
}

/// Runs `cmd` to its end (stopped past `SWEEP_LIMIT`), timed from spawn to exit,
/// polling its VmHWM every 5 ms. Blocking.
pub(super) fn run_timed(mut cmd: Command) -> Timed {
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

/// GNU time's last line in `rss_file`, `<max RSS KiB> <user s> <system s>`: the
/// peak RSS and the (user, system) CPU seconds.
pub(super) fn gnu_time_figures(rss_file: &Path) -> (Option<u64>, Option<(f64, f64)>) {
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
