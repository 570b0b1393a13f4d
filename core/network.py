"""The client's address: ``X-Forwarded-For`` counts only when the direct peer is one of the
trusted proxies (``TRUSTED_PROXIES``: addresses or networks, empty by default, so the header is
ignored). The audit log, the lockout and the rate limits all take the address from here."""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]):
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _parse(value: str):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    return any(address in network for network in networks)


def client_ip(request) -> str | None:
    """The peer address, or, when the peer is a trusted proxy, the nearest address in
    ``X-Forwarded-For`` (read from the right) that is not itself a trusted proxy."""
    if request is None:
        return None
    peer = _parse(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not networks or not _trusted(peer, networks):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    client = peer
    for hop in reversed([part for part in forwarded.split(",") if part.strip()]):
        address = _parse(hop)
        if address is None:
            break  # a malformed hop: trust nothing further left
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
