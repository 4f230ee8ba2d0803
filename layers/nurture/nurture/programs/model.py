"""The program language: one YAML file per program, validated by these models."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nurture.programs.durations import parse_duration

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
_ID = re.compile(ID_PATTERN)

StepId = Annotated[str, Field(pattern=ID_PATTERN, description="lower-case letters, digits and '-'")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _duration(value: str | int) -> str | int:
    parse_duration(value)
    return value


class FormTrigger(_Strict):
    form: str = Field(description="the form id whose submissions enrol the contact")


class EventTrigger(_Strict):
    event: str = Field(description="a tracked event name, e.g. 'guide_downloaded'")


Trigger = FormTrigger | EventTrigger


class Entry(_Strict):
    once: bool = Field(default=True, description="enter at most once ever")


class _Step(_Strict):
    id: StepId
    next: str | None = Field(default=None, description="the step after this one; default: the next in the list")


class _Send(_Step):
    purpose: Literal["marketing", "service"] = Field(
        default="marketing",
        description="marketing needs the contact's consent for the channel and topic; "
        "service (about something they bought) does not",
    )
    topic: str = Field(default="marketing", description="the consent topic, e.g. newsletter, offers, events")
    when_capped: Literal["defer", "skip"] = Field(
        default="defer", description="over the frequency cap: wait until allowed, or skip the message"
    )


class SendEmail(_Send):
    type: Literal["send_email"]
    template: str = Field(description="a template in the bucket's templates/email/ folder")


class SendSms(_Send):
    type: Literal["send_sms"]
    text: str = Field(max_length=1600, description="the message, a jinja2 template (plain text)")


class Wait(_Step):
    type: Literal["wait"]
    duration: str | int

    _check = field_validator("duration")(_duration)


class WaitForEvent(_Step):
    type: Literal["wait_for_event"]
    event: Literal["email.opened", "email.clicked"] | str = Field(
        description="'email.clicked' / 'email.opened' (of the step named in `email`) or a tracked event name"
    )
    email: str | None = Field(default=None, description="the send_email step whose open/click counts")
    timeout: str | int = Field(description="how long to wait, e.g. '3 days'")
    on_event: str = Field(description="the step to go to when it happens")
    on_timeout: str = Field(description="the step to go to when the deadline passes")

    _check = field_validator("timeout")(_duration)


class End(_Step):
    type: Literal["end"]


Step = Annotated[SendEmail | SendSms | Wait | WaitForEvent | End, Field(discriminator="type")]


class Program(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    description: str = ""
    trigger: Trigger
    entry: Entry = Entry()
    steps: list[Step] = Field(min_length=1)


def trigger_key(trigger: Trigger) -> str:
    if isinstance(trigger, FormTrigger):
        return f"form:{trigger.form}"
    return f"event:{trigger.event}"
