"""Webhook destinations: every range in IANA's special-purpose registries is refused
(written out here from the registries, not taken from the code's tables), transition
addresses name the IPv4 address they carry, and public unicast addresses pass."""

from __future__ import annotations

import socket
from ipaddress import ip_network
from typing import Any

import pytest

from nurture.runtime.actions import WebhookRetryable, check_destination
from nurture.webhooks.addresses import refusal
from nurture.webhooks.transport import Refused, Unresolved, vet

pytestmark = pytest.mark.unit

# https://www.iana.org/assignments/iana-ipv4-special-registry (plus multicast, 224.0.0.0/4)
IANA_IPV4 = [
    "0.0.0.0/8",
    "0.0.0.0/32",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.0.0/29",
    "192.0.0.8/32",
    "192.0.0.9/32",
    "192.0.0.10/32",
    "192.0.0.170/32",
    "192.0.0.171/32",
    "192.0.2.0/24",
    "192.31.196.0/24",
    "192.52.193.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "192.175.48.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "224.0.0.0/4",
]
# https://www.iana.org/assignments/iana-ipv6-special-registry (plus multicast, ff00::/8)
IANA_IPV6 = [
    "::1/128",
    "::/128",
    "::ffff:0:0/96",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "100:0:0:1::/64",
    "2001::/23",
    "2001::/32",
    "2001:1::1/128",
    "2001:1::2/128",
    "2001:1::3/128",
    "2001:2::/48",
    "2001:3::/32",
    "2001:4:112::/48",
    "2001:10::/28",
    "2001:20::/28",
    "2001:30::/28",
    "2001:db8::/32",
    "2002::/16",
    "2620:4f:8000::/48",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
]


def _samples(cidr: str) -> list[str]:
    net = ip_network(cidr)
    return sorted({str(net[0]), str(net[net.num_addresses // 2]), str(net[-1])})


@pytest.mark.parametrize("address", [a for cidr in IANA_IPV4 + IANA_IPV6 for a in _samples(cidr)])
def test_every_special_purpose_address_is_refused(address: str) -> None:
    why = refusal(address)
    assert why is not None and "address" in why
    # and through the step's check, written as a URL literal
    host = f"[{address}]" if ":" in address else address
    assert check_destination(f"https://{host}/hook", set()) is not None


@pytest.mark.parametrize(
    ("address", "embedded", "words"),
    [
        ("2002:7f00:1::", "127.0.0.1", "6to4"),
        ("2002:a00:1::1", "10.0.0.1", "6to4"),
        ("2002:a9fe:a9fe::", "169.254.169.254", "6to4"),
        ("2002:808:808::1", "8.8.8.8", "6to4"),  # a public one inside: still refused
        ("64:ff9b::7f00:1", "127.0.0.1", "NAT64"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254", "NAT64"),
        ("64:ff9b:1::a00:1", "10.0.0.1", "local-use NAT64"),
        ("::ffff:127.0.0.1", "127.0.0.1", "IPv4-mapped"),
        ("::ffff:0:a9fe:a9fe", "169.254.169.254", "IPv4-translated"),
        ("::127.0.0.1", "127.0.0.1", "IPv4-compatible"),
        # Teredo: the client's address is stored inverted in the last 32 bits
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1", "Teredo"),
    ],
)
def test_transition_addresses_are_refused_naming_the_ipv4_inside(
    address: str, embedded: str, words: str
) -> None:
    why = refusal(address) or ""
    assert f"({words}," in why and f"embedding {embedded} " in why


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",
        "100.128.0.0",
        "198.20.0.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e",
        "2001:4860:4860::8888",
    ],
)
def test_public_unicast_addresses_pass(address: str) -> None:
    assert refusal(address) is None


@pytest.mark.parametrize("address", ["4000::1", "::2:3:4:5:6"])
def test_ipv6_outside_global_unicast_is_refused(address: str) -> None:
    assert "2000::/3" in (refusal(address) or "") or "IPv4-compatible" in (refusal(address) or "")


def _resolver(*answers: str) -> Any:
    calls: list[str] = []

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers
        ]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def test_one_special_purpose_answer_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(Refused, match=r"127\.0\.0\.1"):
        vet("https://hooks.example.com/x", set(), _resolver("8.8.8.8", "127.0.0.1"))
    with pytest.raises(Refused, match="6to4"):
        vet("https://hooks.example.com/x", set(), _resolver("2002:7f00:1::"))
    destination = vet("https://hooks.example.com:8443/x?y=1", set(), _resolver("8.8.4.4"))
    assert (destination.address, destination.port, destination.target) == (
        "8.8.4.4",
        8443,
        "/x?y=1",
    )
    assert destination.host_header == "hooks.example.com:8443"


def test_schemes_and_unresolvable_names() -> None:
    assert check_destination("http://8.8.8.8/hook", set()) == "only https:// URLs may be called"
    assert check_destination("ftp://127.0.0.1/x", {"127.0.0.1"}) == "only http(s) URLs"
    assert check_destination("http://127.0.0.1:8080/hook", {"127.0.0.1"}) is None
    assert "private-use, 10.0.0.0/8" in (check_destination("https://10.1.2.3/hook", set()) or "")
    with pytest.raises(WebhookRetryable):
        check_destination("https://no-such-host.invalid/hook", set())
    with pytest.raises(Unresolved):
        vet("https://hooks.example.com/", set(), _resolver())
