"""ECS as the reaper reads it: container instances and their EC2 instances,
tasks that stay RUNNING with containers, runtime ids and bindings (and the
control API that sets them), ListTasks' paging and default, cluster scoping.
See README.md, "ECS"; MISSING on demand and ListContainerInstances filters
are in test_ecs_consistency.py."""

from __future__ import annotations

import pytest

from conftest import client, control


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
