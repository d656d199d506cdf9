//! The safety rules, applied to a plan after its records are decided — kept apart
//! from the decisions themselves, the way external-dns keeps its policies apart
//! from its plan. Each rule sees only negative-evidence deletions (an absence:
//! `host-unknown`, `task-gone`, `unhealthy`) and may only turn one into a hold;
//! what AWS positively said (`instance-gone`, `task-stopped`) always goes through.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use super::{
    Decision, DeleteReason, EvidenceKind, Guard, HoldReason, Plan, PlanItem, PlanSettings, Planned,
};
use crate::model::cloud_map::HealthStatus;

/// A safety rule over a decided plan, of zone records or of Cloud Map instances.
pub trait Policy<T: PlanItem> {
    fn apply(&self, plan: &mut Plan<T>);
}

/// What the safety rules count of everything a registry listed, owned or not.
#[derive(Debug, Clone, Default)]
pub struct Listed<'a> {
    /// Every item of each [`PlanItem::group`] (a record name, a Cloud Map
    /// service), foreign ones included.
    pub group_counts: Cow<'a, HashMap<String, usize>>,
    /// Every item listed, as (group, identity), with the custom health status
    /// the registry reports for it now (Cloud Map); empty for the zone, which
    /// has no marks.
    pub members: Vec<(String, String, Option<HealthStatus>)>,
}

/// The rules every plan goes through, in this order: the guard counts every
/// candidate (deletions and new `UNHEALTHY` marks); an incomplete inventory then
/// holds every candidate whatever the guard said; neither lets a mark through;
/// last-record protection sees only what is still to be deleted, and then what
/// is still to be marked.
pub fn apply_safety_rules<T: PlanItem>(
    plan: &mut Plan<T>,
    inventory_complete: bool,
    listed: &Listed,
    settings: &PlanSettings,
) {
    let new_marks = plan
        .health_updates
        .iter()
        .filter(|u| u.status == HealthStatus::Unhealthy)
        .count();
    MassDeletionGuard {
        limit_percent: settings.max_delete_percent,
        new_marks,
    }
    .apply(plan);
    if !inventory_complete {
        InventoryIncomplete.apply(plan);
    }
    let marks_allowed = !plan.guard.tripped && inventory_complete;
    if !marks_allowed {
        NoMarksOnDoubt.apply(plan);
    }
    if settings.keep_last_record {
        let group_counts = &listed.group_counts;
        LastRecord { group_counts }.apply(plan);
        if marks_allowed {
            KeepOneAnswering {
                members: &listed.members,
            }
            .apply(plan);
        }
    }
}

/// The deletion a decision stands for, when it rests on negative evidence.
fn negative(decision: Decision) -> Option<DeleteReason> {
    match decision {
        Decision::Delete(r) | Decision::Hold { decided: r, .. }
            if r.evidence() == EvidenceKind::Negative =>
        {
            Some(r)
        }
        _ => None,
    }
}

fn hold_negative<T>(plan: &mut Plan<T>, hold: HoldReason) {
    for p in &mut plan.items {
        if let Some(decided) = negative(p.decision) {
            p.decision = Decision::Hold { decided, hold };
        }
    }
}

/// Mass-deletion guard: when what one sweep would newly take out of answers on
/// negative evidence is more than `limit_percent` of the owned records, none of
/// the negative-evidence deletions is made (`guard`). It counts the candidates
/// before any other rule holds them: the negative-evidence deletions, and in a
/// Cloud Map namespace the new `UNHEALTHY` marks (`new_marks`: a mark takes an
/// instance out of DNS answers as a deregistration would). An instance Cloud Map
/// already has as `UNHEALTHY` is out of the answers already: failing its check
/// again is no new mark and does not count, so long-dead marked instances do not
/// keep the guard tripped. Marks are not made while the guard is tripped.
pub struct MassDeletionGuard {
    pub limit_percent: u8,
    pub new_marks: usize,
}

impl<T: PlanItem> Policy<T> for MassDeletionGuard {
    fn apply(&self, plan: &mut Plan<T>) {
        let deletions = plan
            .items
            .iter()
            .filter(|p| negative(p.decision).is_some())
            .count();
        let negative = deletions + self.new_marks;
        let owned = plan.items.len();
        let limit = self.limit_percent;
        plan.guard = Guard {
            tripped: negative > 0 && negative * 100 > usize::from(limit) * owned,
            limit_percent: limit,
            negative,
            owned,
        };
        if plan.guard.tripped {
            hold_negative(plan, HoldReason::Guard);
        }
    }
}

/// Incomplete inventory: when a read failed, an absence proves nothing, so every
/// negative-evidence deletion is held (`inventory-incomplete`).
pub struct InventoryIncomplete;

impl<T: PlanItem> Policy<T> for InventoryIncomplete {
    fn apply(&self, plan: &mut Plan<T>) {
        hold_negative(plan, HoldReason::InventoryIncomplete);
    }
}

/// Last-record protection (`last-record`), over the count of every item of each
/// group, foreign ones included: it is about the name (or the Cloud Map service)
/// answering at all.
pub struct LastRecord<'a> {
    pub group_counts: &'a HashMap<String, usize>,
}

impl<T: PlanItem> Policy<T> for LastRecord<'_> {
    fn apply(&self, plan: &mut Plan<T>) {
        protect_last_records(&mut plan.items, self.group_counts);
    }
}

/// Holds one negative-evidence deletion per service name that would otherwise be
/// left with no record: an empty name answers NXDOMAIN, which resolvers cache for
/// the zone's negative TTL, so a dead answer is kinder than none. The one kept is
/// the likeliest to answer: unhealthy (a task runs there) before task-gone before
/// host-unknown.
fn protect_last_records<T: PlanItem>(
    items: &mut [Planned<T>],
    group_counts: &HashMap<String, usize>,
) {
    let mut deleting: HashMap<&str, usize> = HashMap::new();
    for p in items
        .iter()
        .filter(|p| matches!(p.decision, Decision::Delete(_)))
    {
        *deleting.entry(p.item.group()).or_default() += 1;
    }
    let emptied: Vec<String> = deleting
        .into_iter()
        .filter(|(name, n)| group_counts.get(*name).copied().unwrap_or(*n) <= *n)
        .map(|(name, _)| name.to_string())
        .collect();
    for name in emptied {
        let rank = |r: DeleteReason| match r {
            DeleteReason::Unhealthy => 0,
            DeleteReason::TaskGone => 1,
            _ => 2,
        };
        let keep = items
            .iter()
            .enumerate()
            .filter(|(_, p)| p.item.group() == name && p.item.answers_for_group())
            .filter_map(|(i, p)| match p.decision {
                Decision::Delete(r) if r.evidence() == EvidenceKind::Negative => {
                    Some((rank(r), p.item.identity(), i))
                }
                _ => None,
            })
            .min()
            .map(|(_, _, i)| i);
        if let Some(i) = keep {
            if let Decision::Delete(decided) = items[i].decision {
                items[i].decision = Decision::Hold {
                    decided,
                    hold: HoldReason::LastRecord,
                };
            }
        }
    }
}

/// No new `UNHEALTHY` mark while the guard is tripped or a read failed: a mark
/// takes an instance out of the answers as a deregistration would, on the same
/// negative evidence. (Marks back to `HEALTHY` still go through.)
pub struct NoMarksOnDoubt;

impl<T: PlanItem> Policy<T> for NoMarksOnDoubt {
    fn apply(&self, plan: &mut Plan<T>) {
        plan.health_updates
            .retain(|u| u.status != HealthStatus::Unhealthy);
    }
}

/// Last-record protection for `UNHEALTHY` marks: a group (a Cloud Map service)
/// whose every listed member would be deregistered or marked unhealthy after this
/// plan keeps one member unmarked (the first by id), so that it still answers.
pub struct KeepOneAnswering<'a> {
    /// Every member listed: (group, identity, custom health status now).
    pub members: &'a [(String, String, Option<HealthStatus>)],
}

impl<T: PlanItem> Policy<T> for KeepOneAnswering<'_> {
    fn apply(&self, plan: &mut Plan<T>) {
        let key = |group: &str, id: &str| (group.to_string(), id.to_string());
        let deleting: HashSet<(String, String)> = plan
            .deletions()
            .map(|p| key(p.item.group(), p.item.identity().unwrap_or_default()))
            .collect();
        let marked: BTreeSet<String> = plan
            .health_updates
            .iter()
            .filter(|u| u.status == HealthStatus::Unhealthy)
            .map(|u| u.service_id.clone())
            .collect();
        for group in marked {
            let status_after = |id: &str, now: Option<HealthStatus>| {
                let update = plan
                    .health_updates
                    .iter()
                    .find(|u| u.service_id == group && u.instance_id == id);
                update.map(|u| u.status).or(now)
            };
            let answering = self
                .members
                .iter()
                .filter(|(g, id, _)| *g == group && !deleting.contains(&key(g, id)))
                .filter(|(_, id, now)| status_after(id, *now) != Some(HealthStatus::Unhealthy))
                .count();
            if answering > 0 {
                continue;
            }
            let spared = plan
                .health_updates
                .iter()
                .filter(|u| u.service_id == group && u.status == HealthStatus::Unhealthy)
                .map(|u| u.instance_id.clone())
                .min();
            plan.health_updates
                .retain(|u| !(u.service_id == group && Some(&u.instance_id) == spared.as_ref()));
        }
    }
}
