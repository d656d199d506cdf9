"""Cloud Map (servicediscovery) fidelity patches for moto 5.2.5.

What moto's servicediscovery backend does differently from AWS Cloud Map, and
what is patched here (README.md, "Cloud Map", has the AWS sources):

* ``list_services`` / ``list_namespaces`` ignore ``Filters``, ``MaxResults``
  and ``NextToken``.  Ours page first (MaxResults 1..100, default 100) and then
  filter the page, as the API reference says Cloud Map does, so a filtered page
  may be empty and still carry a ``NextToken``.  ListServices filters
  ``NAMESPACE_ID`` (EQ, IN; an ID or an ARN) and ``RESOURCE_OWNER``;
  ListNamespaces filters ``TYPE`` (EQ, IN, BEGINS_WITH), ``NAME`` and
  ``HTTP_NAME`` (EQ, BEGINS_WITH) and ``RESOURCE_OWNER``.  Summaries carry
  ``InstanceCount`` / ``ServiceCount``.
* ``list_instances`` returns everything unless ``MaxResults`` is given; ours
  defaults to 100 (range 1..100).
* ``create_private_dns_namespace`` creates a private hosted zone named
  ``<name>-hz`` with no VPC, stores ``HostedZoneId`` as ``/hostedzone/Z…``,
  leaves ``HttpProperties`` empty and refuses a second namespace in the same
  VPC.  Ours creates the zone ``<name>.`` associated with the namespace's VPC,
  stores the bare zone id, sets ``HttpProperties.HttpName`` and only refuses a
  namespace whose name is already used by a namespace in the same VPC.
* ``deregister_instance`` removes the instance at once and its operation is
  SUCCESS at once.  Ours answers with an operation that is in progress:
  the instance stays listed until the operation completes, GetOperation reports
  the configured in-progress statuses (default one ``PENDING``) and then the
  result; the operation also completes on its own a configurable time after it
  was submitted.  It can be made to FAIL (the instance stays) through
  ``POST /_localaws/servicediscovery/operations``.  A second deregistration of
  an instance whose deregistration is in progress is refused with
  ``DuplicateRequest``.
* ``update_private_dns_namespace`` replaces all ``DnsProperties`` with the
  request's (losing ``HostedZoneId``); ours merges them (the SOA).
* ``list_operations`` drops every operation that is not a namespace operation
  from the backend (so GetOperation of a deregistration fails afterwards) and
  ignores ``Filters``, ``MaxResults`` and ``NextToken``.  Ours lists every
  operation (namespace, service and instance operations), pages first
  (MaxResults 1..100, default 100) and then filters the page, as the API
  reference says (``NAMESPACE_ID``/``SERVICE_ID`` EQ, ``STATUS``/``TYPE`` EQ or
  IN, ``UPDATE_DATE`` BETWEEN), and an in-progress deregistration listed on
  the page is observed exactly as a GetOperation observes it (one shared
  count), so ListOperations alone follows operations to their end.
* ``register_instance`` with an existing InstanceId appends a second instance
  with that id; ours replaces the instance's attributes.  ``AWS_INIT_HEALTH_STATUS``
  sets the initial custom health status.
* ``update_instance_custom_health_status`` works for any service; ours
  refuses a service without ``HealthCheckCustomConfig`` with
  ``CustomHealthNotFound`` and a status other than HEALTHY/UNHEALTHY with
  ``InvalidInput`` (moto: CustomHealthNotFound).
* ``get_instances_health_status`` reports HEALTHY for every instance and
  ignores unknown ids; ours reports UNKNOWN for a service with no health check
  of either kind, InstanceNotFound for an unknown id in ``Instances``, and
  pages by 100.
* ``get_service`` (and so everything that takes a ServiceId) accepts the
  service ARN too; ``create_service`` checks that the namespace exists.
* Responses carry ``Content-Type: application/x-amz-json-1.1`` (moto:
  ``text/html``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.route53 import route53_backends
from moto.servicediscovery.exceptions import (
    ConflictingDomainExists,
    CustomHealthNotFound,
    InstanceNotFound,
    InvalidInput,
    NamespaceNotFound,
    ServiceNotFound,
)
from moto.servicediscovery.models import (
    Namespace,
    Operation,
    Service,
    ServiceDiscoveryBackend,
    ServiceInstance,
    servicediscovery_backends,
)
from moto.servicediscovery.responses import ServiceDiscoveryResponse
from moto.utilities.utils import get_partition

import paging

MAX_PAGE = 100
HEALTH_STATUSES = ("HEALTHY", "UNHEALTHY")
IN_PROGRESS_STATUSES = ("SUBMITTED", "PENDING")
# Operation.ErrorCode values listed in the API reference
OPERATION_ERROR_CODES = (
    "ACCESS_DENIED",
    "CANNOT_CREATE_HOSTED_ZONE",
    "EXPIRED_TOKEN",
    "HOSTED_ZONE_NOT_FOUND",
    "INTERNAL_FAILURE",
    "INVALID_CHANGE_BATCH",
    "THROTTLED_REQUEST",
)
DEFAULT_PENDING = ("PENDING",)
DEFAULT_COMPLETE_AFTER_MS = 2000
DEFAULT_FAIL_CODE = "INTERNAL_FAILURE"
DEFAULT_FAIL_MESSAGE = "localaws: injected failure of the operation"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
# The order ListOperations walks the operations in (the API reference does not say)
LIST_ORDERS = ("oldest-first", "newest-first")
DEFAULT_LIST_ORDER = "oldest-first"
# OperationType and OperationStatus values in the API; the OperationFilter page
# spells SUCCESS "SUCCEED" among the STATUS values, so both are accepted.
OPERATION_TYPES = (
    "CREATE_NAMESPACE",
    "DELETE_NAMESPACE",
    "UPDATE_NAMESPACE",
    "UPDATE_SERVICE",
    "REGISTER_INSTANCE",
    "DEREGISTER_INSTANCE",
)
OPERATION_STATUSES = {"SUBMITTED": "SUBMITTED", "PENDING": "PENDING", "SUCCESS": "SUCCESS",
                      "SUCCEED": "SUCCESS", "FAIL": "FAIL"}


class DuplicateRequest(JsonRESTError):
    """The operation is already in progress (carries ``DuplicateOperationId``;
    HTTP 409 as in the service model)."""

    code = 409

    def __init__(self, message: str, operation_id: str):
        super().__init__("DuplicateRequest", message)
        self.description = json.dumps(
            {"__type": "DuplicateRequest", "message": message, "DuplicateOperationId": operation_id}
        )


# ---------------------------------------------------------------------------
# Asynchronous instance operations (DeregisterInstance)
# ---------------------------------------------------------------------------


class FailRule:
    """``{"instanceId", "serviceId"?, "errorCode"?, "errorMessage"?, "count"?}``:
    the next ``count`` deregistrations of that instance to complete end in FAIL."""

    def __init__(self, spec: Any):
        if isinstance(spec, str):
            spec = {"instanceId": spec}
        if not isinstance(spec, dict):
            raise ValueError("each fail entry must be an instance id or an object")
        unknown = sorted(set(spec) - {"instanceId", "serviceId", "errorCode", "errorMessage", "count"})
        if unknown:
            raise ValueError(f"unknown fail field(s) {', '.join(unknown)}")
        self.instance_id = spec.get("instanceId")
        if not isinstance(self.instance_id, str) or not self.instance_id:
            raise ValueError("fail: instanceId must be a non-empty string")
        self.service_id = spec.get("serviceId")
        if self.service_id is not None and not isinstance(self.service_id, str):
            raise ValueError("fail: serviceId must be a string")
        self.error_code = spec.get("errorCode", DEFAULT_FAIL_CODE)
        if self.error_code not in OPERATION_ERROR_CODES:
            raise ValueError(f"fail: errorCode must be one of {', '.join(OPERATION_ERROR_CODES)}")
        self.error_message = spec.get("errorMessage", DEFAULT_FAIL_MESSAGE)
        if not isinstance(self.error_message, str):
            raise ValueError("fail: errorMessage must be a string")
        count = spec.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or (count < 1 and count != -1):
            raise ValueError("fail: count must be a whole number >= 1, or -1 for every time")
        self.count = count

    def matches(self, op: "InstanceOperation") -> bool:
        if self.instance_id != op.instance_id:
            return False
        return self.service_id is None or self.service_id.split("/")[-1] == op.service_id

    def describe(self) -> dict[str, Any]:
        return {
            "instanceId": self.instance_id,
            "serviceId": self.service_id,
            "errorCode": self.error_code,
            "errorMessage": self.error_message,
            "count": self.count,
        }


class OperationSettings:
    """How deregistration operations progress (``/_localaws/servicediscovery/operations``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.pending: list[str] = list(DEFAULT_PENDING)
        self.complete_after_ms: int | None = DEFAULT_COMPLETE_AFTER_MS
        self.fail: list[FailRule] = []
        self.list_order: str = DEFAULT_LIST_ORDER

    def update(self, payload: dict[str, Any]) -> None:
        """Validate everything, then apply."""
        unknown = sorted(set(payload) - {"pending", "complete_after_ms", "fail", "list_order"})
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)} (pending, complete_after_ms, fail, list_order)")
        list_order = payload.get("list_order", self.list_order)
        if list_order not in LIST_ORDERS:
            raise ValueError(f"list_order must be one of {', '.join(LIST_ORDERS)}")
        pending = self.pending
        if "pending" in payload:
            pending = payload["pending"]
            if not isinstance(pending, list) or any(s not in IN_PROGRESS_STATUSES for s in pending):
                raise ValueError("pending must be a list of 'SUBMITTED' / 'PENDING'")
        after = self.complete_after_ms
        if "complete_after_ms" in payload:
            after = payload["complete_after_ms"]
            if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
                raise ValueError("complete_after_ms must be a whole number of milliseconds >= 0, or null")
        specs = payload.get("fail", [])
        if not isinstance(specs, list):
            raise ValueError("fail must be a list")
        rules = [FailRule(spec) for spec in specs]
        self.pending = list(pending)
        self.complete_after_ms = after
        self.fail.extend(rules)
        self.list_order = list_order

    def take_fail_rule(self, op: "InstanceOperation") -> FailRule | None:
        for rule in self.fail:
            if rule.matches(op):
                if rule.count > 0:
                    rule.count -= 1
                self.fail = [r for r in self.fail if r.count != 0]
                return rule
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "pending": list(self.pending),
            "complete_after_ms": self.complete_after_ms,
            "fail": [r.describe() for r in self.fail],
            "list_order": self.list_order,
        }


SETTINGS = OperationSettings()


class InstanceOperation(Operation):
    """A DEREGISTER_INSTANCE operation that is in progress until it completes.

    ``pending`` are the statuses the first GetOperation calls report; the call
    after them completes it, as does the ``deadline`` (a monotonic time), if
    any, passing.  Until then the instance is untouched."""

    # moto's model metaclass files models under the service named by the
    # second component of their module
    __module__ = "moto.servicediscovery.localaws"

    def __init__(self, operation_type: str, service: Service, instance_id: str):
        super().__init__(operation_type, {"INSTANCE": instance_id, "SERVICE": service.id})
        self.service_id = service.id
        self.instance_id = instance_id
        self.status = "SUBMITTED"
        self.pending = list(SETTINGS.pending)
        after = SETTINGS.complete_after_ms
        self.deadline = None if after is None else time.monotonic() + after / 1000.0
        self.polls = 0
        self.error_code: str | None = None
        self.error_message: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("SUCCESS", "FAIL")

    def to_json(self, short: bool = False) -> dict[str, Any]:
        result = super().to_json(short)
        if not short and self.status == "FAIL":
            result["ErrorCode"] = self.error_code
            result["ErrorMessage"] = self.error_message
        return result

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.operation_type,
            "status": self.status,
            "serviceId": self.service_id,
            "instanceId": self.instance_id,
            "polls": self.polls,
            "errorCode": self.error_code,
            "errorMessage": self.error_message,
        }


def _open(backend: ServiceDiscoveryBackend) -> dict[tuple[str, str], InstanceOperation]:
    """The backend's operations in progress by (service id, instance id), so a
    request need not scan every operation ever submitted. (A moto reset
    rebuilds the backend's ``__dict__``, and with it this.)"""
    found = backend.__dict__.get("_localaws_open")
    if found is None:
        found = backend.__dict__["_localaws_open"] = {}
    return found


def _complete(backend: ServiceDiscoveryBackend, op: InstanceOperation) -> None:
    _open(backend).pop((op.service_id, op.instance_id), None)
    rule = SETTINGS.take_fail_rule(op)
    if rule is not None:
        op.status = "FAIL"
        op.error_code = rule.error_code
        op.error_message = rule.error_message
    else:
        service = backend.services.get(op.service_id)
        if service is not None:
            before = len(service.instances)
            service.instances = [i for i in service.instances if i.instance_id != op.instance_id]
            if len(service.instances) != before:
                service.instances_revision[op.instance_id] = service.instances_revision.get(op.instance_id, 0) + 1
        op.status = "SUCCESS"
    op.updated = unix_time()


def settle(backend: ServiceDiscoveryBackend) -> None:
    """Complete every operation of this backend whose deadline has passed."""
    now = time.monotonic()
    for op in list(_open(backend).values()):
        if op.deadline is not None and op.deadline <= now:
            _complete(backend, op)


# ---------------------------------------------------------------------------
# Backend replacements
# ---------------------------------------------------------------------------


def _strip_arn(resource_id: str | None) -> str | None:
    if isinstance(resource_id, str) and resource_id.startswith("arn:"):
        return resource_id.split("/")[-1]
    return resource_id


def get_service(self: ServiceDiscoveryBackend, service_id: str) -> Service:
    """moto's, accepting the service ARN as the API does."""
    sid = _strip_arn(service_id)
    if sid not in self.services:
        raise ServiceNotFound(service_id)
    return self.services[sid]


def get_namespace(self: ServiceDiscoveryBackend, namespace_id: str) -> Namespace:
    nid = _strip_arn(namespace_id)
    if nid not in self.namespaces:
        raise NamespaceNotFound(namespace_id)
    return self.namespaces[nid]


_original_create_service = ServiceDiscoveryBackend.create_service


def create_service(self: ServiceDiscoveryBackend, **kwargs: Any) -> Service:
    """moto's, but the namespace (``NamespaceId``, or the older
    ``DnsConfig.NamespaceId``; an ID or an ARN) must exist: NamespaceNotFound."""
    namespace_id = kwargs.get("namespace_id") or (kwargs.get("dns_config") or {}).get("NamespaceId")
    if not namespace_id:
        raise InvalidInput("NamespaceId is required")
    kwargs["namespace_id"] = self.get_namespace(namespace_id).id
    return _original_create_service(self, **kwargs)


def create_private_dns_namespace(
    self: ServiceDiscoveryBackend,
    name: str,
    creator_request_id: str,
    description: str,
    vpc: str,
    tags: list[dict[str, str]],
    properties: dict[str, Any],
) -> str:
    """The namespace's private hosted zone has the namespace's name and is
    associated with its VPC; DnsProperties.HostedZoneId is the bare zone id."""
    if not name:
        raise InvalidInput("Name is required")
    if not vpc:
        raise InvalidInput("Vpc is required")
    wanted = name.rstrip(".").lower()
    for namespace in self.namespaces.values():
        if namespace.type == "DNS_PRIVATE" and namespace.vpc == vpc and namespace.name.rstrip(".").lower() == wanted:
            raise ConflictingDomainExists(vpc)
    dns_properties = dict((properties or {}).get("DnsProperties") or {})
    zone = route53_backends[self.account_id][get_partition(self.region_name)].create_hosted_zone(
        name if name.endswith(".") else name + ".",
        private_zone=True,
        vpcid=vpc,
        vpcregion=self.region_name,
        comment=f"Created by AWS Cloud Map namespace {name}",
    )
    dns_properties["HostedZoneId"] = zone.resource_id
    namespace = Namespace(
        account_id=self.account_id,
        region=self.region_name,
        name=name,
        ns_type="DNS_PRIVATE",
        creator_request_id=creator_request_id,
        description=description,
        dns_properties=dns_properties,
        http_properties={"HttpName": name},
        vpc=vpc,
    )
    self.namespaces[namespace.id] = namespace
    if tags:
        self.tagger.tag_resource(namespace.arn, tags)
    return self._create_operation("CREATE_NAMESPACE", targets={"NAMESPACE": namespace.id})


def update_dns_namespace(
    self: ServiceDiscoveryBackend, _id: str, description: str | None, properties: dict[str, Any] | None
) -> str:
    """UpdatePrivateDnsNamespace / UpdatePublicDnsNamespace change the
    description and the SOA; moto replaced all DnsProperties, HostedZoneId
    included."""
    namespace = self.get_namespace(namespace_id=_id)
    if description is not None:
        namespace.description = description
    if properties:
        zone_id = namespace.dns_properties.get("HostedZoneId")
        namespace.dns_properties = {**namespace.dns_properties, **properties}
        if zone_id is not None:
            namespace.dns_properties["HostedZoneId"] = zone_id
    namespace.updated = unix_time()
    return self._create_operation("UPDATE_NAMESPACE", targets={"NAMESPACE": namespace.id})


def register_instance(
    self: ServiceDiscoveryBackend,
    service_id: str,
    instance_id: str,
    creator_request_id: str,
    attributes: dict[str, str],
) -> str:
    """Creates the instance, or replaces the attributes of the instance with
    that id ("You can use this value to update an existing instance")."""
    service = self.get_service(service_id)
    if not instance_id:
        raise InvalidInput("InstanceId is required")
    attributes = dict(attributes or {})
    init = attributes.get("AWS_INIT_HEALTH_STATUS")
    if init is not None and init not in HEALTH_STATUSES:
        raise InvalidInput("AWS_INIT_HEALTH_STATUS must be HEALTHY or UNHEALTHY")
    custom = service.health_check_custom_config is not None
    existing = next((i for i in service.instances if i.instance_id == instance_id), None)
    if existing is not None:
        existing.attributes = attributes
        if creator_request_id:
            existing.creator_request_id = creator_request_id
        if custom and init is not None:
            existing.health_status = init
    else:
        instance = ServiceInstance(
            service_id=service.id,
            instance_id=instance_id,
            creator_request_id=creator_request_id,
            attributes=attributes,
        )
        if custom and init is not None:
            instance.health_status = init
        service.instances.append(instance)
    service.instances_revision[instance_id] = service.instances_revision.get(instance_id, 0) + 1
    return self._create_operation("REGISTER_INSTANCE", targets={"INSTANCE": instance_id, "SERVICE": service.id})


def deregister_instance(self: ServiceDiscoveryBackend, service_id: str, instance_id: str) -> str:
    service = self.get_service(service_id)
    if not any(i.instance_id == instance_id for i in service.instances):
        raise InstanceNotFound(instance_id)
    running = _open(self).get((service.id, instance_id))
    if running is not None:
        raise DuplicateRequest(f"Deregistration of instance {instance_id} is already in progress", running.id)
    op = InstanceOperation("DEREGISTER_INSTANCE", service, instance_id)
    self.operations[op.id] = op
    _open(self)[(service.id, instance_id)] = op
    settle(self)  # complete_after_ms 0: done before the answer
    return op.id


_original_get_operation = ServiceDiscoveryBackend.get_operation


def observe(backend: ServiceDiscoveryBackend, op: Operation) -> None:
    """One observation of an operation, by GetOperation or by a ListOperations
    page that holds it: an in-progress deregistration reports its next
    in-progress status, or completes once they are used up."""
    if isinstance(op, InstanceOperation) and not op.done:
        if op.polls < len(op.pending):
            op.status = op.pending[op.polls]
            op.updated = unix_time()
        else:
            _complete(backend, op)
        op.polls += 1


def get_operation(self: ServiceDiscoveryBackend, operation_id: str) -> Operation:
    op = _original_get_operation(self, operation_id)
    observe(self, op)
    return op


def list_operations(self: ServiceDiscoveryBackend) -> list[Operation]:
    """All operations in the configured order (moto dropped every
    non-namespace one from the backend)."""
    operations = list(self.operations.values())
    if SETTINGS.list_order == "newest-first":
        operations.reverse()
    return operations


def update_instance_custom_health_status(
    self: ServiceDiscoveryBackend, service_id: str, instance_id: str, status: str
) -> None:
    service = self.get_service(service_id)
    if status not in HEALTH_STATUSES:
        raise InvalidInput("Status must be HEALTHY or UNHEALTHY")
    instance = next((i for i in service.instances if i.instance_id == instance_id), None)
    if instance is None:
        raise InstanceNotFound(instance_id)
    if service.health_check_custom_config is None:
        raise CustomHealthNotFound(service.id)
    instance.health_status = status


def _has_health_check(service: Service) -> bool:
    return service.health_check_config is not None or service.health_check_custom_config is not None


def get_instances_health_status(
    self: ServiceDiscoveryBackend, service_id: str, instances: list[str] | None = None
) -> list[tuple[str, str]]:
    service = self.get_service(service_id)
    by_id = {i.instance_id: i for i in service.instances}
    if instances is None:
        wanted = list(by_id)
    else:
        if not isinstance(instances, list):
            raise InvalidInput("Instances must be a list")
        for iid in instances:
            if iid not in by_id:
                raise InstanceNotFound(iid)
        wanted = list(dict.fromkeys(instances))
    checked = _has_health_check(service)
    return [(iid, by_id[iid].health_status if checked else "UNKNOWN") for iid in wanted]


# ---------------------------------------------------------------------------
# Response handlers: paging and filters
# ---------------------------------------------------------------------------


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of ``MaxResults`` (1..100, default 100) items from
    ``NextToken`` on, and the ``NextToken`` member of the answer ({} on the
    last page)."""
    try:
        size = paging.page_size(params.get("MaxResults"), MAX_PAGE)
    except paging.PageError:
        raise InvalidInput(f"MaxResults must be between 1 and {MAX_PAGE}") from None
    try:
        page, token = paging.offset_page(items, size, params.get("NextToken"))
    except paging.PageError:
        raise InvalidInput("The NextToken is not valid") from None
    return page, ({"NextToken": token} if token else {})


def _filters(params: dict[str, Any], allowed: dict[str, tuple[str, ...]]) -> list[tuple[str, str, list[str]]]:
    """Validated ``Filters``: (name, condition, values); ``allowed`` maps a
    filter name to its conditions."""
    raw = params.get("Filters") or []
    if not isinstance(raw, list):
        raise InvalidInput("Filters must be a list")
    result = []
    for spec in raw:
        if not isinstance(spec, dict):
            raise InvalidInput("Each filter must be an object")
        name = spec.get("Name")
        condition = spec.get("Condition") or "EQ"
        values = spec.get("Values")
        if name not in allowed:
            raise InvalidInput(f"Filter name {name!r} is not valid; use one of {', '.join(allowed)}")
        if condition not in allowed[name]:
            raise InvalidInput(f"Condition {condition} is not supported for filter {name}")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise InvalidInput(f"Filter {name} needs a list of values")
        if condition in ("EQ", "BEGINS_WITH") and len(values) != 1:
            raise InvalidInput(f"Condition {condition} takes exactly one value")
        result.append((name, condition, values))
    return result


def _owner_matches(condition: str, values: list[str]) -> bool:
    if values[0] not in ("SELF", "OTHER_ACCOUNTS"):
        raise InvalidInput("RESOURCE_OWNER must be SELF or OTHER_ACCOUNTS")
    return values[0] == "SELF"  # everything here belongs to the caller's account


def _text_matches(actual: str | None, condition: str, values: list[str]) -> bool:
    if actual is None:
        return False
    if condition == "BEGINS_WITH":
        return actual.startswith(values[0])
    return actual in values  # EQ (one value) or IN


def _service_type(backend: ServiceDiscoveryBackend, service: Service) -> str:
    if service.service_type:
        return service.service_type
    namespace = backend.namespaces.get(service.namespace_id)
    if namespace is not None and namespace.type == "HTTP":
        return "HTTP"
    return "DNS_HTTP" if service.dns_config else "HTTP"


def _service_summary(backend: ServiceDiscoveryBackend, service: Service) -> dict[str, Any]:
    summary = {
        "Id": service.id,
        "Arn": service.arn,
        "ResourceOwner": backend.account_id,
        "Name": service.name,
        "Type": _service_type(backend, service),
        "Description": service.description,
        "InstanceCount": len(service.instances),
        "DnsConfig": service.dns_config,
        "HealthCheckConfig": service.health_check_config,
        "HealthCheckCustomConfig": service.health_check_custom_config,
        "CreateDate": service.created,
        "CreatedByAccount": backend.account_id,
    }
    return {k: v for k, v in summary.items() if v is not None}


_original_service_to_json = Service.to_json


def service_to_json(self: Service) -> dict[str, Any]:
    """moto's Service, without null members and with Type and InstanceCount."""
    result = {k: v for k, v in _original_service_to_json(self).items() if v is not None}
    result["InstanceCount"] = len(self.instances)
    if not result.get("Type"):
        result["Type"] = "DNS_HTTP" if self.dns_config else "HTTP"
    return result


def resp_list_services(self: ServiceDiscoveryResponse) -> tuple[int, dict[str, str], str]:
    params = json.loads(self.body or "{}")
    filters = _filters(params, {"NAMESPACE_ID": ("EQ", "IN"), "RESOURCE_OWNER": ("EQ",)})
    backend = self.servicediscovery_backend
    page, more = _page(list(backend.services.values()), params)

    def keep(service: Service) -> bool:
        for name, condition, values in filters:
            if name == "RESOURCE_OWNER":
                if not _owner_matches(condition, values):
                    return False
                continue
            namespace = backend.namespaces.get(service.namespace_id)
            candidates = {service.namespace_id} | ({namespace.arn} if namespace else set())
            if not candidates & set(values):
                return False
        return True

    return 200, {}, json.dumps({"Services": [_service_summary(backend, s) for s in page if keep(s)], **more})


def _namespace_summary(backend: ServiceDiscoveryBackend, namespace: Namespace) -> dict[str, Any]:
    summary = {
        "Id": namespace.id,
        "Arn": namespace.arn,
        "ResourceOwner": backend.account_id,
        "Name": namespace.name,
        "Type": namespace.type,
        "Description": namespace.description,
        "ServiceCount": sum(1 for s in backend.services.values() if s.namespace_id == namespace.id),
        "Properties": {
            "DnsProperties": namespace.dns_properties,
            "HttpProperties": namespace.http_properties,
        },
        "CreateDate": namespace.created,
    }
    return {k: v for k, v in summary.items() if v is not None}


def resp_list_namespaces(self: ServiceDiscoveryResponse) -> tuple[int, dict[str, str], str]:
    params = json.loads(self.body or "{}")
    filters = _filters(
        params,
        {
            "TYPE": ("EQ", "IN", "BEGINS_WITH"),
            "NAME": ("EQ", "BEGINS_WITH"),
            "HTTP_NAME": ("EQ", "BEGINS_WITH"),
            "RESOURCE_OWNER": ("EQ",),
        },
    )
    backend = self.servicediscovery_backend
    page, more = _page(list(backend.namespaces.values()), params)

    def keep(namespace: Namespace) -> bool:
        for name, condition, values in filters:
            if name == "RESOURCE_OWNER":
                ok = _owner_matches(condition, values)
            elif name == "TYPE":
                ok = _text_matches(namespace.type, condition, values)
            elif name == "NAME":
                ok = _text_matches(namespace.name, condition, values)
            else:
                ok = _text_matches((namespace.http_properties or {}).get("HttpName"), condition, values)
            if not ok:
                return False
        return True

    return 200, {}, json.dumps({"Namespaces": [_namespace_summary(backend, n) for n in page if keep(n)], **more})


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(f"UPDATE_DATE values must be Unix date/time values, not {value!r}") from None


def _operation_filters(params: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    filters = _filters(
        params,
        {
            "NAMESPACE_ID": ("EQ",),
            "SERVICE_ID": ("EQ",),
            "STATUS": ("EQ", "IN"),
            "TYPE": ("EQ", "IN"),
            "UPDATE_DATE": ("BETWEEN",),
        },
    )
    for name, condition, values in filters:
        if name == "STATUS" and any(v not in OPERATION_STATUSES for v in values):
            raise InvalidInput(f"STATUS values must be among {', '.join(OPERATION_STATUSES)}")
        if name == "TYPE" and any(v not in OPERATION_TYPES for v in values):
            raise InvalidInput(f"TYPE values must be among {', '.join(OPERATION_TYPES)}")
        if name == "UPDATE_DATE":
            if len(values) != 2:
                raise InvalidInput("BETWEEN takes exactly two values: a start date and an end date")
            _number(values[0]), _number(values[1])
    return filters


def _operation_namespace(backend: ServiceDiscoveryBackend, op: Operation) -> str | None:
    targets = op.targets or {}
    if targets.get("NAMESPACE"):
        return targets["NAMESPACE"]
    service = backend.services.get(targets.get("SERVICE") or "")
    return service.namespace_id if service is not None else None


def _operation_matches(
    backend: ServiceDiscoveryBackend, op: Operation, filters: list[tuple[str, str, list[str]]]
) -> bool:
    for name, _condition, values in filters:
        if name == "NAMESPACE_ID":
            ok = _operation_namespace(backend, op) == _strip_arn(values[0])
        elif name == "SERVICE_ID":
            ok = (op.targets or {}).get("SERVICE") == _strip_arn(values[0])
        elif name == "STATUS":
            ok = op.status in {OPERATION_STATUSES[v] for v in values}
        elif name == "TYPE":
            ok = op.operation_type in values
        else:  # UPDATE_DATE BETWEEN start and end (inclusive)
            ok = _number(values[0]) <= op.updated <= _number(values[1])
        if not ok:
            return False
    return True


def resp_list_operations(self: ServiceDiscoveryResponse) -> tuple[int, dict[str, str], str]:
    """ListOperations: a page of MaxResults operations, each observed (as
    GetOperation observes it), then filtered."""
    params = json.loads(self.body or "{}")
    filters = _operation_filters(params)
    backend = self.servicediscovery_backend
    page, more = _page(backend.list_operations(), params)
    for op in page:
        observe(backend, op)
    operations = [op.to_json(short=True) for op in page if _operation_matches(backend, op, filters)]
    return 200, {}, json.dumps({"Operations": operations, **more})


def resp_list_instances(self: ServiceDiscoveryResponse) -> str:
    params = json.loads(self.body or "{}")
    backend = self.servicediscovery_backend
    service = backend.get_service(params.get("ServiceId"))
    page, more = _page(list(service.instances), params)
    instances = [{"Id": i.instance_id, "Attributes": i.attributes, "CreatedByAccount": backend.account_id} for i in page]
    return json.dumps({"Instances": instances, **more})


def resp_get_instances_health_status(self: ServiceDiscoveryResponse) -> str:
    params = json.loads(self.body or "{}")
    records = self.servicediscovery_backend.get_instances_health_status(
        service_id=params.get("ServiceId"), instances=params.get("Instances")
    )
    page, more = _page(records, params)
    return json.dumps({"Status": dict(page), **more})


def _backend(self: ServiceDiscoveryResponse) -> ServiceDiscoveryBackend:
    """moto's property, settling due operations first: an operation completes
    on its own once its time has come, whoever asks next sees it done."""
    backend = servicediscovery_backends[self.current_account][self.region]
    settle(backend)
    return backend


_original_call_action = ServiceDiscoveryResponse.call_action


def call_action(self: ServiceDiscoveryResponse) -> Any:
    status, headers, body = _original_call_action(self)
    headers["Content-Type"] = JSON_CONTENT_TYPE
    headers.pop("content-type", None)
    return status, headers, body


# ---------------------------------------------------------------------------
# Control API support
# ---------------------------------------------------------------------------


def _all_backends() -> list[ServiceDiscoveryBackend]:
    backends = []
    for account_backends in dict.values(servicediscovery_backends):
        backends.extend(dict.values(account_backends))
    return backends


def describe_operations() -> dict[str, Any]:
    """``GET /_localaws/servicediscovery/operations``: settings, fail rules and
    every deregistration operation (due ones settled first)."""
    operations = []
    for backend in _all_backends():
        settle(backend)
        operations.extend(op.describe() for op in backend.operations.values() if isinstance(op, InstanceOperation))
    return {**SETTINGS.describe(), "operations": operations}


def configure_operations(payload: dict[str, Any]) -> dict[str, Any]:
    for backend in _all_backends():
        settle(backend)  # what is due completes under the settings it was submitted with
    SETTINGS.update(payload)
    return describe_operations()


def reset_operations() -> dict[str, Any]:
    SETTINGS.reset()
    return describe_operations()


def install() -> None:
    ServiceDiscoveryBackend.get_service = get_service  # type: ignore[method-assign]
    ServiceDiscoveryBackend.get_namespace = get_namespace  # type: ignore[method-assign]
    ServiceDiscoveryBackend.create_service = create_service  # type: ignore[method-assign]
    ServiceDiscoveryBackend.create_private_dns_namespace = create_private_dns_namespace  # type: ignore[method-assign]
    ServiceDiscoveryBackend.update_private_dns_namespace = update_dns_namespace  # type: ignore[method-assign]
    ServiceDiscoveryBackend.update_public_dns_namespace = update_dns_namespace  # type: ignore[method-assign]
    ServiceDiscoveryBackend.register_instance = register_instance  # type: ignore[method-assign]
    ServiceDiscoveryBackend.deregister_instance = deregister_instance  # type: ignore[method-assign]
    ServiceDiscoveryBackend.get_operation = get_operation  # type: ignore[method-assign]
    ServiceDiscoveryBackend.list_operations = list_operations  # type: ignore[method-assign,assignment]
    ServiceDiscoveryBackend.update_instance_custom_health_status = update_instance_custom_health_status  # type: ignore[method-assign]
    ServiceDiscoveryBackend.get_instances_health_status = get_instances_health_status  # type: ignore[method-assign]
    Service.to_json = service_to_json  # type: ignore[method-assign]
    ServiceDiscoveryResponse.servicediscovery_backend = property(_backend)  # type: ignore[assignment,method-assign]
    ServiceDiscoveryResponse.call_action = call_action  # type: ignore[method-assign]
    ServiceDiscoveryResponse.list_services = resp_list_services  # type: ignore[method-assign]
    ServiceDiscoveryResponse.list_namespaces = resp_list_namespaces  # type: ignore[method-assign]
    ServiceDiscoveryResponse.list_instances = resp_list_instances  # type: ignore[method-assign]
    ServiceDiscoveryResponse.list_operations = resp_list_operations  # type: ignore[method-assign]
    ServiceDiscoveryResponse.get_instances_health_status = resp_get_instances_health_status  # type: ignore[method-assign]

