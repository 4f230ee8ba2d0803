"""The engagement function's settings."""

from __future__ import annotations

from pydantic import Field

from nurture.settings import Env


class EngagementSettings(Env):
    activities_table: str = Field(alias="ACTIVITIES_TABLE")
    state_table: str = Field(alias="STATE_TABLE")
    contacts_table: str = Field(alias="CONTACTS_TABLE")
    # soft bounces that suppress an address: "3/30d" = 3 within 30 days
    soft_bounce_limit: str = Field(default="3/30d", alias="SOFT_BOUNCE_LIMIT")
