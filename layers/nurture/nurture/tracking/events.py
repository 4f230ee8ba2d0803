"""Inbound tracking events in Segment's HTTP Tracking API shape, and what we store of them.

Segment's shape is the de facto standard (Dittofeed, Customer.io and RudderStack speak it),
so existing analytics SDKs can post to Nurture unchanged.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, to_json

from nurture import clock
from nurture.ids import stable_id

MAX_EVENT_BYTES = 32 * 1024  # Segment: 32 KB per call
MAX_BATCH_BYTES = 500 * 1024  # Segment: 500 KB per batch
MAX_BATCH_EVENTS = 2500

Id = Annotated[str, Field(min_length=1, max_length=200)]
_MISSING_IDENTITY = "missing_identity"
# Errors pydantic reports for the whole event, and the field they are really about.
_MODEL_ERROR_FIELDS = {
    _MISSING_IDENTITY: "anonymousId",
    "union_tag_invalid": "type",
    "union_tag_not_found": "type",
}


class _Base(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    message_id: Id | None = Field(default=None, alias="messageId")
    anonymous_id: Id | None = Field(default=None, alias="anonymousId")
    user_id: Id | None = Field(default=None, alias="userId")
    timestamp: datetime | None = None
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestamp")
    @classmethod
    def _needs_a_time_zone(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamp must include a time zone (ISO 8601, e.g. ...Z)")
        return value

    @model_validator(mode="after")
    def _needs_an_identity(self) -> _Base:
        if not self.anonymous_id and not self.user_id:
            raise PydanticCustomError(_MISSING_IDENTITY, "either anonymousId or userId is required")
        return self


class TrackEvent(_Base):
    type: Literal["track"]
    event: Annotated[str, Field(min_length=1, max_length=200)]
    properties: dict[str, Any] = Field(default_factory=dict)


class IdentifyEvent(_Base):
    type: Literal["identify"]
    traits: dict[str, Any] = Field(default_factory=dict)


class PageEvent(_Base):
    type: Literal["page"]
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


InboundEvent = Annotated[TrackEvent | IdentifyEvent | PageEvent, Field(discriminator="type")]
_inbound = TypeAdapter(InboundEvent)


class Activity(BaseModel):
    """One thing a visitor or contact did, as stored. Immutable once written."""

    model_config = ConfigDict(frozen=True)

    actor: str  # "anon:<id>", "user:<id>" or "contact:<id>"
    message_id: str
    kind: str  # track | identify | page | form | email | program | contact
    name: str  # event name, page name, form id, "email.clicked", ...
    occurred_at: str  # ISO 8601 UTC
    received_at: str
    anonymous_id: str | None = None
    user_id: str | None = None
    contact_id: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    page: dict[str, Any] = Field(default_factory=dict)

    @property
    def sort_key(self) -> str:
        return f"{self.occurred_at}#{self.message_id}"


class EventResult(BaseModel):
    index: int
    message_id: str | None = Field(default=None, serialization_alias="messageId")
    status: Literal["accepted", "duplicate", "rejected"]
    errors: list[dict[str, str]] = Field(default_factory=list)


def actor_for(anonymous_id: str | None, user_id: str | None) -> str:
    return f"user:{user_id}" if user_id else f"anon:{anonymous_id}"


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


def to_activity(event: TrackEvent | IdentifyEvent | PageEvent, raw: dict[str, Any]) -> Activity:
    received = clock.iso(clock.now())
    occurred = clock.iso(event.timestamp) if event.timestamp else received
    # Segment SDKs always send messageId; for hand-made calls derive one from the content so
    # a retried identical call still dedupes.
    message_id = event.message_id or stable_id(json.dumps(raw, sort_keys=True, default=str))
    common: dict[str, Any] = {
        "actor": actor_for(event.anonymous_id, event.user_id),
        "message_id": message_id,
        "occurred_at": occurred,
        "received_at": received,
        "anonymous_id": event.anonymous_id,
        "user_id": event.user_id,
    }
    if isinstance(event, TrackEvent):
        return Activity(
            kind="track",
            name=event.event,
            properties=event.properties,
            page=_page_context(event.context, {}),
            **common,
        )
    if isinstance(event, IdentifyEvent):
        return Activity(kind="identify", name="identify", traits=event.traits, **common)
    return Activity(
        kind="page",
        name=event.name or event.category or "page",
        properties=event.properties,
        page=_page_context(event.context, event.properties),
        **common,
    )


def describe_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as {field, reason}, with the field path in the wire names."""
    out = []
    for err in exc.errors(include_url=False):
        # Drop the discriminator tag pydantic puts first in union paths.
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0] in ("track", "identify", "page"):
            loc = loc[1:]
        field = ".".join(loc) or _MODEL_ERROR_FIELDS.get(err["type"], "(event)")
        out.append({"field": field, "reason": err["msg"].removeprefix("Value error, ")})
    return out


def parse_event(
    raw: Any, default_type: str | None = None
) -> TrackEvent | IdentifyEvent | PageEvent:
    """Validate one raw event; raises ValidationError or ValueError with a clear reason."""
    if not isinstance(raw, dict):
        raise ValueError("event must be a JSON object")
    # Measured as sent (compact UTF-8), so a call the HTTP limit lets through is not then
    # rejected for the type we add or for escaping non-ASCII text.
    size = len(to_json(raw, fallback=str))  # compact UTF-8; a fifth of json.dumps' cost
    if size > MAX_EVENT_BYTES:
        raise ValueError(f"event is larger than {MAX_EVENT_BYTES // 1024} KB")
    if default_type and "type" not in raw:
        raw = {**raw, "type": default_type}
    return _inbound.validate_python(raw)
