"""WSGI middleware in front of moto: request classification, call counters,
fault injection and the ``/_localaws/`` control API.

Every request is classified as ``service:Operation``:

* Route 53 (REST-XML): path under ``/2013-04-01/``; the operation is found by
  matching method + path against botocore's Route 53 model.
* JSON protocols (ECS, Cloud Map): header ``X-Amz-Target: <prefix>.<Operation>``;
  the service is known from the prefix (``ecs``, ``servicediscovery``), else
  the SigV4 signing name.
* Query protocols (EC2): form field ``Action=<Operation>``; the service is the
  SigV4 signing name (``ec2`` when unsigned).

All AWS requests and control-API calls run under one process-wide lock, so
moto (which is not thread-safe) sees one request at a time and a change batch
is atomic with respect to concurrent listings.  Two things happen outside that
lock, before the request is processed: the Route 53 rate limit (a request it
throttles is answered at once, never waiting for the lock) and the wait of a
delay fault.  The call counters have their own small lock for that reason.
"""

from __future__ import annotations

import io
import json
import re
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from typing import Any, Callable
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore.session
from moto.moto_api._internal.models import moto_api_backend
from moto.sts.models import sts_backends
from werkzeug.wsgi import get_input_stream

import agent_hook
import ec2_patches
import ecs_patches
import r53_patches
import sd_patches
from ratelimit import TokenBucket, route53_limit

CONTROL_PREFIX = "/_localaws/"
STATE_LOCK = threading.RLock()
# Guards LocalAws.calls and LocalAws.throttled. Held only briefly: requests
# take it before STATE_LOCK, control calls inside it; nothing takes
# STATE_LOCK while holding it.
COUNTER_LOCK = threading.Lock()

# X-Amz-Target prefixes of the JSON services we model (awsJson1.1), named by
# their SigV4 signing names
TARGET_PREFIX_SERVICE = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "Route53AutoNaming_v20170314": "servicediscovery",
}
JSON_SERVICES = frozenset(TARGET_PREFIX_SERVICE.values())

DEFAULT_MESSAGES = {
    "Throttling": "Rate exceeded",
    "ThrottlingException": "Rate exceeded",
    "RequestLimitExceeded": "Request limit exceeded.",
    "PriorRequestNotComplete": "The request was rejected because Route 53 was still processing a prior request.",
    "InternalError": "An internal error has occurred",
    "ServiceUnavailable": "Service is unavailable",
}


# ---------------------------------------------------------------------------
# Request classification
# ---------------------------------------------------------------------------


class _RestXmlRoutes:
    """Method + path -> operation for Route 53, built from botocore's model."""

    def __init__(self, service: str) -> None:
        model = botocore.session.get_session().get_service_model(service)
        routes = []
        for name in model.operation_names:
            op = model.operation_model(name)
            method = op.http["method"]
            uri = op.http["requestUri"].split("?", 1)[0]
            if len(uri) > 1:
                uri = uri.rstrip("/")
            labels: dict[str, str] = {}  # location name -> member name
            if op.input_shape is not None:
                for member, shape in op.input_shape.members.items():
                    if shape.serialization.get("location") in ("uri", "querystring"):
                        labels[shape.serialization.get("name", member)] = member
            pattern = ""
            literal = 0
            for part in re.split(r"(\{[^}]+\})", uri):
                if part.startswith("{"):
                    label = part[1:-1].rstrip("+")
                    group = ".+" if part.endswith("+}") else "[^/]+"
                    pattern += f"(?P<{_group_name(label)}>{group})"
                else:
                    pattern += re.escape(part)
                    literal += len(part)
            regex = re.compile("^" + pattern + "/?$")
            routes.append((literal, method, regex, name, labels))
        routes.sort(key=lambda r: -r[0])  # most literal characters first
        self.routes = routes

    def match(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[str, dict[str, Any]] | None:
        for _, route_method, regex, name, labels in self.routes:
            if route_method != method:
                continue
            found = regex.match(path)
            if not found:
                continue
            params: dict[str, Any] = {}
            raw = {**{k: v[0] for k, v in query.items()}, **{_label_of(k): v for k, v in found.groupdict().items()}}
            for location_name, value in raw.items():
                params[location_name] = value
                if location_name in labels:
                    params[labels[location_name]] = value
            return name, params
        return None


def _group_name(label: str) -> str:
    return "L_" + re.sub(r"\W", "_", label)


def _label_of(group: str) -> str:
    return group[2:]


_ROUTE53_ROUTES: _RestXmlRoutes | None = None


def _route53_routes() -> _RestXmlRoutes:
    global _ROUTE53_ROUTES
    if _ROUTE53_ROUTES is None:
        _ROUTE53_ROUTES = _RestXmlRoutes("route53")
    return _ROUTE53_ROUTES


def _signing_service(environ: dict[str, Any]) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    found = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    return found.group(1).lower() if found else None


class Classified:
    def __init__(self, service: str, operation: str, params: dict[str, Any]):
        self.service = service
        self.operation = operation
        self.params = params

    @property
    def key(self) -> str:
        return f"{self.service}:{self.operation}"


def classify(environ: dict[str, Any], body: bytes) -> Classified | None:
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path.startswith("/2013-04-01/"):
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        found = _route53_routes().match(method, path, query)
        if found:
            return Classified("route53", found[0], found[1])
        return Classified("route53", f"Unknown({method} {path})", {})
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target and "." in target:
        prefix, operation = target.split(".", 1)
        service = TARGET_PREFIX_SERVICE.get(prefix) or _signing_service(environ) or prefix
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        return Classified(service, operation, params if isinstance(params, dict) else {})
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded") or environ.get("QUERY_STRING", "").find("Action=") >= 0:
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        if not form:
            form = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if "Action" in form:
            service = _signing_service(environ) or "ec2"
            return Classified(service, form["Action"][0], {k: v[0] for k, v in form.items()})
    return None


# ---------------------------------------------------------------------------
# Route 53 request rate limit (the bucket itself is in ratelimit.py)
# ---------------------------------------------------------------------------


def _bucket(spec: dict[str, Any] | None) -> TokenBucket | None:
    return None if spec is None else TokenBucket(spec["rate"], spec["burst"])


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


class Fault:
    """One fault spec. A fault with ``delay_ms`` holds the matching request that
    long before it is processed; it fails the request too only if it also gives
    ``code``, ``status`` or ``reset``. Without ``delay_ms`` it always fails."""

    def __init__(self, spec: dict[str, Any]):
        if not isinstance(spec, dict):
            raise ValueError("each fault must be an object")
        self.service = spec.get("service")
        self.operation = spec.get("operation")
        delay = spec.get("delay_ms")
        if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int) or delay < 0):
            raise ValueError(f"delay_ms must be a whole number of milliseconds >= 0, not {delay!r}")
        self.delay_ms: int | None = delay
        self.reset = bool(spec.get("reset", False))
        self.fails = delay is None or "code" in spec or "status" in spec or self.reset
        self.status = int(spec.get("status", 500)) if self.fails else None
        self.code = (spec.get("code") or "InternalError") if self.fails else None
        self.message = (
            (spec.get("message") or DEFAULT_MESSAGES.get(self.code, "localaws injected fault")) if self.fails else None
        )
        self.count = int(spec.get("count", 1))
        self.match = spec.get("match") or {}
        if not isinstance(self.match, dict):
            raise ValueError("match must be an object")

    def applies(self, call: Classified) -> bool:
        if self.count == 0:
            return False
        if self.service and self.service != call.service:
            return False
        if self.operation and self.operation != call.operation:
            return False
        for field, expected in self.match.items():
            actual = call.params.get(field)
            if isinstance(actual, list):
                if expected not in actual and str(expected) not in [str(a) for a in actual]:
                    return False
            elif actual is None or str(actual) != str(expected):
                return False
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "count": self.count,
            "reset": self.reset,
            "match": self.match,
            "delay_ms": self.delay_ms,
        }


def error_response(service: str, status: int, code: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """An error in the service's real wire format (what the AWS SDKs parse)."""
    request_id = str(uuid.uuid4())
    status_line = f"{status} {_REASONS.get(status, 'Error')}"
    if service == "route53" or service not in JSON_SERVICES | {"ec2"}:
        fault_type = "Sender" if status < 500 else "Receiver"
        body = (
            '<?xml version="1.0"?>\n'
            '<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            f"<Error><Type>{fault_type}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    elif service in JSON_SERVICES:  # awsJson1.1: ECS, Cloud Map
        body = json.dumps({"__type": code, "message": message})
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-errortype", code),
        ]
    else:  # ec2 query protocol
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
    data = body.encode("utf-8")
    headers.append(("Content-Length", str(len(data))))
    return status_line, headers, data


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def abort_connection(environ: dict[str, Any]) -> None:
    """Drop the client connection without sending a byte of response.

    The socket gets SO_LINGER 0 (so its final close is a TCP RST) and is shut
    down both ways; the client sees its connection closed before any response.
    Raising ConnectionResetError makes werkzeug treat this as a dropped
    connection (``WSGIRequestHandler.connection_dropped``) instead of trying to
    send a 500.
    """
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError("localaws: injected connection reset")


# ---------------------------------------------------------------------------
# The middleware
# ---------------------------------------------------------------------------


class LocalAws:
    def __init__(self, moto_app: Callable, route53_rate_limit: dict[str, Any] | None = None) -> None:
        """``route53_rate_limit``: the Route 53 rate limit at start and after a
        reset, ``{"rate", "burst"?}`` or None (off)."""
        self.moto_app = moto_app
        self.faults: list[Fault] = []
        self.calls: dict[str, int] = {}  # every AWS request, throttled ones included
        self.throttled: dict[str, int] = {}  # requests answered by the rate limit
        self.default_route53_limit = route53_limit(route53_rate_limit)
        self.route53_bucket: TokenBucket | None = _bucket(self.default_route53_limit)

    # -- WSGI entry point ----------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        try:
            if path.startswith(CONTROL_PREFIX) or path.rstrip("/") + "/" == CONTROL_PREFIX:
                with STATE_LOCK:
                    return self._control(environ, body, start_response)
            call = classify(environ, body)
            if call is not None:
                # The rate limit comes first, outside STATE_LOCK: a throttled
                # request never waits for it, and takes no fault or hook.
                bucket = self.route53_bucket if call.service == "route53" else None
                throttled = bucket is not None and not bucket.take()
                with COUNTER_LOCK:
                    self.calls[call.key] = self.calls.get(call.key, 0) + 1
                    if throttled:
                        self.throttled[call.key] = self.throttled.get(call.key, 0) + 1
                if throttled:
                    status, headers, data = error_response(call.service, 400, "Throttling", DEFAULT_MESSAGES["Throttling"])
                    start_response(status, headers)
                    return [data]
            fault = None
            with STATE_LOCK:
                if call is not None:
                    fault = self._take_fault(call)
                if fault is None or not fault.delay_ms:
                    return self._answer(environ, start_response, call, fault)
            # A delay fault: wait without the lock (other requests are served
            # meanwhile), then answer against the state as it is by then.
            time.sleep(fault.delay_ms / 1000.0)
            with STATE_LOCK:
                return self._answer(environ, start_response, call, fault)
        except ConnectionError:
            raise
        except Exception as exc:  # a bug in the fixture: say so loudly
            traceback.print_exc(file=sys.stderr)
            return self._json(start_response, 500, {"error": f"localaws internal error: {exc!r}"})

    def _answer(
        self, environ: dict[str, Any], start_response: Callable, call: Classified | None, fault: Fault | None
    ) -> list[bytes]:
        """Fail the request as ``fault`` says, or let moto answer it and then fire
        the agent hooks waiting for this operation. Called under STATE_LOCK."""
        if call is not None and fault is not None and fault.fails:
            if fault.reset:
                abort_connection(environ)
            status, headers, data = error_response(call.service, fault.status, fault.code, fault.message)
            start_response(status, headers)
            return [data]
        # materialise moto's response while holding the lock
        result = list(self.moto_app(environ, start_response))
        if call is not None:
            agent_hook.HOOKS.after_call(call.key)
        return result

    def _take_fault(self, call: Classified) -> Fault | None:
        for fault in self.faults:
            if fault.applies(call):
                if fault.count > 0:
                    fault.count -= 1
                self.faults = [f for f in self.faults if f.count != 0]
                return fault
        return None

    # -- control API -----------------------------------------------------------
    def _control(self, environ: dict[str, Any], body: bytes, start_response: Callable) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        route = environ.get("PATH_INFO", "")[len(CONTROL_PREFIX):].strip("/")
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            return self._json(start_response, 400, {"error": f"invalid JSON body: {exc}"})
        if not isinstance(payload, dict):
            return self._json(start_response, 400, {"error": "JSON body must be an object"})
        handler = {
            ("GET", "health"): self._health,
            ("POST", "ecs/tasks"): self._ecs_tasks,
            ("POST", "ecs/container-instances"): self._ecs_container_instances,
            ("POST", "ecs/missing"): self._ecs_missing,
            ("GET", "ecs/missing"): lambda _: (200, ecs_patches.MISSING.describe()),
            ("DELETE", "ecs/missing"): self._clear_ecs_missing,
            ("POST", "credentials"): self._credentials,
            ("POST", "ec2/instances"): self._ec2_instances,
            ("GET", "servicediscovery/operations"): lambda _: (200, sd_patches.describe_operations()),
            ("POST", "servicediscovery/operations"): lambda p: (200, sd_patches.configure_operations(p)),
            ("DELETE", "servicediscovery/operations"): lambda _: (200, sd_patches.reset_operations()),
            ("POST", "hooks/before-change"): self._arm_hook,
            ("POST", "hooks/agent"): self._arm_agent_hook,
            ("GET", "hooks"): self._list_hooks,
            ("DELETE", "hooks"): self._clear_hooks,
            ("POST", "faults"): self._add_faults,
            ("GET", "faults"): lambda _: (200, {"faults": [f.describe() for f in self.faults]}),
            ("DELETE", "faults"): self._clear_faults,
            ("GET", "calls"): lambda _: (200, self._counters(self.calls)),
            ("DELETE", "calls"): self._clear_calls,
            ("GET", "throttled"): lambda _: (200, self._counters(self.throttled)),
            ("GET", "limits"): self._get_limits,
            ("POST", "limits"): self._set_limits,
            ("POST", "reset"): self._reset,
        }.get((method, route))
        if handler is None:
            return self._json(start_response, 404, {"error": f"no control endpoint {method} /_localaws/{route}"})
        try:
            status, result = handler(payload)
        except ecs_patches.ControlError as exc:
            status, result = exc.status, {"error": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            status, result = 400, {"error": f"bad request: {exc!r}"}
        return self._json(start_response, status, result)

    @staticmethod
    def _json(start_response: Callable, status: int, obj: Any) -> list[bytes]:
        data = json.dumps(obj).encode()
        start_response(
            f"{status} {_REASONS.get(status, 'OK' if status < 300 else 'Error')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def _health(self, _: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"ok": True}

    def _ecs_tasks(self, payload: dict[str, Any]) -> tuple[int, Any]:
        tasks = payload["tasks"]
        if not isinstance(tasks, list):
            raise ValueError("tasks must be a list")
        return 200, {"updated": ecs_patches.update_tasks(tasks)}

    def _ecs_container_instances(self, payload: dict[str, Any]) -> tuple[int, Any]:
        entries = payload["containerInstances"]
        if not isinstance(entries, list):
            raise ValueError("containerInstances must be a list")
        return 200, {"updated": ecs_patches.update_container_instances(entries)}

    def _ecs_missing(self, payload: dict[str, Any]) -> tuple[int, Any]:
        ecs_patches.MISSING.add(payload)
        return 200, ecs_patches.MISSING.describe()

    def _clear_ecs_missing(self, _: dict[str, Any]) -> tuple[int, Any]:
        ecs_patches.MISSING.clear()
        return 200, ecs_patches.MISSING.describe()

    def _credentials(self, payload: dict[str, Any]) -> tuple[int, Any]:
        """Temporary credentials of another account, made by moto's own STS
        AssumeRole (a role in that account; it need not exist)."""
        unknown = sorted(set(payload) - {"accountId"})
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)} (accountId)")
        account_id = payload.get("accountId")
        if not isinstance(account_id, str) or not re.fullmatch(r"\d{12}", account_id):
            raise ValueError("accountId must be a 12-digit AWS account id")
        role = sts_backends[account_id]["aws"].assume_role(
            region_name="us-east-1",
            role_session_name="localaws",
            role_arn=f"arn:aws:iam::{account_id}:role/localaws",
            policy=None,  # type: ignore[arg-type]
            duration=43200,
            external_id=None,  # type: ignore[arg-type]
        )
        return 200, {
            "accountId": account_id,
            "accessKeyId": role.access_key_id,
            "secretAccessKey": role.secret_access_key,
            "sessionToken": role.session_token,
        }

    def _ec2_instances(self, payload: dict[str, Any]) -> tuple[int, Any]:
        entries = payload["instances"]
        if not isinstance(entries, list):
            raise ValueError("instances must be a list")
        return 200, {"updated": ec2_patches.set_instance_states(entries)}

    def _arm_agent_hook(self, payload: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"armed": True, "hook": agent_hook.HOOKS.arm(payload)}

    def _list_hooks(self, _: dict[str, Any]) -> tuple[int, Any]:
        return 200, {
            "pending": r53_patches.HOOKS.pending(),
            "agent": agent_hook.HOOKS.pending(),
            "fired": agent_hook.HOOKS.fired(),
        }

    def _arm_hook(self, payload: dict[str, Any]) -> tuple[int, Any]:
        zone_id = r53_patches.strip_zone_id(payload["zoneId"])
        changes = payload["changes"]
        if not isinstance(changes, list):
            raise ValueError("changes must be a list")
        for change in changes:
            if change.get("action") not in ("CREATE", "UPSERT", "DELETE"):
                raise ValueError(f"unknown action {change.get('action')!r}")
            record = change["record"]
            record["Name"], record["Type"]  # noqa: B018 - required keys
        if r53_patches.find_zone(zone_id) is None:
            raise ecs_patches.ControlError(404, f"hosted zone {zone_id!r} not found")
        r53_patches.HOOKS.arm(zone_id, changes)
        return 200, {"armed": True}

    def _clear_hooks(self, _: dict[str, Any]) -> tuple[int, Any]:
        r53_patches.HOOKS.clear()
        agent_hook.HOOKS.clear()
        return 200, {"cleared": True}

    def _add_faults(self, payload: dict[str, Any]) -> tuple[int, Any]:
        specs = payload["faults"]
        if not isinstance(specs, list):
            raise ValueError("faults must be a list")
        new = [Fault(spec) for spec in specs]
        self.faults.extend(new)
        return 200, {"added": len(new), "active": len(self.faults)}

    def _clear_faults(self, _: dict[str, Any]) -> tuple[int, Any]:
        self.faults = []
        return 200, {"cleared": True}

    @staticmethod
    def _counters(counters: dict[str, int]) -> dict[str, int]:
        with COUNTER_LOCK:
            return dict(sorted(counters.items()))

    def _clear_calls(self, _: dict[str, Any]) -> tuple[int, Any]:
        with COUNTER_LOCK:
            self.calls = {}
            self.throttled = {}
        return 200, {"cleared": True}

    def _get_limits(self, _: dict[str, Any]) -> tuple[int, Any]:
        bucket = self.route53_bucket
        return 200, {"route53": None if bucket is None else bucket.describe()}

    def _set_limits(self, payload: dict[str, Any]) -> tuple[int, Any]:
        unknown = sorted(set(payload) - {"route53"})
        if unknown:
            raise ValueError(f"no rate limit for {', '.join(unknown)} (only route53)")
        if "route53" in payload:
            # validate before switching; a new bucket starts full
            self.route53_bucket = _bucket(route53_limit(payload["route53"]))
        return self._get_limits(payload)

    def _reset(self, _: dict[str, Any]) -> tuple[int, Any]:
        # Same as POST /moto-api/reset: every backend of every service is dropped.
        moto_api_backend.reset()
        ecs_patches.configure_state_manager()
        ecs_patches.MISSING.clear()
        sd_patches.reset_operations()
        r53_patches.HOOKS.clear()
        agent_hook.HOOKS.clear()
        self.faults = []
        with COUNTER_LOCK:
            self.calls = {}
            self.throttled = {}
        self.route53_bucket = _bucket(self.default_route53_limit)
        return 200, {"reset": True}
