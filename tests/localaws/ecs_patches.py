"""ECS fidelity patches for moto 5.2.5.

What moto does differently from ECS, and what is patched here:

* Task state: moto registers ``ecs::task`` with the state manager as
  ``{"progression": "manual", "times": 1}`` and ``describe_tasks`` calls
  ``Task.advance()``, so a RUNNING task walks DEACTIVATING -> STOPPING ->
  DEPROVISIONING -> STOPPED one step per DescribeTasks.  Real tasks stay
  RUNNING until stopped.  We set the transition to manual with an unreachable
  tick count and our ``describe_tasks`` never advances.
* Containers: ``moto.ecs.models.Task.__init__`` builds a single ``Container``
  from the *first* container definition, with ``taskArn`` set to the task
  definition ARN, a ``containerArn`` under the task definition, lastStatus
  PENDING forever and no ``runtimeId`` / ``networkBindings``.  We wrap
  ``Task.__init__`` to create one container per definition with real ARN
  formats, lastStatus RUNNING, a 64-hex ``runtimeId`` and network bindings
  (bridge: static hostPort or a dynamic one from 32768 up per container
  instance; host: hostPort = containerPort; awsvpc: none), and to stamp
  ``createdAt``/``startedAt`` and ``launchType`` "EC2" for tasks on container
  instances.
* Placement: ``EC2ContainerServiceBackend._calculate_task_resource_requirements``
  reserves hostPort 0 (dynamic), so a second RunTask of a dynamic-port task on
  the same instance "does not fit".  Dynamic ports are no longer reserved.
* ``describe_tasks`` searches every cluster and matches task ids by substring;
  ours is scoped to the requested cluster, matches exactly, reports misses in
  ``failures`` (reason MISSING) and enforces the 100-task limit.
* ``list_tasks`` matches the cluster by substring of the ARN and returns
  STOPPED tasks unless asked not to; real ListTasks defaults to
  ``desiredStatus=RUNNING``.  Ours filters exactly, defaults to RUNNING and
  paginates (maxResults 1..100, default 100, ``nextToken``), as do
  ListContainerInstances and ListClusters.
* ``stop_task`` raises a bare ``Exception`` (HTTP 500) for an unknown task;
  ours raises InvalidParameterException, and marks containers STOPPED with
  ``stoppedAt``/``stopCode``.
* ``run_task`` raises a bare ``Exception`` (HTTP 500) on a cluster without
  container instances; ours raises InvalidParameterException.
* Containers without a ``healthCheck`` report ``healthStatus`` UNKNOWN (moto:
  HEALTHY).
* ``describe_container_instances`` raises KeyError (HTTP 500) for a cluster
  that never had an instance; ours reports the ids as MISSING.
* ``list_container_instances`` ignores ``filter`` (the cluster query language)
  and, without ``status``, lists INACTIVE instances too.  Ours lists all but
  INACTIVE by default, checks ``status`` against the API's values, and
  evaluates the ``ec2InstanceId`` expressions (``==``/``equals``, ``in [...]``);
  any other expression is refused with InvalidParameterException rather than
  ignored.
* Eventual consistency on demand (``MISSING``, control API ``ecs/missing``):
  DescribeTasks and DescribeContainerInstances answer ``failures: [{arn,
  reason: MISSING}]`` for the armed ARNs for the next N calls that include
  them, while the listings still list them.
"""

from __future__ import annotations

import inspect
import re
import sys
from datetime import datetime, timezone
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import (
    Container,
    EC2ContainerServiceBackend,
    Task,
    ecs_backends,
)
from moto.ecs.responses import DESCRIBE_TASKS_TAGS, EC2ContainerServiceResponse
from moto.moto_api import state_manager
from moto.moto_api._internal import mock_random
from moto.utilities.utils import get_partition

import paging

DYNAMIC_PORT_FIRST = 32768
DYNAMIC_PORT_LAST = 60999
MAX_DESCRIBE = 100
MAX_PAGE = 100


# ---------------------------------------------------------------------------
# Task construction
# ---------------------------------------------------------------------------

_original_task_init = Task.__init__
_task_init_signature = inspect.signature(_original_task_init)


def _allocate_dynamic_port(backend: EC2ContainerServiceBackend, instance_arn: str) -> int:
    ports: dict[str, int] = backend.__dict__.setdefault("_localaws_next_port", {})
    port = ports.get(instance_arn, DYNAMIC_PORT_FIRST)
    ports[instance_arn] = DYNAMIC_PORT_FIRST if port >= DYNAMIC_PORT_LAST else port + 1
    return port


def _bindings_for(task: Task, container_def: dict[str, Any], network_mode: str | None) -> list[dict[str, Any]]:
    mappings = container_def.get("portMappings") or container_def.get("PortMappings") or []
    bindings = []
    for mapping in mappings:
        container_port = mapping.get("containerPort", mapping.get("ContainerPort"))
        if container_port is None:
            continue
        protocol = mapping.get("protocol", mapping.get("Protocol")) or "tcp"
        if network_mode == "host":
            host_port = container_port
        elif network_mode in (None, "bridge"):
            host_port = mapping.get("hostPort", mapping.get("HostPort")) or 0
            if not host_port:
                host_port = _allocate_dynamic_port(task._backend, task.container_instance_arn or "")
        else:  # awsvpc / none: no host bindings
            continue
        bindings.append(
            {
                "bindIP": "0.0.0.0",
                "containerPort": int(container_port),
                "hostPort": int(host_port),
                "protocol": protocol,
            }
        )
    return bindings


def task_init(self: Task, *args: Any, **kwargs: Any) -> None:
    """Wraps ``moto.ecs.models.Task.__init__`` (see module docstring)."""
    _original_task_init(self, *args, **kwargs)
    bound = _task_init_signature.bind(self, *args, **kwargs)
    task_definition = bound.arguments["task_definition"]
    partition = get_partition(self.region_name)

    containers = []
    for container_def in task_definition.container_definitions:
        container = Container(task_definition)
        container.name = container_def.get("name")
        container.image = container_def.get("image")
        container.cpu = container_def.get("cpu", 0)
        container.memory = container_def.get("memory")
        container.environment = container_def.get("environment")
        container.command = container_def.get("command")
        container.container_arn = (
            f"arn:{partition}:ecs:{self.region_name}:{self._account_id}:container/"
            f"{self.cluster_name}/{self.id}/{mock_random.uuid4()}"
        )
        container.task_arn = self.task_arn
        container.last_status = "RUNNING"
        container.exitCode = None  # running containers have no exit code
        if not container_def.get("healthCheck"):
            container.health_status = "UNKNOWN"  # ECS: no container health check defined
        container.runtime_id = mock_random.get_random_hex(64)
        container.network_bindings = _bindings_for(self, container_def, task_definition.network_mode)
        containers.append(container)
    self.containers = containers

    now = utcnow()
    self.created_at = now
    self.started_at = now
    if not self.launch_type and self.container_instance_arn:
        self.launch_type = "EC2"


def calculate_task_resource_requirements(task_definition: Any) -> dict[str, Any]:
    """Wraps ``EC2ContainerServiceBackend._calculate_task_resource_requirements``:
    hostPort 0 means "dynamic" and must not reserve port 0 on the instance."""
    requirements = _original_requirements(task_definition)
    requirements["PORTS"] = [p for p in requirements["PORTS"] if p]
    return requirements


_original_requirements = EC2ContainerServiceBackend._calculate_task_resource_requirements


# ---------------------------------------------------------------------------
# Backend helpers
# ---------------------------------------------------------------------------


def _task_matches(task: Task, wanted: str) -> bool:
    return wanted == task.task_arn or wanted == task.id


def describe_tasks(self: EC2ContainerServiceBackend, cluster_str: str, tasks: list[str]) -> tuple[list[Task], list[dict[str, str]]]:
    """Replaces ``EC2ContainerServiceBackend.describe_tasks`` (no state advance)."""
    cluster = self._get_cluster(cluster_str)
    if not tasks:
        raise InvalidParameterException("Tasks cannot be empty.")
    if len(tasks) > MAX_DESCRIBE:
        raise InvalidParameterException(f"Tasks cannot contain more than {MAX_DESCRIBE} items.")
    # One index per call: a scan per requested task made a 100-task describe of a
    # 5,000-task cluster cost half a second.
    by_name: dict[str, Task] = {}
    for task in self.tasks.get(cluster.name, {}).values():
        by_name[task.task_arn] = task
        by_name[task.id] = task
    forced = MISSING.take(tasks)
    found, failures = [], []
    for wanted in tasks:
        match = by_name.get(wanted)
        if match is None or wanted in forced:
            failures.append({"arn": wanted, "reason": "MISSING"})
        elif match not in found:
            found.append(match)
    return found, failures


def list_tasks(
    self: EC2ContainerServiceBackend,
    cluster_str: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desiredStatus: str | None = None,
    launch_type: str | None = None,
) -> list[Task]:
    """Replaces ``EC2ContainerServiceBackend.list_tasks`` (exact filters, RUNNING by default)."""
    cluster = self._get_cluster(cluster_str or "default")
    wanted_status = desiredStatus or "RUNNING"
    result = []
    for task in self.tasks.get(cluster.name, {}).values():
        if task.desired_status != wanted_status:
            continue
        if container_instance:
            arn = task.container_instance_arn or ""
            if container_instance != arn and container_instance != arn.split("/")[-1]:
                continue
        if family and task.task_definition_arn.split("/")[-1].rsplit(":", 1)[0] != family:
            continue
        if started_by and task.started_by != started_by:
            continue
        if launch_type and task.launch_type != launch_type:
            continue
        # serviceName: moto never launches service tasks, nothing to filter on.
        result.append(task)
    return result


def stop_task(self: EC2ContainerServiceBackend, cluster_str: str, task_str: str, reason: str) -> Task:
    """Wraps ``EC2ContainerServiceBackend.stop_task``."""
    cluster = self._get_cluster(cluster_str)
    if not any(_task_matches(t, task_str) or t.task_arn.endswith("/" + task_str)
               for t in self.tasks.get(cluster.name, {}).values()):
        raise InvalidParameterException("The referenced task was not found.")
    task = _original_stop_task(self, cluster_str, task_str, reason)
    now = utcnow()
    task.stopping_at = now
    task.stopped_at = now
    task.stop_code = "UserInitiated"
    for container in task.containers:
        container.last_status = "STOPPED"
    return task


_original_stop_task = EC2ContainerServiceBackend.stop_task
_original_run_task = EC2ContainerServiceBackend.run_task


def run_task(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> list[Task]:
    """Wraps ``EC2ContainerServiceBackend.run_task``: moto raises a bare Exception
    (HTTP 500) when the cluster has no container instance; ECS answers 400."""
    try:
        return _original_run_task(self, *args, **kwargs)
    except Exception as exc:
        if type(exc) is Exception and str(exc).startswith("No instances found in cluster"):
            raise InvalidParameterException("No Container Instances were found in your cluster.") from None
        raise
_original_describe_container_instances = EC2ContainerServiceBackend.describe_container_instances


def describe_container_instances(self: EC2ContainerServiceBackend, cluster_str: str, ids: list[str]) -> Any:
    """Wraps ``describe_container_instances``: a cluster without instances is not a KeyError."""
    cluster = self._get_cluster(cluster_str)
    if ids and len(ids) > MAX_DESCRIBE:
        raise InvalidParameterException(f"containerInstances cannot contain more than {MAX_DESCRIBE} items.")
    self.container_instances.setdefault(cluster.name, {})
    instances, failures = _original_describe_container_instances(self, cluster_str, ids)
    forced = MISSING.take(ids or [])
    if forced:
        instances = [
            ci for ci in instances
            if not any(_same_resource(ref, ci.container_instance_arn) for ref in forced)
        ]
        already = [getattr(f, "arn", None) or f.get("arn", "") for f in failures]
        failures = list(failures) + [
            {"arn": ref, "reason": "MISSING"}
            for ref in ids
            if ref in forced and not any(_same_resource(ref, arn) for arn in already)
        ]
    return instances, failures


# ---------------------------------------------------------------------------
# Eventual consistency on demand: MISSING for listed resources
# ---------------------------------------------------------------------------


def _same_resource(a: str, b: str) -> bool:
    """Two references to one task or container instance: equal ARNs, or the same
    id (the last path component) when either is a bare id."""
    if a == b:
        return True
    if a.startswith("arn:") and b.startswith("arn:"):
        return False
    return a.split("/")[-1] == b.split("/")[-1]


class MissingRules:
    """``POST /_localaws/ecs/missing`` rules: DescribeTasks and
    DescribeContainerInstances report these ARNs MISSING for the next ``calls``
    describe calls that include them (-1: until cleared)."""

    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = []

    def add(self, payload: dict[str, Any]) -> None:
        unknown = sorted(set(payload) - {"arns", "calls"})
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)} (arns, calls)")
        arns = payload.get("arns")
        if not isinstance(arns, list) or not arns or not all(isinstance(a, str) and a for a in arns):
            raise ValueError("arns must be a non-empty list of task or container instance ARNs (or ids)")
        calls = payload.get("calls", 1)
        if isinstance(calls, bool) or not isinstance(calls, int) or (calls < 1 and calls != -1):
            raise ValueError("calls must be a whole number >= 1, or -1 for every call until cleared")
        self.rules.extend({"arn": arn, "calls": calls} for arn in arns)

    def take(self, refs: list[str]) -> set[str]:
        """The requested references this describe call reports MISSING; each
        rule that matches one of them counts this call once."""
        forced: set[str] = set()
        for rule in self.rules:
            hits = [ref for ref in refs if isinstance(ref, str) and _same_resource(rule["arn"], ref)]
            if hits:
                forced.update(hits)
                if rule["calls"] > 0:
                    rule["calls"] -= 1
        self.rules = [r for r in self.rules if r["calls"] != 0]
        return forced

    def describe(self) -> dict[str, Any]:
        return {"missing": [dict(r) for r in self.rules]}

    def clear(self) -> None:
        self.rules = []


MISSING = MissingRules()


# ---------------------------------------------------------------------------
# ListContainerInstances: status and filter (cluster query language)
# ---------------------------------------------------------------------------

# ListContainerInstances' status values (ContainerInstanceStatus in the API)
CONTAINER_INSTANCE_STATUSES = ("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED")
_VALUE = r"""(?:'[^']*'|"[^"]*"|[^\s,\[\]'"]+)"""
_EQUALS = re.compile(rf"^\s*ec2InstanceId\s*(?:==|\s+equals\s+)\s*(?P<value>{_VALUE})\s*$")
_IN = re.compile(rf"^\s*ec2InstanceId\s+in\s*\[\s*(?P<values>{_VALUE}(?:\s*,\s*{_VALUE})*)\s*\]\s*$")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_instance_filter(expression: str | None) -> set[str] | None:
    """The EC2 instance ids a ``filter`` selects, or None for no filter.
    Only ``ec2InstanceId == X`` (or ``equals``) and ``ec2InstanceId in [X, Y]``
    are evaluated here; values may be quoted ('X' or "X")."""
    if expression is None or not expression.strip():
        return None
    found = _EQUALS.match(expression)
    if found:
        return {_unquote(found.group("value"))}
    found = _IN.match(expression)
    if found:
        return {_unquote(v) for v in re.findall(_VALUE, found.group("values"))}
    raise InvalidParameterException(
        f"localaws supports only the cluster query expressions 'ec2InstanceId == <id>' and "
        f"'ec2InstanceId in [<id>, ...]' in ListContainerInstances, not: {expression}"
    )


# ---------------------------------------------------------------------------
# Response handlers (pagination, failures)
# ---------------------------------------------------------------------------


def _paginate(resp: EC2ContainerServiceResponse, items: list[str]) -> tuple[list[str], str | None]:
    """One page of ``maxResults`` (1..100, default 100) items from ``nextToken`` on, and the next token."""
    max_results = resp._get_param("maxResults")
    try:
        size = paging.page_size(None if max_results is None else int(max_results), MAX_PAGE)
    except ValueError:  # paging.PageError too
        raise InvalidParameterException(f"maxResults must be between 1 and {MAX_PAGE}.") from None
    try:
        return paging.offset_page(items, size, resp._get_param("nextToken"))
    except paging.PageError:
        raise InvalidParameterException("Invalid nextToken.") from None


def resp_describe_tasks(self: EC2ContainerServiceResponse) -> ActionResult:
    cluster = self._get_param("cluster", "default")
    tasks, failures = self.ecs_backend.describe_tasks(cluster, self._get_param("tasks", []))
    if "TAGS" in (self._get_param("include", []) or []):
        self._include_in_response(DESCRIBE_TASKS_TAGS)
    else:
        self._exclude_from_response(DESCRIBE_TASKS_TAGS)
    return ActionResult({"tasks": tasks, "failures": failures})


def resp_list_tasks(self: EC2ContainerServiceResponse) -> ActionResult:
    tasks = self.ecs_backend.list_tasks(
        self._get_param("cluster", "default"),
        self._get_param("containerInstance"),
        self._get_param("family"),
        self._get_param("startedBy"),
        self._get_param("serviceName"),
        self._get_param("desiredStatus"),
        self._get_param("launchType"),
    )
    page, token = _paginate(self, [t.task_arn for t in tasks])
    return ActionResult({"taskArns": page, "nextToken": token})


def resp_list_container_instances(self: EC2ContainerServiceResponse) -> ActionResult:
    cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))  # ClusterNotFoundException
    status = self._get_param("status")
    if status is not None and status not in CONTAINER_INSTANCE_STATUSES:
        raise InvalidParameterException(
            f"status must be one of {', '.join(CONTAINER_INSTANCE_STATUSES)}, not {status}"
        )
    ec2_ids = parse_instance_filter(self._get_param("filter"))
    arns = sorted(
        ci.container_instance_arn
        for ci in self.ecs_backend.container_instances.get(cluster.name, {}).values()
        # without status: every state but INACTIVE
        if (ci.status == status if status is not None else ci.status != "INACTIVE")
        and (ec2_ids is None or ci.ec2_instance_id in ec2_ids)
    )
    page, token = _paginate(self, arns)
    return ActionResult({"containerInstanceArns": page, "nextToken": token})


def resp_list_clusters(self: EC2ContainerServiceResponse) -> ActionResult:
    page, token = _paginate(self, self.ecs_backend.list_clusters())
    return ActionResult({"clusterArns": page, "nextToken": token})


# ---------------------------------------------------------------------------
# Control-API support
# ---------------------------------------------------------------------------


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _all_ecs_backends() -> list[EC2ContainerServiceBackend]:
    backends = []
    for account_backends in dict.values(ecs_backends):
        backends.extend(dict.values(account_backends))
    return backends


def find_cluster(cluster: str) -> tuple[EC2ContainerServiceBackend, Any]:
    """The backend holding this cluster (name or ARN) and the cluster, or 404."""
    cluster_name = (cluster or "default").split("/")[-1]
    for backend in _all_ecs_backends():
        if cluster_name in backend.clusters:
            return backend, backend.clusters[cluster_name]
    raise ControlError(404, f"cluster {cluster_name!r} not found")


def find_task(cluster: str, task_ref: str) -> Task:
    cluster_name = (cluster or "default").split("/")[-1]
    for backend in _all_ecs_backends():
        for task in backend.tasks.get(cluster_name, {}).values():
            if _task_matches(task, task_ref):
                return task
    raise ControlError(404, f"task {task_ref!r} not found in cluster {cluster_name!r}")


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(float(value), tz=timezone.utc).replace(tzinfo=None)


def update_tasks(entries: list[dict[str, Any]]) -> int:
    """Apply ``POST /_localaws/ecs/tasks`` entries; all are validated before any is applied."""
    plan = []
    for entry in entries:
        task = find_task(entry.get("cluster", "default"), entry.get("taskArn", ""))
        by_name = {c.name: c for c in task.containers}
        for spec in entry.get("containers") or []:
            if spec.get("name") not in by_name:
                raise ControlError(
                    404, f"task {task.task_arn} has no container named {spec.get('name')!r}"
                )
        plan.append((task, by_name, entry))

    for task, by_name, entry in plan:
        if "lastStatus" in entry:
            task.last_status = entry["lastStatus"]
            # containers follow the task unless told otherwise below
            for container in task.containers:
                container.last_status = entry["lastStatus"]
        if "desiredStatus" in entry:
            task.desired_status = entry["desiredStatus"]
        if "startedAt" in entry:
            task.started_at = _timestamp(entry["startedAt"])
        if "createdAt" in entry:
            task.created_at = _timestamp(entry["createdAt"])
        if "stoppedAt" in entry:
            task.stopped_at = _timestamp(entry["stoppedAt"])
        for spec in entry.get("containers") or []:
            container = by_name[spec["name"]]
            if "runtimeId" in spec:
                container.runtime_id = spec["runtimeId"]
            if "networkBindings" in spec:
                container.network_bindings = list(spec["networkBindings"] or [])
            if "lastStatus" in spec:
                container.last_status = spec["lastStatus"]
    return len(plan)


def update_container_instances(entries: list[dict[str, Any]]) -> int:
    """Apply ``POST /_localaws/ecs/container-instances`` entries (agentConnected, status)."""
    plan = []
    for entry in entries:
        cluster_name = (entry.get("cluster") or "default").split("/")[-1]
        ref = (entry.get("containerInstanceArn") or "").split("/")[-1]
        found = None
        for backend in _all_ecs_backends():
            found = backend.container_instances.get(cluster_name, {}).get(ref) or found
        if found is None:
            raise ControlError(404, f"container instance {ref!r} not found in cluster {cluster_name!r}")
        plan.append((found, entry))
    for instance, entry in plan:
        if "agentConnected" in entry:
            instance.agent_connected = bool(entry["agentConnected"])
        if "status" in entry:
            instance.status = entry["status"]
    return len(plan)


def configure_state_manager() -> None:
    # Manual progression that is never reached: tasks only change state through
    # StopTask or the control API.  (Re-applied after every reset.)
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": sys.maxsize})


def install() -> None:
    configure_state_manager()
    Task.__init__ = task_init  # type: ignore[method-assign]
    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(  # type: ignore[method-assign]
        calculate_task_resource_requirements
    )
    EC2ContainerServiceBackend.describe_tasks = describe_tasks  # type: ignore[method-assign,assignment]
    EC2ContainerServiceBackend.list_tasks = list_tasks  # type: ignore[method-assign]
    EC2ContainerServiceBackend.stop_task = stop_task  # type: ignore[method-assign]
    EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]
    EC2ContainerServiceBackend.describe_container_instances = describe_container_instances  # type: ignore[method-assign]
    EC2ContainerServiceResponse.describe_tasks = resp_describe_tasks  # type: ignore[method-assign]
    EC2ContainerServiceResponse.list_tasks = resp_list_tasks  # type: ignore[method-assign]
    EC2ContainerServiceResponse.list_container_instances = resp_list_container_instances  # type: ignore[method-assign]
    EC2ContainerServiceResponse.list_clusters = resp_list_clusters  # type: ignore[method-assign]


