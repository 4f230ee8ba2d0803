"""The program language: one YAML file per program, validated by these models.

A program is a trigger (what starts it), entry rules (who may enter, how often), goals (what
ends a run as converted) and a list of steps. Each step has an `id`; it goes on to the next
step in the list unless it says `next:` (or branches).

The JSON Schema editors use (schemas/program.schema.json) is generated from these models:
`python -m nurture.programs.schema --write`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from nurture.contacts import LifecycleStage
from nurture.programs.conditions import (
    Condition,
    PropertyFilter,
    Where,
    activity_matches,
    evaluate,
)
from nurture.programs.durations import parse_duration, parse_offset, parse_time_of_day
from nurture.tracking.names import event_key

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
_ID = re.compile(ID_PATTERN)

StepId = Annotated[str, Field(pattern=ID_PATTERN, description="lower-case letters, digits and '-'")]
Duration = Annotated[
    str | int, Field(description="a number and a unit, e.g. '3 days', '12 hours', '4 years'")
]
Offset = Annotated[
    str | int,
    Field(description="a signed duration, e.g. '30 days before', '-2 hours', '1 day after'"),
]
TimeOfDay = Annotated[
    str, Field(description="HH:MM on a 24-hour clock, in the contact's time zone")
]


class _Strict(BaseModel):
    # defer_build: a model's validator is built when first used, not when the functions that
    # import this module (react, sweep, steps, deploy) start (#9 cold starts)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


def _duration(value: str | int) -> str | int:
    parse_duration(value)
    return value


def _offset(value: str | int) -> str | int:
    parse_offset(value)
    return value


def _time_of_day(value: str | None) -> str | None:
    if value is not None:
        parse_time_of_day(value)
    return value


def _key_kind(keys: Mapping[str, str], classes: Mapping[type, str]) -> Any:
    """A pydantic discriminator: the first of `keys` present in a mapping names the kind."""

    def kind(value: Any) -> str | None:
        if isinstance(value, BaseModel):
            return classes.get(type(value))
        if isinstance(value, Mapping):
            for key, name in keys.items():
                if key in value:
                    return name
        return None

    return kind


# --- triggers ----------------------------------------------------------------------------
class FormTrigger(_Strict):
    """A form submission."""

    form: str = Field(description="the form id whose submissions enrol the contact")


class EventTrigger(_Strict):
    """An event: a tracked event, a page view (`page`) or an email event, with filters."""

    event: str = Field(
        description="a tracked event name, e.g. 'guide_downloaded' or 'purchase'; 'page' for "
        "page views"
    )
    where: Where = Field(
        default_factory=dict,
        description="property filters, e.g. {category: bikes} or {url: {glob: '*/pricing*'}}",
    )


class FieldChangedTrigger(_Strict):
    """A contact field changed, e.g. the postal address (a move)."""

    field_changed: str = Field(min_length=1, description="the contact field, e.g. postal_address")
    to: PropertyFilter | None = Field(default=None, description="only when the new value matches")


class StageChange(_Strict):
    to: LifecycleStage | list[LifecycleStage] | None = Field(
        default=None, description="the new stage (any if not given)"
    )
    from_: LifecycleStage | list[LifecycleStage] | None = Field(
        default=None, alias="from", description="the previous stage (any if not given)"
    )


class StageChangedTrigger(_Strict):
    """The contact's lifecycle stage changed."""

    stage_changed: StageChange = Field(description="e.g. {to: customer} or {from: lead, to: mql}")

    @field_validator("stage_changed", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `stage_changed: customer` is short for `stage_changed: {to: customer}`
        return {"to": value} if isinstance(value, (str, list)) else value


class ScoreCrossedTrigger(_Strict):
    """The contact's score crossed a threshold."""

    score_crossed: int = Field(description="the threshold")
    direction: Literal["up", "down"] = Field(
        default="up", description="up: rose to or above it; down: fell below it"
    )
    model: Literal["rules", "predictive"] = Field(
        default="rules",
        description="rules: the hand-made score (scoring models); predictive: the learned "
        "1-100 predictive score (nurture model train)",
    )


class DateTrigger(_Strict):
    """A date in a contact field: birthday, membership anniversary, contract renewal."""

    date: str = Field(min_length=1, description="the contact field holding a date (YYYY-MM-DD)")
    repeat: Literal["yearly", "once"] = Field(
        default="yearly", description="yearly (birthday, anniversary) or once (a renewal date)"
    )
    offset: Offset = Field(default=0, description="e.g. '30 days before'")
    time_of_day: TimeOfDay = Field(default="09:00")

    _check_offset = field_validator("offset")(_offset)
    _check_time = field_validator("time_of_day")(_time_of_day)


class InactivityTrigger(_Strict):
    """No event of a kind for N days (e.g. no purchase in 90 days)."""

    inactivity: str = Field(
        min_length=1, description="the event that did not happen, e.g. purchase"
    )
    days: int = Field(ge=1, description="for how many days")
    where: Where = Field(default_factory=dict, description="property filters on that event")


class SegmentTrigger(_Strict):
    """Contacts matching a filter: once (a one-time selection now) or continuously (an
    automation rule: everyone matching now, and anyone who matches later)."""

    segment: Condition = Field(description="the filter, a condition")
    once: bool = Field(
        default=True,
        description="true: select who matches now, once; false: also enrol whoever matches later",
    )


_TRIGGER_KEYS = {
    "form": "form",
    "event": "event",
    "field_changed": "field_changed",
    "stage_changed": "stage_changed",
    "score_crossed": "score_crossed",
    "date": "date",
    "inactivity": "inactivity",
    "segment": "segment",
}
_TRIGGER_CLASSES: dict[type, str] = {
    FormTrigger: "form",
    EventTrigger: "event",
    FieldChangedTrigger: "field_changed",
    StageChangedTrigger: "stage_changed",
    ScoreCrossedTrigger: "score_crossed",
    DateTrigger: "date",
    InactivityTrigger: "inactivity",
    SegmentTrigger: "segment",
}

Trigger = Annotated[
    Annotated[FormTrigger, Tag("form")]
    | Annotated[EventTrigger, Tag("event")]
    | Annotated[FieldChangedTrigger, Tag("field_changed")]
    | Annotated[StageChangedTrigger, Tag("stage_changed")]
    | Annotated[ScoreCrossedTrigger, Tag("score_crossed")]
    | Annotated[DateTrigger, Tag("date")]
    | Annotated[InactivityTrigger, Tag("inactivity")]
    | Annotated[SegmentTrigger, Tag("segment")],
    Discriminator(
        _key_kind(_TRIGGER_KEYS, _TRIGGER_CLASSES),
        custom_error_type="trigger_kind",
        custom_error_message="a trigger needs one of the keys form, event, field_changed, "
        "stage_changed, score_crossed, date, inactivity or segment",
    ),
]


# --- entry rules ---------------------------------------------------------------------------
class Entry(_Strict):
    """Who may enter and how often. Never twice at the same time in the same program."""

    once: bool | None = Field(default=None, description="enter at most once ever (the default)")
    every_time: bool | None = Field(default=None, description="enter every time the trigger fires")
    once_per: Duration | None = Field(
        default=None, description="enter at most once in this period, e.g. '90 days'"
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="every one must hold to enter, e.g. [{has_consent: email}, "
        "{field: stage, in: [subscriber, lead]}]",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `entry: once` / `entry: every_time`
        if value in ("once", "every_time"):
            return {value: True}
        return value

    @field_validator("once_per")
    @classmethod
    def _period(cls, value: str | int | None) -> str | int | None:
        if value is not None and parse_duration(value) <= 0:
            raise ValueError("once_per must be longer than zero")
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> Entry:
        chosen = [
            name
            for name, flag in (
                ("once", self.once),
                ("every_time", self.every_time),
                ("once_per", self.once_per is not None),
            )
            if flag
        ]
        if len(chosen) > 1:
            raise ValueError(
                f"choose one of once, every_time or once_per (got {', '.join(chosen)})"
            )
        if self.once is False and self.every_time is False:
            raise ValueError("once: false and every_time: false leave no way in; use once_per")
        return self

    @property
    def mode(self) -> Literal["once", "every_time", "once_per"]:
        if self.once_per is not None:
            return "once_per"
        if self.every_time or self.once is False:
            return "every_time"
        return "once"

    @property
    def period_seconds(self) -> int | None:
        return parse_duration(self.once_per) if self.once_per is not None else None


# --- goals -----------------------------------------------------------------------------------
class Goal(_Strict):
    """When met at any point, the contact's run ends as converted."""

    name: str | None = Field(default=None, description="shown in reports, e.g. 'purchased'")
    event: str | None = Field(default=None, description="an event that meets the goal")
    where: Where = Field(default_factory=dict, description="property filters on that event")
    when: Condition | None = Field(default=None, description="a condition that meets the goal")

    @model_validator(mode="after")
    def _one(self) -> Goal:
        if (self.event is None) == (self.when is None):
            raise ValueError("a goal has either `event` (with optional `where`) or `when`")
        if self.where and self.event is None:
            raise ValueError("`where` filters an `event` goal")
        return self

    @property
    def label(self) -> str:
        from nurture.programs.conditions import describe

        return self.name or (f"did {self.event!r}" if self.event else describe(self.when))


# --- steps -----------------------------------------------------------------------------------
class _Step(_Strict):
    id: StepId
    next: str | None = Field(
        default=None, description="the step after this one; default: the next in the list"
    )


def _check_window(value: str | None) -> str | None:
    if value is not None:
        from nurture.delivery.windows import SendWindow

        SendWindow.parse(value)  # raises ValueError with the accepted format
    return value


class _Send(_Step):
    purpose: Literal["marketing", "service"] = Field(
        default="marketing",
        description="marketing needs the contact's consent for the channel and topic; "
        "service (about something they bought) does not",
    )
    topic: str = Field(
        default="marketing", description="the consent topic, e.g. newsletter, offers, events"
    )
    when_capped: Literal["defer", "skip"] = Field(
        default="defer",
        description="over the frequency cap: wait until allowed, or skip the message",
    )
    send_window: str | None = Field(
        default=None,
        description="when this marketing message may go out, in the contact's time zone, "
        "e.g. '09:00-17:00' or 'mon-fri 08:00-20:00'; default: the program's, else the site's",
    )

    @field_validator("send_window")
    @classmethod
    def _valid_window(cls, value: str | None) -> str | None:
        return _check_window(value)


class SendEmail(_Send):
    type: Literal["send_email"]
    template: str = Field(description="a template in the bucket's templates/email/ folder")


class SendSms(_Send):
    type: Literal["send_sms"]
    text: str = Field(max_length=1600, description="the message, a jinja2 template (plain text)")


class Wait(_Step):
    """Wait a duration. Waits too long for one Step Functions execution (see the compiler)
    resume later through a one-time schedule."""

    type: Literal["wait"]
    duration: Duration

    _check = field_validator("duration")(_duration)


class WaitUntil(_Step):
    """Wait until a moment: absolute (`at`) or from a contact field plus an offset."""

    type: Literal["wait_until"]
    at: datetime | None = Field(default=None, description="an ISO 8601 date-time with time zone")
    field: str | None = Field(
        default=None, description="a contact field holding a date or date-time"
    )
    offset: Offset = Field(default=0, description="added to the field's date, e.g. '2 days before'")
    yearly: bool = Field(
        default=False, description="the next anniversary of the field's date (birthdays)"
    )
    time_of_day: TimeOfDay | None = Field(
        default=None, description="on that day at this time, in the contact's time zone"
    )

    _check_offset = field_validator("offset")(_offset)
    _check_time = field_validator("time_of_day")(_time_of_day)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("`at` needs a time zone, e.g. 2027-03-01T09:00:00Z or +02:00")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> WaitUntil:
        if (self.at is None) == (self.field is None):
            raise ValueError(
                "wait_until needs either `at` (a date-time) or `field` (a contact field)"
            )
        if self.at is not None and (self.yearly or self.offset or self.time_of_day):
            raise ValueError("offset, yearly and time_of_day go with `field`, not `at`")
        return self


class WaitForEvent(_Step):
    type: Literal["wait_for_event"]
    event: Literal["email.opened", "email.clicked"] | str = Field(
        description="'email.clicked' / 'email.opened' (of the step named in `email`) or a "
        "tracked event name ('page' for page views, 'form:<id>' for a form)"
    )
    email: str | None = Field(
        default=None, description="the send_email step whose open/click counts"
    )
    where: Where = Field(default_factory=dict, description="property filters on the event")
    timeout: Duration = Field(description="how long to wait, e.g. '3 days'")
    on_event: str = Field(description="the step to go to when it happens")
    on_timeout: str = Field(description="the step to go to when the deadline passes")

    _check = field_validator("timeout")(_duration)


class BranchRule(_Strict):
    when: Condition = Field(description="the condition")
    next: str = Field(description="the step to go to when it holds")


class Branch(_Step):
    """The first rule whose condition holds chooses the next step; else `default`."""

    type: Literal["branch"]
    branches: list[BranchRule] = Field(min_length=1)
    default: str = Field(description="the step when no rule holds")


class Variant(_Strict):
    name: str | None = Field(default=None, description="shown in A/B results, e.g. 'A'")
    percent: float = Field(gt=0, le=100, description="share of contacts, e.g. 50")
    next: str = Field(description="the step this share goes to (an `end` step: a holdout group)")


class AutoWinner(_Strict):
    """Opt-in automatic winner: after `after` from the first entrant, once every competing
    variant has `min_per_variant` entrants, later entrants go to the best variant (holdouts
    keep their share). See docs/reporting.md."""

    after: Duration = Field(description="how long the test runs, e.g. '14 days'")
    min_per_variant: int = Field(default=100, ge=1, description="entrants each variant needs")
    metric: Literal["goal", "clicks"] = Field(
        default="goal", description="goal: the program's goals; clicks: email clicks"
    )
    min_confidence: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="a variant must beat the control with this confidence, else the control wins",
    )

    _after = field_validator("after")(_duration)


class Split(_Step):
    """Random split for A/B/n tests and holdout groups; percentages sum to 100."""

    type: Literal["split"]
    variants: list[Variant] = Field(min_length=2)
    auto_winner: AutoWinner | None = Field(
        default=None, description="pick the winner automatically (opt-in)"
    )


Scalar = str | int | float | bool | None


class UpdateContact(_Step):
    type: Literal["update_contact"]
    set: dict[str, Scalar] = Field(default_factory=dict, description="fields to set")
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)
    stage: LifecycleStage | None = Field(default=None, description="the new lifecycle stage")

    @model_validator(mode="after")
    def _something(self) -> UpdateContact:
        if not (self.set or self.add_tags or self.remove_tags or self.stage):
            raise ValueError("update_contact needs set, add_tags, remove_tags or stage")
        return self


class Score(_Step):
    type: Literal["score"]
    add: int = Field(description="points to add; negative to subtract")
    reason: str = Field(default="", description="shown with the score change")

    @field_validator("add")
    @classmethod
    def _nonzero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("add must not be 0")
        return value


class NotifySales(_Step):
    type: Literal["notify_sales"]
    message: str = Field(default="", description="what to tell the salesperson (jinja2)")
    template: str | None = Field(default=None, description="an email template instead of message")

    @model_validator(mode="after")
    def _something(self) -> NotifySales:
        if not self.message and not self.template:
            raise ValueError("notify_sales needs a message or a template")
        return self


class Webhook(_Step):
    """Call another system over HTTPS. Signed (HMAC-SHA256 with the named secret), retried
    with backoff; after the last failure the run goes on at `on_failure` (default: next)."""

    type: Literal["webhook"]
    url: str = Field(description="https://... (public addresses only)")
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = "POST"
    body: str | dict[str, Any] | None = Field(
        default=None, description="a jinja2 template (string) or a mapping sent as JSON"
    )
    headers: dict[str, str] = Field(default_factory=dict)
    secret: str | None = Field(default=None, description="the secret name used to sign the request")
    on_failure: str | None = Field(default=None, description="the step after a final failure")


class CreateTask(_Step):
    type: Literal["create_task"]
    title: str = Field(min_length=1)
    assignee: str = Field(description="a role (e.g. 'owner', 'coordinator') or an email address")
    due: Duration | None = Field(default=None, description="due this long after creation")
    notes: str = ""

    @field_validator("due")
    @classmethod
    def _due(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_duration(value)
        return value


class StartProgram(_Step):
    type: Literal["start_program"]
    program: str = Field(pattern=ID_PATTERN, description="the id of the program to start")


class End(_Step):
    type: Literal["end"]


STEP_TYPES = (
    "send_email",
    "send_sms",
    "wait",
    "wait_until",
    "wait_for_event",
    "branch",
    "split",
    "update_contact",
    "score",
    "notify_sales",
    "webhook",
    "create_task",
    "start_program",
    "end",
)

Step = Annotated[
    SendEmail
    | SendSms
    | Wait
    | WaitUntil
    | WaitForEvent
    | Branch
    | Split
    | UpdateContact
    | Score
    | NotifySales
    | Webhook
    | CreateTask
    | StartProgram
    | End,
    Field(discriminator="type"),
]


class Program(_Strict):
    id: str = Field(pattern=ID_PATTERN, description="the file name without .yaml")
    name: str
    description: str = ""
    status: Literal["live", "paused", "archived"] = Field(
        default="live",
        description="live: running; paused: no new entries, running contacts go on; "
        "archived: no entries and running contacts are stopped",
    )
    trigger: Trigger
    entry: Entry = Field(default_factory=Entry)
    goals: list[Goal] = Field(default_factory=list, description="met at any point: converted")
    send_window: str | None = Field(
        default=None,
        description="quiet hours for this program's marketing messages, in the contact's "
        "time zone, e.g. 'mon-fri 09:00-17:00'; default: the site's SEND_WINDOW",
    )
    steps: list[Step] = Field(min_length=1)

    @field_validator("send_window")
    @classmethod
    def _valid_window(cls, value: str | None) -> str | None:
        return _check_window(value)


# --- helpers the runtime uses -----------------------------------------------------------------
def trigger_key(trigger: Any) -> str:
    """The key a program is indexed under for its trigger (the runtime looks activity up by it)."""
    if isinstance(trigger, FormTrigger):
        return f"form:{trigger.form}"
    if isinstance(trigger, EventTrigger):
        return f"event:{event_key(trigger.event)}"  # names matched as nurture.tracking.names says
    if isinstance(trigger, FieldChangedTrigger):
        return f"field_changed:{trigger.field_changed}"
    if isinstance(trigger, StageChangedTrigger):
        return "stage_changed"
    if isinstance(trigger, ScoreCrossedTrigger):
        return "score_crossed"
    if isinstance(trigger, DateTrigger):
        return "date"
    if isinstance(trigger, InactivityTrigger):
        return "inactivity"
    if isinstance(trigger, SegmentTrigger):
        return "segment"
    raise TypeError(f"not a trigger: {trigger!r}")


def trigger_keys(program: Program) -> list[str]:
    return [trigger_key(program.trigger)]


def step_from_params(action: str, step_id: str, params: Mapping[str, Any]) -> Any:
    """Rebuild a step model from what the steps function receives (`action`, `step_id`,
    `params`), e.g. to evaluate a branch's conditions."""
    from pydantic import TypeAdapter

    data = {key: value for key, value in params.items() if not key.startswith("_")}
    return TypeAdapter(Step).validate_python({"id": step_id, "type": action, **data})


def goal_reached(
    program: Program,
    contact: Mapping[str, Any],
    activity: Any = None,
    activities: Iterable[Any] = (),
    now: datetime | None = None,
) -> Goal | None:
    """The first goal met: an `event` goal by the new `activity`, a `when` goal by the
    contact and their activities."""
    activities = list(activities)
    for goal in program.goals:
        if goal.event is not None:
            if activity is not None and activity_matches(goal.event, goal.where, activity):
                return goal
        elif goal.when is not None and evaluate(goal.when, contact, activities, now):
            return goal
    return None


def steps_by_id(program: Program) -> dict[str, Any]:
    return {step.id: step for step in program.steps}
