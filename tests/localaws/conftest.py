"""Shared fixtures and helpers of the localaws tests (run with
``.venv/bin/python -m pytest tests/localaws -q``).

One server per test session, started exactly as the Rust integration tests
start it, and reset before every test; boto3 (installed with moto) plays the
client.  Test modules import the helpers: ``from conftest import client, control``;
the Route 53 ones (``make_zone``, ``change``, ``all_record_sets`` …) serve
every module that writes records.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
ACCOUNT = "123456789012"  # the account of any credentials moto does not know
OTHER_ACCOUNT = "210987654321"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
ZONE = "sd.internal."


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory):
    stderr_path = tmp_path_factory.mktemp("localaws") / "stderr.log"
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen([sys.executable, SERVER, "--port", "0"],
                                stdout=subprocess.PIPE, stderr=stderr, text=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("localaws listening on http://127.0.0.1:"), (line, stderr_path.read_text())
    yield line.rsplit(" ", 1)[1]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert proc.stdout.read() == ""  # exactly one line on stdout
    assert "Traceback" not in stderr_path.read_text(), stderr_path.read_text()


@pytest.fixture(autouse=True)
def fresh(endpoint):
    control(endpoint, "POST", "reset")
    yield


def control(endpoint, method, path, body=None, expect=200):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{endpoint}/_localaws/{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, payload = resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        status, payload = err.code, json.loads(err.read() or b"null")
    assert status == expect, (status, payload)
    return payload


def client(endpoint, service, config=None, region="us-east-1", credentials=None):
    """A boto3 client of the local AWS in ``region``. ``credentials``
    (``{"AccessKeyId", "SecretAccessKey", "SessionToken"}``, as STS answers)
    select another account; by default the caller is account 123456789012."""
    credentials = credentials or {"AccessKeyId": "AKIDLOCALAWS", "SecretAccessKey": "secret"}
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
        config=config,
    )


def assume_account(endpoint, account_id=OTHER_ACCOUNT):
    """Credentials of ``account_id`` the AWS way: STS AssumeRole of a role in
    that account (moto files the temporary key under the role's account)."""
    sts = client(endpoint, "sts")
    return sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/localaws-test",
                           RoleSessionName="localaws-test")["Credentials"]


def make_vpc(endpoint, region="us-east-1", cidr="10.0.0.0/16", credentials=None):
    """A new VPC of the caller's account in ``region``; its id."""
    ec2 = client(endpoint, "ec2", region=region, credentials=credentials)
    return ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def run_instance(endpoint, region="us-east-1", ip="127.0.1.5", credentials=None):
    """An EC2 instance on ``ip`` in a new VPC 127.0.0.0/16 of ``region``:
    (instance id, VPC id)."""
    ec2 = client(endpoint, "ec2", region=region, credentials=credentials)
    vpc = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.0.1.0/24")["Subnet"]["SubnetId"]
    inst = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, SubnetId=subnet,
                             PrivateIpAddress=ip)["Instances"][0]
    return inst["InstanceId"], vpc


CALC = [{"name": "app", "image": "calc:1", "memory": 128,
         "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}]}]


def ecs_host(endpoint, cluster="web", region="us-east-1", ip="127.0.1.5", instance_id=None, containers=CALC):
    """A container instance of ``cluster`` (created if need be) on a new EC2
    instance of ``region`` (or on ``instance_id``): (ECS client, EC2 instance
    id, container instance ARN). Registers the task definition ``calc`` with
    ``containers`` (by default one, ``app``, with a dynamic host port for 8080)."""
    ecs = client(endpoint, "ecs", region=region)
    if instance_id is None:
        instance_id, _ = run_instance(endpoint, region, ip)
    ecs.create_cluster(clusterName=cluster)
    ci = ecs.register_container_instance(
        cluster=cluster, instanceIdentityDocument=json.dumps({"instanceId": instance_id, "region": region}))
    ecs.register_task_definition(family="calc", containerDefinitions=containers)
    return ecs, instance_id, ci["containerInstance"]["containerInstanceArn"]


@pytest.fixture
def ecs_setup(endpoint):
    """``ecs_host`` of cluster ``web`` whose ``calc`` runs ``app`` (named by
    SERVICE_8080_NAME) next to a ``sidecar`` without ports."""
    return ecs_host(endpoint, containers=[
        {**CALC[0], "environment": [{"name": "SERVICE_8080_NAME", "value": "calc"}]},
        {"name": "sidecar", "image": "envoy:1", "memory": 64},
    ])


def error(call, **kwargs):
    """The error response of ``call(**kwargs)``, which must fail."""
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    return info.value.response


# ---------------------------------------------------------------------------
# Route 53
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


def invalid_change_batch(r53, zone_id, *changes):
    with pytest.raises(r53.exceptions.InvalidChangeBatch) as info:
        change(r53, zone_id, *changes)
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "InvalidChangeBatch"
    assert err["Error"]["Type"] == "Sender"
    return err["Error"]["Message"]
