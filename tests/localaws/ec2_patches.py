"""EC2 fidelity patches for moto 5.2.5.

* Termination deletes the primary network interface. Real EC2 creates the
  interfaces of RunInstances with ``DeleteOnTermination`` true (unless the
  request says false, or attaches an existing interface), and terminating the
  instance deletes them, which releases their private addresses for reuse. The
  terminated instance stays listed for about an hour, but with no interface:
  no ``PrivateIpAddress``, ``PrivateDnsName`` "", no ``NetworkInterfaces``, no
  ``VpcId``/``SubnetId``, and filters on the address, name or VPC no longer
  match it. moto creates launch interfaces with ``DeleteOnTermination`` false,
  and ``Instance.terminate`` keeps the interface attached, listed and holding
  its address (``Subnet._subnet_ips``), so RunInstances with that
  ``PrivateIpAddress`` fails "IP already in use" and the terminated instance
  still reports the address. We wrap ``Instance.prep_nics`` (the launch
  default) and ``Instance.terminate`` (delete the interfaces marked
  DeleteOnTermination, detach the others, forget the subnet), and make the
  address properties of ``Instance`` tolerate an instance without interface.
  Instances that are stopping, stopped or shutting-down keep everything.
* DescribeInstances filters ``instance-state-code``,
  ``network-interface.addresses.private-ip-address``,
  ``network-interface.network-interface-id``, ``network-interface.vpc-id`` and
  ``network-interface.subnet-id``: moto answers HTTP 500 (not implemented).
  They are added to ``moto.ec2.utils.filter_dict_attribute_mapping``.
* DescribeVpcs with ``VpcIds``: moto answers ``InvalidVpcID.NotFound`` when
  any id is unknown (as EC2 does, also for another account's VPC that is not
  shared with the caller), but its message names every requested id as a
  Python set; ours names the unknown ones, in request order, in EC2's words
  ("The vpc ID 'vpc-…' does not exist").
* Control API: ``set_instance_states`` sets an instance's state name and code
  and nothing else (``terminated`` terminates, as above), so a test can hold
  an instance in ``shutting-down`` with its address; with ``launchTime`` it
  sets ``LaunchTime`` (moto: the creation time), so a test can have an
  instance that has been running for an hour.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from moto.ec2 import utils as ec2_utils
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.models.vpcs import VPCBackend
from moto.ec2.models.instances import Instance

from ecs_patches import ControlError

# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceState.html
STATE_CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}

_original_terminate = Instance.terminate
_original_prep_nics = Instance.prep_nics
_original_private_dns_name = Instance.private_dns_name


# ---------------------------------------------------------------------------
# Launch and termination
# ---------------------------------------------------------------------------


def _is_false(value: Any) -> bool:
    return value is False or str(value).lower() == "false"


def prep_nics(self: Instance, nic_spec: list[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
    """Wraps ``Instance.prep_nics``: interfaces created by the launch are
    deleted on termination unless the request's ``DeleteOnTermination`` is false;
    an existing interface attached at launch keeps its own setting."""
    specs = {int(spec.get("DeviceIndex", 0)): spec for spec in nic_spec or []}
    _original_prep_nics(self, nic_spec, *args, **kwargs)
    for index, nic in self.nics.items():
        spec = specs.get(index, {})
        if spec.get("NetworkInterfaceId"):
            continue
        nic.delete_on_termination = not _is_false(spec.get("DeleteOnTermination", True))


def terminate(self: Instance) -> Any:
    """Wraps ``Instance.terminate``.

    moto's terminate stops each interface and deletes those marked
    DeleteOnTermination (which releases their addresses in the subnet). Then
    the others are detached (they become ``available`` and keep their
    address), and the instance forgets its subnet, so it reports no address,
    name, VPC, subnet or interface.
    """
    state = _original_terminate(self)
    backend = self.ec2_backend
    for nic in list(self.nics.values()):
        if nic.id in backend.enis:  # DeleteOnTermination false: detached, keeps its address
            self.detach_eni(nic)
    self.nics = {}
    self._subnet_id = None
    return state


# ---------------------------------------------------------------------------
# Instance properties that moto reads from the primary interface
# ---------------------------------------------------------------------------


def _primary(self: Instance) -> Any:
    return (getattr(self, "nics", None) or {}).get(0)


def _private_ip(self: Instance) -> str | None:
    nic = _primary(self)
    return nic.private_ip_address if nic is not None else None


def _public_ip(self: Instance) -> str | None:
    nic = _primary(self)
    return nic.public_ip if nic is not None else None


def _private_dns_name(self: Instance) -> str:
    """EC2 reports an empty PrivateDnsName for an instance without an address."""
    if _private_ip(self) is None:
        return ""
    return _original_private_dns_name.fget(self)  # type: ignore[attr-defined]


def _interface_addresses(self: Instance) -> list[str]:
    return [
        address["PrivateIpAddress"]
        for nic in (getattr(self, "nics", None) or {}).values()
        for address in nic.private_ip_addresses
        if address.get("PrivateIpAddress")
    ]


def _interface_attr(name: str) -> property:
    return property(lambda self: [getattr(nic, name) for nic in (getattr(self, "nics", None) or {}).values()])


EXTRA_INSTANCE_FILTERS = {
    "instance-state-code": "localaws_state_code",
    "network-interface.addresses.private-ip-address": "localaws_interface_addresses",
    "network-interface.network-interface-id": "localaws_interface_ids",
    "network-interface.vpc-id": "localaws_interface_vpc_ids",
    "network-interface.subnet-id": "localaws_interface_subnet_ids",
}


# ---------------------------------------------------------------------------
# DescribeVpcs
# ---------------------------------------------------------------------------

_original_describe_vpcs = VPCBackend.describe_vpcs


def describe_vpcs(self: VPCBackend, vpc_ids: list[str] | None = None, filters: Any = None) -> Any:
    """moto's, with the unknown ids (only those) named in the error."""
    unknown = [vpc_id for vpc_id in dict.fromkeys(vpc_ids or []) if vpc_id not in self.vpcs]
    if unknown:
        raise EC2ClientError("InvalidVpcID.NotFound", f"The vpc ID '{', '.join(unknown)}' does not exist")
    return _original_describe_vpcs(self, vpc_ids, filters)


# ---------------------------------------------------------------------------
# Control-API support
# ---------------------------------------------------------------------------


def find_instance(instance_id: str) -> Instance:
    for account_backends in dict.values(ec2_backends):
        for backend in dict.values(account_backends):
            for reservation in backend.reservations.values():
                for instance in reservation.instances:
                    if instance.id == instance_id:
                        return instance
    raise ControlError(404, f"instance {instance_id!r} not found")


def _launch_time(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"launchTime must be epoch seconds (a number >= 0), not {value!r}")
    return datetime.fromtimestamp(value, tz=timezone.utc).replace(tzinfo=None)


def set_instance_states(entries: list[dict[str, Any]]) -> int:
    """Apply ``POST /_localaws/ec2/instances`` entries; all are validated first.

    Only the state name and code change, and ``LaunchTime`` when an entry has
    ``launchTime`` (epoch seconds: an instance that has run for a while).
    ``terminated`` runs the (patched) termination, so the address is released
    and hidden; a terminated instance cannot change state again, as in EC2.
    """
    plan: list[tuple[Instance, str | None, datetime | None]] = []
    planned: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError("each instance entry must be an object")
        unknown = sorted(set(entry) - {"instanceId", "state", "launchTime"})
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)} (instanceId, state, launchTime)")
        instance_id, state = entry.get("instanceId"), entry.get("state")
        if not isinstance(instance_id, str) or not instance_id:
            raise ValueError("instanceId is required")
        if "state" not in entry and "launchTime" not in entry:
            raise ValueError("each instance entry needs a state, a launchTime or both")
        if "state" in entry and state not in STATE_CODES:
            raise ValueError(f"state must be one of {sorted(STATE_CODES)}, not {state!r}")
        launched = _launch_time(entry["launchTime"]) if "launchTime" in entry else None
        instance = find_instance(instance_id)
        current = planned.get(instance.id, instance.state)
        if state is not None:
            if current == "terminated" and state != "terminated":
                raise ControlError(
                    400, f"instance {instance.id} is terminated; a terminated instance cannot become {state!r}"
                )
            planned[instance.id] = state
        plan.append((instance, state, launched))
    for instance, state, launched in plan:
        if launched is not None:
            instance.launch_time = launched
        if state is None:
            continue
        if state == "terminated":
            if instance.state != "terminated":
                instance.terminate()
        else:
            instance._state.name = state
            instance._state.code = STATE_CODES[state]
    return len(plan)


def install() -> None:
    VPCBackend.describe_vpcs = describe_vpcs  # type: ignore[method-assign]
    Instance.prep_nics = prep_nics  # type: ignore[method-assign]
    Instance.terminate = terminate  # type: ignore[method-assign]
    Instance.private_ip = property(_private_ip)  # type: ignore[assignment,method-assign]
    Instance.private_ip_address = property(_private_ip)  # type: ignore[assignment,method-assign]
    Instance.public_ip = property(_public_ip)  # type: ignore[assignment,method-assign]
    Instance.public_ip_address = property(_public_ip)  # type: ignore[assignment,method-assign]
    Instance.private_dns_name = property(_private_dns_name)  # type: ignore[assignment,method-assign]
    Instance.localaws_state_code = property(lambda self: str(self.state_code))  # type: ignore[attr-defined]
    Instance.localaws_interface_addresses = property(_interface_addresses)  # type: ignore[attr-defined]
    Instance.localaws_interface_ids = _interface_attr("id")  # type: ignore[attr-defined]
    Instance.localaws_interface_vpc_ids = _interface_attr("vpc_id")  # type: ignore[attr-defined]
    Instance.localaws_interface_subnet_ids = _interface_attr("subnet_id")  # type: ignore[attr-defined]
    ec2_utils.filter_dict_attribute_mapping.update(EXTRA_INSTANCE_FILTERS)
