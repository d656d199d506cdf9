//! A full sweep: list the zone (EC2 alongside), then read ECS, health-check what
//! needs it, decide, write; then the Cloud Map namespaces.

use std::collections::BTreeSet;

use crate::aws::Aws;
use crate::decide;
use crate::model::vpc_ids;
use crate::progress::Phase;
use crate::report::Report;

use super::{Halt, Run};

/// One full sweep: the zone (when one is configured), then each Cloud Map
/// namespace (when `CLOUD_MAP_NAMESPACES` is set).
///
/// The zone running out of time does not stop the namespaces from being reported:
/// each says for itself what it could do in the time left.
pub async fn sweep<A: Aws>(run: &Run<'_, A>, report: &mut Report) -> Result<(), Halt> {
    if run.deps.config.zone.is_some() {
        match sweep_zone(run, report).await {
            Err(Halt::OutOfTime) => report.incomplete(
                "deadline near: the zone's AWS reads did not finish in time; nothing was decided or deleted in it",
            ),
            other => other?,
        }
    }
    if !run.deps.config.cloud_map_namespaces.is_empty() {
        super::cloud_map::sweep_namespaces(run, report).await?;
    }
    Ok(())
}

/// One full sweep of the zone.
///
/// The zone listing happens-before the ECS read: a record the agent wrote for a
/// task started after the ECS read is then never judged against it. EC2 is read
/// alongside the listing, in every Region of the zone's VPCs.
async fn sweep_zone<A: Aws>(run: &Run<'_, A>, report: &mut Report) -> Result<(), Halt> {
    let deps = run.deps;
    let (zone, zone_vpcs) = run.zone().await?;
    let ec2_read = run.timed(Phase::Inventory, deps.aws.instances(&zone_vpcs));
    let listing = async { tokio::join!(run.load_zone(zone, report), ec2_read) };
    let (view, ec2) = run.within(listing).await?;
    let view = view?;
    let scope = deps.cluster_scope();
    let gone: BTreeSet<String> = ec2
        .instances
        .iter()
        .filter(|i| i.state.is_gone())
        .map(|i| i.id.clone())
        .collect();
    let ecs_read = run.timed(Phase::Inventory, deps.aws.clusters(&scope, &gone));
    let mut inventory = run.within(ecs_read).await?;
    inventory.zone_vpcs = vpc_ids(&zone_vpcs);
    inventory.instances = ec2.instances;
    inventory.failures.extend(ec2.failures);
    report
        .errors
        .extend(inventory.failures.iter().map(ToString::to_string));

    let settings = deps.plan_settings();
    let now = std::time::SystemTime::now();
    let assessments = decide::assess(&view.owned, &inventory, &settings, now);
    let health = run.check(&decide::endpoints(&assessments), report).await;
    let complete = view.complete && inventory.is_complete();
    let plan = decide::decide(
        &view.owned,
        assessments,
        &health,
        complete,
        &view.name_counts,
        &settings,
    );
    if plan.guard.tripped {
        tracing::error!(
            negative = plan.guard.negative,
            owned = plan.guard.owned,
            limit_percent = plan.guard.limit_percent,
            "mass-deletion guard tripped: no negative-evidence deletion made"
        );
    }
    let written = run.write(&view.zone, &plan).await;
    report.record(&plan, &written);
    Ok(())
}
