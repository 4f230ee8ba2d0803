"""The actor budget of a contact (nurture.tracking.actor_budget)."""

from __future__ import annotations

from pydantic_core import to_json

from nurture.tracking.actor_budget import (
    LISTED_DROPS,
    MAX_ACTORS,
    MAX_ACTORS_BYTES,
    admit,
    dropped_properties,
)


def test_keys_are_admitted_up_to_the_count_then_dropped_with_the_reason() -> None:
    held = [f"anon:{i:036d}" for i in range(MAX_ACTORS - 2)]
    admitted, dropped = admit(held, ["anon:a", held[0], "anon:b", "anon:c", "user:u"])
    # a key the contact has costs nothing; two new ones fit, the rest do not
    assert admitted == ["anon:a", held[0], "anon:b"]
    assert dropped == {"anon:c": "more_than_500_actors", "user:u": "more_than_500_actors"}


def test_long_ids_meet_the_byte_budget_before_the_count() -> None:
    long_key = "anon:" + "\u00e9" * 200  # 200 two-byte characters, as an anonymousId may be
    held: list[str] = []
    while len(to_json([*held, long_key])) <= MAX_ACTORS_BYTES:
        held.append(f"{long_key}{len(held)}")
    assert len(held) < MAX_ACTORS
    admitted, dropped = admit(held[:-1], [held[-1], "anon:x" * 100])
    assert admitted == [held[-1]]
    assert dropped == {"anon:x" * 100: "actors_over_64_kb"}
    # what is admitted always fits: the list as stored stays within the budget
    assert len(to_json([*held[:-1], *admitted])) <= MAX_ACTORS_BYTES


def test_the_activity_lists_the_first_keys_and_counts_them_all() -> None:
    dropped = {f"anon:{i}": "more_than_500_actors" for i in range(LISTED_DROPS + 7)}
    props = dropped_properties(dropped)
    assert props["count"] == LISTED_DROPS + 7 and len(props["actors"]) == LISTED_DROPS
    assert props["actors"][0] == {"actor": "anon:0", "reason": "more_than_500_actors"}
