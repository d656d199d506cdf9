//! A full sweep (schedule or manual): the zone, when one is configured, then each
//! Cloud Map namespace (`CLOUD_MAP_NAMESPACES`). Each registry is listed first,
//! then the ECS and EC2 evidence it is judged against is read, then it goes
//! through the one judge and the one write path (`Run::judge_and_write`).

use std::collections::BTreeSet;

use crate::aws::Aws;
use crate::classify::OwnedRecord;
use crate::decide::ZoneJudge;
use crate::model::vpc_ids;
use crate::progress::Phase;
use crate::report::{Ran, Swept};

use super::{Halt, Run};

/// One full sweep. The zone running out of time does not stop the namespaces
/// from being reported: each says for itself what it could do in the time left.
pub async fn sweep<A: Aws>(run: &Run<'_, A>) -> Result<Ran, Halt> {
    let mut ran = Ran::new();
    if run.deps.config.zone.is_some() {
        match sweep_zone(run).await {
            Ok((id, zone)) => {
                ran.hosted_zone_id = Some(id);
                ran.zone = Some(zone);
            }
            Err(halt) => {
                let (listed, halt) = halt.split();
                if let Some((id, zone)) = listed {
                    ran.hosted_zone_id = Some(id);
                    ran.zone = Some(zone);
                }
                match halt {
                    Halt::OutOfTime => ran.incomplete(
                        "deadline near: the zone's AWS reads did not finish in time; nothing was decided or deleted in it",
                    ),
                    other => return Err(other),
                }
            }
        }
    }
    if !run.deps.config.cloud_map_namespaces.is_empty() {
        ran.merge(super::cloud_map::sweep_namespaces(run).await);
    }
    Ok(ran)
}

/// One full sweep of the zone: its id, and what was decided and done.
///
/// The zone listing happens-before the ECS read: a record the agent wrote for a
/// task started after the ECS read is then never judged against it. EC2 is read
/// alongside the listing, in every Region of the zone's VPCs.
async fn sweep_zone<A: Aws>(run: &Run<'_, A>) -> Result<(String, Swept<OwnedRecord>), Halt> {
    let deps = run.deps;
    let (zone, zone_vpcs) = run.zone().await?;
    let ec2_read = run.timed(Phase::Inventory, deps.aws.instances(&zone_vpcs));
    let listing = async { tokio::join!(run.load_zone(zone), ec2_read) };
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
    let ecs_read = run.within(ecs_read).await;
    let mut inventory = ecs_read.map_err(|halt| view.halted(halt))?;
    inventory.zone_vpcs = vpc_ids(&zone_vpcs);
    inventory.instances = ec2.instances;
    inventory.failures.extend(ec2.failures);

    let judge = ZoneJudge {
        inventory: &inventory,
        name_counts: &view.name_counts,
    };
    let complete = view.complete && inventory.is_complete();
    let judged = run
        .judge_and_write(&judge, &view.zone, &view.owned, complete)
        .await;
    Ok((
        view.zone.id.clone(),
        view.swept(&inventory.failures, judged),
    ))
}
