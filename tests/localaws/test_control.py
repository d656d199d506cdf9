"""The control API's bookkeeping: call counters by ``service:Operation``, and
the reset that clears moto's state and everything the control API armed.
See README.md, "Control API"."""

from __future__ import annotations

from conftest import ZONE, client, control, make_zone


def test_call_counters(endpoint):
    r53, ecs, ec2 = client(endpoint, "route53"), client(endpoint, "ecs"), client(endpoint, "ec2")
    zone_id = make_zone(r53)
    for _ in range(4):
        r53.list_resource_record_sets(HostedZoneId=zone_id)
    ecs.create_cluster(clusterName="web")
    for _ in range(3):
        ecs.list_tasks(cluster="web")
    ec2.describe_instances()
    calls = control(endpoint, "GET", "calls")
    assert calls == {"ec2:CreateVpc": 1, "route53:CreateHostedZone": 1, "route53:ListResourceRecordSets": 4,
                     "ecs:CreateCluster": 1, "ecs:ListTasks": 3, "ec2:DescribeInstances": 1}
    control(endpoint, "DELETE", "calls")
    r53.get_hosted_zone(Id=zone_id)
    r53.list_hosted_zones_by_name(DNSName=ZONE)
    assert control(endpoint, "GET", "calls") == {"route53:GetHostedZone": 1, "route53:ListHostedZonesByName": 1}


def test_reset(endpoint):
    r53 = client(endpoint, "route53")
    make_zone(r53)
    control(endpoint, "POST", "faults", {"faults": [{"service": "ecs", "code": "ThrottlingException", "status": 400, "count": -1}]})
    control(endpoint, "POST", "reset")
    assert r53.list_hosted_zones()["HostedZones"] == []
    assert control(endpoint, "GET", "faults") == {"faults": []}
    assert control(endpoint, "GET", "calls") == {"route53:ListHostedZones": 1}
    client(endpoint, "ecs").list_clusters()  # the fault is gone too
