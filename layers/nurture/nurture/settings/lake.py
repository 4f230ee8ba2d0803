"""The lake function's settings."""

from __future__ import annotations

from pydantic import Field

from nurture.settings import Env


class LakeSettings(Env):
    content_bucket: str = Field(alias="CONTENT_BUCKET")
