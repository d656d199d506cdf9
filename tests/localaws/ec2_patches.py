"""EC2 fidelity patch for moto 5.2.5.

* Address reuse: EC2 releases a terminated instance's private address (its
  primary network interface is deleted with it), so a new instance can get the
  same address — and with it the same ``ip-a-b-c-d`` private DNS name — while
  the terminated one is still listed. ``moto.ec2.models.instances.Instance.terminate``
  keeps the address reserved in the subnet (``Subnet._subnet_ips``), so
  RunInstances with that ``PrivateIpAddress`` fails "IP already in use". We
  wrap ``terminate`` to release it. The terminated instance still reports the
  address, as moto did, which is what lets tests put a live and a terminated
  instance on one address.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models.instances import Instance

_original_terminate = Instance.terminate


def terminate(self: Instance) -> Any:
    state = _original_terminate(self)
    if self.subnet_id and self.private_ip:
        subnet = self.ec2_backend.get_subnet(self.subnet_id)
        if subnet._subnet_ips.get(self.private_ip) is self:
            subnet.del_subnet_ip(self.private_ip)
    return state


def install() -> None:
    Instance.terminate = terminate  # type: ignore[method-assign]
