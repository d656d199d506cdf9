"""Test hooks: the before-change hook (another writer changes the zone just
before the next change batch) and the agent hook (a container starts
mid-sweep and writes its record).  See README.md, "Control API"."""

from __future__ import annotations

import botocore.exceptions
import pytest

from conftest import (
    NO_RETRY,
    ZONE,
    all_record_sets,
    change,
    client,
    control,
    invalid_change_batch,
    key,
    make_zone,
    srv,
)


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
