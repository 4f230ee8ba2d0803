"""The address-change program end to end: a field change triggers it, signed webhooks switch
a discount on and off in another system (a local HTTP server here), with retries and a
recorded failure that does not stop the program."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from care import Person

from localcloud import LocalCloud

pytestmark = pytest.mark.integration

SECRET = "test-webhook-secret"
ROOT = Path(__file__).resolve().parents[2]


def receiver_example() -> Any:
    """examples/webhook-receiver/verify.py: what the README tells receivers to run."""
    path = ROOT / "examples" / "webhook-receiver" / "verify.py"
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Erp:
    """A stand-in for the ERP: records requests, answers with the statuses queued."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@pytest.fixture
def erp() -> Iterator[Erp]:
    server_state = Erp(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            server_state.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            status = server_state.statuses.pop(0) if server_state.statuses else 200
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}/api/discounts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cloud_with_webhooks(monkeypatch: pytest.MonkeyPatch, erp: Erp) -> Iterator[LocalCloud]:
    # The test server is on 127.0.0.1 over http: allowed explicitly, for deploy and runtime.
    monkeypatch.setenv("WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    cloud = LocalCloud(secrets={"webhook-secrets": json.dumps({"default": SECRET})}).start()
    try:
        cloud.sync_content(only=[])
        program = (ROOT / "programs/moving.yaml").read_text()
        cloud.upload(
            "programs/moving.yaml",
            program.replace("https://erp.example.com/api/discounts", erp.url),
        )
        assert '"status": "live"' in (cloud.read("programs/moving.status.json") or "")
        yield cloud
    finally:
        cloud.__exit__()


def moving_customer(cloud: LocalCloud) -> Person:
    cleo = Person(cloud, "cleo@example.com")
    cleo.form("shop-account", first_name="Cleo", consent_offers="on")
    cleo.identify(stage="customer", postal_address="Old Street 1, Helsinki")
    return cleo


def test_a_move_switches_the_discount_on_and_off_and_sends_the_offers(
    cloud_with_webhooks: LocalCloud, erp: Erp
) -> None:
    cloud = cloud_with_webhooks
    start = cloud.clock.now()
    cleo = moving_customer(cloud)
    assert erp.requests == []  # setting the first address is not a move

    # When the shop tells us her new address
    cleo.identify(postal_address="New Road 5, Espoo")
    cloud.advance(timedelta(days=31))

    # Then the ERP got two signed calls: the movers' discount on, and 30 days later off
    bodies = [json.loads(r["body"]) for r in erp.requests]
    contact_id = cleo.contact().contact_id
    assert bodies == [
        {"discount": "movers-10", "customer": contact_id, "active": True},
        {"discount": "movers-10", "customer": contact_id, "active": False},
    ]
    # signed over method, URL, time and body: checked as the README's receiver example does
    example = receiver_example()
    sent_at = [int(start.timestamp()), int((start + timedelta(days=30)).timestamp())]
    for request, when in zip(erp.requests, sent_at, strict=True):
        signature, body = request["headers"]["X-Nurture-Signature"], request["body"]
        assert signature.startswith(f"t={when},v1=")
        assert example.verify(SECRET, signature, "POST", erp.url, body, now=when) is None
        assert example.verify("another-secret", signature, "POST", erp.url, body, now=when)
        assert example.verify(SECRET, signature, "PUT", erp.url, body, now=when)
    # and she got the offer at once and the checklist a week later
    assert [(e.subject, e.sent_at - start) for e in cleo.emails()] == [
        ("Moving? Our movers' package is on us for 30 days", timedelta(0)),
        ("Your moving checklist", timedelta(days=7)),
    ]
    [changed] = [
        a
        for a in cleo.activities("contact.field_changed")
        if "postal_address" in a.properties["fields"]
    ]
    assert [a.properties["status"] for a in cleo.activities("webhook.sent")] == [200, 200]
    assert changed.properties["fields"] == ["postal_address"]
    assert cloud.errors == []


@pytest.mark.expect_function_errors  # the receiver answers 500: the steps function retries
def test_a_failing_webhook_is_retried_then_recorded_and_the_program_goes_on(
    cloud_with_webhooks: LocalCloud, erp: Erp
) -> None:
    cloud = cloud_with_webhooks
    cleo = moving_customer(cloud)

    # Given the ERP fails twice and then answers
    erp.statuses = [503, 500]
    cleo.identify(postal_address="New Road 5, Espoo")
    cloud.advance(timedelta(hours=1))

    # Then the call was retried with backoff until it went through: three calls, one
    # delivery id (the ERP can drop duplicates), and no failure recorded
    assert len(erp.requests) == 3
    assert len({r["headers"]["X-Nurture-Delivery"] for r in erp.requests}) == 1
    assert cleo.activities("webhook.failed") == []
    assert cleo.subjects() == ["Moving? Our movers' package is on us for 30 days"]

    # When, 30 days later, the ERP is down for good
    erp.statuses = [500] * 20
    cloud.advance(timedelta(days=31))

    # Then after the last retry the failure is on the contact and the run still finished
    [failed] = cleo.activities("webhook.failed")
    assert failed.properties["step_id"] == "discount-off"
    assert failed.properties["status"] == 500
    assert failed.properties["host"] == "127.0.0.1"
    assert failed.properties["attempts"] == len(erp.requests) - 3
    assert "program 'moving' finished" in cleo.timeline()
    assert cleo.subjects() == [
        "Moving? Our movers' package is on us for 30 days",
        "Your moving checklist",
    ]


def test_customers_only_and_not_twice_within_half_a_year(
    cloud_with_webhooks: LocalCloud, erp: Erp
) -> None:
    cloud = cloud_with_webhooks
    cleo = moving_customer(cloud)
    lead = Person(cloud, "lead@example.com")
    lead.form("shop-account", first_name="Lee", consent_offers="on")
    lead.identify(postal_address="A Street 1")

    # When both move, and Cleo moves again a month later
    cleo.identify(postal_address="New Road 5, Espoo")
    lead.identify(postal_address="B Street 2")
    cloud.advance(timedelta(days=31))
    cleo.identify(postal_address="Third Lane 9, Vantaa")
    cloud.advance(timedelta(days=1))

    # Then only the customer entered, and only once
    assert lead.emails() == []
    assert len(cleo.activities("program.entered")) == 1
    assert len(erp.requests) == 2
