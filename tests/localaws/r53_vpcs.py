"""Route 53 private hosted zones and VPCs across regions and accounts, for moto 5.2.5.

moto accepts any ``VPCId`` in CreateHostedZone and AssociateVPCWithHostedZone
(it never looks at EC2), and it has no VPC association authorizations, so a
VPC of another account cannot be associated the way AWS does it.  AWS
(Route 53 API reference, AssociateVPCWithHostedZone and
CreateVPCAssociationAuthorization):

* "To perform the association, the VPC and the private hosted zone must
  already exist"; a VPC that the caller's account cannot use is refused with
  ``InvalidVPCId`` ("The VPC ID that you specified either isn't a valid ID or
  the current account is not authorized to access this VPC", HTTP 400).
* To associate a VPC of another account, "the Amazon Web Services account that
  created the private hosted zone must first submit a
  CreateVPCAssociationAuthorization request. Then the account that created the
  VPC must submit an AssociateVPCWithHostedZone request"; without the
  authorization that request fails with ``NotAuthorizedException`` ("Associating
  the specified VPC with the specified hosted zone has not been authorized",
  HTTP 401).

Here a VPC is usable by an account when that account's EC2 backend in the
``VPCRegion`` has it (moto keeps one EC2 backend per account and region).  The
handlers below replace moto's for CreateHostedZone (the VPC check, then moto's
own), AssociateVPCWithHostedZone and DisassociateVPCFromHostedZone (the zone
may belong to another account: the VPC owner's side of a cross-account
association), and add CreateVPCAssociationAuthorization,
ListVPCAssociationAuthorizations and DeleteVPCAssociationAuthorization.
Zones that Cloud Map creates for a namespace (sd_patches) are created through
the backend and are not checked.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.ec2.models import ec2_backends
from moto.route53 import urls as route53_urls
from moto.route53.exceptions import NoSuchHostedZone, PublicZoneVPCAssociation
from moto.route53.models import FakeZone, route53_backends
from moto.route53.responses import Route53


class InvalidVPCId(ServiceException):
    code = "InvalidVPCId"
    message = (
        "The VPC ID that you specified either isn't a valid ID or the current account is not "
        "authorized to access this VPC."
    )


class NotAuthorizedException(ServiceException):
    code = "NotAuthorizedException"
    message = "Associating the specified VPC with the specified hosted zone has not been authorized."


class VPCAssociationAuthorizationNotFound(ServiceException):
    code = "VPCAssociationAuthorizationNotFound"
    message = "The VPC that you specified is not authorized to be associated with the hosted zone."


class VPCAssociationNotFound(ServiceException):
    code = "VPCAssociationNotFound"
    message = "The specified VPC and hosted zone are not currently associated."


class ConflictingDomainExists(ServiceException):
    code = "ConflictingDomainExists"


class LastVPCAssociation(ServiceException):
    code = "LastVPCAssociation"
    message = "The VPC that you're trying to disassociate from the private hosted zone is the last VPC that is associated with the hosted zone."


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def vpc_usable(account_id: str, region: str | None, vpc_id: str | None) -> bool:
    """Whether ``account_id`` has the VPC ``vpc_id`` in ``region``."""
    if not vpc_id or not region:
        return False
    try:
        backend = ec2_backends[account_id][region]
    except (KeyError, ValueError):
        return False
    return vpc_id in backend.vpcs


def _strip(zone_id: str) -> str:
    return (zone_id or "").split("/")[-1]


def _zones_by_account(zone_id: str) -> list[tuple[str, FakeZone]]:
    """Every (account, zone) with this id; zone ids are unique in practice."""
    found = []
    for account_id, partitions in list(dict.items(route53_backends)):
        for backend in dict.values(partitions):
            zone = backend.zones.get(_strip(zone_id))
            if zone is not None:
                found.append((account_id, zone))
    return found


def _authorizations(zone: FakeZone) -> list[dict[str, str]]:
    """The zone's VPC association authorizations, ``[{"VPCId", "VPCRegion"}]``
    (kept on the zone: a reset drops them with it)."""
    found = zone.__dict__.get("_localaws_authorizations")
    if found is None:
        found = zone.__dict__["_localaws_authorizations"] = []
    return found


def _vpc_param(resp: Route53) -> tuple[str | None, str | None]:
    return resp._get_param("VPC.VPCId"), resp._get_param("VPC.VPCRegion")


def _change_info(comment: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"Id": "/change/C2682N5HXP0BZ4", "Status": "INSYNC", "SubmittedAt": utcnow()}
    if comment:
        info["Comment"] = comment
    return info


def _associated(zone: FakeZone, vpc_id: str) -> bool:
    return any(v.get("vpc_id") == vpc_id for v in zone.vpcs)


# ---------------------------------------------------------------------------
# Response handlers
# ---------------------------------------------------------------------------

_original_create_hosted_zone = Route53.create_hosted_zone


def create_hosted_zone(self: Route53) -> ActionResult:
    """moto's, after checking that the caller's account has the zone's VPC."""
    if self._get_bool_param("HostedZoneConfig.PrivateZone", False):
        vpc_id, region = _vpc_param(self)
        if (vpc_id or region) and not vpc_usable(self.current_account, region, vpc_id):
            raise InvalidVPCId()
    return _original_create_hosted_zone(self)


def associate_vpc_with_hosted_zone(self: Route53) -> ActionResult:
    zone_id = _strip(self._get_param("HostedZoneId"))
    vpc_id, region = _vpc_param(self)
    caller = self.current_account
    zones = _zones_by_account(zone_id)
    own = [zone for account, zone in zones if account == caller]
    if own:
        zone = own[0]
    elif zones:
        # another account's zone: only with its owner's authorization
        zone = zones[0][1]
    else:
        raise NoSuchHostedZone(zone_id)
    if not zone.private_zone:
        raise PublicZoneVPCAssociation()
    if not vpc_usable(caller, region, vpc_id):
        raise InvalidVPCId()
    if not own and {"VPCId": vpc_id, "VPCRegion": region} not in _authorizations(zone):
        raise NotAuthorizedException()
    if _associated(zone, vpc_id):
        raise ConflictingDomainExists(
            f"The VPC {vpc_id} in {region} region is already associated with the hosted zone {zone.resource_id} "
            f"with the same domain name."
        )
    zone.add_vpc(vpc_id, region)
    return ActionResult({"ChangeInfo": _change_info(self._get_param("Comment"))})


def disassociate_vpc_from_hosted_zone(self: Route53) -> ActionResult:
    """The zone's owner, or the owner of the VPC (for another account's zone)."""
    zone_id = _strip(self._get_param("HostedZoneId"))
    vpc_id, region = _vpc_param(self)
    caller = self.current_account
    zones = _zones_by_account(zone_id)
    own = [zone for account, zone in zones if account == caller]
    if own:
        zone = own[0]
    elif zones and vpc_usable(caller, region, vpc_id):
        zone = zones[0][1]
    elif zones:
        raise InvalidVPCId()
    else:
        raise NoSuchHostedZone(zone_id)
    if not _associated(zone, vpc_id):
        raise VPCAssociationNotFound()
    if len(zone.vpcs) <= 1:
        raise LastVPCAssociation()
    zone.delete_vpc(vpc_id)
    return ActionResult({"ChangeInfo": _change_info(self._get_param("Comment"))})


def _own_zone(self: Route53) -> FakeZone:
    zone_id = _strip(self._get_param("HostedZoneId"))
    zone = self.backend.zones.get(zone_id)
    if zone is None:
        raise NoSuchHostedZone(zone_id)
    return zone


def create_vpc_association_authorization(self: Route53) -> ActionResult:
    zone = _own_zone(self)
    vpc_id, region = _vpc_param(self)
    if not vpc_id or not region:
        raise InvalidVPCId()
    if not zone.private_zone:
        raise PublicZoneVPCAssociation()
    entry = {"VPCId": vpc_id, "VPCRegion": region}
    if entry not in _authorizations(zone):
        _authorizations(zone).append(entry)
    return ActionResult({"HostedZoneId": zone.resource_id, "VPC": entry})


def list_vpc_association_authorizations(self: Route53) -> ActionResult:
    zone = _own_zone(self)
    return ActionResult({"HostedZoneId": zone.resource_id, "VPCs": list(_authorizations(zone))})


def delete_vpc_association_authorization(self: Route53) -> EmptyResult:
    zone = _own_zone(self)
    vpc_id, region = _vpc_param(self)
    entry = {"VPCId": vpc_id, "VPCRegion": region}
    if entry not in _authorizations(zone):
        raise VPCAssociationAuthorizationNotFound()
    _authorizations(zone).remove(entry)
    return EmptyResult()


_ROUTES = {
    r"{0}/(?P<api_version>[\d_-]+)/hostedzone/(?P<zone_id>[^/]+)/authorizevpcassociation/?$": Route53.dispatch,
    r"{0}/(?P<api_version>[\d_-]+)/hostedzone/(?P<zone_id>[^/]+)/deauthorizevpcassociation/?$": Route53.dispatch,
}


def install() -> None:
    route53_urls.url_paths.update(_ROUTES)
    Route53.create_hosted_zone = create_hosted_zone  # type: ignore[method-assign]
    Route53.associate_vpc_with_hosted_zone = associate_vpc_with_hosted_zone  # type: ignore[method-assign]
    Route53.disassociate_vpc_from_hosted_zone = disassociate_vpc_from_hosted_zone  # type: ignore[method-assign]
    Route53.create_vpc_association_authorization = create_vpc_association_authorization  # type: ignore[attr-defined]
    Route53.list_vpc_association_authorizations = list_vpc_association_authorizations  # type: ignore[attr-defined]
    Route53.delete_vpc_association_authorization = delete_vpc_association_authorization  # type: ignore[attr-defined]
