"""Which network addresses outgoing connections to merchant-configured hosts may reach.

SMS gateways and SMTP servers are typed in by merchants, so a host name could point at the
server's own loopback, the cloud metadata service or the internal network (SSRF). Every such
connection resolves the host once, refuses loopback, private, link-local, reserved and
multicast addresses unless the app's ``ALLOW_PRIVATE_NETWORK_TARGETS`` is true (development,
tests, the local mail catcher), and then connects to exactly the checked address, so a second
DNS answer cannot swap in another target (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from flask import current_app, has_app_context

from webapp.i18n import N_

REFUSED_REASON = N_("the address of this host is not allowed (private or local network)")


class TargetRefused(OSError):
    """The host resolves to an address outgoing connections must not reach; `reason` says why.

    An OSError, so callers that already treat network trouble as "could not connect" handle it
    as such: nothing was sent.
    """

    def __init__(self, host: str, reason: str):
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


@dataclass(frozen=True)
class CheckedTarget:
    """A host name and the one address (checked by the policy) to connect to."""

    host: str
    address: str
    family: int


def private_targets_allowed() -> bool:
    """True when the app allows connections to local and private networks."""
    if not has_app_context():
        return False
    return bool(current_app.config.get("ALLOW_PRIVATE_NETWORK_TARGETS", False))


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (not loopback, private, link-local, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve(host: str, port: int) -> list[tuple[int, str]]:
    """(family, address) pairs for host:port over TCP, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in infos:
        entry = (family, str(sockaddr[0]))
        if entry not in seen:
            seen.append(entry)
    return seen


def check_target(host: str, port: int, *, allow_private: bool | None = None) -> CheckedTarget:
    """Resolve `host` and return the address to connect to.

    Raises socket.gaierror when the host cannot be resolved (may be temporary) and
    TargetRefused when any of its addresses is not public (unless private targets are
    allowed): a host with one public and one internal address must not reach the internal one.
    """
    allowed = private_targets_allowed() if allow_private is None else allow_private
    host = host.strip("[]")
    try:
        addresses = resolve(host, port)
    except UnicodeError as exc:
        raise socket.gaierror(socket.EAI_NONAME, "invalid host name") from exc
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    if not allowed and not all(is_public_address(address) for _, address in addresses):
        raise TargetRefused(host, REFUSED_REASON)
    family, address = addresses[0]
    return CheckedTarget(host=host, address=address, family=family)


def connect_checked(
    host: str, port: int, timeout: float | None, *, allow_private: bool | None = None
) -> socket.socket:
    """A TCP connection to host:port at the address the policy checked (see check_target)."""
    target = check_target(host, port, allow_private=allow_private)
    return socket.create_connection((target.address, port), timeout=timeout)
