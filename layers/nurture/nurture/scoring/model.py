"""The scoring language: one YAML file per model in the bucket's `scoring/` folder.

A model keeps two axes per contact, as Pardot, HubSpot and Marketo do:

* **behaviour**: points from activity (`behaviour:` rules: an event filter in the trigger
  language, points, how often, a daily cap), fading as a half-life or a rolling window
  (`decay:`);
* **fit**: a grade A-F from profile rules on the contact and its account (`grade:`).

`mql:` says when a lead is marketing-qualified (e.g. behaviour >= 50 and grade B or better).

    id: b2b
    name: B2B lead scoring
    decay: {half_life: 30 days}
    behaviour:
      - id: pricing
        event: page
        where: {url: {glob: "*/pricing*"}}
        points: 10
        frequency: {once_per: 1 day}
        reason: viewed the pricing page
    grade:
      rules:
        - id: senior
          when: {field: job_title, regex: "(?i)chief|vp|director|head of"}
          points: 30
      thresholds: {A: 70, B: 50, C: 30, D: 10}
    mql: {behaviour: 50, grade: B}

The JSON Schema (schemas/scoring.schema.json) is generated from these models:
`python -m nurture.scoring.schema --write`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

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
from nurture.programs.conditions import Condition, Where
from nurture.programs.durations import parse_duration
from nurture.programs.model import ID_PATTERN, Duration

Grade = Literal["A", "B", "C", "D", "E", "F"]
GRADES: tuple[str, ...] = get_args(Grade)
# Activity kinds scoring itself writes (or that follow from what it writes): a rule on them
# would feed on its own output.
NOT_SCORABLE_PREFIXES = ("contact.", "lead.", "program.")
DEFAULT_MQL_FROM = ("subscriber", "lead", "recycled")

RuleId = Annotated[str, Field(pattern=ID_PATTERN, description="lower-case letters, digits, '-'")]


class _Strict(BaseModel):
    # defer_build: built when a scoring model is first read, not when a handler that imports
    # this module starts (#9 cold starts)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class OncePer(_Strict):
    once_per: Duration = Field(description="at most once in this period, e.g. '1 day'")

    @field_validator("once_per")
    @classmethod
    def _period(cls, value: str | int) -> str | int:
        if parse_duration(value) <= 0:
            raise ValueError("once_per must be longer than zero")
        return value

    @property
    def seconds(self) -> int:
        return parse_duration(self.once_per)


def _frequency_kind(value: Any) -> str:
    # One alternative per shape, so a mistake gets one clear complaint, not one per option.
    return "period" if isinstance(value, (dict, OncePer)) else "mode"


Frequency = Annotated[
    Annotated[Literal["once", "every_time"], Tag("mode")] | Annotated[OncePer, Tag("period")],
    Discriminator(_frequency_kind),
    Field(description="'once' per contact, 'every_time' (the default), or {once_per: '1 day'}"),
]


class BehaviourRule(_Strict):
    """Points for an activity that matches the filter (the trigger language of programs)."""

    id: RuleId
    event: str = Field(
        min_length=1,
        description="a tracked event name, 'page' for page views, 'form' or 'form:<id>' for "
        "form submissions, 'email.clicked', 'consent.withdrawn', ...",
    )
    where: Where = Field(
        default_factory=dict,
        description="property filters, e.g. {url: {glob: '*/pricing*'}} or {plan: enterprise}",
    )
    points: int = Field(description="points added (negative: taken away); not zero")
    frequency: Frequency = "every_time"
    daily_cap: int | None = Field(
        default=None,
        gt=0,
        description="at most this many points (in absolute value) from this rule per UTC day",
    )
    reason: str | None = Field(
        default=None, max_length=200, description="what a salesperson reads, e.g. 'viewed pricing'"
    )

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("points must not be zero (a rule that scores nothing is no rule)")
        if abs(value) > 1000:
            raise ValueError("points must be between -1000 and 1000")
        return value

    @field_validator("event")
    @classmethod
    def _not_own_output(cls, value: str) -> str:
        if value.startswith(NOT_SCORABLE_PREFIXES):
            raise ValueError(
                f"{value!r} is recorded by the system itself (contact., lead., program.); "
                "score what the contact did instead"
            )
        return value

    @property
    def label(self) -> str:
        return self.reason or self.id


class Decay(_Strict):
    """How the behaviour score fades when activity stops: give one of the two."""

    half_life: Duration | None = Field(
        default=None, description="points lose half their value in this time, e.g. '30 days'"
    )
    window: Duration | None = Field(
        default=None, description="only points from the last N days count, e.g. '30 days'"
    )

    @model_validator(mode="after")
    def _one(self) -> Decay:
        given = [n for n in ("half_life", "window") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("decay takes one of half_life or window, e.g. {half_life: 30 days}")
        value = getattr(self, given[0])
        if parse_duration(value) <= 0:
            raise ValueError(f"{given[0]} must be longer than zero")
        return self

    def spec(self) -> dict[str, int]:
        """{"half_life": seconds} or {"window": seconds}: what the contact's state keeps."""
        if self.half_life is not None:
            return {"half_life": parse_duration(self.half_life)}
        assert self.window is not None
        return {"window": parse_duration(self.window)}


class GradeRule(_Strict):
    """Fit points when a profile condition holds for the contact (and `account.*`)."""

    id: RuleId
    when: Condition = Field(
        description="a condition on the contact, e.g. {field: job_title, regex: '(?i)vp'} or "
        "{field: account.employees, gte: 200}"
    )
    points: int = Field(description="fit points (negative for a poor fit)")
    reason: str | None = Field(default=None, max_length=200)

    @property
    def label(self) -> str:
        return self.reason or self.id


class GradeModel(_Strict):
    rules: list[GradeRule] = Field(min_length=1)
    thresholds: dict[Grade, int] = Field(
        description="the least fit points for each grade, e.g. {A: 70, B: 50, C: 30, D: 10}; "
        "below the lowest is F"
    )

    @field_validator("thresholds")
    @classmethod
    def _descending(cls, value: dict[str, int]) -> dict[str, int]:
        if "F" in value:
            raise ValueError("F is what is below the lowest threshold; give A to E only")
        if not value:
            raise ValueError("give at least one threshold, e.g. {A: 70, B: 50}")
        ordered = [value[g] for g in GRADES if g in value]
        if any(a <= b for a, b in zip(ordered, ordered[1:], strict=False)):
            raise ValueError("a better grade needs more points: A > B > C > D > E")
        return value

    def grade_for(self, points: int) -> str:
        for grade in GRADES:
            if grade in self.thresholds and points >= self.thresholds[grade]:
                return grade
        return "F"


class Mql(_Strict):
    """When a contact becomes a marketing-qualified lead: every part given must hold."""

    behaviour: int | None = Field(default=None, gt=0, description="behaviour score at least")
    grade: Grade | None = Field(default=None, description="this grade or better, e.g. B")
    predictive: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="the predictive score (nurture model train) at least, e.g. 60",
    )
    from_stages: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MQL_FROM),
        description="only contacts in these stages become MQL (others are further along)",
    )

    @model_validator(mode="after")
    def _something(self) -> Mql:
        if self.behaviour is None and self.grade is None and self.predictive is None:
            raise ValueError(
                "mql needs behaviour, grade, predictive or several, e.g. {behaviour: 50, grade: B}"
            )
        return self

    @field_validator("from_stages")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        known = set(get_args(LifecycleStage)) | {"recycled"}
        unknown = [s for s in value if s not in known]
        if unknown:
            raise ValueError(f"unknown stages {unknown}; stages are {sorted(known)}")
        return value

    def describe(self) -> str:
        parts = []
        if self.behaviour is not None:
            parts.append(f"behaviour >= {self.behaviour}")
        if self.grade is not None:
            parts.append(f"grade {self.grade} or better")
        if self.predictive is not None:
            parts.append(f"predictive >= {self.predictive}")
        return " and ".join(parts)


class ScoringModel(_Strict):
    """A scoring model: behaviour rules with decay, a fit grade, and the MQL rule."""

    id: RuleId
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    status: Literal["live", "paused"] = Field(
        default="live", description="live scores; paused keeps scores as they are"
    )
    primary: bool = Field(
        default=True,
        description="its behaviour score is the contact's `score` and its grade `grade` (one "
        "live model may be primary)",
    )
    decay: Decay | None = Field(default=None, description="none: points never fade")
    behaviour: list[BehaviourRule] = Field(default_factory=list)
    grade: GradeModel | None = None
    mql: Mql | None = None

    @model_validator(mode="after")
    def _something_to_score(self) -> ScoringModel:
        if not self.behaviour and self.grade is None:
            raise ValueError("a model needs behaviour rules, a grade, or both")
        return self

    @property
    def grade_rules(self) -> list[GradeRule]:
        return self.grade.rules if self.grade else []


def check_model(model: ScoringModel) -> list[tuple[tuple[str | int, ...], str]]:
    """What the models alone cannot say, each with where it is in the file."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    ids: list[tuple[tuple[str | int, ...], str]] = [
        (("behaviour", index, "id"), r.id) for index, r in enumerate(model.behaviour)
    ] + [(("grade", "rules", index, "id"), r.id) for index, r in enumerate(model.grade_rules)]
    seen: set[tuple[str | int, str]] = set()
    for loc, rule_id in ids:
        if (loc[0], rule_id) in seen:
            problems.append((loc, f"the {loc[0]} rule id {rule_id!r} is used twice"))
        seen.add((loc[0], rule_id))
    for index, rule in enumerate(model.behaviour):
        if rule.daily_cap is not None and rule.daily_cap < abs(rule.points):
            problems.append(
                (
                    ("behaviour", index, "daily_cap"),
                    f"daily_cap {rule.daily_cap} is less than the rule's {abs(rule.points)} "
                    "points: it could never award them in full",
                )
            )
    if model.mql is not None:
        if model.mql.grade is not None and model.grade is None:
            problems.append((("mql", "grade"), "mql asks for a grade but the model has no grade"))
        if model.mql.behaviour is not None and not model.behaviour:
            problems.append(
                (("mql", "behaviour"), "mql asks for a behaviour score but there are no rules")
            )
    return problems


def grade_rank(grade: str | None) -> int:
    """A: 0 (best) ... F: 5; no grade ranks below F."""
    return GRADES.index(grade) if grade in GRADES else len(GRADES)


def parse_model(data: dict[str, Any]) -> ScoringModel:
    return ScoringModel.model_validate(data)
