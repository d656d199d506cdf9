//! Custom health marks: which status change is a change, and last-record
//! protection for `UNHEALTHY` marks.

use std::collections::{BTreeSet, HashSet};

use super::{HealthUpdate, RegistryPlan};
use crate::model::cloud_map::{HealthStatus, RegistryListing};

/// Last-record protection for `UNHEALTHY` marks: a service whose every instance
/// would be deregistered or unhealthy after this sweep keeps one instance
/// unmarked (the first by id), so that it still answers.
pub(super) fn keep_one_answering(plan: &mut RegistryPlan, listing: &RegistryListing) {
    let key = |service: &str, id: &str| (service.to_string(), id.to_string());
    let deleting: HashSet<(String, String)> = plan
        .plan
        .deletions()
        .map(|p| key(&p.item.service_id, &p.item.id))
        .collect();
    let status_after = |service: &str, id: &str, updates: &[HealthUpdate]| {
        let update = updates
            .iter()
            .find(|u| u.service_id == service && u.instance_id == id);
        match update {
            Some(u) => Some(u.status),
            None => listing.health.get(&key(service, id)).copied(),
        }
    };
    let marked: BTreeSet<String> = plan
        .health_updates
        .iter()
        .filter(|u| u.status == HealthStatus::Unhealthy)
        .map(|u| u.service_id.clone())
        .collect();
    for service in marked {
        let answering = listing
            .instances
            .iter()
            .filter(|r| r.service_id == service && !deleting.contains(&key(&service, &r.id)))
            .filter(|r| {
                status_after(&service, &r.id, &plan.health_updates) != Some(HealthStatus::Unhealthy)
            })
            .count();
        if answering == 0 {
            let spared = plan
                .health_updates
                .iter()
                .filter(|u| u.service_id == service && u.status == HealthStatus::Unhealthy)
                .map(|u| u.instance_id.clone())
                .min();
            plan.health_updates
                .retain(|u| !(u.service_id == service && Some(&u.instance_id) == spared.as_ref()));
        }
    }
}

/// Whether setting `to` changes what Cloud Map says: `UNHEALTHY` unless it says
/// so already; `HEALTHY` only to undo an `UNHEALTHY` (an instance Cloud Map has
/// never been told about starts healthy, or as `AWS_INIT_HEALTH_STATUS` said).
pub(super) fn changes(now: Option<HealthStatus>, to: HealthStatus) -> bool {
    match to {
        HealthStatus::Unhealthy => now != Some(HealthStatus::Unhealthy),
        _ => now == Some(HealthStatus::Unhealthy),
    }
}
