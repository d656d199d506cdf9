//! The fewest AWS calls a sweep of the built estate can make, by operation, from
//! the services' page and batch limits.

use std::collections::BTreeMap;

use ecs_dns_reaper::aws::changes::{
    MAX_BATCH_RECORDS as R53_BATCH_RECORDS, MAX_BATCH_VALUE_CHARS as R53_BATCH_CHARS,
};

use super::{Built, Sweep};

/// Route 53 and ECS / EC2 page and batch limits, for the minimum call counts.
const R53_PAGE: usize = 300;
const ECS_PAGE: usize = 100;
const ECS_DESCRIBE: usize = 100;
const EC2_PAGE: usize = 1000;

/// The minimum calls of each operation: (minimum, how it is computed).
pub(super) type Minimums = BTreeMap<String, (u64, String)>;

/// ⌈n / per⌉.
pub(super) fn ceil(n: usize, per: usize) -> u64 {
    n.div_ceil(per) as u64
}

/// Pages of `per` for `n` items: at least one, even for none.
pub(super) fn pages(n: usize, per: usize) -> u64 {
    ceil(n, per).max(1)
}

/// The minimum number of calls of each operation this estate allows.
pub(super) fn minimum_calls(built: &Built, sweep: &Sweep) -> Minimums {
    let mut min = BTreeMap::new();
    route53_minimums(&mut min, built, sweep);
    ecs_ec2_minimums(&mut min, built);
    min
}

/// The zone itself (once per process), the listing's pages, and the delete
/// batches the sweep's deletions need.
fn route53_minimums(min: &mut Minimums, built: &Built, sweep: &Sweep) {
    // The zone's name (the apex records are judged against) and its VPCs (whose
    // EC2 instances are evidence): one GetHostedZone per process, a sweep included.
    min.insert(
        "route53:GetHostedZone".to_string(),
        (1, "once per process: the zone's name and VPCs".to_string()),
    );
    let scanned = sweep.report["records"]["scanned"].as_u64().unwrap_or(0) as usize;
    min.insert(
        "route53:ListResourceRecordSets".to_string(),
        (
            pages(scanned, R53_PAGE),
            format!("⌈{scanned} record sets / {R53_PAGE}⌉"),
        ),
    );
    let deleted = sweep.report["deleted"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let chars: usize = deleted
        .iter()
        .map(|d| {
            let key = (
                d["name"].as_str().unwrap_or_default().to_string(),
                d["type"].as_str().unwrap_or_default().to_string(),
                d["set_identifier"].as_str().map(String::from),
            );
            built.value_chars.get(&key).copied().unwrap_or(0)
        })
        .sum();
    let batches = if sweep.report["dry_run"] == true {
        0
    } else {
        ceil(deleted.len(), R53_BATCH_RECORDS).max(ceil(chars, R53_BATCH_CHARS))
    };
    min.insert(
        "route53:ChangeResourceRecordSets".to_string(),
        (
            batches,
            format!(
                "max(⌈{} deletes / {R53_BATCH_RECORDS}⌉, ⌈{chars} value chars / {R53_BATCH_CHARS}⌉)",
                deleted.len()
            ),
        ),
    );
}

/// The inventory's pages and describe batches: clusters, container instances and
/// tasks per cluster, definitions, instances.
fn ecs_ec2_minimums(min: &mut Minimums, built: &Built) {
    let n = built.clusters.len();
    min.insert(
        "ecs:ListClusters".to_string(),
        (pages(n, ECS_PAGE), format!("⌈{n} clusters / {ECS_PAGE}⌉")),
    );
    let cis = &built.instances_per_cluster;
    let tasks = &built.tasks_per_cluster;
    for (op, counts, per, listing) in [
        ("ecs:ListContainerInstances", cis, ECS_PAGE, true),
        ("ecs:DescribeContainerInstances", cis, ECS_DESCRIBE, false),
        ("ecs:ListTasks", tasks, ECS_PAGE, true),
        ("ecs:DescribeTasks", tasks, ECS_DESCRIBE, false),
    ] {
        min.insert(op.to_string(), per_cluster(counts, per, listing));
    }
    min.insert(
        "ecs:DescribeTaskDefinition".to_string(),
        (
            built.definitions as u64,
            format!("{} distinct definitions", built.definitions),
        ),
    );
    min.insert(
        "ec2:DescribeInstances".to_string(),
        (
            pages(built.instances, EC2_PAGE),
            format!("⌈{} instances / {EC2_PAGE}⌉", built.instances),
        ),
    );
    min.insert(
        "ec2:DescribeVpcs".to_string(),
        (
            1,
            "the zone's VPCs, one Region: can this account read them".to_string(),
        ),
    );
}

/// Σ over the clusters of their `counts` in calls of `per`: pages of a listing
/// (at least one per cluster) or describe batches (none for no items).
fn per_cluster(counts: &[usize], per: usize, listing: bool) -> (u64, String) {
    let calls = counts
        .iter()
        .map(|&c| if listing { pages(c, per) } else { ceil(c, per) })
        .sum();
    let list = counts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" + ");
    (calls, format!("Σ ⌈({list}) / {per}⌉ per cluster"))
}

/// The fewest Route 53 calls a task-stopped event can make in a warm process: the
/// record sets at each name the task declares, a page of 300 at a time (at least
/// one page a name), or the whole zone's pages when it declares none that ECS can
/// show; and one change batch (its few records are far within the batch limits).
pub(super) fn task_stopped_route53(sets_at_names: &[usize], zone_sets: usize) -> u64 {
    let listing = if sets_at_names.is_empty() {
        pages(zone_sets, R53_PAGE)
    } else {
        sets_at_names.iter().map(|&n| pages(n, R53_PAGE)).sum()
    };
    listing + 1
}
