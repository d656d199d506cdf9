//! Rows for docs/coverage.md: records tied through ECS to a gone instance,
//! hosts registered in a cluster `ECS_CLUSTERS` leaves out, and the events judged
//! by the sweep's judge on what they read.

use super::*;

/// The estate after EC2 forgot `.6`: a terminated instance reports no address, no
/// DNS name and no VPC; ECS still lists its container instance and task t5.
fn forgotten() -> Inventory {
    let mut inv = inventory();
    for i in inv.instances.iter_mut().filter(|i| i.id == "i-gone") {
        (i.private_ip, i.private_dns, i.vpc_id) = (None, None, None);
    }
    inv
}

/// `.6`'s host A record as agent 1.4+ writes it: weighted, the host name as set
/// identifier.
fn weighted_host_a(last: u8) -> OwnedRecord {
    let mut record = host_a(last);
    record.set.set_identifier = Some(host(last));
    record.set.weight = Some(1);
    owned(record.set)
}

#[test]
fn records_tied_through_ecs_to_a_gone_instance_are_instance_gone() {
    let records = [
        srv("calc", 6, 32768, Some(CID_ON_GONE)), // a container of t5
        srv("calc", 6, 40000, None),              // same host name, no container id
        cname("calc-www", 6, "777777777777"),     // same host name, unknown container
        host_a(6),                                // the host's simple A record
        weighted_host_a(6),                       // and its weighted one
        srv("calc", 5, 32768, Some(CID1)),        // another, live host
        srv("calc", 3, 1, None),                  // a host nobody has
    ];
    let plan = run(&records, &forgotten(), &health(), &settings());
    let mut expected = vec![Delete(InstanceGone); 5];
    expected.extend([Keep(Healthy), Delete(HostUnknown)]);
    assert_eq!(reasons(&plan), expected);

    // Without ECS's word, EC2 alone says nothing of `.6`: host-unknown (negative).
    let mut untied = forgotten();
    untied.tasks.retain(|t| t.arn != "t5");
    let plan = run(&records[..5], &untied, &health(), &settings());
    assert_eq!(reasons(&plan), vec![Delete(HostUnknown); 5]);
}

#[test]
fn a_live_instance_holding_the_address_now_unties_the_host_name() {
    let mut inv = forgotten();
    // `.6`'s address reused by a new instance in no cluster.
    inv.instances.push(instance("i-reuse", 6, "running"));
    let records = [
        srv("calc", 6, 32768, Some(CID_ON_GONE)),
        srv("calc", 6, 40000, None),
        host_a(6),
    ];
    let plan = run(&records, &inv, &health(), &settings());
    assert_eq!(
        reasons(&plan),
        vec![Delete(InstanceGone), Keep(OutOfScope), Keep(Healthy)],
        "the container id still ties its own record; the name is the new host's"
    );
}

#[test]
fn a_host_also_registered_outside_the_swept_clusters_keeps_unbacked_records() {
    let records = [
        srv("calc", 5, 40000, Some(CID9)), // nothing swept backs it
        srv("calc", 5, 32768, Some(CID1)), // t1 backs it
    ];
    let plan = run(&records, &inventory(), &health(), &settings());
    assert_eq!(reasons(&plan), vec![Delete(TaskGone), Keep(Healthy)]);
    let mut inv = inventory();
    inv.unswept_hosts.insert("i-web".into());
    let plan = run(&records, &inv, &health(), &settings());
    assert_eq!(reasons(&plan), vec![Keep(OutOfScope), Keep(Healthy)]);
}

/// A task stopped on `.5` that ran on host port 40000; records carry no id.
fn stopped_on_web() -> StoppedTask {
    StoppedTask {
        runtime_ids: vec![],
        instance_id: Some("i-web".into()),
        host_ports: vec![40000],
        ..StoppedTask::default()
    }
}

#[test]
fn a_task_stopped_event_keeps_what_a_task_under_another_registration_serves() {
    let record = [srv("calc", 5, 40000, None)];
    let plan = decide_task_stopped(&record, &stopped_on_web(), &inventory(), &settings(), now());
    assert_eq!(reasons(&plan), vec![Delete(TaskStopped)]);

    let mut inv = inventory();
    inv.container_instances.push(ContainerInstance {
        arn: "ci-i-web-again".into(),
        cluster: "api".into(),
        ec2_instance_id: Some("i-web".into()),
    });
    let replacement = container(Some("777777777777"), &[(80, 40000)]);
    inv.tasks.push(task(
        "t-new",
        "ci-i-web-again",
        "RUNNING",
        HOUR,
        "calc:1",
        vec![replacement],
    ));
    let plan = decide_task_stopped(&record, &stopped_on_web(), &inv, &settings(), now());
    assert_eq!(reasons(&plan), vec![Keep(Healthy)]);
}

#[test]
fn a_task_stopped_event_keeps_records_on_a_host_where_a_task_is_starting() {
    let record = [srv("calc", 5, 40000, None)];
    let mut inv = inventory();
    let starting = container(None, &[]);
    inv.tasks.push(task(
        "t-starting",
        "ci-i-web",
        "PENDING",
        Duration::ZERO,
        "calc:1",
        vec![starting],
    ));
    let plan = decide_task_stopped(&record, &stopped_on_web(), &inv, &settings(), now());
    assert_eq!(reasons(&plan), vec![Keep(Grace)]);
}

#[test]
fn an_instance_gone_event_takes_what_ecs_ties_to_it_after_ec2_forgot_its_address() {
    let records = [
        srv("calc", 6, 32768, Some(CID_ON_GONE)),
        srv("calc", 6, 40000, None),
        weighted_host_a(6),
        srv("calc", 5, 32768, Some(CID1)),
        srv("calc", 3, 1, None),
    ];
    let plan = decide_instance_gone(&records, "i-gone", &forgotten(), &settings(), now());
    assert_eq!(reasons(&plan), vec![Delete(InstanceGone); 3]);
    assert!(plan
        .items
        .iter()
        .all(|p| p.target.contains("10-0-1-6") || p.target == "10.0.1.6"));

    // With no tie, EC2's event alone cannot name a record of an address it forgot.
    let mut untied = forgotten();
    untied.tasks.retain(|t| t.arn != "t5");
    let plan = decide_instance_gone(&records, "i-gone", &untied, &settings(), now());
    assert!(plan.items.is_empty());
}
