"""Cloud Map ListOperations as AWS documents it (filters, paging) and as the
one observer that follows deregistrations to their end.  See README.md,
"Cloud Map"."""

from __future__ import annotations

import time

import botocore.exceptions
import pytest

from conftest import NO_RETRY, client, control, make_vpc

OPS = "servicediscovery/operations"


def sd_client(endpoint, region="us-east-1"):
    return client(endpoint, "servicediscovery", NO_RETRY, region=region)


def namespace(endpoint, sd, name="sd.internal", region="us-east-1"):
    before = {n["Id"] for n in sd.list_namespaces()["Namespaces"]}
    sd.create_private_dns_namespace(Name=name, Vpc=make_vpc(endpoint, region))
    (new,) = [n for n in sd.list_namespaces()["Namespaces"] if n["Id"] not in before]
    return new["Id"]


def service(sd, namespace_id, name="calc"):
    return sd.create_service(Name=name, NamespaceId=namespace_id, DnsConfig={
        "RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]})["Service"]["Id"]


def register(sd, service_id, *instance_ids):
    for iid in instance_ids:
        sd.register_instance(ServiceId=service_id, InstanceId=iid, Attributes={"AWS_INSTANCE_IPV4": "10.0.1.5"})


def listed(sd, *filters, **kwargs):
    """Every page (following NextToken): {operation id: status}."""
    result, token = {}, None
    while True:
        args = dict(Filters=list(filters), **kwargs)
        if token:
            args["NextToken"] = token
        resp = sd.list_operations(**args)
        result.update({o["Id"]: o["Status"] for o in resp["Operations"]})
        token = resp.get("NextToken")
        if not token:
            return result


def f(name, values, condition=None):
    spec = {"Name": name, "Values": values}
    if condition:
        spec["Condition"] = condition
    return spec


def invalid_input(sd, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sd.list_operations(**kwargs)
    return info.value.response["Error"]["Code"]


def test_list_operations_lists_instance_operations_and_filters(endpoint):
    sd = sd_client(endpoint)
    # the deregistration stays in progress however often it is observed
    control(endpoint, "POST", OPS, {"pending": ["PENDING"] * 100, "complete_after_ms": None})
    ns_a, ns_b = namespace(endpoint, sd, "a.internal"), namespace(endpoint, sd, "b.internal")
    svc_a, svc_b = service(sd, ns_a), service(sd, ns_b)
    register(sd, svc_a, "t1", "t2")
    register(sd, svc_b, "t3")
    dereg = sd.deregister_instance(ServiceId=svc_a, InstanceId="t1")["OperationId"]

    every = sd.list_operations()["Operations"]
    types = sorted(sd.get_operation(OperationId=o["Id"])["Operation"]["Type"] for o in every)
    assert types == sorted(["CREATE_NAMESPACE"] * 2 + ["REGISTER_INSTANCE"] * 3 + ["DEREGISTER_INSTANCE"])

    def ids(*filters):
        return sorted(listed(sd, *filters))

    def of_type(op_type):
        return sorted(o["Id"] for o in every if sd.get_operation(OperationId=o["Id"])["Operation"]["Type"] == op_type)

    # SERVICE_ID (ID or ARN): that service's instance operations
    svc_a_arn = sd.get_service(Id=svc_a)["Service"]["Arn"]
    assert len(ids(f("SERVICE_ID", [svc_a]))) == 3 and ids(f("SERVICE_ID", [svc_a_arn])) == ids(f("SERVICE_ID", [svc_a]))
    assert len(ids(f("SERVICE_ID", [svc_b], "EQ"))) == 1
    # NAMESPACE_ID: the namespace's own operations and those of its services' instances
    assert len(ids(f("NAMESPACE_ID", [ns_a]))) == 4 and len(ids(f("NAMESPACE_ID", [ns_b]))) == 2
    # TYPE EQ / IN; several filters must all match
    assert ids(f("TYPE", ["DEREGISTER_INSTANCE"])) == [dereg]
    assert ids(f("TYPE", ["REGISTER_INSTANCE", "DEREGISTER_INSTANCE"], "IN")) == sorted(
        of_type("REGISTER_INSTANCE") + [dereg])
    assert ids(f("TYPE", ["REGISTER_INSTANCE", "DEREGISTER_INSTANCE"], "IN"), f("SERVICE_ID", [svc_b])) == ids(
        f("SERVICE_ID", [svc_b]))
    assert ids(f("TYPE", ["CREATE_NAMESPACE"]), f("NAMESPACE_ID", [ns_b])) == [
        i for i in of_type("CREATE_NAMESPACE") if i in ids(f("NAMESPACE_ID", [ns_b]))]
    # STATUS EQ / IN ("SUCCEED", the OperationFilter page's spelling, is SUCCESS)
    assert ids(f("STATUS", ["SUCCESS"])) == ids(f("STATUS", ["SUCCEED"])) == sorted(o["Id"] for o in every
                                                                                       if o["Id"] != dereg)
    assert ids(f("STATUS", ["SUBMITTED", "PENDING", "FAIL"], "IN")) == [dereg]
    # UPDATE_DATE BETWEEN start and end (Unix time)
    now = time.time()
    assert len(ids(f("UPDATE_DATE", [str(now - 60), str(now + 60)], "BETWEEN"))) == 6
    assert ids(f("UPDATE_DATE", [str(int(now) + 60), str(int(now) + 120)], "BETWEEN")) == []


@pytest.mark.parametrize("filters", [
    [f("INSTANCE_ID", ["t1"])],
    [f("NAMESPACE_ID", ["ns-1", "ns-2"], "IN")],
    [f("SERVICE_ID", ["srv-1", "srv-2"])],
    [f("STATUS", ["SUCCESS", "FAIL"], "EQ")],
    [f("STATUS", ["DONE"])],
    [f("TYPE", ["DELETE_SERVICE"])],
    [f("TYPE", ["REGISTER_INSTANCE"], "BEGINS_WITH")],
    [f("UPDATE_DATE", ["1700000000", "1800000000"])],
    [f("UPDATE_DATE", ["1700000000"], "BETWEEN")],
    [f("UPDATE_DATE", ["yesterday", "today"], "BETWEEN")],
])
def test_list_operations_refuses_bad_filters(endpoint, filters):
    assert invalid_input(sd_client(endpoint), Filters=filters) == "InvalidInput"


def test_list_operations_pages_then_filters(endpoint):
    sd = sd_client(endpoint)
    ns = namespace(endpoint, sd)
    svc = service(sd, ns)
    register(sd, svc, *[f"t{i}" for i in range(120)])  # 1 + 120 operations
    first = sd.list_operations()
    assert len(first["Operations"]) == 100 and first["NextToken"]  # MaxResults defaults to 100
    second = sd.list_operations(NextToken=first["NextToken"])
    assert len(second["Operations"]) == 21 and "NextToken" not in second
    assert invalid_input(sd, MaxResults=101) == "InvalidInput"
    assert invalid_input(sd, NextToken="garbage") == "InvalidInput"
    # "AWS Cloud Map gets MaxResults operations and then filters them": the
    # namespace's creation is first, so a page of 10 REGISTER-filtered
    # operations holds 9, and a filter can leave a page empty with a NextToken
    page = sd.list_operations(MaxResults=10, Filters=[f("TYPE", ["REGISTER_INSTANCE"])])
    assert len(page["Operations"]) == 9 and page["NextToken"]
    page = sd.list_operations(MaxResults=10, NextToken=page["NextToken"], Filters=[f("TYPE", ["CREATE_NAMESPACE"])])
    assert page["Operations"] == [] and page["NextToken"]
    assert len(listed(sd, f("TYPE", ["REGISTER_INSTANCE"]), MaxResults=7)) == 120
    # oldest first by default; newest first on request
    oldest = sd.list_operations(MaxResults=1)["Operations"][0]["Id"]
    assert sd.get_operation(OperationId=oldest)["Operation"]["Type"] == "CREATE_NAMESPACE"
    assert control(endpoint, "POST", OPS, {"list_order": "newest-first"})["list_order"] == "newest-first"
    newest = sd.list_operations(MaxResults=1)["Operations"][0]["Id"]
    assert sd.get_operation(OperationId=newest)["Operation"]["Targets"]["INSTANCE"] == "t119"
    assert "error" in control(endpoint, "POST", OPS, {"list_order": "random"}, expect=400)
    control(endpoint, "POST", "reset")
    assert control(endpoint, "GET", OPS)["list_order"] == "oldest-first"


def test_following_deregistrations_with_list_operations_alone(endpoint):
    sd = sd_client(endpoint)
    control(endpoint, "POST", OPS, {"pending": ["SUBMITTED", "PENDING"], "complete_after_ms": None,
                                    "fail": ["t3"]})
    svc = service(sd, namespace(endpoint, sd))
    register(sd, svc, *[f"t{i}" for i in range(5)])
    started = time.time() - 1
    ops = {sd.deregister_instance(ServiceId=svc, InstanceId=f"t{i}")["OperationId"]: f"t{i}" for i in range(5)}
    control(endpoint, "DELETE", "calls")
    follow = [f("SERVICE_ID", [svc]), f("TYPE", ["DEREGISTER_INSTANCE"]),
              f("UPDATE_DATE", [str(started), str(time.time() + 3600)], "BETWEEN")]
    seen = []
    while True:
        statuses = {i: s for i, s in listed(sd, *follow).items() if i in ops}
        seen.append(sorted(set(statuses.values())))
        if all(s in ("SUCCESS", "FAIL") for s in statuses.values()):
            break
        assert len(seen) < 10
    # each listing is one observation of every operation it lists
    assert seen == [["SUBMITTED"], ["PENDING"], ["FAIL", "SUCCESS"]]
    assert control(endpoint, "GET", "calls") == {"servicediscovery:ListOperations": 3}
    failed = [ops[i] for i, s in statuses.items() if s == "FAIL"]
    assert failed == ["t3"]
    assert [i["Id"] for i in sd.list_instances(ServiceId=svc)["Instances"]] == ["t3"]
    # GetOperation reports what ListOperations reported, with the error
    for op_id, status in statuses.items():
        op = sd.get_operation(OperationId=op_id)["Operation"]
        assert op["Status"] == status
        assert ("ErrorCode" in op) == (status == "FAIL")
    assert {o["id"]: o["polls"] for o in control(endpoint, "GET", OPS)["operations"]} == {i: 3 for i in ops}


def test_list_operations_and_get_operation_share_one_sequence(endpoint):
    sd = sd_client(endpoint)
    control(endpoint, "POST", OPS, {"pending": ["SUBMITTED", "PENDING"], "complete_after_ms": None})
    svc = service(sd, namespace(endpoint, sd))
    register(sd, svc, "t1")
    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t1")["OperationId"]
    by_list = [f("TYPE", ["DEREGISTER_INSTANCE"])]
    assert listed(sd, *by_list) == {op_id: "SUBMITTED"}
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "PENDING"
    assert [i["Id"] for i in sd.list_instances(ServiceId=svc)["Instances"]] == ["t1"]
    assert listed(sd, *by_list) == {op_id: "SUCCESS"}
    assert sd.list_instances(ServiceId=svc)["Instances"] == []
    assert sd.get_operation(OperationId=op_id)["Operation"]["Status"] == "SUCCESS"
    # an operation a filter leaves out of the page's result is still on the page: observed
    register(sd, svc, "t2")
    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t2")["OperationId"]
    assert op_id not in listed(sd, f("STATUS", ["SUCCESS"]))  # observed: SUBMITTED
    assert listed(sd, f("STATUS", ["PENDING"])) == {op_id: "PENDING"}
    # completion by time shows the same way
    control(endpoint, "POST", OPS, {"complete_after_ms": 0})
    register(sd, svc, "t3")
    op_id = sd.deregister_instance(ServiceId=svc, InstanceId="t3")["OperationId"]
    assert listed(sd, f("SERVICE_ID", [svc]), f("TYPE", ["DEREGISTER_INSTANCE"]))[op_id] == "SUCCESS"


def test_list_operations_is_per_region(endpoint):
    east, west = sd_client(endpoint), sd_client(endpoint, "us-west-2")
    svc = service(west, namespace(endpoint, west, region="us-west-2"))
    register(west, svc, "t1")
    assert east.list_operations()["Operations"] == []
    assert len(west.list_operations()["Operations"]) == 2
