"""The calls of Segment's HTTP Tracking API (track, identify, page, screen, group, alias):
their models and validation, and the activity each becomes (`nurture.tracking.events.Activity`).

Segment's shape is the de facto standard (Dittofeed, Customer.io and RudderStack speak it),
so existing analytics SDKs can post to Nurture unchanged. Only the ingest function reads
calls; everything else reads stored activities, so importing `Activity` does not create these
models (#9 cold starts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, to_json

from nurture import clock
from nurture.contacts import PhoneError, email_problem, normalise_phone
from nurture.ids import stable_id
from nurture.tracking.events import Activity, actor_for
from nurture.tracking.timestamps import event_time, in_utc
from nurture.tracking.values import check_fields

MAX_EVENT_BYTES = 32 * 1024  # Segment: 32 KB per call
MAX_BATCH_BYTES = 500 * 1024  # Segment: 500 KB per batch
MAX_BATCH_EVENTS = 2500

Id = Annotated[str, Field(min_length=1, max_length=200)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
_MISSING_IDENTITY = "missing_identity"
# Names Nurture records itself (email engagement, contact changes, program runs): a tracked
# event may not pose as one of them.
RESERVED_EVENT_PREFIXES = ("email.", "sms.", "contact.", "program.", "lead.", "consent.", "form:")
CALL_TYPES = ("track", "identify", "page", "screen", "group", "alias")
# Errors pydantic reports for the whole event, and the field they are really about.
_MODEL_ERROR_FIELDS = {
    _MISSING_IDENTITY: "anonymousId",
    "union_tag_invalid": "type",
    "union_tag_not_found": "type",
}


class _Base(BaseModel):
    # defer_build: the Segment call models are built on the first event validated (ingest),
    # never in the functions that import this module for Activity only (#9 cold starts)
    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    message_id: Id | None = Field(default=None, alias="messageId")
    anonymous_id: Id | None = Field(default=None, alias="anonymousId")
    user_id: Id | None = Field(default=None, alias="userId")
    timestamp: datetime | None = None
    original_timestamp: datetime | None = Field(default=None, alias="originalTimestamp")
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestamp", "original_timestamp", "sent_at")
    @classmethod
    def _needs_a_time_zone(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone (ISO 8601, e.g. 2026-01-05T09:00:00Z)")
        return None if value is None else in_utc(value)

    @model_validator(mode="after")
    def _needs_an_identity(self) -> _Base:
        if not self.anonymous_id and not self.user_id:
            raise PydanticCustomError(_MISSING_IDENTITY, "either anonymousId or userId is required")
        return self


class TrackEvent(_Base):
    type: Literal["track"]
    event: Name
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.lower().startswith(RESERVED_EVENT_PREFIXES):
            raise ValueError(
                f"names starting with {value.split('.')[0].split(':')[0]!r} are reserved for"
                " what Nurture records itself"
            )
        return value


class IdentifyEvent(_Base):
    type: Literal["identify"]
    traits: dict[str, Any] = Field(default_factory=dict)

    def all_traits(self) -> dict[str, Any]:
        """`traits`, and `context.traits` where some SDKs put them (`traits` wins)."""
        in_context = self.context.get("traits")
        return {**(in_context if isinstance(in_context, dict) else {}), **self.traits}

    @model_validator(mode="after")
    def _a_usable_address(self, info: ValidationInfo) -> IdentifyEvent:
        # The email decides who the contact is and where mail goes: one deliverable address
        # or none (CRLF, NUL or a list never become a contact or an SES recipient). A phone
        # is a real number, kept in E.164 (national numbers read in DEFAULT_COUNTRY_CODE's).
        country = str((info.context or {}).get("country") or "")
        in_context = self.context.get("traits")
        for where, traits in (("traits", self.traits), ("context.traits", in_context)):
            if not isinstance(traits, dict):
                continue
            email, phone = traits.get("email"), traits.get("phone")
            if email not in (None, "") and (problem := _email_problem(email)):
                raise PydanticCustomError("email", problem, {"field": f"{where}.email"})
            if phone not in (None, ""):
                if not isinstance(phone, str):
                    raise PydanticCustomError(
                        "phone", "must be a string", {"field": f"{where}.phone"}
                    )
                try:
                    fixed = {**traits, "phone": normalise_phone(phone, country)}
                except PhoneError as exc:
                    raise PydanticCustomError(
                        "phone", str(exc), {"field": f"{where}.phone"}
                    ) from None
                if where == "traits":  # new dicts: what the client sent is left as it was
                    self.traits = fixed
                else:
                    self.context = {**self.context, "traits": fixed}
        return self


class PageEvent(_Base):
    type: Literal["page"]
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


class ScreenEvent(_Base):
    """A mobile app's page view."""

    type: Literal["screen"]
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


class GroupEvent(_Base):
    """The person belongs to a group: for Nurture, a company account."""

    type: Literal["group"]
    group_id: Id = Field(alias="groupId")
    traits: dict[str, Any] = Field(default_factory=dict)


class AliasEvent(_Base):
    """`previousId` (an anonymous id or an old user id) and `userId` are one person."""

    type: Literal["alias"]
    previous_id: Id = Field(alias="previousId")
    user_id: Id = Field(alias="userId")


def _email_problem(email: Any) -> str | None:
    if not isinstance(email, str):
        return "must be a string"
    problem = email_problem(email)
    return f"is not a valid email address: {problem}" if problem else None


Event = TrackEvent | IdentifyEvent | PageEvent | ScreenEvent | GroupEvent | AliasEvent
InboundEvent = Annotated[Event, Field(discriminator="type")]
_inbound = TypeAdapter(InboundEvent, config=ConfigDict(defer_build=True))


@dataclass(frozen=True)
class Receipt:
    """What the HTTP layer knows of one request, the same for every event in it."""

    received_at: datetime
    sent_at: datetime | None = None  # a batch's own `sentAt` (an event's wins)
    # The calling code national phone numbers are read in (DEFAULT_COUNTRY_CODE), e.g. "358".
    default_country_code: str = ""
    site_start: datetime | None = None  # events said to be older are refused
    # Extra `Activity` fields stamped on every event of the request (e.g. how far the write
    # key is trusted, C4).
    stamp: dict[str, Any] = field(default_factory=dict)
    # What an event proves by itself (a verified identify, a signed email click), on top of
    # the key: nurture.tracking.trust.Proofs.stamp.
    prove: Callable[[Activity, dict[str, Any]], Activity] | None = None

    @cached_property
    def received_iso(self) -> str:
        """`received_at` as stored: formatted once for the whole request."""
        return clock.iso(self.received_at)


class EventResult(BaseModel):
    index: int
    message_id: str | None = Field(default=None, serialization_alias="messageId")
    status: Literal["accepted", "duplicate", "rejected"]
    errors: list[dict[str, str]] = Field(default_factory=list)
    # accepted, with something changed on the way in (a clock far ahead, clamped)
    warnings: list[dict[str, str]] | None = None


def _page_context(context: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    # Keep only what marketing uses; the IP address and user agent are PII we do not need.
    context_page = context.get("page")
    page = {**(context_page if isinstance(context_page, dict) else {}), **properties}
    keep = ("url", "path", "title", "referrer", "search")
    out = {k: page[k] for k in keep if isinstance(page.get(k), str)}
    campaign = context.get("campaign")
    if isinstance(campaign, dict):
        out["utm"] = {
            k: str(v)
            for k, v in campaign.items()
            if k in ("name", "source", "medium", "term", "content")
        }
    return out


def to_activity(event: Event, raw: dict[str, Any], receipt: Receipt | None = None) -> Activity:
    """The activity to store. Raises TimestampError for a time before the site started."""
    return timed_activity(event, raw, receipt)[0]


def timed_activity(
    event: Event, raw: dict[str, Any], receipt: Receipt | None = None
) -> tuple[Activity, str | None]:
    """The activity to store, and a note when its time was clamped. Raises TimestampError."""
    receipt = receipt or Receipt(received_at=clock.now())
    timing = event_time(
        timestamp=event.timestamp,
        original_timestamp=event.original_timestamp,
        sent_at=event.sent_at or receipt.sent_at,
        received_at=receipt.received_at,
        site_start=receipt.site_start,
    )
    # Segment SDKs always send messageId; for hand-made calls derive one from the content so
    # a retried identical call still dedupes.
    message_id = event.message_id or stable_id(json.dumps(raw, sort_keys=True, default=str))
    common: dict[str, Any] = {
        "actor": actor_for(event.anonymous_id, event.user_id),
        "message_id": message_id,
        "occurred_at": clock.iso(timing.occurred_at),
        "received_at": receipt.received_iso,
        "anonymous_id": event.anonymous_id,
        "user_id": event.user_id,
        **receipt.stamp,
    }
    return Activity(**common, **_specific(event)), timing.note


def _specific(event: Event) -> dict[str, Any]:
    """The fields each call type fills in."""
    if isinstance(event, TrackEvent):
        return {
            "kind": "track",
            "name": event.event,
            "properties": event.properties,
            "page": _page_context(event.context, {}),
        }
    if isinstance(event, IdentifyEvent):
        return {"kind": "identify", "name": "identify", "traits": event.all_traits()}
    if isinstance(event, GroupEvent):
        return {
            "kind": "group",
            "name": "group",
            "traits": event.traits,
            "properties": {"group_id": event.group_id},
        }
    if isinstance(event, AliasEvent):
        return {"kind": "alias", "name": "alias", "properties": {"previous_id": event.previous_id}}
    return {
        "kind": event.type,  # page | screen
        "name": event.name or event.category or event.type,
        "properties": event.properties,
        "page": _page_context(event.context, event.properties),
    }


def describe_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as {field, reason}, with the field path in the wire names."""
    out = []
    for err in exc.errors(include_url=False):
        # Drop the discriminator tag pydantic puts first in union paths.
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0] in CALL_TYPES:
            loc = loc[1:]
        named = str((err.get("ctx") or {}).get("field") or "")  # a model check names its field
        field = ".".join(loc) or named or _MODEL_ERROR_FIELDS.get(err["type"], "(event)")
        out.append({"field": field, "reason": err["msg"].removeprefix("Value error, ")})
    return out


def parse_event(
    raw: Any, default_type: str | None = None, country: str = "", within_budget: bool = False
) -> Event:
    """Validate one raw event; raises ValidationError or ValueError with a clear reason.
    `within_budget`: the document it came from passed `values.fits_budget` (no value in it
    can be outside the budget), so its values are not walked again."""
    if not isinstance(raw, dict):
        raise ValueError("event must be a JSON object")
    if not within_budget:
        check_fields(raw)  # nesting, numbers, strings a later reader can read
    # Measured as sent (compact UTF-8), so a call the HTTP limit lets through is not then
    # rejected for the type we add or for escaping non-ASCII text.
    size = len(to_json(raw, fallback=str))  # compact UTF-8; a fifth of json.dumps' cost
    if size > MAX_EVENT_BYTES:
        raise ValueError(f"event is larger than {MAX_EVENT_BYTES // 1024} KB")
    if default_type and "type" not in raw:
        raw = {**raw, "type": default_type}
    return _inbound.validate_python(raw, context={"country": country})
