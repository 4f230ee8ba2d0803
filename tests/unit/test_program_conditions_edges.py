"""Conditions at their boundaries: every operator on both sides of its edge, missing and
null values, the `within` cutoff to the second, stage order, the plain-words text of every
kind, and conditions given as parsed models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError

from nurture.programs.conditions import (
    All,
    AnyOf,
    Condition,
    Did,
    FieldCondition,
    HasConsent,
    HasTag,
    Not,
    Operators,
    activity_matches,
    activity_property,
    check_operators,
    contact_value,
    describe,
    evaluate,
    event_name_matches,
    filter_matches,
)

pytestmark = pytest.mark.unit
CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def holds(condition: dict[str, Any], contact: dict[str, Any], activities: list[Any] = ()) -> bool:  # type: ignore[assignment]
    return evaluate(CONDITION.validate_python(condition), contact, activities, NOW)


# --- operators, both sides of each edge ---------------------------------------------------
@pytest.mark.parametrize(
    ("ops", "value", "expected"),
    [
        ({"gt": 50}, 51, True),
        ({"gt": 50}, 50, False),
        ({"gte": 50}, 50, True),
        ({"gte": 50}, 49, False),
        ({"lt": 50}, 49, True),
        ({"lt": 50}, 50, False),
        ({"lte": 50}, 50, True),
        ({"lte": 50}, 51, False),
        ({"gt": 50}, "a text", False),  # not comparable: no match, no error
        ({"lte": 50}, "a text", False),
        ({"lt": 50}, None, False),
        ({"eq": 3}, 3, True),
        ({"eq": 3}, 4, False),
        ({"ne": 3}, 4, True),
        ({"ne": 3}, 3, False),
        ({"in": [1, 2]}, 2, True),
        ({"in": [1, 2]}, 3, False),
        ({"contains": "vip"}, ["vip", "b2b"], True),
        ({"contains": "vip"}, ["b2b"], False),
        ({"contains": "ell"}, "hello", True),
        ({"contains": "xyz"}, "hello", False),
        ({"contains": 1}, 12, False),  # a number holds no items
        ({"glob": "*/PRICING*"}, "https://x.example/pricing/team", True),
        ({"glob": "*/pricing"}, "https://x.example/pricing/team", False),
        ({"regex": "^ab+c$"}, "abbc", True),
        ({"regex": "^ab+c$"}, "abbcd", False),
        ({"gte": 10, "lt": 20}, 10, True),
        ({"gte": 10, "lt": 20}, 20, False),
    ],
)
def test_each_operator_at_its_edge(ops: dict[str, Any], value: Any, expected: bool) -> None:
    assert check_operators(Operators.model_validate(ops), True, value) is expected


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ({"exists": True}, False),
        ({"exists": False}, True),
        ({"ne": 3}, True),  # a missing value is not 3
        ({"eq": None}, False),
        ({"eq": 3}, False),
        ({"in": [None]}, False),
        ({"contains": "a"}, False),
        ({"glob": "*"}, False),
        ({"regex": ".*"}, False),
        ({"gte": 0}, False),
    ],
)
def test_a_missing_value_passes_only_exists_false_and_ne(
    ops: dict[str, Any], expected: bool
) -> None:
    assert check_operators(Operators.model_validate(ops), False, None) is expected


def test_exists_true_needs_a_value() -> None:
    assert check_operators(Operators.model_validate({"exists": True}), True, "x")
    assert not check_operators(Operators.model_validate({"exists": False}), True, "x")


@pytest.mark.parametrize(
    ("ops", "stage", "expected"),
    [
        ({"gte": "mql"}, "sql", True),
        ({"gte": "mql"}, "mql", True),
        ({"gte": "mql"}, "lead", False),
        ({"gt": "mql"}, "mql", False),
        ({"lt": "customer"}, "sql", True),
        ({"lte": "lead"}, "subscriber", True),
        ({"gte": "lead"}, "former_customer", False),  # off the ladder: unordered
    ],
)
def test_stages_compare_by_the_lifecycle_not_the_alphabet(
    ops: dict[str, Any], stage: str, expected: bool
) -> None:
    assert holds({"field": "stage", **ops}, {"stage": stage}) is expected


def test_texts_that_are_not_stages_compare_as_text_only_on_the_stage_field() -> None:
    # "sql" < "mql" as text; only the stage field orders by the lifecycle
    assert holds({"field": "fields.tier", "gte": "mql"}, {"fields": {"tier": "sql"}})
    assert not holds({"field": "fields.tier", "lt": "mql"}, {"fields": {"tier": "sql"}})
    assert holds({"field": "tier", "gt": "lead"}, {"fields": {"tier": "mql"}})


# --- contact values -----------------------------------------------------------------------
def test_contact_values_come_from_the_profile_then_custom_fields() -> None:
    contact = {"score": 0, "city": None, "fields": {"plan": "pro", "city": "Oslo", "n": None}}
    assert contact_value(contact, "score") == (True, 0)
    assert contact_value(contact, "plan") == (True, "pro")
    assert contact_value(contact, "fields.plan") == (True, "pro")
    assert contact_value(contact, "city") == (False, None)  # a null is no value
    assert contact_value(contact, "n") == (False, None)
    assert contact_value(contact, "fields.missing") == (False, None)
    # a dotted path that names a custom field is not looked up twice under "fields."
    assert contact_value({"fields": {"fields": {"x": 1}}}, "fields.x") == (False, None)


# --- filters and activities ---------------------------------------------------------------
def test_filters_need_a_found_value() -> None:
    assert filter_matches(["a", "b"], True, "a")
    assert not filter_matches(["a", None], False, None)
    assert not filter_matches(None, False, None)
    assert filter_matches("a", True, "a")
    assert filter_matches({"glob": "a*"}, True, "abc")


def test_activity_properties_are_read_from_properties_page_then_traits() -> None:
    activity = {
        "properties": {"plan": "pro"},
        "page": {"url": "https://x.example/p", "plan": "free"},
        "traits": {"role": "cto"},
    }
    assert activity_property(activity, "plan") == (True, "pro")
    assert activity_property(activity, "url") == (True, "https://x.example/p")
    assert activity_property(activity, "role") == (True, "cto")
    assert activity_property(activity, "nothing") == (False, None)

    class Stored:  # an Activity-like object without page or traits
        kind, name, properties = "track", "x", {"a": 1}

    assert activity_property(Stored(), "a") == (True, 1)
    assert activity_property(Stored(), "url") == (False, None)


@pytest.mark.parametrize(
    ("event", "kind", "name", "expected"),
    [
        ("form", "form", "newsletter", True),
        ("form", "track", "form", False),
        ("form:newsletter", "form", "newsletter", True),
        ("form:newsletter", "form", "demo", False),
        ("form:newsletter", "track", "newsletter", False),
        ("page", "page", "", True),
        ("page", "screen", "", False),
        ("screen", "screen", "Home", True),
        ("Order Completed", "track", "order_completed", True),
        ("order_completed", "track", "Order Completed", True),
        ("order_completed", "track", None, False),
    ],
)
def test_event_names(event: str, kind: str, name: str | None, expected: bool) -> None:
    assert event_name_matches(event, {"kind": kind, "name": name}) is expected


def test_an_activity_must_pass_every_where_filter() -> None:
    shoes = {"kind": "track", "name": "purchase", "properties": {"category": "shoes", "n": 2}}
    assert activity_matches("purchase", {"category": "shoes", "n": {"gte": 2}}, shoes)
    assert not activity_matches("purchase", {"category": "shoes", "n": {"gt": 2}}, shoes)
    assert not activity_matches("refund", {}, shoes)


# --- did, within and at_least -------------------------------------------------------------
def _purchase(at: str) -> dict[str, Any]:
    return {"kind": "track", "name": "purchase", "occurred_at": at, "properties": {}}


def test_within_includes_its_first_second_and_not_the_one_before() -> None:
    edge = (NOW - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    before = (NOW - timedelta(days=30, seconds=1)).isoformat()
    assert holds({"did": "purchase", "within": "30 days"}, {}, [_purchase(edge)])
    assert not holds({"did": "purchase", "within": "30 days"}, {}, [_purchase(before)])


def test_times_without_a_zone_are_utc_and_unreadable_ones_do_not_count() -> None:
    naive = (NOW - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert holds({"did": "purchase", "within": "2 hours"}, {}, [_purchase(naive)])
    late_naive = (NOW - timedelta(hours=3)).replace(tzinfo=None).isoformat()
    assert not holds({"did": "purchase", "within": "2 hours"}, {}, [_purchase(late_naive)])
    assert not holds({"did": "purchase", "within": "2 hours"}, {}, [_purchase("yesterday")])
    assert not holds({"did": "purchase", "within": "2 hours"}, {}, [_purchase("")])
    as_datetime = {**_purchase(""), "occurred_at": (NOW - timedelta(hours=1)).replace(tzinfo=None)}
    assert holds({"did": "purchase", "within": "2 hours"}, {}, [as_datetime])
    aware = {**_purchase(""), "occurred_at": NOW - timedelta(hours=3)}
    assert not holds({"did": "purchase", "within": "2 hours"}, {}, [aware])
    # without `within`, an unreadable time still counts: only the cutoff needs the time
    assert holds({"did": "purchase"}, {}, [_purchase("yesterday")])


def test_at_least_counts_matching_activities_only() -> None:
    two = [_purchase("2026-02-28T10:00:00Z"), _purchase("2026-02-27T10:00:00Z")]
    page = {"kind": "page", "name": "", "occurred_at": "2026-02-28T10:00:00Z"}
    assert holds({"did": "purchase", "at_least": 2}, {}, two)
    assert not holds({"did": "purchase", "at_least": 3}, {}, [*two, page])
    assert not holds({"did": "purchase", "at_least": 2, "within": "2 days"}, {}, two)


def test_within_passes_now_through_all_any_and_not() -> None:
    recent = [_purchase((NOW - timedelta(days=1)).isoformat())]
    did = {"did": "purchase", "within": "2 days"}
    assert holds({"all": [did]}, {}, recent)
    assert holds({"any": [did]}, {}, recent)
    assert not holds({"not": did}, {}, recent)
    old = [_purchase((NOW - timedelta(days=3)).isoformat())]
    assert not holds({"all": [did]}, {}, old)
    assert not holds({"any": [did]}, {}, old)


# --- tags and consent ---------------------------------------------------------------------
def test_tags_and_consent() -> None:
    contact = {
        "tags": ["vip"],
        "consent": {
            "email:marketing": {"status": "granted"},
            "sms:offers": {"status": "pending"},
            "email:news": {"status": "withdrawn"},
        },
    }
    assert holds({"has_tag": "vip"}, contact)
    assert not holds({"has_tag": "VIP"}, contact)
    assert not holds({"has_tag": "vip"}, {"tags": None})
    assert holds({"has_consent": "email"}, contact)
    assert not holds({"has_consent": "sms"}, contact)
    assert not holds({"has_consent": {"channel": "sms", "topic": "offers"}}, contact)
    assert not holds({"has_consent": {"channel": "email", "topic": "news"}}, contact)
    assert not holds({"has_consent": "email"}, {"consent": None})


# --- parsing ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model",
    [
        All(all=[HasTag(has_tag="a")]),
        AnyOf(any=[HasTag(has_tag="a")]),
        Not.model_validate({"not": {"has_tag": "a"}}),
        HasTag(has_tag="a"),
        HasConsent(has_consent="sms"),
        Did(did="purchase"),
        FieldCondition.model_validate({"field": "score", "gte": 1}),
    ],
)
def test_a_parsed_condition_is_accepted_as_itself(model: Any) -> None:
    assert CONDITION.validate_python(model) is model or CONDITION.validate_python(model) == model
    assert type(CONDITION.validate_python(model)) is type(model)


def test_a_mapping_without_a_kind_is_refused_with_the_kinds_named() -> None:
    with pytest.raises(ValidationError) as refused:
        CONDITION.validate_python({"score": 5})
    assert (
        "a condition needs one of the keys field, has_tag, has_consent, did, all, any or not"
        in str(refused.value)
    )
    with pytest.raises(TypeError, match=r"^not a condition: 'x'$"):
        evaluate("x", {})


def test_operators_are_required_and_regexes_must_compile() -> None:
    with pytest.raises(ValidationError, match="give at least one operator: eq, ne, gt, gte"):
        Operators.model_validate({})
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        Operators.model_validate({"regex": "("})


# --- plain words --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("condition", "text"),
    [
        ({"field": "score", "gte": 50}, "score >= 50"),
        ({"field": "score", "gt": 5, "lt": 9}, "score > 5 and < 9"),
        ({"field": "score", "lte": 5}, "score <= 5"),
        ({"field": "stage", "in": ["mql", "sql"]}, "stage is one of ['mql', 'sql']"),
        ({"field": "city", "eq": "Oslo"}, "city is 'Oslo'"),
        ({"field": "city", "ne": "Oslo"}, "city is not 'Oslo'"),
        ({"field": "tags", "contains": "vip"}, "tags contains 'vip'"),
        ({"field": "url", "glob": "*x*"}, "url matches '*x*'"),
        ({"field": "url", "regex": "^a"}, "url matches regex '^a'"),
        ({"field": "phone", "exists": True}, "phone is set"),
        ({"field": "phone", "exists": False}, "phone is not set"),
        ({"has_tag": "vip"}, "has tag 'vip'"),
        ({"has_consent": "sms"}, "has sms consent (marketing)"),
        ({"has_consent": {"channel": "email", "topic": "news"}}, "has email consent (news)"),
        ({"did": "purchase"}, "did 'purchase'"),
        (
            {"did": "purchase", "where": {"category": "shoes", "n": {"gte": 2}}},
            "did 'purchase' where category 'shoes', n >= 2",
        ),
        ({"did": "purchase", "at_least": 1}, "did 'purchase'"),
        ({"did": "purchase", "at_least": 2}, "did 'purchase' at least 2 times"),
        ({"did": "purchase", "within": "30 days"}, "did 'purchase' within 30 days"),
        (
            {"all": [{"has_tag": "a"}, {"has_tag": "b"}]},
            "(has tag 'a' and has tag 'b')",
        ),
        ({"any": [{"has_tag": "a"}, {"has_tag": "b"}]}, "(has tag 'a' or has tag 'b')"),
        ({"not": {"has_tag": "a"}}, "not has tag 'a'"),
    ],
)
def test_every_kind_in_plain_words(condition: dict[str, Any], text: str) -> None:
    assert describe(CONDITION.validate_python(condition)) == text


# --- edges the mutation run found untested ----------------------------------------------
def test_eq_is_equality_not_a_pattern() -> None:
    assert not check_operators(Operators.model_validate({"eq": 3}), True, 13)
    assert not check_operators(Operators.model_validate({"eq": "a"}), True, "cat")


def test_times_with_an_offset_keep_their_instant() -> None:
    did = {"did": "purchase", "within": "2 hours"}
    # 13:30+02:00 is 11:30 UTC, 30 minutes ago; 11:30+02:00 is 09:30 UTC, 2.5 hours ago
    assert holds(did, {}, [_purchase("2026-03-01T13:30:00+02:00")])
    assert not holds(did, {}, [_purchase("2026-03-01T11:30:00+02:00")])
    three_hours_ago_in_tokyo = datetime(2026, 3, 1, 9, 0, tzinfo=UTC).astimezone(
        ZoneInfo("Asia/Tokyo")
    )
    assert not holds(did, {}, [{**_purchase(""), "occurred_at": three_hours_ago_in_tokyo}])
    aware = {
        **_purchase(""),
        "occurred_at": datetime(2026, 3, 1, 11, 30, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo")),
    }
    assert holds(did, {}, [aware])
    assert not holds(did, {}, [{**_purchase(""), "occurred_at": 1_772_000_000}])  # not a time


def test_an_old_activity_does_not_hide_a_recent_one() -> None:
    old = _purchase((NOW - timedelta(days=40)).isoformat())
    recent = _purchase((NOW - timedelta(days=1)).isoformat())
    assert holds({"did": "purchase", "within": "30 days"}, {}, [old, recent])


def test_within_uses_the_clock_when_no_time_is_given() -> None:
    from nurture import clock

    class Fixed:
        def now(self) -> datetime:
            return NOW

    clock.set_clock(Fixed())
    try:
        condition = CONDITION.validate_python({"did": "purchase", "within": "2 days"})
        assert evaluate(condition, {}, [_purchase((NOW - timedelta(days=1)).isoformat())])
        assert not evaluate(condition, {}, [_purchase((NOW - timedelta(days=3)).isoformat())])
    finally:
        clock.set_clock(clock.SystemClock())


def test_anything_else_is_described_as_itself() -> None:
    assert describe("x") == "'x'"


def test_only_the_stage_field_orders_by_the_lifecycle_by_default() -> None:
    # as text "customer" < "lead"; on the lifecycle a customer is past a lead
    assert not check_operators(Operators.model_validate({"gt": "lead"}), True, "customer")
    assert check_operators(Operators.model_validate({"gt": "lead"}), True, "customer", stage=True)


def test_the_fields_a_condition_reads_through_all_any_and_not() -> None:
    from nurture.programs.conditions import condition_fields

    condition = CONDITION.validate_python(
        {
            "all": [
                {"field": "score", "gte": 1},
                {"any": [{"field": "stage", "eq": "lead"}, {"has_tag": "vip"}]},
                {"not": {"field": "fields.plan", "eq": "free"}},
            ]
        }
    )
    assert condition_fields(condition) == ["score", "stage", "fields.plan"]
