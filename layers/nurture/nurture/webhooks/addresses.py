"""Which IP addresses a webhook may reach: public unicast only.

Every block in IANA's IPv4 and IPv6 Special-Purpose Address Registries is refused, whether
or not the registry marks it globally reachable (no webhook receiver lives in AS112, AMT or
an anycast service block), and so are multicast, IPv6 outside global unicast (2000::/3), and
what `ipaddress` does not call global. Transition addresses that carry an IPv4 address
(6to4, Teredo, NAT64, IPv4-mapped, -compatible and -translated) are refused too; the reason
names the IPv4 address inside, so `2002:7f00:1::` reads as "6to4, embeds 127.0.0.1".

The tables are written out rather than left to `ipaddress.is_global`, whose answer changed
between Python patch releases (3.12.1 calls 2002::/16 and 64:ff9b::/96 global).
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

# IANA IPv4 Special-Purpose Address Registry (and the multicast block).
SPECIAL_IPV4: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "'this network'"),
    ("10.0.0.0/8", "private-use"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private-use"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.31.196.0/24", "AS112-v4"),
    ("192.52.193.0/24", "AMT"),
    ("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
    ("192.168.0.0/16", "private-use"),
    ("192.175.48.0/24", "AS112 direct delegation"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "limited broadcast"),
)
# IANA IPv6 Special-Purpose Address Registry (and multicast, deprecated site-local).
SPECIAL_IPV6: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("100::/64", "discard-only"),
    ("100:0:0:1::/64", "dummy prefix"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("2620:4f:8000::/48", "AS112 direct delegation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing SIDs"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)


def _low32(address: IPv6Address) -> IPv4Address:
    return IPv4Address(int(address) & 0xFFFFFFFF)


def _sixtofour(address: IPv6Address) -> IPv4Address:
    return address.sixtofour or IPv4Address(0)


def _teredo(address: IPv6Address) -> IPv4Address:
    return address.teredo[1] if address.teredo else IPv4Address(0)  # the client's address


# Transition ranges, with where their IPv4 address sits. All are refused.
TRANSITION_IPV6: tuple[tuple[str, str, Callable[[IPv6Address], IPv4Address]], ...] = (
    ("2002::/16", "6to4", _sixtofour),
    ("2001::/32", "Teredo", _teredo),
    ("64:ff9b::/96", "NAT64", _low32),
    ("64:ff9b:1::/48", "local-use NAT64", _low32),
    ("::ffff:0:0/96", "IPv4-mapped", _low32),
    ("::ffff:0:0:0/96", "IPv4-translated", _low32),
    ("::/96", "IPv4-compatible", _low32),
)

_V4 = tuple((IPv4Network(net), name) for net, name in SPECIAL_IPV4)
_V6 = tuple((IPv6Network(net), name) for net, name in SPECIAL_IPV6)
_TRANSITION = tuple((IPv6Network(net), name, inner) for net, name, inner in TRANSITION_IPV6)
_GLOBAL_UNICAST = IPv6Network("2000::/3")


def _v4_range(address: IPv4Address) -> str | None:
    """The special-purpose range `address` is in, as words ("loopback, 127.0.0.0/8")."""
    for network, name in _V4:
        if address in network:
            return f"{name}, {network}"
    return None if address.is_global else "not globally reachable"


def refusal(address: str | IPv4Address | IPv6Address) -> str | None:
    """Why a webhook may not connect to `address` (None: it may)."""
    ip = ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, IPv4Address):
        where = _v4_range(ip)
        return f"{ip} is a special-purpose address ({where})" if where else None
    if ip.scope_id:
        return f"{ip} is a scoped (zone-local) address"
    if int(ip) > 1:  # :: and ::1 are in ::/96 but are not IPv4-compatible addresses
        for network, name, inner in _TRANSITION:
            if ip in network:
                embedded = inner(ip)
                inside = _v4_range(embedded) or "public"
                return (
                    f"{ip} is a transition address ({name}, {network}) "
                    f"embedding {embedded} ({inside})"
                )
    for network, name in _V6:
        if ip in network:
            return f"{ip} is a special-purpose address ({name}, {network})"
    if ip not in _GLOBAL_UNICAST:
        return f"{ip} is outside IPv6 global unicast (2000::/3)"
    if not ip.is_global:
        return f"{ip} is a special-purpose address (not globally reachable)"
    return None
