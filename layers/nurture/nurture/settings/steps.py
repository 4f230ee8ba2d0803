"""The steps function's settings."""

from __future__ import annotations

from pydantic import Field

from nurture.settings import Tables


class StepsSettings(Tables):
    content_bucket: str = Field(alias="CONTENT_BUCKET")
    sender_email: str = Field(alias="SENDER_EMAIL")
    configuration_set: str = Field(alias="SES_CONFIGURATION_SET")
