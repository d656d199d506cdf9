"""Route 53 fidelity patches for moto 5.2.5.

moto's Route 53 record-set handling differs from the real service in ways that
matter to a program that pages through a large zone and deletes individual
weighted record sets:

* ``FakeZone.get_record_sets`` / ``Route53Backend.list_resource_record_sets``
  sort by (reversed name without trailing dot, type) only, ignore
  ``StartRecordIdentifier``, never return ``NextRecordIdentifier`` and never
  clamp ``MaxItems``.  With hundreds of weighted records under one name and
  type a client walking the pages loops or skips records.
* ``Route53Backend.change_resource_record_sets`` applies changes one by one
  (a failing change leaves the earlier ones applied), ``DELETE`` with a
  ``SetIdentifier`` removes every record set carrying that identifier in the
  zone (any name, any type) and one without removes every type of the name,
  and a ``DELETE`` is accepted when TTL / weight / values differ from the
  stored record set.
* ``Route53.list_hosted_zones_by_name`` returns only zones named exactly
  ``DNSName``; Route 53 lists in order starting at ``DNSName``.
* ``Route53Backend.create_hosted_zone`` stores the SOA value as the text
  ``{'Value': '...'}`` and the NS TTL as a string; the wrapper here fixes both.

This module replaces three response handlers (``Route53.list_resource_record_sets``,
``Route53.change_resource_record_sets`` and ``Route53.list_hosted_zones_by_name``
in ``moto/route53/responses.py``)
with implementations of the documented Route 53 semantics.  They keep using
moto's ``FakeZone.rrsets`` list of ``moto.route53.models.RecordSet`` objects as
storage, so every other moto Route 53 operation (and moto's XML serializer)
keeps working unchanged.
"""

from __future__ import annotations

import string
import threading
from collections import deque
from typing import Any, Callable

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.moto_api._internal import mock_random as random
from moto.route53.exceptions import InvalidActionValue, InvalidInput
from moto.route53.models import FakeZone, RecordSet, Route53Backend, route53_backends
from moto.route53.responses import Route53

import paging

# Documented quotas for ChangeResourceRecordSets
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests-changeresourcerecordsets
MAX_RESOURCE_RECORDS_PER_BATCH = 1000
MAX_VALUE_CHARS_PER_BATCH = 32000
# ListResourceRecordSets: "If you specify a value greater than 300, Route 53 returns only the first 300"
LIST_MAX_ITEMS = 300
# ListHostedZonesByName: "Route 53 returns up to 100 items in each response"
LIST_ZONES_MAX_ITEMS = 100

# Characters Route 53 keeps literally in a DNS name; everything else is
# stored and returned as a backslash-escaped three-digit octal code
# (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html).
_NAME_LITERAL = set(string.ascii_lowercase + string.digits + "-_.")


class InvalidChangeBatch(ServiceException):
    """Route 53's ``InvalidChangeBatch`` error (HTTP 400, ``Type`` Sender).

    Real Route 53 answers with a plain ``<ErrorResponse><Error>`` document whose
    ``<Message>`` is the Java-style list of every failing change's message,
    e.g. ``[Tried to delete ... but it was not found, Tried to create ...]``.
    The ``Messages`` member of the error shape is left empty, as Route 53 does
    today, so clients must read ``message``.
    """

    code = "InvalidChangeBatch"

    def __init__(self, messages: list[str]):
        super().__init__("[" + ", ".join(messages) + "]")
        self.messages_list = messages


# ---------------------------------------------------------------------------
# Names, keys and ordering
# ---------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """Lower-case, escape and terminate a DNS name the way Route 53 stores it."""
    name = name or ""
    out: list[str] = []
    i = 0
    while i < len(name):
        ch = name[i]
        escape = name[i + 1 : i + 4]
        if ch == "\\" and len(escape) == 3 and escape.isdigit():
            out.append(name[i : i + 4])  # already an octal escape: keep
            i += 4
            continue
        low = ch.lower()
        if low in _NAME_LITERAL:
            out.append(low)
        else:
            for byte in low.encode("utf-8"):
                out.append("\\%03o" % byte)
        i += 1
    result = "".join(out)
    if not result.endswith("."):
        result += "."
    return result


def sort_key(name: str, rtype: str, set_identifier: str | None) -> tuple[str, str, str]:
    """Route 53's listing order.

    "ListResourceRecordSets sorts results first by DNS name with the labels
    reversed, for example: com.example.www. Note the trailing dot [...] When
    multiple records have the same DNS name, ListResourceRecordSets sorts
    results by the record type."  Within one name and type (weighted and other
    non-simple routing policies) we order by SetIdentifier, which gives a strict
    total order that is stable between pages.
    """
    labels = name.rstrip(".").split(".")
    reversed_name = ".".join(reversed(labels)) + "."
    return reversed_name, rtype or "", set_identifier or ""


def rrset_key(rrset: RecordSet) -> tuple[str, str, str | None]:
    return rrset.name, rrset.type, rrset.set_identifier or None


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _alias_fingerprint(alias: Any) -> tuple | None:
    if not alias:
        return None
    return (
        normalize_name(alias.get("DNSName", "")),
        (alias.get("HostedZoneId") or "").replace("/hostedzone/", ""),
        str(alias.get("EvaluateTargetHealth", False)).lower(),
    )


def _geo_fingerprint(geo: Any) -> tuple | None:
    if not geo:
        return None
    return tuple(sorted((k, str(v)) for k, v in geo.items()))


def fingerprint_of_request(rrset: dict[str, Any]) -> tuple:
    """Every field a DELETE must repeat exactly (values compared as a set)."""
    values = [rr["Value"] for rr in rrset.get("ResourceRecords") or []]
    return (
        _int_or_none(rrset.get("TTL")),
        _int_or_none(rrset.get("Weight")),
        tuple(sorted(values)),
        rrset.get("Region") or None,
        rrset.get("Failover") or None,
        _geo_fingerprint(rrset.get("GeoLocation")),
        rrset.get("HealthCheckId") or None,
        str(rrset.get("MultiValueAnswer")).lower()
        if rrset.get("MultiValueAnswer") is not None
        else None,
        _alias_fingerprint(rrset.get("AliasTarget")),
    )


def fingerprint_of_stored(rrset: RecordSet) -> tuple:
    return (
        _int_or_none(rrset.ttl),
        _int_or_none(rrset.weight),
        tuple(sorted(rrset.records or [])),
        rrset.region or None,
        rrset.failover or None,
        _geo_fingerprint(rrset.geo_location),
        rrset.health_check_id or None,
        str(rrset.multi_value_answer).lower()
        if rrset.multi_value_answer is not None
        else None,
        _alias_fingerprint(rrset.alias_target),
    )


def make_record_set(rrset: dict[str, Any]) -> RecordSet:
    """Build a moto RecordSet (the object moto serializes) from an API-shaped dict."""
    kwargs = dict(rrset)
    kwargs["Name"] = normalize_name(rrset["Name"])
    kwargs["ResourceRecords"] = [rr["Value"] for rr in rrset.get("ResourceRecords") or []]
    if rrset.get("TTL") is not None:
        kwargs["TTL"] = int(rrset["TTL"])
    if rrset.get("Weight") is not None:
        kwargs["Weight"] = int(rrset["Weight"])
    if not rrset.get("SetIdentifier"):
        kwargs.pop("SetIdentifier", None)
    return RecordSet(kwargs)


def describe_rrset(name: str, rtype: str, set_identifier: str | None) -> str:
    """Route 53's wording for a record set inside InvalidChangeBatch messages."""
    text = f"[name='{name}', type='{rtype}'"
    if set_identifier:
        text += f", set-identifier='{set_identifier}'"
    return text + "]"


# ---------------------------------------------------------------------------
# Batch application
# ---------------------------------------------------------------------------


def _check_syntax(change: dict[str, Any]) -> None:
    """Request-level validation Route 53 reports as InvalidInput (not a batch error)."""
    action = change.get("Action")
    if action not in ("CREATE", "UPSERT", "DELETE"):
        raise InvalidActionValue(str(action))
    rrset = change.get("ResourceRecordSet") or {}
    has_alias = bool(rrset.get("AliasTarget"))
    has_records = rrset.get("TTL") is not None and bool(rrset.get("ResourceRecords"))
    if has_alias == has_records:
        raise InvalidInput(
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
            "ResourceRecords], or TrafficPolicyInstanceId], but found "
            f"{'both' if has_alias else 'none'} in Change with [Action={action}, "
            f"Name={rrset.get('Name')}, Type={rrset.get('Type')}, "
            f"SetIdentifier={rrset.get('SetIdentifier') or 'null'}]"
        )


def _check_quotas(changes: list[dict[str, Any]]) -> None:
    """The two documented per-request quotas; UPSERT values count twice."""
    record_count = 0
    value_chars = 0
    for change in changes:
        factor = 2 if change["Action"] == "UPSERT" else 1
        records = change["ResourceRecordSet"].get("ResourceRecords") or []
        record_count += factor * len(records)
        value_chars += factor * sum(len(str(rr.get("Value", ""))) for rr in records)
    messages = []
    if record_count > MAX_RESOURCE_RECORDS_PER_BATCH:
        messages.append(
            f"Number of records limit of {MAX_RESOURCE_RECORDS_PER_BATCH} exceeded."
        )
    if value_chars > MAX_VALUE_CHARS_PER_BATCH:
        messages.append(
            f"Number of characters in Value elements limit of {MAX_VALUE_CHARS_PER_BATCH} exceeded."
        )
    if messages:
        raise InvalidChangeBatch(messages)


def apply_changes(zone: FakeZone, changes: list[dict[str, Any]]) -> None:
    """Validate and apply a change batch atomically (all or nothing).

    Changes are evaluated in order against a working copy of the zone, as Route
    53 does (so DELETE followed by CREATE of the same set succeeds, and deleting
    the same set twice fails).  Every failing change contributes one message; if
    there is any, nothing is committed and InvalidChangeBatch is raised.
    """
    for change in changes:
        _check_syntax(change)
    _check_quotas(changes)

    zone_name = normalize_name(zone.name)
    working: dict[tuple, RecordSet] = {rrset_key(r): r for r in zone.rrsets}
    messages: list[str] = []
    for change in changes:
        action = change["Action"]
        rrset = change["ResourceRecordSet"]
        name = normalize_name(rrset["Name"])
        rtype = rrset["Type"]
        sid = rrset.get("SetIdentifier") or None
        key = (name, rtype, sid)
        what = describe_rrset(name, rtype, sid)
        if name != zone_name and not name.endswith("." + zone_name):
            messages.append(f"RRSet with DNS name {name} is not permitted in zone {zone_name}")
            continue
        current = working.get(key)
        if action == "CREATE":
            if current is not None:
                messages.append(f"Tried to create resource record set {what} but it already exists")
                continue
            working[key] = make_record_set(rrset)
        elif action == "UPSERT":
            working[key] = make_record_set(rrset)
        else:  # DELETE
            if current is None:
                messages.append(f"Tried to delete resource record set {what} but it was not found")
                continue
            if fingerprint_of_stored(current) != fingerprint_of_request(rrset):
                messages.append(
                    f"Tried to delete resource record set {what} but the values provided "
                    "do not match the current values"
                )
                continue
            del working[key]
    if messages:
        raise InvalidChangeBatch(messages)
    zone.rrsets = list(working.values())


def apply_changes_leniently(zone: FakeZone, changes: list[dict[str, Any]]) -> None:
    """Used by the before-change hook: another writer's changes, no validation.

    CREATE/UPSERT put the record set (replacing one with the same key), DELETE
    removes the record set with that Name+Type+SetIdentifier if present.
    """
    working: dict[tuple, RecordSet] = {rrset_key(r): r for r in zone.rrsets}
    for change in changes:
        rrset = change["record"] if "record" in change else change["ResourceRecordSet"]
        action = change.get("action") or change.get("Action")
        key = (normalize_name(rrset["Name"]), rrset["Type"], rrset.get("SetIdentifier") or None)
        if action in ("CREATE", "UPSERT"):
            working[key] = make_record_set(rrset)
        elif action == "DELETE":
            working.pop(key, None)
        else:
            raise ValueError(f"unknown action {action!r}")
    zone.rrsets = list(working.values())


# ---------------------------------------------------------------------------
# Before-change hooks (armed through the control API)
# ---------------------------------------------------------------------------


class ChangeHooks:
    """FIFO of one-shot hooks per zone id; one hook fires per ChangeResourceRecordSets."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: dict[str, deque[list[dict[str, Any]]]] = {}

    def arm(self, zone_id: str, changes: list[dict[str, Any]]) -> None:
        with self._lock:
            self._hooks.setdefault(strip_zone_id(zone_id), deque()).append(changes)

    def pop(self, zone_id: str) -> list[dict[str, Any]] | None:
        with self._lock:
            queue = self._hooks.get(strip_zone_id(zone_id))
            if queue:
                return queue.popleft()
            return None

    def clear(self) -> None:
        with self._lock:
            self._hooks.clear()

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {k: len(v) for k, v in self._hooks.items() if v}


HOOKS = ChangeHooks()


def strip_zone_id(zone_id: str) -> str:
    return zone_id.replace("/hostedzone/", "").strip("/")


def find_zone(zone_id: str) -> FakeZone | None:
    """The hosted zone with this id (with or without ``/hostedzone/``), in any account."""
    zone_id = strip_zone_id(zone_id)
    for account_backends in dict.values(route53_backends):
        for backend in dict.values(account_backends):
            if zone_id in backend.zones:
                return backend.zones[zone_id]
    return None


# ---------------------------------------------------------------------------
# Replacement response handlers
# ---------------------------------------------------------------------------


def _page(
    self: Route53, items: list[Any], maximum: int, key: Callable[[Any], Any], start: Any
) -> tuple[list[Any], Any, dict[str, Any]]:
    """A page of ``items`` as Route 53 lists them: in ``key`` order from
    ``start`` on, ``MaxItems`` of them (by default ``maximum``; above it, only
    ``maximum``; not a whole number, or below 1: InvalidInput).  Returns the
    page, the first item of the next page (None on the last) and the answer's
    ``IsTruncated`` and ``MaxItems``."""
    raw = self._get_param("MaxItems")
    try:
        requested = int(raw) if raw not in (None, "") else maximum
        size = paging.page_size(requested, maximum, clamp=True)
    except ValueError:  # paging.PageError too
        raise InvalidInput(f"Invalid value for MaxItems: {raw}") from None
    page, following = paging.cursor_page(items, size, key=key, start=start)
    return page, following, {"IsTruncated": following is not None, "MaxItems": str(requested)}


def list_resource_record_sets(self: Route53) -> ActionResult:
    """Replaces moto's ``Route53.list_resource_record_sets``.

    Implements MaxItems (default and maximum 300), the documented ordering and
    the StartRecordName/StartRecordType/StartRecordIdentifier cursor, returning
    NextRecordName/NextRecordType/NextRecordIdentifier for the first record set
    of the next page.
    """
    zone = self.backend.get_hosted_zone(self._get_param("HostedZoneId"))
    start_name = self._get_param("StartRecordName")
    start_type = self._get_param("StartRecordType")
    start_id = self._get_param("StartRecordIdentifier")
    if start_type and not start_name:
        raise InvalidInput("The input is not valid")
    if start_id and not start_type:
        raise InvalidInput("The input is not valid")
    cursor = sort_key(normalize_name(start_name), start_type or "", start_id or "") if start_name else None
    page, nxt, paged = _page(
        self, zone.rrsets, LIST_MAX_ITEMS, key=lambda r: sort_key(r.name, r.type, r.set_identifier), start=cursor
    )
    result = {"ResourceRecordSets": page, **paged}
    if nxt is not None:
        result["NextRecordName"] = nxt.name
        result["NextRecordType"] = nxt.type
        if nxt.set_identifier:
            result["NextRecordIdentifier"] = nxt.set_identifier
    return ActionResult(result)


def change_resource_record_sets(self: Route53) -> ActionResult:
    """Replaces moto's ``Route53.change_resource_record_sets`` (atomic, exact DELETE)."""
    zone_id = self._get_param("HostedZoneId")
    zone = self.backend.get_hosted_zone(zone_id)
    comment = self._get_param("ChangeBatch.Comment")
    changes = self._get_param("ChangeBatch.Changes") or []

    hook = HOOKS.pop(zone.resource_id)
    if hook:
        apply_changes_leniently(zone, hook)

    apply_changes(zone, changes)
    change_id = "C" + "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(20))
    info = {"Id": f"/change/{change_id}", "Status": "PENDING", "SubmittedAt": utcnow()}
    if comment:
        info["Comment"] = comment
    return ActionResult({"ChangeInfo": info})


def list_hosted_zones_by_name(self: Route53) -> ActionResult:
    """Replaces moto's ``Route53.list_hosted_zones_by_name``.

    moto returns only the zones whose name equals ``DNSName`` and no paging
    fields.  Route 53 returns the zones in order (name with labels reversed,
    then id) *starting at* ``DNSName`` (and ``HostedZoneId``), at most
    ``MaxItems`` (default and maximum 100), so the zones that follow
    ``DNSName`` are listed too and callers must compare names themselves.
    """
    dns_name = self._get_param("DNSName")
    zone_id = self._get_param("HostedZoneId")
    if zone_id and not dns_name:
        raise InvalidInput("The input is not valid")

    def zone_key(zone: FakeZone) -> tuple[str, str, str]:
        return sort_key(normalize_name(zone.name), "", zone.resource_id)

    cursor = sort_key(normalize_name(dns_name), "", strip_zone_id(zone_id or "")) if dns_name else None
    page, nxt, paged = _page(self, list(self.backend.zones.values()), LIST_ZONES_MAX_ITEMS, key=zone_key, start=cursor)
    result: dict[str, Any] = {"HostedZones": page, "DNSName": dns_name, "HostedZoneId": zone_id, **paged}
    if nxt is not None:
        result["NextDNSName"] = nxt.name
        result["NextHostedZoneId"] = nxt.resource_id
    return ActionResult(result)


_original_create_hosted_zone = Route53Backend.create_hosted_zone


def create_hosted_zone(self: Route53Backend, *args: Any, **kwargs: Any) -> FakeZone:
    """Wraps ``Route53Backend.create_hosted_zone``.

    moto builds the zone's SOA record set with ``ResourceRecords=[{"Value": ...}]``
    while ``RecordSet`` expects plain strings, so the SOA value is listed as the
    text ``{'Value': '...'}``; it also stores the NS TTL as a string.  Store
    both the way our handlers do (plain values, integer TTL, normalized name).
    """
    zone = _original_create_hosted_zone(self, *args, **kwargs)
    for rrset in zone.rrsets:
        rrset.name = normalize_name(rrset.name)
        rrset.records = [r["Value"] if isinstance(r, dict) else r for r in rrset.records or []]
        if rrset.ttl is not None:
            rrset.ttl = int(rrset.ttl)
        if rrset.type == "SOA":
            rrset.records = [v.replace(" hostmaster.example.com. ", " awsdns-hostmaster.amazon.com. ") for v in rrset.records]
    return zone


def install() -> None:
    Route53Backend.create_hosted_zone = create_hosted_zone  # type: ignore[method-assign]
    Route53.list_resource_record_sets = list_resource_record_sets  # type: ignore[method-assign]
    Route53.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]
    Route53.list_hosted_zones_by_name = list_hosted_zones_by_name  # type: ignore[method-assign]
