"""Conditions: the small language programs use to ask about a contact and what they did.

Used by `branch` steps, entry rules, goals and segment triggers. Pure data models plus a pure
`evaluate(condition, contact, activities, now)`: no I/O, so the runtime, the compiler's checks
and the simulator all share one meaning.

In YAML (each condition is a mapping whose key says what kind it is):

    {field: score, gte: 50}                 # contact fields, incl. stage, score, tags, fields.*
    {field: stage, in: [lead, mql]}         # stage comparisons (gt/lt...) follow the lifecycle
    {field: postal_address, exists: true}
    {has_tag: vip}
    {has_consent: email}                    # or {has_consent: {channel: sms, topic: offers}}
    {did: purchase, where: {category: shoes}, within: 30 days, at_least: 1}
    {did: page, where: {url: {glob: "*/pricing*"}}}
    {all: [...]}, {any: [...]}, {not: {...}}

Operators (one or more, all must hold): eq, ne, gt, gte, lt, lte, in, contains, exists,
glob (shell-style, case-insensitive) and regex (Python `re.search`).

`where` property filters map a property name (dotted paths reach nested values) to a value
(equality), a list (any of) or operators. A page view's `url`, `path`, `title` and `referrer`
are found in its properties or page context.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    field_validator,
    model_serializer,
    model_validator,
)

from nurture.contacts import STAGE_ORDER
from nurture.programs.durations import parse_duration
from nurture.tracking.names import event_key

Scalar = str | int | float | bool | None

# Lifecycle order (nurture.contacts.STAGE_ORDER), so `{field: stage, gte: customer}` means
# "customer or further along". A former customer has left the ladder, so it is not ordered
# against the others; stages off the funnel (nurture.contacts.OFF_FUNNEL_STAGES) have no rank.
_OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in_", "contains", "exists", "glob", "regex")


class _Strict(BaseModel):
    # defer_build: built when a condition is first validated (a program or scoring model
    # read), not when a handler that imports this module starts (#9 cold starts)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class Operators(_Strict):
    """Comparisons on one value; every operator given must hold."""

    eq: Scalar = Field(default=None, description="equals")
    ne: Scalar = Field(default=None, description="does not equal")
    gt: Scalar = Field(default=None, description="greater than")
    gte: Scalar = Field(default=None, description="greater than or equal")
    lt: Scalar = Field(default=None, description="less than")
    lte: Scalar = Field(default=None, description="less than or equal")
    in_: list[Scalar] | None = Field(default=None, alias="in", description="one of these values")
    contains: Scalar = Field(default=None, description="a list holding this item, or a substring")
    exists: bool | None = Field(default=None, description="true: has a value; false: has none")
    glob: str | None = Field(default=None, description="shell-style pattern, e.g. '*/pricing*'")
    regex: str | None = Field(default=None, description="a regular expression (re.search)")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _at_least_one(self) -> Operators:
        if not self.operators():
            raise ValueError(
                "give at least one operator: eq, ne, gt, gte, lt, lte, in, contains, exists, "
                "glob or regex"
            )
        return self

    @model_serializer(mode="wrap")
    def _only_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Dump only the operators written, so a dumped condition means the same when read back.
        data: dict[str, Any] = handler(self)
        for name in _OPERATORS:
            if name not in self.model_fields_set:
                data.pop(name, None)
                data.pop("in" if name == "in_" else name, None)
        return data

    def operators(self) -> dict[str, Any]:
        return {
            ("in" if name == "in_" else name): getattr(self, name)
            for name in _OPERATORS
            if name in self.model_fields_set
        }


PropertyFilter = Annotated[
    Operators | list[Scalar] | Scalar,
    Field(
        description="a value (equals), a list (any of) or operators such as {glob: '*/pricing*'}"
    ),
]
Where = dict[str, PropertyFilter]


class FieldCondition(Operators):
    field: str = Field(
        min_length=1,
        description="a contact field: email, first_name, ..., stage, score, tags, or a custom "
        "field (plain name or fields.<name>)",
    )


class HasTag(_Strict):
    has_tag: str = Field(min_length=1, description="the contact carries this tag")


class ConsentRef(_Strict):
    channel: Literal["email", "sms"] = "email"
    topic: str = "marketing"


class HasConsent(_Strict):
    has_consent: Literal["email", "sms"] | ConsentRef = Field(
        description="granted consent for a channel (topic 'marketing' unless given)"
    )

    def ref(self) -> ConsentRef:
        if isinstance(self.has_consent, ConsentRef):
            return self.has_consent
        return ConsentRef(channel=self.has_consent)


class Did(_Strict):
    did: str = Field(
        min_length=1,
        description="an event name (track events, 'email.clicked', ...), 'page' for page views "
        "or 'form:<form id>'",
    )
    where: Where = Field(default_factory=dict, description="property filters")
    within: str | int | None = Field(default=None, description="only this recent, e.g. '30 days'")
    at_least: int = Field(default=1, ge=1, description="how many times")

    @field_validator("within")
    @classmethod
    def _duration(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_duration(value)
        return value


class All(_Strict):
    all: list[Condition] = Field(min_length=1, description="every one holds")


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1, description="at least one holds")


class Not(_Strict):
    not_: Condition = Field(alias="not", description="does not hold")


_KINDS = {
    "all": "all",
    "any": "any",
    "not": "not",
    "has_tag": "has_tag",
    "has_consent": "has_consent",
    "did": "did",
    "field": "field",
}


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return {
            All: "all",
            AnyOf: "any",
            Not: "not",
            HasTag: "has_tag",
            HasConsent: "has_consent",
            Did: "did",
            FieldCondition: "field",
        }.get(type(value))
    if isinstance(value, Mapping):
        for key, kind in _KINDS.items():
            if key in value:
                return kind
    return None


Condition = Annotated[
    Annotated[FieldCondition, Tag("field")]
    | Annotated[HasTag, Tag("has_tag")]
    | Annotated[HasConsent, Tag("has_consent")]
    | Annotated[Did, Tag("did")]
    | Annotated[All, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition_kind",
        custom_error_message="a condition needs one of the keys field, has_tag, has_consent, "
        "did, all, any or not",
    ),
]
# (All, AnyOf and Not name `Condition` before it is defined: their deferred build finds it
# in this module when they are first used.)


# --- evaluation ------------------------------------------------------------------------
def _get(data: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    current: Any = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return False, None
    return True, current


def contact_value(contact: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """(found, value) of a contact field: profile, stage/score/tags, or a custom field."""
    found, value = _get(contact, name)
    if not found and not name.startswith("fields."):
        found, value = _get(contact.get("fields") or {}, name)
    return (found and value is not None), value


def _order(value: Any, stage: bool) -> Any:
    if stage and isinstance(value, str) and value in STAGE_ORDER:
        return STAGE_ORDER.index(value)
    return value


def _compare(op: str, actual: Any, expected: Any) -> bool:
    try:
        if op == "gt":
            return bool(actual > expected)
        if op == "gte":
            return bool(actual >= expected)
        if op == "lt":
            return bool(actual < expected)
        return bool(actual <= expected)
    except TypeError:
        return False


def check_operators(ops: Operators, found: bool, actual: Any, stage: bool = False) -> bool:
    """Whether `actual` (present when `found`) passes every operator."""
    for op, expected in ops.operators().items():
        if op == "exists":
            ok = found == bool(expected)
        elif op == "ne":
            ok = not found or actual != expected
        elif not found:
            ok = False
        elif op == "eq":
            ok = actual == expected
        elif op in ("gt", "gte", "lt", "lte"):
            ok = _compare(op, _order(actual, stage), _order(expected, stage))
        elif op == "in":
            ok = actual in (expected or [])
        elif op == "contains":
            ok = (
                expected in actual
                if isinstance(actual, (list, tuple, set))
                else (isinstance(actual, str) and str(expected) in actual)
            )
        elif op == "glob":
            ok = fnmatch.fnmatchcase(str(actual).lower(), str(expected).lower())
        else:  # regex
            ok = re.search(str(expected), str(actual)) is not None
        if not ok:
            return False
    return True


def filter_matches(flt: Any, found: bool, actual: Any) -> bool:
    """One `where` entry: a value (equality), a list (any of) or operators (a parsed
    `Operators` or the mapping from a step's params)."""
    if isinstance(flt, Mapping):
        flt = Operators.model_validate(flt)
    if isinstance(flt, Operators):
        return check_operators(flt, found, actual)
    if isinstance(flt, list):
        return found and actual in flt
    return found and actual == flt


def _field(activity: Any, name: str) -> Any:
    if isinstance(activity, Mapping):
        return activity.get(name)
    return getattr(activity, name, None)


def activity_property(activity: Any, path: str) -> tuple[bool, Any]:
    """A property of a stored activity: its properties, then its page context."""
    for source in ("properties", "page", "traits"):
        data = _field(activity, source) or {}
        found, value = _get(data, path)
        if found:
            return True, value
    return False, None


def event_name_matches(event: str, activity: Any) -> bool:
    """`event` as written in a program ('page', 'form:<id>', 'form', or a name) vs an activity."""
    kind, name = _field(activity, "kind"), _field(activity, "name")
    if event in ("page", "screen"):
        return bool(kind == event)
    if event == "form":
        return bool(kind == "form")
    if event.startswith("form:"):
        return bool(kind == "form" and name == event.removeprefix("form:"))
    # `Order Completed` is `order_completed` (nurture.tracking.names)
    return isinstance(name, str) and event_key(name) == event_key(event)


def activity_matches(event: str, where: Mapping[str, Any], activity: Any) -> bool:
    """Whether a stored activity is `event` and passes every `where` filter."""
    if not event_name_matches(event, activity):
        return False
    for path, flt in where.items():
        found, value = activity_property(activity, path)
        if not filter_matches(flt, found, value):
            return False
    return True


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def evaluate(
    condition: Any,
    contact: Mapping[str, Any],
    activities: Iterable[Any] = (),
    now: datetime | None = None,
) -> bool:
    """Whether `condition` holds for the contact (a dict such as `Contact.model_dump()`)
    given their activities (stored `Activity` objects or dicts with kind, name,
    occurred_at, properties, page). `now` defaults to the system clock (for `within`)."""
    activities = list(activities)
    if isinstance(condition, All):
        return all(evaluate(c, contact, activities, now) for c in condition.all)
    if isinstance(condition, AnyOf):
        return any(evaluate(c, contact, activities, now) for c in condition.any)
    if isinstance(condition, Not):
        return not evaluate(condition.not_, contact, activities, now)
    if isinstance(condition, HasTag):
        return condition.has_tag in (contact.get("tags") or [])
    if isinstance(condition, HasConsent):
        ref = condition.ref()
        consent = (contact.get("consent") or {}).get(f"{ref.channel}:{ref.topic}")
        status = _field(consent, "status") if consent is not None else None
        return bool(status == "granted")
    if isinstance(condition, Did):
        since = None
        if condition.within is not None:
            if now is None:
                from nurture import clock

                now = clock.now()
            since = now - timedelta(seconds=parse_duration(condition.within))
        count = 0
        for activity in activities:
            if not activity_matches(condition.did, condition.where, activity):
                continue
            if since is not None:
                at = _parse_time(_field(activity, "occurred_at"))
                if at is None or at < since:
                    continue
            count += 1
            if count >= condition.at_least:
                return True
        return False
    if isinstance(condition, FieldCondition):
        found, value = contact_value(contact, condition.field)
        return check_operators(condition, found, value, stage=condition.field == "stage")
    raise TypeError(f"not a condition: {condition!r}")


# --- plain words -------------------------------------------------------------------------
def _ops_text(ops: Operators) -> str:
    words = {
        "eq": "is",
        "ne": "is not",
        "gt": ">",
        "gte": ">=",
        "lt": "<",
        "lte": "<=",
        "in": "is one of",
        "contains": "contains",
        "glob": "matches",
        "regex": "matches regex",
    }
    parts = []
    for op, value in ops.operators().items():
        if op == "exists":
            parts.append("is set" if value else "is not set")
        else:
            parts.append(f"{words[op]} {value!r}")
    return " and ".join(parts)


def describe(condition: Any) -> str:
    """The condition in plain words, for timelines and reports."""
    if isinstance(condition, All):
        return "(" + " and ".join(describe(c) for c in condition.all) + ")"
    if isinstance(condition, AnyOf):
        return "(" + " or ".join(describe(c) for c in condition.any) + ")"
    if isinstance(condition, Not):
        return f"not {describe(condition.not_)}"
    if isinstance(condition, HasTag):
        return f"has tag {condition.has_tag!r}"
    if isinstance(condition, HasConsent):
        ref = condition.ref()
        return f"has {ref.channel} consent ({ref.topic})"
    if isinstance(condition, Did):
        text = f"did {condition.did!r}"
        if condition.where:
            filters = ", ".join(
                f"{k} {_ops_text(v) if isinstance(v, Operators) else repr(v)}"
                for k, v in condition.where.items()
            )
            text += f" where {filters}"
        if condition.at_least > 1:
            text += f" at least {condition.at_least} times"
        if condition.within is not None:
            text += f" within {condition.within}"
        return text
    if isinstance(condition, FieldCondition):
        return f"{condition.field} {_ops_text(condition)}"
    return repr(condition)


def condition_fields(condition: Any) -> list[str]:
    """Contact fields a condition reads (for checks against the contact model)."""
    if isinstance(condition, All):
        return [f for c in condition.all for f in condition_fields(c)]
    if isinstance(condition, AnyOf):
        return [f for c in condition.any for f in condition_fields(c)]
    if isinstance(condition, Not):
        return condition_fields(condition.not_)
    if isinstance(condition, FieldCondition):
        return [condition.field]
    return []


__all__ = [
    "STAGE_ORDER",
    "All",
    "AnyOf",
    "Condition",
    "Did",
    "FieldCondition",
    "HasConsent",
    "HasTag",
    "Not",
    "Operators",
    "PropertyFilter",
    "Where",
    "activity_matches",
    "contact_value",
    "describe",
    "evaluate",
    "event_name_matches",
    "filter_matches",
]
