"""SSRF guard: a feed URL may not reach loopback, private, link-local or cloud-metadata hosts.

A feed list is user input, and a fetcher that follows it anywhere can be pointed at
``http://169.254.169.254/`` (cloud credentials) or an admin port on localhost. The check runs
twice: on every URL before a request (also each redirect hop, for a clear error), and again on
the address actually connected to (``GuardedBackend``), so a DNS answer that changes between the
check and the connection (DNS rebinding) is refused too.

``NEWS_ALLOW_PRIVATE_NETWORKS=1`` lifts the guard, for the tests' and the demo's local servers.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

import httpcore

from newsthreads.errors import FetchError

ALLOW_ENV = "NEWS_ALLOW_PRIVATE_NETWORKS"
ALLOWED_SCHEMES = ("http", "https")

# Metadata services that are not all covered by is_private / is_link_local.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("169.254.170.2"),    # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),    # AWS IPv6
}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def private_allowed() -> bool:
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def refusal(address: str) -> str | None:
    """Why an IP address may not be fetched, or None when it is a public address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return f"{ip} is a cloud metadata address"
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return f"{ip} is not a unicast public address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT):
        return f"{ip} is a private-network address"
    return None


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(host, f"cannot resolve host {host!r}: {exc.strerror}") from exc
    return sorted({str(info[4][0]) for info in infos})


def check_url(url: str) -> None:
    """Raise FetchError unless ``url`` is http(s) and every address its host resolves to is public.

    All addresses must pass: a host with one public and one private address could be connected
    to either.
    """
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise FetchError(url, f"scheme {parts.scheme!r} is not allowed (http or https only)")
    host = parts.hostname
    if not host:
        raise FetchError(url, "URL has no host")
    if private_allowed():
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise FetchError(url, f"bad port: {exc}") from exc
    for address in _resolve(host, port):
        why = refusal(address)
        if why:
            raise FetchError(
                url, f"refused: {host} resolves to {why} (set {ALLOW_ENV}=1 to allow)"
            )


class GuardedBackend(httpcore.SyncBackend):
    """httpcore network backend that checks the address it actually connects to."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if private_allowed():
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            addresses = _resolve(host, port)
        except FetchError as exc:
            raise httpcore.ConnectError(exc.reason) from exc
        for address in addresses:
            why = refusal(address)
            if why:
                raise httpcore.ConnectError(
                    f"refused: {host} resolves to {why} (set {ALLOW_ENV}=1 to allow)"
                )
        # Connect to the address just checked, not to a fresh DNS answer; TLS still verifies
        # and sends the host name (httpcore passes the origin host as server_hostname).
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")
