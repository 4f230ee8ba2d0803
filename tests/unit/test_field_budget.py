"""The budget for fields senders store on a contact (README, "Bad input and limits"):
at most 200 custom field names, 128-byte names, 8 KB values, 128 KB of fields in all. The
spec's numbers are written here, so a changed constant fails."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pydantic_core import to_json

from localcloud.fakes import InMemoryActivities
from nurture.contacts import Contact
from nurture.runtime.actions import update_contact
from nurture.runtime.field_budget import record_dropped
from nurture.runtime.identity import apply_fields
from nurture.runtime.steps import StepRequest
from tests.unit.scoring_support import InMemoryContacts

N, NAME_BYTES, VALUE_BYTES, TOTAL = 200, 128, 8 * 1024, 128 * 1024


def contact(**fields: Any) -> Contact:
    return Contact(contact_id="c1", created_at="t", updated_at="t", fields=fields)


def test_exactly_200_custom_fields_are_stored_the_201st_is_dropped() -> None:
    ada = contact()
    changes = apply_fields(ada, {f"f{i}": i for i in range(N)})
    assert len(ada.fields) == N and changes.dropped == {}
    changes = apply_fields(ada, {"one_more": 1, "f0": "new value", "first_name": "Ada"})
    assert "one_more" not in ada.fields
    assert changes.dropped == {"one_more": "more_than_200_custom_fields"}
    # a name the contact has takes a new value; profile fields are not custom fields
    assert ada.fields["f0"] == "new value" and ada.first_name == "Ada"
    assert changes.set == ["f0", "first_name"]


def test_201_new_names_in_one_call_keep_the_first_200() -> None:
    ada = contact()
    changes = apply_fields(ada, {f"f{i}": True for i in range(N + 1)})
    assert list(ada.fields) == [f"f{i}" for i in range(N)]
    assert changes.dropped == {"f200": "more_than_200_custom_fields"}


def test_a_value_of_8_kb_is_stored_a_longer_one_is_dropped() -> None:
    ada = contact(note="short")
    at_limit = "x" * (VALUE_BYTES - 2)  # stored as JSON: two quotes
    over = "x" + "é" * ((VALUE_BYTES - 2) // 2)  # é is 2 bytes in UTF-8: one byte over
    assert len(to_json(at_limit)) == VALUE_BYTES and len(to_json(over)) == VALUE_BYTES + 1
    changes = apply_fields(ada, {"bio": at_limit, "note": over, "city": over})
    assert ada.fields == {"bio": at_limit, "note": "short"} and ada.city is None
    assert changes.dropped == {
        "note": "value_longer_than_8192_bytes",
        "city": "value_longer_than_8192_bytes",
    }
    assert changes.set == ["bio"]


def test_a_name_of_128_bytes_is_stored_a_longer_one_is_dropped() -> None:
    ada = contact()
    changes = apply_fields(ada, {"n" * NAME_BYTES: 1, "n" * (NAME_BYTES + 1): 2})
    assert list(ada.fields) == ["n" * NAME_BYTES]
    assert changes.dropped == {"n" * (NAME_BYTES + 1): "name_longer_than_128_bytes"}


def test_all_fields_together_stay_under_128_kb_and_a_smaller_value_is_always_taken() -> None:
    ada = contact()
    big = "x" * (VALUE_BYTES - 2)
    changes = apply_fields(ada, {f"f{i}": big for i in range(20)})
    stored = len(to_json(ada.fields))
    assert stored <= TOTAL and len(ada.fields) == 15  # 15 x ~8 KB fit in 128 KB, not 16
    assert set(changes.dropped.values()) == {"fields_over_128_kb"}
    assert len(changes.dropped) == 5
    changes = apply_fields(ada, {"f0": "small", "f1": big + "y"})
    assert ada.fields["f0"] == "small" and ada.fields["f1"] == big
    changes = apply_fields(ada, {"f15": "fits now"})
    assert ada.fields["f15"] == "fits now" and changes.dropped == {}


def test_the_drop_is_recorded_once_with_names_and_reasons_never_values() -> None:
    store = InMemoryActivities()
    dropped = {f"key-{i}": "more_than_200_custom_fields" for i in range(60)}
    dropped["k" * 300] = "name_longer_than_128_bytes"
    record_dropped(store, "c1", "msg-1", dropped)
    record_dropped(store, "c1", "msg-1", dropped)  # a retry of the same record
    [activity] = store.list_for(["contact:c1"], 10)
    assert activity.name == "contact.fields_dropped"
    assert activity.properties["count"] == 61
    listed = activity.properties["fields"]
    assert len(listed) == 50
    assert listed[0] == {"field": "key-0", "reason": "more_than_200_custom_fields"}


def test_a_programs_update_contact_over_the_budget_records_the_drop_and_stores_the_rest() -> None:
    contacts, store = InMemoryContacts(), InMemoryActivities()
    contacts.save(contact(**{f"f{i}": i for i in range(N)}))
    runner: Any = SimpleNamespace(contacts=contacts, activities=store)
    params = {"set": {"fields.extra": "x", "city": "Paris"}}
    request = StepRequest(
        action="update_contact", program_id="p", step_id="s", contact_id="c1", execution="e"
    )
    answer = update_contact(runner, request.model_copy(update={"params": params}))
    assert answer == {"status": "updated"}
    ada = contacts.get("c1")
    assert ada is not None and ada.city == "Paris" and "extra" not in ada.fields
    [drop] = [a for a in store.items.values() if a.name == "contact.fields_dropped"]
    assert drop.properties == {
        "count": 1,
        "fields": [{"field": "extra", "reason": "more_than_200_custom_fields"}],
    }
    only_drop = request.model_copy(update={"params": {"set": {"fields.more": 1}}, "step_id": "t"})
    assert update_contact(runner, only_drop) == {"status": "unchanged"}
    assert len([a for a in store.items.values() if a.name == "contact.fields_dropped"]) == 2
