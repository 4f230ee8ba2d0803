"""The deploy function's settings."""

from __future__ import annotations

from pydantic import Field

from nurture.settings import Env


class DeploySettings(Env):
    state_table: str = Field(alias="STATE_TABLE")
    content_bucket: str = Field(alias="CONTENT_BUCKET")
    steps_function_arn: str = Field(alias="STEPS_FUNCTION_ARN")
    program_role_arn: str = Field(alias="PROGRAM_ROLE_ARN")
    # e.g. arn:aws:states:eu-west-1:123456789012:stateMachine:nurture-program-
    program_arn_prefix: str = Field(alias="PROGRAM_ARN_PREFIX", pattern=r"^arn:[\w-]+:states:")
    # Where program state machines log their errors (a log group ARN ending in ':*').
    program_log_group_arn: str = Field(default="", alias="PROGRAM_LOG_GROUP_ARN")
