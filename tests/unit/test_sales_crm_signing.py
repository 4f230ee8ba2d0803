"""CRM signing (both directions, checked against the example receiver's own code), the v1
payload against its published schema, and post-back validation."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from nurture.contacts import Contact
from nurture.sales.crm import (
    DealLost,
    DealWon,
    OwnerChanged,
    PostbackError,
    build_payload,
    encode,
    parse_postback,
    retry_delay,
    signature,
    signed_request,
    verify_signature,
)
from nurture.sales.team import Owner

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "crm-webhook.v1.schema.json").read_text())
SECRET = "s3cret-for-tests-only-0123456789"  # noqa: S105
URL = "https://crm.example.com/hooks/nurture?tenant=7"


def _receiver() -> Any:
    spec = importlib.util.spec_from_file_location(
        "crm_receiver_unit", ROOT / "examples" / "crm-receiver" / "receiver.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_receiver_example_accepts_what_nurture_signs_and_nothing_else() -> None:
    receiver = _receiver()
    body = b'{"id":"x"}'
    request = signed_request(SECRET, URL, body, "lead.mql", "d" * 32, now=1_767_600_000)
    header = request.headers["X-Nurture-Signature"]
    assert request.headers["Idempotency-Key"] == "d" * 32
    assert receiver.verify(SECRET, header, "POST", URL, body, 1_767_600_100) is None
    assert (
        receiver.verify(SECRET, header, "POST", URL, body + b" ", 1_767_600_000) == "bad signature"
    )
    assert receiver.verify(SECRET, header, "PUT", URL, body, 1_767_600_000) == "bad signature"
    assert (
        receiver.verify(SECRET, header, "POST", URL + "8", body, 1_767_600_000) == "bad signature"
    )
    assert (
        receiver.verify("another-secret", header, "POST", URL, body, 1_767_600_000)
        == "bad signature"
    )
    assert receiver.verify(SECRET, header, "POST", URL, body, 1_767_600_301) == "stale timestamp"
    # and the other way round: Nurture accepts what the example posts back
    theirs = receiver.signature(SECRET, 1_767_600_000, "POST", URL, body)
    assert theirs == signature(SECRET, 1_767_600_000, "POST", URL, body)
    assert verify_signature(SECRET, theirs, "POST", URL, body, 1_767_600_000) is None


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("", "the signature has no timestamp"),
        ("t=abc,v1=00", "the signature has no timestamp"),
        ("t=1000,v1=00", "the signature's timestamp is more than five minutes away"),
        (f"t=1767600000,v1={'0' * 64}", "the signature does not match"),
    ],
)
def test_bad_signatures_say_why(header: str, why: str) -> None:
    assert verify_signature(SECRET, header, "POST", URL, b"{}", 1_767_600_000) == why


def _contact(**extra: Any) -> Contact:
    return Contact(
        contact_id="c1",
        created_at="2026-01-05T09:00:00.000Z",
        updated_at="2026-01-05T09:00:00.000Z",
        stage="mql",
        **extra,
    )


def _validate(payload: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(payload)]


def test_a_minimal_payload_matches_the_schema_and_a_broken_one_does_not() -> None:
    payload = build_payload(
        event="lead.mql",
        event_id="m1",
        occurred_at="2026-01-05T09:00:00.000Z",
        contact=_contact(),
        account=None,
        owner=None,
        owner_email=None,
        scores={"score": 0, "grade": None, "reasons": []},
        details={},
        recent=[],
    )
    assert _validate(payload) == []
    assert json.loads(encode(payload)) == payload
    full = build_payload(
        event="lead.accepted",
        event_id="m2",
        occurred_at="2026-01-05T09:00:00.000Z",
        contact=_contact(email="ada@example.com", first_name="Ada", company="Engines"),
        account={
            "account_id": "acme",
            "name": "Acme",
            "employees": 250,
            "traits": {"industry": "software"},
        },
        owner=Owner(email="anna@example.com", name="Anna", timezone="Europe/Helsinki"),
        owner_email="anna@example.com",
        scores={
            "score": 55,
            "grade": "A",
            "reasons": [
                {
                    "rule": "pricing",
                    "points": 15,
                    "at": "2026-01-05T09:00:00.000Z",
                    "kind": "behaviour",
                }
            ],
        },
        details={"owner": "anna@example.com", "mql_to_accepted_seconds": 120},
        recent=[{"at": "2026-01-05 09:00", "event": "page", "what": "viewed Pricing"}],
    )
    assert _validate(full) == []
    assert full["account"] == {
        "id": "acme",
        "name": "Acme",
        "employees": 250,
        "industry": "software",
    }
    # the schema is strict: what a receiver does not expect is an error, not silently passed
    assert _validate({**full, "contact": {**full["contact"], "stage": "hot"}})
    assert _validate({**full, "surprise": 1})
    assert _validate({**full, "details": {"mql_to_accepted_seconds": -1}})
    assert _validate({**full, "contact": {**full["contact"], "email": "not an email"}})


def test_post_backs_parse_with_clear_errors() -> None:
    won = parse_postback(
        b'{"id":"e1","type":"deal.won","contact":{"email":"a@b.example"},"deal":{"id":"9","amount":10}}'
    )
    assert isinstance(won, DealWon) and won.deal.currency == "EUR"
    lost = parse_postback(b'{"id":"e2","type":"deal.lost","contact":{"id":"c1"},"recycle_days":30}')
    assert isinstance(lost, DealLost) and lost.recycle_days == 30
    moved = parse_postback(
        b'{"id":"e3","type":"owner.changed","contact":{"id":"c1"},"owner":"x@y.example"}'
    )
    assert isinstance(moved, OwnerChanged)
    cases = {
        b"not json": (400, None),
        b"[]": (400, None),
        b'{"id":"e","type":"deal.won","contact":{},"deal":{"id":"1","amount":1}}': (400, "contact"),
        b'{"id":"e","type":"deal.won","contact":{"id":"c"},"deal":{"id":"1","amount":1,"currency":"euro"}}': (
            400,
            "deal.currency",
        ),
        b'{"id":"e","type":"owner.changed","contact":{"id":"c"},"owner":"nobody"}': (
            400,
            "owner.changed",
        ),
        b'{"id":"e","type":"deal.won","contact":{"id":"c"},"deal":{"id":"1","amount":1},"x":1}': (
            400,
            "x",
        ),
        b"{" + b" " * 20000 + b"}": (413, None),
    }
    for body, (status, field) in cases.items():
        with pytest.raises(PostbackError) as caught:
            parse_postback(body)
        assert caught.value.status == status, body[:80]
        if field:
            assert any(field in e["field"] for e in caught.value.errors), caught.value.errors


def test_retry_backoff_doubles_up_to_six_hours() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(20) == 6 * 3600
