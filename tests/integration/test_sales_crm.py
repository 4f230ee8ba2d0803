"""The CRM push (signed, versioned, validated against its published JSON Schema by
jsonschema, retried with the same idempotency key) received by the example receiver, and
the CRM's signed post-backs."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sales_helpers import (
    CRM_SECRET,
    button,
    contact_by_email,
    emails_to,
    named,
    sales_cloud,
    warm_up,
)

from localcloud import LocalCloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "crm-webhook.v1.schema.json").read_text())
ANNA = "anna@sales.example.com"


def _receiver_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "crm_receiver", ROOT / "examples" / "crm-receiver" / "receiver.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["crm_receiver"] = module
    spec.loader.exec_module(module)
    return module


receiver_example = _receiver_module()


@pytest.fixture
def crm(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalCloud, Any]]:
    monkeypatch.setenv("WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    with sales_cloud() as cloud:
        receiver = receiver_example.Receiver(
            CRM_SECRET, "", clock=lambda: cloud.clock.now().timestamp()
        )
        server = receiver.serve()
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/nurture"
        team = (ROOT / "sales" / "team.yaml").read_text()
        cloud.upload("sales/team.yaml", team.replace('url: ""', f"url: {receiver.url}"))
        try:
            yield cloud, receiver
        finally:
            server.shutdown()
            server.server_close()


def _valid(event: dict[str, Any]) -> None:
    validator = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(event), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_published_schema_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


def test_mql_and_answers_are_pushed_signed_and_match_the_schema(
    crm: tuple[LocalCloud, Any],
) -> None:
    cloud, receiver = crm
    warm_up(cloud, "u-ada", "ada@engines.example", phone="+358401234567")
    assert receiver.refused == []
    [mql] = receiver.applied
    _valid(mql)
    assert mql["event"] == "lead.mql"
    assert mql["contact"]["email"] == "ada@engines.example"
    assert mql["contact"]["stage"] == "mql"
    assert mql["owner"] == {"email": ANNA, "name": "Anna Virtanen", "timezone": "Europe/Helsinki"}
    assert mql["scores"]["behaviour"] == 55 and mql["scores"]["grade"] == "A"
    assert {r["rule"] for r in mql["scores"]["reasons"]} >= {"demo-request", "pricing"}
    assert {a["event"] for a in mql["recent_activity"]} == {"demo_requested", "Pricing"}
    cloud.http("POST", button(emails_to(cloud, ANNA)[0], "Accept"), b"", write_key=None)
    accepted = receiver.applied[-1]
    _valid(accepted)
    assert accepted["event"] == "lead.accepted"
    assert accepted["contact"]["stage"] == "sql"
    assert accepted["details"]["mql_to_accepted_seconds"] == 0
    # The stage change the answer made is described by lead.accepted, not pushed twice.
    assert [e["event"] for e in receiver.applied] == ["lead.mql", "lead.accepted"]
    ada = contact_by_email(cloud, "ada@engines.example")
    pushed = named(cloud, ada, "crm.pushed")
    assert sorted(a.properties["event"] for a in pushed) == ["lead.accepted", "lead.mql"]


def test_a_failed_push_is_retried_with_the_same_key_and_bytes(crm: tuple[LocalCloud, Any]) -> None:
    cloud, receiver = crm
    receiver.fail_next = 2
    warm_up(cloud, "u-ada", "ada@engines.example")
    assert receiver.applied == []
    ada = contact_by_email(cloud, "ada@engines.example")
    assert named(cloud, ada, "crm.pushed") == []
    cloud.advance(timedelta(hours=3))  # the hourly sales function retries what is due
    [event] = receiver.applied
    _valid(event)
    [pushed] = named(cloud, ada, "crm.pushed")
    assert pushed.properties["attempts"] == 3
    assert pushed.properties["delivery_id"] == event["id"]
    assert receiver.seen == {event["id"]}
    assert cloud.errors == []


def test_a_refused_destination_fails_at_once(
    crm: tuple[LocalCloud, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CRM URL on a private address is refused by the webhook transport: one attempt,
    recorded as failed with the reason, never retried to the maximum."""
    cloud, receiver = crm
    monkeypatch.setenv("WEBHOOK_ALLOW_HOSTS", "")
    warm_up(cloud, "u-ada", "ada@engines.example")
    ada = contact_by_email(cloud, "ada@engines.example")
    [failed] = named(cloud, ada, "crm.push_failed")
    assert failed.properties["attempts"] == 1
    assert failed.properties["reason"].startswith("PermissionError")
    cloud.advance(timedelta(hours=3))
    assert len(named(cloud, ada, "crm.push_failed")) == 1
    assert receiver.applied == [] and receiver.seen == set()


def test_other_stage_changes_are_pushed(crm: tuple[LocalCloud, Any]) -> None:
    cloud, receiver = crm
    warm_up(cloud, "u-ada", "ada@engines.example")
    status, _, answer = cloud.http(
        "POST",
        "/v1/identify",
        # with her address: warm_up's identify was the browser's (public key), so the user id
        # alone would not adopt that contact (README, "Who may change a contact")
        {
            "userId": "u-ada",
            "traits": {"email": "ada@engines.example", "stage": "lead"},
            "messageId": "back-to-lead",
        },
        write_key="local-secret-key",
    )
    assert status == 200, answer
    changed = receiver.applied[-1]
    _valid(changed)
    assert changed["event"] == "contact.stage_changed"
    assert changed["details"]["from"] == "mql" and changed["details"]["to"] == "lead"


# --- post-backs ------------------------------------------------------------------------------
def _post_back(
    cloud: LocalCloud, event: dict[str, Any], secret: str = CRM_SECRET
) -> tuple[int, Any]:
    body = json.dumps(event).encode()
    stamp = int(cloud.clock.now().timestamp())
    header = receiver_example.signature(
        secret, stamp, "POST", "http://localhost:3000/crm/events", body
    )
    status, _, answer = cloud.http(
        "POST",
        "/crm/events",
        body,
        {"content-type": "application/json", "x-nurture-signature": header},
        write_key=None,
    )
    return status, answer


def test_deal_won_is_a_purchase_and_makes_a_customer(crm: tuple[LocalCloud, Any]) -> None:
    cloud, _ = crm
    warm_up(cloud, "u-ada", "ada@engines.example")
    won = {
        "id": "deal-42-won",
        "type": "deal.won",
        "contact": {"email": "ada@engines.example"},
        "deal": {"id": "42", "amount": 12000, "currency": "EUR", "name": "Engines, 3 seats"},
    }
    assert _post_back(cloud, won) == (
        200,
        {
            "status": "applied",
            "contact_id": contact_by_email(cloud, "ada@engines.example").contact_id,
        },
    )
    assert _post_back(cloud, won)[1]["status"] == "unchanged"  # the CRM retried
    ada = contact_by_email(cloud, "ada@engines.example")
    assert ada.stage == "customer"
    [order] = named(cloud, ada, "order_completed")
    assert order.properties["revenue"] == 12000 and order.properties["currency"] == "EUR"


def test_post_backs_are_authenticated_and_validated(crm: tuple[LocalCloud, Any]) -> None:
    cloud, _ = crm
    warm_up(cloud, "u-ada", "ada@engines.example")
    won = {
        "id": "d1",
        "type": "deal.won",
        "contact": {"email": "ada@engines.example"},
        "deal": {"id": "1", "amount": 1},
    }
    assert _post_back(cloud, won, secret="not-the-crm-secret-at-all")[0] == 401
    status, _, answer = cloud.http("POST", "/crm/events", won, write_key=None)
    assert status == 401, answer
    status, answer = _post_back(cloud, {**won, "deal": {"id": "1", "amount": -5}})
    assert status == 400 and answer["errors"][0]["field"] == "deal.amount"
    status, answer = _post_back(cloud, {**won, "type": "deal.exploded"})
    assert status == 400
    status, answer = _post_back(cloud, {**won, "contact": {"email": "nobody@example.com"}})
    assert status == 404
    assert contact_by_email(cloud, "ada@engines.example").stage == "mql"


def test_deal_lost_recycles_and_owner_change_moves_the_lead(crm: tuple[LocalCloud, Any]) -> None:
    cloud, _ = crm
    warm_up(cloud, "u-ada", "ada@engines.example")
    ada = contact_by_email(cloud, "ada@engines.example")
    moved = {
        "id": "o1",
        "type": "owner.changed",
        "contact": {"id": ada.contact_id},
        "owner": "Maria@Sales.Example.com",
    }
    assert _post_back(cloud, moved)[0] == 200
    assert (
        contact_by_email(cloud, "ada@engines.example").fields["owner"] == "maria@sales.example.com"
    )
    # Anna's buttons no longer act: the lead is Maria's now.
    assert (
        cloud.http("POST", button(emails_to(cloud, ANNA)[0], "Accept"), b"", write_key=None)[0]
        == 403
    )
    lost = {
        "id": "l1",
        "type": "deal.lost",
        "contact": {"id": ada.contact_id},
        "reason": "budget frozen",
        "recycle_days": 30,
    }
    assert _post_back(cloud, lost)[0] == 200
    ada = contact_by_email(cloud, "ada@engines.example")
    assert ada.stage == "recycled"
    [recycled] = named(cloud, ada, "lead.recycled")
    assert recycled.properties["reason"] == "budget frozen"
    assert recycled.properties["source"] == "crm" and recycled.properties["recycle_days"] == 30
