"""Agent hook: a container that starts in the middle of a sweep.

``POST /_localaws/hooks/agent`` arms a one-shot hook. Right after the next call
of its ``after`` operation (``service:Operation``, as the call counters name
it) has been processed by moto, with that call's response already computed and
still under the state lock, the hook does what ECS and the service-discovery
agent do for a new container:

1. start a task of ``taskDefinition`` on ``containerInstance``, the way
   StartTask does (moto's ``EC2ContainerServiceBackend.start_task``, so the
   task gets the runtimeId, networkBindings and startedAt/createdAt of
   ``ecs_patches.task_init``);
2. write its record in the reference agent's shape: a weighted SRV at
   ``name``, TTL 0, weight 1, value ``1 1 <hostPort> <host>`` and
   SetIdentifier ``<host>:<runtimeId>``, where hostPort is the network binding
   of ``containerPort`` and host is the private DNS name of the container
   instance's EC2 instance. The record is put as the before-change hook puts
   its records (``r53_patches.apply_changes_leniently``, UPSERT).

Every hook armed for an operation fires after the next call of it, in the
order armed. A request failed by an injected fault is not processed by moto
and does not fire hooks.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.session

import ec2_patches
import ecs_patches
import r53_patches
from ecs_patches import ControlError

_FIELDS = ("after", "cluster", "taskDefinition", "containerInstance", "containerPort", "zoneId", "name")
_OPERATIONS: dict[str, set[str]] = {}


def _operations(service: str) -> set[str] | None:
    if service not in _OPERATIONS:
        try:
            model = botocore.session.get_session().get_service_model(service)
        except Exception:
            return None
        _OPERATIONS[service] = set(model.operation_names)
    return _OPERATIONS[service]


def _check_after(after: Any) -> str:
    if not isinstance(after, str) or after.count(":") != 1:
        raise ControlError(400, f"after must be 'service:Operation', not {after!r}")
    service, operation = after.split(":")
    operations = _operations(service)
    if operations is None:
        raise ControlError(400, f"after: unknown service {service!r}")
    if operation not in operations:
        raise ControlError(400, f"after: {service} has no operation {operation!r}")
    return after


def _container_instance(backend: Any, cluster: Any, ref: str) -> Any:
    found = backend.container_instances.get(cluster.name, {}).get(ref.split("/")[-1])
    if found is None:
        raise ControlError(404, f"container instance {ref!r} not found in cluster {cluster.name!r}")
    return found


def validate(payload: dict[str, Any]) -> dict[str, Any]:
    """Check an agent hook payload against the current state; return the hook."""
    missing = [f for f in _FIELDS if f not in payload]
    if missing:
        raise ControlError(400, f"missing fields: {', '.join(missing)}")
    after = _check_after(payload["after"])
    port = payload["containerPort"]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ControlError(400, f"containerPort must be a port number, not {port!r}")
    if not isinstance(payload["name"], str) or not payload["name"]:
        raise ControlError(400, "name must be a DNS name")

    backend, cluster = ecs_patches.find_cluster(payload["cluster"])
    try:
        definition = backend.describe_task_definition(str(payload["taskDefinition"]))
    except Exception:
        raise ControlError(404, f"task definition {payload['taskDefinition']!r} not found") from None
    if definition.network_mode not in (None, "bridge", "host"):
        raise ControlError(400, f"task definition network mode {definition.network_mode!r} has no host port bindings")
    ports = [
        m.get("containerPort", m.get("ContainerPort"))
        for c in definition.container_definitions
        for m in c.get("portMappings") or c.get("PortMappings") or []
    ]
    if port not in ports:
        raise ControlError(400, f"task definition {definition.arn} maps no containerPort {port}")
    instance = _container_instance(backend, cluster, str(payload["containerInstance"]))
    ec2_patches.find_instance(instance.ec2_instance_id)  # 404 if the EC2 instance is unknown

    zone = r53_patches.find_zone(str(payload["zoneId"]))
    if zone is None:
        raise ControlError(404, f"hosted zone {payload['zoneId']!r} not found")
    name = r53_patches.normalize_name(payload["name"])
    apex = r53_patches.normalize_name(zone.name)
    if name != apex and not name.endswith("." + apex):
        raise ControlError(400, f"name {name} is not in zone {apex}")

    return {
        "after": after,
        "cluster": cluster.name,
        "taskDefinition": definition.arn,
        "containerInstance": instance.container_instance_arn,
        "containerPort": port,
        "zoneId": zone.resource_id,
        "name": name,
    }


def fire(hook: dict[str, Any], done: dict[str, Any]) -> None:
    """Start the task and write its SRV record, noting in ``done`` what was done."""
    backend, cluster = ecs_patches.find_cluster(hook["cluster"])
    instance = _container_instance(backend, cluster, hook["containerInstance"])
    host = ec2_patches.find_instance(instance.ec2_instance_id).private_dns_name
    if not host:
        raise ControlError(409, f"EC2 instance {instance.ec2_instance_id} has no private DNS name")
    task = backend.start_task(cluster.name, hook["taskDefinition"], [instance.container_instance_arn], {}, "")[0]
    done["taskArn"] = task.task_arn
    for container in task.containers:
        binding = next(
            (b for b in container.network_bindings or [] if b.get("containerPort") == hook["containerPort"]),
            None,
        )
        if binding is not None:
            break
    else:
        raise ControlError(409, f"task {task.task_arn} has no binding for containerPort {hook['containerPort']}")
    done["runtimeId"] = container.runtime_id
    record = {
        "Name": hook["name"],
        "Type": "SRV",
        "TTL": 0,
        "Weight": 1,
        "SetIdentifier": f"{host}:{container.runtime_id}",
        "ResourceRecords": [{"Value": f"1 1 {binding['hostPort']} {host}"}],
    }
    zone = r53_patches.find_zone(hook["zoneId"])
    if zone is None:
        raise ControlError(409, f"hosted zone {hook['zoneId']!r} no longer exists")
    r53_patches.apply_changes_leniently(zone, [{"action": "UPSERT", "record": record}])
    done["record"] = {
        "Name": record["Name"],
        "Type": "SRV",
        "SetIdentifier": record["SetIdentifier"],
        "Value": record["ResourceRecords"][0]["Value"],
    }


class AgentHooks:
    """Pending agent hooks, and what the fired ones did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._fired: list[dict[str, Any]] = []

    def arm(self, payload: dict[str, Any]) -> dict[str, Any]:
        hook = validate(payload)
        with self._lock:
            self._pending.append(hook)
        return hook

    def after_call(self, key: str) -> None:
        """Fire every hook waiting for ``key`` (called under the state lock)."""
        with self._lock:
            due = [h for h in self._pending if h["after"] == key]
            if not due:
                return
            self._pending = [h for h in self._pending if h["after"] != key]
        for hook in due:
            done: dict[str, Any] = {"after": hook["after"]}
            try:
                fire(hook, done)
            except Exception as exc:  # reported through GET /_localaws/hooks
                done["error"] = str(exc)
            with self._lock:
                self._fired.append(done)

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(h) for h in self._pending]

    def fired(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(d) for d in self._fired]

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._fired.clear()


HOOKS = AgentHooks()
