"""The reports and admin functions' settings."""

from __future__ import annotations

from pydantic import Field

from nurture.settings import Tables


class ReportsSettings(Tables):
    content_bucket: str = Field(alias="CONTENT_BUCKET")
    report_engine: str = Field(default="duckdb", alias="REPORT_ENGINE", pattern="^(duckdb|athena)$")
    lake_database: str = Field(default="", alias="LAKE_DATABASE")
    athena_workgroup: str = Field(default="", alias="ATHENA_WORKGROUP")
    # personal data erase: the program resume schedules to search
    schedule_group: str = Field(default="", alias="SCHEDULE_GROUP")
