"""Route 53 as the reaper reads and writes it: ListResourceRecordSets paging
and order, atomic change batches with exact DELETEs and their limits, the
agent's record shapes, a zone's apex and VPCs, ListHostedZonesByName.  See
README.md, "Route 53 ListResourceRecordSets" and the sections after it."""

from __future__ import annotations

import json

import pytest

from conftest import (
    ZONE,
    all_record_sets,
    change,
    client,
    invalid_change_batch,
    key,
    make_vpc,
    make_zone,
    srv,
)


def zone_snapshot(r53, zone_id):
    return sorted(json.dumps(r, sort_keys=True) for r in all_record_sets(r53, zone_id)[0])


# ---------------------------------------------------------------------------
# listing
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
# change batches
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# zones and the agent's records
# ---------------------------------------------------------------------------


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


def test_zone_apex_records(endpoint):
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    apex = {r["Type"]: r for r in all_record_sets(r53, zone_id)[0]}
    assert apex["SOA"]["ResourceRecords"][0]["Value"].startswith("ns-2048.awsdns-64.com. awsdns-hostmaster.amazon.com. 1 ")
    assert apex["NS"]["TTL"] == 172800 and len(apex["NS"]["ResourceRecords"]) == 4


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


def test_max_items_must_be_a_whole_number_from_1(endpoint):
    """Both paged Route 53 listings check MaxItems alike: InvalidInput below 1
    or when it is not a whole number; above the maximum, only the maximum."""
    r53 = client(endpoint, "route53")
    zone_id = make_zone(r53)
    listings = {"ListResourceRecordSets": lambda n: r53.list_resource_record_sets(HostedZoneId=zone_id, MaxItems=n),
                "ListHostedZonesByName": lambda n: r53.list_hosted_zones_by_name(MaxItems=n)}
    for name, listing in listings.items():
        for bad in ("abc", "0", "-1", "1.5", "1e2"):
            with pytest.raises(r53.exceptions.InvalidInput) as info:
                listing(bad)
            assert info.value.response["Error"]["Message"] == f"Invalid value for MaxItems: {bad}", name
        resp = listing("1000")
        assert (resp["MaxItems"], resp["IsTruncated"]) == ("1000", False), name
