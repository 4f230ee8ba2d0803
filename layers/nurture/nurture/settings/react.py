"""The react function's settings."""

from __future__ import annotations

from pydantic import Field

from nurture.settings import Tables


class ReactSettings(Tables):
    # where long-wait resumes are scheduled (a reached goal cancels a pending one)
    schedule_group: str | None = Field(default=None, alias="SCHEDULE_GROUP")
