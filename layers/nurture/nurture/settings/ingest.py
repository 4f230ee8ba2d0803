"""The ingest function's settings."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from nurture.settings import Env


class IngestSettings(Env):
    activities_table: str = Field(alias="ACTIVITIES_TABLE")
    state_table: str = Field(alias="STATE_TABLE")
    content_bucket: str = Field(alias="CONTENT_BUCKET")
    allowed_origins: str = Field(default="*", alias="ALLOWED_ORIGINS")
    # Events said to have happened before this day are refused (a device clock reset to 1970).
    site_start_date: date = Field(default=date(2000, 1, 1), alias="SITE_START_DATE")
    # National phone numbers in forms and identify traits are read in this country's plan.
    default_country_code: str = Field(default="", alias="DEFAULT_COUNTRY_CODE")
    # Upgrading a stack whose ingest kept a marker per message (MSG#<id>, 35 days): set to the
    # upgrade day + 35 days, so a copy of a message stored before is still a duplicate.
    legacy_message_markers_until: date | None = Field(
        default=None, alias="LEGACY_MESSAGE_MARKERS_UNTIL"
    )

    def origins(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]
