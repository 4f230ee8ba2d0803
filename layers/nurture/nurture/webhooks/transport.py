"""Calling a webhook at exactly the address that was vetted.

The host name is resolved once; every address it resolves to must pass
`addresses.refusal` (one private answer refuses the call, so a mixed answer cannot slip
through); then the connection goes to the first of those addresses, by number. Nothing
resolves the name again, so a DNS answer that changes between the check and the call (DNS
rebinding) changes nothing. The request still says `Host: <name>`, and TLS sends the name
as SNI and verifies the certificate against it, as a normal client would.

Redirects are not followed (a redirect could point anywhere): a 3xx is an answer like any
other non-2xx. Hosts in WEBHOOK_ALLOW_HOSTS skip the address check (tests, private
integrations) and may use http://, but are pinned the same way.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nurture.webhooks.addresses import refusal

if TYPE_CHECKING:
    import urllib3

Resolver = Callable[..., list[Any]]


class Refused(Exception):
    """The URL may never be called (scheme, address): a permanent failure."""


class Unresolved(Exception):
    """The host name did not resolve: worth retrying."""


class CallFailed(Exception):
    """Connecting, TLS, or reading the answer failed (timeouts included): worth retrying."""


@dataclass(frozen=True)
class Destination:
    url: str
    scheme: str
    host: str  # the name as written in the URL (lower case)
    port: int
    address: str  # the vetted IP address the connection goes to
    target: str  # path and query, as sent on the request line

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


def vet(url: str, allowed: set[str], resolver: Resolver | None = None) -> Destination:
    """Resolve the URL's host once and check where it leads; raises Refused or Unresolved."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError as exc:
        raise Refused(f"the URL is not valid ({exc})") from None
    if not host:
        raise Refused("the URL has no host")
    exempt = host in allowed
    if exempt and parts.scheme not in ("http", "https"):
        raise Refused("only http(s) URLs")
    if not exempt and parts.scheme != "https":
        raise Refused("only https:// URLs may be called")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = (resolver or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Unresolved("the host name did not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Unresolved("the host name did not resolve")
    if not exempt:
        for address in addresses:
            why = refusal(address)
            if why:
                raise Refused(f"the host resolves to {why}")
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return Destination(url, parts.scheme, host, port, addresses[0], target)


def call(
    destination: Destination,
    method: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    ca_certs: str | None = None,
) -> int:
    """Send the request to the vetted address; the HTTP status. Raises CallFailed."""
    # imported by the first call, not with the steps function (#9 cold starts); botocore
    # loads it with the first AWS client anyway
    import urllib3

    pool: urllib3.HTTPConnectionPool
    options: dict[str, Any] = {
        "timeout": urllib3.Timeout(total=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if destination.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            destination.address,
            destination.port,
            server_hostname=destination.host,  # SNI
            assert_hostname=destination.host,  # the certificate must name the host
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(destination.address, destination.port, **options)
    try:
        with pool:
            response = pool.urlopen(
                method,
                destination.target,
                body=body or None,
                headers={**headers, "Host": destination.host_header},
                redirect=False,
                assert_same_host=False,
                preload_content=True,
            )
            return int(response.status)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise CallFailed(f"{type(exc).__name__}: {reason}"[:200]) from None
