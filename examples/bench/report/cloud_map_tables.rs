//! `### Cloud Map namespace`: the namespace's setting and outcome, whether the
//! sweep did exactly its job, its time and memory, and its AWS calls against
//! the minimum.

use std::fmt::Write as _;

use super::sweep_tables::render_calls;
use crate::cloud_map::plan::{Group, ServicePlan, DEAD_KINDS};
use crate::cloud_map::{minimum_calls, CloudMap, NAMESPACE};
use crate::{Args, LAMBDA_NOFILE};

/// `1 host`, `2 hosts`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `### Cloud Map namespace`: setting, outcome, correctness, time, calls.
pub(super) fn render_cloud_map(o: &mut String, cm: &CloudMap, args: &Args) {
    let _ = writeln!(
        o,
        "\n### Cloud Map namespace: one sweep with only `CLOUD_MAP_NAMESPACES`\n"
    );
    render_setting(o, cm, args);
    render_outcome(o, cm, args.dry_run);
    render_time(o, cm);
    let mins = minimum_calls(cm, args.dry_run);
    render_calls(o, "AWS API calls of the Cloud Map sweep", &cm.calls, &mins);
    let total: u64 = cm.calls.values().sum();
    let minimum: u64 = mins.values().map(|(m, _)| m).sum();
    let above: Vec<String> = mins
        .iter()
        .filter(|(op, (m, _))| cm.calls.get(*op).copied().unwrap_or(0) != *m)
        .map(|(op, (m, _))| {
            format!(
                "{op} {} (minimum {m})",
                cm.calls.get(op).copied().unwrap_or(0)
            )
        })
        .chain(
            cm.calls
                .iter()
                .filter(|(op, _)| !mins.contains_key(*op))
                .map(|(op, n)| format!("{op} {n} (not needed)")),
        )
        .collect();
    let _ = writeln!(
        o,
        "\nAll operations: {total} calls, minimum {minimum} ({:.2}); {}",
        total as f64 / minimum.max(1) as f64,
        if above.is_empty() {
            "every operation at its minimum.".to_string()
        } else {
            format!("not at the minimum: {}.", above.join("; "))
        }
    );
    render_operations(o, cm);
}

/// The most calls following the deregistrations (ListOperations and
/// GetOperation) per deregistration, beyond the DeregisterInstance itself.
pub(crate) const TARGET_FOLLOW_PER_DEREGISTRATION: f64 = 0.05;

/// ListOperations and GetOperation calls of the sweep per deregistration it
/// submitted; `None` without deregistrations.
pub(crate) fn follow_per_deregistration(cm: &CloudMap) -> Option<(u64, u64, f64)> {
    let call = |op: &str| cm.calls.get(op).copied().unwrap_or(0);
    let deregistrations = call("servicediscovery:DeregisterInstance");
    let follow = call("servicediscovery:ListOperations") + call("servicediscovery:GetOperation");
    (deregistrations > 0).then(|| {
        (
            follow,
            deregistrations,
            follow as f64 / deregistrations as f64,
        )
    })
}

/// The target row: calls following the deregistrations per deregistration.
pub(crate) fn render_follow_target(o: &mut String, cm: &CloudMap) {
    let Some((follow, deregistrations, each)) = follow_per_deregistration(cm) else {
        return;
    };
    let ratio = each / TARGET_FOLLOW_PER_DEREGISTRATION;
    let _ = writeln!(
        o,
        "| Cloud Map: ListOperations + GetOperation per deregistration ({follow} for {deregistrations}; ListOperations walks {} operations, {}) | {each:.3} | {TARGET_FOLLOW_PER_DEREGISTRATION} | {ratio:.2} | {} |",
        cm.operations_held,
        cm.list_order,
        crate::report::verdict(ratio)
    );
}

/// How the deregistrations were followed: the calls per deregistration, the
/// observations each operation took, and why.
fn render_operations(o: &mut String, cm: &CloudMap) {
    let ops: usize = cm.operation_polls.values().sum();
    let Some((follow, deregistrations, each)) = follow_per_deregistration(cm) else {
        return;
    };
    let call = |op: &str| cm.calls.get(op).copied().unwrap_or(0);
    let spread = cm
        .operation_polls
        .iter()
        .map(|(p, n)| {
            format!(
                "{n} took {}",
                plural(*p as usize, "observation", "observations")
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let local = match cm.pending_statuses.len() {
        0 => "completes an operation on its first observation".to_string(),
        n => format!(
            "answers the first {} of an operation {} and completes it on the next",
            plural(n, "observation", "observations"),
            cm.pending_statuses.join(", "),
        ),
    };
    let _ = writeln!(
        o,
        "\nFollowing the deregistrations: {follow} calls for {deregistrations} deregistrations \
         ({each:.3} each, target ≤ {TARGET_FOLLOW_PER_DEREGISTRATION}): {} ListOperations, {} GetOperation; \
         {ops} operations ({spread}). The reaper submits every DeregisterInstance first, then follows \
         them together in rounds 0.5 s, 1 s, then 2 s apart (`deregister_all`, src/aws/deregistration/) \
         with ListOperations filtered to deregistrations updated since the first submission; Cloud Map \
         pages before it filters, so a round pages until it has seen every operation it follows, and the \
         next round starts at the page where it saw the first. The local AWS walked the Region's \
         {} operations (registrations included) **{}** and {local}. Oldest first, the first round pages \
         through the whole history: the cost grows with the operations the Region holds, not with the \
         deregistrations; newest first (`--cloud-map-list-order newest-first`), each round reads only the \
         pages that hold the sweep's operations. AWS documents no order.",
        call("servicediscovery:ListOperations"),
        call("servicediscovery:GetOperation"),
        cm.operations_held,
        cm.list_order,
    );
}

fn render_setting(o: &mut String, cm: &CloudMap, args: &Args) {
    let b = &cm.built;
    let sizes: Vec<usize> = b.plans.iter().map(ServicePlan::total).collect();
    let n = b.instances.len();
    let _ = writeln!(
        o,
        "- namespace: `{NAMESPACE}` (`{}`), a private DNS namespace in the estate's VPC; {} services: \
         {} ECS services (SRV), {} script services (A), {} custom-health services (A, \
         `HealthCheckCustomConfig`); {n} instances, {}–{} a service",
        b.namespace_id,
        b.plans.len(),
        b.services(Group::Ecs),
        b.services(Group::Script),
        b.services(Group::Custom),
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0),
    );
    let count = |f: fn(&ServicePlan) -> usize| b.count(f);
    let (running, live) = (count(|p| p.running), count(|p| p.live));
    let dead = count(ServicePlan::dead);
    let negative = count(ServicePlan::negative);
    let _ = writeln!(
        o,
        "- instances: {running} ECS registrations of running tasks + {live} script registrations on \
         {} running hosts (answering listeners) = {} live; {} in custom-health services answering \
         HTTP 500 (to be marked UNHEALTHY); {dead} dead ({} %): {} task-stopped, {} task-gone \
         (task ids ECS never knew), {} instance-gone (on {}), {} host-unknown (on {} \
         nothing has), {} unhealthy (HTTP 500); guard candidates {negative} of {n} owned \
         ({:.1} %)",
        b.hosts.live,
        running + live,
        count(|p| p.sick),
        args.dead_percent,
        count(|p| p.stopped),
        count(|p| p.task_unknown),
        count(|p| p.host_gone),
        plural(b.hosts.gone, "terminated host", "terminated hosts"),
        count(|p| p.address_unknown),
        plural(b.hosts.unknown, "address", "addresses"),
        count(|p| p.failing),
        100.0 * negative as f64 / n.max(1) as f64,
    );
    let _ = writeln!(
        o,
        "- built last, after the zone's measurements, in {:.0} s: {} ECS tasks started for it on the estate's container \
         instances ({} then stopped), task ids in {} clusters, {} listeners; when the sweep ran, \
         {} EC2 instances in the Region and {} network interfaces in the VPC",
        b.build_secs,
        b.tasks_started,
        count(|p| p.stopped),
        b.tasks_per_cluster.len(),
        b.listeners,
        cm.ec2_instances,
        cm.network_interfaces,
    );
    let _ = writeln!(
        o,
        "- sweep settings: `CLOUD_MAP_NAMESPACES={NAMESPACE}` and no zone (a process of its own, \
         after the zone's), HEALTH_CHECK=http, HEALTH_CHECK_TIMEOUT_MS={}, HEALTH_CHECK_ATTEMPTS={}, \
         MAX_DELETE_PERCENT={}, open-file limit {LAMBDA_NOFILE}{}; load average just before: {}",
        args.timeout_ms,
        args.attempts,
        cm.sweep
            .max_delete_percent
            .map_or("50 (default)".to_string(), |p| format!("{p} (set: the dead share is over the default guard)")),
        if args.dry_run { "; `sweep --dry-run`" } else { "" },
        cm.sweep.loadavg,
    );
}

fn render_outcome(o: &mut String, cm: &CloudMap, dry_run: bool) {
    let entry = cm.sweep.report["cloud_map"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["namespace"] == NAMESPACE))
        .cloned()
        .unwrap_or_default();
    let len = |f: &str| entry[f].as_array().map_or(0, Vec::len);
    let v = &cm.verdict;
    let reasons = v
        .by_reason
        .iter()
        .map(|(r, (got, want))| format!("{r} {got}/{want}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        o,
        "- outcome (the report's entry): kept {} healthy + {} unhealthy (marked), deregistered {}, \
         held {}, health updates {}, guard tripped {} ({} candidates of {} owned, limit {} %), \
         complete {}, errors {}",
        entry["kept"]["healthy"],
        entry["kept"]["unhealthy"].as_u64().unwrap_or(0),
        len("deregistered"),
        len("held"),
        len("health_updates"),
        entry["guard"]["tripped"],
        entry["guard"]["negative"],
        entry["guard"]["owned"],
        entry["guard"]["limit_percent"],
        entry["complete"],
        len("errors"),
    );
    let _ = writeln!(
        o,
        "- correctness: {} of the {} dead instances {} (by reason, reported/planned: \
         {reasons}); ListInstances after the sweep: {} instances, {} planned to stay ({} dead ones \
         still registered, {} live ones gone); GetInstancesHealthStatus: {} UNHEALTHY, {} planned: {}",
        v.deregistered,
        v.dead,
        if dry_run {
            "reported for deregistration"
        } else {
            "deregistered"
        },
        v.registered_after,
        v.expected_after,
        v.dead_left,
        v.live_gone,
        v.unhealthy_after,
        v.expected_unhealthy,
        if v.exact() && dry_run {
            "**a dry run: exactly the dead ones reported, every instance still registered**"
        } else if v.exact() {
            "**exactly the live instances stay, exactly the dead ones went**"
        } else {
            "**NOT exactly as planned**"
        }
    );
    for p in v.problems.iter().take(10) {
        let _ = writeln!(o, "  - {p}");
    }
    if v.problems.len() > 10 {
        let _ = writeln!(o, "  - … and {} more", v.problems.len() - 10);
    }
    debug_assert!(DEAD_KINDS.iter().all(|k| v.by_reason.contains_key(*k)));
}

fn render_time(o: &mut String, cm: &CloudMap) {
    let s = &cm.sweep;
    let phase = |k: &str| s.phases.get(k).copied();
    let ms = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    let _ = writeln!(o, "\n| Cloud Map sweep | |");
    let _ = writeln!(o, "|---|---:|");
    let _ = writeln!(o, "| sweep, process spawn to exit | {:.0} ms |", s.wall_ms);
    let endpoints = cm.built.listeners;
    for (label, key) in [
        ("handler (`duration_ms`)", "duration_ms".to_string()),
        ("listing (`listing_ms`: ListServices, ListInstances, GetInstancesHealthStatus)", "listing_ms".into()),
        (
            "inventory (`inventory_ms`: DescribeClusters and DescribeTasks, alongside DescribeInstances and DescribeNetworkInterfaces)",
            "inventory_ms".into(),
        ),
        ("health checks (`health_ms`)", "health_ms".into()),
        ("deregistrations followed to their end, and custom health (`apply_ms`)", "apply_ms".into()),
    ] {
        let _ = writeln!(o, "| {label} | {} ms |", ms(phase(&key)));
    }
    let _ = writeln!(o, "| distinct endpoints checked | {endpoints} |");
    let deregistrations = cm.verdict.deregistered;
    if let (Some(apply), true) = (phase("apply_ms"), deregistrations > 0) {
        let _ = writeln!(
            o,
            "| apply per deregistration (all submitted, then followed together) ≈ apply / {deregistrations} | {:.1} ms |",
            apply as f64 / deregistrations as f64
        );
    }
    let keys = ["listing_ms", "inventory_ms", "health_ms", "apply_ms"];
    if let (Some(d), Some(parts)) = (
        phase("duration_ms"),
        keys.iter().map(|k| phase(k)).sum::<Option<u64>>(),
    ) {
        let _ = writeln!(
            o,
            "| rest of the handler (ListNamespaces, GetHostedZone, decide, report) ≈ handler − phases | {} ms |",
            d as i64 - parts as i64
        );
        let _ = writeln!(
            o,
            "| process start and exit around the handler | {:.0} ms |",
            s.wall_ms - d as f64
        );
    }
    if let Some(kib) = s.peak_rss_kib {
        let _ = writeln!(
            o,
            "| peak RSS of the sweep ({}) | {:.1} MiB |",
            s.rss_source,
            kib as f64 / 1024.0
        );
    }
    if let Some((user, sys)) = s.cpu_secs {
        let _ = writeln!(
            o,
            "| CPU time of the sweep: user + system | {user:.2} s + {sys:.2} s |"
        );
    }
    let _ = writeln!(
        o,
        "| CPU used alongside the sweep: local AWS, listeners | {} s, {:.2} s |",
        cm.localaws_cpu_s
            .map_or("?".to_string(), |c| format!("{c:.2}")),
        cm.listeners_cpu_s
    );
}
