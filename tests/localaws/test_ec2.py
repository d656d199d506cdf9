"""EC2 as the reaper reads it: private DNS names, what a terminated (or a
stopped, or a shutting-down) instance still reports, the control API's states
and launch times, two VPCs with the same CIDR.  See README.md, "EC2"."""

from __future__ import annotations

import time

from conftest import client, control, run_instance


def test_ec2_private_dns_name_and_termination(endpoint):
    ec2 = client(endpoint, "ec2")
    iid, _ = run_instance(endpoint)
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
    iid, _ = run_instance(endpoint)
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
    iid, _ = run_instance(endpoint)
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
    iid, _ = run_instance(endpoint)
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
