"""What is stored of each thing a visitor or contact did: the activity.

Tracking calls (Segment's shape: `nurture.tracking.calls`) become activities at ingest; forms,
email engagement and what Nurture records itself are activities too.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nurture.tracking.trust import Trust


class Activity(BaseModel):
    """One thing a visitor or contact did, as stored. Immutable once written."""

    model_config = ConfigDict(frozen=True)

    actor: str  # "anon:<id>", "user:<id>" or "contact:<id>"
    message_id: str
    kind: str  # track | identify | page | screen | group | alias | form | email | program | ...
    name: str  # event name, page name, form id, "email.clicked", ...
    occurred_at: str  # ISO 8601 UTC
    received_at: str
    anonymous_id: str | None = None
    user_id: str | None = None
    contact_id: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    page: dict[str, Any] = Field(default_factory=dict)
    # What the sender proved (nurture.tracking.trust); decides what the activity may change.
    trust: Trust = "public"

    @model_validator(mode="before")
    @classmethod
    def _system_by_default(cls, data: Any) -> Any:
        # What Nurture records about a contact it already knows (contact_id set) is its own.
        if isinstance(data, dict) and "trust" not in data and data.get("contact_id"):
            return {**data, "trust": "system"}
        return data

    @property
    def sort_key(self) -> str:
        return f"{self.occurred_at}#{self.message_id}"


def actor_for(anonymous_id: str | None, user_id: str | None) -> str:
    return f"user:{user_id}" if user_id else f"anon:{anonymous_id}"
