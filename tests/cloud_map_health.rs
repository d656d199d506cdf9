//! Custom health in Cloud Map (docs/cloud-map.md) end to end: in a service with
//! HealthCheckCustomConfig the reaper is the health checker, and marks instances
//! with UpdateInstanceCustomHealthStatus instead of deregistering them. The real
//! binary against the local AWS, real listeners on loopback addresses; every
//! test checks the health Cloud Map holds (GetInstancesHealthStatus), not only
//! the report.

mod support;

use support::cloud_map::{cm_sweep, estate_with_namespace, health_updates, update, PORT};
use support::{Behaviour, LocalAws, Outcome};
use Outcome::{Kept, Removed};

const NS: &str = "cm.internal";

/// In a service with HealthCheckCustomConfig the reaper is the health checker:
/// a script instance that stops answering is marked UNHEALTHY (once), not
/// deregistered, and HEALTHY again once it answers; only host-unknown or
/// instance-gone deregister there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_health_is_marked_unhealthy_then_healthy_again_never_deregistered() {
    let aws = LocalAws::start().await;
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let web = ns.service("web", false, true).await;
    let ok = e.old_host(1).await;
    let down = e.old_host(2).await;
    let (ok_ip, down_ip) = (e.hosts[ok].ip, e.hosts[down].ip);
    e.listen(ok_ip, PORT, Behaviour::Healthy).await;
    ns.script(&web, "web-1", ok_ip, Kept("healthy")).await;
    ns.script_of(&web, "web-2", &e.hosts[down], Some(Kept("unhealthy")))
        .await;
    ns.script(&web, "web-4", ok_ip, Kept("healthy")).await;
    let nowhere = e.unknown_ip(3);
    ns.script(&web, "web-3", nowhere, Removed("host-unknown"))
        .await;

    // Default safety settings: a deregistration and a mark of four, at the 50 %
    // limit; the service keeps three, two of them answering.
    let report = cm_sweep(&aws, NS, &[]).await;
    ns.assert_outcome(&report, false).await;
    let entry = ns.entry(&report);
    assert_eq!(
        health_updates(&entry),
        vec![update("web", "web-2", "UNHEALTHY")]
    );
    assert_eq!(
        entry["guard"]["negative"], 2,
        "a mark takes an instance out of answers: it counts toward the guard: {entry:#}"
    );
    let health = ns.health(&web).await;
    assert_eq!(
        (health["web-1"].as_str(), health["web-2"].as_str()),
        ("HEALTHY", "UNHEALTHY")
    );

    // Still down: already UNHEALTHY, nothing to update.
    ns.forget("web-3");
    let report = cm_sweep(&aws, NS, &[]).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(health_updates(&ns.entry(&report)), vec![]);
    assert_eq!(
        aws.count("servicediscovery:UpdateInstanceCustomHealthStatus")
            .await,
        1
    );
    assert_eq!(ns.health(&web).await["web-2"], "UNHEALTHY");

    // It answers again: HEALTHY.
    e.listen(down_ip, PORT, Behaviour::Healthy).await;
    ns.expect("web-2", Some(Kept("healthy")));
    let report = cm_sweep(&aws, NS, &[]).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(
        health_updates(&ns.entry(&report)),
        vec![update("web", "web-2", "HEALTHY")]
    );
    let health = ns.health(&web).await;
    assert_eq!(
        (health["web-1"].as_str(), health["web-2"].as_str()),
        ("HEALTHY", "HEALTHY")
    );
    assert_eq!(
        aws.count("servicediscovery:UpdateInstanceCustomHealthStatus")
            .await,
        2
    );
}
