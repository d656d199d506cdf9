//! The report as a text plan, for a person at a terminal: per zone and per Cloud
//! Map namespace, what is kept by reason, what is deleted (deregistered) or held,
//! each with its reason, target and evidence, the guard, the errors, and for a
//! dry run that nothing was changed. The same facts as the JSON, nothing more.

use std::collections::BTreeMap;

use super::cloud_map::{NamespaceReport, ReportedInstance};
use super::{Reason, Report, ReportedRecord};
use crate::decide::{DeleteReason, Evidence, Guard, KeepReason};
use crate::model::wire_name;

/// The text plan of a report.
pub fn plan(report: &Report) -> String {
    let mut out = String::new();
    if report.dry_run {
        out.push_str("Dry run: decided and reported, nothing changed.\n");
    }
    if let Some(why) = &report.ignored {
        line(
            &mut out,
            format!("Ignored ({}): {why}", wire_name(&report.trigger)),
        );
    } else if report.hosted_zone_id.is_some() || report.cloud_map.is_none() {
        zone(&mut out, report);
    }
    for entry in report.cloud_map.iter().flatten() {
        namespace(&mut out, entry, report.dry_run);
    }
    errors(&mut out, "", &report.errors);
    let complete = match report.complete {
        true => "complete",
        false => "INCOMPLETE (see the errors)",
    };
    line(
        &mut out,
        format!("Run {complete}, in {} ms.", report.duration_ms),
    );
    if report.dry_run {
        out.push_str("Dry run: nothing was changed.\n");
    }
    out
}

fn line(out: &mut String, text: String) {
    out.push_str(&text);
    out.push('\n');
}

/// The Route 53 zone's part.
fn zone(out: &mut String, r: &Report) {
    let id = r.hosted_zone_id.as_deref().unwrap_or("(not looked up)");
    let c = r.records;
    line(
        out,
        format!(
            "Zone {id} ({}: {} record sets, {} owned by the agent, {} foreign)",
            wire_name(&r.trigger),
            c.scanned,
            c.owned,
            c.foreign
        ),
    );
    line(out, format!("  kept     {}", kept(&r.kept)));
    let verb = verb(r.dry_run, "delete", "deleted");
    for (label, list) in [(verb.as_str(), &r.deleted), ("held", &r.held)] {
        let what = |e: &ReportedRecord| format!("{} {}", e.rtype, e.name);
        entries(
            out,
            label,
            list.iter()
                .map(|e| (what(e), e.reason, &*e.target, e.decided, &e.evidence)),
        );
    }
    guard(out, &r.guard, "records");
    if !r.stopped_tasks.is_empty() {
        line(out, format!("  stopped  {} task(s)", r.stopped_tasks.len()));
        for task in &r.stopped_tasks {
            line(out, format!("    - {task}"));
        }
    }
}

/// One Cloud Map namespace's part.
fn namespace(out: &mut String, ns: &NamespaceReport, dry_run: bool) {
    let c = ns.instances;
    line(
        out,
        format!(
            "Cloud Map namespace {} ({}; {} instances, {} owned, {} foreign){}",
            ns.namespace,
            ns.namespace_id.as_deref().unwrap_or("not resolved"),
            c.scanned,
            c.owned,
            c.foreign,
            if ns.complete { "" } else { " INCOMPLETE" }
        ),
    );
    line(out, format!("  kept     {}", kept(&ns.kept)));
    let verb = verb(dry_run, "deregister", "deregistered");
    for (label, list) in [(verb.as_str(), &ns.deregistered), ("held", &ns.held)] {
        let what = |e: &ReportedInstance| format!("{} {}", e.service, e.instance_id);
        entries(
            out,
            label,
            list.iter()
                .map(|e| (what(e), e.reason, &*e.target, e.decided, &e.evidence)),
        );
    }
    if !ns.health_updates.is_empty() {
        let set = if dry_run { "would set" } else { "set" };
        let n = ns.health_updates.len();
        line(
            out,
            format!("  health   {set} {n} custom health status(es)"),
        );
        for u in &ns.health_updates {
            let status = wire_name(&u.status);
            line(
                out,
                format!("    - {status:<14} {} {}", u.service, u.instance_id),
            );
        }
    }
    guard(out, &ns.guard, "instances");
    errors(out, "  ", &ns.errors);
}

fn verb(dry_run: bool, would: &str, did: &str) -> String {
    match dry_run {
        true => format!("would {would}"),
        false => did.to_string(),
    }
}

/// Kept items by reason, in words.
fn kept(kept: &BTreeMap<KeepReason, usize>) -> String {
    let words: Vec<String> = kept
        .iter()
        .filter(|(reason, n)| {
            **n > 0 || !matches!(reason, KeepReason::Unchecked | KeepReason::Unhealthy)
        })
        .map(|(reason, n)| {
            let why = match reason {
                KeepReason::Healthy => "healthy",
                KeepReason::Grace => "in start-up grace",
                KeepReason::OutOfScope => "out of scope",
                KeepReason::Unchecked => "left unchecked (deadline)",
                KeepReason::Unhealthy => "marked unhealthy",
            };
            format!("{n} {why}")
        })
        .collect();
    words.join(", ")
}

/// One deleted, deregistered or held entry, whatever it is of: what it is (a
/// record's type and name, an instance's service and id), its reason, target,
/// the reason decided (a hold) and its evidence.
type Row<'a> = (
    String,
    Reason,
    &'a str,
    Option<DeleteReason>,
    &'a Option<Evidence>,
);

fn entries<'a>(out: &mut String, label: &str, rows: impl ExactSizeIterator<Item = Row<'a>>) {
    line(out, format!("  {label:<8} {}", rows.len()));
    for (what, reason, target, decided, evidence) in rows {
        let decided = match decided {
            Some(d) => format!(" (decided: {})", wire_name(&d)),
            None => String::new(),
        };
        let reason = wire_name(&reason);
        line(
            out,
            format!("    - {reason:<14} {what} -> {target}{decided}"),
        );
        if let Some(evidence) = evidence {
            line(out, format!("      {:<14} {evidence}", ""));
        }
    }
}

fn guard(out: &mut String, guard: &Guard, of: &str) {
    let state = match guard.tripped {
        true => "TRIPPED: no negative-evidence change made",
        false => "not tripped",
    };
    line(
        out,
        format!(
            "  guard    {state} ({} negative-evidence candidates of {} owned {of}, limit {}%)",
            guard.negative, guard.owned, guard.limit_percent
        ),
    );
}

fn errors(out: &mut String, indent: &str, errors: &[String]) {
    if errors.is_empty() {
        return;
    }
    line(out, format!("{indent}errors   {}", errors.len()));
    for e in errors {
        line(out, format!("{indent}  - {e}"));
    }
}
