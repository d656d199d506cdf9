//! The safety rules, applied to a plan after its records are decided — kept apart
//! from the decisions themselves, the way external-dns keeps its policies apart
//! from its plan. Each rule sees only negative-evidence deletions (an absence:
//! `host-unknown`, `task-gone`, `unhealthy`) and may only turn one into a hold;
//! what AWS positively said (`instance-gone`, `task-stopped`) always goes through.

use std::collections::HashMap;

use super::{
    Decision, DeleteReason, EvidenceKind, Guard, HoldReason, Plan, PlanItem, PlanSettings, Planned,
};

/// A safety rule over a decided plan, of zone records or of Cloud Map instances.
pub trait Policy<T: PlanItem> {
    fn apply(&self, plan: &mut Plan<T>);
}

/// The rules a sweep of a zone applies, in this order: the guard counts every
/// candidate, an incomplete inventory then holds every candidate whatever the
/// guard said, and last-record protection sees only what is still to be deleted.
///
/// `group_counts`: every item of each [`PlanItem::group`], foreign ones included.
pub fn apply_safety_rules<T: PlanItem>(
    plan: &mut Plan<T>,
    inventory_complete: bool,
    group_counts: &HashMap<String, usize>,
    settings: &PlanSettings,
) {
    apply_safety_rules_marking(plan, 0, inventory_complete, group_counts, settings);
}

/// [`apply_safety_rules`] for a plan that also makes `new_marks` new `UNHEALTHY`
/// marks (a Cloud Map namespace), which the guard counts with the deletions.
pub fn apply_safety_rules_marking<T: PlanItem>(
    plan: &mut Plan<T>,
    new_marks: usize,
    inventory_complete: bool,
    group_counts: &HashMap<String, usize>,
    settings: &PlanSettings,
) {
    MassDeletionGuard {
        limit_percent: settings.max_delete_percent,
        new_marks,
    }
    .apply(plan);
    if !inventory_complete {
        InventoryIncomplete.apply(plan);
    }
    if settings.keep_last_record {
        LastRecord { group_counts }.apply(plan);
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
