"""Cloud Map (servicediscovery) as the reaper uses it: requests classified,
counted and failed in its wire format; ListServices, ListNamespaces and
ListInstances filters and paging; a private namespace's zone; deregistrations
that stay pending, complete or fail; custom health; ECS services' registries.
See README.md, "Cloud Map"; ListOperations is in test_cloud_map_operations.py."""

from __future__ import annotations

import json
import time

from botocore.config import Config

from conftest import NO_RETRY, client, control, error


SD_VPC = "vpc-0cloudmap0000001"


def sd_client(endpoint, config=NO_RETRY):
    return client(endpoint, "servicediscovery", config)


def sd_private_namespace(sd, name="sd.internal", vpc=SD_VPC):
    """Create a private DNS namespace; returns its id."""
    before = {n["Id"] for n in sd.list_namespaces()["Namespaces"]}
    sd.create_private_dns_namespace(Name=name, Vpc=vpc)
    (new,) = [n for n in sd.list_namespaces()["Namespaces"] if n["Id"] not in before]
    return new["Id"]


def sd_service(sd, namespace_id, name="calc", custom_health=False, **extra):
    kwargs = dict(Name=name, NamespaceId=namespace_id,
                  DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]}, **extra)
    if custom_health:
        kwargs["HealthCheckCustomConfig"] = {"FailureThreshold": 1}
    return sd.create_service(**kwargs)["Service"]["Id"]


def ecs_attributes(ip="10.0.1.5", port="32768", **extra):
    return {"AWS_INSTANCE_IPV4": ip, "AWS_INSTANCE_PORT": port, "ECS_CLUSTER_NAME": "web",
            "ECS_SERVICE_NAME": "calc", "ECS_TASK_DEFINITION_FAMILY": "calc",
            "EC2_INSTANCE_ID": "i-0123456789abcdef0", "AVAILABILITY_ZONE": "us-east-1a", **extra}


def instance_ids_of(sd, service_id):
    return [i["Id"] for i in sd.list_instances(ServiceId=service_id)["Instances"]]


def test_ecs_service_registries_and_task_group_round_trip(endpoint, ecs_setup):
    """moto as is: CreateService keeps serviceRegistries, DescribeServices returns
    them, and StartTask's group is the task's group (what a task-stopped event
    follows to a Cloud Map service)."""
    ecs, _, ci = ecs_setup
    sd = sd_client(endpoint)
    ns = sd_private_namespace(sd)
    service_arn = sd.get_service(Id=sd_service(sd, ns, "calc"))["Service"]["Arn"]
    registry = {"registryArn": service_arn, "containerName": "app", "containerPort": 8080}
    created = ecs.create_service(cluster="web", serviceName="calc", taskDefinition="calc", desiredCount=0,
                                 serviceRegistries=[registry])["service"]
    assert created["serviceRegistries"] == [registry]
    (described,) = ecs.describe_services(cluster="web", services=["calc"])["services"]
    assert described["serviceRegistries"] == [registry]
    (task,) = ecs.start_task(cluster="web", taskDefinition="calc", containerInstances=[ci],
                             group="service:calc")["tasks"]
    assert ecs.describe_tasks(cluster="web", tasks=[task["taskArn"]])["tasks"][0]["group"] == "service:calc"


def test_cloudmap_requests_are_classified_and_counted(endpoint):
    sd = sd_client(endpoint)
    ns = sd_private_namespace(sd)
    sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns], "Condition": "EQ"}])
    resp = sd.list_namespaces()
    assert resp["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    calls = control(endpoint, "GET", "calls")
    assert calls == {"servicediscovery:CreatePrivateDnsNamespace": 1, "servicediscovery:ListNamespaces": 3,
                     "servicediscovery:ListServices": 1}


def test_cloudmap_fault_on_list_instances_of_one_service(endpoint):
    sd = sd_client(endpoint)
    ns = sd_private_namespace(sd)
    bad, good = sd_service(sd, ns, "bad"), sd_service(sd, ns, "good")
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "servicediscovery", "operation": "ListInstances", "status": 500, "code": "InternalFailure",
         "count": -1, "match": {"ServiceId": bad}}]})
    for _ in range(3):
        err = error(sd.list_instances, ServiceId=bad)
        assert err["Error"]["Code"] == "InternalFailure"  # parsed from the awsJson1.1 body
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert err["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "InternalFailure"
    assert sd.list_instances(ServiceId=good)["Instances"] == []
    assert control(endpoint, "GET", "faults")["faults"][0]["count"] == -1
    calls = control(endpoint, "GET", "calls")
    assert calls["servicediscovery:ListInstances"] == 4


def test_cloudmap_throttle_fault_retried_by_sdk(endpoint):
    sd = sd_client(endpoint, Config(retries={"total_max_attempts": 3, "mode": "standard"}))
    ns = sd_private_namespace(sd)
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "servicediscovery", "operation": "GetNamespace", "status": 400, "code": "ThrottlingException",
         "count": 1}]})
    control(endpoint, "DELETE", "calls")
    assert sd.get_namespace(Id=ns)["Namespace"]["Id"] == ns
    assert control(endpoint, "GET", "calls") == {"servicediscovery:GetNamespace": 2}


def test_cloudmap_list_services_namespace_filter(endpoint):
    sd = sd_client(endpoint)
    ns_a, ns_b, ns_c = (sd_private_namespace(sd, name) for name in ("a.internal", "b.internal", "c.internal"))
    a1, a2, b1, c1 = (sd_service(sd, ns, name) for ns, name in ((ns_a, "a1"), (ns_a, "a2"), (ns_b, "b1"), (ns_c, "c1")))
    sd.register_instance(ServiceId=a1, InstanceId="t1", Attributes=ecs_attributes())

    def listed(*filters):
        return sorted(s["Id"] for s in sd.list_services(Filters=list(filters))["Services"])

    assert listed() == sorted([a1, a2, b1, c1])
    assert listed({"Name": "NAMESPACE_ID", "Values": [ns_a], "Condition": "EQ"}) == sorted([a1, a2])
    assert listed({"Name": "NAMESPACE_ID", "Values": [ns_b]}) == [b1]  # EQ is the default
    assert listed({"Name": "NAMESPACE_ID", "Values": [ns_a, ns_c], "Condition": "IN"}) == sorted([a1, a2, c1])
    arn_b = sd.get_namespace(Id=ns_b)["Namespace"]["Arn"]
    assert listed({"Name": "NAMESPACE_ID", "Values": [arn_b], "Condition": "EQ"}) == [b1]
    assert listed({"Name": "NAMESPACE_ID", "Values": ["ns-doesnotexist00000"]}) == []
    assert listed({"Name": "NAMESPACE_ID", "Values": [ns_a, ns_b], "Condition": "IN"},
                  {"Name": "NAMESPACE_ID", "Values": [ns_b]}) == [b1]  # filters are ANDed
    assert listed({"Name": "RESOURCE_OWNER", "Values": ["SELF"]}) == sorted([a1, a2, b1, c1])
    assert listed({"Name": "RESOURCE_OWNER", "Values": ["OTHER_ACCOUNTS"]}) == []

    summary = {s["Id"]: s for s in sd.list_services()["Services"]}
    assert summary[a1]["InstanceCount"] == 1 and summary[a2]["InstanceCount"] == 0
    assert summary[a1]["Type"] == "DNS_HTTP" and summary[a1]["Name"] == "a1"
    assert summary[a1]["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]
    assert "HealthCheckCustomConfig" not in summary[a1]

    for bad in ({"Name": "NAMESPACE_ID", "Values": [ns_a, ns_b], "Condition": "EQ"},
                {"Name": "NAMESPACE_ID", "Values": [ns_a], "Condition": "BETWEEN"},
                {"Name": "NAMESPACE_ID", "Values": [ns_a], "Condition": "BEGINS_WITH"},
                {"Name": "SERVICE_NAME", "Values": ["a1"]}):
        err = error(sd.list_services, Filters=[bad])
        assert err["Error"]["Code"] == "InvalidInput", bad


def walk_services(sd, **kwargs):
    pages = []
    while True:
        resp = sd.list_services(**kwargs)
        pages.append([s["Id"] for s in resp["Services"]])
        if "NextToken" not in resp:
            return pages
        kwargs["NextToken"] = resp["NextToken"]


def test_cloudmap_list_services_pages_then_filters(endpoint):
    sd = sd_client(endpoint)
    ns_a, ns_b = sd_private_namespace(sd, "a.internal"), sd_private_namespace(sd, "b.internal")
    a = [sd_service(sd, ns_a, f"a{i}") for i in range(3)]
    b = [sd_service(sd, ns_b, f"b{i}") for i in range(2)]
    only_b = [{"Name": "NAMESPACE_ID", "Values": [ns_b]}]
    # Cloud Map takes MaxResults services, then filters them: pages may be empty
    pages = walk_services(sd, MaxResults=2, Filters=only_b)
    assert pages == [[], [b[0]], [b[1]]]
    assert walk_services(sd, MaxResults=2) == [a[:2], [a[2], b[0]], [b[1]]]
    assert walk_services(sd) == [a + b]  # default MaxResults 100
    many = [sd_service(sd, ns_a, f"m{i}") for i in range(100)]
    pages = walk_services(sd)
    assert [len(p) for p in pages] == [100, 5] and sum(pages, []) == a + b + many

    raw = client(endpoint, "servicediscovery", Config(parameter_validation=False, retries={"total_max_attempts": 1}))
    for bad in (0, 101):
        assert error(raw.list_services, MaxResults=bad)["Error"]["Code"] == "InvalidInput"
    assert error(raw.list_services, NextToken="not-a-token")["Error"]["Code"] == "InvalidInput"


def test_cloudmap_list_namespaces_filters_and_paging(endpoint):
    sd = sd_client(endpoint)
    private_a = sd_private_namespace(sd, "a.internal")
    private_b = sd_private_namespace(sd, "b.internal", vpc="vpc-0cloudmap0000002")
    sd.create_http_namespace(Name="http-ns")
    sd.create_public_dns_namespace(Name="example.com")
    by_name = {n["Name"]: n for n in sd.list_namespaces()["Namespaces"]}
    http, public = by_name["http-ns"]["Id"], by_name["example.com"]["Id"]
    sd_service(sd, private_a, "s1")
    sd_service(sd, private_a, "s2")

    def listed(*filters, **kwargs):
        return sorted(n["Id"] for n in sd.list_namespaces(Filters=list(filters), **kwargs)["Namespaces"])

    assert listed({"Name": "TYPE", "Values": ["DNS_PRIVATE"], "Condition": "EQ"}) == sorted([private_a, private_b])
    assert listed({"Name": "TYPE", "Values": ["DNS_PRIVATE", "HTTP"], "Condition": "IN"}) == sorted(
        [private_a, private_b, http])
    assert listed({"Name": "TYPE", "Values": ["DNS_"], "Condition": "BEGINS_WITH"}) == sorted(
        [private_a, private_b, public])
    assert listed({"Name": "NAME", "Values": ["b.internal"]}) == [private_b]
    assert listed({"Name": "NAME", "Values": ["a."], "Condition": "BEGINS_WITH"}) == [private_a]
    assert listed({"Name": "HTTP_NAME", "Values": ["http-ns"]}) == [http]
    assert listed({"Name": "TYPE", "Values": ["DNS_PRIVATE"]}, {"Name": "NAME", "Values": ["a.internal"]}) == [private_a]
    # paged first, then filtered
    resp = sd.list_namespaces(MaxResults=2, Filters=[{"Name": "TYPE", "Values": ["HTTP"]}])
    assert resp["Namespaces"] == [] and "NextToken" in resp

    summary = {n["Id"]: n for n in sd.list_namespaces()["Namespaces"]}
    assert summary[private_a]["ServiceCount"] == 2 and summary[private_b]["ServiceCount"] == 0
    assert summary[private_a]["Properties"]["HttpProperties"] == {"HttpName": "a.internal"}
    for bad in ({"Name": "TYPE", "Values": ["HTTP", "DNS_PUBLIC"], "Condition": "EQ"},
                {"Name": "NAME", "Values": ["a.internal", "b.internal"], "Condition": "IN"},
                {"Name": "VPC", "Values": [SD_VPC]}):
        assert error(sd.list_namespaces, Filters=[bad])["Error"]["Code"] == "InvalidInput", bad


def test_cloudmap_private_namespace_zone_is_in_its_vpc(endpoint):
    sd, r53 = sd_client(endpoint), client(endpoint, "route53")
    ns = sd_private_namespace(sd, "sd.internal")
    namespace = sd.get_namespace(Id=ns)["Namespace"]
    assert namespace["Type"] == "DNS_PRIVATE" and namespace["Name"] == "sd.internal"
    zone_id = namespace["Properties"]["DnsProperties"]["HostedZoneId"]
    assert "/" not in zone_id  # the bare id, as Cloud Map reports it
    zone = r53.get_hosted_zone(Id=zone_id)
    assert zone["HostedZone"]["Name"] == "sd.internal."
    assert zone["HostedZone"]["Config"]["PrivateZone"] is True
    assert zone["VPCs"] == [{"VPCRegion": "us-east-1", "VPCId": SD_VPC}]
    # the zone is an ordinary zone: its records can be listed and changed
    assert {r["Type"] for r in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]} == {
        "NS", "SOA"}

    # more namespaces in the same VPC, and the same name in another VPC
    other = sd_private_namespace(sd, "other.internal")
    again = sd_private_namespace(sd, "sd.internal", vpc="vpc-0cloudmap0000002")
    zones = {n: sd.get_namespace(Id=n)["Namespace"]["Properties"]["DnsProperties"]["HostedZoneId"]
             for n in (ns, other, again)}
    assert len(set(zones.values())) == 3
    assert r53.get_hosted_zone(Id=zones[again])["VPCs"] == [{"VPCRegion": "us-east-1", "VPCId": "vpc-0cloudmap0000002"}]
    assert r53.get_hosted_zone(Id=zones[other])["HostedZone"]["Name"] == "other.internal."
    # the same name twice in one VPC is refused
    err = error(sd.create_private_dns_namespace, Name="sd.internal", Vpc=SD_VPC)
    assert err["Error"]["Code"] == "ConflictingDomainExists"
    # updating the namespace's SOA keeps its zone
    sd.update_private_dns_namespace(Id=ns, Namespace={"Properties": {"DnsProperties": {"SOA": {"TTL": 60}}}})
    props = sd.get_namespace(Id=ns)["Namespace"]["Properties"]["DnsProperties"]
    assert props == {"HostedZoneId": zone_id, "SOA": {"TTL": 60}}


def test_cloudmap_deregister_is_pending_then_succeeds(endpoint):
    sd = sd_client(endpoint)
    ns = sd_private_namespace(sd)
    svc = sd_service(sd, ns)
    for tid in ("t1", "t2"):
        sd.register_instance(ServiceId=svc, InstanceId=tid, Attributes=ecs_attributes())
    control(endpoint, "POST", "servicediscovery/operations", {"complete_after_ms": None})

    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t1")["OperationId"]
    assert instance_ids_of(sd, svc) == ["t1", "t2"]  # still there while in progress
    err = error(sd.deregister_instance, ServiceId=svc, InstanceId="t1")
    assert err["Error"]["Code"] == "DuplicateRequest" and err["DuplicateOperationId"] == op_id
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 409
    op = sd.get_operation(OperationId=op_id)["Operation"]
    assert (op["Status"], op["Type"]) == ("PENDING", "DEREGISTER_INSTANCE")
    assert op["Targets"] == {"INSTANCE": "t1", "SERVICE": svc}
    assert "ErrorCode" not in op
    assert instance_ids_of(sd, svc) == ["t1", "t2"]
    time.sleep(0.3)  # no deadline: time alone changes nothing
    assert instance_ids_of(sd, svc) == ["t1", "t2"]
    # the next observation completes it: here a ListOperations page that holds it
    assert {o["Id"]: o["Status"] for o in sd.list_operations()["Operations"]}[op_id] == "SUCCESS"
    assert instance_ids_of(sd, svc) == ["t2"]
    op = sd.get_operation(OperationId=op_id)["Operation"]
    assert op["Status"] == "SUCCESS" and op["UpdateDate"] >= op["CreateDate"]
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUCCESS"  # stays done
    assert sd.list_services()["Services"][0]["InstanceCount"] == 1

    assert error(sd.deregister_instance, ServiceId=svc, InstanceId="t1")["Error"]["Code"] == "InstanceNotFound"
    assert error(sd.deregister_instance, ServiceId=svc, InstanceId="nope")["Error"]["Code"] == "InstanceNotFound"
    assert error(sd.deregister_instance, ServiceId="srv-nope", InstanceId="t2")["Error"]["Code"] == "ServiceNotFound"
    assert error(sd.get_operation, OperationId="nope")["Error"]["Code"] == "OperationNotFound"
    seen = control(endpoint, "GET", "servicediscovery/operations")["operations"]
    assert [(o["id"], o["status"], o["polls"], o["instanceId"]) for o in seen] == [(op_id, "SUCCESS", 2, "t1")]


def test_cloudmap_deregister_defaults(endpoint):
    """Out of the box: the first GetOperation says PENDING, the next one SUCCESS."""
    sd = sd_client(endpoint)
    assert control(endpoint, "GET", "servicediscovery/operations") == {
        "pending": ["PENDING"], "complete_after_ms": 2000, "fail": [], "list_order": "oldest-first",
        "operations": []}
    svc = sd_service(sd, sd_private_namespace(sd))
    sd.register_instance(ServiceId=svc, InstanceId="t1", Attributes=ecs_attributes())
    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t1")["OperationId"]
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "PENDING"
    assert instance_ids_of(sd, svc) == ["t1"]
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUCCESS"
    assert instance_ids_of(sd, svc) == []


def test_cloudmap_deregister_completes_on_its_own(endpoint):
    sd = sd_client(endpoint)
    svc = sd_service(sd, sd_private_namespace(sd))
    for tid in ("t1", "t2"):
        sd.register_instance(ServiceId=svc, InstanceId=tid, Attributes=ecs_attributes())
    control(endpoint, "POST", "servicediscovery/operations", {"complete_after_ms": 1000})
    started = time.monotonic()
    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t1")["OperationId"]
    listed = instance_ids_of(sd, svc)
    if time.monotonic() - started < 0.9:  # (a very slow machine could take longer)
        assert listed == ["t1", "t2"]
    time.sleep(max(0.0, started + 1.2 - time.monotonic()))
    assert instance_ids_of(sd, svc) == ["t2"]  # nobody polled
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUCCESS"
    # complete_after_ms 0: done before DeregisterInstance answers
    control(endpoint, "POST", "servicediscovery/operations", {"complete_after_ms": 0})
    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t2")["OperationId"]
    assert instance_ids_of(sd, svc) == []
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUCCESS"


def test_cloudmap_operation_statuses_and_list_operations(endpoint):
    sd = sd_client(endpoint)
    svc = sd_service(sd, sd_private_namespace(sd))
    sd.register_instance(ServiceId=svc, InstanceId="t1", Attributes=ecs_attributes())
    control(endpoint, "POST", "servicediscovery/operations",
            {"pending": ["SUBMITTED", "PENDING", "PENDING"], "complete_after_ms": None})
    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t1")["OperationId"]
    # GetOperation and ListOperations observe one sequence: each observation
    # reports the next in-progress status, the one after them the result
    listed = {o["Id"]: o["Status"] for o in sd.list_operations()["Operations"]}
    assert listed[op_id] == "SUBMITTED"
    statuses = [sd.get_operation(OperationId=op_id)["Operation"]["Status"] for _ in range(4)]
    assert statuses == ["PENDING", "PENDING", "SUCCESS", "SUCCESS"]
    # ListOperations keeps every operation (moto dropped all but namespace ones)
    assert {o["Id"]: o["Status"] for o in sd.list_operations()["Operations"]}[op_id] == "SUCCESS"
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUCCESS"
    # pending [] : the first GetOperation already has the result
    sd.register_instance(ServiceId=svc, InstanceId="t2", Attributes=ecs_attributes())
    control(endpoint, "POST", "servicediscovery/operations", {"pending": []})
    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t2")["OperationId"]
    assert instance_ids_of(sd, svc) == ["t2"]
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUCCESS"
    assert instance_ids_of(sd, svc) == []


def test_cloudmap_deregister_made_to_fail(endpoint):
    sd = sd_client(endpoint)
    svc = sd_service(sd, sd_private_namespace(sd))
    other = sd_service(sd, sd_private_namespace(sd, "other.internal"), "other")
    for service in (svc, other):
        for tid in ("t1", "t2", "t3"):
            sd.register_instance(ServiceId=service, InstanceId=tid, Attributes=ecs_attributes())
    control(endpoint, "POST", "servicediscovery/operations", {"complete_after_ms": None, "fail": ["t1"]})

    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t1")["OperationId"]
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "PENDING"
    op = sd.get_operation(OperationId=op_id)["Operation"]
    assert op["Status"] == "FAIL"
    assert op["ErrorCode"] == "INTERNAL_FAILURE" and op["ErrorMessage"]
    assert instance_ids_of(sd, svc) == ["t1", "t2", "t3"]  # the instance stays
    assert control(endpoint, "GET", "servicediscovery/operations")["fail"] == []  # count 1, used up
    # a failed deregistration can be retried, and this time it succeeds
    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t1")["OperationId"]
    assert [sd.get_operation(OperationId=op_id)["Operation"]["Status"] for _ in range(2)] == ["PENDING", "SUCCESS"]
    assert instance_ids_of(sd, svc) == ["t2", "t3"]

    # a rule armed while the operation is in progress still applies; serviceId
    # narrows it; count -1 fails every time
    op_other = sd.deregister_instance(ServiceId=other, InstanceId="t2")["OperationId"]
    op_svc = sd.deregister_instance(ServiceId=svc, InstanceId="t2")["OperationId"]
    control(endpoint, "POST", "servicediscovery/operations", {"fail": [
        {"instanceId": "t2", "serviceId": other, "errorCode": "THROTTLED_REQUEST", "errorMessage": "Rate exceeded",
         "count": -1}]})
    for op_id in (op_other, op_svc):
        sd.get_operation(OperationId=op_id)
    failed = sd.get_operation(OperationId=op_other)["Operation"]
    assert (failed["Status"], failed["ErrorCode"], failed["ErrorMessage"]) == ("FAIL", "THROTTLED_REQUEST",
                                                                               "Rate exceeded")
    assert sd.get_operation(OperationId=op_svc)["Operation"]["Status"] == "SUCCESS"
    assert instance_ids_of(sd, other) == ["t1", "t2", "t3"] and instance_ids_of(sd, svc) == ["t3"]
    op_id = sd.deregister_instance(ServiceId=other, InstanceId="t2")["OperationId"]
    sd.get_operation(OperationId=op_id)
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "FAIL"
    assert control(endpoint, "GET", "servicediscovery/operations")["fail"][0]["count"] == -1
    # with a deadline, a failing operation fails on its own too
    control(endpoint, "POST", "servicediscovery/operations", {"complete_after_ms": 0, "fail": ["t3"]})
    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t3")["OperationId"]
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "FAIL"
    assert instance_ids_of(sd, svc) == ["t3"]


def test_cloudmap_operations_control_api(endpoint):
    path = "servicediscovery/operations"
    state = control(endpoint, "POST", path, {"pending": ["SUBMITTED"], "complete_after_ms": 50,
                                             "fail": ["t9", {"instanceId": "t8", "count": 2}]})
    assert state["pending"] == ["SUBMITTED"] and state["complete_after_ms"] == 50
    assert [(r["instanceId"], r["count"], r["errorCode"]) for r in state["fail"]] == [
        ("t9", 1, "INTERNAL_FAILURE"), ("t8", 2, "INTERNAL_FAILURE")]
    for bad in ({"pending": ["SUCCESS"]}, {"pending": "PENDING"}, {"complete_after_ms": -1},
                {"complete_after_ms": 1.5}, {"fail": "t1"}, {"fail": [{"serviceId": "srv-1"}]},
                {"fail": [{"instanceId": "t1", "errorCode": "NOPE"}]}, {"fail": [{"instanceId": "t1", "count": 0}]},
                {"fail": [{"instanceId": "t1", "colour": "red"}]}, {"delay": 5}):
        assert "error" in control(endpoint, "POST", path, bad, expect=400), bad
    assert control(endpoint, "GET", path)["fail"][0]["instanceId"] == "t9"  # nothing applied by a bad request
    assert control(endpoint, "DELETE", path) == {"pending": ["PENDING"], "complete_after_ms": 2000, "fail": [],
                                                 "list_order": "oldest-first", "operations": []}
    control(endpoint, "POST", path, {"pending": [], "fail": ["t1"]})
    control(endpoint, "POST", "reset")
    assert control(endpoint, "GET", path) == {"pending": ["PENDING"], "complete_after_ms": 2000, "fail": [],
                                              "list_order": "oldest-first", "operations": []}


def test_cloudmap_register_existing_instance_replaces_it(endpoint):
    sd = sd_client(endpoint)
    svc = sd_service(sd, sd_private_namespace(sd))
    sd.register_instance(ServiceId=svc, InstanceId="t1", Attributes=ecs_attributes(ip="10.0.1.5", port="32768"))
    sd.register_instance(ServiceId=svc, InstanceId="t2", Attributes=ecs_attributes(ip="10.0.1.6"))
    sd.register_instance(ServiceId=svc, InstanceId="t1", Attributes={"AWS_INSTANCE_IPV4": "10.0.2.7",
                                                                     "AWS_INSTANCE_PORT": "32769"})
    instances = sd.list_instances(ServiceId=svc)["Instances"]
    assert [i["Id"] for i in instances] == ["t1", "t2"]
    assert instances[0]["Attributes"] == {"AWS_INSTANCE_IPV4": "10.0.2.7", "AWS_INSTANCE_PORT": "32769"}
    assert sd.get_instance(ServiceId=svc, InstanceId="t1")["Instance"]["Attributes"]["AWS_INSTANCE_IPV4"] == "10.0.2.7"
    assert sd.list_services()["Services"][0]["InstanceCount"] == 2
    # the service may be named by its ARN
    arn = sd.get_service(Id=svc)["Service"]["Arn"]
    assert [i["Id"] for i in sd.list_instances(ServiceId=arn)["Instances"]] == ["t1", "t2"]
    assert error(sd.register_instance, ServiceId="srv-nope", InstanceId="t1",
                    Attributes=ecs_attributes())["Error"]["Code"] == "ServiceNotFound"
    assert error(sd.create_service, Name="x", NamespaceId="ns-nope")["Error"]["Code"] == "NamespaceNotFound"


def test_cloudmap_list_instances_pages_by_100(endpoint):
    sd = sd_client(endpoint)
    svc = sd_service(sd, sd_private_namespace(sd))
    for i in range(105):
        sd.register_instance(ServiceId=svc, InstanceId=f"t{i:03d}", Attributes=ecs_attributes(ip=f"10.0.{i}.1"))
    first = sd.list_instances(ServiceId=svc)
    assert len(first["Instances"]) == 100 and "NextToken" in first
    second = sd.list_instances(ServiceId=svc, NextToken=first["NextToken"])
    assert len(second["Instances"]) == 5 and "NextToken" not in second
    assert [i["Id"] for i in first["Instances"] + second["Instances"]] == [f"t{i:03d}" for i in range(105)]
    assert first["Instances"][0]["Attributes"] == ecs_attributes(ip="10.0.0.1")
    walked = [i["Id"] for page in sd.get_paginator("list_instances").paginate(
        ServiceId=svc, PaginationConfig={"PageSize": 40}) for i in page["Instances"]]
    assert walked == [f"t{i:03d}" for i in range(105)]
    assert error(sd.list_instances, ServiceId="srv-nope")["Error"]["Code"] == "ServiceNotFound"


def test_cloudmap_custom_health_status(endpoint):
    sd = sd_client(endpoint)
    ns = sd_private_namespace(sd)
    custom = sd_service(sd, ns, "custom", custom_health=True)
    plain = sd_service(sd, ns, "plain")
    assert sd.get_service(Id=custom)["Service"]["HealthCheckCustomConfig"] == {"FailureThreshold": 1}
    sd.register_instance(ServiceId=custom, InstanceId="t1", Attributes=ecs_attributes())
    sd.register_instance(ServiceId=custom, InstanceId="t2",
                         Attributes=ecs_attributes(AWS_INIT_HEALTH_STATUS="UNHEALTHY"))
    sd.register_instance(ServiceId=plain, InstanceId="p1", Attributes=ecs_attributes())
    assert sd.get_instances_health_status(ServiceId=custom)["Status"] == {"t1": "HEALTHY", "t2": "UNHEALTHY"}

    sd.update_instance_custom_health_status(ServiceId=custom, InstanceId="t1", Status="UNHEALTHY")
    sd.update_instance_custom_health_status(ServiceId=custom, InstanceId="t2", Status="HEALTHY")
    assert sd.get_instances_health_status(ServiceId=custom)["Status"] == {"t1": "UNHEALTHY", "t2": "HEALTHY"}
    assert sd.get_instances_health_status(ServiceId=custom, Instances=["t2"])["Status"] == {"t2": "HEALTHY"}
    # re-registering keeps the status unless AWS_INIT_HEALTH_STATUS says otherwise
    sd.register_instance(ServiceId=custom, InstanceId="t1", Attributes=ecs_attributes(ip="10.0.9.9"))
    assert sd.get_instances_health_status(ServiceId=custom, Instances=["t1"])["Status"] == {"t1": "UNHEALTHY"}

    err = error(sd.update_instance_custom_health_status, ServiceId=plain, InstanceId="p1", Status="UNHEALTHY")
    assert err["Error"]["Code"] == "CustomHealthNotFound"
    err = error(sd.update_instance_custom_health_status, ServiceId=custom, InstanceId="nope", Status="HEALTHY")
    assert err["Error"]["Code"] == "InstanceNotFound"
    err = error(sd.update_instance_custom_health_status, ServiceId="srv-nope", InstanceId="t1", Status="HEALTHY")
    assert err["Error"]["Code"] == "ServiceNotFound"
    err = error(sd.update_instance_custom_health_status, ServiceId=custom, InstanceId="t1", Status="UNKNOWN")
    assert err["Error"]["Code"] == "InvalidInput"
    # no health check of either kind: UNKNOWN
    assert sd.get_instances_health_status(ServiceId=plain)["Status"] == {"p1": "UNKNOWN"}
    err = error(sd.get_instances_health_status, ServiceId=custom, Instances=["t1", "nope"])
    assert err["Error"]["Code"] == "InstanceNotFound"


def test_cloudmap_classified_by_target_prefix_without_signature():
    """In-process: an unsigned Cloud Map request is still servicediscovery:<Operation>."""
    import control as localaws_control
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/", method="POST", data=b'{"ServiceId": "srv-1"}', headers={
        "X-Amz-Target": "Route53AutoNaming_v20170314.ListInstances",
        "Content-Type": "application/x-amz-json-1.1"}).get_environ()
    call = localaws_control.classify(environ, b'{"ServiceId": "srv-1"}')
    assert (call.key, call.params) == ("servicediscovery:ListInstances", {"ServiceId": "srv-1"})
    status, headers, body = localaws_control.error_response("servicediscovery", 400, "ThrottlingException", "Rate exceeded")
    assert status == "400 Bad Request"
    assert json.loads(body) == {"__type": "ThrottlingException", "message": "Rate exceeded"}
    assert ("Content-Type", "application/x-amz-json-1.1") in headers and ("x-amzn-errortype", "ThrottlingException") in headers
