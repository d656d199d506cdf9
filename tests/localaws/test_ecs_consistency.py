"""ECS as the reaper reads it: MISSING on demand for just-listed ARNs (eventual
consistency), ListContainerInstances ``filter``/``status``, and ListTasks of
stopped tasks.  See README.md, "ECS"."""

from __future__ import annotations

import time

import pytest

from conftest import client, control, ecs_host, error, run_instance


# ---------------------------------------------------------------------------
# MISSING on demand
# ---------------------------------------------------------------------------


def test_ecs_missing_is_off_by_default(endpoint):
    ecs, _, ci = ecs_host(endpoint)
    task = ecs.run_task(cluster="web", taskDefinition="calc")["tasks"][0]["taskArn"]
    assert control(endpoint, "GET", "ecs/missing") == {"missing": []}
    for _ in range(3):
        assert ecs.describe_tasks(cluster="web", tasks=[task])["failures"] == []
        assert ecs.describe_container_instances(cluster="web", containerInstances=[ci])["failures"] == []


def test_ecs_missing_for_the_next_calls_that_include_the_task(endpoint):
    ecs, _, ci = ecs_host(endpoint)
    a, b = (ecs.run_task(cluster="web", taskDefinition="calc")["tasks"][0]["taskArn"] for _ in range(2))
    state = control(endpoint, "POST", "ecs/missing", {"arns": [a], "calls": 2})
    assert state == {"missing": [{"arn": a, "calls": 2}]}

    # ListTasks still lists it
    assert sorted(ecs.list_tasks(cluster="web")["taskArns"]) == sorted([a, b])
    # a describe that does not include it does not count
    assert [t["taskArn"] for t in ecs.describe_tasks(cluster="web", tasks=[b])["tasks"]] == [b]
    for _ in range(2):
        resp = ecs.describe_tasks(cluster="web", tasks=[a, b])
        assert [t["taskArn"] for t in resp["tasks"]] == [b]
        assert resp["failures"] == [{"arn": a, "reason": "MISSING"}]
    # then it is consistent again
    resp = ecs.describe_tasks(cluster="web", tasks=[a, b])
    assert sorted(t["taskArn"] for t in resp["tasks"]) == sorted([a, b]) and resp["failures"] == []
    assert control(endpoint, "GET", "ecs/missing") == {"missing": []}


def test_ecs_missing_matches_arn_or_id_and_until_cleared(endpoint):
    ecs, _, ci = ecs_host(endpoint)
    task = ecs.run_task(cluster="web", taskDefinition="calc")["tasks"][0]["taskArn"]
    task_id = task.split("/")[-1]
    control(endpoint, "POST", "ecs/missing", {"arns": [task], "calls": -1})
    for ref in (task, task_id, task):
        resp = ecs.describe_tasks(cluster="web", tasks=[ref])
        assert resp["tasks"] == [] and resp["failures"] == [{"arn": ref, "reason": "MISSING"}]
    assert control(endpoint, "GET", "ecs/missing") == {"missing": [{"arn": task, "calls": -1}]}
    assert control(endpoint, "DELETE", "ecs/missing") == {"missing": []}
    assert ecs.describe_tasks(cluster="web", tasks=[task])["failures"] == []
    # armed by id, it matches the ARN; a reset clears it
    control(endpoint, "POST", "ecs/missing", {"arns": [task_id]})  # calls defaults to 1
    assert ecs.describe_tasks(cluster="web", tasks=[task])["failures"] == [{"arn": task, "reason": "MISSING"}]
    assert ecs.describe_tasks(cluster="web", tasks=[task])["failures"] == []
    control(endpoint, "POST", "ecs/missing", {"arns": [task], "calls": -1})
    control(endpoint, "POST", "reset")
    assert control(endpoint, "GET", "ecs/missing") == {"missing": []}


def test_ecs_missing_for_container_instances(endpoint):
    ecs, iid, ci = ecs_host(endpoint)
    _, _, ci2 = ecs_host(endpoint, ip="127.0.1.6", instance_id=run_instance(endpoint, ip="127.0.1.6")[0])
    control(endpoint, "POST", "ecs/missing", {"arns": [ci], "calls": 1})
    assert sorted(ecs.list_container_instances(cluster="web")["containerInstanceArns"]) == sorted([ci, ci2])
    resp = ecs.describe_container_instances(cluster="web", containerInstances=[ci, ci2])
    assert [c["containerInstanceArn"] for c in resp["containerInstances"]] == [ci2]
    assert resp["failures"] == [{"arn": ci, "reason": "MISSING"}]
    resp = ecs.describe_container_instances(cluster="web", containerInstances=[ci, ci2])
    assert len(resp["containerInstances"]) == 2 and resp["failures"] == []
    # DescribeTasks and DescribeContainerInstances share the rules
    task = ecs.start_task(cluster="web", taskDefinition="calc", containerInstances=[ci])["tasks"][0]["taskArn"]
    control(endpoint, "POST", "ecs/missing", {"arns": [task, ci], "calls": 1})
    assert ecs.describe_tasks(cluster="web", tasks=[task])["failures"] == [{"arn": task, "reason": "MISSING"}]
    assert ecs.describe_container_instances(cluster="web", containerInstances=[ci])["failures"] == [
        {"arn": ci, "reason": "MISSING"}]
    assert control(endpoint, "GET", "ecs/missing") == {"missing": []}


@pytest.mark.parametrize("bad", [
    {}, {"arns": []}, {"arns": "arn:x"}, {"arns": [""]}, {"arns": ["a"], "calls": 0},
    {"arns": ["a"], "calls": -2}, {"arns": ["a"], "calls": 1.5}, {"arns": ["a"], "calls": True},
    {"arns": ["a"], "cluster": "web"},
])
def test_ecs_missing_validation(endpoint, bad):
    assert "error" in control(endpoint, "POST", "ecs/missing", bad, expect=400)
    assert control(endpoint, "GET", "ecs/missing") == {"missing": []}


# ---------------------------------------------------------------------------
# ListContainerInstances: filter and status
# ---------------------------------------------------------------------------


@pytest.fixture
def three_hosts(endpoint):
    hosts = []
    for n in (5, 6, 7):
        iid, _ = run_instance(endpoint, ip=f"127.0.1.{n}")
        ecs, _, ci = ecs_host(endpoint, instance_id=iid)
        hosts.append((iid, ci))
    return ecs, hosts


def listed(ecs, **kwargs):
    return sorted(ecs.list_container_instances(cluster="web", **kwargs)["containerInstanceArns"])


def test_list_container_instances_filter_by_ec2_instance_id(three_hosts):
    ecs, ((i1, c1), (i2, c2), (i3, c3)) = three_hosts
    assert listed(ecs) == sorted([c1, c2, c3])
    for expression in (f"ec2InstanceId == {i2}", f"ec2InstanceId=={i2}", f"ec2InstanceId equals {i2}",
                       f"ec2InstanceId == '{i2}'", f'  ec2InstanceId   ==   "{i2}"  '):
        assert listed(ecs, filter=expression) == [c2], expression
    for expression in (f"ec2InstanceId in [{i1}, {i3}]", f"ec2InstanceId in ['{i1}', '{i3}']",
                       f"ec2InstanceId in [{i1},{i3}, i-00000000000000000]", f'ec2InstanceId in ["{i3}", "{i1}"]'):
        assert listed(ecs, filter=expression) == sorted([c1, c3]), expression
    assert listed(ecs, filter="ec2InstanceId == i-00000000000000000") == []
    # filtered, then paged
    page = ecs.list_container_instances(cluster="web", filter=f"ec2InstanceId in [{i1}, {i2}, {i3}]", maxResults=2)
    assert len(page["containerInstanceArns"]) == 2 and page["nextToken"]


@pytest.mark.parametrize("expression", [
    "ec2InstanceId != i-1", "ec2InstanceId =~ i-.*", "agentConnected == true", "runningTasksCount == 0",
    "attribute:ecs.instance-type == t2.small", "ec2InstanceId in []", "ec2InstanceId in i-1",
    "ec2InstanceId == i-1 and ec2InstanceId == i-2", "not(ec2InstanceId == i-1)", "ec2instanceid == i-1",
])
def test_list_container_instances_unsupported_filter_is_refused(three_hosts, expression):
    ecs, _ = three_hosts
    resp = error(ecs.list_container_instances, cluster="web", filter=expression)
    assert resp["Error"]["Code"] == "InvalidParameterException"


def test_list_container_instances_status(endpoint, three_hosts):
    ecs, ((_, c1), (_, c2), (_, c3)) = three_hosts
    control(endpoint, "POST", "ecs/container-instances", {"containerInstances": [
        {"cluster": "web", "containerInstanceArn": c2, "status": "DRAINING"},
        {"cluster": "web", "containerInstanceArn": c3, "status": "INACTIVE"}]})
    # by default every status but INACTIVE
    assert listed(ecs) == sorted([c1, c2])
    assert listed(ecs, status="ACTIVE") == [c1]
    assert listed(ecs, status="DRAINING") == [c2]
    assert listed(ecs, status="REGISTERING") == []
    # status and filter together
    assert listed(ecs, status="DRAINING", filter=f"ec2InstanceId == {ecs.describe_container_instances(cluster='web', containerInstances=[c2])['containerInstances'][0]['ec2InstanceId']}") == [c2]
    assert error(ecs.list_container_instances, cluster="web", status="SLEEPING")["Error"]["Code"] == (
        "InvalidParameterException")


# ---------------------------------------------------------------------------
# ListTasks: stopped tasks
# ---------------------------------------------------------------------------


def test_list_tasks_lists_tasks_stopped_within_the_hour(endpoint):
    ecs, _, ci = ecs_host(endpoint)
    running, stopped, older = (ecs.run_task(cluster="web", taskDefinition="calc")["tasks"][0]["taskArn"]
                               for _ in range(3))
    for task in (stopped, older):
        ecs.stop_task(cluster="web", task=task, reason="test")
    # stopped 59 minutes ago: still listed ("at least one hour")
    control(endpoint, "POST", "ecs/tasks", {"tasks": [
        {"cluster": "web", "taskArn": older, "stoppedAt": time.time() - 59 * 60}]})
    assert ecs.list_tasks(cluster="web")["taskArns"] == [running]
    assert sorted(ecs.list_tasks(cluster="web", desiredStatus="STOPPED")["taskArns"]) == sorted([stopped, older])
    assert sorted(ecs.list_tasks(cluster="web", desiredStatus="STOPPED", containerInstance=ci)["taskArns"]) == sorted(
        [stopped, older])
    described = {t["taskArn"]: t for t in ecs.describe_tasks(cluster="web", tasks=[stopped, older])["tasks"]}
    assert {t["lastStatus"] for t in described.values()} == {"STOPPED"}
    assert {t["desiredStatus"] for t in described.values()} == {"STOPPED"}
    assert time.time() - described[older]["stoppedAt"].timestamp() == pytest.approx(59 * 60, abs=60)
