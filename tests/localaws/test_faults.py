"""Fault injection (``/_localaws/faults``): errors in each service's wire
format, once or every time, matched on request fields; dropped connections;
delays held outside the state lock.  See README.md, "Faults"."""

from __future__ import annotations

import threading
import time

import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import NO_RETRY, change, client, control, make_zone, srv


def test_fault_route53_count_one(endpoint):
    r53 = client(endpoint, "route53", NO_RETRY)
    zone_id = make_zone(r53)
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "route53", "operation": "ListResourceRecordSets", "status": 400, "code": "Throttling", "count": 1}]})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        r53.list_resource_record_sets(HostedZoneId=zone_id)
    assert info.value.response["Error"]["Code"] == "Throttling"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    r53.list_resource_record_sets(HostedZoneId=zone_id)  # count exhausted
    assert control(endpoint, "GET", "faults") == {"faults": []}


def test_fault_route53_prior_request_every_time(endpoint):
    r53 = client(endpoint, "route53", NO_RETRY)
    zone_id = make_zone(r53)
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "route53", "operation": "ChangeResourceRecordSets", "status": 400,
         "code": "PriorRequestNotComplete", "message": "busy", "count": -1}]})
    for _ in range(3):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            change(r53, zone_id, ("CREATE", srv("h:a")))
        assert info.value.response["Error"] == {"Type": "Sender", "Code": "PriorRequestNotComplete", "Message": "busy"}
    r53.list_resource_record_sets(HostedZoneId=zone_id)  # other operations unaffected
    control(endpoint, "DELETE", "faults")
    change(r53, zone_id, ("CREATE", srv("h:a")))


def test_fault_ecs_with_match(endpoint):
    ecs = client(endpoint, "ecs", NO_RETRY)
    ecs.create_cluster(clusterName="web")
    ecs.create_cluster(clusterName="api")
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "ecs", "operation": "ListContainerInstances", "status": 400, "code": "ThrottlingException",
         "count": -1, "match": {"cluster": "web"}}]})
    for _ in range(2):
        with pytest.raises(ecs.exceptions.ClientError) as info:
            ecs.list_container_instances(cluster="web")
        assert info.value.response["Error"]["Code"] == "ThrottlingException"
        assert info.value.response["Error"]["Message"] == "Rate exceeded"
    assert ecs.list_container_instances(cluster="api")["containerInstanceArns"] == []


def test_fault_ec2_5xx_and_request_limit(endpoint):
    ec2 = client(endpoint, "ec2", NO_RETRY)
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "ec2", "operation": "DescribeInstances", "status": 503, "code": "RequestLimitExceeded", "count": 1},
        {"service": "ec2", "operation": "DescribeInstances", "status": 500, "code": "InternalError", "count": 1},
    ]})
    for code, status in (("RequestLimitExceeded", 503), ("InternalError", 500)):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            ec2.describe_instances()
        assert info.value.response["Error"]["Code"] == code
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert ec2.describe_instances()["Reservations"] == []


def test_fault_connection_reset(endpoint):
    ecs = client(endpoint, "ecs", NO_RETRY)
    ecs.create_cluster(clusterName="web")
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "ecs", "operation": "ListTasks", "count": 1, "reset": True}]})
    with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError)):
        ecs.list_tasks(cluster="web")
    assert ecs.list_tasks(cluster="web")["taskArns"] == []


def test_fault_retried_by_sdk(endpoint):
    """With retries on, a count-1 throttle is invisible to the caller but counted."""
    r53 = client(endpoint, "route53", Config(retries={"total_max_attempts": 3, "mode": "standard"}))
    zone_id = make_zone(r53)
    control(endpoint, "DELETE", "calls")
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "route53", "operation": "ListResourceRecordSets", "status": 400, "code": "Throttling", "count": 1}]})
    r53.list_resource_record_sets(HostedZoneId=zone_id)
    assert control(endpoint, "GET", "calls") == {"route53:ListResourceRecordSets": 2}


def test_fault_delay(endpoint):
    """A slow listing: held before processing, outside the lock."""
    r53 = client(endpoint, "route53", NO_RETRY)
    zone_id = make_zone(r53)
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "route53", "operation": "ListResourceRecordSets", "delay_ms": 800, "count": 1}]})
    assert control(endpoint, "GET", "faults")["faults"][0]["delay_ms"] == 800
    result = {}

    def slow_listing():
        started = time.monotonic()
        result["records"] = client(endpoint, "route53", NO_RETRY).list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        result["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=slow_listing)
    thread.start()
    time.sleep(0.2)
    # other requests are served meanwhile
    started = time.monotonic()
    change(r53, zone_id, ("CREATE", srv("h:during")))
    assert control(endpoint, "GET", "calls")["route53:ListResourceRecordSets"] == 1
    assert time.monotonic() - started < 0.5
    assert "records" not in result
    thread.join(5)
    assert result["elapsed"] >= 0.8
    # the delayed call saw the state as it was after the delay
    assert "h:during" in [r.get("SetIdentifier") for r in result["records"]]
    started = time.monotonic()
    r53.list_resource_record_sets(HostedZoneId=zone_id)  # count exhausted
    assert time.monotonic() - started < 0.5
    assert control(endpoint, "GET", "faults") == {"faults": []}


def test_fault_delay_then_fail(endpoint):
    ecs = client(endpoint, "ecs", NO_RETRY)
    ecs.create_cluster(clusterName="web")
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "ecs", "operation": "ListTasks", "delay_ms": 300, "status": 400, "code": "ThrottlingException"}]})
    started = time.monotonic()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ecs.list_tasks(cluster="web")
    assert time.monotonic() - started >= 0.3
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert ecs.list_tasks(cluster="web")["taskArns"] == []
    for bad in (-1, "800", 1.5, True):
        control(endpoint, "POST", "faults", {"faults": [{"service": "ecs", "delay_ms": bad}]}, expect=400)


def test_fault_match_on_route53_zone(endpoint):
    r53 = client(endpoint, "route53", NO_RETRY)
    zone_a, zone_b = make_zone(r53), make_zone(r53)
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "route53", "operation": "ListResourceRecordSets", "status": 503, "code": "ServiceUnavailable",
         "count": -1, "match": {"HostedZoneId": zone_b}}]})
    r53.list_resource_record_sets(HostedZoneId=zone_a)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        r53.list_resource_record_sets(HostedZoneId=zone_b)
    assert info.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert info.value.response["Error"]["Type"] == "Receiver"
    assert control(endpoint, "GET", "faults")["faults"][0]["count"] == -1
