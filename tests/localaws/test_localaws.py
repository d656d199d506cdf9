"""Tests for the localaws fixture: run with ``.venv/bin/python -m pytest tests/localaws -q``.

The server runs as a subprocess exactly as the Rust integration tests start it;
boto3 (installed with moto) plays the client.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import SERVER, client, control, make_vpc

ZONE = "sd.internal."
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


# ---------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------


def make_zone(r53):
    """A private zone ZONE with a new us-east-1 VPC (Route 53 refuses a VPC
    that does not exist)."""
    zone = r53.create_hosted_zone(
        Name=ZONE, CallerReference=str(time.time()), HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": make_vpc(r53.meta.endpoint_url)},
    )
    return zone["HostedZone"]["Id"].split("/")[-1]


def srv(sid, port=32768, host="ip-10-0-1-5.ec2.internal", name=f"calc.{ZONE}", ttl=10, weight=1):
    return {
        "Name": name, "Type": "SRV", "TTL": ttl, "SetIdentifier": sid, "Weight": weight,
        "ResourceRecords": [{"Value": f"1 1 {port} {host}"}],
    }


def change(r53, zone_id, *changes):
    return r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes]},
    )


def all_record_sets(r53, zone_id, max_items="300"):
    """Walk pages by hand, the way the Rust client does."""
    seen, pages = [], []
    kwargs = {"HostedZoneId": zone_id, "MaxItems": max_items}
    while True:
        resp = r53.list_resource_record_sets(**kwargs)
        pages.append(len(resp["ResourceRecordSets"]))
        seen.extend(resp["ResourceRecordSets"])
        if not resp["IsTruncated"]:
            return seen, pages
        kwargs = {"HostedZoneId": zone_id, "MaxItems": max_items,
                  "StartRecordName": resp["NextRecordName"], "StartRecordType": resp["NextRecordType"]}
        if "NextRecordIdentifier" in resp:
            kwargs["StartRecordIdentifier"] = resp["NextRecordIdentifier"]


def key(rrset):
    return rrset["Name"], rrset["Type"], rrset.get("SetIdentifier")


def zone_snapshot(r53, zone_id):
    return sorted(json.dumps(r, sort_keys=True) for r in all_record_sets(r53, zone_id)[0])


# ---------------------------------------------------------------------------
# Route 53: listing
# ---------------------------------------------------------------------------


def test_paging_700_weighted_records_under_one_name(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    sids = [f"ip-10-0-{i // 250}-{i % 250}.ec2.internal:{i:012x}" for i in range(700)]
    change(r53, zone_id, *[("CREATE", srv(sid, port=32768 + i)) for i, sid in enumerate(sids)])
    change(r53, zone_id, ("CREATE", {"Name": f"ip-10-0-1-5.{ZONE}", "Type": "A", "TTL": 60,
                                     "ResourceRecords": [{"Value": "10.0.1.5"}]}))

    records, pages = all_record_sets(r53, zone_id)
    keys = [key(r) for r in records]
    assert len(keys) == len(set(keys)) == 700 + 3  # + NS, SOA, A
    assert sorted(r["SetIdentifier"] for r in records if r["Type"] == "SRV") == sorted(sids)
    assert pages == [300, 300, 103]

    # MaxItems above 300 is clamped; the default is 300
    assert len(r53.list_resource_record_sets(HostedZoneId=zone_id, MaxItems="1000")["ResourceRecordSets"]) == 300
    assert len(r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]) == 300

    # smaller pages and boto3's own paginator agree
    small, _ = all_record_sets(r53, zone_id, max_items="7")
    assert [key(r) for r in small] == keys
    paged = [key(r) for page in r53.get_paginator("list_resource_record_sets").paginate(
        HostedZoneId=zone_id, PaginationConfig={"PageSize": 300}) for r in page["ResourceRecordSets"]]
    assert paged == keys


def test_start_record_identifier_and_order(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    change(r53, zone_id, *[("CREATE", srv(f"h:{c}")) for c in "edcba"])
    change(r53, zone_id,
           ("CREATE", {"Name": f"www.{ZONE}", "Type": "A", "TTL": 5, "ResourceRecords": [{"Value": "10.0.0.1"}]}),
           ("CREATE", {"Name": f"www-a.{ZONE}", "Type": "A", "TTL": 5, "ResourceRecords": [{"Value": "10.0.0.2"}]}),
           ("CREATE", {"Name": f"a.www.{ZONE}", "Type": "A", "TTL": 5, "ResourceRecords": [{"Value": "10.0.0.3"}]}),
           ("CREATE", {"Name": f"calc.{ZONE}", "Type": "A", "TTL": 5, "SetIdentifier": "x", "Weight": 1,
                       "ResourceRecords": [{"Value": "10.0.0.4"}]}))

    resp = r53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=f"calc.{ZONE}",
                                         StartRecordType="SRV", StartRecordIdentifier="h:c", MaxItems="2")
    assert [r["SetIdentifier"] for r in resp["ResourceRecordSets"]] == ["h:c", "h:d"]
    assert (resp["IsTruncated"], resp["NextRecordName"], resp["NextRecordType"], resp["NextRecordIdentifier"]) == (
        True, f"calc.{ZONE}", "SRV", "h:e")

    # labels reversed, trailing dot included ("-" sorts before "."), then type, then set identifier
    order = [key(r) for r in all_record_sets(r53, zone_id)[0]]
    assert order == [
        (ZONE, "NS", None), (ZONE, "SOA", None),
        (f"calc.{ZONE}", "A", "x"),
        *[(f"calc.{ZONE}", "SRV", f"h:{c}") for c in "abcde"],
        (f"www-a.{ZONE}", "A", None), (f"www.{ZONE}", "A", None), (f"a.www.{ZONE}", "A", None),
    ]

    with pytest.raises(r53.exceptions.InvalidInput):
        r53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=f"calc.{ZONE}", StartRecordIdentifier="h:c")


def test_names_are_stored_lowercase_with_trailing_dot(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    change(r53, zone_id, ("CREATE", {"Name": "Web.SD.internal", "Type": "A", "TTL": 5,
                                     "ResourceRecords": [{"Value": "10.0.0.1"}]}))
    names = [r["Name"] for r in all_record_sets(r53, zone_id)[0]]
    assert f"web.{ZONE}" in names
    # and the stored name is what DELETE matches, in any spelling
    change(r53, zone_id, ("DELETE", {"Name": "WEB.sd.internal.", "Type": "A", "TTL": 5,
                                     "ResourceRecords": [{"Value": "10.0.0.1"}]}))


# ---------------------------------------------------------------------------
# Route 53: change batches
# ---------------------------------------------------------------------------


def invalid_change_batch(r53, zone_id, *changes):
    with pytest.raises(r53.exceptions.InvalidChangeBatch) as info:
        change(r53, zone_id, *changes)
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "InvalidChangeBatch"
    assert err["Error"]["Type"] == "Sender"
    return err["Error"]["Message"]


def test_delete_with_wrong_fields_fails_whole_batch(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    good, other = srv("h:aaa", port=32768), srv("h:bbb", port=32769)
    change(r53, zone_id, ("CREATE", good), ("CREATE", other))
    before = zone_snapshot(r53, zone_id)

    wrong_ttl = dict(other, TTL=60)
    msg = invalid_change_batch(r53, zone_id, ("DELETE", good), ("DELETE", wrong_ttl))
    assert msg == (f"[Tried to delete resource record set [name='calc.{ZONE}', type='SRV', set-identifier='h:bbb'] "
                   "but the values provided do not match the current values]")
    assert zone_snapshot(r53, zone_id) == before  # the good DELETE was not applied either

    wrong_value = dict(other, ResourceRecords=[{"Value": "1 1 40000 ip-10-0-1-5.ec2.internal"}])
    wrong_weight = dict(good, Weight=5)
    msg = invalid_change_batch(r53, zone_id, ("DELETE", wrong_weight), ("DELETE", wrong_value))
    assert msg == (f"[Tried to delete resource record set [name='calc.{ZONE}', type='SRV', set-identifier='h:aaa'] "
                   "but the values provided do not match the current values, "
                   f"Tried to delete resource record set [name='calc.{ZONE}', type='SRV', set-identifier='h:bbb'] "
                   "but the values provided do not match the current values]")
    assert zone_snapshot(r53, zone_id) == before

    change(r53, zone_id, ("DELETE", good), ("DELETE", other))
    assert [r["Type"] for r in all_record_sets(r53, zone_id)[0]] == ["NS", "SOA"]


def test_delete_missing_record_set(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    change(r53, zone_id, ("CREATE", srv("h:aaa")))
    msg = invalid_change_batch(r53, zone_id, ("DELETE", srv("h:zzz")))
    assert msg == f"[Tried to delete resource record set [name='calc.{ZONE}', type='SRV', set-identifier='h:zzz'] but it was not found]"
    host_a = {"Name": f"ip-10-0-1-5.{ZONE}", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.1.5"}]}
    msg = invalid_change_batch(r53, zone_id, ("DELETE", host_a))
    assert msg == f"[Tried to delete resource record set [name='ip-10-0-1-5.{ZONE}', type='A'] but it was not found]"
    # deleting the same set twice in one batch: the second sees it gone
    msg = invalid_change_batch(r53, zone_id, ("DELETE", srv("h:aaa")), ("DELETE", srv("h:aaa")))
    assert msg.endswith("set-identifier='h:aaa'] but it was not found]")
    assert len(all_record_sets(r53, zone_id)[0]) == 3


def test_delete_removes_only_the_named_set(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    a = {"Name": f"calc.{ZONE}", "Type": "A", "TTL": 10, "SetIdentifier": "h:aaa", "Weight": 1,
         "ResourceRecords": [{"Value": "10.0.1.5"}]}
    other_name = srv("h:aaa", name=f"api.{ZONE}")
    change(r53, zone_id, *[("CREATE", r) for r in (srv("h:aaa"), srv("h:bbb"), srv("h:ccc"), a, other_name)])
    change(r53, zone_id, ("DELETE", srv("h:bbb")))
    remaining = {key(r) for r in all_record_sets(r53, zone_id)[0]}
    assert remaining == {(ZONE, "NS", None), (ZONE, "SOA", None), (f"calc.{ZONE}", "SRV", "h:aaa"),
                         (f"calc.{ZONE}", "SRV", "h:ccc"), (f"calc.{ZONE}", "A", "h:aaa"),
                         (f"api.{ZONE}", "SRV", "h:aaa")}
    change(r53, zone_id, ("DELETE", srv("h:aaa")))
    remaining2 = {key(r) for r in all_record_sets(r53, zone_id)[0]}
    assert remaining2 == remaining - {(f"calc.{ZONE}", "SRV", "h:aaa")}


def test_create_existing_and_upsert(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    change(r53, zone_id, ("CREATE", srv("h:aaa")))
    msg = invalid_change_batch(r53, zone_id, ("CREATE", srv("h:aaa", port=1)))
    assert msg == f"[Tried to create resource record set [name='calc.{ZONE}', type='SRV', set-identifier='h:aaa'] but it already exists]"
    resp = change(r53, zone_id, ("UPSERT", srv("h:aaa", port=2)), ("UPSERT", srv("h:bbb", port=3)))
    assert resp["ChangeInfo"]["Id"].startswith("/change/")
    values = {r["SetIdentifier"]: r["ResourceRecords"][0]["Value"] for r in all_record_sets(r53, zone_id)[0] if r["Type"] == "SRV"}
    assert values == {"h:aaa": "1 1 2 ip-10-0-1-5.ec2.internal", "h:bbb": "1 1 3 ip-10-0-1-5.ec2.internal"}
    # DELETE then CREATE of the same set in one batch is fine
    change(r53, zone_id, ("DELETE", srv("h:aaa", port=2)), ("CREATE", srv("h:aaa", port=4)))
    # a name outside the zone
    msg = invalid_change_batch(r53, zone_id, ("CREATE", srv("h:x", name="calc.other.internal.")))
    assert msg == f"[RRSet with DNS name calc.other.internal. is not permitted in zone {ZONE}]"


def test_batch_limits(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    # UPSERTed values count twice: 501 UPSERTs are 1002 > 1000 ResourceRecord elements
    many = [("UPSERT", {"Name": f"h{i}.{ZONE}", "Type": "A", "TTL": 5, "ResourceRecords": [{"Value": f"10.0.{i // 250}.{i % 250}"}]})
            for i in range(501)]
    assert invalid_change_batch(r53, zone_id, *many) == "[Number of records limit of 1000 exceeded.]"
    # 500 UPSERTs (1000 elements, < 32,000 characters) are fine
    change(r53, zone_id, *many[:500])
    # more than 32,000 characters of Value
    long_txt = [("CREATE", {"Name": f"t{i}.{ZONE}", "Type": "TXT", "TTL": 5,
                            "ResourceRecords": [{"Value": '"' + "x" * 250 + '"'}] * 1}) for i in range(130)]
    assert "32000" in invalid_change_batch(r53, zone_id, *long_txt)
    assert len(all_record_sets(r53, zone_id)[0]) == 502


def test_hosted_zone_vpc_associations(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    (first,) = r53.get_hosted_zone(Id=zone_id)["VPCs"]
    assert first["VPCRegion"] == "us-east-1"
    second = make_vpc(endpoint)
    r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC={"VPCRegion": "us-east-1", "VPCId": second})
    assert sorted(v["VPCId"] for v in r53.get_hosted_zone(Id=zone_id)["VPCs"]) == sorted([first["VPCId"], second])
    assert all(v["VPCRegion"] == "us-east-1" for v in r53.get_hosted_zone(Id=zone_id)["VPCs"])


AGENT_HOST = "ip-127-50-1-5.ec2.internal"
AGENT_RECORDS = [
    {"Name": f"calc._tcp.{ZONE}", "Type": "SRV", "TTL": 0, "Weight": 1, "SetIdentifier": f"{AGENT_HOST}:{'3f' * 32}",
     "ResourceRecords": [{"Value": f"1 1 32768 {AGENT_HOST}"}]},
    {"Name": f"ip-127-50-1-5.{ZONE}", "Type": "A", "TTL": 0, "Weight": 1, "SetIdentifier": AGENT_HOST,
     "ResourceRecords": [{"Value": "127.50.1.5"}]},
    {"Name": f"web.{ZONE}", "Type": "CNAME", "TTL": 0, "Weight": 1, "SetIdentifier": "0123456789ab",
     "ResourceRecords": [{"Value": AGENT_HOST}]},
]


def test_agent_shaped_records_round_trip(endpoint):
    """The record shapes the ECS service-discovery agent writes, TTL 0 included."""
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    change(r53, zone_id, *[("CREATE", r) for r in AGENT_RECORDS])
    listed = {key(r): r for r in all_record_sets(r53, zone_id)[0]}
    for record in AGENT_RECORDS:
        assert listed[key(record)] == record  # every field, TTL 0 as 0
    for record in AGENT_RECORDS:
        for wrong in (dict(record, TTL=1), {k: v for k, v in record.items() if k != "Weight"}):
            msg = invalid_change_batch(r53, zone_id, ("DELETE", wrong))
            assert msg.endswith("but the values provided do not match the current values]")
    change(r53, zone_id, *[("DELETE", r) for r in AGENT_RECORDS])
    assert [r["Type"] for r in all_record_sets(r53, zone_id)[0]] == ["NS", "SOA"]


# ---------------------------------------------------------------------------
# EC2 and ECS
# ---------------------------------------------------------------------------


def make_instance(ec2, ip="127.0.1.5"):
    vpc = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.0.1.0/24")["Subnet"]["SubnetId"]
    inst = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet,
                             PrivateIpAddress=ip)["Instances"][0]
    return inst["InstanceId"]


def test_ec2_private_dns_name_and_termination(endpoint):
    ec2 = client(endpoint, "ec2")
    iid = make_instance(ec2)
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["PrivateDnsName"] == "ip-127-0-1-5.ec2.internal"
    assert inst["PrivateIpAddress"] == "127.0.1.5"
    assert inst["State"]["Name"] == "running"
    found = ec2.describe_instances(Filters=[{"Name": "private-dns-name", "Values": ["ip-127-0-1-5.ec2.internal"]}])
    assert [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]] == [iid]
    ec2.terminate_instances(InstanceIds=[iid])
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["State"]["Name"] == "terminated"


def instances_of(resp):
    return [i for r in resp["Reservations"] for i in r["Instances"]]


def instance_ids(ec2, **filters):
    resp = ec2.describe_instances(Filters=[{"Name": k, "Values": [v]} for k, v in filters.items()])
    return sorted(i["InstanceId"] for i in instances_of(resp))


def raw_responses(client_, operation):
    """The XML bodies of every ``operation`` call made with ``client_`` from now on."""
    bodies = []
    client_.meta.events.register(f"after-call.ec2.{operation}",
                                 lambda http_response, **_: bodies.append(http_response.content.decode()))
    return bodies


def test_terminated_instance_reports_no_address(endpoint):
    ec2 = client(endpoint, "ec2")
    iid = make_instance(ec2)
    running = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    vpc, subnet = running["VpcId"], running["SubnetId"]
    eni = running["NetworkInterfaces"][0]
    assert eni["Attachment"]["DeleteOnTermination"] is True  # EC2's default for an interface created at launch
    address_filters = {"private-ip-address": "127.0.1.5", "private-dns-name": "ip-127-0-1-5.ec2.internal",
                       "vpc-id": vpc, "subnet-id": subnet,
                       "network-interface.addresses.private-ip-address": "127.0.1.5",
                       "network-interface.network-interface-id": eni["NetworkInterfaceId"],
                       "network-interface.vpc-id": vpc, "network-interface.subnet-id": subnet}
    for name, value in address_filters.items():
        assert instance_ids(ec2, **{name: value}) == [iid], name

    ec2.terminate_instances(InstanceIds=[iid])
    bodies = raw_responses(ec2, "DescribeInstances")
    gone = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert gone["State"] == {"Code": 48, "Name": "terminated"}
    assert gone["PrivateDnsName"] == ""
    assert gone["NetworkInterfaces"] == []
    for field in ("PrivateIpAddress", "VpcId", "SubnetId", "PublicIpAddress"):
        assert field not in gone, field
    # on the wire: absent elements, an empty name, never the text "None"
    assert "<privateDnsName/>" in bodies[0] or "<privateDnsName></privateDnsName>" in bodies[0]
    for element in ("privateIpAddress", "vpcId", "subnetId", "ipAddress"):
        assert f"<{element}>" not in bodies[0], element
    assert ">None<" not in bodies[0].replace("<kernelId>None</kernelId>", "")
    # its interface is deleted with it
    assert eni["NetworkInterfaceId"] not in [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces()["NetworkInterfaces"]]
    # filters on address, name or VPC no longer match it; on id and state they do
    for name, value in address_filters.items():
        assert instance_ids(ec2, **{name: value}) == [], name
    assert instance_ids(ec2, **{"instance-id": iid}) == [iid]
    assert instance_ids(ec2, **{"instance-state-name": "terminated"}) == [iid]
    assert [i["InstanceId"] for i in instances_of(ec2.describe_instances())] == [iid]  # still listed
    # the address is free: a new instance takes it, and with it the name
    new = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet,
                            PrivateIpAddress="127.0.1.5")["Instances"][0]
    assert new["PrivateDnsName"] == "ip-127-0-1-5.ec2.internal"
    assert instance_ids(ec2, **{"private-ip-address": "127.0.1.5"}) == [new["InstanceId"]]
    # terminating twice is fine (TerminateInstances is idempotent)
    ec2.terminate_instances(InstanceIds=[iid])


def test_stopped_and_shutting_down_instances_keep_their_address(endpoint):
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.0.1.0/24")["Subnet"]["SubnetId"]
    a, b = (ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet,
                              PrivateIpAddress=ip)["Instances"][0]["InstanceId"] for ip in ("127.0.1.5", "127.0.1.6"))
    ec2.stop_instances(InstanceIds=[a])
    assert control(endpoint, "POST", "ec2/instances", {"instances": [{"instanceId": b, "state": "shutting-down"}]}) == {"updated": 1}
    by_id = {i["InstanceId"]: i for i in instances_of(ec2.describe_instances())}
    assert by_id[a]["State"] == {"Code": 80, "Name": "stopped"}
    assert by_id[b]["State"] == {"Code": 32, "Name": "shutting-down"}
    enis = [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces()["NetworkInterfaces"]]
    for iid, ip in ((a, "127.0.1.5"), (b, "127.0.1.6")):
        inst = by_id[iid]
        assert inst["PrivateIpAddress"] == ip
        assert inst["PrivateDnsName"] == f"ip-{ip.replace('.', '-')}.ec2.internal"
        assert (inst["VpcId"], inst["SubnetId"]) == (vpc, subnet)
        assert [n["PrivateIpAddress"] for n in inst["NetworkInterfaces"]] == [ip]
        assert inst["NetworkInterfaces"][0]["NetworkInterfaceId"] in enis
        assert instance_ids(ec2, **{"private-ip-address": ip}) == [iid]
    assert instance_ids(ec2, **{"instance-state-name": "shutting-down"}) == [b]
    assert instance_ids(ec2, **{"instance-state-code": "32"}) == [b]


def test_interface_kept_on_termination_is_detached(endpoint):
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.0.1.0/24")["Subnet"]["SubnetId"]
    inst = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, NetworkInterfaces=[
        {"DeviceIndex": 0, "SubnetId": subnet, "PrivateIpAddress": "127.0.1.7", "DeleteOnTermination": False}])["Instances"][0]
    eni = inst["NetworkInterfaces"][0]["NetworkInterfaceId"]
    assert inst["NetworkInterfaces"][0]["Attachment"]["DeleteOnTermination"] is False
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
    gone = ec2.describe_instances(InstanceIds=[inst["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert gone["NetworkInterfaces"] == [] and "PrivateIpAddress" not in gone and gone["PrivateDnsName"] == ""
    kept = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
    assert kept["Status"] == "available" and kept["PrivateIpAddress"] == "127.0.1.7" and "Attachment" not in kept


def test_control_instance_states(endpoint):
    ec2 = client(endpoint, "ec2")
    iid = make_instance(ec2)
    subnet = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["SubnetId"]
    for name, code in (("pending", 0), ("stopping", 64), ("stopped", 80), ("shutting-down", 32), ("running", 16)):
        control(endpoint, "POST", "ec2/instances", {"instances": [{"instanceId": iid, "state": name}]})
        inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        assert inst["State"] == {"Code": code, "Name": name}
        assert inst["PrivateIpAddress"] == "127.0.1.5" and len(inst["NetworkInterfaces"]) == 1

    # every entry is checked before any is applied
    err = control(endpoint, "POST", "ec2/instances", {"instances": [
        {"instanceId": iid, "state": "shutting-down"}, {"instanceId": "i-00000000000000000", "state": "running"}]}, expect=404)
    assert "i-00000000000000000" in err["error"]
    control(endpoint, "POST", "ec2/instances", {"instances": [
        {"instanceId": iid, "state": "shutting-down"}, {"instanceId": iid, "state": "asleep"}]}, expect=400)
    assert ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"

    # shutting-down, then terminated: as TerminateInstances
    control(endpoint, "POST", "ec2/instances", {"instances": [
        {"instanceId": iid, "state": "shutting-down"}, {"instanceId": iid, "state": "terminated"}]})
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["State"] == {"Code": 48, "Name": "terminated"}
    assert inst["PrivateDnsName"] == "" and inst["NetworkInterfaces"] == [] and "PrivateIpAddress" not in inst
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
    ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet, PrivateIpAddress="127.0.1.5")
    # terminated is final
    control(endpoint, "POST", "ec2/instances", {"instances": [{"instanceId": iid, "state": "running"}]}, expect=400)
    assert control(endpoint, "POST", "ec2/instances", {"instances": [{"instanceId": iid, "state": "terminated"}]}) == {"updated": 1}


def test_control_instance_launch_time(endpoint):
    ec2 = client(endpoint, "ec2")
    iid = make_instance(ec2)
    an_hour_ago = time.time() - 3600
    assert control(endpoint, "POST", "ec2/instances", {"instances": [{"instanceId": iid, "launchTime": an_hour_ago}]}) == {"updated": 1}
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert abs(inst["LaunchTime"].timestamp() - an_hour_ago) < 2
    assert inst["State"] == {"Code": 16, "Name": "running"}  # the state is untouched
    # both at once; then bad entries change nothing
    control(endpoint, "POST", "ec2/instances", {"instances": [{"instanceId": iid, "state": "stopped", "launchTime": 0}]})
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["State"]["Name"] == "stopped" and inst["LaunchTime"].timestamp() == 0
    for bad in ({"instanceId": iid}, {"instanceId": iid, "launchTime": "yesterday"}, {"instanceId": iid, "launchTime": -1},
                {"instanceId": iid, "launchTime": True}, {"instanceId": iid, "state": "running", "when": 1}):
        control(endpoint, "POST", "ec2/instances", {"instances": [{"instanceId": iid, "state": "running"}, bad]}, expect=400)
    assert ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"] == "stopped"


def test_two_vpcs_with_the_same_cidr(endpoint):
    """Staging and production, both 127.50.0.0/16, with an instance on the same address."""
    ec2 = client(endpoint, "ec2")
    vpcs, instances = [], []
    for _ in ("staging", "production"):
        vpc = ec2.create_vpc(CidrBlock="127.50.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.50.1.0/24")["Subnet"]["SubnetId"]
        inst = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet,
                                 PrivateIpAddress="127.50.1.5")["Instances"][0]
        vpcs.append(vpc)
        instances.append(inst["InstanceId"])
    assert vpcs[0] != vpcs[1]
    by_id = {i["InstanceId"]: i for i in instances_of(ec2.describe_instances())}
    for vpc, iid in zip(vpcs, instances):
        assert by_id[iid]["VpcId"] == vpc
        assert by_id[iid]["PrivateIpAddress"] == "127.50.1.5"
        assert by_id[iid]["PrivateDnsName"] == "ip-127-50-1-5.ec2.internal"
        assert instance_ids(ec2, **{"vpc-id": vpc}) == [iid]
    assert instance_ids(ec2, **{"private-ip-address": "127.50.1.5"}) == sorted(instances)
    # terminating one frees the address in its own VPC only
    ec2.terminate_instances(InstanceIds=[instances[0]])
    assert instance_ids(ec2, **{"private-dns-name": "ip-127-50-1-5.ec2.internal"}) == [instances[1]]


@pytest.fixture
def ecs_setup(endpoint):
    ec2, ecs = client(endpoint, "ec2"), client(endpoint, "ecs")
    iid = make_instance(ec2)
    ecs.create_cluster(clusterName="web")
    ci = ecs.register_container_instance(
        cluster="web", instanceIdentityDocument=json.dumps({"instanceId": iid, "region": "us-east-1"}))
    ecs.register_task_definition(family="calc", containerDefinitions=[
        {"name": "app", "image": "calc:1", "memory": 128,
         "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
         "environment": [{"name": "SERVICE_8080_NAME", "value": "calc"}]},
        {"name": "sidecar", "image": "envoy:1", "memory": 64},
    ])
    return ecs, iid, ci["containerInstance"]["containerInstanceArn"]


def test_container_instance_has_ec2_instance_id(ecs_setup):
    ecs, iid, ci_arn = ecs_setup
    assert ci_arn.startswith("arn:aws:ecs:us-east-1:123456789012:container-instance/web/")
    assert ecs.list_container_instances(cluster="web")["containerInstanceArns"] == [ci_arn]
    desc = ecs.describe_container_instances(cluster="web", containerInstances=[ci_arn])["containerInstances"][0]
    assert desc["ec2InstanceId"] == iid
    assert desc["status"] == "ACTIVE" and desc["agentConnected"] is True


def test_ecs_tasks_stay_running_and_control_api(endpoint, ecs_setup):
    ecs, iid, ci_arn = ecs_setup
    tasks = ecs.run_task(cluster="web", taskDefinition="calc", count=2)["tasks"]
    assert len(tasks) == 2  # dynamic host ports do not collide
    started = ecs.start_task(cluster="web", taskDefinition="calc", containerInstances=[ci_arn])["tasks"]
    arns = [t["taskArn"] for t in tasks + started]
    assert all(a.startswith("arn:aws:ecs:us-east-1:123456789012:task/web/") for a in arns)

    for _ in range(4):
        described = ecs.describe_tasks(cluster="web", tasks=arns)
        assert [(t["lastStatus"], t["desiredStatus"]) for t in described["tasks"]] == [("RUNNING", "RUNNING")] * 3
    task = described["tasks"][0]
    assert task["containerInstanceArn"] == ci_arn
    assert [c["name"] for c in task["containers"]] == ["app", "sidecar"]
    app = task["containers"][0]
    assert app["taskArn"] == task["taskArn"] and app["lastStatus"] == "RUNNING"
    assert len(app["runtimeId"]) == 64
    assert app["networkBindings"][0]["containerPort"] == 8080 and app["networkBindings"][0]["hostPort"] >= 32768
    assert "startedAt" in task

    runtime_id = "3f2a" + "0" * 60
    bindings = [{"containerPort": 8080, "hostPort": 32801, "protocol": "tcp", "bindIP": "0.0.0.0"}]
    assert control(endpoint, "POST", "ecs/tasks", {"tasks": [
        {"cluster": "web", "taskArn": arns[0], "startedAt": 1700000000.5,
         "containers": [{"name": "app", "runtimeId": runtime_id, "networkBindings": bindings},
                        {"name": "sidecar", "runtimeId": None, "networkBindings": []}]},
        {"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/web", "taskArn": arns[1],
         "lastStatus": "PENDING", "startedAt": None, "createdAt": 1700000000.25},
    ]}) == {"updated": 2}
    for _ in range(3):
        by_arn = {t["taskArn"]: t for t in ecs.describe_tasks(cluster="web", tasks=arns)["tasks"]}
        t0, t1 = by_arn[arns[0]], by_arn[arns[1]]
        assert t0["startedAt"].timestamp() == pytest.approx(1700000000.5)
        assert t0["containers"][0]["runtimeId"] == runtime_id
        assert t0["containers"][0]["networkBindings"] == bindings
        assert "runtimeId" not in t0["containers"][1] and t0["containers"][1].get("networkBindings", []) == []
        assert t0["lastStatus"] == "RUNNING"
        assert t1["lastStatus"] == "PENDING" and "startedAt" not in t1
        assert t1["createdAt"].timestamp() == pytest.approx(1700000000.25)

    err = control(endpoint, "POST", "ecs/tasks", {"tasks": [{"cluster": "web", "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/web/nope"}]}, expect=404)
    assert "error" in err

    # StopTask stops; ListTasks (default desiredStatus RUNNING) no longer lists it
    ecs.stop_task(cluster="web", task=arns[2], reason="test")
    stopped = ecs.describe_tasks(cluster="web", tasks=[arns[2]])["tasks"][0]
    assert (stopped["lastStatus"], stopped["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert sorted(ecs.list_tasks(cluster="web")["taskArns"]) == sorted(arns[:2])
    assert ecs.list_tasks(cluster="web", desiredStatus="STOPPED")["taskArns"] == [arns[2]]
    missing = ecs.describe_tasks(cluster="web", tasks=["arn:aws:ecs:us-east-1:123456789012:task/web/nope"])
    assert missing["tasks"] == [] and missing["failures"][0]["reason"] == "MISSING"


def test_ecs_list_pagination(ecs_setup):
    ecs, iid, ci_arn = ecs_setup
    ecs.register_task_definition(family="tiny", containerDefinitions=[{"name": "t", "image": "t", "memory": 16, "cpu": 1}])
    for _ in range(3):
        ecs.run_task(cluster="web", taskDefinition="tiny", count=50)
    pages = [p["taskArns"] for p in ecs.get_paginator("list_tasks").paginate(cluster="web")]
    assert [len(p) for p in pages] == [100, 50]
    assert len({a for p in pages for a in p}) == 150


# ---------------------------------------------------------------------------
# faults
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# before-change hook, counters, reset
# ---------------------------------------------------------------------------


def test_before_change_hook(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    change(r53, zone_id, ("CREATE", srv("h:aaa")), ("CREATE", srv("h:bbb")))
    listed = {r.get("SetIdentifier"): r for r in all_record_sets(r53, zone_id)[0]}

    # another writer re-points h:aaa between our listing and our delete
    assert control(endpoint, "POST", "hooks/before-change", {"zoneId": zone_id, "changes": [
        {"action": "UPSERT", "record": srv("h:aaa", port=40000)}]}) == {"armed": True}
    msg = invalid_change_batch(r53, zone_id, ("DELETE", listed["h:aaa"]))
    assert msg.endswith("set-identifier='h:aaa'] but the values provided do not match the current values]")

    # ... or deletes h:bbb itself
    control(endpoint, "POST", "hooks/before-change", {"zoneId": f"/hostedzone/{zone_id}", "changes": [
        {"action": "DELETE", "record": listed["h:bbb"]}]})
    msg = invalid_change_batch(r53, zone_id, ("DELETE", listed["h:bbb"]))
    assert msg.endswith("set-identifier='h:bbb'] but it was not found]")

    # hooks are one-shot
    change(r53, zone_id, ("DELETE", srv("h:aaa", port=40000)))
    assert [r["Type"] for r in all_record_sets(r53, zone_id)[0]] == ["NS", "SOA"]
    control(endpoint, "POST", "hooks/before-change", {"zoneId": "NOSUCHZONE", "changes": []}, expect=404)


def agent_hook(cluster="web", zone_id=None, **overrides):
    return {"after": "ecs:DescribeTasks", "cluster": cluster, "taskDefinition": "calc",
            "containerInstance": overrides.pop("ci_arn", ""), "containerPort": 8080, "zoneId": zone_id,
            "name": f"calc.{ZONE}", **overrides}


def test_agent_hook_starts_a_task_mid_sweep(endpoint, ecs_setup):
    ecs, iid, ci_arn = ecs_setup
    r53 = client(endpoint, "route53", NO_RETRY)
    zone_id = make_zone(r53)
    first = ecs.run_task(cluster="web", taskDefinition="calc")["tasks"][0]["taskArn"]
    armed = control(endpoint, "POST", "hooks/agent", agent_hook(zone_id=zone_id, ci_arn=ci_arn, after="ecs:ListTasks"))
    assert armed["armed"] is True and armed["hook"]["after"] == "ecs:ListTasks"
    hooks = control(endpoint, "GET", "hooks")
    assert len(hooks["agent"]) == 1 and hooks["fired"] == []

    ecs.describe_tasks(cluster="web", tasks=[first])  # another operation: nothing happens
    control(endpoint, "POST", "faults", {"faults": [
        {"service": "ecs", "operation": "ListTasks", "status": 500, "code": "ServerException"}]})
    with pytest.raises(botocore.exceptions.ClientError):  # failed by a fault: never reached moto
        client(endpoint, "ecs", NO_RETRY).list_tasks(cluster="web")
    assert control(endpoint, "GET", "hooks")["fired"] == []

    assert ecs.list_tasks(cluster="web")["taskArns"] == [first]  # this call does not see the new task
    fired = control(endpoint, "GET", "hooks")
    assert fired["agent"] == [] and len(fired["fired"]) == 1
    done = fired["fired"][0]
    new = [a for a in ecs.list_tasks(cluster="web")["taskArns"] if a != first]
    assert new == [done["taskArn"]]

    task = ecs.describe_tasks(cluster="web", tasks=new)["tasks"][0]
    assert task["containerInstanceArn"] == ci_arn and task["lastStatus"] == "RUNNING"
    assert task["taskDefinitionArn"].endswith(":task-definition/calc:1")
    assert "startedAt" in task and "createdAt" in task
    app = task["containers"][0]
    host_port = app["networkBindings"][0]["hostPort"]
    assert app["runtimeId"] == done["runtimeId"] and len(done["runtimeId"]) == 64
    host = "ip-127-0-1-5.ec2.internal"
    assert done["record"] == {"Name": f"calc.{ZONE}", "Type": "SRV", "SetIdentifier": f"{host}:{app['runtimeId']}",
                              "Value": f"1 1 {host_port} {host}"}
    listed = {key(r): r for r in all_record_sets(r53, zone_id)[0]}
    assert listed[(f"calc.{ZONE}", "SRV", f"{host}:{app['runtimeId']}")] == {
        "Name": f"calc.{ZONE}", "Type": "SRV", "SetIdentifier": f"{host}:{app['runtimeId']}", "Weight": 1, "TTL": 0,
        "ResourceRecords": [{"Value": f"1 1 {host_port} {host}"}]}

    # one-shot
    ecs.list_tasks(cluster="web")
    assert len(ecs.list_tasks(cluster="web")["taskArns"]) == 2
    assert len(control(endpoint, "GET", "hooks")["fired"]) == 1

    # after ecs:DescribeTasks: the described tasks are unchanged, the task and record appear right after
    control(endpoint, "POST", "hooks/agent", agent_hook(zone_id=zone_id, ci_arn=ci_arn))
    assert [t["taskArn"] for t in ecs.describe_tasks(cluster="web", tasks=[first])["tasks"]] == [first]
    second = control(endpoint, "GET", "hooks")["fired"][1]
    assert second["after"] == "ecs:DescribeTasks" and second["taskArn"] in ecs.list_tasks(cluster="web")["taskArns"]
    assert len(all_record_sets(r53, zone_id)[0]) == 2 + 2

    # DELETE /hooks and reset clear pending and fired hooks
    control(endpoint, "POST", "hooks/agent", agent_hook(zone_id=zone_id, ci_arn=ci_arn, after="route53:ChangeResourceRecordSets"))
    control(endpoint, "DELETE", "hooks")
    assert control(endpoint, "GET", "hooks") == {"pending": {}, "agent": [], "fired": []}
    control(endpoint, "POST", "hooks/agent", agent_hook(zone_id=zone_id, ci_arn=ci_arn))
    control(endpoint, "POST", "reset")
    assert control(endpoint, "GET", "hooks") == {"pending": {}, "agent": [], "fired": []}


def test_agent_hook_validation(endpoint, ecs_setup):
    ecs, iid, ci_arn = ecs_setup
    zone_id = make_zone(client(endpoint, "route53"))
    good = agent_hook(zone_id=zone_id, ci_arn=ci_arn)
    for changes, status in (
        ({"cluster": "nope"}, 404),
        ({"zoneId": "ZNOSUCHZONE"}, 404),
        ({"taskDefinition": "nope"}, 404),
        ({"containerInstance": ci_arn.rsplit("/", 1)[0] + "/0000"}, 404),
        ({"after": "DescribeTasks"}, 400),
        ({"after": "ecs:DescribeTask"}, 400),
        ({"after": "nosuchservice:DescribeTasks"}, 400),
        ({"containerPort": 9999}, 400),
        ({"containerPort": "8080"}, 400),
        ({"name": "calc.other.internal."}, 400),
    ):
        err = control(endpoint, "POST", "hooks/agent", dict(good, **changes), expect=status)
        assert "error" in err, changes
    bare = dict(good)
    del bare["containerPort"]
    control(endpoint, "POST", "hooks/agent", bare, expect=400)
    assert control(endpoint, "GET", "hooks")["agent"] == []
    # the cluster may be an ARN and the zone id may carry /hostedzone/
    armed = control(endpoint, "POST", "hooks/agent", dict(
        good, cluster="arn:aws:ecs:us-east-1:123456789012:cluster/web", zoneId=f"/hostedzone/{zone_id}"))["hook"]
    assert (armed["cluster"], armed["zoneId"], armed["containerInstance"]) == ("web", zone_id, ci_arn)


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


def test_zone_apex_records(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    apex = {r["Type"]: r for r in all_record_sets(r53, zone_id)[0]}
    assert apex["SOA"]["ResourceRecords"][0]["Value"].startswith("ns-2048.awsdns-64.com. awsdns-hostmaster.amazon.com. 1 ")
    assert apex["NS"]["TTL"] == 172800 and len(apex["NS"]["ResourceRecords"]) == 4


def test_ecs_cluster_scoping_and_container_instance_control(endpoint, ecs_setup):
    ecs, iid, ci_arn = ecs_setup
    ecs.create_cluster(clusterName="web-canary")
    arn = ecs.run_task(cluster="web", taskDefinition="calc")["tasks"][0]["taskArn"]
    assert ecs.list_tasks(cluster="web-canary")["taskArns"] == []
    other = ecs.describe_tasks(cluster="web-canary", tasks=[arn])
    assert other["tasks"] == [] and other["failures"] == [{"arn": arn, "reason": "MISSING"}]
    assert ecs.describe_tasks(cluster="web", tasks=[arn.split("/")[-1]])["tasks"][0]["taskArn"] == arn
    assert ecs.describe_tasks(cluster="web", tasks=[arn])["tasks"][0]["containers"][1]["healthStatus"] == "UNKNOWN"

    assert control(endpoint, "POST", "ecs/container-instances", {"containerInstances": [
        {"cluster": "web", "containerInstanceArn": ci_arn, "agentConnected": False}]}) == {"updated": 1}
    desc = ecs.describe_container_instances(cluster="web", containerInstances=[ci_arn])["containerInstances"][0]
    assert desc["agentConnected"] is False
    control(endpoint, "POST", "ecs/container-instances", {"containerInstances": [
        {"cluster": "web", "containerInstanceArn": "nope"}]}, expect=404)
    empty = ecs.describe_container_instances(cluster="web-canary", containerInstances=[ci_arn])
    assert empty["containerInstances"] == [] and empty["failures"][0]["reason"] == "MISSING"


def test_run_task_without_container_instances(endpoint):
    ecs = client(endpoint, "ecs")
    ecs.create_cluster(clusterName="empty")
    ecs.register_task_definition(family="calc", containerDefinitions=[{"name": "app", "image": "calc:1", "memory": 128}])
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.run_task(cluster="empty", taskDefinition="calc")


def test_list_hosted_zones_by_name_starts_at_name(endpoint):
    r53 = client(endpoint, "route53")
    ids = {}
    vpc = make_vpc(endpoint)
    for name in ("sd.internal.", "a.sd.internal.", "other.internal.", "sd.example."):
        ids[name] = r53.create_hosted_zone(Name=name, CallerReference=name, HostedZoneConfig={"PrivateZone": True},
                                           VPC={"VPCRegion": "us-east-1", "VPCId": vpc})["HostedZone"]["Id"]
    resp = r53.list_hosted_zones_by_name(DNSName="sd.internal")
    # reversed labels: example.sd. < internal.other. < internal.sd. < internal.sd.a.
    assert [z["Name"] for z in resp["HostedZones"]] == ["sd.internal.", "a.sd.internal."]
    assert resp["IsTruncated"] is False and resp["DNSName"] == "sd.internal"
    resp = r53.list_hosted_zones_by_name(MaxItems="2")
    assert [z["Name"] for z in resp["HostedZones"]] == ["sd.example.", "other.internal."]
    assert resp["IsTruncated"] is True and resp["NextDNSName"] == "sd.internal."
    assert resp["NextHostedZoneId"] == ids["sd.internal."].split("/")[-1]
    assert resp["HostedZones"][0]["Config"]["PrivateZone"] is True


# ---------------------------------------------------------------------------
# Route 53 request rate limit
# ---------------------------------------------------------------------------


def back_to_back(call, n):
    """n calls in a row: their outcomes ("ok" or the error code) and the span
    from just before the first was sent to just after the last was answered."""
    outcomes = []
    started = time.monotonic()
    for _ in range(n):
        try:
            call()
            outcomes.append("ok")
        except botocore.exceptions.ClientError as err:
            outcomes.append(err.response["Error"]["Code"])
    return outcomes, time.monotonic() - started


def assert_burst_then_throttled(outcomes, span, burst, rate):
    """The first `burst` calls pass and the rest are throttled. The client-side
    span bounds the server's, so it also bounds how many tokens can have been
    refilled meanwhile: none while it is under 1/rate (always, on an unloaded
    machine), which makes the check exact."""
    refilled = int(span * rate)
    assert outcomes[:burst] == ["ok"] * burst, outcomes
    assert set(outcomes[burst:]) <= {"ok", "Throttling"}, outcomes
    assert outcomes.count("ok") <= burst + refilled, (outcomes, span)
    if refilled == 0:
        assert outcomes == ["ok"] * burst + ["Throttling"] * (len(outcomes) - burst)


def test_route53_rate_limit_is_off_by_default(endpoint):
    assert control(endpoint, "GET", "limits") == {"route53": None}
    r53 = client(endpoint, "route53", NO_RETRY)
    outcomes, _ = back_to_back(r53.list_hosted_zones, 30)
    assert outcomes == ["ok"] * 30
    assert control(endpoint, "GET", "throttled") == {}


def test_route53_rate_limit_burst_then_refill(endpoint):
    r53 = client(endpoint, "route53", NO_RETRY)
    zone_id = make_zone(r53)
    assert control(endpoint, "POST", "limits", {"route53": {"rate": 5, "burst": 5}}) == {
        "route53": {"rate": 5, "burst": 5, "tokens": 5.0}}
    control(endpoint, "DELETE", "calls")

    # ListHostedZones and ListResourceRecordSets draw on the same bucket
    calls = [r53.list_hosted_zones, lambda: r53.list_resource_record_sets(HostedZoneId=zone_id)]
    outcomes, started = [], time.monotonic()
    for i in range(20):
        try:
            calls[i % 2]()
            outcomes.append("ok")
        except botocore.exceptions.ClientError as err:
            outcomes.append(err.response["Error"]["Code"])
            assert err.response["Error"] == {"Type": "Sender", "Code": "Throttling", "Message": "Rate exceeded"}
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert_burst_then_throttled(outcomes, time.monotonic() - started, burst=5, rate=5)
    passed = outcomes.count("ok")

    calls_seen = control(endpoint, "GET", "calls")
    throttled = control(endpoint, "GET", "throttled")
    assert calls_seen == {"route53:ListHostedZones": 10, "route53:ListResourceRecordSets": 10}
    assert sum(throttled.values()) == 20 - passed
    assert set(throttled) <= {"route53:ListHostedZones", "route53:ListResourceRecordSets"}

    # one second later the bucket is full again: 5 more pass, then throttled
    time.sleep(1.0)
    outcomes, span = back_to_back(r53.list_hosted_zones, 8)
    assert_burst_then_throttled(outcomes, span, burst=5, rate=5)
    assert sum(control(endpoint, "GET", "throttled").values()) == 20 - passed + outcomes.count("Throttling")
    assert sum(control(endpoint, "GET", "calls").values()) == 28

    # DELETE calls zeroes the throttled counters too
    control(endpoint, "DELETE", "calls")
    assert control(endpoint, "GET", "calls") == {} and control(endpoint, "GET", "throttled") == {}


def test_route53_rate_limit_spares_ecs_and_ec2(endpoint):
    r53, ecs, ec2 = (client(endpoint, s, NO_RETRY) for s in ("route53", "ecs", "ec2"))
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 1}})
    r53.list_hosted_zones()  # the one token
    ecs.create_cluster(clusterName="web")
    for _ in range(15):
        ecs.list_tasks(cluster="web")
        ec2.describe_instances()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        r53.list_hosted_zones()
    assert info.value.response["Error"]["Code"] == "Throttling"
    assert control(endpoint, "GET", "throttled") == {"route53:ListHostedZones": 1}
    calls = control(endpoint, "GET", "calls")
    assert (calls["ecs:ListTasks"], calls["ec2:DescribeInstances"], calls["route53:ListHostedZones"]) == (15, 15, 2)


def test_route53_rate_limit_every_operation_shares_one_bucket(endpoint):
    r53 = client(endpoint, "route53", NO_RETRY)
    zone_id = make_zone(r53)
    change_id = change(r53, zone_id, ("CREATE", srv("h:1")))["ChangeInfo"]["Id"]
    control(endpoint, "POST", "hooks/before-change", {"zoneId": zone_id, "changes": [
        {"action": "UPSERT", "record": srv("h:other")}]})
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 3}})
    r53.get_hosted_zone(Id=zone_id)
    r53.list_hosted_zones_by_name(DNSName=ZONE)
    r53.get_change(Id=change_id)
    assert control(endpoint, "GET", "limits")["route53"]["tokens"] < 1
    for op in (lambda: change(r53, zone_id, ("CREATE", srv("h:2"))), lambda: r53.get_hosted_zone(Id=zone_id),
               lambda: r53.list_hosted_zones_by_name(DNSName=ZONE), lambda: r53.get_change(Id=change_id),
               lambda: r53.list_resource_record_sets(HostedZoneId=zone_id)):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            op()
        assert info.value.response["Error"]["Code"] == "Throttling"
    assert control(endpoint, "GET", "throttled") == {
        "route53:ChangeResourceRecordSets": 1, "route53:GetChange": 1, "route53:GetHostedZone": 1,
        "route53:ListHostedZonesByName": 1, "route53:ListResourceRecordSets": 1}
    # the throttled change was not applied and did not fire the before-change hook
    assert control(endpoint, "GET", "hooks")["pending"] == {zone_id: 1}
    control(endpoint, "POST", "limits", {"route53": None})
    sids = [r.get("SetIdentifier") for r in all_record_sets(r53, zone_id)[0]]
    assert "h:1" in sids and "h:2" not in sids and "h:other" not in sids


def test_route53_throttle_comes_before_faults(endpoint):
    """The limit answers a request before any fault sees it: a throttled
    request uses up no fault."""
    r53 = client(endpoint, "route53", NO_RETRY)
    fault = {"service": "route53", "operation": "ListHostedZones", "status": 503, "code": "ServiceUnavailable", "count": 1}
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 1}})
    control(endpoint, "POST", "faults", {"faults": [fault]})
    for expected in ("ServiceUnavailable", "Throttling", "Throttling"):  # the token, then none
        with pytest.raises(botocore.exceptions.ClientError) as info:
            r53.list_hosted_zones()
        assert info.value.response["Error"]["Code"] == expected
    assert control(endpoint, "GET", "faults") == {"faults": []}
    control(endpoint, "POST", "faults", {"faults": [fault]})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        r53.list_hosted_zones()
    assert info.value.response["Error"]["Code"] == "Throttling"
    assert control(endpoint, "GET", "faults")["faults"][0]["count"] == 1  # still armed
    control(endpoint, "POST", "limits", {"route53": None})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        r53.list_hosted_zones()
    assert info.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert control(endpoint, "GET", "throttled") == {"route53:ListHostedZones": 3}


def test_route53_throttle_wire_format(endpoint):
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 1}})
    client(endpoint, "route53", NO_RETRY).list_hosted_zones()  # the one token
    # a throttled request never reaches moto, so it need not even be signed
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{endpoint}/2013-04-01/hostedzone", timeout=10)
    err = info.value
    body = err.read().decode()
    assert err.code == 400 and err.headers["Content-Type"] == "text/xml" and err.headers["x-amzn-RequestId"]
    assert body.startswith('<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
                           "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
                           "<RequestId>")
    assert control(endpoint, "GET", "throttled") == {"route53:ListHostedZones": 1}


def test_route53_rate_limit_off_and_reset(endpoint):
    r53 = client(endpoint, "route53", NO_RETRY)
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 2}})
    outcomes, _ = back_to_back(r53.list_hosted_zones, 4)
    assert outcomes == ["ok", "ok", "Throttling", "Throttling"]
    # switched off: nothing is throttled; the throttled counters stay
    assert control(endpoint, "POST", "limits", {"route53": None}) == {"route53": None}
    outcomes, _ = back_to_back(r53.list_hosted_zones, 10)
    assert outcomes == ["ok"] * 10
    assert control(endpoint, "GET", "throttled") == {"route53:ListHostedZones": 2}
    # on again: a new, full bucket
    control(endpoint, "POST", "limits", {"route53": {"rate": 0.01, "burst": 2}})
    assert back_to_back(r53.list_hosted_zones, 3)[0] == ["ok", "ok", "Throttling"]
    # {} changes nothing; reset restores the default (off for this server) and zeroes the counters
    assert control(endpoint, "POST", "limits", {})["route53"]["burst"] == 2
    control(endpoint, "POST", "reset")
    assert control(endpoint, "GET", "limits") == {"route53": None}
    assert control(endpoint, "GET", "throttled") == {}
    assert back_to_back(r53.list_hosted_zones, 5)[0] == ["ok"] * 5


def test_route53_rate_limit_validation(endpoint):
    for body in ({"route53": {"burst": 5}}, {"route53": {"rate": 0}}, {"route53": {"rate": -1}},
                 {"route53": {"rate": True}}, {"route53": {"rate": "5"}}, {"route53": {"rate": 5, "burst": 0}},
                 {"route53": {"rate": 5, "burst": 2.5}}, {"route53": {"rate": 5, "bust": 5}},
                 {"route53": 5}, {"ecs": {"rate": 5}}):
        assert "error" in control(endpoint, "POST", "limits", body, expect=400), body
    assert control(endpoint, "GET", "limits") == {"route53": None}
    # burst defaults to the rate rounded up
    assert control(endpoint, "POST", "limits", {"route53": {"rate": 2.5}})["route53"] == {
        "rate": 2.5, "burst": 3, "tokens": 3.0}


def start_server(*args, env=None):
    proc = subprocess.Popen([sys.executable, SERVER, "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    line = proc.stdout.readline().strip()
    return proc, line


def test_route53_rate_limit_from_flag_and_environment():
    env = {"LOCALAWS_ROUTE53_RATE": "9", "LOCALAWS_ROUTE53_BURST": "5"}
    proc, line = start_server("--route53-rate", "4", env=env)  # the flag wins over the environment
    try:
        assert line.startswith("localaws listening on http://127.0.0.1:"), (line, proc.stderr.read())
        url = line.rsplit(" ", 1)[1]
        limit = {"rate": 4, "burst": 5, "tokens": 5.0}
        assert control(url, "GET", "limits") == {"route53": limit}
        r53 = client(url, "route53", NO_RETRY)
        assert back_to_back(r53.list_hosted_zones, 6)[0][:5] == ["ok"] * 5
        control(url, "POST", "limits", {"route53": None})
        control(url, "POST", "reset")  # restores the start-up limit, full
        assert control(url, "GET", "limits") == {"route53": limit}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("args,env,message", [
    (["--route53-rate", "0"], {}, "rate must be a number of requests per second > 0"),
    (["--route53-rate", "fast"], {}, "'fast' is not a number"),
    (["--route53-burst", "5"], {}, "needs --route53-rate"),
    ([], {"LOCALAWS_ROUTE53_RATE": "5", "LOCALAWS_ROUTE53_BURST": "1.5"}, "'1.5' is not a whole number"),
])
def test_route53_rate_limit_bad_flags(args, env, message):
    done = subprocess.run([sys.executable, SERVER, "--port", "0", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)
    assert done.returncode == 2 and done.stdout == "" and message in done.stderr, done


def test_token_bucket_with_a_fake_clock():
    import ratelimit

    now = [100.0]
    bucket = ratelimit.TokenBucket(5, 5, clock=lambda: now[0])
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    now[0] += 0.199
    assert not bucket.take()
    now[0] += 0.001  # 0.2 s after the bucket ran dry: one token
    assert bucket.take() and not bucket.take()
    now[0] += 60  # refills stop at the burst
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    assert bucket.describe() == {"rate": 5, "burst": 5, "tokens": 0.0}


def test_throttled_request_does_not_wait_for_the_state_lock():
    """In-process: while STATE_LOCK is held, a request the bucket lets through
    waits for it, but a throttled one is answered at once."""
    import control as localaws_control
    from werkzeug.test import EnvironBuilder

    def moto_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<ok/>"]

    app = localaws_control.LocalAws(moto_app, {"rate": 0.01, "burst": 1})
    results = {}

    def request(name):
        status = []
        body = app(EnvironBuilder(path="/2013-04-01/hostedzone", method="GET").get_environ(),
                   lambda s, h: status.append(s))
        results[name] = (status[0], b"".join(body))

    with localaws_control.STATE_LOCK:
        first = threading.Thread(target=request, args=("first",))
        first.start()
        time.sleep(0.2)
        assert "first" not in results  # took the token, waits for the lock
        second = threading.Thread(target=request, args=("second",))
        second.start()
        second.join(2)
        assert not second.is_alive()
        assert results["second"][0] == "400 Bad Request" and b"<Code>Throttling</Code>" in results["second"][1]
        assert app.calls == {"route53:ListHostedZones": 2} and app.throttled == {"route53:ListHostedZones": 1}
    first.join(2)
    assert results["first"] == ("200 OK", b"<ok/>")


# ---------------------------------------------------------------------------
# Cloud Map (servicediscovery)
# ---------------------------------------------------------------------------

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


def sd_error(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    return info.value.response


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
        err = sd_error(sd.list_instances, ServiceId=bad)
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
        err = sd_error(sd.list_services, Filters=[bad])
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
        assert sd_error(raw.list_services, MaxResults=bad)["Error"]["Code"] == "InvalidInput"
    assert sd_error(raw.list_services, NextToken="not-a-token")["Error"]["Code"] == "InvalidInput"


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
        assert sd_error(sd.list_namespaces, Filters=[bad])["Error"]["Code"] == "InvalidInput", bad


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
    err = sd_error(sd.create_private_dns_namespace, Name="sd.internal", Vpc=SD_VPC)
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
    err = sd_error(sd.deregister_instance, ServiceId=svc, InstanceId="t1")
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

    assert sd_error(sd.deregister_instance, ServiceId=svc, InstanceId="t1")["Error"]["Code"] == "InstanceNotFound"
    assert sd_error(sd.deregister_instance, ServiceId=svc, InstanceId="nope")["Error"]["Code"] == "InstanceNotFound"
    assert sd_error(sd.deregister_instance, ServiceId="srv-nope", InstanceId="t2")["Error"]["Code"] == "ServiceNotFound"
    assert sd_error(sd.get_operation, OperationId="nope")["Error"]["Code"] == "OperationNotFound"
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
    assert sd_error(sd.register_instance, ServiceId="srv-nope", InstanceId="t1",
                    Attributes=ecs_attributes())["Error"]["Code"] == "ServiceNotFound"
    assert sd_error(sd.create_service, Name="x", NamespaceId="ns-nope")["Error"]["Code"] == "NamespaceNotFound"


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
    assert sd_error(sd.list_instances, ServiceId="srv-nope")["Error"]["Code"] == "ServiceNotFound"


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

    err = sd_error(sd.update_instance_custom_health_status, ServiceId=plain, InstanceId="p1", Status="UNHEALTHY")
    assert err["Error"]["Code"] == "CustomHealthNotFound"
    err = sd_error(sd.update_instance_custom_health_status, ServiceId=custom, InstanceId="nope", Status="HEALTHY")
    assert err["Error"]["Code"] == "InstanceNotFound"
    err = sd_error(sd.update_instance_custom_health_status, ServiceId="srv-nope", InstanceId="t1", Status="HEALTHY")
    assert err["Error"]["Code"] == "ServiceNotFound"
    err = sd_error(sd.update_instance_custom_health_status, ServiceId=custom, InstanceId="t1", Status="UNKNOWN")
    assert err["Error"]["Code"] == "InvalidInput"
    # no health check of either kind: UNKNOWN
    assert sd.get_instances_health_status(ServiceId=plain)["Status"] == {"p1": "UNKNOWN"}
    err = sd_error(sd.get_instances_health_status, ServiceId=custom, Instances=["t1", "nope"])
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
