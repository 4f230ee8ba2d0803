"""The send ledger's cheap paths (DynamoDelivery on DynamoDB through boto3): SES's Send event
confirms a claimed send, and spares the write when the sender already recorded it; the
ledger and suppression reads are eventually consistent (half the read units)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto_tables import key_tables

from nurture.adapters.delivery import DynamoDelivery
from nurture.delivery.ports import SuppressionRecord

pytestmark = pytest.mark.integration

STATE, CONTACTS = "state", "contacts"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        key_tables(ddb, *(STATE, CONTACTS))
        yield ddb


def _calls(client: Any) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, dict(params)))

    client.meta.events.register("provide-client-params.dynamodb.*", record)
    return seen


def test_a_send_recorded_by_its_sender_is_confirmed_without_a_write(client: Any) -> None:
    store = DynamoDelivery(client, STATE, CONTACTS)
    store.ledger_claim("send-1", 1000)
    store.ledger_sent("send-1", "ses-1")
    calls = _calls(client)

    store.ledger_confirm("send-1", "ses-1")

    assert [name for name, _ in calls] == ["GetItem"]
    entry = store.ledger_get("send-1")
    assert entry is not None and (entry.status, entry.message_id) == ("sent", "ses-1")


def test_a_claim_whose_sender_died_is_confirmed_by_the_send_event(client: Any) -> None:
    store = DynamoDelivery(client, STATE, CONTACTS)
    store.ledger_claim("send-2", 1000)

    store.ledger_confirm("send-2", "ses-2")

    entry = store.ledger_get("send-2")
    assert entry is not None and (entry.status, entry.message_id) == ("sent", "ses-2")
    assert entry.claimed_at == 1000


def test_a_send_event_for_no_claim_of_ours_writes_nothing(client: Any) -> None:
    store = DynamoDelivery(client, STATE, CONTACTS)

    store.ledger_confirm("send-unknown", "ses-3")

    assert store.ledger_get("send-unknown") is None


def test_ledger_and_suppression_reads_are_eventually_consistent(client: Any) -> None:
    store = DynamoDelivery(client, STATE, CONTACTS)
    record = SuppressionRecord(channel="email", reason="complaint", at="2026-01-01T00:00:00Z")
    store.suppress("ada@example.com", record)
    calls = _calls(client)

    assert store.ledger_get("send-4") is None
    found = store.suppression_for("email", "Ada@example.com")
    assert store.suppression_for("email", "bob@example.com") is None

    assert found is not None and found.reason == "complaint"
    assert [name for name, _ in calls] == ["GetItem"] * 4  # ledger; ada; bob and bob erased
    assert not any(params.get("ConsistentRead") for _, params in calls)
