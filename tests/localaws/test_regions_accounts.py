"""Regions and accounts: a private zone with VPCs of two regions and of
another account; EC2, ECS and Cloud Map per region; DescribeVpcs as the reaper
uses it to find a VPC it cannot read.  See README.md, "Regions and accounts"."""

from __future__ import annotations

import time

import botocore.exceptions
import pytest

from conftest import (
    ACCOUNT,
    OTHER_ACCOUNT,
    assume_account,
    client,
    control,
    ecs_host,
    make_vpc,
    run_instance,
)


def error_code(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response


def private_zone(r53, vpc, region="us-east-1", name="sd.internal."):
    return r53.create_hosted_zone(
        Name=name, CallerReference=str(time.time()), HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": region, "VPCId": vpc})["HostedZone"]["Id"].split("/")[-1]


def instance_ids(ec2, **filters):
    resp = ec2.describe_instances(Filters=[{"Name": k, "Values": [v]} for k, v in filters.items()])
    return [i["InstanceId"] for r in resp["Reservations"] for i in r["Instances"]]


# ---------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------


def test_zone_with_vpcs_in_two_regions(endpoint):
    r53 = client(endpoint, "route53")
    east, west = make_vpc(endpoint, "us-east-1"), make_vpc(endpoint, "us-west-2", cidr="10.1.0.0/16")
    zone_id = private_zone(r53, east)
    r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC={"VPCRegion": "us-west-2", "VPCId": west})
    assert r53.get_hosted_zone(Id=zone_id)["VPCs"] == [
        {"VPCRegion": "us-east-1", "VPCId": east}, {"VPCRegion": "us-west-2", "VPCId": west}]
    # the same VPC again: ConflictingDomainExists
    code, _ = error_code(r53.associate_vpc_with_hosted_zone, HostedZoneId=zone_id,
                         VPC={"VPCRegion": "us-west-2", "VPCId": west})
    assert code == "ConflictingDomainExists"
    r53.disassociate_vpc_from_hosted_zone(HostedZoneId=zone_id, VPC={"VPCRegion": "us-east-1", "VPCId": east})
    assert r53.get_hosted_zone(Id=zone_id)["VPCs"] == [{"VPCRegion": "us-west-2", "VPCId": west}]
    code, _ = error_code(r53.disassociate_vpc_from_hosted_zone, HostedZoneId=zone_id,
                         VPC={"VPCRegion": "us-west-2", "VPCId": west})
    assert code == "LastVPCAssociation"


def test_route53_refuses_a_vpc_the_caller_does_not_have(endpoint):
    r53 = client(endpoint, "route53")
    west = make_vpc(endpoint, "us-west-2")
    # unknown VPC, or a VPC named in the wrong region: InvalidVPCId (HTTP 400)
    for vpc, region in (("vpc-0123456789abcdef0", "us-east-1"), (west, "us-east-1")):
        code, resp = error_code(r53.create_hosted_zone, Name="sd.internal.", CallerReference=f"{vpc}{region}",
                                HostedZoneConfig={"PrivateZone": True}, VPC={"VPCRegion": region, "VPCId": vpc})
        assert code == "InvalidVPCId" and resp["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "not authorized to access this VPC" in resp["Error"]["Message"]
    assert r53.list_hosted_zones()["HostedZones"] == []
    zone_id = private_zone(r53, west, "us-west-2")
    for vpc, region in (("vpc-0123456789abcdef0", "us-east-1"), (west, "eu-west-1")):
        code, _ = error_code(r53.associate_vpc_with_hosted_zone, HostedZoneId=zone_id,
                             VPC={"VPCRegion": region, "VPCId": vpc})
        assert code == "InvalidVPCId"
    code, _ = error_code(r53.associate_vpc_with_hosted_zone, HostedZoneId="ZNOSUCHZONE",
                         VPC={"VPCRegion": "us-west-2", "VPCId": west})
    assert code == "NoSuchHostedZone"
    assert r53.get_hosted_zone(Id=zone_id)["VPCs"] == [{"VPCRegion": "us-west-2", "VPCId": west}]


def test_ec2_ecs_and_cloud_map_are_per_region(endpoint):
    east_ec2, west_ec2 = client(endpoint, "ec2"), client(endpoint, "ec2", region="us-west-2")
    west_iid, west_vpc = run_instance(endpoint, "us-west-2")
    # invisible from us-east-1: listings, ids and filters
    assert instance_ids(east_ec2) == []
    assert error_code(east_ec2.describe_instances, InstanceIds=[west_iid])[0] == "InvalidInstanceID.NotFound"
    assert error_code(east_ec2.describe_vpcs, VpcIds=[west_vpc])[0] == "InvalidVpcID.NotFound"
    assert east_ec2.describe_network_interfaces(
        Filters=[{"Name": "addresses.private-ip-address", "Values": ["127.0.1.5"]}])["NetworkInterfaces"] == []
    # visible in us-west-2, with the region's DNS name
    (inst,) = [i for r in west_ec2.describe_instances(InstanceIds=[west_iid])["Reservations"] for i in r["Instances"]]
    assert inst["PrivateDnsName"] == "ip-127-0-1-5.us-west-2.compute.internal" and inst["VpcId"] == west_vpc
    (eni,) = west_ec2.describe_network_interfaces(
        Filters=[{"Name": "addresses.private-ip-address", "Values": ["127.0.1.5"]}])["NetworkInterfaces"]
    assert eni["VpcId"] == west_vpc
    # the same address in us-east-1 is another instance
    east_iid, _ = run_instance(endpoint, "us-east-1")
    assert instance_ids(east_ec2, **{"private-ip-address": "127.0.1.5"}) == [east_iid]
    assert instance_ids(west_ec2, **{"private-ip-address": "127.0.1.5"}) == [west_iid]

    # ECS
    west_ecs, _, ci_arn = ecs_host(endpoint, "web", "us-west-2", instance_id=west_iid)
    east_ecs = client(endpoint, "ecs")
    assert ":us-west-2:" in ci_arn
    assert east_ecs.list_clusters()["clusterArns"] == []
    assert error_code(east_ecs.list_container_instances, cluster="web")[0] == "ClusterNotFoundException"
    task = west_ecs.run_task(cluster="web", taskDefinition="calc")["tasks"][0]["taskArn"]
    east_ecs.create_cluster(clusterName="web")
    assert east_ecs.describe_tasks(cluster="web", tasks=[task])["failures"] == [{"arn": task, "reason": "MISSING"}]
    assert west_ecs.describe_tasks(cluster="web", tasks=[task])["tasks"][0]["taskArn"] == task

    # Cloud Map: the namespace, and its zone's VPC region, are us-west-2's
    east_sd, west_sd = client(endpoint, "servicediscovery"), client(endpoint, "servicediscovery", region="us-west-2")
    west_sd.create_private_dns_namespace(Name="west.internal", Vpc=west_vpc)
    assert east_sd.list_namespaces()["Namespaces"] == []
    (ns,) = west_sd.list_namespaces()["Namespaces"]
    assert ns["Arn"].split(":")[3] == "us-west-2"
    zone = ns["Properties"]["DnsProperties"]["HostedZoneId"]
    assert client(endpoint, "route53").get_hosted_zone(Id=zone)["VPCs"] == [
        {"VPCRegion": "us-west-2", "VPCId": west_vpc}]


@pytest.mark.parametrize("region,dns", [
    ("us-east-1", "ip-127-0-1-5.ec2.internal"),
    ("us-west-2", "ip-127-0-1-5.us-west-2.compute.internal"),
    ("eu-west-1", "ip-127-0-1-5.eu-west-1.compute.internal"),
])
def test_ec2_patches_in_every_region(endpoint, region, dns):
    ec2 = client(endpoint, "ec2", region=region)

    def described(iid):
        return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]

    iid, vpc = run_instance(endpoint, region)
    # launch time, and the shutting-down hold keeps the address
    control(endpoint, "POST", "ec2/instances", {"instances": [
        {"instanceId": iid, "state": "shutting-down", "launchTime": 1_700_000_000}]})
    inst = described(iid)
    assert inst["State"] == {"Code": 32, "Name": "shutting-down"}
    assert int(inst["LaunchTime"].timestamp()) == 1_700_000_000
    assert (inst["PrivateIpAddress"], inst["PrivateDnsName"], inst["VpcId"]) == ("127.0.1.5", dns, vpc)
    # terminated: no address, name, VPC or interface; the address is free again
    ec2.terminate_instances(InstanceIds=[iid])
    inst = described(iid)
    assert inst["State"]["Name"] == "terminated"
    assert "PrivateIpAddress" not in inst and inst["PrivateDnsName"] == "" and "VpcId" not in inst
    assert inst["NetworkInterfaces"] == []
    assert instance_ids(ec2, **{"private-ip-address": "127.0.1.5"}) == []
    assert instance_ids(ec2, **{"vpc-id": vpc}) == []
    assert ec2.describe_network_interfaces()["NetworkInterfaces"] == []
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    again = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet,
                              PrivateIpAddress="127.0.1.5")["Instances"][0]
    assert again["PrivateDnsName"] == dns


# ---------------------------------------------------------------------------
# Accounts
# ---------------------------------------------------------------------------


def test_credentials_of_another_account(endpoint):
    assert client(endpoint, "sts").get_caller_identity()["Account"] == ACCOUNT
    sts_made = assume_account(endpoint)
    assert client(endpoint, "sts", credentials=sts_made).get_caller_identity()["Account"] == OTHER_ACCOUNT
    made = control(endpoint, "POST", "credentials", {"accountId": OTHER_ACCOUNT})
    assert made["accountId"] == OTHER_ACCOUNT
    creds = {"AccessKeyId": made["accessKeyId"], "SecretAccessKey": made["secretAccessKey"],
             "SessionToken": made["sessionToken"]}
    assert client(endpoint, "sts", credentials=creds).get_caller_identity()["Account"] == OTHER_ACCOUNT
    # each account has its own EC2 in each region
    vpc = make_vpc(endpoint, "us-east-1", credentials=creds)
    ec2 = client(endpoint, "ec2", credentials=creds)
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["OwnerId"] == OTHER_ACCOUNT
    for bad in ({"accountId": "42"}, {}, {"accountId": OTHER_ACCOUNT, "role": "x"}):
        assert "error" in control(endpoint, "POST", "credentials", bad, expect=400)


def test_vpc_of_another_account_associated_the_aws_way(endpoint):
    owner_r53, owner_ec2 = client(endpoint, "route53"), client(endpoint, "ec2")
    other = assume_account(endpoint)
    other_r53 = client(endpoint, "route53", credentials=other)
    own_vpc = make_vpc(endpoint, "us-east-1")
    other_iid, other_vpc = run_instance(endpoint, "us-east-1", credentials=other)
    zone_id = private_zone(owner_r53, own_vpc)
    vpc = {"VPCRegion": "us-east-1", "VPCId": other_vpc}

    # the zone's owner cannot use the other account's VPC
    assert error_code(owner_r53.associate_vpc_with_hosted_zone, HostedZoneId=zone_id, VPC=vpc)[0] == "InvalidVPCId"
    # the VPC's owner needs the zone owner's authorization (HTTP 401 without)
    code, resp = error_code(other_r53.associate_vpc_with_hosted_zone, HostedZoneId=zone_id, VPC=vpc)
    assert code == "NotAuthorizedException" and resp["ResponseMetadata"]["HTTPStatusCode"] == 401
    # only the zone's owner can authorize
    assert error_code(other_r53.create_vpc_association_authorization, HostedZoneId=zone_id,
                      VPC=vpc)[0] == "NoSuchHostedZone"
    made = owner_r53.create_vpc_association_authorization(HostedZoneId=zone_id, VPC=vpc)
    assert (made["HostedZoneId"], made["VPC"]) == (zone_id, vpc)
    assert owner_r53.list_vpc_association_authorizations(HostedZoneId=zone_id)["VPCs"] == [vpc]
    # an authorization names a VPC and its region
    assert error_code(other_r53.associate_vpc_with_hosted_zone, HostedZoneId=zone_id,
                      VPC={"VPCRegion": "us-west-2", "VPCId": other_vpc})[0] == "InvalidVPCId"
    other_r53.associate_vpc_with_hosted_zone(HostedZoneId=zone_id, VPC=vpc)
    assert owner_r53.get_hosted_zone(Id=zone_id)["VPCs"] == [{"VPCRegion": "us-east-1", "VPCId": own_vpc}, vpc]
    # the authorization stays until deleted ("we recommend that you delete it")
    owner_r53.delete_vpc_association_authorization(HostedZoneId=zone_id, VPC=vpc)
    assert owner_r53.list_vpc_association_authorizations(HostedZoneId=zone_id)["VPCs"] == []
    assert error_code(owner_r53.delete_vpc_association_authorization, HostedZoneId=zone_id,
                      VPC=vpc)[0] == "VPCAssociationAuthorizationNotFound"
    # the other account does not see the zone itself
    assert error_code(other_r53.get_hosted_zone, Id=zone_id)[0] == "NoSuchHostedZone"

    # from the zone owner's account the VPC and its instances do not exist
    code, resp = error_code(owner_ec2.describe_vpcs, VpcIds=[other_vpc])
    assert code == "InvalidVpcID.NotFound" and other_vpc in resp["Error"]["Message"]
    assert [v["VpcId"] for v in owner_ec2.describe_vpcs(VpcIds=[own_vpc])["Vpcs"]] == [own_vpc]
    assert instance_ids(owner_ec2) == []
    assert instance_ids(owner_ec2, **{"vpc-id": other_vpc}) == []
    assert error_code(owner_ec2.describe_instances, InstanceIds=[other_iid])[0] == "InvalidInstanceID.NotFound"
    assert instance_ids(client(endpoint, "ec2", credentials=other)) == [other_iid]

    # the VPC's owner can take its VPC out of the zone again
    other_r53.disassociate_vpc_from_hosted_zone(HostedZoneId=zone_id, VPC=vpc)
    assert owner_r53.get_hosted_zone(Id=zone_id)["VPCs"] == [{"VPCRegion": "us-east-1", "VPCId": own_vpc}]


def test_describe_vpcs_with_a_list_fails_when_any_is_unknown(endpoint):
    ec2 = client(endpoint, "ec2")
    east = make_vpc(endpoint, "us-east-1")
    west = make_vpc(endpoint, "us-west-2")
    assert [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[east])["Vpcs"]] == [east]
    for ids in ([east, west], [west, east], [west]):
        code, resp = error_code(ec2.describe_vpcs, VpcIds=ids)
        assert code == "InvalidVpcID.NotFound"
        assert resp["Error"]["Message"] == f"The vpc ID '{west}' does not exist"
    code, resp = error_code(ec2.describe_vpcs, VpcIds=[west, "vpc-0000000000000000a", east])
    assert resp["Error"]["Message"] == f"The vpc ID '{west}, vpc-0000000000000000a' does not exist"
    west_ec2 = client(endpoint, "ec2", region="us-west-2")
    assert [v["VpcId"] for v in west_ec2.describe_vpcs(VpcIds=[west])["Vpcs"]] == [west]
