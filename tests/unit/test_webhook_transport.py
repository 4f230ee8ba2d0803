"""The webhook transport against real sockets and real TLS: the connection goes to the
address that was vetted even when DNS answers differently the second time (rebinding), TLS
checks the certificate for the host name (SNI), and the signature covers method, URL,
timestamp and body, checked with the receiver example's own code."""

from __future__ import annotations

import importlib.util
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
import urllib3.util.connection

from nurture.webhooks import transport
from nurture.webhooks.signing import signature, verify_signature

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "93.184.215.14"  # what the name resolves to when it is checked
SECRET = "webhook-secret-for-tests-0123456789"  # noqa: S105


@dataclass
class Server:
    host: str
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)


def _serve(server_state: Server, context: ssl.SSLContext | None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server_state.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_DELETE = _any  # noqa: N815 - http.server's naming

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((server_state.host, server_state.port), Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server_state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def servers(ca: trustme.CA, request: pytest.FixtureRequest) -> Iterator[tuple[Server, Server]]:
    """The receiver at the vetted address (127.0.0.2 stands in for PUBLIC) with a certificate
    for `name`, and an internal service on 127.0.0.1 at the same port."""
    name = getattr(request, "param", "hooks.example")
    receiver, internal = Server("127.0.0.2"), Server("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    context.sni_callback = lambda sock, sni, ctx: receiver.sni.append(sni)  # type: ignore[assignment,misc,return-value]
    started = [_serve(receiver, context)]
    internal.port = receiver.port
    started.append(_serve(internal, None))
    try:
        yield receiver, internal
    finally:
        for server in started:
            server.shutdown()
            server.server_close()


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch, servers: tuple[Server, Server]) -> list[str]:
    """hooks.example resolves to PUBLIC once, then to 127.0.0.1; connections to PUBLIC reach
    the receiver on 127.0.0.2. The list is every name resolved."""
    receiver, _ = servers
    real_resolve, real_connect = socket.getaddrinfo, urllib3.util.connection.create_connection
    asked: list[str] = []

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("hooks.example", "other.example"):
            asked.append(host)
            answer = PUBLIC if asked.count(host) == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]
        return real_resolve(host, port, *args, **kwargs)

    def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        asked.append(f"connect {address[0]}")
        if address[0] == PUBLIC:
            address = (receiver.host, address[1])
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", connect)
    return asked


def test_the_call_goes_to_the_vetted_address_when_dns_answers_differently_later(
    servers: tuple[Server, Server], rebinding_dns: list[str], ca: trustme.CA
) -> None:
    receiver, internal = servers
    url = f"https://hooks.example:{receiver.port}/api/discounts?on=1"
    destination = transport.vet(url, set())
    assert destination.address == PUBLIC
    # the resolver now answers 127.0.0.1: a client that looked again would reach `internal`
    assert socket.getaddrinfo("hooks.example", 443)[0][4][0] == "127.0.0.1"
    rebinding_dns.clear()

    with ca.cert_pem.tempfile() as ca_file:
        status = transport.call(
            destination, "POST", b'{"a":1}', {"X-Test": "1"}, timeout=5, ca_certs=ca_file
        )

    assert status == 200
    assert rebinding_dns == [f"connect {PUBLIC}"]  # no second lookup of the name
    assert internal.requests == []
    [seen] = receiver.requests
    assert (seen["method"], seen["path"], seen["body"]) == (
        "POST",
        "/api/discounts?on=1",
        b'{"a":1}',
    )
    assert seen["headers"]["Host"] == f"hooks.example:{receiver.port}"
    assert receiver.sni == ["hooks.example"]


@pytest.mark.parametrize("servers", ["someone-else.example"], indirect=True)
def test_a_certificate_for_another_name_fails_the_call(
    servers: tuple[Server, Server], rebinding_dns: list[str], ca: trustme.CA
) -> None:
    receiver, internal = servers
    destination = transport.vet(f"https://hooks.example:{receiver.port}/x", set())
    with (
        ca.cert_pem.tempfile() as ca_file,
        pytest.raises(transport.CallFailed, match="SSL|certificate"),
    ):
        transport.call(destination, "POST", b"{}", {}, timeout=5, ca_certs=ca_file)
    assert receiver.requests == [] and internal.requests == []
    assert receiver.sni == ["hooks.example"]


def test_an_untrusted_certificate_fails_the_call(
    servers: tuple[Server, Server], rebinding_dns: list[str]
) -> None:
    receiver, _ = servers
    destination = transport.vet(f"https://hooks.example:{receiver.port}/x", set())
    with pytest.raises(transport.CallFailed, match="SSL|certificate"):
        transport.call(destination, "POST", b"{}", {}, timeout=5)  # the system's CAs only
    assert receiver.requests == []


def test_redirects_are_answers_not_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        destination = transport.vet(f"http://127.0.0.1:{server.server_address[1]}/a", {"127.0.0.1"})
        assert transport.call(destination, "POST", b"", {}, timeout=5) == 302
    finally:
        server.shutdown()
        server.server_close()
    assert hits == ["/a"]


# --- the signature, checked with the receiver example --------------------------------------
def _example() -> Any:
    path = ROOT / "examples" / "webhook-receiver" / "verify.py"
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


URL = "https://erp.example.com/api/discounts?customer=42"
NOW = 1_767_600_000


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST", "PUT", "PATCH"])
def test_the_receiver_example_accepts_the_signature_and_catches_every_change(method: str) -> None:
    example = _example()
    body = b"" if method in ("GET", "DELETE") else b'{"discount":true}'
    header = signature(SECRET, NOW, method, URL, body)
    assert example.verify(SECRET, header, method, URL, body, now=NOW + 299) is None
    assert verify_signature(SECRET, header, method, URL, body, NOW + 299) is None
    # every part is covered: method, URL (path, query, host), body, time, secret
    other = "POST" if method != "POST" else "PUT"
    assert example.verify(SECRET, header, other, URL, body, now=NOW) == "bad signature"
    assert example.verify(SECRET, header, method, URL + "3", body, now=NOW) == "bad signature"
    assert (
        example.verify(SECRET, header, method, URL.replace("erp.", "crm."), body, now=NOW)
        == "bad signature"
    )
    assert example.verify(SECRET, header, method, URL, body + b" ", now=NOW) == "bad signature"
    assert example.verify("another-secret", header, method, URL, body, now=NOW) == "bad signature"
    forged = header.replace(f"t={NOW}", f"t={NOW + 60}")
    assert example.verify(SECRET, forged, method, URL, body, now=NOW) == "bad signature"
    assert example.verify(SECRET, header, method, URL, body, now=NOW + 301) == "stale timestamp"
    assert example.verify(SECRET, "v1=00", method, URL, body, now=NOW) == "missing timestamp"
    # a later scheme sent beside v1 does not break a receiver that knows v1
    assert example.verify(SECRET, header + ",v2=abc", method, URL, body, now=NOW) is None
    assert verify_signature(SECRET, header + ",v2=abc", method, URL, body, NOW) is None


def test_the_crm_receiver_example_checks_the_same_scheme() -> None:
    path = ROOT / "examples" / "crm-receiver" / "receiver.py"
    spec = importlib.util.spec_from_file_location("crm_receiver_example", path)
    assert spec and spec.loader
    crm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crm)
    header = signature(SECRET, NOW, "POST", URL, b"{}")
    assert crm.verify(SECRET, header, "POST", URL, b"{}", NOW) is None
    assert crm.verify(SECRET, header + ",v2=abc", "POST", URL, b"{}", NOW) is None
    assert crm.verify(SECRET, header, "DELETE", URL, b"{}", NOW) == "bad signature"


def test_an_ipv6_answer_is_called_by_number_with_the_name_as_host() -> None:
    class Server6(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = Server6(("::1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0))]

    try:
        destination = transport.vet(f"http://v6.example:{port}/x", {"v6.example"}, resolve)
        assert destination.address == "::1"
        assert transport.call(destination, "POST", b"x", {}, timeout=5) == 204
    finally:
        server.shutdown()
        server.server_close()
    assert hosts == [f"v6.example:{port}"]
