"""A contact's profile never outgrows its DynamoDB item (README, "Bad input and limits").

Each identify is bounded at ingest (32 KB), but each may add new trait keys. Sixteen trusted
identifies of ~28 KB of new keys each would make a 450 KB profile, past DynamoDB's 400 KB
item limit: the react function would fail on every retry of the record that wrote it. With
the budget the fields over it are not stored, the drop is a `contact.fields_dropped`
activity, and no function fails (the audit after each test checks that)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

SECRET = "local-secret-key"  # a public key cannot change a known contact
ADA = "ada@example.com"
ITEM_LIMIT = 400 * 1024  # DynamoDB's item size limit
FIELDS_BUDGET = 128 * 1024  # the README's budget for all of a contact's fields
CALLS, KEYS, VALUE = 16, 20, "v" * 1400


def identify(cloud: LocalCloud, message_id: str, traits: dict[str, Any]) -> None:
    body = {"userId": "ada-1", "messageId": message_id, "traits": {"email": ADA, **traits}}
    status, _, answer = cloud.http("POST", "/v1/identify", body, write_key=SECRET)
    assert status == 200, answer


def test_many_identifies_with_new_trait_keys_never_break_the_react_function(
    cloud: LocalCloud, tables: Tables
) -> None:
    identify(cloud, "m-0", {"first_name": "Ada"})
    for call in range(1, CALLS + 1):
        identify(cloud, f"m-{call}", {f"trait_{call}_{k}": VALUE for k in range(KEYS)})
    assert cloud.errors == []

    [item] = [i for i in tables.contact_items() if i["sk"]["S"] == "PROFILE"]
    assert len(item["doc"]["S"].encode()) < ITEM_LIMIT // 3
    ada = tables.contact_by_email(ADA)
    assert ada.first_name == "Ada"
    stored = [name for name in ada.fields if name.startswith("trait_")]
    fields_bytes = sum(len(n) + len(str(v)) for n, v in ada.fields.items())
    assert 60 <= len(stored) < CALLS * KEYS and fields_bytes <= FIELDS_BUDGET
    # the first calls were stored whole: the budget drops what comes after it is spent
    assert {f"trait_1_{k}" for k in range(KEYS)} <= set(stored)

    drops = [a for a in tables.activities_of(ada) if a.name == "contact.fields_dropped"]
    dropped = sum(a.properties["count"] for a in drops)
    assert dropped == CALLS * KEYS - len(stored)
    assert {f["reason"] for a in drops for f in a.properties["fields"]} == {"fields_over_128_kb"}
    assert all(VALUE not in str(a.properties) for a in drops)  # names and reasons, no values

    # a known field still takes a new value once the budget is spent
    identify(cloud, "m-last", {"first_name": "Augusta", stored[0]: "short now"})
    ada = tables.contact_by_email(ADA)
    assert ada.first_name == "Augusta" and ada.fields[stored[0]] == "short now"
