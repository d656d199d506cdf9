//! Whether the sweep did exactly what the namespace calls for: the report's
//! entry against what was built, then Cloud Map itself (ListInstances of every
//! service, GetInstancesHealthStatus of the custom-health ones), walked by the
//! bench after the sweep's calls were counted. It reports; it asserts nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::plan::{Group, ServicePlan, DEAD_KINDS};
use super::{CmBuilt, Fate, NAMESPACE};
use crate::support::cloud_map::Namespace;

/// What the checks found.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Everything that differs from the plan (empty: exactly as planned).
    pub problems: Vec<String>,
    /// Deregistrations by reason: (reported, planned).
    pub by_reason: BTreeMap<String, (usize, usize)>,
    pub deregistered: usize,
    pub dead: usize,
    /// Instances ListInstances shows after the sweep, and how many it should.
    pub registered_after: usize,
    pub expected_after: usize,
    /// Planned-dead instances still registered; planned-live ones gone.
    pub dead_left: usize,
    pub live_gone: usize,
    /// Instances of custom-health services UNHEALTHY after the sweep, and planned.
    pub unhealthy_after: usize,
    pub sick: usize,
    pub expected_unhealthy: usize,
}

impl Verdict {
    pub(crate) fn exact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// (service name, instance id).
type Key = (String, String);

/// Checks the sweep's `report` and Cloud Map against `built`.
pub(super) async fn verify(
    ns: &Namespace<'_>,
    built: &CmBuilt,
    report: &Value,
    dry_run: bool,
) -> Verdict {
    let mut v = Verdict::default();
    let entry = report["cloud_map"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["namespace"] == NAMESPACE)
        .cloned();
    match entry {
        Some(entry) => check_entry(&mut v, built, &entry),
        None => v.problems.push(format!(
            "no `cloud_map` entry for {NAMESPACE} in the report"
        )),
    }
    check_registry(&mut v, ns, built, dry_run).await;
    v
}

/// The report's entry: counts, every deregistration and health update, nothing
/// held, no error, the guard.
fn check_entry(v: &mut Verdict, built: &CmBuilt, entry: &Value) {
    let name = |i: usize| built.plans[i].name.clone();
    let planned: BTreeMap<Key, (&str, &str)> = built
        .instances
        .iter()
        .filter_map(|i| match i.fate {
            Fate::Dead(reason) => {
                Some(((name(i.service), i.id.clone()), (reason, i.target.as_str())))
            }
            _ => None,
        })
        .collect();
    v.dead = planned.len();
    for kind in DEAD_KINDS {
        v.by_reason.insert(kind.to_string(), (0, 0));
    }
    for (reason, _) in planned.values() {
        v.by_reason.entry(reason.to_string()).or_default().1 += 1;
    }
    let reported = list(entry, "deregistered");
    v.deregistered = reported.len();
    let mut seen = BTreeSet::new();
    for d in &reported {
        let key = key(d);
        let reason = d["reason"].as_str().unwrap_or("?");
        v.by_reason.entry(reason.to_string()).or_default().0 += 1;
        match planned.get(&key) {
            Some((r, target)) if *r == reason && d["target"] == *target => {}
            Some((r, target)) => v.problems.push(format!(
                "{}/{} deregistered as {reason} → {}, planned {r} → {target}",
                key.0, key.1, d["target"]
            )),
            None => v.problems.push(format!(
                "{}/{} deregistered ({reason}), planned to stay",
                key.0, key.1
            )),
        }
        if !seen.insert(key.clone()) {
            v.problems
                .push(format!("{}/{} deregistered twice", key.0, key.1));
        }
    }
    for (k, (r, _)) in &planned {
        if !seen.contains(k) {
            v.problems
                .push(format!("{}/{} ({r}) not deregistered", k.0, k.1));
        }
    }
    let sick: BTreeSet<Key> = built
        .instances
        .iter()
        .filter(|i| i.fate == Fate::Sick)
        .map(|i| (name(i.service), i.id.clone()))
        .collect();
    v.sick = sick.len();
    let updates: BTreeSet<Key> = list(entry, "health_updates")
        .iter()
        .filter(|u| u["status"] == "UNHEALTHY")
        .map(key)
        .collect();
    let all_updates = list(entry, "health_updates").len();
    if updates != sick || all_updates != sick.len() {
        v.problems.push(format!(
            "health updates: {} UNHEALTHY of {all_updates}, planned exactly the {} sick instances",
            updates.len(),
            sick.len()
        ));
    }
    let n = built.instances.len();
    let alive = built.count(ServicePlan::alive);
    let negative = built.count(ServicePlan::negative);
    let expect = [
        ("instances.scanned", &entry["instances"]["scanned"], n),
        ("instances.owned", &entry["instances"]["owned"], n),
        ("instances.foreign", &entry["instances"]["foreign"], 0),
        ("kept.healthy", &entry["kept"]["healthy"], alive),
        ("kept.unhealthy", &entry["kept"]["unhealthy"], sick.len()),
        ("kept.grace", &entry["kept"]["grace"], 0),
        ("kept.out-of-scope", &entry["kept"]["out-of-scope"], 0),
        ("kept.unchecked", &entry["kept"]["unchecked"], 0),
        ("held", &Value::from(list(entry, "held").len()), 0),
        ("errors", &Value::from(list(entry, "errors").len()), 0),
        ("guard.negative", &entry["guard"]["negative"], negative),
    ];
    for (field, got, want) in expect {
        if got.as_u64().unwrap_or(0) != want as u64 {
            v.problems.push(format!("{field} is {got}, planned {want}"));
        }
    }
    for (field, want) in [("complete", true), ("guard.tripped", false)] {
        let got = match field {
            "complete" => &entry["complete"],
            _ => &entry["guard"]["tripped"],
        };
        if got.as_bool() != Some(want) {
            v.problems.push(format!("{field} is {got}, planned {want}"));
        }
    }
    for e in list(entry, "errors").iter().take(3) {
        v.problems.push(format!("error: {e}"));
    }
}

/// Cloud Map after the sweep: exactly the planned-live instances registered
/// (every one, in a dry run), the sick ones UNHEALTHY.
async fn check_registry(v: &mut Verdict, ns: &Namespace<'_>, built: &CmBuilt, dry_run: bool) {
    let mut now: BTreeSet<Key> = BTreeSet::new();
    let mut unhealthy: BTreeSet<Key> = BTreeSet::new();
    for (svc, plan) in ns.services.iter().zip(&built.plans) {
        now.extend(
            ns.ids(svc)
                .await
                .into_iter()
                .map(|id| (svc.name.clone(), id)),
        );
        if plan.group == Group::Custom {
            let health = ns.health(svc).await;
            let marked = health.into_iter().filter(|(_, s)| s == "UNHEALTHY");
            unhealthy.extend(marked.map(|(id, _)| (svc.name.clone(), id)));
        }
    }
    v.registered_after = now.len();
    v.unhealthy_after = unhealthy.len();
    let mut expected_unhealthy = BTreeSet::new();
    for i in &built.instances {
        let key = (built.plans[i.service].name.clone(), i.id.clone());
        let present = now.remove(&key);
        let dead = matches!(i.fate, Fate::Dead(_)) && !dry_run;
        if !dead {
            v.expected_after += 1;
        }
        match (dead, present) {
            (true, true) => v.dead_left += 1,
            (false, false) => v.live_gone += 1,
            _ => {}
        }
        if i.fate == Fate::Sick && !dry_run {
            expected_unhealthy.insert(key);
        }
    }
    if v.dead_left + v.live_gone > 0 {
        v.problems.push(format!(
            "ListInstances after the sweep: {} dead instances still registered, {} live ones gone",
            v.dead_left, v.live_gone
        ));
    }
    if !now.is_empty() {
        v.problems.push(format!(
            "{} instances registered that the bench never registered",
            now.len()
        ));
    }
    v.expected_unhealthy = expected_unhealthy.len();
    if unhealthy != expected_unhealthy {
        v.problems.push(format!(
            "GetInstancesHealthStatus after the sweep: {} UNHEALTHY, planned {}",
            unhealthy.len(),
            expected_unhealthy.len()
        ));
    }
}

fn list(entry: &Value, field: &str) -> Vec<Value> {
    entry[field].as_array().cloned().unwrap_or_default()
}

fn key(x: &Value) -> Key {
    (
        x["service"].as_str().unwrap_or_default().to_string(),
        x["instance_id"].as_str().unwrap_or_default().to_string(),
    )
}
