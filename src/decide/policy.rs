//! The safety rules, applied to a plan after its records are decided — kept apart
//! from the decisions themselves, the way external-dns keeps its policies apart
//! from its plan. Each rule sees only negative-evidence deletions (an absence:
//! `host-unknown`, `task-gone`, `unhealthy`) and may only turn one into a hold;
//! what AWS positively said (`instance-gone`, `task-stopped`) always goes through.

use std::collections::HashMap;

use super::{Decision, DeleteReason, Evidence, Guard, HoldReason, Plan, PlanSettings, Planned};

/// A safety rule over a decided plan.
pub trait Policy {
    fn apply(&self, plan: &mut Plan);
}

/// The rules a sweep applies, in this order: the guard counts every candidate,
/// an incomplete inventory then holds every candidate whatever the guard said, and
/// last-record protection sees only what is still to be deleted.
pub fn apply_safety_rules(
    plan: &mut Plan,
    inventory_complete: bool,
    name_counts: &HashMap<String, usize>,
    settings: &PlanSettings,
) {
    MassDeletionGuard {
        limit_percent: settings.max_delete_percent,
    }
    .apply(plan);
    if !inventory_complete {
        InventoryIncomplete.apply(plan);
    }
    if settings.keep_last_record {
        LastRecord { name_counts }.apply(plan);
    }
}

/// The deletion a decision stands for, when it rests on negative evidence.
fn negative(decision: Decision) -> Option<DeleteReason> {
    match decision {
        Decision::Delete(r) | Decision::Hold { decided: r, .. }
            if r.evidence() == Evidence::Negative =>
        {
            Some(r)
        }
        _ => None,
    }
}

fn hold_negative(plan: &mut Plan, hold: HoldReason) {
    for p in &mut plan.items {
        if let Some(decided) = negative(p.decision) {
            p.decision = Decision::Hold { decided, hold };
        }
    }
}

/// Mass-deletion guard: when the negative-evidence deletions of one sweep are more
/// than `limit_percent` of the owned records, none of them is made (`guard`). It
/// counts the candidates before any other rule holds them.
pub struct MassDeletionGuard {
    pub limit_percent: u8,
}

impl Policy for MassDeletionGuard {
    fn apply(&self, plan: &mut Plan) {
        let negative = plan
            .items
            .iter()
            .filter(|p| negative(p.decision).is_some())
            .count();
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

impl Policy for InventoryIncomplete {
    fn apply(&self, plan: &mut Plan) {
        hold_negative(plan, HoldReason::InventoryIncomplete);
    }
}

/// Last-record protection (`last-record`), over the zone's record counts by name,
/// foreign records included: it is about the name answering at all.
pub struct LastRecord<'a> {
    pub name_counts: &'a HashMap<String, usize>,
}

impl Policy for LastRecord<'_> {
    fn apply(&self, plan: &mut Plan) {
        protect_last_records(&mut plan.items, self.name_counts);
    }
}

/// Holds one negative-evidence deletion per service name that would otherwise be
/// left with no record: an empty name answers NXDOMAIN, which resolvers cache for
/// the zone's negative TTL, so a dead answer is kinder than none. The one kept is
/// the likeliest to answer: unhealthy (a task runs there) before task-gone before
/// host-unknown.
fn protect_last_records(items: &mut [Planned], name_counts: &HashMap<String, usize>) {
    let mut deleting: HashMap<&str, usize> = HashMap::new();
    for p in items
        .iter()
        .filter(|p| matches!(p.decision, Decision::Delete(_)))
    {
        *deleting.entry(p.record.set.name.as_str()).or_default() += 1;
    }
    let emptied: Vec<String> = deleting
        .into_iter()
        .filter(|(name, n)| name_counts.get(*name).copied().unwrap_or(*n) <= *n)
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
            .filter(|(_, p)| p.record.set.name == name && p.record.is_service())
            .filter_map(|(i, p)| match p.decision {
                Decision::Delete(r) if r.evidence() == Evidence::Negative => {
                    Some((rank(r), p.record.set.set_identifier.clone(), i))
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
