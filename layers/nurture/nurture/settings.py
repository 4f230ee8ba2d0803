"""Each function's configuration, read from its environment and validated at start-up so a
misconfigured function fails loudly and early."""

from __future__ import annotations

import os
from datetime import date
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T", bound=BaseModel)


class _Env(BaseModel):
    # defer_build: a function validates one of these models; the others cost no schema
    # build at its cold start.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class Tables(_Env):
    contacts_table: str = Field(alias="CONTACTS_TABLE")
    activities_table: str = Field(alias="ACTIVITIES_TABLE")
    state_table: str = Field(alias="STATE_TABLE")


class IngestSettings(_Env):
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


class ReactSettings(Tables):
    # where long-wait resumes are scheduled (a reached goal cancels a pending one)
    schedule_group: str | None = Field(default=None, alias="SCHEDULE_GROUP")


class StepsSettings(Tables):
    content_bucket: str = Field(alias="CONTENT_BUCKET")
    sender_email: str = Field(alias="SENDER_EMAIL")
    configuration_set: str = Field(alias="SES_CONFIGURATION_SET")


class ActionSettings(_Env):
    """What program step actions read when they run (not at start-up, so a test can point
    webhooks at a local server)."""

    # Where sales notifications and "owner" tasks go when the contact has no `owner` field.
    sales_email: str = Field(default="", alias="SALES_EMAIL")
    # Comma-separated hosts exempt from the public-HTTPS-only rule (tests, private integrations).
    webhook_allow_hosts: str = Field(default="", alias="WEBHOOK_ALLOW_HOSTS")
    webhook_timeout_seconds: float = Field(default=10.0, alias="WEBHOOK_TIMEOUT_SECONDS", gt=0)

    def allowed_hosts(self) -> set[str]:
        return {h.strip().lower() for h in self.webhook_allow_hosts.split(",") if h.strip()}


class SweepSettings(Tables):
    pass


class DeploySettings(_Env):
    state_table: str = Field(alias="STATE_TABLE")
    content_bucket: str = Field(alias="CONTENT_BUCKET")
    steps_function_arn: str = Field(alias="STEPS_FUNCTION_ARN")
    program_role_arn: str = Field(alias="PROGRAM_ROLE_ARN")
    # e.g. arn:aws:states:eu-west-1:123456789012:stateMachine:nurture-program-
    program_arn_prefix: str = Field(alias="PROGRAM_ARN_PREFIX", pattern=r"^arn:[\w-]+:states:")
    # Where program state machines log their errors (a log group ARN ending in ':*').
    program_log_group_arn: str = Field(default="", alias="PROGRAM_LOG_GROUP_ARN")


class EngagementSettings(_Env):
    activities_table: str = Field(alias="ACTIVITIES_TABLE")
    state_table: str = Field(alias="STATE_TABLE")
    contacts_table: str = Field(alias="CONTACTS_TABLE")
    # soft bounces that suppress an address: "3/30d" = 3 within 30 days
    soft_bounce_limit: str = Field(default="3/30d", alias="SOFT_BOUNCE_LIMIT")


class LakeSettings(_Env):
    content_bucket: str = Field(alias="CONTENT_BUCKET")


class ReportsSettings(Tables):
    content_bucket: str = Field(alias="CONTENT_BUCKET")
    report_engine: str = Field(default="duckdb", alias="REPORT_ENGINE", pattern="^(duckdb|athena)$")
    lake_database: str = Field(default="", alias="LAKE_DATABASE")
    athena_workgroup: str = Field(default="", alias="ATHENA_WORKGROUP")
    # personal data erase: the program resume schedules to search
    schedule_group: str = Field(default="", alias="SCHEDULE_GROUP")


def load(model: type[T]) -> T:
    return model.model_validate(dict(os.environ))
